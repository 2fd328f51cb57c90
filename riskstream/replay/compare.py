"""Rule-set comparison: two rule sets decided over the same history in one pass of the features.

The Engine scores with the new rule set as usual; `TeePolicy` stands in for its decision policy
and, on the very frame and model scores the Engine hands to the policy, also evaluates the old
rule set and decides it with the same policy. Features and model run once per batch; both rule
sets see exactly the same inputs. `Comparison` then counts what changed: decisions by
old -> new, fraud caught and missed by each (with labels), customers newly challenged, and
examples of changed decisions.

(The hook this leans on is that `Engine` decides through ``engine.policy.decide``; an
``Engine.score(batch, rulesets=...)`` would make it explicit.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from riskstream.decisions import CHALLENGE, DECISION_NAMES, REVIEW
from riskstream.engine import DecisionBatch
from riskstream.rules import Decided, DecisionPolicy, RuleSet
from riskstream.rules.ruleset import RuleResult

__all__ = ["Comparison", "TeePolicy"]


class TeePolicy:
    """A decision policy that also decides ``other`` (the old rule set) on the same frame.

    The old decisions of each `decide` call are kept in ``pending``, in call order (one per
    `Engine.score` call), until the driver takes them.
    """

    def __init__(self, policy: DecisionPolicy, other: RuleSet) -> None:
        self.policy = policy
        self.other = other
        self.pending: list[Decided] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.policy, name)

    def decide(
        self,
        ruleset: RuleSet,
        result: RuleResult,
        frame: Mapping[str, np.ndarray],
        model_score: np.ndarray | None = None,
    ) -> Decided:
        other = self.other.evaluate(frame, result.n)
        self.pending.append(self.policy.decide(self.other, other, frame, model_score))
        return self.policy.decide(ruleset, result, frame, model_score)

    def take(self) -> list[Decided]:
        out, self.pending = self.pending, []
        return out


class Comparison:
    """Accumulates old and new decisions of the same transactions.

    Parameters
    ----------
    old, new
        The two rule sets (for names and hashes).
    examples
        How many changed decisions to keep per (old, new) pair.
    """

    def __init__(self, old: RuleSet, new: RuleSet, examples: int = 5) -> None:
        self.old = old
        self.new = new
        self.examples = examples
        k = len(DECISION_NAMES)
        self.transitions = np.zeros((k, k), dtype=np.int64)
        self._tx: list[np.ndarray] = []
        self._customer: list[np.ndarray] = []
        self._amount: list[np.ndarray] = []
        self._old: list[np.ndarray] = []
        self._new: list[np.ndarray] = []
        self._samples: dict[tuple[int, int], list[dict[str, Any]]] = {}

    def add(self, db: DecisionBatch, old: Decided, offset: int = 0) -> None:
        """Compare ``db`` with rows ``offset`` .. of ``old`` (the same transactions)."""
        new_codes = db.decision.astype(np.int64)
        old_codes = old.decisions[offset : offset + len(db)].astype(np.int64)
        k = len(DECISION_NAMES)
        self.transitions += np.bincount(old_codes * k + new_codes, minlength=k * k).reshape(k, k)
        batch = db.batch
        self._tx.append(batch.tx_id)
        self._customer.append(batch.customer_id)
        self._amount.append(batch.amount)
        self._old.append(old_codes.astype(np.int8))
        self._new.append(new_codes.astype(np.int8))
        for i in np.flatnonzero(old_codes != new_codes).tolist():
            key = (int(old_codes[i]), int(new_codes[i]))
            kept = self._samples.setdefault(key, [])
            if len(kept) < self.examples:
                why = db.explanations.get(i, {})
                kept.append(
                    {
                        "tx_id": batch.tx_id[i],
                        "customer_id": batch.customer_id[i],
                        "amount": float(batch.amount[i]),
                        "currency": batch.currency[i],
                        "old": DECISION_NAMES[key[0]],
                        "new": DECISION_NAMES[key[1]],
                        "old_rule_hits": old.rule_hits(offset + i),
                        "new_rule_hits": list(why.get("rule_hits", [])),
                        "old_score": round(float(old.score[offset + i]), 6),
                        "new_score": round(float(db.score[i]), 6),
                    }
                )

    def result(self, fraud: Mapping[str, bool] | None = None) -> dict[str, Any]:
        """The comparison as JSON-ready data; ``fraud`` (tx_id -> is_fraud) adds catch rates."""
        names = DECISION_NAMES
        tx = np.concatenate(self._tx) if self._tx else np.empty(0, object)
        customers = np.concatenate(self._customer) if self._customer else np.empty(0, object)
        amount = np.concatenate(self._amount) if self._amount else np.empty(0)
        old = np.concatenate(self._old) if self._old else np.empty(0, np.int8)
        new = np.concatenate(self._new) if self._new else np.empty(0, np.int8)
        changed = old != new
        by_pair = {
            f"{names[a]} -> {names[b]}": int(self.transitions[a, b])
            for a in range(len(names))
            for b in range(len(names))
            if a != b and self.transitions[a, b]
        }
        old_challenged = set(customers[old == CHALLENGE].tolist())
        new_challenged = set(customers[new == CHALLENGE].tolist())
        newly = sorted(new_challenged - old_challenged)
        out: dict[str, Any] = {
            "old_ruleset": {"source": self.old.source, "hash": self.old.hash},
            "new_ruleset": {"source": self.new.source, "hash": self.new.hash},
            "transactions": len(tx),
            "changed": int(changed.sum()),
            "changed_by_transition": by_pair,
            "transitions": {
                names[a]: {names[b]: int(self.transitions[a, b]) for b in range(len(names))}
                for a in range(len(names))
            },
            "decisions_old": {n: int((old == c).sum()) for c, n in enumerate(names)},
            "decisions_new": {n: int((new == c).sum()) for c, n in enumerate(names)},
            "customers_newly_challenged": len(newly),
            "customers_no_longer_challenged": len(old_challenged - new_challenged),
            "newly_challenged_examples": newly[: self.examples],
            "examples": [s for key in sorted(self._samples) for s in self._samples[key]],
        }
        if fraud is not None:
            is_fraud = np.fromiter((fraud.get(t, False) for t in tx.tolist()), bool, len(tx))
            out["fraud"] = {
                "fraud_transactions": int(is_fraud.sum()),
                "old": _caught(old, is_fraud, amount),
                "new": _caught(new, is_fraud, amount),
                "caught_by_new_only": int((is_fraud & (new >= REVIEW) & (old < REVIEW)).sum()),
                "caught_by_old_only": int((is_fraud & (old >= REVIEW) & (new < REVIEW)).sum()),
                "genuine_newly_alerted": int((~is_fraud & (new >= REVIEW) & (old < REVIEW)).sum()),
            }
        return out


def _caught(codes: np.ndarray, is_fraud: np.ndarray, amount: np.ndarray) -> dict[str, Any]:
    """Fraud caught (decided review or stronger) and missed (allowed) under one rule set."""
    alerted = codes >= REVIEW
    return {
        "caught": int((alerted & is_fraud).sum()),
        "missed": int((~alerted & is_fraud).sum()),
        "caught_amount": round(float(amount[alerted & is_fraud].sum()), 2),
        "missed_amount": round(float(amount[~alerted & is_fraud].sum()), 2),
        "alerts": int(alerted.sum()),
        "false_alerts": int((alerted & ~is_fraud).sum()),
        "by_decision": {
            DECISION_NAMES[c]: int(((codes == c) & is_fraud).sum())
            for c in range(len(DECISION_NAMES))
        },
    }
