"""Entity profiles, windowed aggregates, behavioural features, numba kernels, profile stores."""
