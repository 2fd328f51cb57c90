"""The worker's processing core without Kafka: outputs, dead letters, replays, labels, config."""

from __future__ import annotations

import orjson
import pytest
from stream_helpers import make_transactions

from riskstream.config import load_config
from riskstream.errors import ConfigError
from riskstream.stream.emitted import MemoryEmittedStore, open_emitted_store
from riskstream.stream.worker import (
    InRecord,
    WorkerCore,
    WorkerEngine,
    WorkerSettings,
    decision_id,
)


def _core(store_url: str = "memory://", emitted=None, **features) -> WorkerCore:
    config = load_config()
    config["features"].update(store=store_url, **features)
    return WorkerCore(WorkerEngine(config), WorkerSettings(), emitted or MemoryEmittedStore())


def _records(lines: list[bytes], partitions: int = 3, first: int = 0) -> list[InRecord]:
    return [
        InRecord("transactions", i % partitions, first + i, b"k", line, 0)
        for i, line in enumerate(lines)
    ]


def _decisions(out) -> list[dict]:
    return [orjson.loads(v) for recs in out.by_topic["decisions"].values() for _, v in recs]


def test_every_record_gets_a_decision_or_a_dead_letter_with_its_position() -> None:
    core = _core()
    lines = make_transactions(40)
    lines[7] = b"{broken"
    out = core.process(_records(lines))
    decisions = _decisions(out)
    assert len(decisions) == 39
    (dead,) = [orjson.loads(v) for recs in out.by_topic["dead-letters"].values() for _, v in recs]
    assert dead["reason"] == "invalid_json"
    assert (dead["topic"], dead["partition"], dead["offset"]) == ("transactions", 1, 7)
    assert dead["raw"] == "{broken"
    first = decisions[0]
    assert next(iter(first)) == "decision_id"
    assert first["decision_id"] == decision_id(
        first["tx_id"], first["ruleset_hash"], first["model_snapshot"]
    )


def test_outputs_keep_the_input_partition_and_key() -> None:
    core = _core()
    core.partitions["decisions"] = 2
    out = core.process(_records(make_transactions(30), partitions=3))
    assert set(out.by_topic["decisions"]) == {0, 1}  # 3 input partitions folded onto 2
    assert all(k == b"k" for recs in out.by_topic["decisions"].values() for k, _ in recs)


def test_a_replayed_batch_re_emits_the_stored_bytes_and_counts_nothing_twice() -> None:
    emitted = MemoryEmittedStore()
    core = _core(emitted=emitted)
    records = _records(make_transactions(60, customers=5))
    first = core.process(records)
    # a new process (empty engine) sharing the profiles and the emitted store: a restart
    again = WorkerCore(core.engine, core.settings, emitted, core.metrics)
    second = again.process(records)
    assert second.by_topic["decisions"] == first.by_topic["decisions"]
    assert core.metrics.replays.labels(outcome="re-emitted")._value.get() == 60
    n_tx = sum(
        int(core.engine.features.store.get("customer", f"cu{c:04d}")["n_tx"]) for c in range(5)
    )
    assert n_tx == 60


def test_a_replay_without_stored_outputs_is_rescored_and_marked() -> None:
    core = _core()
    records = _records(make_transactions(10, customers=2))
    core.process(records)
    core.emitted.trim("transactions", 0, 10**9)
    core.emitted.trim("transactions", 1, 10**9)
    core.emitted.trim("transactions", 2, 10**9)
    decisions = _decisions(core.process(records))
    assert all(d.get("replayed") is True for d in decisions)


def test_labels_wait_for_event_time_and_bad_labels_are_dead_letters() -> None:
    core = _core()
    from riskstream.stream.worker import Outputs

    out = Outputs()
    labels = [
        b'{"tx_id":"tx0000001","is_fraud":true,"label_time":"2030-01-01T00:00:00Z"}',
        b'{"tx_id":"tx0000002","is_fraud":"yes","label_time":"2026-01-01T00:00:00Z"}',
    ]
    replies = [b'{"task_id":"sms-tx0000003","answer":"NO","at":1767225600000}', b'{"x":1}']
    assert (
        core.add_labels([InRecord("labels", 0, i, None, v, 0) for i, v in enumerate(labels)], out)
        == 1
    )
    assert (
        core.add_sms_replies(
            [InRecord("sms-replies", 0, i, None, v, 0) for i, v in enumerate(replies)], out
        )
        == 1
    )
    reasons = sorted(orjson.loads(v)["reason"] for _, v in out.by_topic["dead-letters"][0])
    assert reasons == ["invalid_value:is_fraud", "invalid_value:tx_id"]
    assert core.label_feed.pending == 2
    core.process(_records(make_transactions(5)))  # event time 2026-01: the reply is due
    assert core.label_feed.pending == 1


def test_settings_read_topics_and_reject_unknown_keys() -> None:
    s = WorkerSettings.from_config({"worker": {"topics": {"sms-tasks": "x"}, "partitions": 3}})
    assert (s.sms_tasks, s.partitions, s.decisions) == ("x", 3, "decisions")
    with pytest.raises(ConfigError, match="unknown keys"):
        WorkerSettings.from_config({"worker": {"partitons": 3}})
    sink = {"alerts": {"sinks": [{"kind": "file"}, {"kind": "kafka", "topic": "risk-alerts"}]}}
    assert WorkerSettings.from_config(sink).alerts == "risk-alerts"


@pytest.mark.redis
def test_redis_emitted_store_round_trip_and_trim(redis_url: str) -> None:
    store = open_emitted_store(redis_url, prefix="t-emit", group="g1", ttl_s=60)
    store.put("tx", 2, {10: b"a", 11: b"b"})
    store.put("tx", 2, {12: b"c"})
    assert store.get("tx", 2, [11, 12, 13]) == {11: b"b", 12: b"c"}
    store.trim("tx", 2, 12)
    assert store.get("tx", 2, [10, 11, 12]) == {12: b"c"}
    store.close()


@pytest.mark.parametrize("where", ["memory", "redis"])
def test_a_replayed_batch_with_the_same_span_never_replaces_the_first_outputs(
    where: str, request: pytest.FixtureRequest
) -> None:
    # worker A stores offsets 0..9; worker B replays the same span and stores only the rows
    # it had to score (here 7): the first outputs of every offset must survive, also for 7
    prefix = unique_prefix()
    if where == "memory":
        first = second = MemoryEmittedStore()
    else:
        url = request.getfixturevalue("redis_url")
        first = open_emitted_store(url, prefix=prefix, group="g", ttl_s=60)
        second = open_emitted_store(url, prefix=prefix, group="g", ttl_s=60)
    first.put("tx", 0, {o: b"A%d" % o for o in range(10)})
    second.put("tx", 0, {0: b"B0", 9: b"B9"})
    assert second.get("tx", 0, list(range(10))) == {o: b"A%d" % o for o in range(10)}
    second.trim("tx", 0, 10)  # committed: every field below goes, whoever wrote it
    assert first.get("tx", 0, list(range(10))) == {}


def unique_prefix() -> str:
    import uuid

    return f"t-{uuid.uuid4().hex[:8]}"


def test_outputs_stored_by_the_caller_are_re_emitted_like_the_inline_ones() -> None:
    emitted = MemoryEmittedStore()
    core = _core(emitted=emitted)
    records = _records(make_transactions(30, customers=4))
    out = core.process(records, store=False)
    assert sum(len(rows) for rows in out.stored.values()) == 30
    assert emitted.get("transactions", 0, [r.offset for r in records]) == {}
    core.store_outputs(out)  # before anything of out is produced
    assert out.stored == {}
    again = WorkerCore(core.engine, core.settings, emitted, core.metrics).process(records)
    assert again.by_topic["decisions"] == out.by_topic["decisions"]
