"""The embedded driver end to end: counts, outputs, determinism, streaming from a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_helpers import make_transactions

from riskstream.cli import main
from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.stream.embedded import run_embedded

LATENCY_FIELDS = ("latency_us", "prev_hash")  # the audit chain hashes lines with latency


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def without_latency(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in LATENCY_FIELDS} for r in records]


def test_run_writes_every_output_and_a_summary(transactions_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--input", str(transactions_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("decisions.jsonl", "alerts.jsonl", "sms_tasks.jsonl", "dead_letters.jsonl"):
        assert (out / name).exists()
    decisions = read_jsonl(out / "decisions.jsonl")
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert len(decisions) == 3000 == summary["decisions_out"]
    assert sum(summary["decisions"].values()) == 3000
    expected_fields = {
        "tx_id", "decision", "score", "rule_hits", "shadow_hits", "model_score", "features",
        "fraud_probability",
        "ruleset_hash", "model_snapshot", "engine_version", "event_time", "latency_us",
    }  # fmt: skip
    assert expected_fields <= decisions[0].keys()
    assert all(0.0 <= d["score"] <= 1.0 for d in decisions)
    assert {d["decision"] for d in decisions} <= {"allow", "review", "challenge", "block"}
    assert summary["latency_us"]["p99"] >= summary["latency_us"]["p50"] > 0
    alerts = read_jsonl(out / "alerts.jsonl")
    flagged = [d["tx_id"] for d in decisions if d["decision"] != "allow"]
    assert [a["tx_id"] for a in alerts] == flagged
    tasks = read_jsonl(out / "sms_tasks.jsonl")
    assert [t["tx_id"] for t in tasks] == [
        d["tx_id"] for d in decisions if d["decision"] == "challenge"
    ]


def test_bad_lines_are_data_not_failures(transactions_file: Path, tmp_path: Path) -> None:
    lines = transactions_file.read_bytes().splitlines()
    lines[5] = b"{broken"
    lines[9] = lines[3]  # a repeated tx_id
    lines.insert(20, b"   ")  # blank: neither a decision nor a dead letter
    transactions_file.write_bytes(b"\n".join(lines))  # no final newline either
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--input", str(transactions_file), "--out", str(out)])
    assert result.exit_code == 0
    dead = read_jsonl(out / "dead_letters.jsonl")
    assert [(d["offset"], d["reason"]) for d in dead] == [(5, "invalid_json"), (9, "duplicate")]
    assert dead[1]["raw"].encode() == lines[3]
    assert len(read_jsonl(out / "decisions.jsonl")) == 2998


def test_an_unreadable_input_is_an_engine_failure(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "--input", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    assert "cannot read input" in result.output


def test_a_broken_config_is_an_engine_failure(tmp_path: Path, transactions_file: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("engine: [unclosed\n")
    result = CliRunner().invoke(
        main,
        ["run", "--input", str(transactions_file), "--out", "-", "--config", str(config)],
    )
    assert result.exit_code != 0 and "not valid YAML" in result.output


def test_same_input_gives_the_same_decisions_bit_for_bit(
    transactions_file: Path, tmp_path: Path
) -> None:
    outputs = []
    for batch_size, name in ((2048, "a"), (2048, "b"), (7, "c")):
        engine = Engine(load_config(engine={"batch_size": batch_size, "max_wait_ms": 5}))
        run_embedded(transactions_file, str(tmp_path / name), engine)
        outputs.append(without_latency(read_jsonl(tmp_path / name / "decisions.jsonl")))
    assert outputs[0] == outputs[1]
    assert outputs[0] == outputs[2]  # the micro-batch size does not change a decision


@st.composite
def garbage_lines(draw: st.DrawFn) -> list[bytes]:
    good = make_transactions(5, seed=draw(st.integers(0, 1000)))
    junk = st.one_of(
        st.binary(max_size=200),
        st.text(max_size=100).map(str.encode),
        st.sampled_from(good),
        st.builds(
            lambda base, key, value: orjson.dumps({**orjson.loads(base), key: value}),
            st.sampled_from(good),
            st.sampled_from(["tx_id", "amount", "timestamp", "currency", "lat", "mcc", "type"]),
            st.one_of(
                st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=30), st.lists(st.integers(-1000, 1000), max_size=3),
            ),
        ),
    )  # fmt: skip
    return draw(st.lists(junk, max_size=40))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=garbage_lines())
def test_every_line_yields_one_decision_or_one_dead_letter(
    tmp_path: Path, lines: list[bytes]
) -> None:
    # Newlines inside generated bytes split a "line" in two; count what the file really holds.
    data = b"\n".join(lines) + b"\n"
    expected = [x for x in data.split(b"\n") if x.strip()]
    src = tmp_path / "in.jsonl"
    src.write_bytes(data)
    out = tmp_path / "out"
    summary = run_embedded(src, str(out), Engine())
    decisions = read_jsonl(out / "decisions.jsonl")
    dead = read_jsonl(out / "dead_letters.jsonl")
    assert len(decisions) + len(dead) == len(expected) == summary.lines_in
    offsets = sorted([d["offset"] for d in dead])
    assert len(set(offsets)) == len(offsets)  # one dead letter per line at most


def test_stdin_streams_decisions_as_lines_arrive(tmp_path: Path) -> None:
    """A thin stream is scored line by line: each decision comes out before the next line."""
    lines = make_transactions(3)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskstream.cli", "run", "--input", "-", "--out", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for raw in lines:
            proc.stdin.write(raw + b"\n")
            proc.stdin.flush()
            started = time.monotonic()
            decision = orjson.loads(proc.stdout.readline())
            assert decision["tx_id"] == orjson.loads(raw)["tx_id"]
            assert time.monotonic() - started < 30
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    summary = orjson.loads(proc.stderr.read().splitlines()[-1])["summary"]
    assert summary["decisions_out"] == 3


def test_online_model_decisions_and_snapshot_ids_do_not_depend_on_batching(
    tmp_path: Path,
) -> None:
    """With labels and hourly snapshot rotations, batch sizes 2048 and 13 agree exactly."""
    from riskstream.simulate import simulate
    from riskstream.stream.labels import read_labels

    data = tmp_path / "data"
    simulate(customers=40, days=4, seed=5, out_dir=data)
    outputs = []
    for batch_size in (2048, 13):
        config = load_config(
            engine={"batch_size": batch_size},
            model={"kind": "online", "snapshots": {"every": "1h"}, "anomaly": {"warmup_rows": 200}},
        )
        labels, _ = read_labels(data / "labels.jsonl")
        out = tmp_path / f"out{batch_size}"
        run_embedded(data / "transactions.jsonl", str(out), Engine(config, labels=labels))
        outputs.append(without_latency(read_jsonl(out / "decisions.jsonl")))
    assert len({d["model_snapshot"] for d in outputs[0]}) > 5  # rotations really happened
    assert all("," not in d["model_snapshot"] for d in outputs[0])  # one snapshot a decision
    assert outputs[0] == outputs[1]
