"""The planner: checked syntax trees -> one vectorised program for a whole rule set.

Planning resolves every operator and function to its numpy implementation once, folds
constant subtrees, turns list literals and named lists into prepared lookups (a frozenset for
strings, a sorted array for numbers), and shares equal subexpressions between rules (keyed by
canonical text), so ``country in high_risk`` read by three rules is computed once per batch.

Evaluation walks the shared nodes with a per-batch cache; ``a and b`` skips ``b`` when ``a``
is false on every row of the batch (``or`` likewise when ``a`` is true everywhere). Its cost
is linear in the number of distinct nodes times the batch size.

Missing values (NaN numbers, None strings) follow one rule: **a comparison or membership test
with a missing operand is false** (``x != "a"`` and ``x not in L`` included), and arithmetic
or a function of a missing value is missing, so ``not (x == "a")`` is true when x is missing.
Division or modulo by zero gives a missing number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from riskstream.features.catalog import FeatureType
from riskstream.rules.functions import FUNCTIONS
from riskstream.rules.syntax import (
    BinaryOp,
    Call,
    ListLiteral,
    ListType,
    Literal,
    Name,
    Node,
    UnaryOp,
    canonical,
)

__all__ = ["PlanNode", "Program", "prepare_list"]

NUMBER, BOOL, STRING, TIME = (
    FeatureType.NUMBER,
    FeatureType.BOOL,
    FeatureType.STRING,
    FeatureType.TIME,
)
_DTYPES = {NUMBER: np.float64, BOOL: np.bool_, STRING: object, TIME: np.int64}


class PlanNode:
    """One shared step: a constant, a column, a lazy and/or, or an operation on children."""

    __slots__ = ("children", "fn", "key", "kind", "value")

    def __init__(
        self,
        key: str,
        kind: str,
        children: tuple[PlanNode, ...] = (),
        fn: Callable[..., Any] | None = None,
        value: Any = None,
    ) -> None:
        self.key = key
        self.kind = kind  # "const" | "column" | "op" | "and" | "or"
        self.children = children
        self.fn = fn
        self.value = value

    def __repr__(self) -> str:
        return f"PlanNode({self.kind}: {self.key})"


class PreparedList:
    """A list ready for membership tests: its element type and a fast lookup structure."""

    __slots__ = ("element", "lookup", "values")

    def __init__(self, element: FeatureType | None, values: Sequence[Any]) -> None:
        self.element = element
        self.values = tuple(values)
        if element == STRING:
            self.lookup: Any = frozenset(values)
        elif element is None:
            self.lookup = None
        else:
            self.lookup = np.unique(np.asarray(values, dtype=_DTYPES[element]))


def prepare_list(element: FeatureType | None, values: Sequence[Any]) -> PreparedList:
    """Prepare a list (literal or named) for `in` tests."""
    return PreparedList(element, values)


# -- missing-aware primitives ---------------------------------------------------------------
def _notnull_str(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return np.not_equal(x, None)
    return np.bool_(x is not None)


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.ndim > 0


def _str_eq(a: Any, b: Any) -> Any:
    if not _is_array(b):
        return a == b if b is not None else np.zeros(np.shape(a), np.bool_)
    if not _is_array(a):
        return _str_eq(b, a)
    return (a == b) & _notnull_str(a)


def _str_ne(a: Any, b: Any) -> Any:
    return (a != b) & _notnull_str(a) & _notnull_str(b)


def _num_ne(a: Any, b: Any) -> Any:
    return np.less(a, b) | np.greater(a, b)


def _div(a: Any, b: Any) -> Any:
    with np.errstate(all="ignore"):
        return np.where(b == 0, np.nan, np.divide(a, b))


def _mod(a: Any, b: Any) -> Any:
    with np.errstate(all="ignore"):
        return np.where(b == 0, np.nan, np.mod(a, b))


def _arith(ufunc: Any) -> Callable[[Any, Any], Any]:
    def op(a: Any, b: Any) -> Any:
        with np.errstate(all="ignore"):
            return ufunc(a, b)

    return op


def _time_sub(a: Any, b: Any) -> Any:
    return (np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)) / 1000.0


def _member(element: FeatureType, negate: bool) -> Callable[[Any, PreparedList], Any]:
    def contains(x: Any, lst: PreparedList) -> Any:
        if lst.element is None:
            hit = np.zeros(np.shape(x), np.bool_)
        elif element == STRING:
            if _is_array(x):
                if len(lst.values) == 1:
                    hit = x == lst.values[0]
                else:
                    hit = np.fromiter(map(lst.lookup.__contains__, x), np.bool_, x.size)
            else:
                hit = np.bool_(x in lst.lookup)
        else:
            hit = np.isin(x, lst.lookup)
        if not negate:
            return hit
        if element == STRING:
            return ~hit & _notnull_str(x)
        if element == NUMBER:
            return ~hit & ~np.isnan(x)
        return ~hit

    return contains


_COMPARE: dict[FeatureType, dict[str, Callable[[Any, Any], Any]]] = {
    NUMBER: {
        "==": np.equal,
        "!=": _num_ne,
        "<": np.less,
        "<=": np.less_equal,
        ">": np.greater,
        ">=": np.greater_equal,
    },
    TIME: {
        "==": np.equal,
        "!=": np.not_equal,
        "<": np.less,
        "<=": np.less_equal,
        ">": np.greater,
        ">=": np.greater_equal,
    },
    BOOL: {"==": np.equal, "!=": np.not_equal},
    STRING: {"==": _str_eq, "!=": _str_ne},
}
_ARITH = {
    "+": _arith(np.add),
    "-": _arith(np.subtract),
    "*": _arith(np.multiply),
    "/": _div,
    "%": _mod,
}


def _const(value: Any, t: Any) -> Any:
    if t == NUMBER:
        return np.float64(value)
    if t == BOOL:
        return np.bool_(value)
    if t == TIME:
        return np.int64(value)
    return value


class Program:
    """The shared, planned nodes of a rule set; `add` plans one checked tree.

    Parameters
    ----------
    lists
        Named lists, prepared with `prepare_list`.
    """

    def __init__(self, lists: Mapping[str, PreparedList] | None = None) -> None:
        self.lists = dict(lists or {})
        self.nodes: dict[str, PlanNode] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def add(self, node: Node) -> PlanNode:
        """Plan a checked tree (every node typed); return its root."""
        key = f"{canonical(node)}:{node.type}"
        found = self.nodes.get(key)
        if found is not None:
            return found
        planned = self._plan(node, key)
        self.nodes[key] = planned
        return planned

    def _plan(self, node: Node, key: str) -> PlanNode:
        if isinstance(node, Literal):
            return PlanNode(key, "const", value=_const(node.value, node.type))
        if isinstance(node, Name):
            if node.kind == "list":
                return PlanNode(key, "const", value=self.lists[node.name])
            return PlanNode(key, "column", value=(node.name, node.type))
        if isinstance(node, ListLiteral):
            assert isinstance(node.type, ListType)
            values = [item.value for item in node.items if isinstance(item, Literal)]
            return PlanNode(key, "const", value=prepare_list(node.type.element, values))
        if isinstance(node, UnaryOp):
            assert node.operand is not None
            child = self.add(node.operand)
            fn = np.logical_not if node.op == "not" else (np.negative if node.op == "-" else None)
            if fn is None:
                return child
            return self._op(key, fn, (child,))
        if isinstance(node, BinaryOp):
            assert node.left is not None and node.right is not None
            left, right = self.add(node.left), self.add(node.right)
            lt = node.left.type
            if node.op in ("and", "or"):
                if left.kind == "const" and right.kind == "const":
                    fn = np.logical_and if node.op == "and" else np.logical_or
                    return PlanNode(key, "const", value=fn(left.value, right.value))
                return PlanNode(key, node.op, (left, right))
            if node.op in ("in", "not in"):
                assert isinstance(lt, FeatureType)
                return self._op(key, _member(lt, node.op == "not in"), (left, right))
            if node.op in _ARITH:
                fn = _time_sub if lt == TIME else _ARITH[node.op]
                return self._op(key, fn, (left, right))
            assert isinstance(lt, FeatureType)
            return self._op(key, _COMPARE[lt][node.op], (left, right))
        if isinstance(node, Call):
            func = FUNCTIONS[node.func]
            args = tuple(self.add(a) for a in node.args)
            types = tuple(a.type for a in node.args)
            vector = func.vector

            def call(*values: Any) -> Any:
                return vector(types, *values)

            return self._op(key, call, args)
        raise TypeError(f"cannot plan {node!r}")  # pragma: no cover

    def _op(self, key: str, fn: Callable[..., Any], children: tuple[PlanNode, ...]) -> PlanNode:
        if all(c.kind == "const" for c in children):
            return PlanNode(key, "const", value=fn(*(c.value for c in children)))
        return PlanNode(key, "op", children, fn)

    def run(self, roots: Sequence[PlanNode], frame: Mapping[str, Any], n: int) -> np.ndarray:
        """Evaluate `roots` (bool-typed) over a batch; return a bool array (len(roots), n)."""
        out = np.zeros((len(roots), n), dtype=np.bool_)
        run = _Run(frame, n)
        for i, root in enumerate(roots):
            out[i] = run.value(root)
        return out


class _Run:
    """One batch's evaluation: the frame and the cache of node values."""

    __slots__ = ("cache", "frame", "n")

    def __init__(self, frame: Mapping[str, Any], n: int) -> None:
        self.frame = frame
        self.n = n
        self.cache: dict[int, Any] = {}

    def value(self, node: PlanNode) -> Any:
        kind = node.kind
        if kind == "const":
            return node.value
        ident = id(node)
        cached = self.cache.get(ident)
        if cached is not None:
            return cached
        if kind == "column":
            name, t = node.value
            result = np.asarray(self.frame[name], dtype=_DTYPES[t])
        elif kind == "op":
            assert node.fn is not None
            result = node.fn(*(self.value(c) for c in node.children))
        else:
            left = self.value(node.children[0])
            if kind == "and":
                some = left.any() if isinstance(left, np.ndarray) else bool(left)
                result = left & self.value(node.children[1]) if some else left
            else:
                every = left.all() if isinstance(left, np.ndarray) else bool(left)
                result = left if every else left | self.value(node.children[1])
        self.cache[ident] = result
        return result
