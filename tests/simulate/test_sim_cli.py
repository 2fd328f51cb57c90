"""`riskstream simulate` on the command line."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from riskstream.cli import main


def test_simulate_command_writes_all_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["simulate", "--customers", "40", "--days", "3", "--seed", "1", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--start", "2026-02-01", "--fraud-rate", "0.01"])
    assert result.exit_code == 0, result.output
    assert "transactions" in result.output
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["parameters"]["start"] == "2026-02-01"
    assert manifest["parameters"]["fraud_rate"] == 0.01
    lines = (out / "transactions.jsonl").read_bytes().splitlines()
    assert len(lines) == manifest["counts"]["transactions"]
    assert orjson.loads(lines[0])["timestamp"].startswith("2026-02-01T")
    for name in ("labels.jsonl", "contacts.jsonl", "merchants.jsonl"):
        assert (out / name).stat().st_size > 0


def test_simulate_rejects_bad_arguments(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "x")
    assert runner.invoke(main, ["simulate", "--out", out, "--days", "0"]).exit_code == 2
    assert runner.invoke(main, ["simulate", "--out", out, "--start", "2026-13-01"]).exit_code == 2
    assert runner.invoke(main, ["simulate", "--out", out, "--fraud-rate", "0.9"]).exit_code == 2
