"""Limits of the rule language (expression size, nesting depth, list size, rule count).

They are options, checked when a rule set loads, never discovered at evaluation time: an
expression within the limits evaluates in time linear in its size (no loops exist).
"""

from __future__ import annotations

from dataclasses import dataclass

from riskstream.errors import ConfigError

__all__ = ["RuleLimits"]

_HARD_MAX_DEPTH = 100  # the parser, checker and planner recurse once per nesting level


@dataclass(frozen=True)
class RuleLimits:
    """Bounds enforced at load time.

    Parameters
    ----------
    max_expression_chars
        Longest `when` expression, in characters.
    max_nodes
        Most syntax-tree nodes in one expression (literals, names, operators, calls).
    max_depth
        Deepest nesting of one expression (parentheses, operators, calls); at most 100.
    max_list_items
        Most items in one list (inline, named, from a file, allow or deny list).
    max_rules
        Most rules in one rule set.
    max_errors
        Most diagnostics reported for one file (the rest are counted, not printed).

    Examples
    --------
    >>> RuleLimits().max_depth
    32
    >>> RuleLimits(max_depth=1000)
    Traceback (most recent call last):
    ...
    riskstream.errors.ConfigError: rule limits: max_depth must be between 1 and 100, got 1000
    """

    max_expression_chars: int = 4000
    max_nodes: int = 400
    max_depth: int = 32
    max_list_items: int = 1_000_000
    max_rules: int = 2000
    max_errors: int = 20

    def __post_init__(self) -> None:
        for name in ("max_expression_chars", "max_nodes", "max_list_items", "max_rules"):
            if getattr(self, name) < 1:
                raise ConfigError(f"rule limits: {name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.max_depth <= _HARD_MAX_DEPTH:
            raise ConfigError(
                f"rule limits: max_depth must be between 1 and {_HARD_MAX_DEPTH}, "
                f"got {self.max_depth}"
            )
        if self.max_errors < 1:
            raise ConfigError(f"rule limits: max_errors must be >= 1, got {self.max_errors}")
