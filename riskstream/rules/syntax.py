"""The syntax tree of the rule language, its value types, and the canonical printer.

Nodes carry their offsets in the expression text (for diagnostics), their depth and size (for
the limits), and, once checked, their type. The canonical form of a tree is what the rule-set
hash and the planner's shared-subexpression cache are keyed on: whitespace, comments,
redundant parentheses and number spelling (``1_000`` vs ``1000.0``) do not change it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from riskstream.features.catalog import FeatureType

__all__ = [
    "BinaryOp",
    "Call",
    "ListLiteral",
    "ListType",
    "Literal",
    "Name",
    "Node",
    "Type",
    "UnaryOp",
    "canonical",
    "type_name",
]


@dataclass(frozen=True)
class ListType:
    """The type of a list of `element` values; ``element`` is None for an empty list."""

    element: FeatureType | None


Type = FeatureType | ListType


def type_name(t: Type | None) -> str:
    """Human name of a type: ``number``, ``list of string``."""
    if t is None:
        return "unknown"
    if isinstance(t, ListType):
        return "empty list" if t.element is None else f"list of {t.element.value}"
    return t.value


@dataclass(eq=False)
class Node:
    start: int
    end: int
    depth: int = field(default=1, kw_only=True)
    size: int = field(default=1, kw_only=True)
    type: Type | None = field(default=None, kw_only=True)

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(eq=False)
class Literal(Node):
    value: float | str | bool = 0.0


@dataclass(eq=False)
class Name(Node):
    name: str = ""
    kind: str = ""  # set by the checker: "feature" or "list"


@dataclass(eq=False)
class ListLiteral(Node):
    items: list[Node] = field(default_factory=list)

    def children(self) -> tuple[Node, ...]:
        return tuple(self.items)


@dataclass(eq=False)
class UnaryOp(Node):
    op: str = ""  # "not", "-", "+"
    operand: Node | None = None

    def children(self) -> tuple[Node, ...]:
        return (self.operand,) if self.operand is not None else ()


@dataclass(eq=False)
class BinaryOp(Node):
    op: str = ""  # "and" "or" "+" "-" "*" "/" "%" "==" "!=" "<" "<=" ">" ">=" "in" "not in"
    left: Node | None = None
    right: Node | None = None
    op_start: int = 0

    def children(self) -> tuple[Node, ...]:
        return tuple(c for c in (self.left, self.right) if c is not None)


@dataclass(eq=False)
class Call(Node):
    func: str = ""
    args: list[Node] = field(default_factory=list)

    def children(self) -> tuple[Node, ...]:
        return tuple(self.args)


def _literal_text(value: float | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(float(value))


def canonical(node: Node) -> str:
    """The canonical text of a tree: fully parenthesised, literals normalised.

    Examples
    --------
    >>> from riskstream.rules.parser import parse
    >>> canonical(parse("amount  >  1_000 and (not  x or y)"))
    '((amount > 1000.0) and ((not x) or y))'
    >>> canonical(parse("c in ['a', \\"b\\"]"))
    '(c in ["a", "b"])'
    """
    if isinstance(node, Literal):
        return _literal_text(node.value)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, ListLiteral):
        return "[" + ", ".join(canonical(item) for item in node.items) + "]"
    if isinstance(node, UnaryOp):
        assert node.operand is not None
        sep = " " if node.op == "not" else ""
        return f"({node.op}{sep}{canonical(node.operand)})"
    if isinstance(node, BinaryOp):
        assert node.left is not None and node.right is not None
        return f"({canonical(node.left)} {node.op} {canonical(node.right)})"
    if isinstance(node, Call):
        return f"{node.func}(" + ", ".join(canonical(a) for a in node.args) + ")"
    raise TypeError(f"not a rule syntax node: {node!r}")
