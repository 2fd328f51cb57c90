"""The river adapter: any river anomaly detector or classifier, named in config, on our arrays.

Owns `make_river_model` (a river estimator from a config entry), `RiverAnomaly` and
`RiverClassifier`: they give river's one-dict-at-a-time models the array interface the model
stage uses (`score_many`/`learn_many`, `predict_proba`/`learn_many`) and a plain state for
snapshots (the model's pickle). For users who want river's catalogue; the numba Half-Space
Trees stay the default anomaly model because they are about 80 times faster.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from riskstream.errors import ConfigError, ModelError

__all__ = ["RiverAnomaly", "RiverClassifier", "make_river_model"]

_ANOMALY_FORMAT = "riskstream.models.river_adapter.RiverAnomaly"
_CLASSIFIER_FORMAT = "riskstream.models.river_adapter.RiverClassifier"
_STATE_VERSION = 1


def make_river_model(spec: Any) -> Any:
    """A river estimator from its config: a dotted name under `river`, with `params`.

    ``spec`` is ``"anomaly.HalfSpaceTrees"``, or ``{"river": NAME, "params": {...}}``, or a
    list of those, composed into a pipeline with ``|`` (``[preprocessing.StandardScaler,
    linear_model.LogisticRegression]``). A parameter value may itself be such a mapping
    (``optimizer: {river: optim.SGD, params: {lr: 0.05}}``).

    Examples
    --------
    >>> hst = make_river_model({"river": "anomaly.HalfSpaceTrees", "params": {"n_trees": 5}})
    >>> type(hst).__name__, hst.n_trees, hst.window_size
    ('HalfSpaceTrees', 5, 250)
    >>> type(make_river_model(["preprocessing.StandardScaler", "linear_model.LogisticRegression"]))
    <class 'river.compose.pipeline.Pipeline'>
    """
    if isinstance(spec, list | tuple):
        if not spec:
            raise ConfigError("model: an empty river pipeline")
        steps = [make_river_model(step) for step in spec]
        model = steps[0]
        for step in steps[1:]:
            model = model | step
        return model
    if isinstance(spec, Mapping) and isinstance(spec.get("river"), list | tuple):
        if spec.get("params"):
            raise ConfigError("model: a river pipeline takes its params step by step")
        return make_river_model(spec["river"])
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, Mapping) and isinstance(spec.get("river"), str):
        name, params = spec["river"], spec.get("params") or {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"model: params of river model {name!r} must be a mapping")
    else:
        raise ConfigError(f"model: a river model is a dotted name or {{river, params}}: {spec!r}")
    module_name, _, attr = f"river.{name}".rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        raise ConfigError(f"model: river has no model {name!r}") from None
    kwargs = {
        key: make_river_model(value) if _is_model_spec(value) else value
        for key, value in params.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model: cannot build river {name}: {exc}") from None


def _is_model_spec(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("river"), str)


def _rows_as_dicts(X: np.ndarray, names: Sequence[str]) -> list[dict[str, float]]:
    """One dict per row; a NaN is a key left out (river's way of saying missing)."""
    return [{name: v for name, v in zip(names, row, strict=True) if v == v} for row in X.tolist()]


def _check_rows(X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ModelError(f"X must be 2-D with {len(names)} columns, got shape {X.shape}")
    return X


def _state(fmt: str, model: Any, names: Sequence[str]) -> dict[str, Any]:
    return {
        "format": fmt,
        "version": _STATE_VERSION,
        "feature_names": list(names),
        "model": np.frombuffer(pickle.dumps(model, protocol=5), dtype=np.uint8).copy(),
    }


def _unpickle(fmt: str, state: Mapping[str, Any]) -> tuple[Any, list[str]]:
    if state.get("format") != fmt or state.get("version") != _STATE_VERSION:
        raise ModelError(
            f"not a {fmt} state of version {_STATE_VERSION}: "
            f"{state.get('format')!r} version {state.get('version')!r}"
        )
    try:
        model = pickle.loads(np.asarray(state["model"], dtype=np.uint8).tobytes())
        names = [str(n) for n in state["feature_names"]]
    except Exception as exc:  # a pickle from another river version fails in many ways
        raise ModelError(f"cannot load the river model of a {fmt} state: {exc!r}") from exc
    return model, names


class RiverAnomaly:
    """A river anomaly detector behind the array interface of `HalfSpaceTrees`.

    Rows of `X` become dicts keyed by `feature_names` (a NaN is a missing key) and go through
    the model's `score_one` and `learn_one` one at a time, so this costs what river costs (tens
    of microseconds a row). Higher scores must mean more anomalous, as in river.

    Parameters
    ----------
    model
        A river anomaly detector (or a pipeline ending in one).
    feature_names
        Names of the columns of `X`.

    Examples
    --------
    >>> from river import anomaly
    >>> rng = np.random.default_rng(3)
    >>> X = rng.normal(0.5, 0.08, size=(600, 2))
    >>> X[-1] = [0.95, 0.05]
    >>> model = RiverAnomaly(anomaly.HalfSpaceTrees(seed=3), ["a", "b"])
    >>> scores = model.score_learn_many(X)
    >>> print(f"{np.median(scores[250:-1]):.3f} {scores[-1]:.3f}")
    0.823 0.994

    References
    ----------
    [^1]: river, `river.anomaly` (version 0.26). https://riverml.xyz/latest/api/overview/

    """

    def __init__(self, model: Any, feature_names: Sequence[str]) -> None:
        if not hasattr(model, "score_one") or not hasattr(model, "learn_one"):
            raise ConfigError(f"model: {type(model).__name__} is not a river anomaly detector")
        self.model = model
        self.feature_names = tuple(feature_names)

    def score_many(self, X: np.ndarray) -> np.ndarray:
        """Score each row with the model as it stands; learn nothing."""
        rows = _rows_as_dicts(_check_rows(X, self.feature_names), self.feature_names)
        score = self.model.score_one
        return np.array([score(x) for x in rows], dtype=np.float64)

    def learn_many(self, X: np.ndarray) -> None:
        """Learn each row in order."""
        learn = self.model.learn_one
        for x in _rows_as_dicts(_check_rows(X, self.feature_names), self.feature_names):
            learn(x)

    def score_learn_many(self, X: np.ndarray) -> np.ndarray:
        """Score each row, then learn it, row after row (river's usual loop)."""
        out = np.empty(len(X), dtype=np.float64)
        model = self.model
        rows = _rows_as_dicts(_check_rows(X, self.feature_names), self.feature_names)
        for i, x in enumerate(rows):
            out[i] = model.score_one(x)
            model.learn_one(x)
        return out

    def get_state(self) -> dict[str, Any]:
        """The feature names and the model's pickle (as a uint8 array)."""
        return _state(_ANOMALY_FORMAT, self.model, self.feature_names)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RiverAnomaly:
        """Rebuild from `get_state()`; unpickling runs river's code: load trusted stores only."""
        model, names = _unpickle(_ANOMALY_FORMAT, state)
        return cls(model, names)

    def __repr__(self) -> str:
        return f"RiverAnomaly({type(self.model).__name__}, {list(self.feature_names)!r})"


class RiverClassifier:
    """A river binary classifier behind the array interface of the feedback learner.

    `learn_many(X, y, w)` feeds rows to `learn_one(x, y)` in order, passing the weight as
    `w=` when the model's `learn_one` takes one (logistic regression does; other models learn
    each row once, unweighted). `predict_proba` returns the probability of `True`.

    Parameters
    ----------
    model
        A river classifier (or a pipeline ending in one).
    feature_names
        Names of the columns of `X`.

    Examples
    --------
    >>> from river import linear_model, preprocessing
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> y = X[:, 0] > 1.0
    >>> clf = RiverClassifier(preprocessing.StandardScaler() | linear_model.LogisticRegression(),
    ...                       ["a", "b"])
    >>> clf.learn_many(X, y, np.ones(400))
    >>> clf.predict_proba(np.array([[-1.0, 0.0], [2.5, 0.0]])).round(3).tolist()
    [0.184, 0.677]

    References
    ----------
    [^1]: river, classifiers (version 0.26). https://riverml.xyz/latest/api/overview/

    """

    def __init__(self, model: Any, feature_names: Sequence[str]) -> None:
        if not hasattr(model, "predict_proba_one") or not hasattr(model, "learn_one"):
            raise ConfigError(f"model: {type(model).__name__} is not a river classifier")
        self.model = model
        self.feature_names = tuple(feature_names)
        self._weighted = _takes_weight(model)

    def learn_many(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        """Learn each row in order with its label and weight."""
        rows = _rows_as_dicts(_check_rows(X, self.feature_names), self.feature_names)
        learn = self.model.learn_one
        labels = np.asarray(y, dtype=bool).tolist()
        for x, label, weight in zip(rows, labels, np.asarray(w).tolist(), strict=True):
            if self._weighted:
                learn(x, label, w=weight)
            else:
                learn(x, label)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of `True` per row (0.5 when the model has no opinion yet)."""
        rows = _rows_as_dicts(_check_rows(X, self.feature_names), self.feature_names)
        predict = self.model.predict_proba_one
        return np.array([predict(x).get(True, 0.0) if x else 0.5 for x in rows], np.float64)

    @property
    def weighted(self) -> bool:
        """Whether the model takes sample weights (else class weights do nothing)."""
        return self._weighted

    def get_state(self) -> dict[str, Any]:
        return _state(_CLASSIFIER_FORMAT, self.model, self.feature_names)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RiverClassifier:
        """Rebuild from `get_state()`; unpickling runs river's code: load trusted stores only."""
        model, names = _unpickle(_CLASSIFIER_FORMAT, state)
        return cls(model, names)

    def __repr__(self) -> str:
        return f"RiverClassifier({type(self.model).__name__}, {list(self.feature_names)!r})"


def _takes_weight(model: Any) -> bool:
    final = model
    steps = getattr(model, "steps", None)
    if steps:
        final = list(steps.values())[-1]
    try:
        return "w" in inspect.signature(final.learn_one).parameters
    except (TypeError, ValueError):
        return False
