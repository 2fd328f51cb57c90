"""The default model stage: anomaly model + feedback learner, frozen snapshots, one risk score.

Owns `OnlineModelStage` (what the Engine calls per micro-batch), `combine_risk` (anomaly rank
and fraud probability -> risk), the snapshot rotation at event-time boundaries, and
`load_snapshot`/`FrozenModel` (score again with exactly the snapshot a decision names).

How a batch goes through, in event time:

* Snapshot boundaries are the multiples of ``snapshots.every`` (epoch-aligned). Every row is
  scored with the frozen snapshot of its period; the live models learn behind it. At the first
  row whose watermark (running max of event times) reaches a boundary, the stage rotates:
  the feedback learner learns what is known at the boundary (labels with ``label_time`` at or
  before it), the live anomaly model becomes the frozen one, the rank histogram ages and
  freezes, and both halves are written as content-hashed snapshots. A batch that spans a
  boundary is split inside `score` (its first part is learnt before the rotation), so scores
  never depend on where micro-batches were cut. `next_boundary()` tells a driver where to cut
  so that every batch has one snapshot id; a batch split inside names both, comma-separated.
* ``snapshot_id`` is ``"<anomaly kind>:<id>+fb:<id>"``, each id the hash of that snapshot's
  bytes (`riskstream.models.snapshots`).

The risk (see `combine_risk`) is calibrated in two ways that both keep a threshold's meaning
from day to day: the anomaly part is a function of the score's rank among recent scores (so
the share of transactions above a threshold is fixed by construction: with the default tail
0.005, about 0.18 % of transactions reach 0.7 on the anomaly alone, 0.08 % reach 0.85), and
the learner part is a fraud probability corrected for the class weights. The learner's share
grows with the positives it has learnt from: none before the first label (cold start: the
anomaly model and the rules decide), one half at ``trust`` positives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskstream.errors import ModelError
from riskstream.features.stage import DueLabels, LabelBatch
from riskstream.models.anomaly import AnomalyScorer, FrozenAnomaly
from riskstream.models.encoding import FrameEncoder
from riskstream.models.feedback import FeedbackLearner, FrozenFeedback
from riskstream.models.snapshots import (
    SnapshotStore,
    encode_snapshot,
    read_snapshot,
    snapshot_id,
)
from riskstream.models.stage import ModelScores

__all__ = ["FrozenModel", "OnlineModelStage", "combine_risk", "load_snapshot"]

log = logging.getLogger(__name__)

_ANOMALY_KIND = "riskstream.anomaly"
_FEEDBACK_KIND = "riskstream.feedback"
_INT64_MIN = np.iinfo(np.int64).min


def combine_risk(
    rank: np.ndarray,
    fraud_probability: np.ndarray,
    n_positives: int,
    tail: float = 0.005,
    trust: float = 50.0,
) -> np.ndarray:
    """Risk in [0, 1] from the anomaly rank and the fraud probability.

    The anomaly part is ``exp(-(1 - rank) / tail)``: a transaction ranked above all but a
    share ``u`` of recent ones gets ``exp(-u / tail)`` (0 with no rank). The fraud probability
    takes a share ``n / (n + trust)`` of the risk, where ``n`` is the number of positives its
    model learnt from (none when it is NaN)::

        risk = (1 - s) * exp(-(1 - rank) / tail) + s * fraud_probability

    Examples
    --------
    >>> rank = np.array([0.5, 0.999, 0.9999, np.nan])
    >>> combine_risk(rank, np.full(4, np.nan), n_positives=0).round(3).tolist()
    [0.0, 0.819, 0.98, 0.0]
    >>> combine_risk(rank, np.array([0.01, 0.02, 0.9, 0.6]), n_positives=450).round(3).tolist()
    [0.009, 0.1, 0.908, 0.54]
    """
    rank = np.asarray(rank, dtype=np.float64)
    anomaly = np.exp((rank - 1.0) / tail)
    anomaly[np.isnan(anomaly)] = 0.0
    p = np.array(fraud_probability, dtype=np.float64)
    unknown = np.isnan(p)
    weight = n_positives / (n_positives + trust) if n_positives + trust > 0 else 1.0
    share = np.where(unknown, 0.0, weight)
    p[unknown] = 0.0
    risk = (1.0 - share) * anomaly + share * p
    return np.clip(risk, 0.0, 1.0, out=risk)


@dataclass
class _Pending:
    """Rows of the last scored frame that are still to be learnt, with their encodings."""

    frame: Mapping[str, np.ndarray]
    start: int
    Xa: np.ndarray
    raw: np.ndarray
    Xf: np.ndarray | None


class OnlineModelStage:
    """The model stage: Half-Space Trees (or a river model) + feedback learner, snapshotted.

    Parameters
    ----------
    anomaly_encoder
        Columns of the anomaly model.
    anomaly
        The `AnomalyScorer` (over `anomaly_encoder.names`).
    learner_encoder
        Columns of the feedback learner (None: no learner).
    learner
        The `FeedbackLearner` (over the learner encoder's names, plus the anomaly rank when
        `learner_uses_anomaly`).
    snapshot_every_ms
        Event time between snapshot rotations.
    store
        Where snapshots are written (None: ids are computed, nothing is kept).
    tail, trust
        See `combine_risk`.
    learner_uses_anomaly
        Give the learner the anomaly rank as one more feature.

    Examples
    --------
    See ``tests/models/test_online.py`` and `build_model_stage`; the stage is built from config.
    """

    def __init__(
        self,
        anomaly_encoder: FrameEncoder,
        anomaly: AnomalyScorer,
        learner_encoder: FrameEncoder | None = None,
        learner: FeedbackLearner | None = None,
        *,
        snapshot_every_ms: int = 3_600_000,
        store: SnapshotStore | None = None,
        tail: float = 0.005,
        trust: float = 50.0,
        learner_uses_anomaly: bool = True,
    ) -> None:
        if (learner is None) != (learner_encoder is None):
            raise ModelError("a feedback learner needs its encoder, and the other way round")
        if snapshot_every_ms <= 0:
            raise ModelError("snapshot_every_ms must be > 0")
        if not 0 < tail <= 1 or trust < 0:
            raise ModelError("need 0 < tail <= 1 and trust >= 0")
        self.anomaly_encoder = anomaly_encoder
        self.anomaly = anomaly
        self.learner_encoder = learner_encoder
        self.learner = learner
        self.snapshot_every_ms = int(snapshot_every_ms)
        self.store = store
        self.tail = float(tail)
        self.trust = float(trust)
        self.learner_uses_anomaly = bool(learner_uses_anomaly)
        self._watermark = _INT64_MIN
        self._last_boundary: int | None = None
        self._next_boundary: int | None = None
        self._pending: _Pending | None = None
        self._labels: DueLabels | None = None  # due while the current frame is scored
        self._labels_applied = 0
        self._warned_tx_id = False
        self.rotations = 0
        self._anomaly_id = self._save(_ANOMALY_KIND, self._anomaly_state())
        self._feedback_id = self._save(_FEEDBACK_KIND, self._feedback_state()) if learner else ""
        self._current_id = self._compose_id()
        self.snapshot_id = self._current_id

    # ------------------------------------------------------------------ snapshots

    def _anomaly_state(self) -> dict[str, Any]:
        return {
            "encoder": self.anomaly_encoder.get_state(),
            "tail": self.tail,
            "anomaly": self.anomaly.scoring_state(),
        }

    def _feedback_state(self) -> dict[str, Any]:
        assert self.learner is not None and self.learner_encoder is not None
        return {
            "encoder": self.learner_encoder.get_state(),
            "uses_anomaly": self.learner_uses_anomaly,
            "trust": self.trust,
            "learner": self.learner.scoring_state(),
        }

    def _save(self, kind: str, state: Mapping[str, Any]) -> str:
        data = encode_snapshot(kind, state)
        sid = snapshot_id(data)
        if self.store is not None:
            self.store.put(sid, data)
        return sid

    def _compose_id(self) -> str:
        composed = f"{self.anomaly.kind}:{self._anomaly_id}"
        return f"{composed}+fb:{self._feedback_id}" if self.learner is not None else composed

    def next_boundary(self, watermark: int | None = None) -> int | None:
        """Event time (epoch ms) of the next snapshot rotation.

        Rotations happen at multiples of ``snapshot_every_ms``, at the first row whose
        watermark reaches one. Given the watermark the next batch starts at, the answer is the
        rotation time after that batch's first row (which may itself rotate, or be the first
        row ever); without it, the pending rotation time (None before the first row). A driver
        that cuts its micro-batches just before the first row whose watermark reaches this
        time gets batches that each use one snapshot (one id).
        """
        pending = self._next_boundary
        if watermark is None:
            return pending
        if pending is not None and watermark < pending:
            return pending
        return (int(watermark) // self.snapshot_every_ms + 1) * self.snapshot_every_ms

    def _rotate(self, watermark: int) -> None:
        every = self.snapshot_every_ms
        boundary = (watermark // every) * every
        assert self._last_boundary is not None
        elapsed = boundary - self._last_boundary
        self._last_boundary = boundary
        self._next_boundary = boundary + every
        learner_changed = self.learner.update(boundary) if self.learner is not None else False
        self.anomaly.rotate(elapsed)
        self._anomaly_id = self._save(_ANOMALY_KIND, self._anomaly_state())
        if learner_changed:
            self._feedback_id = self._save(_FEEDBACK_KIND, self._feedback_state())
        self._current_id = self._compose_id()
        self.rotations += 1

    # ------------------------------------------------------------------ the Engine's calls

    def score(
        self, frame: Mapping[str, np.ndarray], labels: DueLabels | None = None
    ) -> ModelScores:
        """Score a frame with the frozen snapshot(s) of its rows' periods.

        ``labels`` (due while the frame's rows are scored) reach the learner in time for every
        rotation inside the frame (those due at the rotating row, before it refits) and the
        rest once the frame is learnt; `ModelScores.snapshots` names the snapshot of each run
        of rows.
        """
        self._flush_labels()
        self._labels = labels
        scores, pending = self._run(frame, learn_all=False)
        self._pending = pending
        if pending is None:
            self._flush_labels()
        return scores

    def learn(self, frame: Mapping[str, np.ndarray]) -> None:
        """Learn the frame's rows into the live models (the next snapshot)."""
        pending, self._pending = self._pending, None
        if pending is not None and pending.frame is frame:
            self._learn_rows(frame, pending.start, len(pending.raw) + pending.start, pending)
        else:
            self._run(frame, learn_all=True)
        self._flush_labels()

    def _labels_until(self, due: int) -> None:
        """Hand the learner the frame's labels up to the ``due``-th (label-time order)."""
        if self._labels is None:
            return
        if due > self._labels_applied:
            self.apply_labels(_label_slice(self._labels.labels, self._labels_applied, due))
            self._labels_applied = due

    def _flush_labels(self) -> None:
        if self._labels is not None:
            self._labels_until(len(self._labels))
        self._labels, self._labels_applied = None, 0

    def apply_labels(self, labels: LabelBatch) -> None:
        """Released labels (``label_time`` <= watermark) go to the learner's row store."""
        if self.learner is not None and len(labels):
            self.learner.apply_labels(labels.tx_id, labels.is_fraud, labels.label_time)

    # ------------------------------------------------------------------ internals

    def _run(
        self, frame: Mapping[str, np.ndarray], learn_all: bool
    ) -> tuple[ModelScores, _Pending | None]:
        ts = _timestamps(frame)
        n = len(ts)
        anomaly = np.full(n, np.nan)
        fraud = np.full(n, np.nan)
        risk = np.zeros(n)
        if n == 0:
            return ModelScores(anomaly, fraud, risk), None
        watermarks = np.maximum.accumulate(np.maximum(ts, self._watermark))
        if self._next_boundary is None:
            every = self.snapshot_every_ms
            self._last_boundary = int(watermarks[0]) // every * every
            self._next_boundary = self._last_boundary + every
        Xa_all = self.anomaly_encoder.encode(frame)
        Xl_all = self.learner_encoder.encode(frame) if self.learner_encoder else None
        runs: list[tuple[int, str]] = []
        start = 0
        while True:
            stop = int(np.searchsorted(watermarks, self._next_boundary, side="left"))
            stop = max(stop, start)
            if stop > start:
                part = _Pending(frame, start, Xa_all[start:stop], np.empty(0), None)
                raw, rank = self.anomaly.score(part.Xa)
                part.raw = raw
                anomaly[start:stop] = raw
                if self.learner is not None and Xl_all is not None:
                    Xf = Xl_all[start:stop]
                    if self.learner_uses_anomaly:
                        Xf = np.column_stack([Xf, rank])
                    part.Xf = Xf
                    p = self.learner.predict(Xf)
                    fraud[start:stop] = p
                    n_pos = self.learner.n_positives
                else:
                    p, n_pos = np.full(stop - start, np.nan), 0
                risk[start:stop] = combine_risk(rank, p, n_pos, self.tail, self.trust)
                runs.append((start, self._current_id))
                if stop == n and not learn_all:
                    return self._scored(anomaly, fraud, risk, runs, watermarks), part
                self._learn_rows(frame, start, stop, part)
            if stop == n:
                break
            if self._labels is not None:  # the labels due at the rotating row, before it
                self._labels_until(int(self._labels.due[stop]))
            self._rotate(int(watermarks[stop]))
            start = stop
        return self._scored(anomaly, fraud, risk, runs, watermarks), None

    def _scored(
        self,
        anomaly: np.ndarray,
        fraud: np.ndarray,
        risk: np.ndarray,
        runs: list[tuple[int, str]],
        watermarks: np.ndarray,
    ) -> ModelScores:
        self._watermark = int(watermarks[-1])
        self.snapshot_id = ",".join(dict.fromkeys(sid for _, sid in runs))
        return ModelScores(anomaly, fraud, risk, tuple(runs))

    def _learn_rows(
        self, frame: Mapping[str, np.ndarray], start: int, stop: int, part: _Pending
    ) -> None:
        self.anomaly.learn(part.Xa, part.raw)
        if self.learner is None or part.Xf is None:
            return
        tx_id = frame.get("tx_id")
        if tx_id is None:
            if not self._warned_tx_id:
                log.warning(
                    "model: the feature frame has no tx_id column; the feedback learner "
                    "cannot match labels to rows and stays untrained"
                )
                self._warned_tx_id = True
            return
        ts = _timestamps(frame)
        self.learner.observe(tx_id[start:stop], ts[start:stop], part.Xf)

    # ------------------------------------------------------------------ resuming

    def resume(self, store: SnapshotStore, composed_id: str) -> None:
        """Continue from the snapshots of `composed_id` (as a decision names them).

        The models continue exactly; the learner's row store starts empty, so labels of
        transactions scored before the resume are counted as missed.
        """
        anomaly_state, feedback_state = _read_parts(store, composed_id)
        self.anomaly.load_scoring_state(anomaly_state["anomaly"])
        if self.learner is not None:
            if feedback_state is None:
                raise ModelError(f"snapshot {composed_id!r} has no feedback learner part")
            self.learner.load_scoring_state(feedback_state["learner"])
        self._anomaly_id = self._save(_ANOMALY_KIND, self._anomaly_state())
        if self.learner is not None:
            self._feedback_id = self._save(_FEEDBACK_KIND, self._feedback_state())
        self._current_id = self.snapshot_id = self._compose_id()


def _label_slice(labels: LabelBatch, start: int, stop: int) -> LabelBatch:
    part = slice(start, stop)
    return LabelBatch(labels.tx_id[part], labels.is_fraud[part], labels.label_time[part])


def _timestamps(frame: Mapping[str, np.ndarray]) -> np.ndarray:
    try:
        return np.asarray(frame["timestamp"], dtype=np.int64)
    except KeyError:
        raise ModelError("the feature frame has no timestamp column") from None


# ---------------------------------------------------------------------- replay


def _read_parts(
    store: SnapshotStore, composed_id: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    if "," in composed_id:
        raise ModelError(
            f"{composed_id!r} names several snapshots (a batch spanned a rotation); "
            "load them one at a time"
        )
    anomaly_state: dict[str, Any] | None = None
    feedback_state: dict[str, Any] | None = None
    for part in composed_id.split("+"):
        role, _, sid = part.partition(":")
        if not sid:
            raise ModelError(f"not a model snapshot id: {composed_id!r}")
        snap = read_snapshot(store, sid)
        if role == "fb":
            if snap.kind != _FEEDBACK_KIND:
                raise ModelError(f"snapshot {sid} is a {snap.kind!r}, not a feedback learner")
            feedback_state = snap.state
        else:
            if snap.kind != _ANOMALY_KIND:
                raise ModelError(f"snapshot {sid} is a {snap.kind!r}, not an anomaly model")
            anomaly_state = snap.state
    if anomaly_state is None:
        raise ModelError(f"{composed_id!r} names no anomaly snapshot")
    return anomaly_state, feedback_state


class FrozenModel:
    """A model loaded from snapshots: scores frames exactly as the stage did with them."""

    def __init__(
        self, anomaly_state: Mapping[str, Any], feedback_state: Mapping[str, Any] | None
    ) -> None:
        try:
            self.anomaly_encoder = FrameEncoder.from_state(anomaly_state["encoder"])
            self.tail = float(anomaly_state["tail"])
            self.anomaly = FrozenAnomaly(anomaly_state["anomaly"])
            self.learner_encoder = None
            self.learner = None
            if feedback_state is not None:
                self.learner_encoder = FrameEncoder.from_state(feedback_state["encoder"])
                self.uses_anomaly = bool(feedback_state["uses_anomaly"])
                self.trust = float(feedback_state["trust"])
                self.learner = FrozenFeedback(feedback_state["learner"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid model snapshot: {exc!r}") from exc

    def score(
        self, frame: Mapping[str, np.ndarray], labels: DueLabels | None = None
    ) -> ModelScores:
        """Scores with the loaded snapshot (``labels`` are ignored: it never learns)."""
        raw, rank = self.anomaly.score(self.anomaly_encoder.encode(frame))
        if self.learner is None or self.learner_encoder is None:
            p = np.full(len(raw), np.nan)
            risk = combine_risk(rank, p, 0, self.tail)
            return ModelScores(raw, p, risk)
        Xf = self.learner_encoder.encode(frame)
        if self.uses_anomaly:
            Xf = np.column_stack([Xf, rank])
        p = self.learner.predict(Xf)
        risk = combine_risk(rank, p, self.learner.n_positives, self.tail, self.trust)
        return ModelScores(raw, p, risk)


def load_snapshot(store: SnapshotStore, composed_id: str) -> FrozenModel:
    """The model a decision used, from its ``model_snapshot`` (``"hst:<id>+fb:<id>"``).

    Each part is read from `store`, checked against its id (the hash of its bytes), and
    decoded; a snapshot from an incompatible riskstream version raises `ModelError` saying
    which version wrote it and which this one reads.
    """
    anomaly_state, feedback_state = _read_parts(store, composed_id)
    return FrozenModel(anomaly_state, feedback_state)
