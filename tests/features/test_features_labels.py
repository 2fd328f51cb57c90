"""Label-fed features: a feature computed at time t never depends on labels with label_time > t.

The property is checked on the feature stage driven by the Engine's contract (labels released,
by `LabelFeed`, at the event-time watermark of the row about to be scored, batches cut there),
with and without the labels that become due after t: every feature of the rows up to t must be
identical. A separate test holds the Engine itself to the same contract.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from feature_helpers import CATALOG, T0, make_batch, open_test_store, run
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.engine import Engine, LabelFeed
from riskstream.features.stage import FeatureStage, LabelBatch


def _feed(labels: list) -> LabelFeed:
    return LabelFeed(
        np.array([tx for tx, _, _ in labels], dtype=object),
        np.array([fraud for _, fraud, _ in labels], dtype=bool),
        np.array([t for _, _, t in labels], dtype=np.int64),
    )


def _score(rows: list, labels: list, batch: int) -> dict:
    """Batches of ``batch`` rows; within one, labels are released just before the first row
    whose watermark reaches their label_time, and the batch is cut there (the Engine's rule)."""
    stage = FeatureStage(CATALOG)
    feed = _feed(labels)
    frames = []
    watermark = np.iinfo(np.int64).min
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        marks = np.maximum.accumulate(
            np.maximum(np.array([r["timestamp"] for r in part]), watermark)
        )
        watermark = int(marks[-1])
        due = feed.count_due(marks)
        bounds = [0, *(np.flatnonzero(np.diff(due)) + 1).tolist(), len(part)]
        for lo, hi in itertools.pairwise(bounds):
            released = feed.release(int(marks[lo]))
            if len(released):
                stage.apply_labels(released)
            frames.append(stage.compute(make_batch(part[lo:hi])))
    return {name: np.concatenate([f[name] for f in frames]) for name in frames[0]}


@st.composite
def labelled_streams(draw: st.DrawFn) -> tuple[list, list, int, int]:
    n = draw(st.integers(5, 60))
    ts = T0 + np.cumsum(draw(st.lists(st.integers(1, 4 * 3_600_000), min_size=n, max_size=n)))
    merchants = draw(st.lists(st.sampled_from(["m1", "m2", None]), min_size=n, max_size=n))
    devices = draw(st.lists(st.sampled_from(["d1", None]), min_size=n, max_size=n))
    rows = [
        {
            "tx_id": f"tx{i}",
            "customer_id": f"c{i % 3}",
            "merchant_id": merchants[i],
            "device_id": devices[i],
            "amount": 10.0 + i,
            "timestamp": int(ts[i]),
        }
        for i in range(n)
    ]
    labelled = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    labels = [
        (f"tx{i}", draw(st.booleans()), int(ts[i]) + draw(st.integers(0, 3 * 86_400_000)))
        for i in labelled
    ]
    cut = draw(st.sampled_from([int(t) for t in ts]))
    return rows, labels, cut, draw(st.integers(1, 16))


@settings(max_examples=40, deadline=None)
@given(labelled_streams())
def test_features_at_t_ignore_labels_due_after_t(case: tuple) -> None:
    rows, labels, t, batch = case
    everything = _score(rows, labels, batch)
    known_by_t = _score(rows, [lab for lab in labels if lab[2] <= t], batch)
    upto = np.array([r["timestamp"] <= t for r in rows])
    for name in everything:
        a, b = everything[name][upto], known_by_t[name][upto]
        if a.dtype.kind == "f":
            assert np.array_equal(a, b, equal_nan=True), name
        else:
            assert np.array_equal(a, b), name


def _score_engine(rows: list, labels: list, batch: int) -> dict:
    """The same through the Engine itself (it releases labels row by row into the stage)."""
    engine = Engine(labels=_feed(labels))
    frames: list[dict] = []
    inner = engine.features.compute

    def compute(part, labels=None):  # type: ignore[no-untyped-def]
        frames.append(inner(part, labels=labels))
        return frames[-1]

    engine.features.compute = compute  # type: ignore[method-assign]
    for start in range(0, len(rows), batch):
        engine.score(make_batch(rows[start : start + batch]))
    return {name: np.concatenate([f[name] for f in frames]) for name in frames[0]}


@settings(max_examples=20, deadline=None)
@given(labelled_streams())
def test_engine_features_at_t_ignore_labels_due_after_t(case: tuple) -> None:
    rows, labels, t, batch = case
    everything = _score_engine(rows, labels, batch)
    known_by_t = _score_engine(rows, [lab for lab in labels if lab[2] <= t], batch)
    upto = np.array([r["timestamp"] <= t for r in rows])
    for name in everything:
        a, b = everything[name][upto], known_by_t[name][upto]
        if a.dtype.kind == "f":
            assert np.array_equal(a, b, equal_nan=True), name
        else:
            assert np.array_equal(a, b), name


def _merchant_rows() -> list:
    return [
        {
            "tx_id": f"t{i}",
            "customer_id": f"c{i}",
            "merchant_id": "m",
            "device_id": "d",
            "amount": 20.0,
            "timestamp": T0 + i * 3_600_000,
        }
        for i in range(10)
    ]


def test_fraud_rate_rises_only_after_the_label_time() -> None:
    rows = _merchant_rows()
    label_time = T0 + 4 * 3_600_000 + 1  # t0 turns out to be fraud, known just after t4
    frame = _score(rows, [("t0", True, label_time)], batch=3)
    rate = frame["merchant.fraud_rate"]
    assert np.isnan(rate[0])  # a new merchant: no rate
    assert (rate[1:5] == 0.0).all()
    assert (rate[5:] > 0.0).all() and (rate[5:] <= 1.0).all()
    assert (frame["device.fraud_count"][5:] > 0.9).all()
    assert (frame["device.fraud_count"][:5] == 0.0).all()


@pytest.mark.parametrize("store_kind", ["memory", "redis", "cluster"])
def test_labels_count_once_and_unknown_ones_are_ignored(
    store_kind: str, request: pytest.FixtureRequest
) -> None:
    rows = _merchant_rows()
    with open_test_store(store_kind, request) as store:
        stage = FeatureStage(CATALOG, store)
        run(stage, rows[:5])
        labels = LabelBatch(
            np.array(["t0", "t1", "nope"], dtype=object),
            np.array([True, True, True]),
            np.array([T0 + 5 * 3_600_000] * 3, dtype=np.int64),
        )
        stage.apply_labels(labels)
        after_once = store.get("merchant", "m")
        stage.apply_labels(labels)  # released again after a restart
        after_twice = store.get("merchant", "m")
        assert after_once is not None and after_twice is not None
        assert after_once.tobytes() == after_twice.tobytes()
        assert float(after_once["fraud_ew"]) == pytest.approx(2.0)
        assert stage.stats["labels_unmatched"] == 2  # 'nope', twice
        frame = run(stage, rows[5:6])
        assert frame["merchant.fraud_count"][0] == pytest.approx(2.0, rel=1e-3)
        assert frame["merchant.fraud_rate"][0] == pytest.approx(2.0 / 5.0, rel=0.02)
        assert frame["device.fraud_count"][0] == pytest.approx(2.0, rel=1e-3)


def test_engine_releases_labels_no_earlier_than_the_row_they_are_due_at() -> None:
    rows = _merchant_rows()
    engine = Engine(labels=_feed([("t0", True, T0 + 4 * 3_600_000 + 1)]))
    frames: list[dict] = []
    inner = engine.features.compute

    def compute(batch, labels=None):  # type: ignore[no-untyped-def]
        frames.append(inner(batch, labels=labels))
        return frames[-1]

    engine.features.compute = compute  # type: ignore[method-assign]
    engine.score(make_batch(rows))  # one batch spanning the label time
    assert len(frames) == 1  # the label did not cut the batch
    count = frames[0]["merchant.fraud_count"]
    assert (count[:5] == 0.0).all()
    assert (count[5:] > 0.0).all()


def test_genuine_labels_change_nothing() -> None:
    stage = FeatureStage(CATALOG)
    run(stage, _merchant_rows()[:3])
    before = stage.store.get("merchant", "m").tobytes()  # type: ignore[union-attr]
    stage.apply_labels(
        LabelBatch(np.array(["t0"], dtype=object), np.array([False]), np.array([T0 + 1]))
    )
    assert stage.store.get("merchant", "m").tobytes() == before  # type: ignore[union-attr]
    assert stage.labels_seen == 1
