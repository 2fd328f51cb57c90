"""Replay end to end: same records as `run`, label time, comparison, audit verify and replay."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.replay._format import format_decisions
from riskstream.replay.cli import audit, replay
from riskstream.replay.driver import replay_history
from riskstream.replay.inputs import read_history
from riskstream.stream.decode import Decoder
from riskstream.stream.embedded import run_embedded
from riskstream.stream.labels import read_labels
from riskstream.stream.records import decision_lines

_VOLATILE = re.compile(rb'"latency_us":-?\d+,"seq":\d+,"prev_hash":"[0-9a-f]{64}"')


def _lines(path: Path) -> list[bytes]:
    return [_VOLATILE.sub(b"", x) for x in path.read_bytes().splitlines()]


def test_replay_writes_the_same_records_as_run(transactions_file: Path, tmp_path: Path) -> None:
    run_embedded(transactions_file, str(tmp_path / "run"), Engine())
    result = CliRunner().invoke(
        replay,
        [
            "--input",
            str(transactions_file),
            "--out",
            str(tmp_path / "rp"),
            "--quiet",
            "--batch-size",
            "1000",
        ],
    )
    assert result.exit_code == 0, result.output
    run_lines = _lines(tmp_path / "run" / "decisions.jsonl")
    assert len(run_lines) == 3000
    assert _lines(tmp_path / "rp" / "decisions.jsonl") == run_lines  # byte for byte
    for name in ("alerts.jsonl", "sms_tasks.jsonl", "dead_letters.jsonl", "summary.json"):
        assert (tmp_path / "rp" / name).exists()
    again = tmp_path / "rp2"
    CliRunner().invoke(replay, ["--input", str(transactions_file), "--out", str(again), "--quiet"])
    assert _lines(again / "decisions.jsonl") == run_lines  # and again, at another batch size


def _db_with_hits(seed: int):
    rng = np.random.default_rng(seed)
    lines = [
        orjson.dumps({"tx_id": f"t{i}", "customer_id": f"c{int(rng.integers(5))}",
                      "amount": float(rng.choice([1.0, 3.0, 50.0, 3000.0, 6000.0])),
                      "currency": "EUR", "timestamp": 1_767_225_600_000 + i * 1000,
                      "type": str(rng.choice(["purchase", "transfer"])), "channel": "ecom"})
        for i in range(400)
    ]  # fmt: skip
    batch, _ = Decoder().decode(lines)
    db = Engine(load_config(model={"kind": "heuristic"})).score(batch).decisions[0]
    db.latency_us = rng.integers(0, 10**6, len(db))
    return db, rng


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6))
def test_the_kernel_formats_exactly_like_decision_lines(seed: int) -> None:
    db, rng = _db_with_hits(seed)
    assert db.explanations  # some rows with hits go through orjson
    n = len(db)
    for scale in (1.0, 1e-4, 1e-6):
        db.score = rng.random(n) * scale
        db.model_score = rng.random(n) * scale
        db.fraud_probability = np.where(rng.random(n) < 0.5, np.nan, rng.random(n))
        buf, starts = format_decisions(db)
        assert buf.tobytes() == b"".join(decision_lines(db))
        assert len(starts) == n + 1
    db.batch.customer_id[3] = 'needs "escaping"'
    assert format_decisions(db)[0].tobytes() == b"".join(decision_lines(db))


def test_a_label_is_never_visible_before_its_label_time(case: dict[str, Path]) -> None:
    labels, _ = read_labels(case["labels"])
    engine = Engine(load_config(case["config"]), labels=labels)
    calls: list[tuple[np.ndarray, Any]] = []
    compute = engine.features.compute

    def spy_compute(batch, labels=None):
        calls.append((np.asarray(batch.timestamp), labels))
        return compute(batch, labels=labels)

    engine.features.compute = spy_compute
    replay_history(read_history(case["tx"], batch_size=64), case["tx"].parent / "o", engine)
    label_times = sorted(lb["label_time"] for lb in _label_rows(case))
    released: list[int] = []  # label times handed over with earlier batches
    watermark = np.iinfo(np.int64).min
    for ts, due in calls:
        times = due.labels.label_time.tolist() if due is not None else []
        for i, t in enumerate(ts.tolist()):
            watermark = max(watermark, t)
            visible = released + times[: int(due.due[i])] if due is not None else released
            assert all(v <= watermark for v in visible)  # never early
            assert len(visible) == sum(v <= watermark for v in label_times)  # never late
        released.extend(times)
    assert len(released) == 5


def _label_rows(case: dict[str, Path]) -> list[dict]:
    return [orjson.loads(x) for x in case["labels"].read_bytes().splitlines()]


def test_comparison_of_two_rule_sets(case: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ["--input", str(case["tx"]), "--labels", str(case["labels"]), "--config",
            str(case["config"]), "--rules", str(case["new"]), "--compare", str(case["old"]),
            "--out", str(out), "--report", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(replay, args)
    assert result.exit_code == 0, result.output
    c = orjson.loads((out / "comparison.json").read_bytes())
    # huge (amount > 1000, challenge) is new: t3 and t9 go from review to challenge
    assert c["changed"] == 2 and c["changed_by_transition"] == {"review -> challenge": 2}
    assert c["customers_newly_challenged"] == 2
    assert sorted(c["newly_challenged_examples"]) == ["c1", "c3"]
    assert {e["tx_id"] for e in c["examples"]} == {"t3", "t9"}
    assert c["fraud"]["old"]["caught"] == c["fraud"]["new"]["caught"] == 2  # t3, t5
    assert c["fraud"]["new"]["by_decision"]["challenge"] == 1
    decided = [orjson.loads(x) for x in (out / "decisions.jsonl").read_bytes().splitlines()]
    assert {d["tx_id"]: d["decision"] for d in decided}["t3"] == "challenge"  # the new rules
    assert "Rule-set comparison" in (out / "report.html").read_text()


@pytest.fixture
def run_dir(case: dict[str, Path], tmp_path: Path) -> Path:
    config = load_config(case["config"])
    config["rules"]["path"] = str(case["rules"])
    labels, _ = read_labels(case["labels"])
    run_embedded(case["tx"], str(tmp_path / "run"), Engine(config, labels=labels))
    return tmp_path / "run"


def _audit(*args: str):
    return CliRunner().invoke(audit, list(args))


def test_audit_verify_cli(run_dir: Path) -> None:
    log = run_dir / "decisions.jsonl"
    result = _audit("verify", str(log))
    assert result.exit_code == 0 and "ok: 10 records" in result.output
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([*lines[:4], lines[4].replace(b'"allow"', b'"block"'), *lines[5:]]))
    result = _audit("verify", str(log))
    assert result.exit_code == 1 and "broken at line 5" in result.output
    log.write_bytes(b"".join([*lines[:3], lines[4], lines[3], *lines[5:]]))
    assert "broken at line 4" in _audit("verify", str(log)).output
    log.write_bytes(b"".join(lines[:-2]))
    result = _audit("verify", str(log))
    assert result.exit_code == 1 and "removed from the end" in result.output


def test_audit_replay_on_a_runs_own_output(run_dir: Path, case: dict[str, Path]) -> None:
    log = run_dir / "decisions.jsonl"
    base = ["replay", "--decisions", str(log), "--input", str(case["tx"]), "--labels",
            str(case["labels"]), "--config", str(case["config"])]  # fmt: skip
    missing = _audit(*base)
    assert missing.exit_code == 1 and "--rules" in missing.output  # rules found by hash only
    result = _audit(*base, "--rules", str(case["tx"].parent))
    assert result.exit_code == 0, result.output
    assert "10 decisions recorded, 10 recomputed, 0 mismatches" in result.output


def test_audit_replay_reports_every_mismatch(run_dir: Path, case: dict[str, Path]) -> None:
    from riskstream.replay.audit import ChainedWriter

    log = run_dir / "decisions.jsonl"
    records = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    records[2]["score"] = 0.99  # a forged, re-chained log: the chain is intact, the data not
    records[6]["decision"] = "block"
    del records[8]
    writer = ChainedWriter.open(log)
    writer.write_lines([
        orjson.dumps({k: v for k, v in r.items() if k not in ("seq", "prev_hash")}) + b"\n"
        for r in records
    ])  # fmt: skip
    writer.close()
    result = _audit("replay", "--decisions", str(log), "--input", str(case["tx"]), "--labels",
                    str(case["labels"]), "--config", str(case["config"]), "--rules",
                    str(case["rules"]))  # fmt: skip
    assert result.exit_code == 1
    assert "3 mismatches" in result.output
    assert "line 3: tx t2: score: recorded 0.99" in result.output
    assert "line 7: tx t6: decision" in result.output
    assert "tx t8: decided, but not recorded" in result.output


def test_a_row_of_a_batch_that_spanned_a_rotation_names_its_snapshot_among_others() -> None:
    from riskstream.replay.audit_replay import _differences

    recorded = {"tx_id": "t", "score": 0.5, "model_snapshot": "hst:a+fb:x,hst:b+fb:x"}
    assert _differences(recorded, {**recorded, "model_snapshot": "hst:b+fb:x"}) == ""
    assert "model_snapshot" in _differences(recorded, {**recorded, "model_snapshot": "hst:c"})
    assert _differences(recorded, {**recorded, "score": 0.5000004}) == ""  # 6 decimals
    assert "score" in _differences(recorded, {**recorded, "score": 0.500002})


def test_audit_replay_follows_a_rule_reload_in_the_log(case: dict[str, Path]) -> None:
    """A log whose rule set changed mid-run (hot reload) recomputes with each rule set."""
    from riskstream.replay.audit import ChainedWriter
    from riskstream.rules import load_ruleset

    engine = Engine(load_config(case["config"]))
    old, new = (load_ruleset(case[k], engine.catalog) for k in ("old", "new"))
    log = case["tx"].parent / "reloaded.jsonl"
    writer = ChainedWriter.open(log)
    batch = next(read_history(case["tx"]).chunks)
    for rules, part in ((old, slice(0, 4)), (new, slice(4, 10))):
        engine.rules = rules
        for db in engine.score(batch.take(part)).decisions:
            db.latency_us = np.zeros(len(db), np.int64)
            writer.write_lines(decision_lines(db))
    writer.close()
    hashes = [orjson.loads(x)["ruleset_hash"] for x in log.read_bytes().splitlines()]
    assert hashes == [old.hash] * 4 + [new.hash] * 6
    base = ["replay", "--decisions", str(log), "--input", str(case["tx"]), "--config",
            str(case["config"])]  # fmt: skip
    result = _audit(*base, "--rules", str(case["old"]), "--rules", str(case["new"]))
    assert result.exit_code == 0, result.output
    assert "10 recomputed, 0 mismatches" in result.output
    result = _audit(*base, "--rules", str(case["old"]))
    assert result.exit_code == 1 and new.hash[:16] in result.output


def test_replay_of_csv_with_a_column_mapping(case: dict[str, Path], tmp_path: Path) -> None:
    rows = [orjson.loads(x) for x in case["tx"].read_bytes().splitlines()]
    header = "id,who,value,currency,when,card_id,channel,type"
    lines = [header] + [
        f"{r['tx_id']},{r['customer_id']},{r['amount']},{r['currency']},{r['timestamp']},"
        f"{r['card_id']},{r['channel']},{r['type']}"
        for r in rows
    ]
    csv = tmp_path / "history.csv"
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "csv-out"
    args = ["--input", str(csv), "--out", str(out), "--config", str(case["config"]), "--quiet",
            "--map", "tx_id=id", "--map", "customer_id=who", "--map", "amount=value",
            "--map", "timestamp=when"]  # fmt: skip
    result = CliRunner().invoke(replay, args)
    assert result.exit_code == 0, result.output
    reference = tmp_path / "jsonl-out"
    CliRunner().invoke(replay, ["--input", str(case["tx"]), "--out", str(reference), "--config",
                                str(case["config"]), "--quiet"])  # fmt: skip
    assert _lines(out / "decisions.jsonl") == _lines(reference / "decisions.jsonl")
