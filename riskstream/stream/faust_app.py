"""The faust-streaming app of ``riskstream worker``: topics, three agents, web pages, a checkpoint.

`create_app(config, brokers)` builds a fresh app (nothing at module level): the ``score``
agent takes micro-batches of raw transaction records (``stream.take_events`` with a bounded
wait) and hands them to `riskstream.stream.worker.WorkerCore`; the ``labels`` and
``sms_replies`` agents feed labels to the Engine. ``/metrics``, ``/healthz`` and ``/readyz``
are served on the faust web port.

The checkpoint (quix-streams style): for each micro-batch, profiles are written (inside
`Engine.score`) and the outputs stored, then every output record is produced and its delivery
awaited (acks from all in-sync replicas); only then does the agent ask for the next batch,
which is when faust acks the batch's events; faust commits acked offsets every
``commit_interval_s`` and on rebalance and shutdown. A batch cancelled half-way (shutdown)
first finishes producing. An exception in an agent is logged with its traceback and the process
exits at once with status 70 without committing anything further: the batch comes again,
elsewhere or after a restart, exactly as after a SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import faust
import redis
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener
from faust.sensors import Monitor
from faust.types import TP

from riskstream.errors import ConfigError, RiskstreamError
from riskstream.stream.emitted import open_emitted_store
from riskstream.stream.kafka_tools import ensure_topics, topic_partitions
from riskstream.stream.metrics import WorkerMetrics
from riskstream.stream.warmup import warm_up
from riskstream.stream.worker import InRecord, Outputs, WorkerCore, WorkerEngine, WorkerSettings

__all__ = ["EXIT_AGENT_FAILED", "BatchProducer", "WorkerRuntime", "create_app", "prepare_topics"]

log = logging.getLogger("riskstream.worker")

T = TypeVar("T")

EXIT_AGENT_FAILED = 70
"""Exit status of a worker whose agent failed (EX_SOFTWARE)."""


class BatchProducer:
    """Produces `Outputs` with aiokafka's batch API and waits until every batch is acknowledged.

    One ``BatchBuilder`` per topic and partition (records appended in order, the partition
    chosen by the worker), ``acks=all`` and idempotence on, so a retried batch is neither
    duplicated nor reordered by the broker.
    """

    def __init__(self, brokers: str, linger_ms: int = 0) -> None:
        self.brokers = brokers
        self.linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self.started = False

    async def start(self) -> None:
        if not self.started:
            self._producer = AIOKafkaProducer(  # created on the running loop
                bootstrap_servers=self.brokers,
                acks="all",
                enable_idempotence=True,
                linger_ms=self.linger_ms,
                max_batch_size=1 << 20,
                max_request_size=8 << 20,
            )
            await self._producer.start()
            self.started = True

    async def stop(self) -> None:
        if self.started and self._producer is not None:
            self.started = False
            await self._producer.stop()

    async def send(self, outputs: Outputs) -> None:
        """Send every record of ``outputs``; returns once all are acknowledged (or raises)."""
        await self.start()
        producer = self._producer
        assert producer is not None
        pending: list[asyncio.Future] = []
        for topic, partitions in outputs.by_topic.items():
            for partition, records in partitions.items():
                batch = producer.create_batch()
                for key, value in records:
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        pending.append(await producer.send_batch(batch, topic, partition=partition))
                        batch = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                pending.append(await producer.send_batch(batch, topic, partition=partition))
        if pending:
            await asyncio.gather(*pending)


class WorkerRuntime:
    """What the agents share: the core, the producer, metrics and health state."""

    def __init__(self, core: WorkerCore, producer: BatchProducer, metrics: WorkerMetrics) -> None:
        self.core = core
        self.producer = producer
        self.metrics = metrics
        self.assigned = False
        self.stopping = False
        self.failed: str | None = None
        self.app: faust.App | None = None
        self.lag_source: Any = None  # the direct consumer, when it is the one reading
        self.executor: ThreadPoolExecutor | None = None  # the scoring thread (direct consumer)
        self.store_executor: ThreadPoolExecutor | None = None  # stored outputs (direct)

    async def in_core(self, fn: Callable[..., T], *args: Any) -> T:
        """Call into the core: on the scoring thread when there is one, else inline.

        The direct consumer scores on a thread of its own, so that the event loop keeps
        fetching, producing, committing and heartbeating while a batch is scored (most of
        which waits on Redis or runs in numpy and numba); one thread, so core calls (batches,
        labels, trims) never overlap. A call always runs to its end: its effects are written.
        """
        return await _on_thread(self.executor, fn, *args)

    async def store(self, outputs: Outputs) -> None:
        """Write the outputs' rows to the emitted-output store (before they are produced).

        On a thread of its own when there is one (the direct consumer's), so the scoring
        thread is not held up by the round trip; one thread, so writes keep their order.
        """
        if outputs.stored:
            await _on_thread(self.store_executor, self.core.store_outputs, outputs)

    async def checkpoint(self, events: Sequence[Any]) -> None:
        """Process one micro-batch of transaction events, produce, and return (see the doc)."""
        await self.checkpoint_records([_record(e) for e in events])

    async def checkpoint_records(self, records: Sequence[InRecord]) -> None:
        """`checkpoint` on records already taken out of their events."""
        ingest_ns = time.monotonic_ns()
        try:
            outputs = self.core.process(records, ingest_ns)
            await self._produce(outputs, ingest_ns)
            self._observe_lag({(r.topic, r.partition): r.offset + 1 for r in records})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the one handler at the stream boundary: crash loudly
            self.fail(exc)

    async def side_input(self, events: Sequence[Any], kind: str) -> None:
        """Labels or SMS replies: queued for the Engine; bad records become dead letters."""
        records = [_record(e) for e in events]
        try:
            out = Outputs()
            if kind == "labels":
                await self.in_core(self.core.add_labels, records, out)
            else:
                await self.in_core(self.core.add_sms_replies, records, out)
            if len(out):
                await self._produce(out, time.monotonic_ns())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.fail(exc)

    async def _produce(self, outputs: Outputs, ingest_ns: int) -> None:
        t0 = time.perf_counter()
        task = asyncio.ensure_future(self.producer.send(outputs))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await task  # a shutdown waits for this batch's records before its offsets are acked
            raise
        done = time.perf_counter()
        self.metrics.stage.labels(stage="produce").observe(done - t0)
        now_ms = time.time() * 1000.0
        worker_s = (time.monotonic_ns() - ingest_ns) / 1e9
        if outputs.ingest_ms:
            latency = self.metrics.latency
            for ms in outputs.ingest_ms[:: max(1, len(outputs.ingest_ms) // 64)]:
                latency.observe(max(0.0, (now_ms - ms) / 1000.0))
            self.metrics.worker_latency.observe(worker_s)

    def _observe_lag(self, next_offsets: Mapping[tuple[str, int], int]) -> None:
        """Consumer lag per partition: its end minus the offset after the batch's last record."""
        if self.app is None:
            return
        consumer = self.lag_source or self.app.consumer
        for (topic, partition), offset in next_offsets.items():
            try:
                high = consumer.highwater(TP(topic, partition))
            except Exception:
                continue
            if high is not None:
                self.metrics.lag.labels(topic=topic, partition=str(partition)).set(
                    max(0, high - offset)
                )

    def fail(self, exc: BaseException) -> None:
        """Log the failure with its traceback and exit now (status 70), committing nothing."""
        self.failed = repr(exc)
        log.critical(
            "agent failed; exiting without committing (the batch will be processed again)",
            exc_info=exc,
            extra={"error": repr(exc)},
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(EXIT_AGENT_FAILED)

    @property
    def ready(self) -> bool:
        return self.assigned and self.failed is None and not self.stopping


async def _on_thread(executor: ThreadPoolExecutor | None, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on ``executor``'s thread (inline without one). A call always runs to its
    end, even when the caller is cancelled meanwhile: its effects are written whole."""
    if executor is None:
        return fn(*args)
    future = asyncio.get_running_loop().run_in_executor(executor, fn, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await future
        raise


def fetch_wait(ms: int) -> dict[str, int]:
    """aiokafka fetch settings: with ``ms`` > 0 the broker holds a fetch until ``ms`` have
    passed (or 1 MB is there) instead of answering as soon as one record is: fewer, fuller
    fetches (less CPU in the worker and the broker per record under a steady stream), up to
    ``ms`` more latency when the worker is idle. 0: aiokafka's defaults."""
    return {"fetch_min_bytes": 1 << 20, "fetch_max_wait_ms": ms} if ms > 0 else {}


class DirectConsumer:
    """``worker.consumer: direct`` (the default): the transactions topic read with aiokafka.

    faust's per-event stream machinery costs ~50 us of CPU per record on the development
    machine, and its ``take_events`` stops filling its buffer while the agent works (see
    docs/worker.md); here a micro-batch is whatever ``getmany`` returns within
    ``max_wait_ms`` (up to ``batch_size``), so batches grow under load and shrink to one record
    when traffic is thin.

    Same checkpoint, pipelined by one batch: a batch is processed (profiles written, outputs
    built) on the scoring thread (`WorkerRuntime.in_core`; the event loop keeps fetching,
    producing and heartbeating meanwhile), and its delivery (store its outputs on the store
    thread, produce, await the acks, then mark its offsets committable, after the previous
    batch's delivery) starts at once as a task; the next batch is fetched and processed while
    it runs. At most ``_DEPTH`` deliveries are in
    flight. Committable offsets are committed (and the stored outputs below
    them trimmed, one pipelined exchange) every ``commit_interval_s`` (by a delivery, or by
    the loop when the stream is idle), and always before partitions move: the rebalance listener
    waits until the batch being scored has its delivery (``handoff``), then for every delivery
    in flight, and commits, so the next owner starts after the last batch processed here. A
    commit refused all the same is logged and the consumer re-seeks to the committed offsets:
    the new owner, or this worker, replays the batch, which the checkpoint makes harmless.
    Labels and SMS replies stay with faust's agents.
    """

    _DEPTH = 2

    def __init__(self, runtime: WorkerRuntime, brokers: str, settings: WorkerSettings) -> None:
        self.runtime = runtime
        self.brokers = brokers
        self.settings = settings
        self.done = asyncio.Event()
        self._reseek = False
        self._inflight: list[asyncio.Future] = []  # deliveries, oldest first
        self._consumer: Any = None
        self._draining = 0
        self._committable: dict[Any, int] = {}  # produced, not yet committed: tp -> next offset
        self._committed_at = time.monotonic()
        self.handoff = asyncio.Event()  # clear while fetched records wait for their delivery
        self.handoff.set()
        self._trim: asyncio.Future | None = None

    async def drain(self) -> None:
        """Wait until every delivery in flight has produced and committed (or failed)."""
        self._draining += 1
        try:
            while self._inflight:
                await _finish(self._inflight[0])
                self._inflight = [t for t in self._inflight if not t.done()]
            if self._committable and self._consumer is not None:
                await self._commit(self._consumer)
        finally:
            self._draining -= 1

    async def run(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.errors import IllegalStateError

        s = self.settings
        runtime = self.runtime
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.brokers,
            group_id=f"{s.app_id}-tx",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
            fetch_max_bytes=64 << 20,
            **fetch_wait(s.fetch_wait_ms),
            session_timeout_ms=int(s.session_timeout_s * 1000),
            heartbeat_interval_ms=int(s.heartbeat_interval_s * 1000),
        )
        await consumer.start()
        self._consumer = consumer
        consumer.subscribe([s.transactions], listener=_Rebalance(runtime, self))
        runtime.lag_source = consumer
        executor = runtime.executor = ThreadPoolExecutor(1, thread_name_prefix="riskstream-score")
        stores = runtime.store_executor = ThreadPoolExecutor(
            1, thread_name_prefix="riskstream-store"
        )
        wait_ms = max(1, int(s.max_wait_ms))
        try:
            while not runtime.stopping:
                self._inflight = [t for t in self._inflight if not t.done()]
                while len(self._inflight) >= self._DEPTH:
                    await _finish(self._inflight[0])
                    self._inflight = [t for t in self._inflight if not t.done()]
                if self._reseek:  # a commit was refused: start again from what is committed
                    await self.drain()
                    self._reseek = False
                    self._committable.clear()
                    assigned = consumer.assignment()
                    try:
                        committed = await consumer.seek_to_committed(*assigned) if assigned else {}
                        never = [tp for tp, offset in committed.items() if not offset]
                        if never:
                            await consumer.seek_to_beginning(*never)
                    except IllegalStateError:  # the assignment moved again: next round
                        self._reseek = True
                    continue
                fetched = await consumer.getmany(timeout_ms=wait_ms, max_records=s.batch_size)
                idle = not fetched and not self._inflight
                if idle and self._committable and self._commit_due():
                    await self._commit(consumer)  # what was produced is committed in time
                if not fetched or self._reseek:
                    continue
                # from here until its delivery is in flight, a revocation waits (handoff)
                self.handoff.clear()
                try:
                    records = [
                        InRecord(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                        for messages in fetched.values()
                        for m in messages
                    ]
                    commit = {tp: messages[-1].offset + 1 for tp, messages in fetched.items()}
                    ingest_ns = time.monotonic_ns()
                    outputs = await runtime.in_core(runtime.core.process, records, ingest_ns, False)
                    previous = self._inflight[-1] if self._inflight else None
                    self._inflight.append(
                        asyncio.ensure_future(
                            self._deliver(consumer, outputs, commit, ingest_ns, previous)
                        )
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the stream boundary: crash loudly, commit nothing
                    runtime.fail(exc)
                finally:
                    self.handoff.set()
        finally:
            await self.drain()  # stopping or cancelled: the batches processed still commit
            await consumer.stop()
            if self._trim is not None:
                await self._trim
            executor.shutdown(wait=True)  # no await: nothing runs in between
            runtime.executor = None  # labels arriving during the shutdown are queued inline
            stores.shutdown(wait=True)
            runtime.store_executor = None
            self.done.set()

    async def _deliver(
        self,
        consumer: Any,
        outputs: Outputs,
        commit: Mapping[Any, int],
        ingest_ns: int,
        previous: asyncio.Future | None,
    ) -> None:
        """Store a processed batch's outputs, produce them and await the acks; then its
        offsets may be committed.

        Deliveries finish in batch order (each waits for the one before it); one commits what
        is committable when the last commit is ``commit_interval_s`` old, or while draining.
        """
        runtime = self.runtime
        try:
            await runtime.store(outputs)
            await runtime._produce(outputs, ingest_ns)
            runtime._observe_lag({(tp.topic, tp.partition): o for tp, o in commit.items()})
            if previous is not None:
                await asyncio.shield(previous)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            runtime.fail(exc)
        if self._reseek:  # an earlier commit was refused: these offsets are replayed too
            return
        self._committable.update(commit)
        if self._draining or self._commit_due():
            await self._commit(consumer)

    def _commit_due(self) -> bool:
        return time.monotonic() - self._committed_at >= self.settings.commit_interval_s

    async def _commit(self, consumer: Any) -> None:
        """Commit the committable offsets, then trim the stored outputs below them."""
        from aiokafka.errors import CommitFailedError, IllegalStateError

        offsets, self._committable = self._committable, {}
        self._committed_at = time.monotonic()
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # Never go on from the fetch position after this: records fetched before the
            # rebalance would be processed and committed past this batch, and the stored
            # outputs it still needs for its replay would be trimmed.
            log.warning("commit refused (rebalance); the batches will be replayed: %r", exc)
            self._reseek = True
            return
        if self._trim is None or self._trim.done():  # else the next commit trims below it
            below = {(tp.topic, tp.partition): o for tp, o in offsets.items()}
            self._trim = asyncio.ensure_future(self._trim_below(below))

    async def _trim_below(self, below: Mapping[tuple[str, int], int]) -> None:
        """Forget the stored outputs below committed offsets (on the scoring thread)."""
        try:
            await self.runtime.in_core(self.runtime.core.trim_many, below)
        except Exception as exc:
            log.warning("trimming stored outputs failed: %r", exc)


class _Rebalance(ConsumerRebalanceListener):
    """Drains the deliveries in flight before partitions move; marks the worker ready."""

    def __init__(self, runtime: WorkerRuntime, direct: DirectConsumer) -> None:
        self.runtime = runtime
        self.direct = direct

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.direct.handoff.wait()  # records being scored get their delivery first
        await self.direct.drain()  # their commits go in while the partitions are still ours

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.runtime.assigned = True


def _deny_list_refresher(core: WorkerCore, metrics: WorkerMetrics) -> Callable[[], Any] | None:
    """With ``alerts.deny_list`` set, a timer task that re-reads it (a NO reply handled by the
    SMS service blocks the card in every worker within ``worker.deny_list_refresh_s``)."""
    engine = core.engine
    if engine.deny_list is None:
        return None
    metrics.deny_list_entries.set(len(engine.deny_list))

    async def refresh_deny_list() -> None:
        try:  # a Redis or file read: off the event loop; the scoring thread swaps lists whole
            entries = await asyncio.to_thread(engine.refresh_deny_list)
        except (RiskstreamError, redis.RedisError, OSError) as exc:
            # the error's type only: its message may hold the store's URL, password included
            log.warning("deny list not refreshed", extra={"error": type(exc).__name__})
            return
        metrics.deny_list_entries.set(entries)

    return refresh_deny_list


async def _finish(task: asyncio.Future) -> None:
    """Await ``task`` even when the caller is cancelled meanwhile (a batch is never left half)."""
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def _record(event: Any) -> InRecord:
    m = event.message
    return InRecord(m.topic, m.partition, m.offset, m.key, m.value, int(m.timestamp * 1000))


async def prepare_topics(brokers: str, settings: WorkerSettings) -> dict[str, int]:
    """Create the missing topics; returns the partition count of each output topic."""
    await ensure_topics(
        brokers, {t: settings.partitions for t in settings.all_topics}, settings.replication
    )
    return await topic_partitions(brokers, settings.output_topics)


def create_app(
    config: Mapping[str, Any],
    brokers: str,
    output_partitions: Mapping[str, int] | None = None,
) -> faust.App:
    """A faust app for ``config`` on ``brokers`` (``host:port[,host:port]``).

    ``output_partitions`` (topic -> partitions, from `prepare_topics`) lets outputs go to the
    partition of the input's number; without it they keep the input partition number.
    """
    settings = WorkerSettings.from_config(config)
    metrics = WorkerMetrics()
    features = config.get("features") or {}
    store_url = settings.emitted_store or str(features.get("store") or "memory://")
    emitted = open_emitted_store(
        store_url, str(features.get("key_prefix", "rs")), settings.app_id, settings.emitted_ttl_s
    )
    core = WorkerCore(WorkerEngine(config), settings, emitted, metrics)
    core.partitions.update(output_partitions or {})
    runtime = WorkerRuntime(core, BatchProducer(brokers), metrics)
    refresh_deny_list = _deny_list_refresher(core, metrics)

    class TrimmingMonitor(Monitor):
        """faust's monitor, plus: committed offsets release the stored outputs below them."""

        def on_tp_commit(self, tp_offsets: Mapping[Any, int]) -> None:
            super().on_tp_commit(tp_offsets)
            for tp, offset in tp_offsets.items():
                if tp.topic == settings.transactions:
                    try:
                        core.trim(tp.topic, tp.partition, offset)
                    except Exception as exc:
                        log.warning("trimming stored outputs failed: %r", exc)

    app = faust.App(
        settings.app_id,
        broker=",".join(f"kafka://{b}" for b in brokers.split(",")),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        datadir=settings.data_dir or tempfile.mkdtemp(prefix="riskstream-worker-"),
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_s,
        broker_commit_every=1_000_000_000,  # commits follow the interval (and rebalances)
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        stream_buffer_maxsize=max(4096, 2 * settings.batch_size),
        producer_acks=-1,
        Monitor=TrimmingMonitor,
    )
    runtime.app = app
    app.riskstream = runtime  # type: ignore[attr-defined] - tests and the CLI reach it here
    raw = {"value_serializer": "raw", "key_serializer": "raw"}
    transactions = app.topic(settings.transactions, **raw)
    labels = app.topic(settings.labels, **raw)
    replies = app.topic(settings.sms_replies, **raw)
    within = settings.max_wait_ms / 1000.0

    if settings.consumer == "direct":
        direct = DirectConsumer(runtime, brokers, settings)
        app.task(direct.run)
    elif settings.consumer == "faust":
        direct = None

        @app.agent(transactions, name="score", concurrency=1)
        async def score(stream: faust.StreamT) -> None:
            async for events in stream.take_events(settings.batch_size, within=within):
                await runtime.checkpoint(events)
    else:
        raise ConfigError(f"worker.consumer: {settings.consumer!r} is not faust or direct")

    @app.agent(labels, name="labels", concurrency=1)
    async def label_agent(stream: faust.StreamT) -> None:
        async for events in stream.take_events(1000, within=0.05):
            await runtime.side_input(events, "labels")

    @app.agent(replies, name="sms_replies", concurrency=1)
    async def reply_agent(stream: faust.StreamT) -> None:
        async for events in stream.take_events(1000, within=0.05):
            await runtime.side_input(events, "sms")

    if refresh_deny_list is not None:
        app.timer(interval=settings.deny_list_refresh_s)(refresh_deny_list)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        body, content_type = metrics.exposition()
        plain = "; ".join(p for p in content_type.split("; ") if not p.startswith("charset"))
        return web.bytes(body, content_type=plain)  # aiohttp takes no charset here

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ok = runtime.failed is None
        return web.json({"status": "ok" if ok else "failed"}, status=200 if ok else 500)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ready = runtime.ready and not app.rebalancing
        metrics.ready.set(1 if ready else 0)
        body = {"ready": ready, "partitions": len(app.consumer.assignment()) if ready else 0}
        return web.json(body, status=200 if ready else 503)

    @app.on_partitions_assigned.connect
    async def on_assigned(app: faust.App, assigned: Any, **kwargs: Any) -> None:
        runtime.assigned = True
        log.info("partitions assigned", extra={"partitions": sorted(str(tp) for tp in assigned)})

    @app.on_before_shutdown.connect
    async def on_shutdown(app: faust.App, **kwargs: Any) -> None:
        runtime.stopping = True
        if direct is not None:
            await asyncio.wait_for(direct.done.wait(), settings.session_timeout_s)
        await runtime.producer.stop()  # after the consumers drained and committed
        core.emitted.close()
        core.engine.features.close()
        log.info("worker stopped")

    return app


def run_worker(config: Mapping[str, Any], brokers: str, loglevel: str = "info") -> None:
    """Create the topics, build the app and run it until SIGTERM/SIGINT (or an agent fails)."""
    from riskstream.stream.jsonlog import logging_config

    settings = WorkerSettings.from_config(config)
    logging.config.dictConfig(logging_config(loglevel))  # faust applies the same one later
    # the scoring path compiled before Kafka hands this worker a partition (see the module)
    log.info("warm-up done", extra={"seconds": round(warm_up(config), 3)})
    loop = asyncio.new_event_loop()  # faust runs on this loop afterwards
    asyncio.set_event_loop(loop)
    partitions = loop.run_until_complete(prepare_topics(brokers, settings))
    app = create_app(config, brokers, partitions)
    worker = faust.Worker(
        app,
        loglevel=loglevel,
        logging_config=logging_config(loglevel),
        redirect_stdouts=False,
        quiet=True,
        loop=loop,
    )
    worker.execute_from_commandline()
