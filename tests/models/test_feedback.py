"""The feedback learner and its row store: label timing, eviction, imbalance, cold start."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from river import linear_model, preprocessing

from riskstream.errors import ModelError
from riskstream.models.feedback import FeedbackLearner
from riskstream.models.gbdt import GradientBoostedTrees
from riskstream.models.river_adapter import RiverClassifier
from riskstream.models.rowstore import RowStore

HOUR = 3_600_000


def ids(n: int, prefix: str = "t") -> np.ndarray:
    return np.array([f"{prefix}{i}" for i in range(n)], dtype=object)


def stream(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    fraud = X[:, 0] + 0.5 * rng.normal(size=n) > 2.2
    ts = np.sort(rng.integers(0, 48 * HOUR, n))
    return X, fraud, ts


def small_learner(trees: int = 20, rate: float = 0.1, **kwargs: object) -> FeedbackLearner:
    params = {"refit_every_ms": HOUR, "negative_after_ms": 6 * HOUR, "min_positives": 5}
    params.update(kwargs)
    model = GradientBoostedTrees(n_trees=trees, max_depth=2, learning_rate=rate)
    return FeedbackLearner(3, model, **params)


def test_a_label_is_not_used_before_its_label_time() -> None:
    X, fraud, ts = stream()
    tx = ids(len(X))
    late = small_learner()
    late.observe(tx, ts, X)
    late.apply_labels(tx[fraud], np.ones(fraud.sum(), bool), ts[fraud] + 100 * HOUR)
    assert late.update(now=50 * HOUR) is False  # every label lies in the future of `now`
    assert np.isnan(late.predict(X[:3])).all()
    assert late.update(now=200 * HOUR) is True
    assert not np.isnan(late.predict(X[:3])).any()


def test_cold_start_and_implicit_negatives() -> None:
    X, fraud, ts = stream()
    tx = ids(len(X))
    learner = small_learner(min_positives=50)
    learner.observe(tx, ts, X)
    few = np.flatnonzero(fraud)[:10]
    learner.apply_labels(tx[few], np.ones(10, bool), ts[few] + HOUR)
    assert learner.update(now=60 * HOUR) is False  # 10 positives < min_positives: cold start
    rows = learner.store.training_rows(60 * HOUR, learner.negative_after_ms)
    assert len(rows.positives) == 10
    # Unlabelled rows count as genuine only once 6 hours old.
    assert learner.store.timestamps(rows.implicit_negatives).max() <= 54 * HOUR


def test_while_the_history_is_short_its_older_half_counts_as_genuine() -> None:
    """negative_after 30 days on 2 days of rows: unlabelled rows 1 day old count as genuine."""
    X, fraud, ts = stream()
    tx = ids(len(X))
    learner = small_learner(negative_after_ms=30 * 24 * HOUR)
    assert learner.negative_age(10 * HOUR) == 30 * 24 * HOUR  # nothing seen yet
    learner.observe(tx, ts, X)
    first = int(ts.min())
    assert learner.negative_age(first + 48 * HOUR) == 24 * HOUR
    assert learner.negative_age(first + 90 * 24 * HOUR) == 30 * 24 * HOUR
    learner.apply_labels(tx[fraud], np.ones(fraud.sum(), bool), ts[fraud])
    assert learner.update(now=first + 48 * HOUR)
    p = learner.predict(X)
    assert fraud.mean() / 2 < p.mean() < 2 * fraud.mean()  # the older half stands for all
    assert np.median(p[fraud]) > 20 * np.median(p[~fraud])


def test_class_weight_correction_keeps_probabilities_calibrated() -> None:
    X, fraud, ts = stream(8000, seed=1)
    tx = ids(len(X))
    probs = {}
    for weight in (1.0, 20.0, "balanced"):
        learner = small_learner(100, 0.3, positive_weight=weight, negative_after_ms=0)
        learner.observe(tx, ts, X)
        learner.apply_labels(tx[fraud], np.ones(fraud.sum(), bool), ts[fraud])
        learner.update(now=49 * HOUR)
        probs[weight] = learner.predict(X)
    # Elkan's correction: the mean probability stays near the fraud rate, whatever the weight.
    for p in probs.values():
        assert p.mean() == pytest.approx(fraud.mean(), rel=0.2)


def test_negatives_are_subsampled_evenly_and_reweighted() -> None:
    X, fraud, ts = stream(6000, seed=2)
    tx = ids(len(X))
    learner = small_learner(100, 0.3, max_negatives=500, negative_after_ms=0)
    learner.observe(tx, ts, X)
    learner.apply_labels(tx[fraud], np.ones(fraud.sum(), bool), ts[fraud])
    assert learner.update(now=49 * HOUR)
    p = learner.predict(X)
    assert fraud.mean() / 2 < p.mean() < 2 * fraud.mean()  # the 500 negatives stand for all
    assert np.median(p[fraud]) > 20 * np.median(p[~fraud])


def test_refits_happen_at_their_cadence() -> None:
    X, fraud, ts = stream()
    tx = ids(len(X))
    learner = small_learner(refit_every_ms=6 * HOUR)
    learner.observe(tx, ts, X)
    learner.apply_labels(tx[fraud], np.ones(fraud.sum(), bool), ts[fraud])
    changed = [learner.update(now=h * HOUR) for h in range(48, 61)]
    assert changed == [h % 6 == 0 for h in range(48, 61)]
    assert learner.refits == 3


def test_a_delayed_refit_learns_at_its_cut_and_deploys_after_the_delay() -> None:
    """A refit cut at 48 h with a 2 h delay: the model of 48 h's data, deployed at 50 h.

    Labels and rows that arrive between the cut and the deployment are not in it (the trees
    grow on a thread from a copy), so it predicts exactly as an inline refit at 48 h does.
    """
    X, fraud, ts = stream()
    tx = ids(len(X))
    inline = small_learner(refit_every_ms=6 * HOUR)
    delayed = small_learner(refit_every_ms=6 * HOUR, refit_delay_ms=2 * HOUR)
    for learner in (inline, delayed):
        learner.observe(tx[:3000], ts[:3000], X[:3000])
        labelled = np.flatnonzero(fraud[:3000])
        learner.apply_labels(tx[labelled], np.ones(len(labelled), bool), ts[labelled])
    assert inline.update(now=48 * HOUR) is True
    assert delayed.update(now=48 * HOUR) is False and delayed.refit_pending
    assert np.isnan(delayed.predict(X[:5])).all()  # nothing deployed yet: cold start
    # What comes after the cut does not reach the growing model.
    late = np.flatnonzero(fraud[3000:]) + 3000
    delayed.observe(tx[3000:], ts[3000:], X[3000:])
    delayed.apply_labels(tx[late], np.ones(len(late), bool), ts[late])
    assert delayed.update(now=49 * HOUR) is False  # before its deployment time
    assert delayed.update(now=50 * HOUR) is True and not delayed.refit_pending
    assert np.array_equal(delayed.predict(X), inline.predict(X))
    assert delayed.n_positives == inline.n_positives and delayed.refits == 1


def test_a_learner_pickled_while_a_refit_grows_deploys_the_same_model() -> None:
    X, fraud, ts = stream()
    tx = ids(len(X))
    learner = small_learner(200, refit_every_ms=6 * HOUR, refit_delay_ms=2 * HOUR)
    learner.observe(tx, ts, X)
    learner.apply_labels(tx[fraud], np.ones(fraud.sum(), bool), ts[fraud])
    assert learner.update(now=48 * HOUR) is False and learner.refit_pending
    twin = pickle.loads(pickle.dumps(learner))
    assert twin.refit_pending and np.isnan(twin.predict(X[:3])).all()
    assert learner.update(now=50 * HOUR) is True and twin.update(now=50 * HOUR) is True
    assert np.array_equal(twin.predict(X), learner.predict(X))


def test_incremental_river_learner() -> None:
    X, fraud, ts = stream()
    tx = ids(len(X))
    model = RiverClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression(), ["a", "b", "c"]
    )
    learner = FeedbackLearner(3, model, negative_after_ms=0, min_positives=5, positive_weight=5)
    learner.observe(tx[:2000], ts[:2000], X[:2000])
    learner.apply_labels(
        tx[:2000][fraud[:2000]], np.ones(fraud[:2000].sum(), bool), ts[:2000][fraud[:2000]]
    )
    assert learner.update(now=24 * HOUR)
    learnt = learner.n_positives
    assert learnt == fraud[:2000][ts[:2000] <= 24 * HOUR].sum()
    assert learner.update(now=24 * HOUR) is False  # nothing new to learn
    p = learner.predict(np.array([[-1.0, 0, 0], [4.0, 0, 0]]))
    assert p[1] > 0.5 > p[0]


def test_row_store_bounds_and_missed_labels() -> None:
    store = RowStore(n_features=1, max_rows=100, ttl_ms=1000, max_early=2)
    for k in range(5):  # 250 rows through a store of 100: the oldest leave
        store.add(ids(50, f"b{k}_"), np.arange(50) + 50 * k, np.ones((50, 1)))
    assert len(store) == 100 and store.rows_evicted == 150
    store.label(
        np.array(["b0_0", "b4_49", "x", "y", "z"], object), np.ones(5, bool), np.zeros(5, np.int64)
    )
    assert store.labels_applied == 1  # b0_0 had left; x, y wait (max_early 2), z is missed
    assert (store.labels_waiting, store.labels_missed) == (2, 2)
    store.add(np.array(["x"], object), np.array([300]), np.ones((1, 1)))
    assert store.labels_applied == 2 and store.labels_waiting == 1
    store.evict(now=5000)
    assert len(store) == 0 and store.labels_missed == 3


def test_bad_parameters() -> None:
    with pytest.raises(ModelError, match="positive_weight"):
        small_learner(positive_weight=-1)
    with pytest.raises(ModelError, match="refit_every_ms"):
        small_learner(refit_every_ms=0)
    with pytest.raises(ModelError, match="refit_delay_ms"):
        small_learner(refit_delay_ms=2 * HOUR)  # longer than refit_every_ms
