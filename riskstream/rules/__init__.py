"""The rule language (parse, check, plan, evaluate), rule sets and the decision policy.

Modules, in the order of the phases: `lexer` and `parser` (text -> syntax tree), `checker`
(names and types against the feature catalog), `planner` (one shared vectorised program per
rule set), `compiler` (the one entry point through those phases), `loader` (YAML rule files
with positions), `ruleset` (compiled rule sets, hashes, evaluation), `policy` (decisions and
explanations), `watcher` (hot reload), `cases` and `cli` (`riskstream rules check|test`).
`functions` holds the built-in functions, `reference` the per-row reference semantics.

Examples
--------
>>> import numpy as np
>>> from riskstream.features.catalog import FeatureCatalog
>>> ruleset = compile_ruleset('''
... version: 1
... lists:
...   risky: [NG, RU]
... rules:
...   - {id: risky_big, when: country in risky and amount > 100, action: block}
...   - {id: night, when: hour < 5, action: review, mode: shadow}
... ''', FeatureCatalog.default())
>>> frame = {"country": np.array(["NG", "FR", None], dtype=object),
...          "amount": np.array([500.0, 500.0, 500.0]), "hour": np.array([3.0, 12.0, 2.0])}
>>> result = ruleset.evaluate(frame, 3)
>>> decided = DecisionPolicy().decide(ruleset, result, frame, np.array([0.1, 0.1, 0.1]))
>>> decided.decisions, decided.hit_rows
(array([3, 0, 0], dtype=int8), array([0, 2]))
>>> decided.explain(0)["rule_hits"], decided.explain(2)["shadow_hits"]
(['risky_big'], ['night'])
"""

from riskstream.rules.diagnostics import RuleDiagnostic, RuleError
from riskstream.rules.limits import RuleLimits
from riskstream.rules.loader import compile_ruleset, default_ruleset_path, load_ruleset
from riskstream.rules.policy import Decided, DecisionPolicy, combine_scores
from riskstream.rules.ruleset import AccessList, Rule, RuleResult, RuleSet
from riskstream.rules.watcher import RuleSetWatcher

__all__ = [
    "AccessList",
    "Decided",
    "DecisionPolicy",
    "Rule",
    "RuleDiagnostic",
    "RuleError",
    "RuleLimits",
    "RuleResult",
    "RuleSet",
    "RuleSetWatcher",
    "combine_scores",
    "compile_ruleset",
    "default_ruleset_path",
    "load_ruleset",
]
