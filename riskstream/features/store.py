"""Profile stores, one interface: read a batch's profiles, write back the changed ones at once.

A store is used in two phases per micro-batch: `ProfileStore.read` fetches the records of every
entity the batch touches (all kinds in one request), the kernels run on those copies, and
`ProfileStore.write` stores the changed records and the batch's transaction references
together, after all computation. Nothing reaches the store before the batch is computed, so a
failure leaves no half-applied batch; `riskstream.errors.StoreError` says what failed.

This module holds the interface, the in-process `MemoryStore` (the embedded default) and
`open_store`, which picks an implementation from a URL: ``memory://``, ``redis://host:port/db``
(one Redis) or ``redis+cluster://host:port`` (a Redis Cluster; any node bootstraps).

Transaction references (tx id -> merchant and device ids, kept for ``label_horizon_ms``) let a
label, which carries only a tx id, reach the merchant and device profiles it concerns.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numba
import numpy as np

from riskstream.errors import ConfigError
from riskstream.features.hashing import Interned
from riskstream.features.schema import KINDS, fresh_records

__all__ = [
    "DEFAULT_LABEL_HORIZON_MS",
    "MemoryStore",
    "ProfileStore",
    "ReadSession",
    "RecordCache",
    "TxRefs",
    "WriteConflict",
    "open_store",
]

DEFAULT_LABEL_HORIZON_MS = 90 * 86_400_000
"""How long a transaction can still receive its label (chargebacks come weeks later)."""


@dataclass
class ReadSession:
    """What `ProfileStore.read` returns: copies of the records, per kind, in request order.

    ``records[kind][j]`` is the record of ``requests[kind].ids[j]`` (a fresh record when the
    store has none). ``token`` is the store's own bookkeeping (rows, watched connections).
    """

    requests: Mapping[str, Interned]
    records: dict[str, np.ndarray]
    token: object = None


@dataclass
class TxRefs:
    """The transaction references of a batch: rows ``rows`` of the interned columns."""

    rows: np.ndarray
    ts: np.ndarray
    tx: Interned
    merchant: Interned
    device: Interned


@dataclass
class KnownRecords:
    """Records a caller already holds for one kind: ``records[j]`` is the stored record of
    entity ``j`` wherever ``valid[j]`` (the records a batch committed before a write conflict
    made it try again), so a store need not read them again, nor watch them."""

    records: np.ndarray
    valid: np.ndarray


class WriteConflict(Exception):
    """Another writer changed a profile between read and write (optimistic concurrency).

    ``committed[kind]`` marks the entities whose records were written anyway (a Redis Cluster
    commits per hash-tag bucket); the caller reads again and recomputes the rest.
    """

    def __init__(self, committed: dict[str, np.ndarray]) -> None:
        super().__init__("profiles changed by another writer between read and write")
        self.committed = committed


@dataclass
class StoreStats:
    """Counters a store keeps: round trips to the server, batches read and written."""

    round_trips: int = 0
    reads: int = 0
    writes: int = 0
    conflicts: int = 0
    records_written: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class ProfileStore(abc.ABC):
    """The interface the feature stage uses; see the module docstring."""

    url: str = ""

    def __init__(self) -> None:
        self.stats = StoreStats()

    @abc.abstractmethod
    def read(
        self, requests: Mapping[str, Interned], known: Mapping[str, KnownRecords] | None = None
    ) -> ReadSession:
        """Records of the requested entities, per kind (copies the caller may change).

        A store may take the records marked in ``known`` from there instead of reading them;
        under optimistic concurrency it then does not watch them either, so another writer
        changing a profile this batch already committed does not make it conflict again.
        """

    @abc.abstractmethod
    def write(
        self,
        session: ReadSession,
        changed: Mapping[str, np.ndarray],
        tx_refs: TxRefs | None = None,
    ) -> None:
        """Store ``session.records[kind][changed[kind]]`` and ``tx_refs``, all or nothing.

        Raises `WriteConflict` when optimistic concurrency control refused (part of) the write,
        `riskstream.errors.StoreError` when the store failed.
        """

    def release(self, session: ReadSession) -> None:  # noqa: B027 - optional hook
        """Forget a session that will not be written (after an error or a conflict)."""

    @abc.abstractmethod
    def find_tx_refs(self, tx: Interned, label_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Merchant and device id (object arrays, None when unknown) of each labelled tx."""

    def get(self, kind: str, entity_id: str) -> np.ndarray | None:
        """The record of one entity (a 0-d structured array), or None when never seen."""
        from riskstream.features.hashing import intern

        it = intern(np.array([entity_id], dtype=object))
        if len(it) == 0:
            return None
        session = self.read({kind: it})
        self.release(session)
        record = session.records[kind][0]
        return record if int(record["flags"]) & 1 else None

    def flush(self) -> None:  # noqa: B027 - optional hook
        """Wait until every write is acknowledged (stores that write behind); raise if one
        failed. Call it before committing input offsets."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (a no-op for the memory store)."""

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- memory -----------------------------------------------------------------------------------


@numba.njit(cache=True)
def _index_lookup(keys: np.ndarray, vals: np.ndarray, query: np.ndarray) -> np.ndarray:
    mask = keys.shape[0] - 1
    out = np.full(query.shape[0], -1, dtype=np.int64)
    for i in range(query.shape[0]):
        h = query[i]
        s = np.int64(h & np.uint64(mask))
        while keys[s] != 0:
            if keys[s] == h:
                out[i] = vals[s]
                break
            s = (s + 1) & mask
    return out


@numba.njit(cache=True)
def _index_insert(keys: np.ndarray, vals: np.ndarray, query: np.ndarray, rows: np.ndarray) -> int:
    """Insert or overwrite; return how many keys were new."""
    mask = keys.shape[0] - 1
    new = 0
    for i in range(query.shape[0]):
        h = query[i]
        s = np.int64(h & np.uint64(mask))
        while keys[s] != 0 and keys[s] != h:
            s = (s + 1) & mask
        if keys[s] == 0:
            new += 1
        keys[s] = h
        vals[s] = rows[i]
    return new


def _byte_rows(records: np.ndarray) -> np.ndarray:
    """The records as a 2-D uint8 array (fancy indexing of bytes is a plain memcpy)."""
    return records.view(np.uint8).reshape(len(records), records.dtype.itemsize)


class _HashIndex:
    """uint64 hash -> int64 row, open addressing in numpy (0 is never a hash)."""

    def __init__(self, capacity: int = 1024) -> None:
        size = 16
        while size < 2 * capacity:
            size *= 2
        self.keys = np.zeros(size, dtype=np.uint64)
        self.vals = np.zeros(size, dtype=np.int64)
        self.count = 0

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        return _index_lookup(self.keys, self.vals, hashes)

    def insert(self, hashes: np.ndarray, rows: np.ndarray) -> None:
        if 2 * (self.count + len(hashes)) > len(self.keys):
            self._rebuild(max(2 * len(self.keys), 4 * (self.count + len(hashes))))
        self.count += _index_insert(self.keys, self.vals, hashes, rows)

    def _rebuild(self, size: int, keep: np.ndarray | None = None) -> None:
        used = self.keys != 0 if keep is None else keep
        keys, vals = self.keys[used], self.vals[used]
        new_size = 16
        while new_size < size:
            new_size *= 2
        self.keys = np.zeros(new_size, dtype=np.uint64)
        self.vals = np.zeros(new_size, dtype=np.int64)
        self.count = _index_insert(self.keys, self.vals, keys, vals)


class _EntityTable:
    """All records of one kind, a hash index to their rows, and their ids (for humans)."""

    def __init__(self, kind: str, ids: bool = True) -> None:
        self.kind = kind
        self.index = _HashIndex()
        self.records = fresh_records(kind, 1024)
        self.ids = np.empty(1024 if ids else 0, dtype=object)
        self.keep_ids = ids
        self.count = 0

    def rows(self, hashes: np.ndarray) -> np.ndarray:
        return self.index.lookup(hashes)

    def add(self, hashes: np.ndarray, ids: np.ndarray | None) -> np.ndarray:
        start = self.count
        end = start + len(hashes)
        rows = np.arange(start, end, dtype=np.int64)
        if end > len(self.records):
            size = max(2 * len(self.records), end)
            grown = np.empty(size, dtype=self.records.dtype)  # rows past count: written on add
            _byte_rows(grown)[:start] = _byte_rows(self.records)[:start]
            self.records = grown
            if self.keep_ids:
                grown_ids = np.empty(size, dtype=object)
                grown_ids[:start] = self.ids[:start]
                self.ids = grown_ids
        self.index.insert(hashes, rows)
        if self.keep_ids:
            self.ids[start:end] = ids
        self.count = end
        return rows


class RecordCache:
    """Records a single writer has read or written, kept in process to skip re-reading them.

    Two generations, an approximate LRU in O(1) numpy operations: lookups search the current
    generation, then the previous one; stores go to the current one; when it holds
    ``capacity / 2`` entities it becomes the previous one (the old previous one is dropped).
    Only valid while this process is the only writer of the profiles it caches.

    >>> cache = RecordCache(capacity=4)
    >>> recs = fresh_records("card", 2)
    >>> recs["n_tx"] = [3, 4]
    >>> cache.put("card", np.array([11, 22], dtype=np.uint64), recs)
    >>> got, hit = cache.get("card", np.array([22, 33], dtype=np.uint64))
    >>> hit.tolist(), int(got["n_tx"][0])
    ([True, False], 4)
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 2)
        self.generations = [self._empty(), self._empty()]

    @staticmethod
    def _empty() -> dict[str, _EntityTable]:
        return {kind: _EntityTable(kind, ids=False) for kind in KINDS}

    def get(self, kind: str, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cached records (fresh ones where missing) and the hit mask."""
        out = fresh_records(kind, len(hashes))
        hit = np.zeros(len(hashes), dtype=bool)
        todo = np.arange(len(hashes))
        for generation in self.generations:
            table = generation[kind]
            if table.count == 0 or not len(todo):
                continue
            rows = table.rows(hashes[todo])
            found = rows >= 0
            if found.any():
                where = todo[found]
                _byte_rows(out)[where] = _byte_rows(table.records)[rows[found]]
                hit[where] = True
                todo = todo[~found]
        return out, hit

    def put(self, kind: str, hashes: np.ndarray, records: np.ndarray) -> None:
        """Remember ``records`` (current generation; overwrites what it held for them)."""
        if not len(hashes):
            return
        table = self.generations[0][kind]
        rows = table.rows(hashes)
        new = rows < 0
        if new.any():
            rows[new] = table.add(hashes[new], None)
        _byte_rows(table.records)[rows] = _byte_rows(records)
        if sum(t.count for t in self.generations[0].values()) >= self.capacity // 2:
            self.generations = [self._empty(), self.generations[0]]

    def clear(self) -> None:
        """Forget everything (after a failure: what the store holds is not known)."""
        self.generations = [self._empty(), self._empty()]


class MemoryStore(ProfileStore):
    """Profiles in process memory: one structured array per kind, rows found by id hash.

    Reads gather the batch's records into copies, writes scatter the changed ones back, so a
    batch is applied entirely or not at all. Entities are told apart by the 64-bit hash of
    their id (two of a billion ids collide with probability ~3e-2; for fewer ids, far less).

    Parameters
    ----------
    label_horizon_ms
        How long transaction references are kept for late labels.

    Examples
    --------
    >>> from riskstream.features.hashing import intern
    >>> store = MemoryStore()
    >>> ids = intern(np.array(["c1", "c2"], dtype=object))
    >>> session = store.read({"customer": ids})
    >>> session.records["customer"]["n_tx"] += 1
    >>> session.records["customer"]["flags"] |= 1
    >>> store.write(session, {"customer": np.array([True, False])})
    >>> int(store.get("customer", "c1")["n_tx"]), store.get("customer", "c2") is None
    (1, True)
    """

    url = "memory://"

    def __init__(self, label_horizon_ms: int = DEFAULT_LABEL_HORIZON_MS) -> None:
        super().__init__()
        self.label_horizon_ms = int(label_horizon_ms)
        self._tables = {kind: _EntityTable(kind) for kind in KINDS}
        self._refs = _HashIndex()
        self._ref_rows = np.zeros((1024, 3), dtype=np.int64)  # merchant hash, device hash, ts
        self._ref_count = 0
        self._ref_max_ts = np.iinfo(np.int64).min

    def read(
        self, requests: Mapping[str, Interned], known: Mapping[str, KnownRecords] | None = None
    ) -> ReadSession:
        # one process, no concurrency: reading everything is as cheap and always current
        records: dict[str, np.ndarray] = {}
        rows: dict[str, np.ndarray] = {}
        for kind, req in requests.items():
            table = self._tables[kind]
            r = table.rows(req.hashes)
            found = r >= 0
            if found.all():
                recs = _byte_rows(table.records)[r].view(table.records.dtype).reshape(len(r))
            else:
                recs = fresh_records(kind, len(r))
                _byte_rows(recs)[found] = _byte_rows(table.records)[r[found]]
            records[kind] = recs
            rows[kind] = r
        self.stats.reads += 1
        return ReadSession(requests, records, rows)

    def write(
        self,
        session: ReadSession,
        changed: Mapping[str, np.ndarray],
        tx_refs: TxRefs | None = None,
    ) -> None:
        rows: dict[str, np.ndarray] = session.token  # type: ignore[assignment]
        for kind, mask in changed.items():
            if not mask.any():
                continue
            req = session.requests[kind]
            table = self._tables[kind]
            r = rows[kind].copy()
            new = mask & (r < 0)
            if new.any():
                r[new] = table.add(req.hashes[new], req.ids[new])
            _byte_rows(table.records)[r[mask]] = _byte_rows(session.records[kind])[mask]
            self.stats.records_written += int(mask.sum())
        if tx_refs is not None and len(tx_refs.rows):
            self._put_refs(tx_refs)
        self.stats.writes += 1

    def find_tx_refs(self, tx: Interned, label_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(tx.row_hash)
        merchants = np.full(n, None, dtype=object)
        devices = np.full(n, None, dtype=object)
        if n == 0 or self._ref_count == 0:
            return merchants, devices
        pos = self._refs.lookup(tx.row_hash)
        known = pos >= 0
        refs = self._ref_rows[pos[known]]
        for column, out, kind in ((0, merchants, "merchant"), (1, devices, "device")):
            table = self._tables[kind]
            hashes = refs[:, column].view(np.uint64)
            rows = table.rows(hashes)
            ok = (hashes != 0) & (rows >= 0)
            ids = np.full(len(hashes), None, dtype=object)
            ids[ok] = table.ids[rows[ok]]
            out[known] = ids
        return merchants, devices

    def _put_refs(self, refs: TxRefs) -> None:
        rows = refs.rows
        hashes = refs.tx.row_hash[rows]
        data = np.empty((len(rows), 3), dtype=np.int64)
        data[:, 0] = refs.merchant.row_hash[rows].view(np.int64)
        data[:, 1] = refs.device.row_hash[rows].view(np.int64)
        data[:, 2] = refs.ts[rows]
        self._ref_max_ts = max(self._ref_max_ts, int(refs.ts[rows].max()))
        if self._ref_count + len(rows) > len(self._ref_rows):
            self._compact_refs(len(rows))
        start = self._ref_count
        self._ref_rows[start : start + len(rows)] = data
        self._refs.insert(hashes, np.arange(start, start + len(rows), dtype=np.int64))
        self._ref_count += len(rows)

    def _compact_refs(self, incoming: int) -> None:
        """Drop references older than the label horizon; grow if still needed."""
        live = self._ref_rows[: self._ref_count]
        keep_rows = live[:, 2] >= self._ref_max_ts - self.label_horizon_ms
        old_pos = np.flatnonzero(keep_rows)
        new_pos = np.full(self._ref_count, -1, dtype=np.int64)
        new_pos[old_pos] = np.arange(len(old_pos))
        used = self._refs.keys != 0
        remapped = new_pos[self._refs.vals[used]]
        keys = self._refs.keys[used][remapped >= 0]
        vals = remapped[remapped >= 0]
        size = max(1024, 2 * (len(old_pos) + incoming))
        rows = np.zeros((size, 3), dtype=np.int64)
        rows[: len(old_pos)] = live[old_pos]
        self._ref_rows = rows
        self._ref_count = len(old_pos)
        self._refs = _HashIndex(size)
        self._refs.insert(keys, vals)

    def count(self, kind: str) -> int:
        """How many entities of ``kind`` the store holds."""
        return self._tables[kind].count

    def records(self, kind: str) -> np.ndarray:
        """A copy of every record of ``kind`` (tests and snapshots)."""
        table = self._tables[kind]
        return table.records[: table.count].copy()

    def ids(self, kind: str) -> list[object]:
        """The ids of every entity of ``kind``, in the order of `records`."""
        table = self._tables[kind]
        return table.ids[: table.count].tolist()


# --- factory ----------------------------------------------------------------------------------


def open_store(url: str | None = None, **options: object) -> ProfileStore:
    """A store from its URL: ``memory://`` (default), ``redis://...``, ``redis+cluster://...``.

    ``options`` are passed to the store (``prefix``, ``buckets``, ``socket_timeout``,
    ``label_horizon_ms``, ...); unknown ones raise `ConfigError`.

    >>> open_store("memory://").url
    'memory://'
    """
    url = url or "memory://"
    scheme = urlsplit(url).scheme
    try:
        if scheme == "memory":
            allowed = {"label_horizon_ms"}
            return MemoryStore(**{k: v for k, v in options.items() if k in allowed})  # type: ignore[arg-type]
        if scheme in ("redis", "redis+cluster"):
            from riskstream.features.redis_store import RedisStore

            return RedisStore(url, **options)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ConfigError(f"profile store {_redact(url)}: {exc}") from exc
    raise ConfigError(
        f"unknown profile store {_redact(url)!r}: use memory://, redis://HOST:PORT/DB or "
        "redis+cluster://HOST:PORT"
    )


def _redact(url: str) -> str:
    """The URL without its password, for messages.

    >>> _redact("redis://user:secret@host:6379/0")
    'redis://user:***@host:6379/0'
    """
    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@", 1) if password else url
