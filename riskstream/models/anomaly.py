"""The anomaly half of the model stage: an unsupervised model scored frozen, learnt live, ranked.

Owns `AnomalyScorer`: the limits warm-up of Half-Space Trees, the frozen copy that scores and
the live model that learns (swapped at event-time boundaries), and the running quantile that
turns the raw score into a rank among recent transactions. `FrozenAnomaly` is its scoring half
as loaded from a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from riskstream.errors import ModelError
from riskstream.models.hst import HalfSpaceTrees
from riskstream.models.quantile import RunningQuantile
from riskstream.models.river_adapter import RiverAnomaly, make_river_model

__all__ = ["AnomalyScorer", "FrozenAnomaly"]

_STATE_FORMAT = "riskstream.models.anomaly.AnomalyScorer"
_STATE_VERSION = 1
#: Quantiles of the warm-up rows that become a feature's limits when none are configured.
_LIMIT_QUANTILES = (0.005, 0.995)


class AnomalyScorer:
    """An anomaly model that scores with a frozen copy and learns into a live one, plus ranks.

    `score(X)` gives the raw score of each row from the frozen copy (NaN while there is none)
    and its rank among recent scores (`RunningQuantile`, frozen too). `learn(X, raw)` teaches
    the live model the rows and counts their raw scores for the ranks. `rotate(elapsed_ms)`,
    called by the stage at an event-time boundary, makes the live model the new frozen copy and
    ages and freezes the rank histogram. Nothing a score depends on changes between rotations.

    Half-Space Trees need each feature's range (`limits`). Features without configured limits
    get them from the first `warmup_rows` rows learnt: the 0.5 % and 99.5 % quantiles of each
    (of the transformed values; a constant feature gets `(v, v + 1)`). Until then there is no
    model, and the warm-up rows are learnt as soon as it is built, so the result depends only on
    the rows and their order. The ranks only count scores of a frozen model that had learnt at
    least `ready_after` rows (Half-Space Trees score 0 during their first window).

    Parameters
    ----------
    feature_names
        Names of the columns of `X` (the encoder's output names).
    kind
        ``"hst"`` (riskstream's Half-Space Trees) or ``"river"``.
    params
        Half-Space Trees parameters (`n_trees`, `height`, `window_size`, `seed`), or for
        ``"river"`` the model's config (see `make_river_model`).
    limits
        Configured limits by feature name (Half-Space Trees only).
    warmup_rows
        Rows from which missing limits are learnt.
    calibrator
        The `RunningQuantile` of raw scores.
    ready_after
        Rows a model must have learnt before its scores are ranked (default: the window size).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scorer = AnomalyScorer(["amount", "hour"], "hst",
    ...                        {"n_trees": 10, "height": 6, "window_size": 200, "seed": 1},
    ...                        warmup_rows=300, calibrator=RunningQuantile(min_count=100))
    >>> for day in range(4):
    ...     X = np.column_stack([rng.lognormal(3, 0.5, 500), rng.normal(14, 3, 500)])
    ...     raw, rank = scorer.score(X)
    ...     scorer.learn(X, raw)
    ...     scorer.rotate(86_400_000)
    >>> raw, rank = scorer.score(np.array([[20.0, 14.0], [900.0, 3.0]]))
    >>> raw.round(3).tolist(), rank.round(3).tolist()
    ([0.823, 0.988], [0.34, 0.992])
    """

    def __init__(
        self,
        feature_names: list[str] | tuple[str, ...],
        kind: str = "hst",
        params: Mapping[str, Any] | Any = None,
        limits: Mapping[str, tuple[float, float]] | None = None,
        warmup_rows: int = 5000,
        calibrator: RunningQuantile | None = None,
        ready_after: int | None = None,
    ) -> None:
        self.feature_names = tuple(feature_names)
        self.kind = kind
        self.params = params if params is not None else {}
        self.limits = {k: (float(lo), float(hi)) for k, (lo, hi) in (limits or {}).items()}
        self.warmup_rows = int(warmup_rows)
        self.calibrator = calibrator if calibrator is not None else RunningQuantile()
        if kind not in ("hst", "river"):
            raise ModelError(f"anomaly model kind must be 'hst' or 'river', got {kind!r}")
        if kind == "hst":
            window = int(dict(self.params).get("window_size", 250))
            self.ready_after = int(ready_after) if ready_after is not None else window
        else:
            self.ready_after = int(ready_after) if ready_after is not None else 1000
        self._live: HalfSpaceTrees | RiverAnomaly | None = None
        self._frozen: HalfSpaceTrees | RiverAnomaly | None = None
        self._learnt = 0  # rows the live model has learnt
        self._frozen_ready = False
        self._warmup: list[np.ndarray] = []
        self._warmup_count = 0
        if kind == "river" or set(self.feature_names) <= set(self.limits):
            self._live = self._build(self.limits)

    # ------------------------------------------------------------------ building

    def _build(self, limits: Mapping[str, tuple[float, float]]) -> HalfSpaceTrees | RiverAnomaly:
        if self.kind == "river":
            return RiverAnomaly(make_river_model(self.params), self.feature_names)
        params = dict(self.params)
        try:
            return HalfSpaceTrees(
                n_trees=int(params.pop("n_trees", 25)),
                height=int(params.pop("height", 8)),
                window_size=int(params.pop("window_size", 1000)),
                seed=params.pop("seed", 42),
                limits=dict(limits),
                feature_names=self.feature_names,
                **params,
            )
        except TypeError as exc:
            raise ModelError(f"anomaly model parameters: {exc}") from None

    def _learnt_limits(self, X: np.ndarray) -> dict[str, tuple[float, float]]:
        limits = dict(self.limits)
        for j, name in enumerate(self.feature_names):
            if name in limits:
                continue
            column = X[:, j]
            column = column[~np.isnan(column)]
            if column.size == 0:
                limits[name] = (0.0, 1.0)
                continue
            lo, hi = np.quantile(column, _LIMIT_QUANTILES)
            lo, hi = float(lo), float(hi)
            limits[name] = (lo, hi) if hi > lo else (lo, lo + 1.0)
        return limits

    # ------------------------------------------------------------------ scoring, learning

    def score(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw score and rank of each row, from the frozen copy (NaN, NaN before one)."""
        if self._frozen is None:
            nan = np.full(len(X), np.nan)
            return nan, nan.copy()
        raw = self._frozen.score_many(X)
        rank = self.calibrator.rank(raw) if self._frozen_ready else np.full(len(X), np.nan)
        return raw, rank

    def learn(self, X: np.ndarray, raw: np.ndarray) -> None:
        """Teach the live model `X` and count `raw` (the frozen copy's scores) for the ranks."""
        if len(X) == 0:
            return
        if self._frozen_ready:
            self.calibrator.update(raw)
        if self._live is None:
            self._warmup.append(np.array(X, dtype=np.float64))
            self._warmup_count += len(X)
            if self._warmup_count < self.warmup_rows:
                return
            X = np.concatenate(self._warmup)
            self._warmup = []
            self._live = self._build(self._learnt_limits(X[: self.warmup_rows]))
        self._live.learn_many(X)
        self._learnt += len(X)

    def rotate(self, elapsed_ms: float) -> None:
        """Event-time boundary: the live model becomes the frozen one; ranks age and freeze."""
        if self._live is not None:
            self._frozen = _copy(self._live)
            self._frozen_ready = self._learnt >= self.ready_after
        self.calibrator.decay(elapsed_ms)
        self.calibrator.freeze()

    # ------------------------------------------------------------------ state

    def scoring_state(self) -> dict[str, Any]:
        """The frozen copy and the ranks, as plain state (this is the anomaly snapshot)."""
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "kind": self.kind,
            "feature_names": list(self.feature_names),
            "model": None if self._frozen is None else self._frozen.get_state(),
            "ready": bool(self._frozen_ready),
            "learnt": int(self._learnt),
            "calibrator": self.calibrator.get_state(),
        }

    def load_scoring_state(self, state: Mapping[str, Any]) -> None:
        """Continue from a snapshot: frozen and live models are its model, ranks its ranks."""
        frozen = FrozenAnomaly(state)
        if frozen.feature_names != self.feature_names or frozen.kind != self.kind:
            raise ModelError(
                f"anomaly snapshot is a {frozen.kind} model over {list(frozen.feature_names)}; "
                f"the config asks for a {self.kind} model over {list(self.feature_names)}"
            )
        self._frozen = frozen.model
        self._live = None if frozen.model is None else _copy(frozen.model)
        self._frozen_ready = frozen.ready
        self._learnt = int(state.get("learnt", 0))
        self._warmup, self._warmup_count = [], 0
        self.calibrator = frozen.calibrator


def _copy(model: HalfSpaceTrees | RiverAnomaly) -> HalfSpaceTrees | RiverAnomaly:
    return type(model).from_state(model.get_state())


class FrozenAnomaly:
    """The scoring half of an anomaly snapshot."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != _STATE_FORMAT or state.get("version") != _STATE_VERSION:
            raise ModelError(
                f"not a {_STATE_FORMAT} state of version {_STATE_VERSION}: "
                f"{state.get('format')!r} version {state.get('version')!r}"
            )
        try:
            self.kind = str(state["kind"])
            self.feature_names = tuple(str(n) for n in state["feature_names"])
            raw = state["model"]
            self.ready = bool(state["ready"])
            self.calibrator = RunningQuantile.from_state(state["calibrator"])
        except (KeyError, TypeError) as exc:
            raise ModelError(f"invalid {_STATE_FORMAT} state: {exc}") from exc
        if raw is None:
            self.model = None
        elif self.kind == "hst":
            self.model = HalfSpaceTrees.from_state(raw)
        elif self.kind == "river":
            self.model = RiverAnomaly.from_state(raw)
        else:
            raise ModelError(f"invalid {_STATE_FORMAT} state: unknown kind {self.kind!r}")

    def score(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.model is None:
            nan = np.full(len(X), np.nan)
            return nan, nan.copy()
        raw = self.model.score_many(X)
        rank = self.calibrator.rank(raw) if self.ready else np.full(len(X), np.nan)
        return raw, rank
