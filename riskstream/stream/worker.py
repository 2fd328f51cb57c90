"""The worker's processing core: a micro-batch of Kafka records in, the records to produce out.

Framework-free (no faust, no aiokafka): `WorkerCore.process` decodes raw record values with
the Engine's own decoder, calls `Engine.score` (profiles are read and written in Redis there),
and returns `Outputs` per topic and partition: decisions, alerts, SMS tasks and dead letters.
The faust app (`riskstream.stream.faust_app`) consumes, calls this, produces, then lets the
offsets be committed; that order is the at-least-once checkpoint.

Replays. After a crash the records since the last committed offset come again. The profile
watermarks mark the transactions already applied (they do not count twice); for those the
outputs stored in the `riskstream.stream.emitted` store (written before anything is produced)
are re-emitted byte for byte, so a transaction has one decision whatever happens. A replayed
transaction with no stored outputs (the process died between the profile write and the store
write, a few ms of formatting and one round trip, so nothing was produced for it; or an
upstream re-send after its batch was committed) is scored again from the current profiles and
its decision carries ``"replayed": true``.

``decision_id`` (added first in every decision) is a 16-hex-digit BLAKE2b of the tx id, the
rule-set hash and the model snapshot: the same transaction decided under the same rules and
model has the same id, a re-emitted decision keeps the id it was first produced with.

Examples
--------
>>> decision_id("tx1", "rs-abc", "heuristic-1")
'95523ffe50b7f036'
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import orjson

from riskstream.alerts.callback import parse_answer
from riskstream.alerts.router import SinkContext, alert_records, register_sink
from riskstream.batch import DeadLetter, TxBatch
from riskstream.decisions import DECISION_CODES, DECISION_NAMES
from riskstream.engine import DecisionBatch, Engine
from riskstream.errors import ConfigError
from riskstream.features.stage import LabelBatch
from riskstream.replay._format import format_decisions, scratch_size
from riskstream.stream.decode import Decoder, parse_event_times
from riskstream.stream.emitted import EmittedStore
from riskstream.stream.metrics import WorkerMetrics
from riskstream.stream.records import sms_task_records

__all__ = [
    "InRecord",
    "Outputs",
    "StreamLabelFeed",
    "WorkerCore",
    "WorkerEngine",
    "WorkerSettings",
    "decision_id",
    "worker_features",
]

log = logging.getLogger(__name__)

_SEP = b"\x1f"
_NO_ALERTS = ("review", "challenge", "block")


def _kafka_sink(spec: Mapping[str, Any], ctx: SinkContext) -> None:
    """``alerts.sinks: [{kind: kafka, topic: T}]``: the worker produces alerts to T itself
    (inside its checkpoint); outside the worker there is nothing to do."""
    return None


register_sink("kafka", _kafka_sink)


def decision_id(tx_id: str, ruleset_hash: str, model_snapshot: str) -> str:
    """The id of a decision: 16 hex digits of BLAKE2b over tx id, rule-set hash and snapshot."""
    text = f"{tx_id}\x1f{ruleset_hash}\x1f{model_snapshot}".encode()
    return hashlib.blake2b(text, digest_size=8).hexdigest()


@dataclass(frozen=True)
class WorkerSettings:
    """The ``worker`` config section, typed, with defaults (see riskstream/data/config.yaml)."""

    app_id: str = "riskstream"
    transactions: str = "transactions"
    decisions: str = "decisions"
    alerts: str = "alerts"
    sms_tasks: str = "sms-tasks"
    dead_letters: str = "dead-letters"
    labels: str = "labels"
    sms_replies: str = "sms-replies"
    partitions: int = 8
    replication: int = 1
    batch_size: int = 500
    max_wait_ms: float = 5.0
    fetch_wait_ms: int = 0
    consumer: str = "direct"
    commit_interval_s: float = 1.0
    session_timeout_s: float = 30.0
    heartbeat_interval_s: float = 3.0
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    emitted_store: str | None = None
    emitted_ttl_s: int = 7 * 86_400
    data_dir: str | None = None
    deny_list_refresh_s: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WorkerSettings:
        """Settings from ``config["worker"]`` (``topics`` nested or flat); unknown keys fail."""
        section = dict(config.get("worker") or {})
        topics = dict(section.pop("topics", None) or {})
        names = {k.replace("-", "_"): v for k, v in topics.items()}
        known = set(cls.__dataclass_fields__)
        unknown = (set(section) | set(names)) - known
        if unknown:
            raise ConfigError(f"worker: unknown keys {sorted(unknown)}")
        sinks = (config.get("alerts") or {}).get("sinks") or ()
        kafka = [x for x in sinks if isinstance(x, Mapping) and x.get("kind") == "kafka"]
        if kafka and kafka[0].get("topic") and "alerts" not in names:
            names["alerts"] = str(kafka[0]["topic"])  # alerts.sinks: [{kind: kafka, topic: T}]
        try:
            return cls(**section, **names)
        except TypeError as exc:
            raise ConfigError(f"worker: {exc}") from exc

    @property
    def output_topics(self) -> tuple[str, ...]:
        return (self.decisions, self.alerts, self.sms_tasks, self.dead_letters)

    @property
    def all_topics(self) -> tuple[str, ...]:
        return (self.transactions, *self.output_topics, self.labels, self.sms_replies)


class InRecord(NamedTuple):
    """One consumed Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int


class Outputs:
    """Records to produce, per topic and partition (a partition's records keep their order)."""

    def __init__(self) -> None:
        self.by_topic: dict[str, dict[int, list[tuple[bytes | None, bytes]]]] = {}
        self.ingest_ms: list[int] = []
        # what the emitted-output store must hold before these are produced (see
        # WorkerCore.process): (topic, partition) -> offset -> packed outputs
        self.stored: dict[tuple[str, int], dict[int, bytes]] = {}

    def add(self, topic: str, partition: int, key: bytes | None, value: bytes) -> None:
        self.by_topic.setdefault(topic, {}).setdefault(partition, []).append((key, value))

    def count(self, topic: str) -> int:
        return sum(len(v) for v in self.by_topic.get(topic, {}).values())

    def __len__(self) -> int:
        return sum(self.count(t) for t in self.by_topic)


class StreamLabelFeed:
    """Labels arriving on a topic, released to the Engine once their label_time has passed.

    Duck-types `riskstream.engine.LabelFeed` (``pending``, ``count_due``, ``release``) and
    grows with `add`; only unreleased labels are kept.

    >>> feed = StreamLabelFeed()
    >>> feed.add(np.array(["a", "b"], dtype=object), np.array([True, False]), np.array([200, 100]))
    >>> feed.release(150).tx_id.tolist(), feed.pending
    (['b'], 1)
    """

    def __init__(self) -> None:
        self._tx_id = np.empty(0, dtype=object)
        self._is_fraud = np.empty(0, dtype=bool)
        self._time = np.empty(0, dtype=np.int64)

    def add(self, tx_id: np.ndarray, is_fraud: np.ndarray, label_time: np.ndarray) -> None:
        tx = np.concatenate([self._tx_id, np.asarray(tx_id, dtype=object)])
        fraud = np.concatenate([self._is_fraud, np.asarray(is_fraud, dtype=bool)])
        times = np.concatenate([self._time, np.asarray(label_time, dtype=np.int64)])
        order = np.argsort(times, kind="stable")
        self._tx_id, self._is_fraud, self._time = tx[order], fraud[order], times[order]

    @property
    def pending(self) -> int:
        return len(self._time)

    def count_due(self, watermarks: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._time, watermarks, side="right")

    def release(self, watermark: int) -> LabelBatch:
        end = int(np.searchsorted(self._time, watermark, side="right"))
        out = LabelBatch(self._tx_id[:end], self._is_fraud[:end], self._time[:end])
        self._tx_id, self._is_fraud, self._time = (
            self._tx_id[end:],
            self._is_fraud[end:],
            self._time[end:],
        )
        return out


class WorkerEngine(Engine):
    """The Engine as the worker runs it: duplicates are the profile watermarks' business.

    The embedded Engine dead-letters a tx id it saw before in this process (an in-memory set
    that grows for ever). In the worker a tx id seen again is a replay: the feature stage's
    watermark recognises it across processes and restarts, and the worker re-emits the stored
    decision. So the in-process set is not kept. (An Engine option for this would replace
    the override; see docs/worker.md.)
    """

    def __init__(self, config: Mapping[str, Any], labels: Any = None) -> None:
        super().__init__(worker_features(config), labels=labels)

    def _drop_duplicates(self, batch: TxBatch) -> tuple[TxBatch, list[DeadLetter]]:
        return batch, []


def worker_features(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the profile-store settings a worker needs.

    Workers share profiles (merchants, devices and payees across partitions; customers when a
    partition moves in a rebalance), so a Redis store runs with ``concurrency: optimistic``
    (WATCH/MULTI, no record cache) unless the config names a concurrency; ``single_writer`` (and
    its cache of records) is logged as unsafe, and ``write_behind`` is refused: the checkpoint
    needs the profiles written before the decisions are produced.

    >>> worker_features({"features": {"store": "redis://h:6379/0"}})["features"]["concurrency"]
    'optimistic'
    """
    out = dict(config)
    section = dict(out.get("features") or {})
    if not str(section.get("store") or "memory://").startswith("memory"):
        if section.get("write_behind"):
            raise ConfigError(
                "features.write_behind cannot be used by the worker: offsets are committed "
                "only after the profiles are written"
            )
        if not section.get("concurrency"):
            section["concurrency"] = "optimistic"
            section["cache_entries"] = 0  # a record cache needs a single writer
        elif section["concurrency"] != "optimistic":
            log.warning(
                "features.concurrency %s: safe only with one worker that never loses its "
                "partitions; several workers need optimistic",
                section["concurrency"],
            )
    out["features"] = section
    return out


class WorkerCore:
    """Turns a micro-batch of input records into the outputs to produce; see the module doc.

    Parameters
    ----------
    engine
        A `WorkerEngine` (its feature stage tells which rows are replays).
    settings
        Topic names.
    emitted
        Where outputs are kept until their offsets are committed.
    metrics
        Counters to update; a private set when omitted.
    """

    def __init__(
        self,
        engine: WorkerEngine,
        settings: WorkerSettings,
        emitted: EmittedStore,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.emitted = emitted
        self.metrics = metrics if metrics is not None else WorkerMetrics()
        self.decoder = Decoder(
            int(engine.config["input"]["max_line_bytes"]),
            int(engine.config["input"]["max_id_length"]),
        )
        alerts = engine.config.get("alerts") or {}
        self.alert_codes = frozenset(
            DECISION_CODES[d] for d in (alerts.get("decisions") or _NO_ALERTS)
        )
        self.alerts_topic = settings.alerts
        self._scratch = np.empty(0, dtype=np.uint8)  # reused by the decision formatter
        self.label_feed = StreamLabelFeed()
        engine.labels = self.label_feed
        self.partitions: dict[str, int] = {}

    # -- transactions ---------------------------------------------------------------------------

    def process(
        self, records: Sequence[InRecord], ingest_ns: int | None = None, store: bool = True
    ) -> Outputs:
        """Decode, score and build the outputs of ``records`` (profiles are written here).

        With ``store=False`` the new outputs are left in ``Outputs.stored`` and the caller
        must `store_outputs` them before producing anything of them (the direct consumer
        does it on a thread of its own, so the scoring thread goes on to the next batch).
        """
        m = self.metrics
        ingest_ns = time.monotonic_ns() if ingest_ns is None else ingest_ns
        out = Outputs()
        if not records:
            return out
        m.records_in.labels(topic=records[0].topic).inc(len(records))
        m.batch_size.observe(len(records))
        if self.engine.poll_rules():
            m.rule_reloads.inc()
            log.info("rule set reloaded", extra={"ruleset_hash": self.engine.ruleset_hash})
        t0 = time.perf_counter()
        batch, dead = self.decoder.decode(
            [r.value for r in records], np.arange(len(records)), ingest_ns
        )
        t1 = time.perf_counter()
        result = self.engine.score(batch)
        t2 = time.perf_counter()
        m.stage.labels(stage="decode").observe(t1 - t0)
        m.stage.labels(stage="score").observe(t2 - t1)
        for db in result.decisions:
            self._decisions(db, records, out)
        dead.extend(result.dead_letters)
        for letter in dead:
            self._dead_letter(letter, records[letter.offset], out)
        m.stage.labels(stage="outputs").observe(time.perf_counter() - t2)
        m.labels_pending.set(self.label_feed.pending)
        if store:
            self.store_outputs(out)
        return out

    def store_outputs(self, out: Outputs) -> None:
        """Write ``out.stored`` to the emitted-output store (one round trip), then forget it.

        Must return before any record of ``out`` is produced: a replay re-emits what is
        stored. Touches only the emitted store, so it may run on another thread than
        `process`.
        """
        if out.stored:
            t0 = time.perf_counter()
            self.emitted.put_many(out.stored)
            out.stored = {}
            self.metrics.stage.labels(stage="store").observe(time.perf_counter() - t0)

    def _decisions(self, db: DecisionBatch, records: Sequence[InRecord], out: Outputs) -> None:
        """Decision records (and alerts, SMS tasks) of ``db`` into ``out``; new ones also into
        ``out.stored``, replays re-emitted from the emitted store where it has them."""
        n = len(db)
        replayed, fresh = db.replayed, out.stored
        db.latency_us = np.full(n, (time.monotonic_ns() - db.batch.ingest_ns) // 1000, np.int64)
        if len(self._scratch) < scratch_size(db):
            self._scratch = np.empty(scratch_size(db), dtype=np.uint8)
        buf, starts = format_decisions(db, self._scratch)  # the bytes of decision_lines
        block = buf.tobytes()
        bounds = starts.tolist()
        index = db.batch.offset.tolist()
        tx_ids = db.batch.tx_id.tolist()
        rs, snap = db.ruleset_hash, db.model_snapshot
        alerts = self._alert_lines(db)
        tasks = {r["tx_id"]: orjson.dumps(r) for r in sms_task_records(db)}
        stored = self._stored(records, index, replayed) if replayed.any() else {}
        counts = np.bincount(db.decision, minlength=len(DECISION_NAMES))
        ids = [decision_id(tx, rs, snap).encode() for tx in tx_ids]
        topic = self.settings.decisions
        target = out.by_topic.setdefault(topic, {})
        n_out = self.partitions.get(topic, 0)
        special = set(alerts) | {i for i in range(n) if tx_ids[i] in tasks}
        if stored or replayed.any():
            special |= set(np.flatnonzero(replayed).tolist())
        for i in range(n):
            rec = records[index[i]]
            line = b'{"decision_id":"%b",%b' % (ids[i], block[bounds[i] + 1 : bounds[i + 1]])
            if i not in special:  # the common case: a decision and nothing else
                rows = fresh.get((rec.topic, rec.partition))
                if rows is None:
                    rows = fresh[(rec.topic, rec.partition)] = {}
                rows[rec.offset] = line
                part = rec.partition % n_out if n_out else rec.partition
                bucket = target.get(part)
                if bucket is None:
                    bucket = target[part] = []
                bucket.append((rec.key, line[:-1]))
                continue
            blob = stored.get((rec.topic, rec.partition, rec.offset))
            if blob is not None:
                self.metrics.replays.labels(outcome="re-emitted").inc()
                counts[db.decision[i]] -= 1
                self._emit_stored(blob, rec, out)
                continue
            if replayed[i]:
                self.metrics.replays.labels(outcome="re-scored").inc()
                line = line[:-2] + b',"replayed":true}\n'
            alert = alerts.get(i, b"")
            task = tasks.get(tx_ids[i], b"")
            fresh.setdefault((rec.topic, rec.partition), {})[rec.offset] = (
                _SEP.join((line, alert, task)) if alert or task else line
            )
            self._emit(rec, line, alert, task, out)
        for code, name in enumerate(DECISION_NAMES):
            if counts[code]:
                self.metrics.decisions.labels(decision=name).inc(int(counts[code]))
        step = max(1, n // 32)
        out.ingest_ms.extend(records[i].timestamp_ms for i in index[::step])

    def _alert_lines(self, db: DecisionBatch) -> dict[int, bytes]:
        rows = np.flatnonzero(np.isin(db.decision, list(self.alert_codes)))
        if len(rows) == 0:
            return {}
        records = alert_records(db, self.alert_codes, rows)
        return {int(i): orjson.dumps(r) for i, r in zip(rows.tolist(), records, strict=True)}

    def _stored(
        self, records: Sequence[InRecord], index: list[int], replayed: np.ndarray
    ) -> dict[tuple[str, int, int], bytes]:
        wanted: dict[tuple[str, int], list[int]] = {}
        for i in np.flatnonzero(replayed).tolist():
            rec = records[index[i]]
            wanted.setdefault((rec.topic, rec.partition), []).append(rec.offset)
        found: dict[tuple[str, int, int], bytes] = {}
        for (topic, partition), offsets in wanted.items():
            for offset, blob in self.emitted.get(topic, partition, offsets).items():
                found[(topic, partition, offset)] = blob
        return found

    def _emit_stored(self, blob: bytes, rec: InRecord, out: Outputs) -> None:
        line, alert, task = [*blob.split(_SEP), b"", b""][:3]
        decision = orjson.loads(line)["decision"]
        self.metrics.decisions.labels(decision=decision).inc()
        self._emit(rec, line, alert, task, out)

    def _emit(self, rec: InRecord, line: bytes, alert: bytes, task: bytes, out: Outputs) -> None:
        s = self.settings
        key = rec.key
        out.add(s.decisions, self._partition(s.decisions, rec.partition), key, line.rstrip(b"\n"))
        if alert:
            self.metrics.alerts.inc()
            topic = self.alerts_topic
            out.add(topic, self._partition(topic, rec.partition), key, alert)
        if task:
            self.metrics.sms_tasks.inc()
            out.add(s.sms_tasks, self._partition(s.sms_tasks, rec.partition), key, task)

    def _dead_letter(self, letter: DeadLetter, rec: InRecord, out: Outputs) -> None:
        s = self.settings
        record = letter.to_json_dict()
        if not letter.raw:
            letter.raw = rec.value
            record = letter.to_json_dict()
        record.update(topic=rec.topic, partition=rec.partition, offset=rec.offset)
        self.metrics.dead_letters.labels(reason=letter.reason.split(":")[0]).inc()
        out.add(
            s.dead_letters, self._partition(s.dead_letters, rec.partition), rec.key, _dumps(record)
        )

    def _partition(self, topic: str, source_partition: int) -> int:
        """Outputs go to the partition of the input's number (co-partitioned topics)."""
        n = self.partitions.get(topic, 0)
        return source_partition % n if n else source_partition

    def trim(self, topic: str, partition: int, committed: int) -> None:
        """Offsets below ``committed`` are committed: their stored outputs are not needed."""
        self.emitted.trim(topic, partition, committed)

    def trim_many(self, committed: Mapping[tuple[str, int], int]) -> None:
        """`trim` for several partitions (one pipelined exchange)."""
        self.emitted.trim_many(committed)

    # -- labels and SMS replies -----------------------------------------------------------------

    def add_labels(self, records: Sequence[InRecord], out: Outputs) -> int:
        """Queue labels (``tx_id``, ``is_fraud``, ``label_time``); bad ones are dead letters."""
        tx_ids, frauds, times, keep = [], [], [], []
        for rec in records:
            reason, tx_id, is_fraud, label_time = _parse_label(rec.value)
            if reason:
                self._dead_letter(DeadLetter(rec.offset, reason, rec.value), rec, out)
                continue
            tx_ids.append(tx_id)
            frauds.append(is_fraud)
            times.append(label_time)
            keep.append(rec)
        return self._queue_labels(tx_ids, frauds, times, keep, out, "labels")

    def add_sms_replies(self, records: Sequence[InRecord], out: Outputs) -> int:
        """SMS replies (``task_id`` or ``tx_id``, ``answer``, ``at``) become labels: no = fraud."""
        tx_ids, frauds, times, keep = [], [], [], []
        for rec in records:
            reason, tx_id, answer, at = _parse_reply(rec.value)
            if reason:
                self._dead_letter(DeadLetter(rec.offset, reason, rec.value), rec, out)
                continue
            tx_ids.append(tx_id)
            frauds.append(answer == "no")
            times.append(at)
            keep.append(rec)
        return self._queue_labels(tx_ids, frauds, times, keep, out, "sms")

    def _queue_labels(
        self,
        tx_ids: list[str],
        frauds: list[bool],
        times: list[object],
        recs: list[InRecord],
        out: Outputs,
        source: str,
    ) -> int:
        parsed, reasons = parse_event_times(times)
        good = [k for k, r in enumerate(reasons) if r is None]
        for k, r in enumerate(reasons):
            if r is not None:
                bad = DeadLetter(recs[k].offset, "invalid_value:label_time", recs[k].value)
                self._dead_letter(bad, recs[k], out)
        if good:
            self.label_feed.add(
                np.array([tx_ids[k] for k in good], dtype=object),
                np.array([frauds[k] for k in good], dtype=bool),
                parsed[good],
            )
        self.metrics.labels.labels(source=source).inc(len(good))
        self.metrics.labels_pending.set(self.label_feed.pending)
        return len(good)


def _dumps(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def _parse_label(value: bytes) -> tuple[str, str, bool, object]:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "invalid_json", "", False, None
    if type(obj) is not dict:
        return "not_an_object", "", False, None
    tx_id, is_fraud = obj.get("tx_id"), obj.get("is_fraud")
    if type(tx_id) is not str or not tx_id:
        return "invalid_value:tx_id", "", False, None
    if type(is_fraud) is not bool:
        return "invalid_value:is_fraud", "", False, None
    return "", tx_id, is_fraud, obj.get("label_time")


def _parse_reply(value: bytes) -> tuple[str, str, str, object]:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "invalid_json", "", "", None
    if type(obj) is not dict:
        return "not_an_object", "", "", None
    tx_id = obj.get("tx_id")
    task_id = obj.get("task_id")
    if type(tx_id) is not str and type(task_id) is str and task_id.startswith("sms-"):
        tx_id = task_id[4:]
    if type(tx_id) is not str or not tx_id:
        return "invalid_value:tx_id", "", "", None
    text = obj.get("answer")
    answer = parse_answer(text) if type(text) is str else None
    if answer is None:
        return "invalid_value:answer", "", "", None
    return "", tx_id, answer, obj.get("at", obj.get("label_time"))
