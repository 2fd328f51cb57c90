"""The type checker: resolves names against the feature catalog and the named lists, types
every node, and reports each problem with its offset and a hint (did-you-mean via difflib).

Only a tree that checks without errors can be planned. Typing rules:

- ``and``, ``or``, ``not`` take bools; ``+ - * / %`` take numbers; ``time - time`` is a number
  of seconds; unary ``-`` takes a number.
- ``==`` and ``!=`` compare two values of the same type; ``< <= > >=`` compare two numbers or
  two times.
- ``x in L`` needs a list ``L`` (a list literal or a named list) whose items have x's type; list
  literals hold literals only, all of one type, and appear only on the right of ``in``.
- A rule's ``when`` must be a bool.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

from riskstream.features.catalog import FeatureSpec, FeatureType
from riskstream.rules.functions import FUNCTIONS, SignatureError
from riskstream.rules.lexer import ExpressionError
from riskstream.rules.syntax import (
    BinaryOp,
    Call,
    ListLiteral,
    ListType,
    Literal,
    Name,
    Node,
    Type,
    UnaryOp,
    type_name,
)

__all__ = ["Environment", "check"]

NUMBER, BOOL, STRING, TIME = (
    FeatureType.NUMBER,
    FeatureType.BOOL,
    FeatureType.STRING,
    FeatureType.TIME,
)
_ARITHMETIC = {"+", "-", "*", "/", "%"}
_ORDERING = {"<", "<=", ">", ">="}


@dataclass
class Environment:
    """What names mean: catalog features and named lists (name -> element type)."""

    catalog: Mapping[str, FeatureSpec]
    lists: Mapping[str, ListType] = field(default_factory=dict)


@dataclass
class _Result:
    errors: list[ExpressionError] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)


def check(node: Node, env: Environment) -> tuple[list[ExpressionError], list[str], list[str]]:
    """Type the tree in place; return (errors, feature names read, named lists used).

    Examples
    --------
    >>> from riskstream.features.catalog import FeatureCatalog
    >>> from riskstream.rules.parser import parse
    >>> env = Environment(FeatureCatalog.default())
    >>> errors, features, _ = check(parse("amout > 10"), env)
    >>> errors[0].message, errors[0].hint
    ("unknown name 'amout'", "did you mean 'amount'?")
    >>> errors, features, _ = check(parse("amount > 10 and hour < 6"), env)
    >>> errors, features
    ([], ['amount', 'hour'])
    """
    out = _Result()
    t = _Checker(env, out).visit(node)
    if t is not None and t != BOOL:
        hint = "compare it, e.g. amount > 100" if t == NUMBER else None
        out.errors.append(
            ExpressionError(
                node.start, f"a rule condition must be a bool, got {type_name(t)}", hint
            )
        )
    return out.errors, out.features, out.lists


def _did_you_mean(name: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


class _Checker:
    def __init__(self, env: Environment, out: _Result) -> None:
        self.env = env
        self.out = out

    def error(self, at: int, message: str, hint: str | None = None) -> None:
        self.out.errors.append(ExpressionError(at, message, hint))

    def visit(self, node: Node, list_ok: bool = False) -> Type | None:
        t = self._visit(node, list_ok)
        node.type = t
        if isinstance(t, ListType) and not list_ok:
            self.error(node.start, "a list can only be used on the right of 'in'")
            return None
        return t

    def _visit(self, node: Node, list_ok: bool) -> Type | None:
        if isinstance(node, Literal):
            if isinstance(node.value, bool):
                return BOOL
            return STRING if isinstance(node.value, str) else NUMBER
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, ListLiteral):
            return self.list_literal(node)
        if isinstance(node, UnaryOp):
            return self.unary(node)
        if isinstance(node, BinaryOp):
            return self.binary(node)
        if isinstance(node, Call):
            return self.call(node)
        raise TypeError(f"not a rule syntax node: {node!r}")  # pragma: no cover

    def name(self, node: Name) -> Type | None:
        name = node.name
        if name in self.env.catalog:
            node.kind = "feature"
            if name not in self.out.features:
                self.out.features.append(name)
            return self.env.catalog[name].type
        if name in self.env.lists:
            node.kind = "list"
            if name not in self.out.lists:
                self.out.lists.append(name)
            return self.env.lists[name]
        if name in FUNCTIONS:
            self.error(node.start, f"{name!r} is a function", f"call it, e.g. {name}(...)")
            return None
        parts = name.split(".")
        for i in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:i])
            if prefix in self.env.catalog:
                kind = self.env.catalog[prefix].type.value
                self.error(
                    node.start,
                    f"unknown name {name!r}: {prefix!r} is a {kind} and has no attributes",
                    _did_you_mean(name, list(self.env.catalog)),
                )
                return None
        candidates = [*self.env.catalog, *self.env.lists]
        self.error(node.start, f"unknown name {name!r}", _did_you_mean(name, candidates))
        return None

    def list_literal(self, node: ListLiteral) -> Type | None:
        element: FeatureType | None = None
        ok = True
        for item in node.items:
            if not isinstance(item, Literal):
                self.visit(item)
                self.error(
                    item.start,
                    "list items must be literals (numbers, strings, true or false)",
                    "use a named list, or combine comparisons with 'or'",
                )
                ok = False
                continue
            t = self.visit(item)
            assert isinstance(t, FeatureType)
            if element is None:
                element = t
            elif t != element:
                self.error(
                    item.start,
                    f"list mixes {element.value} and {t.value} items",
                    "all items of a list have one type; quote strings",
                )
                ok = False
        return ListType(element) if ok else None

    def unary(self, node: UnaryOp) -> Type | None:
        assert node.operand is not None
        t = self.visit(node.operand)
        want = BOOL if node.op == "not" else NUMBER
        if t is None:
            return None
        if t != want:
            self.error(
                node.start,
                f"{node.op!r} needs a {want.value}, got {type_name(t)}",
                "compare it first, e.g. not (x > 1)" if want == BOOL else None,
            )
            return None
        return want

    def binary(self, node: BinaryOp) -> Type | None:
        assert node.left is not None and node.right is not None
        op = node.op
        lt = self.visit(node.left)
        rt = self.visit(node.right, list_ok=op in ("in", "not in"))
        if lt is None or rt is None:
            return None
        if op in ("and", "or"):
            for side, t in ((node.left, lt), (node.right, rt)):
                if t != BOOL:
                    self.error(
                        side.start,
                        f"{op!r} needs bool operands, got {type_name(t)}",
                        "compare it first, e.g. amount > 100" if t == NUMBER else None,
                    )
                    return None
            return BOOL
        if op in _ARITHMETIC:
            return self.arithmetic(node, lt, rt)
        if op in ("in", "not in"):
            return self.membership(node, lt, rt)
        return self.comparison(node, lt, rt)

    def arithmetic(self, node: BinaryOp, lt: Type, rt: Type) -> Type | None:
        op = node.op
        if lt == NUMBER and rt == NUMBER:
            return NUMBER
        if op == "-" and lt == TIME and rt == TIME:
            return NUMBER
        hint = None
        if op == "+" and STRING in (lt, rt):
            hint = "strings cannot be concatenated; compare them with '==' or use 'in'"
        elif TIME in (lt, rt):
            hint = "subtract two times to get seconds, or use hour_of(t)"
        self.error(
            node.op_start,
            f"{op!r} needs two numbers, got {type_name(lt)} and {type_name(rt)}",
            hint,
        )
        return None

    def comparison(self, node: BinaryOp, lt: Type, rt: Type) -> Type | None:
        op = node.op
        if lt != rt:
            hint = None
            lit = node.right if isinstance(node.right, Literal) else node.left
            if isinstance(lit, Literal) and isinstance(lit.value, str) and NUMBER in (lt, rt):
                try:
                    float(lit.value)
                    hint = "write the number without quotes"
                except ValueError:
                    hint = None
            elif TIME in (lt, rt):
                hint = "subtract two times to get seconds, or use hour_of(t)"
            self.error(node.op_start, f"cannot compare {type_name(lt)} with {type_name(rt)}", hint)
            return None
        if op in _ORDERING and lt not in (NUMBER, TIME):
            self.error(
                node.op_start,
                f"{op!r} compares numbers or times, not {type_name(lt)}s",
                "use '==', '!=' or 'in'",
            )
            return None
        return BOOL

    def membership(self, node: BinaryOp, lt: Type, rt: Type) -> Type | None:
        if not isinstance(rt, ListType):
            self.error(
                node.right.start if node.right else node.op_start,
                f"{node.op!r} needs a list on its right, got {type_name(rt)}",
                "write a list like ['a', 'b'] or use a named list",
            )
            return None
        if isinstance(lt, ListType):
            self.error(node.start, "a list can only be used on the right of 'in'")
            return None
        if rt.element is not None and rt.element != lt:
            hint = None
            if lt == STRING and rt.element == NUMBER:
                hint = "quote the list items, e.g. ['5967', '7995']"
            self.error(
                node.op_start,
                f"{node.op!r}: the value is a {type_name(lt)} but the list holds "
                f"{rt.element.value}s",
                hint,
            )
            return None
        return BOOL

    def call(self, node: Call) -> Type | None:
        arg_types = [self.visit(a) for a in node.args]
        func = FUNCTIONS.get(node.func)
        if func is None:
            if node.func in self.env.catalog:
                self.error(node.start, f"{node.func!r} is a feature, not a function")
                return None
            hint = _did_you_mean(node.func, list(FUNCTIONS)) or (
                "functions: " + ", ".join(sorted(FUNCTIONS))
            )
            self.error(node.start, f"unknown function {node.func!r}", hint)
            return None
        if any(t is None for t in arg_types):
            return None
        try:
            return func.check([t for t in arg_types if t is not None])
        except SignatureError as exc:
            self.error(node.start, f"{func.name}() {exc}", func.signature)
            return None
