"""Rule unit tests ("cases"): given feature values, the expected hits and decision, so fraud
teams test rules like code (`riskstream rules test FILE --cases CASES.yaml`).

Cases file::

    cases:
      - name: a burst of tiny payments is blocked
        features: {amount: 1.5, customer.tx_count_1h: 6}   # others are missing
        model_score: 0.1                                   # optional, default 0
        expect:                                            # every key optional
          hits: [card_testing_burst]       # exactly these active rules hit
          not_hits: [ato_large_transfer]   # none of these hits (active or shadow)
          shadow_hits: []                  # exactly these shadow rules hit
          action: block                    # the decision (alias: decision)
          tags: []                         # exactly these tags

Features not given are missing (NaN, None; false for bools; 0 for times). A time is epoch
milliseconds or an ISO 8601 text with an offset. All cases run as one vectorised batch.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import yaml

from riskstream.decisions import DECISION_CODES, DECISION_NAMES
from riskstream.features.catalog import FeatureSpec, FeatureType
from riskstream.rules.diagnostics import RuleDiagnostic, RuleError, SourceText
from riskstream.rules.policy import DecisionPolicy
from riskstream.rules.ruleset import RuleSet

__all__ = ["CaseResult", "run_cases"]

_CASE_KEYS = ("name", "features", "model_score", "expect")
_EXPECT_KEYS = ("hits", "not_hits", "shadow_hits", "action", "decision", "tags")


@dataclass
class CaseResult:
    """The outcome of one case: `problems` is empty when it passed."""

    name: str
    line: int
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class _Case:
    name: str
    line: int
    features: dict[str, Any]
    model_score: float
    expect: dict[str, Any]


def run_cases(
    ruleset: RuleSet,
    text: str,
    catalog: Mapping[str, FeatureSpec],
    source: str = "<cases>",
    policy: DecisionPolicy | None = None,
) -> list[CaseResult]:
    """Run the cases of a cases file against a rule set; raise `RuleError` if the file is bad.

    Examples
    --------
    >>> from riskstream.features.catalog import FeatureCatalog
    >>> from riskstream.rules.loader import compile_ruleset
    >>> catalog = FeatureCatalog.default()
    >>> rs = compile_ruleset("version: 1\\nrules: [{id: big, when: amount > 10, action: block}]",
    ...                      catalog)
    >>> cases = "cases: [{name: big, features: {amount: 20}, expect: {hits: [big], action: block}}]"
    >>> [r.passed for r in run_cases(rs, cases, catalog)]
    [True]
    """
    src = SourceText(source, text)
    cases = _parse(src, catalog, ruleset)
    policy = policy or DecisionPolicy()
    n = len(cases)
    frame = _frame(cases, catalog, n)
    decided = policy.decide(
        ruleset,
        ruleset.evaluate(frame, n),
        frame,
        np.array([c.model_score for c in cases], dtype=np.float64),
    )
    results = []
    for row, case in enumerate(cases):
        result = CaseResult(case.name, case.line)
        exp = case.expect
        hits, shadow = decided.rule_hits(row), decided.shadow_hits(row)
        if "hits" in exp and sorted(hits) != sorted(exp["hits"]):
            result.problems.append(f"hits: expected {sorted(exp['hits'])}, got {sorted(hits)}")
        if "shadow_hits" in exp and sorted(shadow) != sorted(exp["shadow_hits"]):
            result.problems.append(
                f"shadow_hits: expected {sorted(exp['shadow_hits'])}, got {sorted(shadow)}"
            )
        for rule_id in exp.get("not_hits", []):
            if rule_id in hits or rule_id in shadow:
                result.problems.append(f"not_hits: {rule_id!r} hit")
        action = exp.get("action", exp.get("decision"))
        got = DECISION_NAMES[int(decided.decisions[row])]
        if action is not None and action != got:
            result.problems.append(f"action: expected {action}, got {got}")
        if "tags" in exp and sorted(exp["tags"]) != decided.tags(row):
            result.problems.append(f"tags: expected {sorted(exp['tags'])}, got {decided.tags(row)}")
        results.append(result)
    return results


def _frame(cases: list[_Case], catalog: Mapping[str, FeatureSpec], n: int) -> dict[str, Any]:
    frame: dict[str, Any] = {}
    for name, spec in catalog.items():
        values = [c.features.get(name) for c in cases]
        if spec.type is FeatureType.NUMBER:
            frame[name] = np.array([math.nan if v is None else v for v in values], np.float64)
        elif spec.type is FeatureType.BOOL:
            frame[name] = np.array([bool(v) for v in values], dtype=np.bool_)
        elif spec.type is FeatureType.TIME:
            frame[name] = np.array([0 if v is None else v for v in values], dtype=np.int64)
        else:
            column = np.empty(n, dtype=object)
            column[:] = values
            frame[name] = column
    return frame


def _parse(src: SourceText, catalog: Mapping[str, FeatureSpec], ruleset: RuleSet) -> list[_Case]:
    diags: list[RuleDiagnostic] = []

    def error(node: yaml.Node | None, message: str, hint: str | None = None) -> None:
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        diags.append(src.diagnostic_at(line, col, message, None, hint))

    try:
        loader = yaml.SafeLoader(src.text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise RuleError([src.diagnostic_at(line, col, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise RuleError([src.diagnostic_at(1, 1, f"invalid YAML: {exc}")]) from None

    def pairs(node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            error(node, f"{what} must be a mapping")
            return {}
        return {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}

    def names(node: yaml.Node, what: str) -> list[str]:
        if not isinstance(node, yaml.SequenceNode) or not all(
            isinstance(i, yaml.ScalarNode) for i in node.value
        ):
            error(node, f"{what} must be a list")
            return []
        return [i.value for i in node.value]

    def check_ids(node: yaml.Node, ids: list[str]) -> None:
        for rule_id, item in zip(ids, node.value, strict=False):
            if rule_id not in ruleset.ids:
                close = difflib.get_close_matches(rule_id, ruleset.ids, n=1)
                error(
                    item, f"no rule {rule_id!r}", f"did you mean {close[0]!r}?" if close else None
                )

    cases: list[_Case] = []
    try:
        top = pairs(root, "a cases file") if root is not None else {}
        if "cases" not in top or not isinstance(top["cases"][1], yaml.SequenceNode):
            error(root, "a cases file needs 'cases:' with a list of cases")
            raise RuleError(diags)
        for i, node in enumerate(top["cases"][1].value):
            entries = pairs(node, "a case")
            for key, (key_node, _) in entries.items():
                if key not in _CASE_KEYS:
                    error(
                        key_node, f"unknown key {key!r} in a case", "keys: " + ", ".join(_CASE_KEYS)
                    )
            name = entries["name"][1].value if "name" in entries else f"case {i + 1}"
            features: dict[str, Any] = {}
            if "features" in entries:
                for fname, (key_node, value_node) in pairs(
                    entries["features"][1], "features"
                ).items():
                    spec = catalog.get(fname)
                    if spec is None:
                        close = difflib.get_close_matches(fname, list(catalog), n=1)
                        error(key_node, f"unknown feature {fname!r}",
                              f"did you mean {close[0]!r}?" if close else None)  # fmt: skip
                        continue
                    value = _value(loader.construct_object(value_node, deep=True), spec.type)
                    if isinstance(value, _Bad):
                        error(value_node, f"{fname} is a {spec.type.value}: {value.reason}")
                    else:
                        features[fname] = value
            model_score = 0.0
            if "model_score" in entries:
                raw = loader.construct_object(entries["model_score"][1], deep=True)
                if not isinstance(raw, int | float) or isinstance(raw, bool):
                    error(entries["model_score"][1], "model_score must be a number")
                else:
                    model_score = float(raw)
            expect: dict[str, Any] = {}
            if "expect" in entries:
                for key, (key_node, value_node) in pairs(entries["expect"][1], "expect").items():
                    if key not in _EXPECT_KEYS:
                        error(key_node, f"unknown key {key!r} in expect",
                              "keys: " + ", ".join(_EXPECT_KEYS))  # fmt: skip
                    elif key in ("action", "decision"):
                        if value_node.value not in DECISION_CODES:
                            error(value_node, f"unknown decision {value_node.value!r}",
                                  "decisions: " + ", ".join(DECISION_NAMES))  # fmt: skip
                        expect[key] = value_node.value
                    else:
                        expect[key] = names(value_node, key)
                        if key != "tags":
                            check_ids(value_node, expect[key])
            cases.append(_Case(name, node.start_mark.line + 1, features, model_score, expect))
    finally:
        loader.dispose()
    if diags:
        raise RuleError(diags)
    return cases


@dataclass
class _Bad:
    reason: str


def _value(raw: Any, t: FeatureType) -> Any:
    if raw is None:
        return None
    if t is FeatureType.NUMBER:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        return _Bad(f"expected a number, got {raw!r}")
    if t is FeatureType.BOOL:
        return raw if isinstance(raw, bool) else _Bad(f"expected true or false, got {raw!r}")
    if t is FeatureType.TIME:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, datetime) and raw.tzinfo is not None:
            return int(raw.timestamp() * 1000)
        if isinstance(raw, str):
            try:
                parsed = datetime.fromisoformat(raw)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return int(parsed.timestamp() * 1000)
        return _Bad(f"expected epoch milliseconds or ISO 8601 with an offset, got {raw!r}")
    return raw if isinstance(raw, str) else str(raw)
