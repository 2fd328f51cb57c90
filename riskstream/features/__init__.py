"""Entity profiles, windowed aggregates, behavioural features, numba kernels, profile stores.

`stage.FeatureStage` is what the Engine calls (built by `stage.build_feature_stage`);
`catalog` declares every feature; `hashing` interns id columns; `schema` holds the versioned
profile records; `windows` and `kernels` compute; `store` and `redis_store` keep the profiles
(memory, Redis, Redis Cluster); `view` and `cli` show them. Design notes: ``docs/features.md``.
"""
