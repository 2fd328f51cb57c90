"""`compile_expression`: the one entry point through the phases parse -> check -> plan.

A syntax error stops at the first problem of an expression; the checker reports all its
problems; only an expression that checks cleanly is planned.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskstream.rules.checker import Environment, check
from riskstream.rules.lexer import ExpressionError
from riskstream.rules.limits import RuleLimits
from riskstream.rules.parser import parse
from riskstream.rules.planner import PlanNode, Program
from riskstream.rules.syntax import Node, canonical

__all__ = ["CompiledExpression", "compile_expression"]


@dataclass(frozen=True)
class CompiledExpression:
    """A checked, planned expression.

    Parameters
    ----------
    text
        The source text.
    tree
        The typed syntax tree.
    canonical
        Its canonical text (what the rule-set hash covers).
    features
        Catalog names it reads, in order of first use.
    lists
        Named lists it uses.
    root
        Its root node in the program it was planned into.
    """

    text: str
    tree: Node
    canonical: str
    features: tuple[str, ...]
    lists: tuple[str, ...]
    root: PlanNode


def compile_expression(
    text: str,
    env: Environment,
    program: Program,
    limits: RuleLimits | None = None,
) -> CompiledExpression | list[ExpressionError]:
    """Parse, check and plan `text` into `program`; return it, or the errors found.

    Examples
    --------
    >>> import numpy as np
    >>> from riskstream.features.catalog import FeatureCatalog
    >>> program = Program()
    >>> env = Environment(FeatureCatalog.default())
    >>> expr = compile_expression("amount > 100 and channel == 'ecom'", env, program)
    >>> expr.features
    ('amount', 'channel')
    >>> frame = {"amount": np.array([50.0, 500.0, np.nan]),
    ...          "channel": np.array(["ecom", "ecom", "ecom"], dtype=object)}
    >>> program.run([expr.root], frame, 3)
    array([[False,  True, False]])
    >>> [e.message for e in compile_expression("amount > 'abc'", env, program)]
    ['cannot compare number with string']
    """
    try:
        tree = parse(text, limits)
    except ExpressionError as exc:
        return [exc]
    errors, features, lists = check(tree, env)
    if errors:
        return errors
    root = program.add(tree)
    return CompiledExpression(text, tree, canonical(tree), tuple(features), tuple(lists), root)
