"""The feedback learner: a fraud probability learnt from labels that arrive days or weeks late.

Owns `FeedbackLearner`: it remembers the feature rows of recent transactions (a `RowStore`),
attaches labels as the Engine releases them (never before their ``label_time``), and at
event-time boundaries turns what is known *at that time* into a model: by refitting gradient-
boosted trees on the stored rows (the default), or by feeding the new rows to an incremental
river classifier. Between two boundaries the model does not change, so it is a frozen snapshot.

Why a periodically refitted tree ensemble (measured in ``bench/bench_detection.py``):

* Labels arrive in bursts and late (SMS replies in minutes, chargebacks in 1-60 days,
  mule investigations in weeks), and a label often lands on a row that was taken as genuine
  at an earlier refit. Refitting over the stored rows applies every correction at once; an
  online learner that has already stepped on a row as genuine cannot take it back.
* Fraud here is interactions of features (a new device *and* a new payee *and* a large
  amount; tiny amounts *in* a burst): trees find them, a linear model needs them spelt out.
  River's online forests (ARF) learn them too but cost tens of microseconds per row in Python
  and forget old, rare positives; logistic regression underfits (see the bench's baselines).
* The refit is cheap next to a bank's stream: about a second of numba on one core (1.1 s in
  ``bench/bench_detection.py``) for the labelled rows and 20,000 implicit negatives of 90
  features, once per ``refit_every`` (12 h) of event time. Each of the 300 oblivious trees of
  depth 7 is grown on half the features and, as in LightGBM's GOSS, on the 10 % of rows with
  the largest gradients (the positives and the negatives that look like them) plus a tenth of
  the others: as good as all the rows here (average precision within the run-to-run spread of
  the bench), for a fraction of the cost.
* The refit stays off the scoring path: the rows and labels known at the refit time `B` are
  copied, the trees grow on a background thread (the numba kernels release the GIL), and the
  new model is deployed at the first `update` at or after `B + refit_delay` (1 h) of event
  time, waiting for the thread only if it has not finished by then. What is learnt and when
  it is deployed depend on event time only, so a replay deploys the same models at the same
  rows however fast it runs. ``refit_delay`` 0 refits inline, inside the micro-batch that
  crosses the boundary.

Measured on the simulator (``bench/bench_detection.py``, three simulated banks): the refitted
trees match or beat scikit-learn's random forest, histogram gradient boosting and logistic
regression trained offline on the same features and labels; tried and not kept, because they
did no better there: 24 h refits, 50,000 negatives, 150 trees at twice the learning rate,
depth 6 or 8, a recency weight on the rows (half-life 14 days), more weight for the
customer-confirmed negatives, an ensemble of seeds, and without the anomaly rank as input.

Class imbalance (about 0.5 % fraud) is handled explicitly: every positive weighs
``positive_weight`` (or ``"balanced"``: positives and negatives weigh the same in total), the
implicit negatives are evenly subsampled to at most ``max_negatives`` and re-weighted to stand
for every unlabelled row, and the log of the positive weight is taken off the model's
log-odds, so `predict` returns a probability on the real fraud rate again (Elkan's
correction).

Negatives: a transaction nobody disputed for ``negative_after`` (30 days) of event time counts
as genuine ("implicit negative"), as banks do; customer-confirmed genuine rows count at once.
Younger unlabelled rows are left out, because some of them are frauds whose chargeback or
investigation is still to come: of the simulator's frauds, 72 % are labelled more than 3 days
after the payment, 3-8 % more than 21 days, 1-3 % more than 30 days; on the bench, waiting 30
days gave a better average precision than 21, 21 better than 14 and 3 (and 45 days, leaving
too few negatives within the 60-day row store, much worse). While the learner has seen less
than twice ``negative_after`` of event time (cold start), the older half of what it has seen
counts instead (`negative_age`), so that it learns from the first weeks too. A fraud label
arriving later turns the row into a positive at the next refit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskstream.errors import ModelError
from riskstream.models.gbdt import GradientBoostedTrees
from riskstream.models.river_adapter import RiverClassifier
from riskstream.models.rowstore import RowStore

__all__ = ["FeedbackLearner"]

_STATE_FORMAT = "riskstream.models.feedback.FeedbackLearner"
_STATE_VERSION = 1
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


class FeedbackLearner:
    """A supervised fraud probability, learnt at event-time boundaries from late labels.

    Rows come in through `observe` (tx id, event time, feature row) and labels through
    `apply_labels`; neither changes the model. `update(now)` does: at a refit time (every
    `refit_every_ms`, aligned on multiples of it), it refits `model` on the rows known at `now`:
    positives and customer-confirmed negatives whose `label_time <= now`, and the unlabelled
    rows at least `negative_after_ms` old. An incremental river classifier instead learns, at
    every `update`, the rows that became eligible since the last one (and a row learnt as
    genuine once more, as fraud, if its fraud label came later). `predict` uses the model of the
    last `update`; it returns NaN until a model has been learnt (at least `min_positives`
    positives), which is the cold start: the anomaly model and the rules carry the decision.

    Parameters
    ----------
    n_features
        Columns of a row.
    model
        A `GradientBoostedTrees` (refitted; its parameters are reused for every refit) or a
        `RiverClassifier` (incremental). Default: `GradientBoostedTrees()`.
    refit_every_ms
        Event time between refits (refitted models only).
    negative_after_ms
        Age from which an unlabelled transaction counts as genuine.
    ttl_ms, max_rows
        Bounds of the row store (a label for a row older than `ttl_ms`, or pushed out by
        `max_rows` newer rows, is counted in `labels_missed` and lost).
    max_negatives
        Most negatives per refit (evenly spaced over the eligible ones, re-weighted).
    positive_weight
        Weight of a positive (a number, or ``"balanced"``).
    min_positives
        Least positives before a first model is learnt.
    refit_delay_ms
        Event time between a refit's data cut (its boundary) and the deployment of its model;
        the trees grow on a background thread meanwhile. 0: refit inline, deployed at once.
        At most `refit_every_ms`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> learner = FeedbackLearner(2, GradientBoostedTrees(n_trees=50, max_depth=2),
    ...                           refit_every_ms=1000, negative_after_ms=500, min_positives=5)
    >>> X = rng.normal(size=(3000, 2))
    >>> fraud = X[:, 0] > 2.0
    >>> ts = np.arange(3000)
    >>> learner.observe(np.array([f"t{i}" for i in range(3000)], dtype=object), ts, X)
    >>> tx = np.array([f"t{i}" for i in np.flatnonzero(fraud)], dtype=object)
    >>> learner.apply_labels(tx, np.ones(len(tx), bool), ts[fraud] + 100)
    >>> learner.predict(X[:2])  # nothing learnt yet: cold start
    array([nan, nan])
    >>> learner.update(now=4000)
    True
    >>> learner.predict(np.array([[0.0, 0.0], [3.0, 0.0]])).round(3).tolist()
    [0.0, 0.919]

    References
    ----------
    [^1]: Dal Pozzolo, A., Boracchi, G., Caelen, O., Alippi, C. and Bontempi, G., 2018. Credit
        card fraud detection: a realistic modeling and a novel learning strategy. IEEE TNNLS,
        29(8), 3784-3797 (delayed feedback, alert-feedback interaction).
    [^2]: Elkan, C., 2001. The foundations of cost-sensitive learning. IJCAI (re-weighting
        and the correction of the predicted probability).
    [^3]: Le Borgne, Y.-A. et al., 2022. Reproducible machine learning for credit card fraud
        detection - practical handbook. Université Libre de Bruxelles.
        https://fraud-detection-handbook.github.io/fraud-detection-handbook/

    """

    def __init__(
        self,
        n_features: int,
        model: GradientBoostedTrees | RiverClassifier | None = None,
        *,
        refit_every_ms: int = 12 * _HOUR_MS,
        negative_after_ms: int = 30 * _DAY_MS,
        ttl_ms: int = 60 * _DAY_MS,
        max_rows: int = 1_000_000,
        max_negatives: int = 20_000,
        positive_weight: float | str = 10.0,
        min_positives: int = 20,
        refit_delay_ms: int = 0,
    ) -> None:
        self.n_features = int(n_features)
        self.model = model if model is not None else GradientBoostedTrees()
        self.refit_every_ms = int(refit_every_ms)
        self.negative_after_ms = int(negative_after_ms)
        self.ttl_ms = int(ttl_ms)
        self.max_rows = int(max_rows)
        self.max_negatives = int(max_negatives)
        self.positive_weight = positive_weight
        self.min_positives = int(min_positives)
        self.refit_delay_ms = int(refit_delay_ms)
        if self.refit_every_ms <= 0 or self.negative_after_ms < 0 or self.max_negatives < 1:
            raise ModelError("need refit_every_ms > 0, negative_after_ms >= 0, max_negatives >= 1")
        if not 0 <= self.refit_delay_ms <= self.refit_every_ms:
            raise ModelError(
                f"refit_delay_ms must be in [0, refit_every_ms = {self.refit_every_ms}], "
                f"got {self.refit_delay_ms}"
            )
        if positive_weight != "balanced" and not (
            isinstance(positive_weight, int | float) and positive_weight > 0
        ):
            raise ModelError(f"positive_weight must be > 0 or 'balanced', got {positive_weight!r}")
        self.incremental = isinstance(self.model, RiverClassifier)
        self.store = RowStore(self.n_features, self.max_rows, self.ttl_ms)
        self._current: GradientBoostedTrees | RiverClassifier | None = None
        self._shift = 0.0  # log of the positive weight, taken off the log-odds
        self._n_positives = 0
        self._next_refit: int | None = None
        self._first_seen: int | None = None  # event time of the first row observed
        self._pending: _PendingFit | None = None  # a refit growing, not deployed yet
        self.refits = 0

    # ------------------------------------------------------------------ data in

    def observe(self, tx_id: np.ndarray, ts: np.ndarray, X: np.ndarray) -> None:
        """Remember the feature rows of transactions (in arrival order)."""
        ts = np.asarray(ts, dtype=np.int64)
        if len(ts):
            first = int(ts.min())
            self._first_seen = first if self._first_seen is None else min(self._first_seen, first)
        self.store.add(np.asarray(tx_id, dtype=object), ts, np.asarray(X))

    def apply_labels(self, tx_id: np.ndarray, is_fraud: np.ndarray, label_time: np.ndarray) -> None:
        """Attach released labels to their rows (learnt from at the next `update`)."""
        self.store.label(np.asarray(tx_id, dtype=object), is_fraud, label_time)

    # ------------------------------------------------------------------ learning

    def negative_age(self, now: int) -> int:
        """Age from which an unlabelled row counts as genuine at `now`.

        `negative_after_ms`, or half the event time seen so far while that is shorter (cold
        start: the older half of the history stands in for the transactions old enough).
        """
        if self._first_seen is None:
            return self.negative_after_ms
        return min(self.negative_after_ms, max(now - self._first_seen, 0) // 2)

    def update(self, now: int) -> bool:
        """Learn what is known at event time `now`; True if the model changed.

        A refitted model changes when a refit started at least `refit_delay_ms` earlier is
        deployed (with no delay: the refit started now).
        """
        self.store.evict(now)
        if self.incremental:
            return self._learn_new(now)
        changed = self._deploy_due(now)
        if self._next_refit is None:
            self._next_refit = (now // self.refit_every_ms) * self.refit_every_ms
        if now < self._next_refit:
            return changed
        self._next_refit = (now // self.refit_every_ms + 1) * self.refit_every_ms
        if self._start_refit(now) and self.refit_delay_ms == 0:
            changed = self._deploy_due(now) or changed
        return changed

    @property
    def refit_pending(self) -> bool:
        """Whether a refit has started and its model is not deployed yet."""
        return self._pending is not None

    def _deploy_due(self, now: int) -> bool:
        pending = self._pending
        if pending is None or now < pending.deploy_at:
            return False
        self._pending = None
        self._current = pending.model.result()
        self._shift = pending.shift
        self._n_positives = pending.n_positives
        self.refits += 1
        return True

    def _start_refit(self, now: int) -> bool:
        """Cut the training data known at `now` and grow a model from it (False: too few
        positives). The thread gets copies, so the store may change while it runs."""
        data = self._training_data(now)
        if data is None:
            return False
        X, y, w, w_pos = data
        grow = functools.partial(GradientBoostedTrees(**self.model.get_params()).fit, X, y, w)
        model = _refit_executor().submit(grow) if self.refit_delay_ms > 0 else _done(grow())
        self._pending = _PendingFit(now + self.refit_delay_ms, math.log(w_pos), int(y.sum()), model)
        return True

    def _training_data(self, now: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
        store = self.store
        rows = store.training_rows(now, self.negative_age(now))
        positives = rows.positives
        if len(positives) < self.min_positives:
            return None
        negatives = rows.implicit_negatives
        keep = max(self.max_negatives - len(rows.labelled_negatives), 1)
        if len(negatives) > keep:
            pick = np.linspace(0, len(negatives) - 1, keep).round().astype(np.int64)
            negatives = negatives[np.unique(pick)]
        # The implicit negatives stand for every row without a label yet, young ones included
        # (those are left out only because a late fraud label may still come for them).
        neg_weight = rows.n_unlabelled / max(len(negatives), 1)
        order = np.concatenate([positives, rows.labelled_negatives, negatives])
        y = np.zeros(len(order), dtype=np.uint8)
        y[: len(positives)] = 1
        w = np.ones(len(order))
        w[len(positives) + len(rows.labelled_negatives) :] = neg_weight
        w_pos = self._positive_weight(len(positives), float(w[len(positives) :].sum()))
        w[: len(positives)] = w_pos
        return store.rows(order), y, w, w_pos

    def _positive_weight(self, n_pos: int, negative_weight: float) -> float:
        if self.positive_weight == "balanced":
            return max(negative_weight / max(n_pos, 1), 1.0)
        return float(self.positive_weight)

    def _learn_new(self, now: int) -> bool:
        store = self.store
        rows = store.training_rows(now, self.negative_age(now))
        if self._current is None and len(rows.positives) < self.min_positives:
            return False
        pos = rows.positives[store.learnt(rows.positives) != 2]
        neg = np.concatenate([rows.labelled_negatives, rows.implicit_negatives])
        neg = np.sort(neg[store.learnt(neg) == 0])
        if len(pos) == 0 and len(neg) == 0:
            return False
        order = np.concatenate([pos, neg])
        y = np.zeros(len(order), dtype=bool)
        y[: len(pos)] = True
        sequence = np.argsort(order, kind="stable")  # learn in arrival order
        order, y = order[sequence], y[sequence]
        model = self.model
        if not isinstance(model, RiverClassifier):  # pragma: no cover - set in __init__
            raise ModelError("incremental learning needs a RiverClassifier")
        w_pos = self._positive_weight(len(pos), float(len(neg))) if model.weighted else 1.0
        w = np.where(y, w_pos, 1.0)
        model.learn_many(store.rows(order).astype(np.float64), y, w)
        store.mark_learnt(order, np.where(y, 2, 1).astype(np.int8))
        self._current = model
        self._shift = math.log(w_pos)
        self._n_positives += len(pos)
        return True

    # ------------------------------------------------------------------ scoring

    @property
    def n_positives(self) -> int:
        """Positives the current model learnt from (0 before the first model)."""
        return self._n_positives

    @property
    def fitted(self) -> bool:
        return self._current is not None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Fraud probability per row from the model of the last `update` (NaN before one)."""
        return _predict(self._current, self._shift, X)

    def scoring_state(self) -> dict[str, Any]:
        """What `predict` needs, as plain state (for snapshots); the row store is not in it."""
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "model": None if self._current is None else self._current.get_state(),
            "model_kind": "river" if self.incremental else "gbdt",
            "shift": float(self._shift),
            "n_positives": int(self._n_positives),
        }

    def load_scoring_state(self, state: Mapping[str, Any]) -> None:
        """Continue from a `scoring_state()`: the model is restored, the row store starts empty."""
        kind, model, shift, n_pos = _read_state(state)
        if model is not None and kind != ("river" if self.incremental else "gbdt"):
            raise ModelError(f"a {kind} feedback snapshot cannot load into this learner")
        self._current = model
        if self.incremental and model is not None:
            self.model = model
        self._shift = shift
        self._n_positives = n_pos


@dataclass
class _PendingFit:
    """A refit between its data cut and its deployment: `model` grows on the refit thread.

    Pickled, it waits for the model and keeps it (a thread cannot be pickled), so a stage
    pickled while a refit grows continues exactly as the original.
    """

    deploy_at: int
    shift: float
    n_positives: int
    model: Future[GradientBoostedTrees]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "model": self.model.result()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, model=_done(state["model"]))


@functools.cache
def _refit_executor() -> ThreadPoolExecutor:
    """One thread for every learner's refits (numba releases the GIL while they grow).

    The fitted trees depend on their data only, so sharing the thread changes no model,
    only when it is ready."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskstream-refit")


def _done(model: GradientBoostedTrees) -> Future[GradientBoostedTrees]:
    future: Future[GradientBoostedTrees] = Future()
    future.set_result(model)
    return future


def _predict(model: Any, shift: float, X: np.ndarray) -> np.ndarray:
    if model is None:
        return np.full(len(X), np.nan)
    if isinstance(model, GradientBoostedTrees):
        return 1.0 / (1.0 + np.exp(-(model.decision_function(X) - shift)))
    with np.errstate(over="ignore"):  # as stored: float32, +-inf beyond its range
        X = np.asarray(X, dtype=np.float32).astype(np.float64)
    p = np.clip(model.predict_proba(X), 0, 1)
    if shift == 0.0:
        return p
    with np.errstate(divide="ignore"):
        logit = np.log(p) - np.log1p(-p)
    return 1.0 / (1.0 + np.exp(-(logit - shift)))


def _read_state(state: Mapping[str, Any]) -> tuple[str, Any, float, int]:
    if state.get("format") != _STATE_FORMAT or state.get("version") != _STATE_VERSION:
        raise ModelError(
            f"not a {_STATE_FORMAT} state of version {_STATE_VERSION}: "
            f"{state.get('format')!r} version {state.get('version')!r}"
        )
    try:
        kind = state["model_kind"]
        raw = state["model"]
        shift = float(state["shift"])
        n_pos = int(state["n_positives"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"invalid {_STATE_FORMAT} state: {exc}") from exc
    if raw is None:
        return kind, None, shift, n_pos
    if kind == "gbdt":
        return kind, GradientBoostedTrees.from_state(raw), shift, n_pos
    if kind == "river":
        return kind, RiverClassifier.from_state(raw), shift, n_pos
    raise ModelError(f"invalid {_STATE_FORMAT} state: unknown model kind {kind!r}")


class FrozenFeedback:
    """The scoring half of a `FeedbackLearner` snapshot: `predict` only."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        _, self._model, self._shift, self.n_positives = _read_state(state)

    @property
    def fitted(self) -> bool:
        return self._model is not None

    def predict(self, X: np.ndarray) -> np.ndarray:
        return _predict(self._model, self._shift, X)
