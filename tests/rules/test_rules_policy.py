"""The decision policy: strongest action wins, model thresholds, allow rules, shadow mode,
tag/notify, allow/deny lists, the score, and per-row explanations."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.decisions import ALLOW, BLOCK, CHALLENGE, REVIEW
from riskstream.errors import ConfigError
from riskstream.features.catalog import FeatureCatalog
from riskstream.rules import DecisionPolicy, combine_scores, compile_ruleset
from tests.rules.conftest import make_frame

RULES = """
version: 1
allow:
  customers: [vip]
deny:
  cards: [stolen]
rules:
  - {id: review_big, when: amount > 100, action: review}
  - {id: challenge_bigger, when: amount > 1000, action: challenge, score: 0.8}
  - {id: block_huge, when: amount > 10000, action: block}
  - {id: allow_small, when: amount < 1, action: allow}
  - {id: shadow_block, when: amount > 50, action: block, mode: shadow}
  - {id: tag_new_device, when: customer.is_new_device, action: tag, tags: [new_device]}
  - id: notify_rich
    when: amount > 5000
    action: notify
    tags: [high_potential, rm]
    description: offer a product
  - {id: shadow_notify, when: amount > 5000, action: notify, mode: shadow, tags: [x]}
"""


@pytest.fixture
def ruleset(catalog: FeatureCatalog):
    return compile_ruleset(RULES, catalog)


def decide(ruleset, catalog, rows, model=None, policy=None):
    frame = make_frame(catalog, rows)
    result = ruleset.evaluate(frame, len(rows))
    model_score = None if model is None else np.array(model, dtype=np.float64)
    return (policy or DecisionPolicy()).decide(ruleset, result, frame, model_score)


def test_strongest_action_wins(ruleset, catalog) -> None:
    rows = [{"amount": a, "customer_id": "c"} for a in (10.0, 500.0, 5000.0, 50000.0)]
    decided = decide(ruleset, catalog, rows)
    assert decided.decisions.tolist() == [ALLOW, REVIEW, CHALLENGE, BLOCK]
    assert decided.decisions.dtype == np.int8
    assert decided.rule_hits(3) == ["review_big", "challenge_bigger", "block_huge", "notify_rich"]
    # default score of review is 0.5; challenge_bigger's own is 0.8; block's default 0.95
    np.testing.assert_allclose(decided.rule_score, [0.0, 0.5, 0.8, 0.95])


def test_model_thresholds_and_score_combination(ruleset, catalog) -> None:
    policy = DecisionPolicy(review_threshold=0.5, challenge_threshold=0.7, block_threshold=0.9)
    rows = [{"amount": 10.0}] * 5 + [{"amount": 500.0}]
    decided = decide(ruleset, catalog, rows, [0.1, 0.6, 0.75, 0.95, np.nan, 0.6], policy)
    assert decided.decisions.tolist() == [ALLOW, REVIEW, CHALLENGE, BLOCK, ALLOW, REVIEW]
    np.testing.assert_allclose(decided.score, [0.1, 0.6, 0.75, 0.95, 0.0, 0.8])
    assert ((decided.score >= 0) & (decided.score <= 1)).all()


def test_allow_rule_suppresses_the_model_not_other_rules(ruleset, catalog) -> None:
    decided = decide(ruleset, catalog, [{"amount": 0.5}], [0.99])
    assert decided.decisions.tolist() == [ALLOW]
    assert decided.score.tolist() == [0.0]


def test_shadow_rules_are_recorded_and_never_act(ruleset, catalog) -> None:
    decided = decide(ruleset, catalog, [{"amount": 60.0}, {"amount": 9000.0}])
    assert decided.decisions.tolist() == [ALLOW, CHALLENGE]
    assert decided.rule_hits(0) == []
    assert decided.shadow_hits(0) == ["shadow_block"]
    assert decided.shadow_hits(1) == ["shadow_block", "shadow_notify"]
    assert decided.notifications(1) == [
        {"rule": "notify_rich", "tags": ["high_potential", "rm"], "description": "offer a product"}
    ]
    assert decided.tags(1) == ["high_potential", "rm"]
    assert decided.hit_rows.tolist() == [0, 1]


def test_tag_and_notify_do_not_change_the_decision(ruleset, catalog) -> None:
    rows = [{"amount": 10.0, "customer.is_new_device": True}]
    decided = decide(ruleset, catalog, rows)
    assert decided.decisions.tolist() == [ALLOW]
    assert decided.score.tolist() == [0.0]
    assert decided.tags(0) == ["new_device"]
    assert decided.rule_hits(0) == ["tag_new_device"]
    assert decided.features(0) == {"customer.is_new_device": True}


def test_allow_and_deny_lists_short_circuit(ruleset, catalog) -> None:
    rows = [
        {"customer_id": "vip", "card_id": "c1", "amount": 50000.0},
        {"customer_id": "vip", "card_id": "stolen", "amount": 5.0},
        {"customer_id": "c2", "card_id": "stolen", "amount": 5.0},
    ]
    decided = decide(ruleset, catalog, rows, [0.99, 0.0, 0.0])
    assert decided.decisions.tolist() == [ALLOW, BLOCK, BLOCK]
    assert decided.score.tolist() == [0.0, 1.0, 1.0]
    assert decided.rule_hits(0)[0] == "allow_list.customers"
    assert decided.rule_hits(1) == ["deny_list.cards"]
    assert decided.features(1) == {"card_id": "stolen"}
    assert decided.list_hit(2) == "deny_list.cards"


def test_explanations_only_for_rows_with_hits(ruleset, catalog) -> None:
    rows = [{"amount": 10.0}] * 1000
    rows[7] = {"amount": 200.0, "country": "NG"}
    decided = decide(ruleset, catalog, rows)
    assert decided.hit_rows.tolist() == [7]
    [(row, explanation)] = list(decided.explanations())
    assert row == 7
    assert explanation == {
        "rule_hits": ["review_big"],
        "shadow_hits": ["shadow_block"],
        "tags": [],
        "notifications": [],
        "features": {"amount": 200.0},
    }
    assert decided.explain(0) == {
        "rule_hits": [],
        "shadow_hits": [],
        "tags": [],
        "notifications": [],
        "features": {},
    }


def test_missing_values_are_none_in_explanations(catalog) -> None:
    text = (
        "version: 1\nrules:\n  - {id: m, when: is_missing(amount) and hour < 3, action: review}\n"
    )
    ruleset = compile_ruleset(text, catalog)
    decided = decide(ruleset, catalog, [{"hour": 1.0}])
    assert decided.features(0) == {"amount": None, "hour": 1.0}


def test_combine_scores_bounds() -> None:
    r = np.array([0.0, 1.0, 0.5, 0.3])
    m = np.array([1.0, 0.0, np.nan, 0.3])
    out = combine_scores(r, m)
    np.testing.assert_allclose(out, [1.0, 1.0, 0.5, 0.51])
    assert combine_scores(np.array([0.2]), np.array([0.9]))[0] >= 0.9


def test_policy_config_round_trip_and_validation() -> None:
    policy = DecisionPolicy(review_threshold=0.6, challenge_threshold=None, block_score=0.9)
    assert DecisionPolicy.from_config(policy.to_config()) == policy
    assert DecisionPolicy.from_config(None) == DecisionPolicy()
    with pytest.raises(ConfigError):
        DecisionPolicy(review_threshold=0.9, challenge_threshold=0.5)
    with pytest.raises(ConfigError):
        DecisionPolicy(review_threshold=1.5)
    with pytest.raises(ConfigError):
        DecisionPolicy.from_config({"review_threshold": "high"})
    with pytest.raises(ConfigError):
        DecisionPolicy(review_score=2.0)
