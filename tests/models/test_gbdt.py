"""GradientBoostedTrees: learns interactions, handles NaN and weights, deterministic, state."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from riskstream.errors import ModelError
from riskstream.models.gbdt import GradientBoostedTrees


def data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = ((X[:, 0] > 1.0) & (X[:, 1] > 0.0)) | (X[:, 2] * X[:, 3] > 2.0)
    return X, y.astype(np.uint8)


def accuracy(model: GradientBoostedTrees, seed: int = 1) -> float:
    X, y = data(3000, seed)
    return float(((model.predict_proba(X) > 0.5) == y).mean())


def test_learns_interactions_beyond_a_linear_model() -> None:
    X, y = data()
    model = GradientBoostedTrees(n_trees=60, max_depth=3, learning_rate=0.3).fit(X, y)
    assert accuracy(model) > 0.95
    assert accuracy(GradientBoostedTrees(n_trees=0).fit(X, y)) == pytest.approx(1 - y.mean(), 0.05)


def test_missing_values_go_where_they_belong() -> None:
    """Rows with a NaN in the decisive feature are fraud: the trees learn to send NaN there."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 2))
    y = (X[:, 0] > 1.5).astype(np.uint8)
    missing = rng.random(2000) < 0.1
    X[missing, 0] = np.nan
    y[missing] = 1
    model = GradientBoostedTrees(n_trees=40, max_depth=2, learning_rate=0.3).fit(X, y)
    p = model.predict_proba(np.array([[np.nan, 0.0], [0.0, 0.0], [3.0, 0.0]]))
    assert p[0] > 0.9 and p[1] < 0.1 and p[2] > 0.9


def test_weights_shift_the_probabilities() -> None:
    X, y = data()
    plain = GradientBoostedTrees(n_trees=30, max_depth=3).fit(X, y)
    heavy = GradientBoostedTrees(n_trees=30, max_depth=3).fit(X, y, np.where(y == 1, 10.0, 1.0))
    assert heavy.predict_proba(X).mean() > 1.5 * plain.predict_proba(X).mean()


def test_seeded_sampling_is_deterministic_and_inputs_are_left_alone() -> None:
    X, y = data()
    X_before, y_before = X.copy(), y.copy()
    params = {"n_trees": 30, "subsample": 0.5, "colsample": 0.5, "seed": 7}
    a = GradientBoostedTrees(**params).fit(X, y)
    b = GradientBoostedTrees(**params).fit(X, y)
    c = GradientBoostedTrees(**{**params, "seed": 8}).fit(X, y)
    assert np.array_equal(a.decision_function(X), b.decision_function(X))
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))
    assert np.array_equal(X, X_before) and np.array_equal(y, y_before)


def test_state_and_pickle_round_trip() -> None:
    X, y = data()
    model = GradientBoostedTrees(n_trees=20, max_depth=3).fit(X, y)
    for copy in (
        GradientBoostedTrees.from_state(model.get_state()),
        pickle.loads(pickle.dumps(model)),
    ):
        assert np.array_equal(copy.decision_function(X), model.decision_function(X))
        assert repr(copy) == repr(model)


def test_errors() -> None:
    X, y = data(100)
    with pytest.raises(ModelError, match="y must be"):
        GradientBoostedTrees().fit(X, y + 2)
    with pytest.raises(ModelError, match="0 rows"):
        GradientBoostedTrees().fit(X[:0], y[:0])
    with pytest.raises(ModelError, match="subsample"):
        GradientBoostedTrees(subsample=0.0)
    with pytest.raises(ModelError, match="columns"):
        GradientBoostedTrees(n_trees=2).fit(X, y).predict_proba(X[:, :2])
    with pytest.raises(ModelError, match="version"):
        GradientBoostedTrees.from_state({**GradientBoostedTrees().get_state(), "version": 0})


def test_goss_keeps_the_hard_rows_of_rare_event_data() -> None:
    """On 0.5 % positives, GOSS on a fifth of the rows ranks as well as all of them."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40_000, 5))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + 0.3 * rng.normal(size=40_000) > 3.9).astype(np.uint8)
    X_new = rng.normal(size=(40_000, 5))
    y_new = X_new[:, 0] + X_new[:, 1] * X_new[:, 2] > 3.9
    params = {"n_trees": 60, "max_depth": 4, "learning_rate": 0.2, "seed": 3}
    full = GradientBoostedTrees(**params).fit(X, y)
    goss = GradientBoostedTrees(**params, top_rate=0.1, subsample=0.1).fit(X, y)
    again = GradientBoostedTrees(**params, top_rate=0.1, subsample=0.1).fit(X, y)
    assert np.array_equal(goss.decision_function(X_new), again.decision_function(X_new))

    def top_precision(model: GradientBoostedTrees) -> float:
        top = np.argsort(-model.decision_function(X_new))[: y_new.sum()]
        return float(y_new[top].mean())

    assert y.mean() < 0.01
    assert top_precision(goss) > top_precision(full) - 0.05 > 0.6
