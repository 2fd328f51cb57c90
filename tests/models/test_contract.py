"""The contract every registered model stage keeps (river's test_estimators, for our stages).

Each kind of `MODEL_KINDS` runs with each of its configs below: pickle round trip, snapshot
round trip, seeded determinism, inputs left unchanged, missing (NaN) features. A new kind
must add its configs here (the first test fails until it does).
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
from model_helpers import CATALOG, drive, labels_for, make_stream, small, take

from riskstream.features.catalog import FeatureType
from riskstream.models import MODEL_KINDS, build_model_stage, load_snapshot

CONFIGS: dict[str, list[dict[str, Any]]] = {
    "online": [
        small(snapshots={"every": "1h", "store": {"memory": True}}),
        small(
            snapshots={"every": "2h", "store": {"memory": True}},
            anomaly={
                "river": "anomaly.HalfSpaceTrees",
                "params": {"n_trees": 3, "height": 6, "seed": 1},
            },
            learner={"river": "linear_model.LogisticRegression", "negative_after": "6h"},
        ),
        small(learner={"kind": "none"}, calibration={"tail": 0.05}),
    ],
    "heuristic": [{"kind": "heuristic"}],
}
CASES = [
    pytest.param(config, id=f"{kind}-{i}")
    for kind, configs in CONFIGS.items()
    for i, config in enumerate(configs)
]


@pytest.fixture(scope="module")
def stream():
    frame, fraud = make_stream(2000, seed=21, days=1.5)
    return frame, labels_for(frame, fraud, seed=21, delay_days=0.3)


def build(config: dict[str, Any]):
    return build_model_stage({"model": copy.deepcopy(config)}, CATALOG)


def same(a, b) -> bool:
    return (
        np.array_equal(a.anomaly, b.anomaly, equal_nan=True)
        and np.array_equal(a.fraud_probability, b.fraud_probability, equal_nan=True)
        and np.array_equal(a.risk, b.risk)
    )


def test_every_registered_kind_is_covered() -> None:
    assert set(CONFIGS) == set(MODEL_KINDS)


@pytest.mark.parametrize("config", CASES)
def test_seeded_determinism_and_inputs_left_unchanged(config, stream) -> None:
    frame, labels = stream
    before = copy.deepcopy(frame)
    a, ids_a = drive(build(config), frame, labels)
    b, ids_b = drive(build(config), frame, labels)
    assert same(a, b) and ids_a == ids_b
    for name, column in before.items():
        assert np.array_equal(frame[name], column, equal_nan=column.dtype.kind == "f"), name
    assert ((a.risk >= 0) & (a.risk <= 1)).all()


@pytest.mark.parametrize("config", CASES)
def test_pickle_round_trip_continues_identically(config, stream) -> None:
    frame, labels = stream
    half = len(frame["timestamp"]) // 2
    stage = build(config)
    drive(stage, take(frame, slice(0, half)), labels)
    twin = pickle.loads(pickle.dumps(stage))
    rest = take(frame, slice(half, None))
    a, ids_a = drive(stage, rest, labels)
    b, ids_b = drive(twin, rest, labels)
    assert same(a, b) and ids_a == ids_b


@pytest.mark.parametrize("config", CASES)
def test_snapshot_round_trip(config, stream) -> None:
    frame, labels = stream
    stage = build(config)
    if getattr(stage, "store", None) is None:
        pytest.skip("this stage keeps no snapshots")
    scores, ids = drive(stage, frame, labels, batch_sizes=(300,), cut_at_boundaries=True)
    for i in (0, 700, 1400, len(ids) - 1):
        replayed = load_snapshot(stage.store, ids[i]).score(take(frame, slice(i, i + 1)))
        part = slice(i, i + 1)
        assert np.array_equal(replayed.risk, scores.risk[part])
        assert np.array_equal(replayed.anomaly, scores.anomaly[part], equal_nan=True)


@pytest.mark.parametrize("config", CASES)
def test_missing_features(config, stream) -> None:
    """Every optional value missing (NaN, False, None): scores in range, nothing raised."""
    frame, labels = stream
    empty = {}
    for name, column in frame.items():
        if name in ("tx_id", "timestamp"):
            empty[name] = column
        elif name in CATALOG and CATALOG.type_of(name) is FeatureType.BOOL:
            empty[name] = np.zeros(len(column), dtype=bool)
        elif column.dtype == object:
            empty[name] = np.full(len(column), None, dtype=object)
        else:
            empty[name] = np.full(len(column), np.nan)
    stage = build(config)
    drive(stage, take(frame, slice(0, 1500)), labels)
    scores, _ = drive(stage, take(empty, slice(1500, None)), labels)
    assert np.isfinite(scores.risk).all() and ((scores.risk >= 0) & (scores.risk <= 1)).all()
