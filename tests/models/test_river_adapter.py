"""The river adapter: models from config, river's scores kept, river models in the stage."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from model_helpers import CATALOG, drive, labels_for, make_stream, small, take
from river import anomaly, linear_model

from riskstream.errors import ConfigError, ModelError
from riskstream.models import build_model_stage, load_snapshot
from riskstream.models.river_adapter import RiverAnomaly, RiverClassifier, make_river_model


def test_models_from_config() -> None:
    assert isinstance(make_river_model("anomaly.HalfSpaceTrees"), anomaly.HalfSpaceTrees)
    model = make_river_model(
        {
            "river": "linear_model.LogisticRegression",
            "params": {"l2": 0.01, "optimizer": {"river": "optim.SGD", "params": {"lr": 0.05}}},
        }
    )
    assert model.l2 == 0.01 and model.optimizer.learning_rate == 0.05
    pipeline = make_river_model(["preprocessing.StandardScaler", "anomaly.HalfSpaceTrees"])
    assert list(pipeline.steps) == ["StandardScaler", "HalfSpaceTrees"]
    with pytest.raises(ConfigError, match=r"no model 'anomaly\.Nope'"):
        make_river_model("anomaly.Nope")
    with pytest.raises(ConfigError, match="cannot build river"):
        make_river_model({"river": "anomaly.HalfSpaceTrees", "params": {"trees": 3}})
    with pytest.raises(ConfigError, match="not a river anomaly detector"):
        RiverAnomaly(object(), ["a"])
    with pytest.raises(ConfigError, match="not a river classifier"):
        RiverClassifier(anomaly.HalfSpaceTrees(), ["a"])


def test_river_anomaly_scores_are_rivers() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(800, 2))
    X[rng.random((800, 2)) < 0.05] = np.nan
    model = anomaly.HalfSpaceTrees(n_trees=5, window_size=100, seed=3)
    reference = copy.deepcopy(model)
    ours = RiverAnomaly(model, ["a", "b"]).score_learn_many(X)
    expected = []
    for a, b in X.tolist():
        x = {k: v for k, v in (("a", a), ("b", b)) if v == v}
        expected.append(reference.score_one(x))
        reference.learn_one(x)
    assert np.array_equal(ours, expected)
    state = RiverAnomaly(model, ["a", "b"]).get_state()
    again = RiverAnomaly.from_state(state)
    assert np.array_equal(
        again.score_many(X[:50]), RiverAnomaly(model, ["a", "b"]).score_many(X[:50])
    )
    with pytest.raises(ModelError, match="cannot load the river model"):
        RiverAnomaly.from_state({**state, "model": np.zeros(3, np.uint8)})


def test_river_models_in_the_stage_replay_from_snapshots() -> None:
    frame, fraud = make_stream(2500, seed=9, days=2.0)
    config = small(
        snapshots={"every": "1h", "store": {"memory": True}},
        anomaly={"river": "anomaly.HalfSpaceTrees", "params": {"n_trees": 3, "window_size": 100}},
        learner={
            "river": ["preprocessing.StandardScaler", "linear_model.LogisticRegression"],
            "negative_after": "6h",
        },
    )
    stage = build_model_stage({"model": config}, CATALOG)
    scores, ids = drive(stage, frame, labels_for(frame, fraud, seed=9), cut_at_boundaries=True)
    assert ids[-1].startswith("river:") and "+fb:" in ids[-1]
    late = frame["timestamp"] >= frame["timestamp"][0] + 36 * 3_600_000
    p = scores.fraud_probability[late]
    assert not np.isnan(p).any() and p[fraud[late]].mean() > 5 * p[~fraud[late]].mean()
    for i in (1200, 2000, 2499):
        replayed = load_snapshot(stage.store, ids[i]).score(take(frame, slice(i, i + 1)))
        assert np.array_equal(replayed.risk, scores.risk[i : i + 1])


def test_river_hst_in_the_stage_scores_as_ours() -> None:
    """With the same limits and seed, river's Half-Space Trees and ours give the same scores."""
    frame, _ = make_stream(1500, seed=4, days=1.0, nan_rate=0.0)
    names = ["amount", "customer.tx_count_1h"]
    limits = {"amount": [0.0, 200.0], "customer.tx_count_1h": [0.0, 40.0]}
    hst = {"n_trees": 4, "height": 6, "window_size": 100, "seed": 11, "ready_after": 100}
    ours = small(
        learner={"kind": "none"},
        anomaly={"features": {n: {"limits": limits[n]} for n in names}, **hst},
    )
    params = {k: v for k, v in hst.items() if k != "ready_after"} | {"limits": limits}
    theirs = small(
        learner={"kind": "none"},
        anomaly={
            "features": names,
            "river": "anomaly.HalfSpaceTrees",
            "params": params,
            "ready_after": 100,
        },
    )
    a, _ = drive(build_model_stage({"model": ours}, CATALOG), frame)
    b, _ = drive(build_model_stage({"model": theirs}, CATALOG), frame)
    assert np.array_equal(a.anomaly, b.anomaly, equal_nan=True)
    assert np.array_equal(a.risk, b.risk)
    assert np.nanmax(a.anomaly) > 0


def test_unweighted_river_classifiers_learn_unweighted() -> None:
    from river import naive_bayes

    clf = RiverClassifier(naive_bayes.GaussianNB(), ["a"])
    assert not clf.weighted
    assert RiverClassifier(linear_model.LogisticRegression(), ["a"]).weighted
    clf.learn_many(np.array([[0.0], [1.0]]), np.array([False, True]), np.array([1.0, 9.0]))
    assert clf.predict_proba(np.array([[np.nan]])).tolist() == [0.5]
