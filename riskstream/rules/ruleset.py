"""Compiled rule sets: rule metadata, the shared vectorised program, allow and deny lists,
the content hash, and `RuleSet.evaluate` (one batch of columns -> a `RuleResult`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from riskstream.decisions import DECISION_CODES
from riskstream.rules.diagnostics import RuleDiagnostic, RuleError
from riskstream.rules.planner import PlanNode, PreparedList, Program

__all__ = ["ACCESS_FIELDS", "ACTIONS", "AccessList", "Rule", "RuleResult", "RuleSet"]

ACTIONS: tuple[str, ...] = ("allow", "review", "challenge", "block", "tag", "notify")
#: allow/deny list keys of a rule file -> the transaction field they match.
ACCESS_FIELDS: dict[str, str] = {
    "customers": "customer_id",
    "cards": "card_id",
    "devices": "device_id",
    "merchants": "merchant_id",
    "payees": "payee_id",
    "ips": "ip",
}
HASH_FORMAT = "riskstream-rules/1"


@dataclass(frozen=True)
class Rule:
    """One rule's metadata (what reports, sinks and explanations need).

    Parameters
    ----------
    id
        Unique id.
    action
        allow | review | challenge | block | tag | notify.
    score
        Risk in [0, 1] this rule stands for, or None for the policy's default for the action.
    mode
        ``active`` or ``shadow`` (evaluated and recorded, never acting).
    tags
        Tags, added to a decision by ``tag`` and ``notify`` rules.
    description
        For humans.
    features
        Catalog names the condition reads (the values recorded when it hits).
    when
        The condition as written.
    canonical
        The condition in canonical form (covered by the rule-set hash).
    line
        Line of the rule in its file.
    """

    id: str
    action: str
    score: float | None
    mode: str
    tags: tuple[str, ...]
    description: str
    features: tuple[str, ...]
    when: str
    canonical: str
    line: int = 0

    @property
    def decision(self) -> int | None:
        """The decision code of an allow/review/challenge/block rule; None for tag/notify."""
        return DECISION_CODES.get(self.action)

    @property
    def active(self) -> bool:
        return self.mode == "active"


@dataclass(frozen=True)
class AccessList:
    """An allow or deny list on one transaction field (``kind``: ``allow`` | ``deny``)."""

    kind: str
    key: str  # customers | cards | devices | merchants | payees | ips
    field: str  # the transaction field, e.g. customer_id
    values: frozenset[str]

    @property
    def label(self) -> str:
        """How a decision names it: ``deny_list.cards``."""
        return f"{self.kind}_list.{self.key}"


@dataclass(frozen=True)
class RuleResult:
    """What a rule set found in one batch.

    Parameters
    ----------
    hits
        Bool array (n_rules, n): rule i's condition holds on row j (active and shadow rules).
    access
        Int16 array (n,): index into `RuleSet.access_lists` of the list that decides the row
        (a matching deny list wins over any allow list), or -1.
    n
        Batch size.
    """

    hits: np.ndarray
    access: np.ndarray
    n: int


class RuleSet:
    """A compiled rule set; build it with `compile_ruleset` or `load_ruleset`.

    The hash is the sha256 of a canonical JSON form: rule ids, canonical conditions, actions,
    scores, modes and sorted tags, the named lists' and allow/deny lists' sorted items, and
    the file format version. Whitespace, comments, descriptions, parenthesisation and the
    spelling of numbers do not change it; any change to what the rules decide does.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        program: Program,
        roots: Sequence[PlanNode],
        lists: Mapping[str, PreparedList],
        access_lists: Sequence[AccessList],
        source: str = "<string>",
        sources: Sequence[Path] = (),
        version: int = 1,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.lists: dict[str, PreparedList] = dict(lists)
        self.access_lists: tuple[AccessList, ...] = tuple(access_lists)
        self.source = source
        self.sources: tuple[Path, ...] = tuple(sources)
        self.version = version
        self._program = program
        self._roots = tuple(roots)
        self.ids: tuple[str, ...] = tuple(r.id for r in self.rules)
        self._index = {r.id: i for i, r in enumerate(self.rules)}
        names: list[str] = []
        for rule in self.rules:
            names.extend(f for f in rule.features if f not in names)
        for acc in self.access_lists:
            if acc.field not in names:
                names.append(acc.field)
        self.features: tuple[str, ...] = tuple(names)
        self.hash: str = hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        return f"RuleSet({self.source!r}, {len(self.rules)} rules, hash={self.hash[:12]})"

    def __len__(self) -> int:
        return len(self.rules)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError if there is none)."""
        return self.rules[self._index[rule_id]]

    def index(self, rule_id: str) -> int:
        return self._index[rule_id]

    @property
    def program_size(self) -> int:
        """Distinct planned nodes (after sharing subexpressions between rules)."""
        return len(self._program)

    def canonical(self) -> dict[str, Any]:
        """The canonical form the hash covers."""

        def items(values: Any) -> list[Any]:
            return sorted(set(values))

        return {
            "format": HASH_FORMAT,
            "version": self.version,
            "lists": {
                name: {
                    "type": lst.element.value if lst.element else None,
                    "items": items(lst.values),
                }
                for name, lst in sorted(self.lists.items())
            },
            "access": [
                {"kind": a.kind, "key": a.key, "items": items(a.values)}
                for a in sorted(self.access_lists, key=lambda a: (a.kind, a.key))
            ],
            "rules": [
                {
                    "id": r.id,
                    "when": r.canonical,
                    "action": r.action,
                    "score": r.score,
                    "mode": r.mode,
                    "tags": sorted(r.tags),
                }
                for r in self.rules
            ],
        }

    def canonical_json(self) -> str:
        return json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))

    def evaluate(self, frame: Mapping[str, np.ndarray], n: int) -> RuleResult:
        """Evaluate every rule (active and shadow) and the allow/deny lists over a batch.

        `frame` maps catalog names to columns of length `n` (see `riskstream.features.catalog`
        for the representation); only the names in `features` are read.
        """
        self._check_frame(frame, n)
        hits = self._program.run(self._roots, frame, n)
        access = np.full(n, -1, dtype=np.int16)
        if self.access_lists and n:
            decided = np.zeros(n, dtype=np.bool_)
            order = sorted(
                range(len(self.access_lists)), key=lambda i: self.access_lists[i].kind != "deny"
            )
            for i in order:
                acc = self.access_lists[i]
                column = np.asarray(frame[acc.field], dtype=object)
                found = np.fromiter(map(acc.values.__contains__, column), np.bool_, n)
                found &= ~decided
                access[found] = i
                decided |= found
        return RuleResult(hits, access, n)

    def _check_frame(self, frame: Mapping[str, np.ndarray], n: int) -> None:
        problems = []
        for name in self.features:
            column = frame.get(name)
            if column is None:
                problems.append(f"the frame has no column {name!r}")
            elif np.shape(column) != (n,):
                problems.append(f"column {name!r} has shape {np.shape(column)}, expected ({n},)")
        if problems:
            raise RuleError([RuleDiagnostic(self.source, 1, 1, p) for p in problems])
