"""Feature computation: numba kernels alone, the stage with the memory store, with Redis.

Prints, in one run: transactions/s of the numba kernels alone (one core: the kernels are
single-threaded) and of the whole feature stage with the in-process store; transactions/s
with a Redis on loopback (micro-batches of 1,000) and with a 3-node Redis Cluster; Redis round
trips per micro-batch; bytes per customer profile (the record, and what Redis spends on the
key). The machine may be shared, so every phase is repeated and the best pass is reported, and
CPU time (this process, and the Redis server's from INFO) is printed beside wall time.

Workload: synthetic transactions in event-time order, shaped like the simulator's (91% card
payments, 64% with a location, 34% with a device, 8% with a payee, Zipf-popular merchants), over
a population large enough that a micro-batch of 1,000 touches ~1,000 customers: the expensive,
realistic case for a store (a small population repeats entities within a batch). The first
half of the stream fills a fresh store (untimed); the figures are for the second half, the
steady state in which most profiles already exist; then a quarter of it is replayed (every
transaction already applied).

    .venv/bin/python bench/bench_features.py            # starts its own redis-server(s)
    .venv/bin/python bench/bench_features.py --redis redis://127.0.0.1:6379/0 --no-cluster
    .venv/bin/python bench/bench_features.py --baseline 444ff2d  # and the store of that commit

Server time per command comes from ``INFO commandstats`` (time inside commands; parsing and
socket I/O are in the server's CPU time only).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from riskstream.batch import TxBatch
from riskstream.features import stage as stage_module
from riskstream.features.catalog import FeatureCatalog
from riskstream.features.hashing import intern
from riskstream.features.redis_store import RedisStore
from riskstream.features.schema import CUSTOMER, DTYPES
from riskstream.features.stage import FeatureStage
from riskstream.features.store import MemoryStore

T0 = 1_767_225_600_000
TYPES = np.array(["purchase", "withdrawal", "transfer", "deposit", "refund"], dtype=object)


def synthetic(n: int, customers: int, seed: int = 7) -> TxBatch:
    """``n`` transactions of ``customers`` customers over n / (3 per customer per day) days."""
    rng = np.random.default_rng(seed)
    days = max(n / (3.0 * customers), 1.0)
    ts = T0 + np.sort(rng.integers(0, int(days * 86_400_000), n))
    cust = rng.integers(0, customers, n)
    kind = rng.choice(5, n, p=[0.83, 0.08, 0.07, 0.017, 0.003])
    card_tx = (kind <= 1) & (rng.random(n) < 0.995)
    merchants = max(customers // 5, 10)
    zipf = np.minimum(rng.zipf(1.3, n), merchants) - 1
    located = card_tx & (rng.random(n) < 0.70)
    device_tx = (~located & (kind != 3)) | (rng.random(n) < 0.05)
    payee_tx = (kind >= 2) & (kind <= 3)
    home_lat = rng.uniform(36.0, 60.0, customers)
    home_lon = rng.uniform(-9.0, 25.0, customers)

    def ids(prefix: str, values: np.ndarray, present: np.ndarray) -> np.ndarray:
        out = np.full(n, None, dtype=object)
        out[present] = [f"{prefix}{v:07d}" for v in values[present].tolist()]
        return out

    everyone = np.ones(n, dtype=bool)
    lat = np.where(located, home_lat[cust] + rng.normal(0, 0.05, n), np.nan)
    lon = np.where(located, home_lon[cust] + rng.normal(0, 0.05, n), np.nan)
    amount = np.round(np.exp(rng.normal(3.2, 1.1, n)), 2)
    amount[kind == 3] = np.round(rng.uniform(500, 5000, int((kind == 3).sum())), 2)
    return TxBatch(
        offset=np.arange(n, dtype=np.int64),
        tx_id=np.array([f"tx{i:010d}" for i in range(n)], dtype=object),
        customer_id=ids("cu", cust, everyone),
        amount=amount,
        currency=np.full(n, "EUR", dtype=object),
        timestamp=ts.astype(np.int64),
        card_id=ids("card", cust * 2 + (rng.random(n) < 0.2), card_tx),
        merchant_id=ids("me", zipf, card_tx),
        mcc=np.full(n, None, dtype=object),
        channel=np.full(n, None, dtype=object),
        country=np.full(n, "DE", dtype=object),
        device_id=ids("dv", cust * 3 + (rng.random(n) < 0.1), device_tx),
        ip=np.full(n, None, dtype=object),
        payee_id=ids("py", rng.integers(0, customers // 2, n), payee_tx),
        type=TYPES[kind],
        lat=lat,
        lon=lon,
    )


@dataclass
class Pass:
    wall: float
    cpu: float
    kernels: float
    server_cpu: float = 0.0
    round_trips: int = 0
    commands: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> calls, usec


def run_pass(stage: FeatureStage, batches: list[TxBatch], server: RedisStore | None) -> Pass:
    """One pass of the stage over the batches, timing the numba kernels separately."""
    kernel_time = 0.0
    inner = stage_module._run_kernels

    def timed(prep, records):  # type: ignore[no-untyped-def]
        nonlocal kernel_time
        started = time.perf_counter()
        try:
            return inner(prep, records)
        finally:
            kernel_time += time.perf_counter() - started

    stage_module._run_kernels = timed
    server_before = _server_cpu(server)
    commands_before = _commandstats(server)
    trips = stage.store.stats.round_trips
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        for batch in batches:
            stage.compute(batch)
        stage.flush()  # write-behind: the last write acknowledged, inside the timing
    finally:
        stage_module._run_kernels = inner
    return Pass(
        wall=time.perf_counter() - wall,
        cpu=time.process_time() - cpu,
        kernels=kernel_time,
        server_cpu=_server_cpu(server) - server_before,
        round_trips=stage.store.stats.round_trips - trips,
        commands={
            name: (
                calls - commands_before.get(name, (0, 0))[0],
                usec - commands_before.get(name, (0, 0))[1],
            )
            for name, (calls, usec) in _commandstats(server).items()
        },
    )


def _server_cpu(store: RedisStore | None) -> float:
    if store is None:
        return 0.0
    import redis

    total = 0.0
    for host, port in {(c.host, c.port) for c in store._conns}:
        client = redis.Redis(host=host, port=port)
        info = client.info("cpu")
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        client.close()
    return total


def _commandstats(store: RedisStore | None) -> dict[str, tuple[int, int]]:
    """Calls and microseconds per command, summed over the store's servers (INFO
    commandstats: time inside the command, not parsing or I/O; EXEC's includes its commands)."""
    if store is None:
        return {}
    import redis

    total: dict[str, tuple[int, int]] = {}
    for host, port in {(c.host, c.port) for c in store._conns}:
        client = redis.Redis(host=host, port=port)
        for name, stat in client.info("commandstats").items():
            calls, usec = total.get(name, (0, 0))
            total[name] = (calls + int(stat["calls"]), usec + int(stat["usec"]))
        client.close()
    return {name.removeprefix("cmdstat_"): value for name, value in total.items()}


def best_of(passes: list[Pass]) -> Pass:
    return min(passes, key=lambda p: p.wall)


def bench_store(
    label: str,
    make_store,  # type: ignore[no-untyped-def]
    batches: list[TxBatch],
    repeats: int,
) -> tuple[Pass, Pass, object]:
    """Steady state: a fresh store per repeat is filled with the first half of the batches
    (untimed), then the second half is timed; then a quarter of the second half is replayed.
    Returns (best timed pass, best replay pass, the last store)."""
    return bench_stores({label: make_store}, batches, repeats)[label]


def bench_stores(
    makers: dict,  # label -> store factory
    batches: list[TxBatch],
    repeats: int,
    probe=None,  # type: ignore[no-untyped-def]
) -> dict[str, tuple[Pass, Pass, object]]:
    """`bench_store` for several stores, taking turns within each repeat, so that a busy
    machine slows them alike and their figures can be compared side by side. With ``probe``,
    the third item is ``probe(store)`` of the last repeat (taken before the store is emptied
    for the next one), else the last store."""
    catalog = FeatureCatalog.default()
    half = len(batches) // 2
    firsts: dict[str, list[Pass]] = {label: [] for label in makers}
    replays: dict[str, list[Pass]] = {label: [] for label in makers}
    stores: dict[str, object] = {}
    probes: dict[str, object] = {}
    for _ in range(repeats):
        for label, make_store in makers.items():
            if label in stores:
                _cleanup(stores[label])
            store = stores[label] = make_store()
            stage = FeatureStage(catalog, store)
            redis_store = None if isinstance(store, MemoryStore) else store
            run_pass(stage, batches[:half], redis_store)
            firsts[label].append(run_pass(stage, batches[half:], redis_store))
            replays[label].append(
                run_pass(stage, batches[half : half + max(half // 4, 1)], redis_store)
            )
            if probe is not None:
                probes[label] = probe(store)
            if len(makers) > 1:  # one server: the next store starts from an empty one
                _cleanup(store)
    return {
        label: (best_of(firsts[label]), best_of(replays[label]), probes.get(label, store))
        for label in makers
    }


def baseline_store(revision: str):  # type: ignore[no-untyped-def]
    """`RedisStore` as of git ``revision`` (its module loaded beside the current one)."""
    import importlib.util
    import subprocess
    import sys
    import tempfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = subprocess.run(
        ["git", "-C", root, "show", f"{revision}:riskstream/features/redis_store.py"],
        check=True,
        capture_output=True,
    ).stdout
    path = os.path.join(tempfile.mkdtemp(prefix="bench-baseline-"), "redis_store_baseline.py")
    with open(path, "wb") as out:
        out.write(source)
    spec = importlib.util.spec_from_file_location("redis_store_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.RedisStore


def _cleanup(store: object) -> None:
    if not isinstance(store, MemoryStore):  # a RedisStore, current or baseline
        store.purge()
        store.close()


def _memory_usage(store: RedisStore, customer_id: str) -> int | None:
    import redis

    h = int(intern(np.array([customer_id], dtype=object)).hashes[0])
    bucket = (h >> 11) % store.buckets
    key = f"{store.prefix}:{{{bucket}}}:c:{customer_id}".encode()
    conn = store._conns[store._conn_of_bucket(bucket)]
    client = redis.Redis(host=conn.host, port=conn.port)
    try:
        return client.memory_usage(key)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tx", type=int, default=400_000, help="transactions")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000, help="micro-batch size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--redis", help="use this Redis instead of starting one")
    parser.add_argument("--no-cluster", action="store_true", help="skip the Redis Cluster")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run the default Redis store as of this git revision, taking turns with the "
        "current one (e.g. 444ff2d: hash-field references)",
    )
    args = parser.parse_args()

    print(f"cores: {os.cpu_count()} (nproc), batch: {args.batch}, repeats: {args.repeats}")
    started = time.perf_counter()
    data = synthetic(args.tx, args.customers)
    batches = [data.take(slice(i, i + args.batch)) for i in range(0, len(data), args.batch)]
    per_batch = {
        kind: np.mean([len(intern(getattr(b, f"{kind}_id"))) for b in batches[:50]])
        for kind in DTYPES
    }
    print(
        f"workload: {len(data):,} synthetic transactions, {args.customers:,} customers, "
        f"built in {time.perf_counter() - started:.1f} s"
    )
    refs = np.mean(
        [((b.merchant_id != None) | (b.device_id != None)).sum() for b in batches[:50]]  # noqa: E711
    )
    profiles_per_batch = float(sum(per_batch.values()))
    print(
        "  distinct entities per micro-batch: "
        + ", ".join(f"{kind} {n:.0f}" for kind, n in per_batch.items())
        + f"; transaction references {refs:.0f}"
    )
    warm = FeatureStage(FeatureCatalog.default())  # compile or load the kernels
    for batch in batches[:3]:
        warm.compute(batch)

    half = len(batches) // 2
    n = sum(len(b) for b in batches[half:])  # the timed half
    replayed = sum(len(b) for b in batches[half : half + max(half // 4, 1)])
    first, replay, _ = bench_store("memory", MemoryStore, batches, args.repeats)
    print("memory store (in-process)")
    print(f"  numba kernels alone:          {n / first.kernels:>12,.0f} tx/s  (one core)")
    print(f"  feature stage, end to end:    {n / first.wall:>12,.0f} tx/s  (cpu {first.cpu:.2f} s)")
    print(f"  replay of applied batches:    {replayed / replay.wall:>12,.0f} tx/s")

    n_batches = len(batches) - half

    def usage_of(store: RedisStore) -> int | None:
        return _memory_usage(store, str(data.customer_id[0]))

    def report(title: str, first: Pass, replay: Pass, usage: int | None) -> None:
        trips = first.round_trips / n_batches
        cpu_rate = n / (first.cpu + first.server_cpu)
        print(title)
        print(
            f"  feature stage, end to end:    {n / first.wall:>12,.0f} tx/s  "
            f"(client cpu {first.cpu:.2f} s, server cpu {first.server_cpu:.2f} s, "
            f"{cpu_rate:,.0f} tx per cpu-second)"
        )
        print(f"  numba kernels inside it:      {n / first.kernels:>12,.0f} tx/s")
        print(f"  round trips per micro-batch:  {trips:>12.2f}")
        server_ms = first.server_cpu / n_batches * 1e3
        print(
            f"  server cpu per micro-batch:   {server_ms:>12.2f} ms "
            f"({server_ms * 1e3 / profiles_per_batch:.2f} us per profile key)"
        )
        busiest = sorted(first.commands.items(), key=lambda item: -item[1][1])
        print(
            "  in commands, per micro-batch: "
            + ", ".join(
                f"{name} {usec / n_batches / 1e3:.2f} ms ({calls / n_batches:,.0f}x)"
                for name, (calls, usec) in busiest
                if usec / n_batches >= 10 and name not in ("info", "config|resetstat")
            )
            + (" (exec: the commands inside it)" if "exec" in first.commands else "")
        )
        print(f"  replay of applied batches:    {replayed / replay.wall:>12,.0f} tx/s")
        print(f"  Redis memory per customer key: {usage} bytes (record {CUSTOMER.itemsize})")

    def redis_section(title: str, make) -> None:  # type: ignore[no-untyped-def]
        first, replay, store = bench_store(title, make, batches, args.repeats)
        report(title, first, replay, usage_of(store))  # type: ignore[arg-type]
        _cleanup(store)

    from riskstream.stream.localservices import RedisCluster, RedisServer

    server = None
    url = args.redis
    if url is None:
        server = RedisServer().start()
        url = server.url
    try:
        prefix = "bench" + uuid.uuid4().hex[:6]
        old_store = baseline_store(args.baseline) if args.baseline else None

        def section(title: str, tag: str, **options: object) -> None:
            """One Redis configuration; with --baseline, in turns with the baseline's. Each
            store gets a key prefix of its own (a store takes the key layout recorded under
            its prefix)."""
            if old_store is None:
                redis_section(title, lambda: RedisStore(url, prefix=prefix + tag, **options))
                return
            old_title = f"  the same with the store of git revision {args.baseline} (baseline)"
            results = bench_stores(
                {
                    old_title: lambda: old_store(url, prefix=prefix + tag + "b", **options),
                    title: lambda: RedisStore(url, prefix=prefix + tag, **options),
                },
                batches,
                args.repeats,
                probe=usage_of,
            )
            for label, (first, replay, usage) in results.items():
                report(label, first, replay, usage)  # type: ignore[arg-type]
            old_first, new_first = (results[label][0] for label in (old_title, title))
            print(
                f"  ratio, current / baseline:    {old_first.wall / new_first.wall:>12.2f} "
                f"(client cpu {new_first.cpu / old_first.cpu:.2f}, "
                f"server cpu {new_first.server_cpu / old_first.server_cpu:.2f})"
            )

        section(f"Redis on loopback ({url}), single writer, record cache on (the default)", "d")
        section(
            "Redis on loopback, single writer, record cache on, write-behind",
            "w",
            write_behind=True,
        )
        section(
            "Redis on loopback, optimistic concurrency (the worker's mode: WATCH, no cache)",
            "o",
            concurrency="optimistic",
        )
        redis_section(
            "Redis on loopback, single writer, no cache: every profile read from Redis",
            lambda: RedisStore(url, prefix=prefix + "n", cache_entries=0),
        )
    finally:
        if server is not None:
            server.stop()
    if not args.no_cluster:
        with RedisCluster() as cluster:
            host, port = cluster.nodes[0]
            curl = f"redis+cluster://{host}:{port}"
            redis_section(
                "Redis Cluster, 3 masters on loopback (optimistic, 16 buckets)",
                lambda: RedisStore(curl, prefix="bench"),
            )
    print(
        f"bytes per profile record: customer {CUSTOMER.itemsize}, "
        + ", ".join(
            f"{kind} {dtype.itemsize}" for kind, dtype in DTYPES.items() if kind != "customer"
        )
    )


if __name__ == "__main__":
    main()
