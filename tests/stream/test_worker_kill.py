"""The worker's delivery guarantee against a real broker and a real Redis: SIGKILL mid-stream.

Two workers share a steady stream of simulated transactions (partitioned by customer); one is
killed with SIGKILL mid-stream and restarted. Afterwards every tx id has exactly one distinct
decision (re-deliveries carry the same bytes, hence the same decision id), the customer
profiles in Redis count every transaction once, and every bad input line is a dead letter.
The test stops itself at a deadline and says where it was.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from worker_helpers import (
    WorkerProcess,
    profile_tx_sum,
    read_topic,
    unique,
    write_config,
)

from riskstream.stream.kafka_tools import ensure_topics, produce_lines

pytestmark = pytest.mark.slow

DEADLINE_S = 170.0
RATE = 6000.0  # records/s: a steady stream lasting ~9 s

BAD_LINES = [
    b"not json at all",
    b'{"tx_id":"bad-1","customer_id":"cu000001","amount":-5,"currency":"EUR",'
    b'"timestamp":"2026-01-01T00:00:00Z"}',
    b'{"tx_id":"bad-2","customer_id":"cu000002","currency":"EUR",'
    b'"timestamp":"2026-01-01T00:00:00Z"}',
    b"[1,2,3]",
    b'{"tx_id":"bad-3","customer_id":"cu000003","amount":10,"currency":"euro",'
    b'"timestamp":"2026-01-01T00:00:00Z"}',
]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("sim")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from riskstream.cli import main; main()",
            "simulate",
            "--customers",
            "2000",
            "--days",
            "9",
            "--seed",
            "11",
            "--out",
            str(out),
            "--quiet",
        ],
        check=True,
        timeout=120,
    )
    return (out / "transactions.jsonl").read_bytes().splitlines()


@pytest.mark.parametrize("consumer", ["faust", "direct"])
def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(
    kafka_bootstrap: str, redis_url: str, simulated: list[bytes], tmp_path: Path, consumer: str
) -> None:
    started = time.monotonic()
    deadline = started + DEADLINE_S
    name = unique("kill")
    config = tmp_path / "worker.yaml"
    settings = write_config(config, name, redis_url, consumer=consumer)
    topics = settings["worker"]["topics"]
    lines = list(simulated)
    for k, bad in enumerate(BAD_LINES):  # spread the bad lines over the stream
        lines.insert((k + 1) * len(lines) // (len(BAD_LINES) + 1), bad)
    assert len(simulated) >= 50_000
    asyncio.run(ensure_topics(kafka_bootstrap, {topics["transactions"]: 4}))

    a = WorkerProcess(config, kafka_bootstrap, tmp_path / "a.log").start()
    b = WorkerProcess(config, kafka_bootstrap, tmp_path / "b.log").start()
    restarted: WorkerProcess | None = None
    where = "starting the workers"
    try:
        assert a.wait_ready(deadline) and b.wait_ready(deadline), "workers not ready"
        where = "producing"
        produced: dict = {}

        def feed() -> None:
            produced["report"] = asyncio.run(
                produce_lines(kafka_bootstrap, topics["transactions"], lines, rate=RATE)
            )

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        # kill A once it has scored a few thousand records, mid-stream
        while a.metric("riskstream_records_in_total") < 4000 and time.monotonic() < deadline:
            assert a.alive, a.tail()
            time.sleep(0.05)
        assert time.monotonic() < deadline, "worker A never got going"
        killed_at = a.metric("riskstream_records_in_total")
        a.signal(signal.SIGKILL)
        a.proc.wait(10)
        where = "restarting the killed worker"
        time.sleep(1.0)
        restarted = WorkerProcess(config, kafka_bootstrap, tmp_path / "a2.log").start()
        feeder.join(max(1.0, deadline - time.monotonic()))
        assert not feeder.is_alive(), "the producer did not finish in time"
        assert produced["report"].records == len(lines)

        where = "waiting for every decision"
        valid = len(simulated)
        seen: set[bytes] = set()
        decisions: list = []
        dead: list = []
        while time.monotonic() < deadline:
            decisions = read_topic(kafka_bootstrap, topics["decisions"], idle_s=1.0)
            seen = {orjson.loads(v)["tx_id"] for *_, v in decisions}
            if len(seen) >= valid:
                break
            assert b.alive, b.tail()
            assert restarted.alive, restarted.tail()
            time.sleep(1.0)
        dead = read_topic(kafka_bootstrap, topics["dead_letters"], idle_s=1.0)
        assert len(seen) == valid, (
            f"{valid - len(seen)} transactions without a decision after "
            f"{time.monotonic() - started:.0f} s\nB:\n{b.tail()}\nA2:\n{restarted.tail()}"
        )
        replays = b.metric("riskstream_replays_total") + restarted.metric(
            "riskstream_replays_total"
        )
        where = "stopping the workers"
        assert b.stop() == 0, b.tail()
        assert restarted.stop() == 0, restarted.tail()
    finally:
        for w in (a, b, restarted):
            if w is not None and w.alive:
                w.proc.kill()
    assert time.monotonic() < deadline, f"deadline passed while {where}"

    # one distinct decision per transaction; duplicates are byte-identical (same decision_id)
    by_tx: dict[str, set[bytes]] = defaultdict(set)
    for *_, value in decisions:
        by_tx[orjson.loads(value)["tx_id"]].add(value)
    conflicting = {tx: v for tx, v in by_tx.items() if len(v) > 1}
    if conflicting:  # where they came from, for the failure message
        tx = next(iter(conflicting))
        print([(p, o, v[:60], v[-80:]) for _, p, o, _, v in decisions if tx.encode() in v])
        for w in ("a", "b", "a2"):
            print(w, (tmp_path / f"{w}.log").read_text()[-1500:])
    assert not conflicting, f"{len(conflicting)} tx with differing decisions, e.g. " + str(
        next(iter(conflicting.values()))
    )
    ids = {orjson.loads(next(iter(v)))["decision_id"] for v in by_tx.values()}
    assert len(ids) == valid
    expected_tx = {orjson.loads(line)["tx_id"] for line in simulated}
    assert set(by_tx) == expected_tx

    # every transaction counted exactly once in the customer profiles
    customers, n_tx = profile_tx_sum(redis_url, name)
    assert n_tx == valid, f"profiles count {n_tx} transactions, {valid} were sent"

    # every bad line is a dead letter (re-deliveries may repeat one, never lose one)
    raws = {orjson.loads(v).get("raw", "").encode() for *_, v in dead}
    assert raws == set(BAD_LINES)
    print(
        f"\nkill test ({consumer}): {valid} tx, {len(decisions)} decision records "
        f"({len(decisions) - valid} re-deliveries), A killed after {killed_at:.0f} records, "
        f"replays seen {replays:.0f}, {customers} customers, "
        f"{time.monotonic() - started:.0f} s"
    )
