"""Rule files: exact line:column of errors in YAML (plain, quoted, block scalars), lists
(inline, named, from files), allow/deny lists, limits, hash stability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskstream.features.catalog import FeatureCatalog
from riskstream.rules import RuleError, RuleLimits, compile_ruleset, load_ruleset
from tests.rules.conftest import make_frame, rules_yaml


def diagnostics(text: str, catalog: FeatureCatalog, **kwargs: object) -> list[tuple]:
    with pytest.raises(RuleError) as info:
        compile_ruleset(text, catalog, "r.yaml", **kwargs)
    return [(d.line, d.column, d.rule_id, d.message) for d in info.value.diagnostics]


def test_plain_scalar_error_position(catalog: FeatureCatalog) -> None:
    text = (
        "version: 1\nrules:\n  - id: a\n"
        "    when: amount > 10 and countri == 'x'\n"
        "    action: block\n"
    )
    [(line, col, rule, msg)] = diagnostics(text, catalog)
    assert (line, col, rule) == (4, 27, "a")
    assert msg == "unknown name 'countri'"


def test_block_scalar_error_position(catalog: FeatureCatalog) -> None:
    text = (
        "version: 1\n"
        "rules:\n"
        "  - id: multi\n"
        "    when: |\n"
        "      amount > 1000\n"
        "      and customer.is_new_device\n"
        "      and country == 42\n"
        "    action: challenge\n"
    )
    [(line, col, rule, msg)] = diagnostics(text, catalog)
    assert (line, col, rule) == (7, 19, "multi")
    assert msg == "cannot compare string with number"


def test_folded_and_quoted_scalars_error_positions(catalog: FeatureCatalog) -> None:
    text = (
        "version: 1\n"
        "rules:\n"
        "  - id: folded\n"
        "    when: >-\n"
        "      amount > 1 and\n"
        "        houre < 3\n"
        "    action: review\n"
        "  - id: quoted\n"
        "    when: \"amount > 1 and x['a']\"\n"
        "    action: review\n"
        "  - id: single\n"
        "    when: 'country == ''NG'' and amout > 1'\n"
        "    action: review\n"
        "  - id: plain_multiline\n"
        "    when: amount > 1\n"
        "      and houre < 3\n"
        "    action: review\n"
    )
    found = diagnostics(text, catalog)
    assert [(line, col, rule) for line, col, rule, _ in found] == [
        (6, 9, "folded"),
        (9, 28, "quoted"),
        (12, 34, "single"),
        (16, 11, "plain_multiline"),
    ]


def test_file_structure_errors(catalog: FeatureCatalog) -> None:
    text = (
        "version: 2\n"
        "rulez: []\n"
        "rules:\n"
        "  - id: a\n"
        "    when: amount > 1\n"
        "    action: blok\n"
        "    score: 1.5\n"
        "    mode: dry\n"
        "  - id: a\n"
        "    when: amount > 1\n"
        "    action: review\n"
        "    tags: x\n"
        "  - id: 'no spaces allowed'\n"
        "    action: review\n"
        "  - id: t\n"
        "    when: amount > 1\n"
        "    action: tag\n"
        "  - when: [1, 2]\n"
        "    action: review\n"
    )
    found = diagnostics(text, catalog)
    messages = {(line, col): msg for line, col, _, msg in found}
    assert messages[(1, 10)] == "unsupported version"
    assert messages[(2, 1)] == "unknown key 'rulez' in the rule file"
    assert messages[(6, 13)] == "unknown action 'blok'"
    assert messages[(7, 12)] == "score must be a number in [0, 1]"
    assert messages[(8, 11)] == "unknown mode 'dry'"
    assert messages[(9, 9)] == "duplicate rule id 'a' (first on line 4)"
    assert messages[(12, 11)] == "tags must be a list of names"
    assert messages[(13, 9)] == "invalid rule id 'no spaces allowed'"
    assert messages[(13, 5)] == "rule has no 'when'"
    assert messages[(15, 5)] == "a 'tag' rule needs 'tags'"
    assert messages[(18, 5)] == "rule has no 'id'"
    assert messages[(18, 11)] == "'when' must be an expression"


def test_yaml_syntax_error_is_located(catalog: FeatureCatalog) -> None:
    text = "version: 1\nrules:\n  - id: a\n    when: amount > 1\n   action: [review\n"
    [(line, col, _, msg)] = diagnostics(text, catalog)
    assert line == 5 and msg.startswith("invalid YAML")
    [(line, col, _, msg)] = diagnostics("", catalog)
    assert (line, col, msg) == (1, 1, "empty rule file")
    [(line, col, _, msg)] = diagnostics("- a\n- b\n", catalog)
    assert msg == "a rule file must be a mapping"


def test_diagnostics_are_sorted_capped_and_printed_with_a_caret(catalog: FeatureCatalog) -> None:
    rules = [f"{{id: r{i}, when: amout{i} > 1, action: review}}" for i in range(30)]
    with pytest.raises(RuleError) as info:
        compile_ruleset(rules_yaml(*rules), catalog, "r.yaml", limits=RuleLimits(max_errors=5))
    exc = info.value
    assert exc.total == 30 and len(exc.diagnostics) == 5
    assert [d.line for d in exc.diagnostics] == [3, 4, 5, 6, 7]
    text = str(exc)
    assert text.splitlines()[0] == "r.yaml:3:20: rule 'r0': unknown name 'amout0'"
    assert text.splitlines()[1] == "  - {id: r0, when: amout0 > 1, action: review}"
    assert text.splitlines()[2] == " " * 19 + "^"
    assert "... and 25 more error(s)" in text


def test_limits_are_enforced_at_load(catalog: FeatureCatalog) -> None:
    limits = RuleLimits(max_rules=2, max_list_items=3, max_depth=4, max_nodes=20)
    text = rules_yaml(
        "{id: a, when: amount > 1, action: review}",
        "{id: b, when: amount > 1, action: review}",
        "{id: c, when: amount > 1, action: review}",
    )
    assert diagnostics(text, catalog, limits=limits)[0][3].startswith("too many rules")
    text = rules_yaml(
        "{id: a, when: country in big, action: review}", head="lists:\n  big: [a, b, c, d]\n"
    )
    assert "has 4 items; the limit is 3" in diagnostics(text, catalog, limits=limits)[0][3]
    text = rules_yaml("{id: a, when: ((((amount > 1)))), action: review}")
    assert "nested too deeply" in diagnostics(text, catalog, limits=limits)[0][3]


def test_inline_named_and_file_lists(catalog: FeatureCatalog, tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "merchants.txt").write_text("# breached\nm1\n\nm2  # since May\n")
    (tmp_path / "lists" / "amounts.yaml").write_text("[13, 666]\n")
    (tmp_path / "lists" / "ints.txt").write_text("7\n8\n")
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(
        "version: 1\n"
        "lists:\n"
        "  countries: [NG, NO, RU]\n"  # NO stays a string (no YAML boolean surprise)
        "  mccs: ['5967', 7995]\n"  # not all unquoted numbers: strings as written
        "  small: [1, 2.5]\n"
        "  breached: {file: lists/merchants.txt}\n"
        "  odd_amounts: {file: lists/amounts.yaml}\n"
        "  ints: {file: lists/ints.txt, type: number}\n"
        "rules:\n"
        "  - {id: c, when: country in countries, action: review}\n"
        "  - {id: m, when: mcc in mccs, action: review}\n"
        "  - {id: s, when: amount in small or amount in ints, action: review}\n"
        "  - {id: b, when: merchant_id in breached, action: review}\n"
        "  - {id: o, when: amount in odd_amounts, action: review}\n"
        "  - id: inline\n"
        "    when: channel in ['pos', 'atm'] and amount not in [1]\n"
        "    action: review\n"
    )
    ruleset = load_ruleset(rule_file, catalog)
    assert ruleset.lists["countries"].values == ("NG", "NO", "RU")
    assert ruleset.lists["mccs"].values == ("5967", "7995")
    assert ruleset.lists["odd_amounts"].values == (13.0, 666.0)
    assert set(ruleset.sources) == {
        rule_file,
        tmp_path / "lists" / "merchants.txt",
        tmp_path / "lists" / "amounts.yaml",
        tmp_path / "lists" / "ints.txt",
    }
    rows = [
        {"country": "NO", "mcc": "7995", "amount": 2.5, "merchant_id": "m2", "channel": "pos"},
        {"country": "FR", "mcc": "5411", "amount": 8.0, "merchant_id": "m3", "channel": "atm"},
        {"country": None, "mcc": None, "amount": None, "merchant_id": None, "channel": "pos"},
    ]
    hits = ruleset.evaluate(make_frame(catalog, rows), 3).hits
    assert hits[:, 0].tolist() == [True, True, True, True, False, True]
    assert hits[:, 1].tolist() == [False, False, True, False, False, True]
    assert hits[:, 2].tolist() == [False] * 6  # missing values are in no list and not in []


def test_yaml_list_file_can_be_typed_as_strings(catalog: FeatureCatalog, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("[5967, 7995]\n")
    text = (
        "version: 1\nlists:\n  l: {file: a.yaml, type: string}\n"
        "rules:\n  - {id: o, when: mcc in l, action: review}\n"
    )
    ruleset = compile_ruleset(text, catalog, base_dir=tmp_path)
    assert ruleset.lists["l"].values == ("5967", "7995")


def test_list_errors_are_located(catalog: FeatureCatalog, tmp_path: Path) -> None:
    (tmp_path / "words.txt").write_text("a\nb\n")
    text = (
        "version: 1\n"
        "lists:\n"
        "  amount: [1]\n"
        "  missing: {file: nowhere.txt}\n"
        "  bad: [a, [b]]\n"
        "  nums: {file: words.txt, type: number}\n"
        "  weird: 3\n"
        "rules: []\n"
    )
    found = diagnostics(text, catalog, base_dir=tmp_path)
    messages = {(line, col): msg for line, col, _, msg in found}
    assert messages[(3, 3)] == "list name 'amount' is already a feature or function name"
    assert messages[(4, 19)].startswith("cannot read list file 'nowhere.txt'")
    assert messages[(5, 12)] == "list 'bad': items must be numbers or strings"
    assert messages[(6, 16)] == "list file 'words.txt' holds items that are not numbers"
    assert messages[(7, 10)].startswith("list 'weird' must be a list")


def test_allow_and_deny_lists_short_circuit(catalog: FeatureCatalog, tmp_path: Path) -> None:
    (tmp_path / "stolen.txt").write_text("card-9\n")
    text = (
        "version: 1\n"
        "lists:\n"
        "  bad_ips: ['10.0.0.66']\n"
        "allow:\n"
        "  customers: [vip, '007']\n"
        "deny:\n"
        "  cards: {file: stolen.txt}\n"
        "  ips: bad_ips\n"
        "rules:\n"
        "  - {id: big, when: amount > 100, action: block}\n"
    )
    ruleset = compile_ruleset(text, catalog, base_dir=tmp_path)
    rows = [
        {"customer_id": "vip", "card_id": "card-1", "ip": "1.1.1.1", "amount": 500.0},
        {"customer_id": "vip", "card_id": "card-9", "ip": "1.1.1.1", "amount": 5.0},
        {"customer_id": "c2", "card_id": "card-2", "ip": "10.0.0.66", "amount": 5.0},
        {"customer_id": "007", "card_id": None, "ip": None, "amount": 5.0},
        {"customer_id": "c3", "card_id": "card-3", "ip": "1.1.1.1", "amount": 5.0},
    ]
    result = ruleset.evaluate(make_frame(catalog, rows), 5)
    labels = [ruleset.access_lists[i].label if i >= 0 else None for i in result.access]
    assert labels == [
        "allow_list.customers",
        "deny_list.cards",  # deny wins over allow
        "deny_list.ips",
        "allow_list.customers",
        None,
    ]


def test_access_list_errors(catalog: FeatureCatalog) -> None:
    text = "version: 1\nallow:\n  customer: [a]\ndeny:\n  ips: nope\nrules: []\n"
    found = diagnostics(text, catalog)
    assert found[0][3] == "unknown allow list 'customer'"
    assert found[1][3] == "'nope' is not a named list of strings"


HASHED = (
    "version: 1\n"
    "lists:\n"
    "  l: [a, b]\n"
    "rules:\n"
    "  - id: x\n"
    "    when: amount > 1000 and country in l\n"
    "    action: review\n"
    "    description: first\n"
)


def test_hash_is_stable_for_the_same_content(catalog: FeatureCatalog) -> None:
    h = compile_ruleset(HASHED, catalog).hash
    assert h == compile_ruleset(HASHED, catalog).hash
    assert len(h) == 64 and int(h, 16) >= 0
    # whitespace, comments, parentheses, number spelling, list order, descriptions: same hash
    same = (
        HASHED.replace("amount > 1000 and country in l", "(amount>1_000.0)   and (country in l)")
        .replace("[a, b]", "[b, a]   # reordered")
        .replace("first", "another description")
    )
    assert compile_ruleset("# a comment\n" + same, catalog).hash == h


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("1000", "1001"),
        ("review", "block"),
        ("[a, b]", "[a, c]"),
        ("id: x", "id: y"),
        ("action: review", "action: review\n    mode: shadow"),
        ("action: review", "action: review\n    score: 0.5"),
        ("and country", "or country"),
    ],
)
def test_hash_changes_with_any_decision_relevant_change(
    catalog: FeatureCatalog, old: str, new: str
) -> None:
    assert (
        compile_ruleset(HASHED.replace(old, new), catalog).hash
        != compile_ruleset(HASHED, catalog).hash
    )


def test_rule_metadata(catalog: FeatureCatalog) -> None:
    text = (
        "version: 1\nrules:\n"
        "  - id: x\n"
        "    when: amount > 1 and customer.is_new_device\n"
        "    action: tag\n"
        "    score: 0.3\n"
        "    mode: shadow\n"
        "    tags: [a, b]\n"
        "    description: words\n"
    )
    rule = compile_ruleset(text, catalog).rules[0]
    assert (rule.id, rule.action, rule.score, rule.mode, rule.tags, rule.description) == (
        "x",
        "tag",
        0.3,
        "shadow",
        ("a", "b"),
        "words",
    )
    assert rule.features == ("amount", "customer.is_new_device")
    assert rule.line == 3 and rule.decision is None and not rule.active


def test_missing_frame_column_is_a_rule_error(catalog: FeatureCatalog) -> None:
    ruleset = compile_ruleset(rules_yaml("{id: a, when: amount > 1, action: review}"), catalog)
    with pytest.raises(RuleError, match="no column 'amount'"):
        ruleset.evaluate({}, 3)
    with pytest.raises(RuleError, match="shape"):
        ruleset.evaluate({"amount": np.zeros(2)}, 3)


def test_unreadable_rule_file(catalog: FeatureCatalog, tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read rule file"):
        load_ruleset(tmp_path / "nope.yaml", catalog)
