"""The decision policy: rule hits + model score -> one decision, a risk score in [0, 1], and a
cheap per-row explanation (rule hits, shadow hits, tags, notifications, feature values).

How a row is decided, in order:

1. A row whose id is on a deny list is blocked (score 1); otherwise a row on an allow list is
   allowed (score 0). Deny wins over allow. Rules are still evaluated and recorded.
2. Otherwise the strongest action among the active allow/review/challenge/block rules that hit
   wins (block > challenge > review > allow), together with the model's decision: the highest
   threshold (``review_threshold`` ...) the model score reaches. An active ``allow`` rule that
   hits suppresses the model's decision (and its share of the score), not other rules.
3. ``tag`` and ``notify`` rules add tags and notifications, never change the decision;
   ``shadow`` rules are recorded as shadow hits and never act.

The score is `combine_scores` of the strongest hit rule score (a rule's ``score``, or the
policy's default for its action) and the model score.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from riskstream.decisions import ALLOW, BLOCK, CHALLENGE, DECISION_DTYPE, REVIEW
from riskstream.errors import ConfigError
from riskstream.features.catalog import FeatureType
from riskstream.rules.ruleset import RuleResult, RuleSet

__all__ = ["Decided", "DecisionPolicy", "combine_scores"]


def combine_scores(rule_score: np.ndarray, model_score: np.ndarray) -> np.ndarray:
    """The decision score: a noisy-OR of the rule and model risks, ``1 - (1-r)(1-m)``.

    Either risk alone raises the score; both together raise it more; a missing model score
    (NaN) counts as 0. The result is in [0, 1] when both inputs are.

    Examples
    --------
    >>> combine_scores(np.array([0.0, 0.5, 0.9]), np.array([0.2, 0.5, np.nan]))
    array([0.2 , 0.75, 0.9 ])
    """
    m = np.nan_to_num(np.clip(model_score, 0.0, 1.0), nan=0.0)
    r = np.clip(rule_score, 0.0, 1.0)
    return 1.0 - (1.0 - r) * (1.0 - m)


@dataclass(frozen=True)
class DecisionPolicy:
    """Thresholds on the model score and default scores of rule actions.

    Parameters
    ----------
    review_threshold, challenge_threshold, block_threshold
        The model score from which the model alone asks for that decision (None: never).
    allow_score, review_score, challenge_score, block_score
        The score of a hit rule of that action when the rule has no ``score`` of its own.

    Examples
    --------
    >>> policy = DecisionPolicy.from_config({"review_threshold": 0.6, "block_threshold": None})
    >>> policy.review_threshold, policy.block_threshold
    (0.6, None)
    >>> DecisionPolicy.from_config({"review": 0.6})
    Traceback (most recent call last):
    ...
    riskstream.errors.ConfigError: decision policy: unknown key 'review'
    """

    review_threshold: float | None = 0.8
    challenge_threshold: float | None = 0.9
    block_threshold: float | None = 0.98
    allow_score: float = 0.0
    review_score: float = 0.5
    challenge_score: float = 0.75
    block_score: float = 0.95

    def __post_init__(self) -> None:
        previous = -math.inf
        for name in ("review_threshold", "challenge_threshold", "block_threshold"):
            value = getattr(self, name)
            if value is None:
                continue
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"decision policy: {name} must be in [0, 1], got {value}")
            if value < previous:
                raise ConfigError("decision policy: thresholds must not decrease with strength")
            previous = value
        for name in ("allow_score", "review_score", "challenge_score", "block_score"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"decision policy: {name} must be in [0, 1]")

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> DecisionPolicy:
        """Build from a config mapping whose keys are the constructor's argument names."""
        config = dict(config or {})
        known = {f.name for f in fields(cls)}
        for key in config:
            if key not in known:
                raise ConfigError(f"decision policy: unknown key {key!r}")
        for key, value in config.items():
            if value is not None and (
                not isinstance(value, int | float) or isinstance(value, bool)
            ):
                raise ConfigError(f"decision policy: {key} must be a number, got {value!r}")
        return cls(**{k: (float(v) if v is not None else None) for k, v in config.items()})

    def to_config(self) -> dict[str, Any]:
        return asdict(self)

    def default_score(self, action: str) -> float:
        return float(getattr(self, f"{action}_score", 0.0))

    def model_decision(self, model_score: np.ndarray) -> np.ndarray:
        """The decision the model score alone asks for (NaN: allow)."""
        out = np.full(model_score.shape, ALLOW, dtype=DECISION_DTYPE)
        for code, threshold in (
            (REVIEW, self.review_threshold),
            (CHALLENGE, self.challenge_threshold),
            (BLOCK, self.block_threshold),
        ):
            if threshold is not None:
                out[model_score >= threshold] = code
        return out

    def decide(
        self,
        ruleset: RuleSet,
        result: RuleResult,
        frame: Mapping[str, np.ndarray],
        model_score: np.ndarray | None = None,
    ) -> Decided:
        """Decide a batch (vectorised); see the module docstring for the order of precedence.

        `frame` is kept by reference for explanations: do not modify it afterwards.
        """
        n = result.n
        hits = result.hits
        m = (
            np.zeros(n, dtype=np.float64)
            if model_score is None
            else np.asarray(model_score, dtype=np.float64)
        )
        rule_decision = np.full(n, ALLOW, dtype=DECISION_DTYPE)
        rule_score = np.zeros(n, dtype=np.float64)
        allow_hit = np.zeros(n, dtype=np.bool_)
        for i, rule in enumerate(ruleset.rules):
            code = rule.decision
            if code is None or not rule.active:
                continue
            row = hits[i]
            if not row.any():
                continue
            score = rule.score if rule.score is not None else self.default_score(rule.action)
            np.maximum(rule_score, np.where(row, score, 0.0), out=rule_score)
            np.maximum(rule_decision, np.where(row, code, ALLOW), out=rule_decision)
            if code == ALLOW:
                allow_hit |= row
        model_decision = self.model_decision(m)
        model_decision[allow_hit] = ALLOW
        m_effective = np.where(allow_hit, 0.0, m)
        decisions = np.maximum(rule_decision, model_decision).astype(DECISION_DTYPE)
        score = combine_scores(rule_score, m_effective)
        if ruleset.access_lists:
            kinds = np.array([a.kind == "deny" for a in ruleset.access_lists] + [False])
            listed = result.access >= 0
            deny = listed & kinds[result.access]
            allow = listed & ~deny
            decisions[deny], score[deny] = BLOCK, 1.0
            decisions[allow], score[allow] = ALLOW, 0.0
        any_hit = hits.any(axis=0) | (result.access >= 0) if n else np.zeros(0, np.bool_)
        return Decided(
            decisions=decisions,
            score=score,
            rule_score=rule_score,
            model_score=m,
            hit_rows=np.flatnonzero(any_hit),
            ruleset=ruleset,
            result=result,
            frame=frame,
        )


def _py(value: Any, t: FeatureType) -> Any:
    if t is FeatureType.NUMBER:
        f = float(value)
        return None if math.isnan(f) else f
    if t is FeatureType.BOOL:
        return bool(value)
    if t is FeatureType.TIME:
        return int(value)
    return value


class Decided:
    """A decided batch: arrays for every row, explanations for rows with hits.

    Parameters
    ----------
    decisions
        int8 (n,), codes of `riskstream.decisions`.
    score
        float64 (n,), the decision's risk in [0, 1].
    rule_score
        float64 (n,), the strongest active hit rule's score (0 when none).
    model_score
        float64 (n,), as given.
    hit_rows
        int64 indices of the rows with any hit (active, shadow, allow/deny list): only these
        have a non-empty explanation, so a sink builds dicts for them alone.
    """

    def __init__(
        self,
        decisions: np.ndarray,
        score: np.ndarray,
        rule_score: np.ndarray,
        model_score: np.ndarray,
        hit_rows: np.ndarray,
        ruleset: RuleSet,
        result: RuleResult,
        frame: Mapping[str, np.ndarray],
    ) -> None:
        self.decisions = decisions
        self.score = score
        self.rule_score = rule_score
        self.model_score = model_score
        self.hit_rows = hit_rows
        self.ruleset = ruleset
        self.ruleset_hash = ruleset.hash
        self._result = result
        self._frame = frame
        self._has_hit = np.zeros(result.n, dtype=np.bool_)
        self._has_hit[hit_rows] = True

    def __len__(self) -> int:
        return len(self.decisions)

    def _hit_rules(self, row: int) -> list[int]:
        if not self._has_hit[row]:
            return []
        return np.flatnonzero(self._result.hits[:, row]).tolist()

    def list_hit(self, row: int) -> str | None:
        """The allow/deny list that decided the row (``deny_list.cards``), or None."""
        index = int(self._result.access[row]) if self._result.n else -1
        return self.ruleset.access_lists[index].label if index >= 0 else None

    def rule_hits(self, row: int) -> list[str]:
        """Ids of the active rules that hit (any action), preceded by a deciding list's label."""
        rules = self.ruleset.rules
        out = [rules[i].id for i in self._hit_rules(row) if rules[i].active]
        label = self.list_hit(row) if self._has_hit[row] else None
        return [label, *out] if label else out

    def shadow_hits(self, row: int) -> list[str]:
        rules = self.ruleset.rules
        return [rules[i].id for i in self._hit_rules(row) if not rules[i].active]

    def tags(self, row: int) -> list[str]:
        """Sorted tags added by the active ``tag`` and ``notify`` rules that hit."""
        found: set[str] = set()
        for i in self._hit_rules(row):
            rule = self.ruleset.rules[i]
            if rule.active and rule.action in ("tag", "notify"):
                found.update(rule.tags)
        return sorted(found)

    def notifications(self, row: int) -> list[dict[str, Any]]:
        """One ``{"rule", "tags", "description"}`` per active ``notify`` rule that hit."""
        out = []
        for i in self._hit_rules(row):
            rule = self.ruleset.rules[i]
            if rule.active and rule.action == "notify":
                out.append(
                    {"rule": rule.id, "tags": list(rule.tags), "description": rule.description}
                )
        return out

    def features(self, row: int) -> dict[str, Any]:
        """The values the hit rules (active and shadow) read, JSON-ready (missing -> None)."""
        out: dict[str, Any] = {}
        for i in self._hit_rules(row):
            for name in self.ruleset.rules[i].features:
                if name not in out:
                    out[name] = self._value(name, row)
        label = self.list_hit(row) if self._has_hit[row] else None
        if label:
            field = self.ruleset.access_lists[int(self._result.access[row])].field
            out.setdefault(field, self._value(field, row))
        return out

    def _value(self, name: str, row: int) -> Any:
        column = self._frame[name]
        value = column[row]
        if isinstance(column, np.ndarray):
            if column.dtype == np.float64:
                return _py(value, FeatureType.NUMBER)
            if column.dtype == np.bool_:
                return bool(value)
            if column.dtype.kind in "iu":
                return int(value)
        return value.item() if isinstance(value, np.generic) else value

    def explain(self, row: int) -> dict[str, Any]:
        """Everything a decision record needs about the row's rules."""
        return {
            "rule_hits": self.rule_hits(row),
            "shadow_hits": self.shadow_hits(row),
            "tags": self.tags(row),
            "notifications": self.notifications(row),
            "features": self.features(row),
        }

    def explanations(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(row, explanation) for the rows with hits only, in row order."""
        for row in self.hit_rows.tolist():
            yield row, self.explain(row)
