"""The worker as a service: endpoints, JSON logs, rule hot reload, SIGTERM, produce/consume."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from stream_helpers import make_transactions
from worker_helpers import WorkerProcess, read_topic, unique, write_config

from riskstream.stream.kafka_tools import ensure_topics, produce_lines
from riskstream.stream.worker_cli import consume, produce

pytestmark = pytest.mark.slow

NEW_RULE = """
  - id: test_reload_marker
    when: amount > 1000000
    action: review
    mode: shadow
    description: added while the worker runs
"""


def _wait(predicate, deadline: float, what: str, worker: WorkerProcess) -> None:
    while time.monotonic() < deadline:
        if predicate():
            return
        assert worker.alive, worker.tail()
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail()}")


@pytest.mark.parametrize("consumer", ["faust", "direct"])
def test_endpoints_logs_reload_and_sigterm_without_duplicates(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, consumer: str
) -> None:
    deadline = time.monotonic() + 150
    name = unique("svc")
    config = tmp_path / "worker.yaml"
    rules = tmp_path / "rules.yaml"
    default = Path(__file__).parents[2] / "riskstream" / "data" / "rules" / "default.yaml"
    rules.write_text(default.read_text())
    settings = write_config(config, name, redis_url, consumer=consumer)
    topics = settings["worker"]["topics"]
    lines = make_transactions(12_000, seed=3, customers=300)
    card = "4111111111111111"
    lines[100] = b'{"tx_id":"x","card_id":"' + card.encode() + b'","amount":"oops"}'
    asyncio.run(ensure_topics(kafka_bootstrap, {topics["transactions"]: 4}))

    first = WorkerProcess(config, kafka_bootstrap, tmp_path / "w1.log", ["--rules", str(rules)])
    first.start()
    second = None
    try:
        assert first.wait_ready(deadline), first.tail()
        assert first.get("/healthz")[0] == 200
        asyncio.run(produce_lines(kafka_bootstrap, topics["transactions"], lines[:2000]))
        _wait(
            lambda: first.metric("riskstream_records_in_total") >= 2000,
            deadline,
            "the first 2000",
            first,
        )
        status, body = first.get("/metrics")
        assert status == 200
        for name_ in (
            b'riskstream_decisions_total{decision="allow"}',
            b'riskstream_dead_letters_total{reason="missing_field"}',
            b"riskstream_end_to_end_latency_seconds_bucket",
            b'riskstream_stage_seconds_count{stage="score"}',
            b"riskstream_batch_size_count",
            b"riskstream_consumer_lag{",
        ):
            assert name_ in body, name_
        # hot reload: a changed rule file is swapped in between batches
        rules.write_text(rules.read_text() + NEW_RULE)
        time.sleep(1.1)
        asyncio.run(produce_lines(kafka_bootstrap, topics["transactions"], lines[2000:2100]))
        _wait(
            lambda: first.metric("riskstream_rule_reloads_total") >= 1,
            deadline,
            "a rule reload",
            first,
        )
        # SIGTERM mid-stream: the batch in hand is finished and committed, nothing is redone
        rest = lines[2100:]
        feed = produce_lines(kafka_bootstrap, topics["transactions"], rest, rate=3000)
        thread = threading.Thread(target=asyncio.run, args=(feed,))
        thread.start()
        _wait(
            lambda: first.metric("riskstream_records_in_total") >= 4000,
            deadline,
            "records after the reload",
            first,
        )
        first.signal(signal.SIGTERM)
        assert first.proc.wait(60) == 0, first.tail()
        second = WorkerProcess(config, kafka_bootstrap, tmp_path / "w2.log").start()
        thread.join(60)

        def decided() -> int:
            records = read_topic(kafka_bootstrap, topics["decisions"], idle_s=0.5)
            return len({orjson.loads(v)["tx_id"] for *_, v in records})

        _wait(lambda: decided() >= len(lines) - 1, deadline, "every decision", second)
        assert second.stop() == 0, second.tail()
    finally:
        for w in (first, second):
            if w is not None and w.alive:
                w.proc.kill()

    decisions = read_topic(kafka_bootstrap, topics["decisions"], idle_s=1.0)
    per_tx = Counter(orjson.loads(v)["tx_id"] for *_, v in decisions)
    assert len(per_tx) == len(lines) - 1
    assert max(per_tx.values()) == 1, "a graceful stop must not redo committed work"
    reloaded = {orjson.loads(v)["ruleset_hash"] for *_, v in decisions}
    assert len(reloaded) == 2
    # logs: JSON lines, the card number of the bad line nowhere
    for log in (tmp_path / "w1.log", tmp_path / "w2.log"):
        text = log.read_text()
        assert card not in text
        for line in text.splitlines():
            if line.startswith("{"):
                orjson.loads(line)
        assert sum(line.startswith("{") for line in text.splitlines()) > 3


def test_produce_and_consume_commands_round_trip(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = unique("pc")
    source = tmp_path / "tx.jsonl"
    lines = make_transactions(300, customers=7)
    source.write_bytes(b"\n".join(lines) + b"\n")
    asyncio.run(ensure_topics(kafka_bootstrap, {topic: 3}))
    runner = CliRunner()
    result = runner.invoke(
        produce, ["--brokers", kafka_bootstrap, "--topic", topic, "--input", str(source)]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        consume,
        ["--brokers", kafka_bootstrap, "--topic", topic, "--out", str(out), "--count", "300"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(out.read_bytes().splitlines()) == sorted(lines)
    records = read_topic(kafka_bootstrap, topic, idle_s=1.0)
    partitions_of = {}
    for _, partition, _, key, value in records:
        customer = orjson.loads(value)["customer_id"]
        assert key == customer.encode()
        partitions_of.setdefault(customer, set()).add(partition)
    assert all(len(p) == 1 for p in partitions_of.values())  # a customer, one partition


def test_consume_audit_keeps_one_line_per_decision_id_in_a_verified_chain(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    from riskstream.replay.audit import verify_log

    topic = unique("audit")
    first = [orjson.dumps({"decision_id": f"d{i}", "tx_id": f"t{i}"}) for i in range(50)]
    lines = first + first[10:20]  # re-deliveries: the same records again
    source = tmp_path / "decisions.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    asyncio.run(ensure_topics(kafka_bootstrap, {topic: 1}))
    runner = CliRunner()
    args = ["--brokers", kafka_bootstrap, "--topic", topic]
    result = runner.invoke(produce, [*args, "--input", str(source), "--key-field", "tx_id"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(consume, [*args, "--out", str(out), "--count", "60", "--audit"])
    assert result.exit_code == 0, result.output
    kept = [orjson.loads(line)["decision_id"] for line in out.read_bytes().splitlines()]
    assert kept == [f"d{i}" for i in range(50)]
    assert verify_log(out).ok
