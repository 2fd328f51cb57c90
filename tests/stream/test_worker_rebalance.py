"""A worker joining mid-stream takes partitions over without any re-delivery.

With the direct consumer, the worker giving partitions away waits for the batch it is scoring
and for every delivery in flight, and commits, before the group moves them: the new owner
starts exactly after the last batch the old one processed. So a graceful rebalance (a second
worker joins, then both stop with SIGTERM) leaves one decision record per transaction, not
merely one distinct decision, and the profiles count every transaction once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from stream_helpers import make_transactions
from worker_helpers import WorkerProcess, profile_tx_sum, read_topic, unique, write_config

from riskstream.stream.kafka_tools import ensure_topics, produce_lines

pytestmark = pytest.mark.slow


def _own_card(line: bytes) -> bytes:
    """One card per customer: profiles shared by every transaction (make_transactions' seven
    cards) make two workers conflict on every batch, which is not what this test is about."""
    record = orjson.loads(line)
    record["card_id"] = "card-" + record["customer_id"]
    return orjson.dumps(record)


def test_a_worker_joining_mid_stream_causes_no_redelivery(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    deadline = time.monotonic() + 150
    name = unique("rebalance")
    config = tmp_path / "worker.yaml"
    topics = write_config(config, name, redis_url, consumer="direct")["worker"]["topics"]
    lines = [_own_card(line) for line in make_transactions(30_000, seed=7, customers=400)]
    asyncio.run(ensure_topics(kafka_bootstrap, {topics["transactions"]: 4}))

    first = WorkerProcess(config, kafka_bootstrap, tmp_path / "a.log").start()
    second = WorkerProcess(config, kafka_bootstrap, tmp_path / "b.log")
    try:
        assert first.wait_ready(deadline), first.tail()
        feed = produce_lines(kafka_bootstrap, topics["transactions"], lines, rate=2000)
        thread = threading.Thread(target=asyncio.run, args=(feed,))
        thread.start()
        while first.metric("riskstream_records_in_total") < 1000:
            assert first.alive and time.monotonic() < deadline, first.tail()
            time.sleep(0.1)
        second.start()  # joins the group while the stream flows (15 s): partitions move
        assert second.wait_ready(deadline), second.tail()
        thread.join(120)
        assert not thread.is_alive(), "the producer did not finish in time"
        done = 0.0
        while done < len(lines):
            assert first.alive and second.alive, first.tail() + second.tail()
            assert time.monotonic() < deadline, f"{done:.0f} of {len(lines)} scored"
            time.sleep(0.5)
            done = first.metric("riskstream_records_in_total") + second.metric(
                "riskstream_records_in_total"
            )
        took_over = second.metric("riskstream_records_in_total")
        assert first.stop() == 0, first.tail()
        assert second.stop() == 0, second.tail()
    finally:
        for w in (first, second):
            if w.alive:
                w.proc.kill()

    assert took_over > 0, "the second worker got no partition"
    decisions = read_topic(kafka_bootstrap, topics["decisions"], idle_s=1.0)
    per_tx = Counter(orjson.loads(v)["tx_id"] for *_, v in decisions)
    assert len(per_tx) == len(lines)
    again = {tx: n for tx, n in per_tx.items() if n > 1}
    assert not again, f"{len(again)} transactions decided more than once, e.g. {next(iter(again))}"
    assert profile_tx_sum(redis_url, name)[1] == len(lines)
