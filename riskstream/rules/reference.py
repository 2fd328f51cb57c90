"""The per-row reference semantics: a plain tree-walking interpreter over one row's values.

It is slow on purpose and written independently of the planner; the tests hold the
vectorised program to it (hypothesis). Values: number -> float (NaN = missing), string ->
str or None (missing), bool -> bool, time -> int (epoch ms), list -> tuple of items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from riskstream.features.catalog import FeatureType
from riskstream.rules.functions import FUNCTIONS
from riskstream.rules.syntax import BinaryOp, Call, ListLiteral, Literal, Name, Node, UnaryOp

__all__ = ["evaluate_row"]

NUMBER, STRING = FeatureType.NUMBER, FeatureType.STRING


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def evaluate_row(node: Node, row: Mapping[str, Any], lists: Mapping[str, Sequence[Any]]) -> Any:
    """Evaluate a checked tree on one row (feature name -> value); `lists` by name."""
    if isinstance(node, Literal):
        return float(node.value) if node.type == NUMBER else node.value
    if isinstance(node, Name):
        if node.kind == "list":
            return tuple(lists[node.name])
        value = row[node.name]
        return float(value) if node.type == NUMBER else value
    if isinstance(node, ListLiteral):
        return tuple(evaluate_row(item, row, lists) for item in node.items)
    if isinstance(node, UnaryOp):
        assert node.operand is not None
        v = evaluate_row(node.operand, row, lists)
        if node.op == "not":
            return not v
        return -v if node.op == "-" else v
    if isinstance(node, Call):
        args = [evaluate_row(a, row, lists) for a in node.args]
        return FUNCTIONS[node.func].scalar(tuple(a.type for a in node.args), *args)
    assert isinstance(node, BinaryOp) and node.left is not None and node.right is not None
    op = node.op
    a = evaluate_row(node.left, row, lists)
    if op == "and":
        return bool(a) and bool(evaluate_row(node.right, row, lists))
    if op == "or":
        return bool(a) or bool(evaluate_row(node.right, row, lists))
    b = evaluate_row(node.right, row, lists)
    if op in ("in", "not in"):
        if _missing(a):
            return False
        return (a in b) if op == "in" else (a not in b)
    if op in ("+", "-", "*", "/", "%"):
        if node.left.type == FeatureType.TIME:
            return (a - b) / 1000.0
        if _missing(a) or _missing(b):
            return math.nan
        if op in ("/", "%") and b == 0:
            return math.nan
        try:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            return a / b if op == "/" else a % b
        except (OverflowError, ValueError):  # pragma: no cover - floats do not raise here
            return math.nan
    if _missing(a) or _missing(b):
        return False
    return {
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]
