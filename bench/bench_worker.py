"""bench_worker: the streaming worker on a loopback Kafka broker and Redis, against plain faust.

Starts a Kafka broker and a Redis server on loopback (riskstream.stream.localservices), a
simulated bank's transactions, and then, each in a subprocess of its own:

1. sustained rate: a backlog of transactions in the input topic, one worker started on it;
   transactions/s measured between 10% and 90% of the backlog (worker's /metrics);
2. latency: a steady stream at 50% and at 90% of that rate; end-to-end latency per
   transaction = Kafka timestamp of its decision (the decisions topic has
   ``message.timestamp.type: LogAppendTime``: the broker's clock when it appended the
   decision) - Kafka timestamp of its input record (set by the load generator when it built
   the record's batch), milliseconds, same machine: p50, p99, p99.9; with the mean batch
   size and the mean time per batch of each stage (the worker's /metrics);
3. the framework's own cost: the same backlog through a plain faust agent that only decodes
   (the Engine's decoder) and forwards the raw records, same take_events batching and same
   batch producer; the ratio worker / plain agent.

Steps 1-2 run for both transaction consumers (``worker.consumer: faust``, the agent with
``stream.take_events``, and ``direct``, aiokafka's batch fetch inside the faust app).

Also: the processing core alone (``--core 100 500 2000``: `WorkerCore.process` with Redis
profiles and stored outputs, no Kafka, per batch size: wall time, and CPU time of the worker
thread and of redis-server per transaction, which hold up better on a shared machine), and
latency runs at fixed rates only (``--rates 2500 4000``), to compare two versions at the same
load. ``--model KIND`` sets ``model.kind`` (default: the shipped config's).

Usage: .venv/bin/python bench/bench_worker.py [--backlog 150000] [--seconds 15]
       [--consumers faust direct] [--profile DIR]  (py-spy collapsed stacks of each run)
       [--rates R ...] [--core N ...] [--core-tx 6000] [--model online|heuristic]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import orjson
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskstream.stream.kafka_tools import (  # noqa: E402
    ensure_topics,
    produce_lines,
    produce_steady,
)
from riskstream.stream.localservices import (  # noqa: E402
    KafkaBroker,
    RedisServer,
    ensure_kafka_installed,
    ensure_redis_installed,
)

PARTITIONS = 4
STAGES = ("decode", "score", "outputs", "store", "produce")
BROKER_PID = -1  # the Kafka broker's process, set once it runs
WARMUP = 4000  # records scored before a latency run (numba caches, connections)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            body = r.read()
    except OSError:
        return -1.0
    return sum(
        float(m.group(1))
        for m in re.finditer(rb"^" + name.encode() + rb"(?:\{[^}]*\})? (\S+)$", body, re.M)
    )


def _snapshot(port: int) -> dict[str, float]:
    """Sums and counts of the worker's stage and batch-size histograms (for per-batch means)."""
    out: dict[str, float] = {}
    for stage in STAGES:
        for part in ("sum", "count"):
            name = f'riskstream_stage_seconds_{part}{{stage="{stage}"}}'
            out[f"{stage}_{part}"] = _metric_exact(port, name)
    for part in ("sum", "count"):
        out[f"batch_{part}"] = _metric_exact(port, f"riskstream_batch_size_{part}")
    return out


def _metric_exact(port: int, sample: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            body = r.read()
    except OSError:
        return -1.0
    m = re.search(rb"^" + re.escape(sample.encode()) + rb" (\S+)$", body, re.M)
    return float(m.group(1)) if m else 0.0


def _per_batch(before: dict[str, float], after: dict[str, float]) -> str:
    """Mean batch size and mean ms per batch of each stage between two snapshots."""
    batches = after["batch_count"] - before["batch_count"]
    if batches <= 0:
        return "no batches"
    size = (after["batch_sum"] - before["batch_sum"]) / batches
    parts = [f"{batches:,.0f} batches of {size:,.1f} records"]
    for stage in STAGES:
        n = after[f"{stage}_count"] - before[f"{stage}_count"]
        if n > 0:
            ms = 1000 * (after[f"{stage}_sum"] - before[f"{stage}_sum"]) / n
            parts.append(f"{stage} {ms:.2f}")
    return parts[0] + "; ms per batch: " + ", ".join(parts[1:])


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, all its threads."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _CpuMeter:
    """CPU µs a transaction of each process on the path between two points: the worker,
    redis-server, the Kafka broker and this process (the load generator). Comparable between
    versions on a shared machine, where wall times are not; their sum against the machine's
    cores is the most transactions/s this machine could carry with everything on it."""

    def __init__(self, pid: int, redis_url: str, port: int) -> None:
        self.pid, self.port = pid, port
        self.client = redis.Redis.from_url(redis_url)
        self.start = self._now()

    def _now(self) -> tuple[float, ...]:
        records = _metric(self.port, "riskstream_records_in_total")
        return (
            _proc_cpu(self.pid),
            _redis_cpu(self.client),
            _proc_cpu(BROKER_PID),
            _proc_cpu(os.getpid()),
            records,
        )

    def report(self) -> str:
        now = self._now()
        self.client.close()
        n = now[-1] - self.start[-1]
        if n <= 0:
            return "CPU: no records"
        us = [1e6 * (b - a) / n for a, b in zip(self.start[:-1], now[:-1], strict=True)]
        ceiling = (os.cpu_count() or 1) * 1e6 / sum(us)
        return (
            f"CPU µs a tx: worker {us[0]:.1f}, redis-server {us[1]:.1f}, broker {us[2]:.1f}, "
            f"load generator {us[3]:.1f}; all {sum(us):.1f} = at most {ceiling:,.0f} tx/s "
            f"on {os.cpu_count()} cores"
        )


def _profile(pid: int, name: str) -> subprocess.Popen | None:
    """py-spy record (collapsed stacks) of ``pid`` until SIGINT, when --profile is given."""
    if not args.profile:
        return None
    out = Path(args.profile) / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
    cmd += ["--nonblocking", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _end_profile(spy: subprocess.Popen | None) -> None:
    if spy is not None and spy.poll() is None:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()


def _config(tmp: Path, name: str, redis_url: str, consumer: str) -> Path:
    topics = {
        t: f"{name}-{t}"
        for t in ("transactions", "decisions", "alerts", "sms_tasks", "dead_letters")
    }
    topics |= {"labels": f"{name}-labels", "sms_replies": f"{name}-sms_replies"}
    config = {
        "features": {"store": redis_url, "key_prefix": name},
        **({"model": {"kind": args.model}} if args.model else {}),
        "worker": {
            "app_id": name,
            "topics": topics,
            "partitions": PARTITIONS,
            "max_wait_ms": args.max_wait_ms,
            **({"fetch_wait_ms": args.fetch_wait_ms} if args.fetch_wait_ms else {}),
            "consumer": consumer,
            "data_dir": str(tmp / f"{name}-data"),
        },
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with log.open("ab") as handle:
        return subprocess.Popen(
            cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, env=env and os.environ | env
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _worker_cmd(brokers: str, config: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from riskstream.stream.worker_cli import worker; worker()",
        "--brokers",
        brokers,
        "--config",
        str(config),
        "--web-port",
        str(port),
        "--loglevel",
        "warning",
    ]


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit("worker exited during startup")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("worker not ready in time")


def _sustained(port: int, total: int, timeout: float = 300.0) -> float:
    """tx/s between 10% and 90% of ``total`` records, from the counter on /metrics."""
    end = time.monotonic() + timeout
    marks: list[tuple[float, float]] = []
    while time.monotonic() < end:
        n = _metric(port, "riskstream_records_in_total")
        marks.append((time.monotonic(), n))
        if n >= total:
            break
        time.sleep(0.25)
    lo = next((t, n) for t, n in marks if n >= 0.1 * total)
    hi = next((t, n) for t, n in marks if n >= 0.9 * total)
    return (hi[1] - lo[1]) / (hi[0] - lo[0])


def _produce(brokers: str, topic: str, lines: list[bytes], rate: float | None) -> None:
    if rate:
        asyncio.run(produce_steady(brokers, topic, lines, rate))
    else:
        asyncio.run(produce_lines(brokers, topic, lines))


def _timestamps(brokers: str, topic: str) -> dict[str, int]:
    """Kafka timestamp (ms) of the first record of each tx id in ``topic``."""

    async def run() -> dict[str, int]:
        from aiokafka import AIOKafkaConsumer

        out: dict[str, int] = {}

        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=brokers, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        idle = time.monotonic()
        try:
            while time.monotonic() - idle < 3.0:
                batches = await consumer.getmany(timeout_ms=300, max_records=50_000)
                for messages in batches.values():
                    idle = time.monotonic()
                    for m in messages:
                        tx = orjson.loads(m.value)["tx_id"]
                        out.setdefault(tx, m.timestamp)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def _latency(brokers: str, name: str, skip: set[str]) -> tuple[int, np.ndarray]:
    sent = _timestamps(brokers, f"{name}-transactions")
    decided = _timestamps(brokers, f"{name}-decisions")
    sent = {t: ts for t, ts in sent.items() if t not in skip}
    both = [decided[t] - sent[t] for t in sent if t in decided]
    return len(sent), np.array(both, dtype=np.float64)


def _topics(brokers: str, name: str) -> None:
    """The input topic, and the decisions topic timestamped by the broker when it appends."""
    asyncio.run(ensure_topics(brokers, {f"{name}-transactions": PARTITIONS}))
    asyncio.run(
        ensure_topics(
            brokers,
            {f"{name}-decisions": PARTITIONS},
            configs={"message.timestamp.type": "LogAppendTime"},
        )
    )


def _sustained_phase(
    brokers: str, redis_url: str, tmp: Path, consumer: str, lines: list[bytes]
) -> tuple[float, str]:
    """tx/s of one worker on a backlog, and its batches meanwhile."""
    name = f"bw-{consumer}-{uuid.uuid4().hex[:6]}"
    config = _config(tmp, name, redis_url, consumer)
    _topics(brokers, name)
    backlog = lines[: args.backlog]
    _produce(brokers, f"{name}-transactions", backlog, None)
    port = _free_port()
    proc = _start(_worker_cmd(brokers, config, port), tmp / f"{name}.log")
    spy = None
    try:
        _wait_ready(port, proc)
        spy = _profile(proc.pid, f"{consumer}-sustained")
        before = _snapshot(port)
        cpu = _CpuMeter(proc.pid, redis_url, port)
        sustained = _sustained(port, len(backlog))
        return sustained, _per_batch(before, _snapshot(port)) + "; " + cpu.report()
    finally:
        _end_profile(spy)
        _stop(proc)


def _rate_labels(rates: list[float] | None) -> dict[float, str]:
    return {rate: f"{rate:.0f}" for rate in rates or []}


def run_worker_phase(
    brokers: str, redis_url: str, tmp: Path, consumer: str, lines: list[bytes], seconds: float
) -> dict:
    result: dict = {"consumer": consumer}
    if args.rates:  # latency at fixed rates only (to compare versions at the same load)
        result["sustained"] = 0.0
        rates = _rate_labels(args.rates)
    else:
        result["sustained"], result["sustained_batches"] = _sustained_phase(
            brokers, redis_url, tmp, consumer, lines
        )
        rates = {share * result["sustained"]: f"{share:.0%}" for share in (0.5, 0.9)}
    result["rates"] = rates
    for rate, label in rates.items():
        n = min(int(rate * seconds), len(lines) - WARMUP)
        name = f"bw-{consumer}-{label.rstrip('%')}-{uuid.uuid4().hex[:6]}"
        config = _config(tmp, name, redis_url, consumer)
        _topics(brokers, name)
        port = _free_port()
        proc = _start(_worker_cmd(brokers, config, port), tmp / f"{name}.log")
        warm = lines[-n - WARMUP : -n]
        try:
            _wait_ready(port, proc)
            _produce(brokers, f"{name}-transactions", warm, None)  # JIT, connections, caches
            end = time.monotonic() + 60
            while _metric(port, "riskstream_decisions_total") < WARMUP and time.monotonic() < end:
                time.sleep(0.2)
            time.sleep(1.0)
            before = _snapshot(port)
            cpu = _CpuMeter(proc.pid, redis_url, port)
            spy = _profile(proc.pid, f"{consumer}-{label.rstrip('%')}")
            _produce(brokers, f"{name}-transactions", lines[-n:], rate)
            _end_profile(spy)
            end = time.monotonic() + 60
            total = n + WARMUP
            while _metric(port, "riskstream_records_in_total") < total and time.monotonic() < end:
                time.sleep(0.2)
            batches = _per_batch(before, _snapshot(port)) + "; " + cpu.report()
        finally:
            _stop(proc)
        sent, lat = _latency(brokers, name, {orjson.loads(w)["tx_id"] for w in warm})
        result[label] = {
            "rate": rate,
            "sent": sent,
            "decided": len(lat),
            "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)),
            "p999": float(np.percentile(lat, 99.9)),
            "batches": batches,
            "load": os.getloadavg()[0],
        }
    return result


def run_cold_start(brokers: str, redis_url: str, tmp: Path, lines: list[bytes]) -> None:
    """A worker started on an empty numba cache (a fresh install): seconds until /readyz, then
    a steady stream at the first of --rates (default 2,000 tx/s) from that moment; end-to-end
    latency of the first second's transactions and of all."""
    rate = args.rates[0] if args.rates else 2000.0
    n = int(rate * args.seconds)
    name = f"bw-cold-{uuid.uuid4().hex[:6]}"
    config = _config(tmp, name, redis_url, "direct")
    _topics(brokers, name)
    port = _free_port()
    cache = {"NUMBA_CACHE_DIR": str(tmp / f"{name}-numba")}
    started = time.monotonic()
    proc = _start(_worker_cmd(brokers, config, port), tmp / f"{name}.log", cache)
    try:
        _wait_ready(port, proc, timeout=300)
        ready = time.monotonic() - started
        _produce(brokers, f"{name}-transactions", lines[:n], rate)
        end = time.monotonic() + 120
        while _metric(port, "riskstream_records_in_total") < n and time.monotonic() < end:
            time.sleep(0.2)
    finally:
        _stop(proc)
    sent = _timestamps(brokers, f"{name}-transactions")
    decided = _timestamps(brokers, f"{name}-decisions")
    first = min(sent.values())
    early = [decided[t] - ts for t, ts in sent.items() if t in decided and ts < first + 1000]
    every = [decided[t] - ts for t, ts in sent.items() if t in decided]
    print(
        f"cold start (empty numba cache): ready after {ready:.1f} s; at {rate:,.0f} tx/s from "
        f"then, the first second's {len(early):,} transactions: end-to-end max "
        f"{max(early):,.0f} ms, p50 {np.percentile(early, 50):,.0f} ms; all {len(every):,}/"
        f"{len(sent):,}: p99 {np.percentile(every, 99):,.0f} ms, max {max(every):,.0f} ms"
    )


# --- the processing core without Kafka (bench_worker.py --core) -------------------------------


def run_core(redis_url: str, lines: list[bytes], sizes: list[int]) -> None:
    """`WorkerCore.process` (decode, Engine.score with Redis profiles, outputs, stored outputs)
    per batch size: ms a batch (median of repeats) and µs a transaction, and each stage."""
    from riskstream.config import load_config
    from riskstream.stream.emitted import open_emitted_store
    from riskstream.stream.worker import InRecord, WorkerCore, WorkerEngine, WorkerSettings

    prefix = f"core-{uuid.uuid4().hex[:6]}"
    config = load_config()
    config["features"].update(store=redis_url, key_prefix=prefix)
    if args.model:
        config["model"]["kind"] = args.model
    core = WorkerCore(WorkerEngine(config), WorkerSettings(), open_emitted_store(redis_url, prefix))
    position = 0

    def take(n: int) -> list[InRecord]:
        nonlocal position
        first, position = position, position + n
        return [
            InRecord("tx", k % PARTITIONS, k, b"k", lines[k % len(lines)], 0)
            for k in range(first, position)
        ]

    def stage_sums() -> dict[str, float]:
        return {s: core.metrics.stage.labels(stage=s)._sum.get() for s in STAGES[:4]}

    core.process(take(3000))  # JIT, connections
    server = redis.Redis.from_url(redis_url)
    kind = config["model"]["kind"]
    print(f"processing core without Kafka, model {kind} (load average {os.getloadavg()[0]:.1f}):")
    for n in sizes:
        repeats = max(3, min(100, args.core_tx // n))
        core.process(take(n))  # untimed: a first batch of a size may compile a kernel
        before = stage_sums()
        times = []
        cpu0, redis0 = time.thread_time(), _redis_cpu(server)
        for _ in range(repeats):
            batch = take(n)
            t0 = time.perf_counter()
            core.process(batch)
            times.append(time.perf_counter() - t0)
        cpu = (time.thread_time() - cpu0) / (repeats * n)
        redis_cpu = (_redis_cpu(server) - redis0) / (repeats * n)
        after = stage_sums()
        ms = 1000 * float(np.median(times))
        stages = ", ".join(f"{s} {1000 * (after[s] - before[s]) / repeats:.2f}" for s in STAGES[:4])
        print(
            f"  {n:5d} records: {ms:7.2f} ms a batch, {1000 * ms / n:6.1f} us a tx ({stages}); "
            f"CPU us a tx: worker {1e6 * cpu:.1f}, redis-server {1e6 * redis_cpu:.1f}"
        )
    server.close()


def _redis_cpu(client: object) -> float:
    """CPU seconds redis-server has used (user + system)."""
    info = client.info("cpu")  # type: ignore[attr-defined]
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# --- the plain faust agent (run in a subprocess: bench_worker.py --plain ...) -----------------


def plain_agent_main(brokers: str, source: str, sink: str, port: int) -> None:
    import faust

    from riskstream.stream.decode import Decoder
    from riskstream.stream.faust_app import BatchProducer
    from riskstream.stream.worker import Outputs

    app = faust.App(
        f"plain-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{brokers}",
        value_serializer="raw",
        web_enabled=True,
        web_port=port,
        datadir=tempfile.mkdtemp(),
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=4096,
    )
    topic = app.topic(source, value_serializer="raw", key_serializer="raw")
    producer = BatchProducer(brokers)
    decoder = Decoder()
    seen = {"n": 0}

    @app.agent(topic, concurrency=1)
    async def forward(stream: faust.StreamT) -> None:
        async for events in stream.take_events(2000, within=0.005):
            values = [e.message.value for e in events]
            decoder.decode(values)
            out = Outputs()
            for e in events:
                out.add(sink, e.message.partition, e.message.key, e.message.value)
            await producer.send(out)
            seen["n"] += len(events)

    @app.page("/metrics")
    async def metrics(web: object, request: object) -> object:
        return web.text(f"riskstream_records_in_total {seen['n']}\n")  # type: ignore[attr-defined]

    @app.page("/readyz")
    async def ready(web: object, request: object) -> object:
        return web.text("ok")  # type: ignore[attr-defined]

    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


# --- the transport floor (run in a subprocess: bench_worker.py --floor ...) -------------------


def floor_main(brokers: str, source: str, sink: str, port: int, fetch_wait_ms: int) -> None:
    """Fetch with aiokafka as the direct consumer does, decode, produce every record as it came
    with the worker's batch producer, commit every second: the worker without its scoring."""
    from aiokafka import AIOKafkaConsumer
    from prometheus_client import Counter, start_http_server

    from riskstream.stream.decode import Decoder
    from riskstream.stream.faust_app import BatchProducer, fetch_wait
    from riskstream.stream.worker import Outputs

    forwarded = Counter("riskstream_records_in", "records forwarded")
    start_http_server(port, addr="127.0.0.1")  # answers /metrics and /readyz alike

    async def run() -> None:
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=brokers,
            group_id=f"floor-{uuid.uuid4().hex[:6]}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
            fetch_max_bytes=64 << 20,
            **fetch_wait(fetch_wait_ms),
        )
        await consumer.start()
        producer, decoder = BatchProducer(brokers), Decoder()
        committed_at = time.monotonic()
        while True:
            fetched = await consumer.getmany(timeout_ms=5, max_records=500)
            out = Outputs()
            for messages in fetched.values():
                decoder.decode([m.value for m in messages])
                for m in messages:
                    out.add(sink, m.partition, m.key, m.value)
            await producer.send(out)
            forwarded.inc(sum(len(m) for m in fetched.values()))
            if time.monotonic() - committed_at > 1.0:
                await consumer.commit()
                committed_at = time.monotonic()

    asyncio.run(run())


def run_floor_phase(
    brokers: str, redis_url: str, tmp: Path, lines: list[bytes], rates: dict[float, str]
) -> None:
    """The transport floor's sustained rate and its latency at the worker's rates."""
    runs: dict[float | None, str] = {None: "sustained", **rates}
    for rate, label in runs.items():
        name = f"bw-floor-{label.rstrip('%')}-{uuid.uuid4().hex[:6]}"
        _topics(brokers, name)
        n = args.backlog if rate is None else min(int(rate * args.seconds), len(lines))
        batch = lines[:n]
        if rate is None:
            _produce(brokers, f"{name}-transactions", batch, None)
        port = _free_port()
        cmd = [sys.executable, __file__, "--floor", brokers]
        cmd += [f"{name}-transactions", f"{name}-decisions", str(port), str(args.fetch_wait_ms)]
        proc = _start(cmd, tmp / f"{name}.log")
        try:
            _wait_ready(port, proc)
            cpu = _CpuMeter(proc.pid, redis_url, port)
            if rate is None:
                figure = f"{_sustained(port, n):10,.0f} tx/s"
                cpu_report = cpu.report()
            else:
                time.sleep(2.0)  # consumer group joined
                _produce(brokers, f"{name}-transactions", batch, rate)
                end = time.monotonic() + 60
                while _metric(port, "riskstream_records_in_total") < n and time.monotonic() < end:
                    time.sleep(0.2)
                cpu_report = cpu.report()  # before reading the topics back
                sent, lat = _latency(brokers, name, set())
                figure = (
                    f"({rate:,.0f} tx/s, {len(lat):,}/{sent:,} forwarded): end-to-end latency "
                    f"p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms, "
                    f"p99.9 {np.percentile(lat, 99.9):.1f} ms"
                )
            print(f"transport floor (fetch, decode, produce), {label}: {figure}")
            print(f"    {cpu_report}")
        finally:
            _stop(proc)


def run_plain_phase(brokers: str, tmp: Path, lines: list[bytes]) -> float:
    name = f"bw-plain-{uuid.uuid4().hex[:6]}"
    asyncio.run(ensure_topics(brokers, {f"{name}-in": PARTITIONS, f"{name}-out": PARTITIONS}))
    backlog = lines[: args.backlog]
    _produce(brokers, f"{name}-in", backlog, None)
    port = _free_port()
    cmd = [sys.executable, __file__, "--plain", brokers, f"{name}-in", f"{name}-out", str(port)]
    proc = _start(cmd, tmp / f"{name}.log")
    try:
        _wait_ready(port, proc)
        return _sustained(port, len(backlog))
    finally:
        _stop(proc)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    print(
        f"cores: {os.cpu_count()}, backlog {args.backlog:,} tx, {args.seconds:.0f} s per rate, "
        f"max_wait_ms {args.max_wait_ms:g}, load average {os.getloadavg()[0]:.1f}"
    )
    subprocess.run(
        [
            *(sys.executable, "-m", "riskstream.cli", "simulate", "--customers", "5000"),
            *("--days", "30", "--seed", "5", "--out", str(tmp / "sim"), "--quiet"),
        ],
        check=True,
        cwd=ROOT,
    )
    lines = (tmp / "sim" / "transactions.jsonl").read_bytes().splitlines()
    ensure_redis_installed()
    if args.core:  # no broker needed
        with RedisServer(base_dir=tmp) as redis_server:
            run_core(redis_server.url, lines, args.core)
        return
    ensure_kafka_installed()
    with (
        RedisServer(base_dir=tmp) as redis_server,
        KafkaBroker(base_dir=tmp, heap="1g") as broker,
    ):
        brokers = broker.bootstrap
        global BROKER_PID
        BROKER_PID = broker.pid
        if args.cold:
            run_cold_start(brokers, redis_server.url, tmp, lines)
            return
        if args.only_floor:
            run_floor_phase(brokers, redis_server.url, tmp, lines, _rate_labels(args.rates))
            return
        if not args.rates:
            plain = run_plain_phase(brokers, tmp, lines)
            print(f"plain faust agent (decode + forward):      {plain:10,.0f} tx/s")
        for consumer in args.consumers:
            r = run_worker_phase(brokers, redis_server.url, tmp, consumer, lines, args.seconds)
            if not args.rates:
                print(
                    f"worker, consumer={consumer:6}  sustained:      {r['sustained']:10,.0f} "
                    f"tx/s (ratio to plain faust agent {r['sustained'] / plain:.2f})\n"
                    f"    {r['sustained_batches']}"
                )
            else:
                print(f"worker, consumer={consumer}")
            for label in r["rates"].values():
                q = r[label]
                print(
                    f"  at {label} ({q['rate']:,.0f} tx/s, {q['decided']:,}/"
                    f"{q['sent']:,} decided): end-to-end latency p50 {q['p50']:.1f} ms, "
                    f"p99 {q['p99']:.1f} ms, p99.9 {q['p999']:.1f} ms (load average "
                    f"{q['load']:.1f})\n    {q['batches']}"
                )
        if not args.skip_floor:
            run_floor_phase(brokers, redis_server.url, tmp, lines, r["rates"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--floor":
        floor_main(*sys.argv[2:5], int(sys.argv[5]), int(sys.argv[6]))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--plain":
        plain_agent_main(*sys.argv[2:5], int(sys.argv[5]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=150_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--consumers", nargs="+", default=["faust", "direct"])
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="worker.max_wait_ms")
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy record each worker run (collapsed stacks)"
    )
    parser.add_argument(
        "--core",
        type=int,
        nargs="+",
        metavar="N",
        help="only the processing core without Kafka, at these batch sizes",
    )
    parser.add_argument(
        "--core-tx", type=int, default=6000, help="--core: transactions per batch size"
    )
    parser.add_argument("--model", help="model.kind for the worker (default: the shipped config's)")
    parser.add_argument(
        "--rates",
        type=float,
        nargs="+",
        help="only the latency runs, at these tx/s (no plain agent, no sustained rate)",
    )
    parser.add_argument(
        "--fetch-wait-ms", type=int, default=0, help="worker.fetch_wait_ms (0: aiokafka's)"
    )
    parser.add_argument(
        "--skip-floor", action="store_true", help="no transport floor runs after the workers'"
    )
    parser.add_argument(
        "--cold", action="store_true", help="only a worker started on an empty numba cache"
    )
    parser.add_argument(
        "--only-floor", action="store_true", help="only the transport floor, at --rates"
    )
    args = parser.parse_args()
    main()
