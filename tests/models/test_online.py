"""The online model stage: cold start, delayed labels, batch-size independence, snapshots."""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import CATALOG, DAY, HOUR, START, drive, labels_for, make_stream, small, take

from riskstream.errors import ConfigError, ModelError
from riskstream.features.stage import LabelBatch
from riskstream.models import OnlineModelStage, build_model_stage, load_snapshot
from riskstream.models.snapshots import MemorySnapshotStore


def build(**overrides: object) -> OnlineModelStage:
    stage = build_model_stage({"model": small(**overrides)}, CATALOG)
    assert isinstance(stage, OnlineModelStage)
    return stage


@pytest.fixture(scope="module")
def stream() -> tuple[dict[str, np.ndarray], np.ndarray, LabelBatch]:
    frame, fraud = make_stream(6000, seed=3, days=4.0)
    return frame, fraud, labels_for(frame, fraud, seed=3)


def test_cold_start_anomaly_alone_then_learner(stream) -> None:
    frame, fraud, labels = stream
    stage = build()
    scores, _ = drive(stage, frame, labels)
    ts = frame["timestamp"]
    first_hours = ts < START + 2 * HOUR
    # Warm-up: no anomaly model, no learner: the rules decide alone (risk 0).
    assert np.isnan(scores.anomaly[:100]).all()
    assert (scores.risk[first_hours] == 0).all()
    assert np.isnan(scores.fraud_probability[first_hours]).all()
    # Later both models speak, and the learner ranks fraud far above genuine.
    late = ts >= START + 2 * DAY
    assert not np.isnan(scores.fraud_probability[late]).any()
    p = scores.fraud_probability[late]
    assert np.median(p[fraud[late]]) > 20 * np.median(p[~fraud[late]])
    assert ((scores.risk >= 0) & (scores.risk <= 1)).all()


def test_labels_never_used_before_their_label_time(stream) -> None:
    """Shuffling the labels that are not yet due at T changes no score of a row before T."""
    frame, _fraud, labels = stream
    cut = START + int(2.5 * DAY)
    future = labels.label_time > cut
    rng = np.random.default_rng(0)
    shuffled = LabelBatch(labels.tx_id.copy(), labels.is_fraud.copy(), labels.label_time.copy())
    moved = np.flatnonzero(future)
    shuffled.is_fraud[moved] = ~shuffled.is_fraud[moved]  # every future verdict flipped
    shuffled.tx_id[moved] = shuffled.tx_id[rng.permutation(moved)]
    shuffled.label_time[moved] = cut + rng.integers(1, DAY, len(moved))
    a, _ids_a = drive(build(), frame, labels, batch_sizes=(500,))
    b, _ids_b = drive(build(), frame, shuffled, batch_sizes=(333,))
    past = frame["timestamp"] < cut
    assert np.array_equal(a.risk[past], b.risk[past])
    assert np.array_equal(a.fraud_probability[past], b.fraud_probability[past], equal_nan=True)
    later = ~past
    assert not np.array_equal(a.fraud_probability[later], b.fraud_probability[later])


def test_scores_do_not_depend_on_batch_sizes(stream) -> None:
    frame, _, labels = stream
    reference, ids = drive(build(), frame, labels, batch_sizes=(6000,), cut_at_boundaries=True)
    for sizes in ((1, 7, 300), (64,), (2500, 13)):
        scores, other_ids = drive(build(), frame, labels, batch_sizes=sizes, cut_at_boundaries=True)
        assert np.array_equal(scores.anomaly, reference.anomaly, equal_nan=True)
        assert np.array_equal(scores.fraud_probability, reference.fraud_probability, True)
        assert np.array_equal(scores.risk, reference.risk)
        assert other_ids == ids
    # Without the cut at rotations the stage splits batches itself: same scores, and a batch
    # that spans a rotation names both snapshots.
    scores, uncut_ids = drive(build(), frame, labels, batch_sizes=(1000,))
    assert np.array_equal(scores.risk, reference.risk)
    assert any("," in sid for sid in uncut_ids)


def test_snapshot_ids_name_what_scored_each_row(stream) -> None:
    frame, _, labels = stream
    stage = build(snapshots={"every": "1h", "store": {"memory": True}})
    store = stage.store
    assert isinstance(store, MemorySnapshotStore)
    scores, ids = drive(stage, frame, labels, batch_sizes=(400,), cut_at_boundaries=True)
    assert stage.rotations >= 4 * 24 - 1
    rows = np.linspace(0, len(ids) - 1, 40).astype(int)
    for i in rows:
        replayed = load_snapshot(store, ids[i]).score(take(frame, slice(i, i + 1)))
        assert np.array_equal(replayed.anomaly, scores.anomaly[i : i + 1], equal_nan=True)
        assert np.array_equal(replayed.risk, scores.risk[i : i + 1])
        fp = scores.fraud_probability[i : i + 1]
        assert np.array_equal(replayed.fraud_probability, fp, equal_nan=True)
    assert ids[-1].startswith("hst:") and "+fb:" in ids[-1]


def test_next_boundary_and_rotation_time(stream) -> None:
    frame, _, _ = stream
    stage = build(snapshots={"every": "2h"})
    first = int(frame["timestamp"][0])
    expected = (first // (2 * HOUR) + 1) * 2 * HOUR
    assert stage.next_boundary() is None
    assert stage.next_boundary(first) == expected
    stage.score(take(frame, slice(0, 10)))
    assert stage.next_boundary() == stage.next_boundary(first + 1000) == expected
    # A batch starting past the pending rotation rotates at its first row: the next is later.
    later = first + 5 * HOUR
    assert stage.next_boundary(later) == (later // (2 * HOUR) + 1) * 2 * HOUR


def test_resume_from_a_snapshot_continues_the_models(stream) -> None:
    frame, _, labels = stream
    original = build(snapshots={"every": "1h", "store": {"memory": True}})
    store = original.store
    scores, ids = drive(original, frame, labels, batch_sizes=(300,), cut_at_boundaries=True)
    i = int(np.searchsorted(frame["timestamp"], START + 3 * DAY))
    resumed = build()
    resumed.resume(store, ids[i])
    assert resumed.snapshot_id == ids[i]
    period_end = int(np.searchsorted(frame["timestamp"], START + 3 * DAY + HOUR))
    again, _ = drive(resumed, take(frame, slice(i, len(ids))), batch_sizes=(300,))
    n = period_end - i
    assert np.array_equal(again.risk[:n], scores.risk[i:period_end])


def test_learner_without_tx_ids_stays_untrained(stream, caplog) -> None:
    frame, _, labels = stream
    no_ids = {k: v for k, v in frame.items() if k != "tx_id"}
    scores, _ = drive(build(), take(no_ids, slice(0, 3000)), labels)
    assert np.isnan(scores.fraud_probability).all()
    assert "no tx_id column" in caplog.text


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown kind"):
        build_model_stage({"model": {"kind": "magic"}}, CATALOG)
    with pytest.raises(ConfigError, match="not in the feature catalog"):
        build(anomaly={"features": ["no.such_feature"]})
    with pytest.raises(ConfigError, match="duration"):
        build(snapshots={"every": "soon"})
    with pytest.raises(ConfigError, match=r"learner\.kind"):
        build(learner={"kind": "magic"})
    with pytest.raises(ModelError, match="timestamp"):
        build().score({"amount": np.zeros(2)})


def test_heuristic_kind_still_works() -> None:
    frame, _ = make_stream(50, seed=1)
    stage = build_model_stage({"model": {"kind": "heuristic"}}, CATALOG)
    scores = stage.score(frame)
    assert scores.risk.shape == (50,) and stage.snapshot_id == "heuristic-v1"
