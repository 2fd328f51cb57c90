"""Shared helpers of the feature tests: batch builders, store factories, brute-force references.

Not a conftest (test folders here share one ``conftest`` module name); tests import from it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import redis

from riskstream.batch import TxBatch
from riskstream.features.catalog import FeatureCatalog
from riskstream.features.hashing import hash_strings
from riskstream.features.redis_store import RedisStore
from riskstream.features.schema import KINDS
from riskstream.features.stage import FeatureStage
from riskstream.features.store import MemoryStore, ProfileStore
from riskstream.features.windows import WINDOWS

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STRING_FIELDS = (
    "tx_id",
    "customer_id",
    "currency",
    "card_id",
    "merchant_id",
    "mcc",
    "channel",
    "country",
    "device_id",
    "ip",
    "payee_id",
    "type",
)
CATALOG = FeatureCatalog.default()


def make_batch(rows: Sequence[dict[str, Any]]) -> TxBatch:
    """A `TxBatch` from row dicts (``tx_id``, ``customer_id``, ``amount``, ``timestamp``, ...)."""
    n = len(rows)
    columns: dict[str, np.ndarray] = {}
    for name in STRING_FIELDS:
        col = np.empty(n, dtype=object)
        col[:] = [row.get(name, "EUR" if name == "currency" else None) for row in rows]
        columns[name] = col
    columns["amount"] = np.array([float(row["amount"]) for row in rows], dtype=np.float64)
    columns["timestamp"] = np.array([int(row["timestamp"]) for row in rows], dtype=np.int64)
    for name in ("lat", "lon"):
        columns[name] = np.array(
            [np.nan if row.get(name) is None else float(row[name]) for row in rows],
            dtype=np.float64,
        )
    columns["offset"] = np.arange(n, dtype=np.int64)
    return TxBatch(**columns)


def run(stage: FeatureStage, rows: Sequence[dict[str, Any]], cuts: Sequence[int] = ()) -> dict:
    """Feed ``rows`` in batches cut at ``cuts``; the concatenated frame and replayed mask."""
    bounds = sorted({0, len(rows), *[c for c in cuts if 0 < c < len(rows)]})
    frames, replayed = [], []
    for start, end in itertools.pairwise(bounds):
        frames.append(stage.compute(make_batch(rows[start:end])))
        replayed.append(stage.last_replayed.copy())
    if not frames:
        return {"replayed": np.zeros(0, dtype=bool)}
    out = {name: np.concatenate([f[name] for f in frames]) for name in frames[0]}
    out["replayed"] = np.concatenate(replayed)
    return out


def assert_frames_equal(a: dict, b: dict, names: Sequence[str] | None = None) -> None:
    for name in names or [n for n in a if n != "replayed"]:
        x, y = a[name], b[name]
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), (name, x, y)
        else:
            assert np.array_equal(x, y), (name, x, y)


# --- stores -----------------------------------------------------------------------------------

STORE_KINDS = (
    "memory",
    "redis",
    "redis-nocache",
    "redis-writebehind",
    "cluster",
    "cluster-single",
)


@contextmanager
def open_test_store(kind: str, request: Any) -> Iterator[ProfileStore]:
    """A fresh, empty store of ``kind``; Redis ones get a key prefix of their own.

    ``redis`` is one Redis with the single-writer record cache, ``redis-nocache`` without it
    (every profile read from Redis), ``redis-writebehind`` with the cache and write-behind,
    ``cluster`` a 3-master cluster, optimistic, 8 buckets; ``cluster-single`` the same with a
    single writer (a connection per node, a transaction per bucket, the record cache).
    """
    if kind == "memory":
        yield MemoryStore()
        return
    prefix = "t" + uuid.uuid4().hex[:12]
    if kind.startswith("redis"):
        url = request.getfixturevalue("redis_url")
        store = RedisStore(
            url,
            prefix=prefix,
            cache_entries=0 if "nocache" in kind else None,
            write_behind="writebehind" in kind,
        )
    else:
        cluster = request.getfixturevalue("redis_cluster")
        host, port = cluster.nodes[0]
        store = RedisStore(
            f"redis+cluster://{host}:{port}",
            prefix=prefix,
            buckets=8,
            concurrency="single_writer" if kind == "cluster-single" else None,
        )
    try:
        yield store
    finally:
        store.purge()
        _delete_meta(store)
        store.close()


def _delete_meta(store: RedisStore) -> None:
    for host, port in {(c.host, c.port) for c in store._conns}:
        client = redis.Redis(host=host, port=port, db=store.db)
        try:
            for key in client.scan_iter(match=f"{store.prefix}:*", count=1000):
                client.delete(key)
        finally:
            client.close()


def snapshot(store: ProfileStore) -> dict:
    """Everything a store holds about profiles, comparable with ``==``."""
    if isinstance(store, MemoryStore):
        return {
            kind: dict(
                zip(store.ids(kind), [r.tobytes() for r in store.records(kind)], strict=True)
            )
            for kind in KINDS
        }
    assert isinstance(store, RedisStore)
    store.flush()  # write-behind: what was sent must have landed
    out: dict[bytes, object] = {}
    for host, port in {(c.host, c.port) for c in store._conns}:
        client = redis.Redis(host=host, port=port, db=store.db)
        try:
            for key in client.scan_iter(match=f"{store.prefix}:*", count=1000):
                kind = client.type(key)
                out[key] = client.get(key) if kind == b"string" else client.hgetall(key)
        finally:
            client.close()
    return out


# --- brute-force references -------------------------------------------------------------------

RING = {"customer": 4, "card": 4, "device": 8, "merchant": 16, "payee": 8}


def idem_entry(ts: int, tx_id: str) -> int:
    h = int(hash_strings(np.array([tx_id], dtype=object))[0])
    return (min(max(ts, 0), (1 << 42) - 1) << 22) | (h >> 42)


class ReferenceEntity:
    """One profile's applied transactions, with the ring/floor rule spelled out in Python."""

    def __init__(self, ring: int) -> None:
        self.size = ring
        self.ring: list[int] = []
        self.floor: int | None = None
        self.applied: list[tuple[int, int, float]] = []  # (ts, cents, amount)
        self.last: int | None = None

    def seen(self, ts: int, entry: int) -> bool:
        return (self.floor is not None and ts <= self.floor) or entry in self.ring

    def apply(self, ts: int, entry: int, cents: int, amount: float) -> None:
        self.ring.insert(0, entry)
        if len(self.ring) > self.size:
            evicted = self.ring.pop()
            t = evicted >> 22
            self.floor = t if self.floor is None else max(self.floor, t)
        self.applied.append((ts, cents, amount))
        self.last = ts if self.last is None else max(self.last, ts)

    def window(self, name: str, now: int) -> tuple[int, int]:
        """(count, cents) of the applied transactions in window ``name`` at ``now``."""
        w = WINDOWS[name]
        hi = now // w.width_ms
        lo = hi - w.tiles + 1
        inside = [(t, c) for t, c, _ in self.applied if lo <= t // w.width_ms <= hi]
        return len(inside), sum(c for _, c in inside)


def reference_windows(
    rows: Sequence[dict[str, Any]], kind: str, field: str, windows: Sequence[str]
) -> tuple[list[bool], dict[str, list[tuple[int, int] | None]]]:
    """Per row: already applied?, and (count, cents) of each window before the row."""
    entities: dict[str, ReferenceEntity] = {}
    dup: list[bool] = []
    out: dict[str, list[tuple[int, int] | None]] = {w: [] for w in windows}
    for row in rows:
        key = row.get(field)
        if key is None:
            dup.append(False)
            for w in windows:
                out[w].append(None)
            continue
        ent = entities.setdefault(key, ReferenceEntity(RING[kind]))
        ts = int(row["timestamp"])
        now = ts if ent.last is None else max(ts, ent.last)
        entry = idem_entry(ts, row["tx_id"])
        seen = ent.seen(ts, entry)
        dup.append(seen)
        for w in windows:
            out[w].append(ent.window(w, now))
        if not seen:
            cents = round(float(row["amount"]) * 100)
            ent.apply(ts, entry, cents, float(row["amount"]))
    return dup, out


def rows_from(
    draw_ts: Sequence[int],
    customers: Sequence[str],
    amounts_cents: Sequence[int],
    extra: Callable[[int], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    rows = []
    for i, (ts, cust, cents) in enumerate(zip(draw_ts, customers, amounts_cents, strict=True)):
        row: dict[str, Any] = {
            "tx_id": f"tx{i:05d}",
            "customer_id": cust,
            "amount": cents / 100.0,
            "timestamp": ts,
        }
        if extra is not None:
            row.update(extra(i))
        rows.append(row)
    return rows
