"""The Engine: one scoring core that every driver (run, worker, replay) calls.

``Engine.score(batch)`` runs, on columns: de-duplication of tx ids -> release of the labels
whose ``label_time`` has passed in event time -> features -> model -> rules -> decision
policy. It never reads the wall clock for a decision (only for the latency figure), so the
same input, rule set and model snapshot give the same decisions, bit for bit, whatever the
micro-batch sizes were.

Labels do not cut batches: the feature stage and the model receive the labels that become
due during a batch with, for every row, how many of them are due by then; the feature kernels
fold each one in just before the first row that may see it, and the model hands them to its
learner before each snapshot rotation inside the batch (the only time the learner changes).
Every stage runs once per batch; a batch whose rows used two model snapshots comes back as
two `DecisionBatch` parts, one per snapshot id.

A deny list (``alerts.deny_list``: the cards blocked and customers held by NO replies to SMS
challenges) sets the frame's ``card.blocked`` and ``customer.held`` for rows at or after each
entry's ``blocked_at`` in event time; the shipped rules block on them. It is read when the
Engine is built and again at each `refresh_deny_list` (a service's timer).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskstream import __version__
from riskstream.alerts.denylist import DenyList
from riskstream.batch import DeadLetter, TxBatch
from riskstream.config import load_config
from riskstream.features.catalog import DENY_LIST_FEATURES, FeatureCatalog
from riskstream.features.stage import DueLabels, LabelBatch, build_feature_stage
from riskstream.models.stage import build_model_stage
from riskstream.rules import DecisionPolicy, RuleSet, RuleSetWatcher, load_ruleset

__all__ = ["DecisionBatch", "Engine", "LabelFeed", "ScoreResult"]


@dataclass
class DecisionBatch:
    """The decisions for one `TxBatch`, as columns, plus explanations for rows with hits.

    ``explanations`` maps a row to its explanation (``rule_hits``, ``shadow_hits``, ``tags``,
    ``notifications``, ``features``: the values the hit rules read); rows without any hit are
    absent, which keeps the common case free of per-row Python objects. ``replayed`` marks
    the rows whose transaction the customer's profile had already applied (processed again
    after a crash: nothing was counted twice; a worker re-emits their stored decision).
    """

    batch: TxBatch
    decision: np.ndarray
    score: np.ndarray
    model_score: np.ndarray
    fraud_probability: np.ndarray
    explanations: dict[int, dict[str, Any]]
    ruleset_hash: str
    model_snapshot: str
    engine_version: str = __version__
    latency_us: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    replayed: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))

    def __len__(self) -> int:
        return len(self.batch)

    def part(self, start: int, stop: int, model_snapshot: str) -> DecisionBatch:
        """Rows ``start`` .. ``stop`` - 1 (views), scored with ``model_snapshot``."""
        rows = slice(start, stop)
        return DecisionBatch(
            batch=self.batch.take(rows),
            decision=self.decision[rows],
            score=self.score[rows],
            model_score=self.model_score[rows],
            fraud_probability=self.fraud_probability[rows],
            explanations={
                row - start: why for row, why in self.explanations.items() if start <= row < stop
            },
            ruleset_hash=self.ruleset_hash,
            model_snapshot=model_snapshot,
            engine_version=self.engine_version,
            latency_us=self.latency_us[rows] if len(self.latency_us) else self.latency_us,
            replayed=self.replayed[rows] if len(self.replayed) else self.replayed,
        )


@dataclass
class ScoreResult:
    """What `Engine.score` returns: decisions, and the dead letters (duplicates) it found."""

    decisions: list[DecisionBatch]
    dead_letters: list[DeadLetter]


class LabelFeed:
    """Labels waiting for their ``label_time``; released in event-time order, never early.

    Examples
    --------
    >>> feed = LabelFeed(np.array(["a", "b"], dtype=object), np.array([True, False]),
    ...                  np.array([200, 100]))
    >>> feed.release(150).tx_id.tolist(), feed.release(150).tx_id.tolist()
    (['b'], [])
    >>> feed.pending
    1
    """

    def __init__(self, tx_id: np.ndarray, is_fraud: np.ndarray, label_time: np.ndarray) -> None:
        order = np.argsort(label_time, kind="stable")
        self._tx_id = np.asarray(tx_id, dtype=object)[order]
        self._is_fraud = np.asarray(is_fraud, dtype=bool)[order]
        self._time = np.asarray(label_time, dtype=np.int64)[order]
        self._next = 0

    @classmethod
    def empty(cls) -> LabelFeed:
        return cls(np.empty(0, dtype=object), np.empty(0, dtype=bool), np.empty(0, np.int64))

    @property
    def pending(self) -> int:
        return len(self._time) - self._next

    def count_due(self, watermarks: np.ndarray) -> np.ndarray:
        """For each watermark, how many labels in total are due (label_time <= watermark)."""
        return np.searchsorted(self._time, watermarks, side="right")

    def release(self, watermark: int) -> LabelBatch:
        """The labels due at ``watermark`` that were not released before."""
        end = int(np.searchsorted(self._time, watermark, side="right"))
        start, self._next = self._next, max(self._next, end)
        part = slice(start, self._next)
        return LabelBatch(self._tx_id[part], self._is_fraud[part], self._time[part])


class Engine:
    """The scoring core, built from one config.

    Parameters
    ----------
    config
        A config mapping (see `riskstream.config.load_config`); defaults when omitted.
    labels
        Labels to release by event time (``--labels``); none when omitted.
    """

    def __init__(
        self, config: Mapping[str, Any] | None = None, labels: LabelFeed | None = None
    ) -> None:
        self.config = dict(config) if config is not None else load_config()
        catalog_path = self.config["features"].get("catalog")
        self.catalog = (
            FeatureCatalog.load(catalog_path) if catalog_path else FeatureCatalog.default()
        )
        self.features = build_feature_stage(self.config, self.catalog)
        self.model = build_model_stage(self.config, self.catalog)
        rules_path = self.config["rules"].get("path")
        self._watcher = RuleSetWatcher(rules_path, self.catalog) if rules_path else None
        self.rules: RuleSet = (
            self._watcher.ruleset if self._watcher else load_ruleset(None, self.catalog)
        )
        self.policy = DecisionPolicy.from_config(self.config["policy"])
        self.labels = labels if labels is not None else LabelFeed.empty()
        self.deny_list: DenyList | None = None
        self.refresh_deny_list()
        self._seen_tx_ids: set[str] = set()
        self._watermark = np.iinfo(np.int64).min
        self._last_snapshot = ""

    @property
    def ruleset_hash(self) -> str:
        return self.rules.hash

    @property
    def model_snapshot(self) -> str:
        """The model snapshot of the latest decision (the stage's current one before any)."""
        return self._last_snapshot or self.model.snapshot_id

    def flush(self) -> None:
        """Wait until the profile store acknowledged every write (a write-behind store); raise
        `riskstream.errors.StoreError` if one failed. Drivers call it before they report a
        run done or commit input offsets."""
        self.features.flush()

    def refresh_deny_list(self) -> int:
        """(Re-)read the deny list named by ``alerts.deny_list``; its number of entries."""
        alerts = self.config.get("alerts") or {}
        spec = alerts.get("deny_list")
        if not spec:
            return 0
        prefix = (alerts.get("sms") or {}).get("redis_prefix", "rs:{sms}:")
        self.deny_list = DenyList.open(spec, redis_prefix=prefix)
        return len(self.deny_list)

    def _apply_deny_list(self, batch: TxBatch, frame: dict[str, np.ndarray]) -> None:
        deny = self.deny_list
        if deny is None or not len(deny):
            return
        card, customer = DENY_LIST_FEATURES
        if card in frame:
            frame[card] = deny.blocked_cards(batch.card_id, batch.timestamp)
        if customer in frame:
            frame[customer] = deny.held_customers(batch.customer_id, batch.timestamp)

    def poll_rules(self) -> bool:
        """Swap in the rule file's new content if it changed and compiles (between batches).

        A broken file is logged by the watcher and the running rule set stays in force.
        """
        fresh = self._watcher.poll() if self._watcher else None
        if fresh is None:
            return False
        self.rules = fresh
        return True

    def score(self, batch: TxBatch) -> ScoreResult:
        """Score a batch of valid transactions; duplicates of earlier tx ids become dead letters.

        One pass of every stage over the whole batch; the decisions come back as one
        `DecisionBatch` per model snapshot used (a rotation inside the batch splits it).
        """
        batch, dead = self._drop_duplicates(batch)
        if len(batch) == 0:
            return ScoreResult([], dead)
        watermarks = np.maximum.accumulate(np.maximum(batch.timestamp, self._watermark))
        self._watermark = int(watermarks[-1])
        labels = self._due_labels(watermarks)
        frame = self.features.compute(batch, labels=labels)
        self._apply_deny_list(batch, frame)
        scores = self.model.score(frame, labels=labels)
        self.model.learn(frame)
        result = self.rules.evaluate(frame, len(batch))
        decided = self.policy.decide(self.rules, result, frame, scores.risk)
        whole = DecisionBatch(
            batch=batch,
            decision=decided.decisions,
            score=decided.score,
            model_score=scores.anomaly,
            fraud_probability=scores.fraud_probability,
            explanations=dict(decided.explanations()),
            ruleset_hash=self.rules.hash,
            model_snapshot=self.model.snapshot_id,
            replayed=np.asarray(self.features.last_replayed, dtype=bool),
        )
        runs = scores.snapshots or ((0, self.model.snapshot_id),)
        self._last_snapshot = runs[-1][1]
        if len(runs) == 1:
            whole.model_snapshot = runs[0][1]
            return ScoreResult([whole], dead)
        bounds = [start for start, _ in runs] + [len(batch)]
        parts = [whole.part(bounds[k], bounds[k + 1], sid) for k, (_, sid) in enumerate(runs)]
        return ScoreResult(parts, dead)

    def _drop_duplicates(self, batch: TxBatch) -> tuple[TxBatch, list[DeadLetter]]:
        seen = self._seen_tx_ids
        ids = set(batch.tx_id.tolist())
        if len(ids) == len(batch) and seen.isdisjoint(ids):  # the common case, in C
            seen |= ids
            return batch, []
        duplicate = np.zeros(len(batch), dtype=bool)
        for i, tx_id in enumerate(batch.tx_id.tolist()):
            if tx_id in seen:
                duplicate[i] = True
            else:
                seen.add(tx_id)
        if not duplicate.any():
            return batch, []
        dead = [
            DeadLetter(
                int(batch.offset[i]), "duplicate", b"", f"tx_id {batch.tx_id[i]!r} seen before"
            )
            for i in np.flatnonzero(duplicate)
        ]
        return batch.take(~duplicate), dead

    def _due_labels(self, watermarks: np.ndarray) -> DueLabels | None:
        """The labels due by the end of a batch, and how many of them each row may see."""
        if self.labels.pending == 0:
            return None
        released = self.labels.release(int(watermarks[-1]))
        if len(released) == 0:
            return None
        due = np.searchsorted(released.label_time, watermarks, side="right")
        return DueLabels(released, due)


def monotonic_us() -> int:
    """The clock used for latency figures only."""
    return time.monotonic_ns() // 1000
