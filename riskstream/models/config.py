"""The ``model`` section of the config: its keys, their defaults, and the stage they build.

Owns `build_online_stage` (config + catalog -> `OnlineModelStage`), the default feature
selections and `parse_duration`. Every key is optional; the defaults are the shipped engine's.

```yaml
model:
  kind: online              # online (this) | heuristic (the foundation's stand-in)
  snapshots:
    every: 1h               # event time between snapshot rotations (epoch-aligned)
    store: null             # null | {dir: PATH} | {redis: URL, prefix: ...} | {memory: true}
  anomaly:                  # Half-Space Trees (riskstream.models.hst) unless `river:` is given
    features: null          # null = DEFAULT_ANOMALY_FEATURES present in the catalog; or a list
                            # of names, or {name: {transform: none|log1p, limits: [lo, hi]}}
    n_trees: 25
    height: 8
    window_size: 1000
    seed: 42
    warmup_rows: 5000       # rows to learn the limits of features without configured limits
    # river: anomaly.HalfSpaceTrees     # any river anomaly model instead, with
    # params: {n_trees: 25, ...}        # its parameters (see riskstream.models.river_adapter)
    # ready_after: 1000                 # rows learnt before its scores are ranked
  calibration:
    bins: 4096              # histogram of the anomaly score for its running quantile
    half_life: 7d
    min_count: 1000         # scores counted before ranks (and the anomaly risk) start
    tail: 0.005             # anomaly risk = exp(-(1 - rank) / tail)
  learner:                  # the feedback learner (riskstream.models.feedback)
    kind: gbdt              # gbdt | none; or `river: linear_model.LogisticRegression` (+ params)
    features: auto          # auto = every number/bool of the catalog but LEARNER_EXCLUDED;
                            # or a list of names, or {name: transform}
    categories: null        # null = DEFAULT_CATEGORIES present in the catalog; {name: [values]}
    use_anomaly: true       # the anomaly rank is one more input of the learner
    refit_every: 12h
    refit_delay: 1h         # a refit grows on a background thread; its model is deployed this
                            # much event time after its data cut (0: inline, at once)
    negative_after: 30d     # an unlabelled transaction this old counts as genuine (while
                            # the history is shorter than twice this: half the history)
    ttl: 60d                # rows kept for labels at most this long ...
    max_rows: 1000000       # ... and at most this many (about 0.5 kB each with 90 features;
                            # a label for a row that left is lost, and counted)
    max_negatives: 20000    # implicit negatives per refit (evenly spaced, re-weighted)
    positive_weight: 10     # or "balanced"
    min_positives: 20
    trust: 50               # positives at which the learner has half the risk
    n_trees: 300            # gradient-boosted oblivious trees (riskstream.models.gbdt)
    max_depth: 7
    learning_rate: 0.05
    top_rate: 0.1           # GOSS: each tree sees the 10 % of rows with the largest gradients
    subsample: 0.1          # ... and this share of the others (top_rate 0: of all the rows)
    colsample: 0.5
    max_bins: 64
    l2: 1.0
    min_child_weight: 1.0
    seed: 0
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from riskstream.errors import ConfigError
from riskstream.features.catalog import DENY_LIST_FEATURES, FeatureCatalog, FeatureType
from riskstream.models.anomaly import AnomalyScorer
from riskstream.models.encoding import FrameEncoder
from riskstream.models.feedback import FeedbackLearner
from riskstream.models.gbdt import GradientBoostedTrees
from riskstream.models.online import OnlineModelStage
from riskstream.models.quantile import RunningQuantile
from riskstream.models.river_adapter import RiverClassifier, make_river_model
from riskstream.models.snapshots import open_snapshot_store

__all__ = [
    "DEFAULT_ANOMALY_FEATURES",
    "DEFAULT_CATEGORIES",
    "LEARNER_EXCLUDED",
    "build_online_stage",
    "parse_duration",
]

#: The anomaly model's inputs by default (those in the catalog), with their transforms: how
#: unusual the amount, hour, place, speed, device, payee and pace are for the customer or card.
DEFAULT_ANOMALY_FEATURES: dict[str, str] = {
    "amount": "log1p",
    "customer.amount_zscore": "none",
    "customer.hour_probability": "none",
    "customer.distance_from_home_km": "log1p",
    "card.travel_speed_kmh": "log1p",
    "customer.is_new_device": "none",
    "customer.is_new_payee": "none",
    "customer.is_new_merchant": "none",
    "customer.is_new_country": "none",
    "customer.tx_count_1h": "none",
    "card.small_tx_count_1h": "none",
    "customer.seconds_since_last": "log1p",
    "payee.distinct_customers_7d": "none",
}
#: Catalog numbers the learner does not read by default: raw coordinates say where, not how
#: unusual; the event time itself is not a behaviour; deny-list facts are blocked by a rule.
LEARNER_EXCLUDED = frozenset({"timestamp", "lat", "lon", *DENY_LIST_FEATURES})
#: String columns one-hot encoded for the learner by default.
DEFAULT_CATEGORIES: dict[str, list[str]] = {
    "channel": ["pos", "ecom", "atm", "transfer", "deposit"],
    "type": ["purchase", "withdrawal", "transfer", "deposit", "refund"],
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration(value: Any, key: str) -> int:
    """Milliseconds from ``"6h"``, ``"3d"``, ``"30m"``, ``"15s"``, ``"500ms"`` or a number of ms.

    >>> parse_duration("6h", "x"), parse_duration(1500, "x")
    (21600000, 1500)
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return int(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ConfigError(f"model: {key} must be a duration like 30m, 6h, 3d, got {value!r}")
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])


def _section(config: Mapping[str, Any], key: str) -> dict[str, Any]:
    part = config.get(key) or {}
    if not isinstance(part, Mapping):
        raise ConfigError(f"model: {key} must be a mapping, got {part!r}")
    return dict(part)


def _number(part: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = part.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"model: {where}.{key} must be a number, got {value!r}")
    return value


def _anomaly_features(
    spec: Any, catalog: FeatureCatalog
) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    if spec is None:
        chosen = {k: v for k, v in DEFAULT_ANOMALY_FEATURES.items() if k in catalog}
        if not chosen:
            raise ConfigError("model: none of the default anomaly features is in the catalog")
        return chosen, {}
    if isinstance(spec, list):
        return {str(name): "none" for name in spec}, {}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"model: anomaly.features must be a list or a mapping, got {spec!r}")
    transforms: dict[str, str] = {}
    limits: dict[str, tuple[float, float]] = {}
    for name, options in spec.items():
        options = options or {}
        if isinstance(options, str):
            options = {"transform": options}
        if not isinstance(options, Mapping):
            raise ConfigError(f"model: anomaly feature {name!r}: expected {{transform, limits}}")
        transforms[name] = options.get("transform", "none")
        if options.get("limits") is not None:
            try:
                lo, hi = (float(v) for v in options["limits"])
            except (TypeError, ValueError):
                raise ConfigError(f"model: limits of {name!r} must be [lo, hi]") from None
            if not lo < hi:
                raise ConfigError(f"model: limits of {name!r} need lo < hi")
            limits[name] = (lo, hi)
    return transforms, limits


def _learner_features(spec: Any, catalog: FeatureCatalog) -> dict[str, str]:
    if spec is None or spec == "auto":
        return {
            name: "none"
            for name in catalog
            if name not in LEARNER_EXCLUDED
            and catalog.type_of(name) in (FeatureType.NUMBER, FeatureType.BOOL)
        }
    if isinstance(spec, list):
        return {str(name): "none" for name in spec}
    if isinstance(spec, Mapping):
        return {str(k): str(v or "none") for k, v in spec.items()}
    raise ConfigError(f"model: learner.features must be auto, a list or a mapping, got {spec!r}")


def _categories(spec: Any, catalog: FeatureCatalog) -> dict[str, list[str]]:
    if spec is None:
        return {k: v for k, v in DEFAULT_CATEGORIES.items() if k in catalog}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"model: learner.categories must be {{name: [values]}}, got {spec!r}")
    return {str(k): [str(v) for v in values] for k, values in spec.items()}


def build_online_stage(config: Mapping[str, Any], catalog: FeatureCatalog) -> OnlineModelStage:
    """The `OnlineModelStage` of a config's ``model`` section (keys in the module docstring)."""
    snapshots = _section(config, "snapshots")
    anomaly_cfg = _section(config, "anomaly")
    calibration = _section(config, "calibration")
    learner_cfg = _section(config, "learner")

    transforms, limits = _anomaly_features(anomaly_cfg.get("features"), catalog)
    anomaly_encoder = FrameEncoder(transforms)
    anomaly_encoder.check(catalog)
    calibrator = RunningQuantile(
        n_bins=int(_number(calibration, "bins", 4096, "calibration")),
        half_life_ms=parse_duration(calibration.get("half_life", "7d"), "calibration.half_life"),
        min_count=float(_number(calibration, "min_count", 1000, "calibration")),
    )
    if "river" in anomaly_cfg:
        spec = {"river": anomaly_cfg["river"], "params": anomaly_cfg.get("params") or {}}
        make_river_model(spec)  # fail on a bad name now, not at the first batch
        anomaly = AnomalyScorer(
            anomaly_encoder.names,
            "river",
            spec,
            calibrator=calibrator,
            ready_after=anomaly_cfg.get("ready_after"),
        )
    else:
        hst_params = {
            key: anomaly_cfg[key]
            for key in ("n_trees", "height", "window_size", "seed")
            if key in anomaly_cfg
        }
        hst_params.setdefault("n_trees", 25)
        hst_params.setdefault("height", 8)
        hst_params.setdefault("window_size", 1000)
        hst_params.setdefault("seed", 42)
        anomaly = AnomalyScorer(
            anomaly_encoder.names,
            "hst",
            hst_params,
            limits=limits,
            warmup_rows=int(anomaly_cfg.get("warmup_rows", 5000)),
            calibrator=calibrator,
            ready_after=anomaly_cfg.get("ready_after"),
        )

    learner_encoder = None
    learner = None
    kind = learner_cfg.get("kind", "river" if "river" in learner_cfg else "gbdt")
    use_anomaly = bool(learner_cfg.get("use_anomaly", True))
    if kind not in ("gbdt", "river", "none", None):
        raise ConfigError(f"model: learner.kind must be gbdt, river or none, got {kind!r}")
    if kind not in ("none", None):
        learner_encoder = FrameEncoder(
            _learner_features(learner_cfg.get("features"), catalog),
            _categories(learner_cfg.get("categories"), catalog),
        )
        learner_encoder.check(catalog)
        names = [*learner_encoder.names, *(["anomaly.rank"] if use_anomaly else [])]
        if kind == "river":
            spec = {"river": learner_cfg["river"], "params": learner_cfg.get("params") or {}}
            model: GradientBoostedTrees | RiverClassifier = RiverClassifier(
                make_river_model(spec), names
            )
        else:
            model = GradientBoostedTrees(
                n_trees=int(learner_cfg.get("n_trees", 300)),
                max_depth=int(learner_cfg.get("max_depth", 7)),
                learning_rate=float(learner_cfg.get("learning_rate", 0.05)),
                max_bins=int(learner_cfg.get("max_bins", 64)),
                l2=float(learner_cfg.get("l2", 1.0)),
                min_child_weight=float(learner_cfg.get("min_child_weight", 1.0)),
                subsample=float(learner_cfg.get("subsample", 0.1)),
                colsample=float(learner_cfg.get("colsample", 0.5)),
                top_rate=float(learner_cfg.get("top_rate", 0.1)),
                seed=int(learner_cfg.get("seed", 0)),
            )
        weight = learner_cfg.get("positive_weight", 10.0)
        learner = FeedbackLearner(
            len(names),
            model,
            refit_every_ms=parse_duration(learner_cfg.get("refit_every", "12h"), "refit_every"),
            negative_after_ms=parse_duration(
                learner_cfg.get("negative_after", "30d"), "negative_after"
            ),
            ttl_ms=parse_duration(learner_cfg.get("ttl", "60d"), "ttl"),
            max_rows=int(learner_cfg.get("max_rows", 1_000_000)),
            max_negatives=int(learner_cfg.get("max_negatives", 20_000)),
            positive_weight=weight if weight == "balanced" else float(weight),
            min_positives=int(learner_cfg.get("min_positives", 20)),
            refit_delay_ms=parse_duration(learner_cfg.get("refit_delay", "1h"), "refit_delay"),
        )
    return OnlineModelStage(
        anomaly_encoder,
        anomaly,
        learner_encoder,
        learner,
        snapshot_every_ms=parse_duration(snapshots.get("every", "1h"), "snapshots.every"),
        store=open_snapshot_store(snapshots.get("store")),
        tail=float(_number(calibration, "tail", 0.005, "calibration")),
        trust=float(_number(learner_cfg, "trust", 50, "learner")),
        learner_uses_anomaly=use_anomaly,
    )
