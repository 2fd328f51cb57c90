"""`riskstream rules check` and `riskstream rules test` (through click's CliRunner)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from riskstream.rules.cli import rules
from riskstream.rules.loader import default_ruleset_path

CATALOG_YAML = """
features:
  - {name: amount, type: number}
  - {name: country, type: string}
  - {name: customer_id, type: string}
  - {name: timestamp, type: time}
  - {name: customer.is_new_device, type: bool, entity: customer}
"""
RULES = """version: 1
rules:
  - id: big_new_device
    when: amount > 1000 and customer.is_new_device
    action: challenge
  - id: ng
    when: country == 'NG'
    action: review
    mode: shadow
"""


def setup(tmp_path: Path) -> tuple[Path, Path]:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG_YAML)
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(RULES)
    return catalog, rule_file


def test_check_valid_files_exits_0(tmp_path: Path) -> None:
    catalog, rule_file = setup(tmp_path)
    result = CliRunner().invoke(rules, ["check", str(rule_file), "--catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    assert f"{rule_file}: ok, 2 rules (1 shadow), hash " in result.output


def test_check_shipped_default_with_shipped_catalog() -> None:
    result = CliRunner().invoke(rules, ["check", str(default_ruleset_path())])
    assert result.exit_code == 0, result.output


def test_check_prints_file_line_column_and_exits_1(tmp_path: Path) -> None:
    catalog, rule_file = setup(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(RULES.replace("amount > 1000", "amount > 'abc'").replace("NG'", "NG"))
    result = CliRunner().invoke(
        rules, ["check", str(rule_file), str(broken), "--catalog", str(catalog)]
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{rule_file}: ok")
    assert lines[1] == f"{broken}:4:18: rule 'big_new_device': cannot compare number with string"
    assert lines[2] == "    when: amount > 'abc' and customer.is_new_device"
    assert lines[3] == "                 ^"
    assert f"{broken}:7:22: rule 'ng': unterminated string" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_check_unreadable_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(rules, ["check", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert "none.yaml:1:1: cannot read rule file" in result.output


CASES = """
cases:
  - name: big payment on a new device is challenged
    features: {amount: 5000, customer.is_new_device: true, country: FR}
    expect: {hits: [big_new_device], action: challenge, shadow_hits: []}
  - name: nigeria is only a shadow hit
    features: {amount: 10, country: NG, timestamp: "2024-01-01T00:00:00Z"}
    model_score: 0.1
    expect: {hits: [], shadow_hits: [ng], action: allow, not_hits: [big_new_device]}
"""


def test_rules_test_passes_and_fails(tmp_path: Path) -> None:
    catalog, rule_file = setup(tmp_path)
    cases = tmp_path / "cases.yaml"
    cases.write_text(CASES)
    args = ["test", str(rule_file), "--cases", str(cases), "--catalog", str(catalog)]
    result = CliRunner().invoke(rules, args)
    assert result.exit_code == 0, result.output
    assert "PASS big payment on a new device is challenged" in result.output
    assert "2 cases passed, 0 failed" in result.output

    cases.write_text(CASES.replace("action: challenge", "action: block"))
    result = CliRunner().invoke(rules, args)
    assert result.exit_code == 1
    assert f"FAIL big payment on a new device is challenged ({cases}:3)" in result.output
    assert "action: expected block, got challenge" in result.output
    assert "1 cases passed, 1 failed" in result.output


def test_rules_test_reports_bad_cases_with_positions(tmp_path: Path) -> None:
    catalog, rule_file = setup(tmp_path)
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: x\n"
        "    features: {amout: 5, amount: 'many'}\n"
        "    expect: {hits: [big_new_devise], action: blocked}\n"
    )
    args = ["test", str(rule_file), "--cases", str(cases), "--catalog", str(catalog)]
    result = CliRunner().invoke(rules, args)
    assert result.exit_code == 1
    assert f"{cases}:3:16: unknown feature 'amout'" in result.output
    assert "did you mean 'amount'?" in result.output
    assert f"{cases}:3:34: amount is a number: expected a number, got 'many'" in result.output
    assert f"{cases}:4:21: no rule 'big_new_devise'" in result.output
    assert f"{cases}:4:46: unknown decision 'blocked'" in result.output
