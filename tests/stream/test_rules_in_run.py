"""Rules in the embedded driver: --rules, decisions explained, hot reload while running."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
from click.testing import CliRunner
from stream_helpers import make_transactions

from riskstream.cli import main

BIG_AMOUNT_RULES = """\
version: 1
rules:
  - id: big_amount
    when: amount > 100
    action: challenge
    score: 0.7
  - id: shadow_small
    when: amount < 10
    action: block
    mode: shadow
"""


def test_run_with_a_rule_file_explains_each_hit(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(BIG_AMOUNT_RULES)
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(make_transactions(500)))
    out = tmp_path / "out"
    args = ["run", "--input", str(src), "--out", str(out), "--rules", str(rules)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    decisions = [orjson.loads(x) for x in (out / "decisions.jsonl").read_bytes().splitlines()]
    for d, raw in zip(decisions, src.read_bytes().splitlines(), strict=True):
        amount = orjson.loads(raw)["amount"]
        assert (d["rule_hits"] == ["big_amount"]) == (amount > 100)
        assert (d["shadow_hits"] == ["shadow_small"]) == (amount < 10)
        if amount > 100:
            assert d["decision"] in ("challenge", "block")
            assert d["features"]["amount"] == amount
        if amount < 10:
            assert d["decision"] != "block" or d["model_score"] >= 0.97  # shadow never acts
    assert len({d["ruleset_hash"] for d in decisions}) == 1


def test_a_broken_rule_file_at_start_is_an_engine_failure(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrules:\n  - {id: x, when: amount >, action: block}\n")
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(make_transactions(5)))
    result = CliRunner().invoke(
        main, ["run", "--input", str(src), "--out", "-", "--rules", str(rules)]
    )
    assert result.exit_code != 0
    assert "rules.yaml:3:" in result.output


def _decide_one(proc: subprocess.Popen, raw: bytes) -> dict:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(raw + b"\n")
    proc.stdin.flush()
    return orjson.loads(proc.stdout.readline())


def test_a_running_engine_reloads_a_changed_rule_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(BIG_AMOUNT_RULES)
    lines = [orjson.loads(x) for x in make_transactions(6)]
    for record in lines:
        record["amount"] = 500.0
    raws = [orjson.dumps(r) for r in lines]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "riskstream.cli", "run", "--input", "-", "--out", "-"]
    proc = subprocess.Popen(
        [*cmd, "--rules", str(rules)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        first = _decide_one(proc, raws[0])
        assert first["rule_hits"] == ["big_amount"]
        # A broken edit: rejected, the running rule set stays in force.
        rules.write_text(BIG_AMOUNT_RULES.replace("amount > 100", "amount >> 100"))
        time.sleep(0.05)
        broken = _decide_one(proc, raws[1])
        assert broken["rule_hits"] == ["big_amount"]
        assert broken["ruleset_hash"] == first["ruleset_hash"]
        # A good edit: swapped in between two micro-batches.
        rules.write_text(BIG_AMOUNT_RULES.replace("amount > 100", "amount > 1000"))
        time.sleep(0.05)
        fixed = _decide_one(proc, raws[2])
        assert fixed["rule_hits"] == []
        assert fixed["ruleset_hash"] != first["ruleset_hash"]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "rules.yaml:4:18" in stderr  # the broken file's error was logged with its position
