"""The worker reads the deny list a NO reply feeds (alerts.deny_list, a Redis task store) and
re-reads it while it runs, so a card blocked by one service is blocked by every worker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
import yaml
from worker_helpers import WorkerProcess, read_topic, unique, write_config

from riskstream.alerts.redis_store import RedisTaskStore
from riskstream.alerts.tasks import card_hash
from riskstream.stream.kafka_tools import ensure_topics, produce_lines

pytestmark = pytest.mark.slow


def payment(tx_id: str, card: str, at: str) -> bytes:
    return orjson.dumps(
        {"tx_id": tx_id, "customer_id": f"cu-{card}", "card_id": card, "amount": 25.0,
         "currency": "EUR", "timestamp": at, "merchant_id": "me1", "channel": "pos"}
    )  # fmt: skip


def decisions(brokers: str, topic: str) -> dict[str, dict]:
    return {orjson.loads(v)["tx_id"]: orjson.loads(v) for *_, v in read_topic(brokers, topic, 0.5)}


def test_a_card_blocked_while_the_worker_runs_is_blocked_after_the_next_refresh(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path
) -> None:
    deadline = time.monotonic() + 120
    name = unique("deny")
    prefix = f"rs:{{{name}}}:"
    path = tmp_path / "worker.yaml"
    config = write_config(path, name, redis_url, deny_list_refresh_s=0.3)
    config["alerts"] = {"deny_list": redis_url, "sms": {"redis_prefix": prefix}}
    path.write_text(yaml.safe_dump(config))
    topics = config["worker"]["topics"]
    asyncio.run(ensure_topics(kafka_bootstrap, {topics["transactions"]: 4}))
    worker = WorkerProcess(path, kafka_bootstrap, tmp_path / "w.log").start()
    try:
        assert worker.wait_ready(deadline), worker.tail()
        produce = [payment("before", "card-a", "2026-03-01T10:00:00Z")]
        asyncio.run(produce_lines(kafka_bootstrap, topics["transactions"], produce))
        while "before" not in decisions(kafka_bootstrap, topics["decisions"]):
            assert time.monotonic() < deadline and worker.alive, worker.tail()
        # A NO reply, handled by the SMS service, blocks card-a from 11:00 (event time).
        store = RedisTaskStore(redis_url, prefix=prefix)
        block = {"kind": "card", "card_hash": card_hash("card-a"), "customer_id": "cu-card-a",
                 "blocked_at": "2026-03-01T11:00:00Z", "reason": "sms_denied"}  # fmt: skip
        store.commit(blocks=[block])
        store.close()
        while worker.metric("riskstream_deny_list_entries") < 1:
            assert time.monotonic() < deadline and worker.alive, worker.tail()
            time.sleep(0.1)
        later = [
            payment("after", "card-a", "2026-03-01T12:00:00Z"),
            payment("other", "card-b", "2026-03-01T12:00:00Z"),
        ]
        asyncio.run(produce_lines(kafka_bootstrap, topics["transactions"], later))
        while not {"after", "other"} <= decisions(kafka_bootstrap, topics["decisions"]).keys():
            assert time.monotonic() < deadline and worker.alive, worker.tail()
        assert worker.stop() == 0, worker.tail()
    finally:
        if worker.alive:
            worker.proc.kill()
    decided = decisions(kafka_bootstrap, topics["decisions"])
    hits = {tx: "sms_denied_card" in d["rule_hits"] for tx, d in decided.items()}
    assert hits == {"before": False, "after": True, "other": False}
    assert decided["after"]["decision"] == "block"
