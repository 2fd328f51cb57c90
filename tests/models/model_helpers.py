"""Synthetic feature frames and an Engine-like driver for the model stage tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from riskstream.features.catalog import FeatureCatalog, FeatureType
from riskstream.features.stage import LabelBatch
from riskstream.models.config import DEFAULT_CATEGORIES
from riskstream.models.stage import ModelScores

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
DAY = 24 * HOUR
CATALOG = FeatureCatalog.default()

#: A small, fast online model: the same code paths as the default, tiny sizes.
SMALL: dict[str, Any] = {
    "kind": "online",
    "snapshots": {"every": "1h"},
    "anomaly": {"n_trees": 5, "height": 5, "window_size": 100, "warmup_rows": 200},
    "calibration": {"min_count": 100, "bins": 1024, "half_life": "2d"},
    "learner": {
        "n_trees": 15,
        "max_depth": 3,
        "learning_rate": 0.3,
        "refit_every": "12h",
        "negative_after": "1d",
        "min_positives": 5,
        "max_negatives": 3000,
    },
}


def small(**overrides: Any) -> dict[str, Any]:
    """`SMALL` with sections replaced or merged (``learner={...}`` merges into the learner)."""
    config = copy.deepcopy(SMALL)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            config[key].update(value)
        else:
            config[key] = value
    return config


def make_stream(
    n: int, seed: int = 0, days: float = 3.0, fraud_rate: float = 0.03, nan_rate: float = 0.05
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A time-ordered frame of every catalog column (plus tx_id) and its fraud truth.

    Fraud rows have large amounts, high z-scores and "new" flags set, so both models can tell.
    """
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < fraud_rate
    ts = np.sort(rng.integers(START, START + int(days * DAY), n)).astype(np.int64)
    frame: dict[str, np.ndarray] = {"tx_id": np.array([f"t{seed}_{i}" for i in range(n)], object)}
    for name in CATALOG:
        ftype = CATALOG.type_of(name)
        if name in frame:  # tx_id
            continue
        if ftype is FeatureType.TIME:
            frame[name] = ts
        elif ftype is FeatureType.BOOL:
            frame[name] = rng.random(n) < np.where(fraud, 0.7, 0.05)
        elif ftype is FeatureType.STRING:
            vocab = DEFAULT_CATEGORIES.get(name, ["a", "b", "c"])
            values = np.array([*vocab, None], dtype=object)
            frame[name] = values[rng.integers(0, len(values), n)]
        else:
            column = rng.lognormal(2.0, 1.0, n)
            if name == "amount" or "zscore" in name or "ratio" in name:
                column = np.where(fraud, column * 20.0 + 50.0, column)
            column[rng.random(n) < nan_rate] = np.nan
            frame[name] = column
    return frame, fraud


def labels_for(
    frame: Mapping[str, np.ndarray], fraud: np.ndarray, seed: int = 0, delay_days: float = 2.0
) -> LabelBatch:
    """Fraud labels for every fraud row, genuine confirmations for 2 % of the others."""
    rng = np.random.default_rng(seed + 1000)
    confirm = ~fraud & (rng.random(len(fraud)) < 0.02)
    chosen = fraud | confirm
    delay = rng.exponential(delay_days * DAY, len(fraud)).astype(np.int64)
    delay = np.where(confirm, rng.integers(60_000, 900_000, len(fraud)), delay)
    when = np.asarray(frame["timestamp"]) + delay
    return LabelBatch(frame["tx_id"][chosen], fraud[chosen], when[chosen])


def take(frame: Mapping[str, np.ndarray], part: slice | np.ndarray) -> dict[str, np.ndarray]:
    return {name: column[part] for name, column in frame.items()}


def drive(
    stage: Any,
    frame: Mapping[str, np.ndarray],
    labels: LabelBatch | None = None,
    batch_sizes: Sequence[int] = (256,),
    cut_at_boundaries: bool = False,
) -> tuple[ModelScores, list[str]]:
    """Feed `frame` to `stage` as the Engine does: batches, labels released at label_time.

    Batches have the sizes of `batch_sizes` (cycled) and are cut where a label becomes due, so
    that a label is applied before the first row whose watermark reaches its label_time; with
    `cut_at_boundaries`, also where `stage.next_boundary()` says. Returns the scores of every
    row and the snapshot id of every row.
    """
    n = len(frame["timestamp"])
    ts = np.asarray(frame["timestamp"])
    watermarks = np.maximum.accumulate(ts)
    if labels is not None:
        order = np.argsort(labels.label_time, kind="stable")
        l_tx = labels.tx_id[order]
        l_fraud = labels.is_fraud[order]
        l_time = labels.label_time[order]
    released = 0
    out: list[ModelScores] = []
    ids: list[str] = []
    start = 0
    k = 0
    while start < n:
        stop = min(n, start + batch_sizes[k % len(batch_sizes)])
        k += 1
        if labels is not None:
            due = int(np.searchsorted(l_time, watermarks[start], side="right"))
            if due > released:
                stage.apply_labels(
                    LabelBatch(l_tx[released:due], l_fraud[released:due], l_time[released:due])
                )
                released = due
            after = np.flatnonzero(np.searchsorted(l_time, watermarks[start:stop], "right") > due)
            if len(after):
                stop = start + int(after[0])
        boundary = stage.next_boundary(int(watermarks[start])) if cut_at_boundaries else None
        if boundary is not None:
            crossing = np.flatnonzero(watermarks[start:stop] >= boundary)
            if len(crossing) and crossing[0] > 0:
                stop = start + int(crossing[0])
        part = take(frame, slice(start, stop))
        scores = stage.score(part)
        stage.learn(part)
        out.append(scores)
        ids.extend([stage.snapshot_id] * (stop - start))
        start = stop
    merged = ModelScores(
        np.concatenate([s.anomaly for s in out]),
        np.concatenate([s.fraud_probability for s in out]),
        np.concatenate([s.risk for s in out]),
    )
    return merged, ids
