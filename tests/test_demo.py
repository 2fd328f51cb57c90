"""`make demo` end to end on a tiny bank: it prints its summary and writes every output."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from riskstream.demo import main


def test_demo_prints_a_summary_and_writes_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    main(["--out", str(out), "--customers", "60", "--days", "6", "--seed", "3"])
    printed = capsys.readouterr().out
    for heading in ("Decisions", "alerts:", "SMS tasks:", "dead letters: 4", "throughput:"):
        assert heading in printed
    summary = orjson.loads((out / "run" / "summary.json").read_bytes())
    assert summary["dead_letters_out"] == 4
    assert summary["decisions_out"] + summary["dead_letters_out"] == summary["lines_in"]
    assert "decisions.jsonl" in printed and "dead_letters.jsonl" in printed
