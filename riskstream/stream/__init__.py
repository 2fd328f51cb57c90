"""Drivers and transports: the embedded runner, the faust worker, sources, sinks, dead letters."""
