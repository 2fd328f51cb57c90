"""Profile stores in Redis and Redis Cluster: one key per entity, two round trips per batch.

Keys are ``{prefix}:{<bucket>}:<letter>:<id>`` (letters: c customer, k card, d device,
m merchant, p payee), values the record bytes of `riskstream.features.schema`. The hash tag
``{<bucket>}`` (bucket = id hash mod ``buckets``) decides a key's cluster slot, so a batch's keys
fall into at most ``buckets`` slots whatever its size, and a transaction per bucket is legal.

Per micro-batch, every request to every server is sent before any reply is read:

1. read: ``MGET keys`` (with ``WATCH keys`` first under optimistic concurrency): one round trip;
2. write, after all computation: ``MULTI`` + ``MSET`` of the changed records + ``HSET`` of the
   transaction references + ``EXEC``: one round trip.

Two ways of sharing (``concurrency``):

- ``single_writer`` (default for one Redis): one connection, one ``MULTI``/``EXEC`` over the
  whole batch, so a batch is applied entirely or not at all, even if the server dies mid-write.
  Each profile must have one writer at a time (one worker, or workers owning disjoint entities).
  No WATCH: Redis 7.0 checks a new watched key against every key the connection already
  watches, so watching the ~2,500 keys of a 1,000-transaction batch on one connection costs
  ~25 ms of server time.
- ``optimistic`` (default for a cluster): one connection per bucket (16 buckets by default,
  also on one Redis, which keeps each connection's WATCH list short), ``WATCH`` of that
  bucket's keys before the read and one transaction per bucket; on one Redis a batch's buckets
  are grouped into as few transactions (one connection each) as keep about 150 watched keys
  each, so a small batch is one transaction on one connection (`RedisStore._layout`).
  ``EXEC`` answering nil means another
  writer changed a profile in between, and the store raises `WriteConflict` naming what was
  committed, so the stage reads and recomputes the rest. A failure between buckets can leave
  some buckets written and others not, which the per-profile idempotency watermark makes safe
  to replay. (In a cluster a transaction may only touch one slot, hence per-bucket commits in
  any mode.)

A single writer may also keep a `RecordCache` of what it read or wrote (default on; only
cache misses are read) and write behind (off by default: a batch's write is acknowledged
only when the next batch needs Redis, so it overlaps with the caller's work; see
`RedisStore`).

Commands are packed by numba straight from the batch's UTF-8 buffers and record bytes (no
per-key Python objects on the write path); replies are parsed by hiredis.

Transaction references for late labels live in ``{prefix}:{<bucket>}:t:<week>`` hashes
(field tx id, value the merchant and device ids, see `_parse_ref`), expiring
``label_horizon_ms`` after the last write; a label looks in the weeks its transaction can be
in. A hash field costs the server ~2 us (three allocations, several cache misses), ~2 ms per
1,000-transaction batch.
Packing the references instead (``APPEND`` to one string per bucket, week and 1/256 of the tx
hashes: ~0.5 ms per batch) was measured and dropped: a label then reads that part of every
week of the horizon (at 150,000 transactions a day, ~150 KB a week, 14 weeks): 100 label
lookups took 24 ms instead of 0.8 ms with one week of history, i.e. ~0.23 ms per label and
week, ~3 ms per label over a 90-day history (extrapolated), so at a fraud-label rate of 0.1%
(1 label per 1,000 transactions) the lookups would cost more than the writes saved.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

import numba
import numpy as np
import redis
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.crc import key_slot
from redis.exceptions import AskError, MovedError, ResponseError
from redis.retry import Retry

from riskstream.errors import ConfigError, StoreError
from riskstream.features.hashing import Interned
from riskstream.features.schema import KEY_LETTER, KINDS, decode_records
from riskstream.features.store import (
    DEFAULT_LABEL_HORIZON_MS,
    KnownRecords,
    ProfileStore,
    ReadSession,
    RecordCache,
    TxRefs,
    WriteConflict,
)

__all__ = ["RedisStore"]

_WEEK_MS = 7 * 86_400_000
DEFAULT_CACHE_ENTRIES = 500_000
_CRLF = b"\r\n"


# --- RESP packing in numba --------------------------------------------------------------------


@numba.njit(inline="always")
def _put_int(out: np.ndarray, pos: int, value: int) -> int:
    if value == 0:
        out[pos] = 48
        return pos + 1
    digits = 0
    v = value
    while v > 0:
        digits += 1
        v //= 10
    end = pos + digits
    v = value
    for k in range(end - 1, pos - 1, -1):
        out[k] = 48 + v % 10
        v //= 10
    return end


@numba.njit(inline="always")
def _put_bytes(out: np.ndarray, pos: int, src: np.ndarray, start: int, end: int) -> int:
    out[pos : pos + end - start] = src[start:end]
    return pos + end - start


@numba.njit(inline="always")
def _put_crlf(out: np.ndarray, pos: int) -> int:
    out[pos] = 13
    out[pos + 1] = 10
    return pos + 2


@numba.njit(inline="always")
def _n_digits(value: int) -> int:
    d = 1
    while value >= 10:
        d += 1
        value //= 10
    return d


@numba.njit(cache=True)
def _bulk_keys(
    head: np.ndarray,
    tail: np.ndarray,
    buckets: np.ndarray,
    data: np.ndarray,
    offsets: np.ndarray,
    first: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """RESP bulk strings ``$len\\r\\n{head}{bucket}{tail}{id}\\r\\n``; key j at starts[j]."""
    n = first.shape[0]
    size = 0
    for j in range(n):
        r = first[j]
        size += 32 + head.shape[0] + tail.shape[0] + offsets[r + 1] - offsets[r]
    out = np.empty(size, dtype=np.uint8)
    starts = np.empty(n + 1, dtype=np.int64)
    pos = 0
    for j in range(n):
        r = first[j]
        b = buckets[j]
        klen = head.shape[0] + _n_digits(b) + tail.shape[0] + offsets[r + 1] - offsets[r]
        starts[j] = pos
        out[pos] = 36  # $
        pos = _put_int(out, pos + 1, klen)
        pos = _put_crlf(out, pos)
        pos = _put_bytes(out, pos, head, 0, head.shape[0])
        pos = _put_int(out, pos, b)
        pos = _put_bytes(out, pos, tail, 0, tail.shape[0])
        pos = _put_bytes(out, pos, data, offsets[r], offsets[r + 1])
        pos = _put_crlf(out, pos)
    starts[n] = pos
    return out[:pos], starts


@numba.njit(cache=True)
def _gather(buf: np.ndarray, starts: np.ndarray, idx: np.ndarray) -> np.ndarray:
    size = 0
    for j in idx:
        size += starts[j + 1] - starts[j]
    out = np.empty(size, dtype=np.uint8)
    pos = 0
    for j in idx:
        pos = _put_bytes(out, pos, buf, starts[j], starts[j + 1])
    return out


@numba.njit(cache=True)
def _gather_pairs(
    buf: np.ndarray, starts: np.ndarray, idx: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Key bulk string then ``$size\\r\\n<record bytes>\\r\\n`` for each j in idx."""
    width = values.shape[1]
    size = 0
    for j in idx:
        size += starts[j + 1] - starts[j] + width + 16
    out = np.empty(size, dtype=np.uint8)
    pos = 0
    for j in idx:
        pos = _put_bytes(out, pos, buf, starts[j], starts[j + 1])
        out[pos] = 36
        pos = _put_int(out, pos + 1, width)
        pos = _put_crlf(out, pos)
        out[pos : pos + width] = values[j]
        pos = _put_crlf(out, pos + width)
    return out[:pos]


@numba.njit(cache=True)
def _ref_pairs(
    rows: np.ndarray,
    tx_data: np.ndarray,
    tx_off: np.ndarray,
    m_data: np.ndarray,
    m_off: np.ndarray,
    d_data: np.ndarray,
    d_off: np.ndarray,
) -> np.ndarray:
    """``HSET`` field/value pairs: tx id -> a reference (see `_parse_ref`): byte 0, the merchant
    id's length (4 bytes, little-endian), the merchant id, the device id (the rest)."""
    size = 0
    for r in rows:
        size += 48 + tx_off[r + 1] - tx_off[r] + m_off[r + 1] - m_off[r] + d_off[r + 1] - d_off[r]
    out = np.empty(size, dtype=np.uint8)
    pos = 0
    for r in rows:
        out[pos] = 36
        pos = _put_int(out, pos + 1, tx_off[r + 1] - tx_off[r])
        pos = _put_crlf(out, pos)
        pos = _put_bytes(out, pos, tx_data, tx_off[r], tx_off[r + 1])
        pos = _put_crlf(out, pos)
        m_len = m_off[r + 1] - m_off[r]
        vlen = 5 + m_len + d_off[r + 1] - d_off[r]
        out[pos] = 36
        pos = _put_int(out, pos + 1, vlen)
        pos = _put_crlf(out, pos)
        out[pos] = 0
        for k in range(4):
            out[pos + 1 + k] = (m_len >> (8 * k)) & 0xFF
        pos = _put_bytes(out, pos + 5, m_data, m_off[r], m_off[r + 1])
        pos = _put_bytes(out, pos, d_data, d_off[r], d_off[r + 1])
        pos = _put_crlf(out, pos)
    return out[:pos]


def _parse_ref(value: bytes) -> tuple[str | None, str | None]:
    """Merchant and device id of a stored reference (None when absent).

    The merchant id is length-prefixed, so ids may hold any character. References written
    before that (``merchant 0x1f device``; they never start with byte 0) are still read.

    >>> _parse_ref(b"\\x00\\x03\\x00\\x00\\x00m\\x1f1d:2")
    ('m\\x1f1', 'd:2')
    >>> _parse_ref(b"\\x00\\x00\\x00\\x00\\x00d"), _parse_ref(b"m7\\x1f")
    ((None, 'd'), ('m7', None))
    """
    if value[:1] == b"\x00":
        m_len = int.from_bytes(value[1:5], "little")
        merchant, device = value[5 : 5 + m_len], value[5 + m_len :]
    else:
        merchant, _, device = value.partition(b"\x1f")
    return (merchant.decode() if merchant else None, device.decode() if device else None)


def _header(name: bytes, n_args: int) -> bytes:
    return b"*%d\r\n$%d\r\n%s\r\n" % (n_args + 1, len(name), name)


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


try:  # the sentinel redis-py's hiredis reader returns for "not enough data yet"
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
except ImportError:  # pragma: no cover - another redis-py layout: plain hiredis' False
    _NOT_ENOUGH_DATA = False


def _read_replies(conn: Connection, count: int) -> list[object]:
    """``count`` replies, error replies as `ResponseError` values (not raised).

    Straight from the connection's hiredis reader when it has one: a batch's write has ~500
    replies (``QUEUED`` and those of the reference appends), and redis-py's `read_response`
    costs ~0.5 us more per reply than ``hiredis.Reader.gets``.
    """
    parser = getattr(conn, "_parser", None)
    reader = getattr(parser, "_reader", None)
    if reader is None or not hasattr(parser, "read_from_socket"):
        got: list[object] = []
        for _ in range(count):
            try:
                got.append(conn.read_response())
            except ResponseError as exc:
                got.append(exc)
        return got
    got = []
    while len(got) < count:
        reply = reader.gets()
        if reply is _NOT_ENOUGH_DATA or reply is False:  # not enough data yet
            parser.read_from_socket()  # type: ignore[union-attr]
            continue
        if isinstance(reply, redis.ConnectionError):
            raise reply
        got.append(reply)
    return got


# --- the store --------------------------------------------------------------------------------

_MULTI = b"*1\r\n$5\r\nMULTI\r\n"
_EXEC = b"*1\r\n$4\r\nEXEC\r\n"
_UNWATCH = b"*1\r\n$7\r\nUNWATCH\r\n"


@dataclass
class _KindKeys:
    """The keys of one kind in a batch: RESP bulk strings and the unit of each."""

    buf: np.ndarray
    starts: np.ndarray
    units: np.ndarray


@dataclass
class _Token:
    keys: dict[str, _KindKeys]
    groups: dict[int, dict[str, np.ndarray]]  # unit -> kind -> positions of its keys
    watched: list[int]  # units with a pending WATCH
    unit_of_bucket: np.ndarray  # this batch's layout (see RedisStore._layout)
    conn_of_unit: np.ndarray


@dataclass
class _Pending:
    """A write sent and not yet acknowledged (write-behind)."""

    plan: dict[int, list[tuple[int, int]]]
    written_units: set[int]


class RedisStore(ProfileStore):
    """Profiles in one Redis or a Redis Cluster; see the module docstring for the protocol.

    Parameters
    ----------
    url
        ``redis://host:port/db`` for one server, ``redis+cluster://host:port`` for a cluster
        (any node; the others are found with ``CLUSTER SLOTS``).
    prefix
        First part of every key, so several deployments can share a server.
    buckets
        Hash-tag buckets (default 16 for a cluster or optimistic concurrency, 1 for one Redis
        with a single writer). Part of the key layout: recorded under ``{prefix}:{0}:meta``
        and checked when the store opens; without ``buckets`` the recorded layout is used.
        Optimistic concurrency watches each bucket's keys on a connection of its own, and
        Redis 7.0's WATCH costs grow with the square of the keys a connection watches: the
        2,574 keys of a 1,000-transaction batch took 59 ms of server time on one connection,
        5.4 ms over 16.
    concurrency
        ``optimistic``: WATCH what is read, one transaction per bucket, `WriteConflict` when
        another writer got there first (any number of writers; the default for a cluster).
        ``single_writer``: no WATCH; one Redis then applies a whole batch in one transaction
        (the default for one Redis: each profile must have one writer at a time, e.g. one
        worker, or workers that own disjoint entities).
    socket_timeout
        Seconds to wait for a reply before the batch fails with `StoreError`.
    label_horizon_ms
        How long transaction references are kept for late labels.
    cache_entries
        Single writer only: keep up to this many records this process read or wrote in a
        `RecordCache` and read only the others from Redis (default 500,000, ~200 MB; 0 turns
        it off). Writes always go to Redis; any failure empties the cache.
    write_behind
        Single writer only: send a batch's write and return without waiting for the reply,
        which is read only when needed: by the next batch's read, sent behind the write
        (Redis executes a connection's commands in order, so that read sees the write), or,
        when every record of the next batch is cached, just before the next write is sent.
        Redis then executes the write while the caller builds the frame, prepares and
        computes the next batch; a failed write surfaces as `StoreError` at the next
        `read`/`write`/`flush`. Callers that commit input offsets must call `flush` first.
    """

    CONTENDED_WRITES = 100
    """Writes after a conflict that keep one transaction per bucket (`_layout`)."""

    WATCH_KEYS_PER_CONNECTION = 150
    """Optimistic concurrency on one Redis: about this many keys per connection and batch
    (`_layout`)."""

    def __init__(
        self,
        url: str,
        prefix: str = "rs",
        buckets: int | None = None,
        concurrency: str | None = None,
        socket_timeout: float = 5.0,
        label_horizon_ms: int = DEFAULT_LABEL_HORIZON_MS,
        cache_entries: int | None = None,
        write_behind: bool = False,
    ) -> None:
        super().__init__()
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "redis+cluster"):
            raise ConfigError(f"not a Redis URL (scheme {parts.scheme!r})")
        self.url = url if not parts.password else url.replace(f":{parts.password}@", ":***@", 1)
        self.cluster = parts.scheme == "redis+cluster"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self._auth = {"username": parts.username or None, "password": parts.password or None}
        path = parts.path.strip("/")
        self.db = int(path) if path.isdigit() else 0
        if self.cluster and self.db:
            raise ConfigError(f"{self.url}: a Redis Cluster has only database 0")
        self.prefix = prefix
        self.concurrency = concurrency or ("optimistic" if self.cluster else "single_writer")
        if self.concurrency not in ("optimistic", "single_writer"):
            raise ConfigError(f"{self.url}: concurrency must be optimistic or single_writer")
        self.optimistic = self.concurrency == "optimistic"
        self._buckets_given = bool(buckets)
        self.buckets = int(buckets) if buckets else (16 if self.cluster or self.optimistic else 1)
        if not 1 <= self.buckets <= 16384:
            raise ConfigError(f"{self.url}: buckets must be between 1 and 16384")
        if cache_entries is None:
            cache_entries = 0 if self.optimistic else DEFAULT_CACHE_ENTRIES
        if cache_entries and self.optimistic:
            raise ConfigError(f"{self.url}: a record cache needs concurrency single_writer")
        self.cache = RecordCache(cache_entries) if cache_entries else None
        self.write_behind = bool(write_behind)
        # Writes left during which an optimistic store keeps one transaction per bucket after a
        # conflict (see `_layout`).
        self._contended = 0
        if self.write_behind and self.optimistic:
            raise ConfigError(f"{self.url}: write_behind needs concurrency single_writer")
        self._pending: _Pending | None = None
        self.socket_timeout = float(socket_timeout)
        self.label_horizon_ms = int(label_horizon_ms)
        self._heads = {
            kind: (
                np.frombuffer(f"{prefix}:{{".encode(), dtype=np.uint8),
                np.frombuffer(f"}}:{KEY_LETTER[kind]}:".encode(), dtype=np.uint8),
            )
            for kind in KINDS
        }
        self._conns: list[Connection] = []
        # a unit is what one transaction covers: the whole batch (one Redis, single writer)
        # or one bucket; each unit is served by one connection
        self._unit_of_bucket = np.zeros(self.buckets, dtype=np.int64)
        self._conn_of_unit = np.zeros(1, dtype=np.int64)
        try:
            self._connect()
            self._check_meta()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._drop_connections()
            raise StoreError(f"profile store {self.url}: cannot connect: {exc}") from exc

    # -- connections --------------------------------------------------------------------------

    def _new_connection(self, host: str, port: int) -> Connection:
        return Connection(
            host=host,
            port=port,
            db=self.db,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=min(self.socket_timeout, 2.0),
            retry=Retry(NoBackoff(), 0),
            **self._auth,
        )

    def _connect(self) -> None:
        self._drop_connections()
        per_bucket = self.cluster or self.optimistic
        self._unit_of_bucket = (
            np.arange(self.buckets, dtype=np.int64)
            if per_bucket
            else np.zeros(self.buckets, dtype=np.int64)
        )
        hosts = self._slot_owners() if self.cluster else [(self.host, self.port)] * self.buckets
        if self.optimistic:  # WATCH state is per connection: one connection per bucket
            self._conns = [self._new_connection(h, p) for h, p in hosts]
            self._conn_of_unit = np.arange(self.buckets, dtype=np.int64)
        elif self.cluster:  # one connection per node, serving that node's buckets
            nodes = sorted(set(hosts))
            self._conns = [self._new_connection(h, p) for h, p in nodes]
            self._conn_of_unit = np.array([nodes.index(hp) for hp in hosts], dtype=np.int64)
        else:
            self._conns = [self._new_connection(self.host, self.port)]
            self._conn_of_unit = np.zeros(1, dtype=np.int64)

    def _slot_owners(self) -> list[tuple[str, int]]:
        """(host, port) of the master serving each bucket's slot, from CLUSTER SLOTS."""
        boot = self._new_connection(self.host, self.port)
        try:
            boot.send_command("CLUSTER", "SLOTS")
            slots = boot.read_response()
        finally:
            boot.disconnect()
        owner: dict[int, tuple[str, int]] = {}
        for start, end, master, *_ in slots:
            host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
            for slot in range(int(start), int(end) + 1):
                owner[slot] = (host or self.host, int(master[1]))
        hosts = []
        for b in range(self.buckets):
            slot = key_slot(str(b).encode())
            if slot not in owner:
                raise StoreError(f"profile store {self.url}: slot {slot} has no master")
            hosts.append(owner[slot])
        return hosts

    def _drop_connections(self) -> None:
        for conn in self._conns:
            conn.disconnect()

    def close(self) -> None:
        with contextlib.suppress(StoreError):
            self._settle()
        self._drop_connections()

    def _conn_of_bucket(self, bucket: int) -> int:
        return int(self._conn_of_unit[self._unit_of_bucket[bucket]])

    def _check_meta(self) -> None:
        """Record the key layout (buckets) or check it against the recorded one; a store
        opened without ``buckets`` takes the recorded layout (the meta key of bucket 0 lives
        in the same slot whatever the number of buckets)."""
        key = f"{self.prefix}:{{0}}:meta".encode()
        conn = self._conns[self._conn_of_bucket(0)]
        if not self._buckets_given:
            conn.send_command("GET", key)
            found = re.fullmatch(rb"riskstream profiles buckets=(\d+)", conn.read_response() or b"")
            if found and int(found.group(1)) != self.buckets:
                self.buckets = int(found.group(1))
                self._connect()
                conn = self._conns[self._conn_of_bucket(0)]
        value = f"riskstream profiles buckets={self.buckets}".encode()
        conn.send_command("SET", key, value, "NX")
        conn.read_response()
        conn.send_command("GET", key)
        stored = conn.read_response()
        if stored != value:
            raise ConfigError(
                f"profile store {self.url}: keys under {self.prefix!r} were written with "
                f"{stored.decode(errors='replace')!r}, this store is configured with "
                f"buckets={self.buckets} (use the same buckets, or another prefix)"
            )

    # -- one exchange: send everything, then read every reply -------------------------------

    def _exchange(self, payloads: Mapping[int, tuple[list[bytes], int]], what: str) -> dict:
        """Send ``payloads[conn] = (chunks, n_replies)`` to all connections, then read."""
        self._send(payloads, what)
        return self._receive({conn: count for conn, (_, count) in payloads.items()}, what)

    def _send(self, payloads: Mapping[int, tuple[list[bytes], int]], what: str) -> None:
        try:
            for index, (chunks, _) in payloads.items():
                self._conns[index].send_packed_command([b"".join(chunks)], check_health=False)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._lost(exc, what)

    def _receive(self, counts: Mapping[int, int], what: str) -> dict[int, list[object]]:
        replies: dict[int, list[object]] = {}
        try:
            for index, count in counts.items():
                replies[index] = _read_replies(self._conns[index], count)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._lost(exc, what)
        self.stats.round_trips += 1
        for got in replies.values():
            for reply in got:
                if isinstance(reply, (MovedError, AskError)):
                    if self.cache is not None:
                        self.cache.clear()
                    self._connect()
                    raise _TopologyChanged(str(reply))
        return replies

    def _lost(self, exc: Exception, what: str) -> NoReturn:
        self._drop_connections()
        self._pending = None
        if self.cache is not None:
            self.cache.clear()
        if what.startswith("write"):
            detail = (
                "the batch may or may not have been applied (one Redis: entirely or not "
                "at all); replaying it is safe, profile updates are idempotent"
            )
        else:
            detail = "nothing was written"
        raise StoreError(
            f"profile store {self.url}: connection lost during {what}: {exc}; {detail}"
        ) from exc

    def _settle(self) -> None:
        """Read the acknowledgement of a write-behind write; raise if it failed."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        what = "write (of the previous batch, sent write-behind)"
        counts = {conn: sum(n for _, n in items) for conn, items in pending.plan.items()}
        try:
            replies = self._receive(counts, what)
            self._check_write(pending.plan, pending.written_units, replies)
        except (StoreError, _TopologyChanged) as exc:
            if self.cache is not None:
                self.cache.clear()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(
                f"profile store {self.url}: the previous batch's write was refused ({exc}); "
                "replay from the last checkpoint (profile updates are idempotent)"
            ) from exc

    def flush(self) -> None:
        """Wait until every write sent is acknowledged (write-behind); raise if one failed."""
        self._settle()

    # -- read ---------------------------------------------------------------------------------

    def read(
        self, requests: Mapping[str, Interned], known: Mapping[str, KnownRecords] | None = None
    ) -> ReadSession:
        for attempt in range(3):
            try:
                return self._read(requests, known or {})
            except _TopologyChanged as exc:
                if attempt == 2:
                    raise StoreError(
                        f"profile store {self.url}: cluster keeps moving slots"
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _buckets(self, hashes: np.ndarray) -> np.ndarray:
        return ((hashes >> np.uint64(11)) % np.uint64(self.buckets)).astype(np.int64)

    def _layout(self, requests: Mapping[str, Interned]) -> tuple[np.ndarray, np.ndarray]:
        """Which transaction (unit) each bucket's keys join in this batch, and the connection
        of each unit.

        Optimistic concurrency on one Redis: one transaction per group of buckets, as few
        groups as keep each connection's WATCH list near `WATCH_KEYS_PER_CONNECTION` keys.
        Every connection costs a TCP exchange per round trip on both sides (~0.1 ms of CPU
        on loopback), and Redis 7.0's WATCH costs grow with the square of the keys a
        connection watches, so a small batch goes in one transaction on one connection and a
        batch of 2,500 keys is spread over all ``buckets``. A cluster keeps one transaction
        per bucket (one slot each), a single writer its one connection.

        After a write conflict, and for the next `CONTENDED_WRITES` writes, every bucket is a
        transaction of its own again: other writers are touching the same profiles, and a
        conflict then redoes only the buckets they touched, not a whole group (two workers
        sharing hot merchants conflicted on every attempt of grouped transactions).
        """
        if not self.optimistic or self.cluster or self.buckets == 1 or self._contended:
            return self._unit_of_bucket, self._conn_of_unit
        n_keys = sum(len(req.ids) for req in requests.values())
        groups = min(self.buckets, max(1, -(-n_keys // self.WATCH_KEYS_PER_CONNECTION)))
        if groups == self.buckets:
            return self._unit_of_bucket, self._conn_of_unit
        return np.arange(self.buckets, dtype=np.int64) % groups, self._conn_of_unit[:groups]

    def _keys(
        self, requests: Mapping[str, Interned], unit_of_bucket: np.ndarray
    ) -> dict[str, _KindKeys]:
        out = {}
        for kind in KINDS:
            req = requests.get(kind)
            if req is None:
                continue
            buckets = self._buckets(req.hashes)
            head, tail = self._heads[kind]
            buf, starts = _bulk_keys(head, tail, buckets, req.data, req.offsets, req.first)
            out[kind] = _KindKeys(buf, starts, unit_of_bucket[buckets])
        return out

    @staticmethod
    def _groups(
        keys: Mapping[str, _KindKeys], subset: Mapping[str, np.ndarray]
    ) -> dict[int, dict[str, np.ndarray]]:
        """Unit -> kind -> positions (among ``subset[kind]``) of that kind's keys in that unit."""
        groups: dict[int, dict[str, np.ndarray]] = {}
        for kind, kk in keys.items():
            idx = subset[kind]
            if not len(idx):
                continue
            units = kk.units[idx]
            if not units.any():
                groups.setdefault(0, {})[kind] = idx
                continue
            order = np.argsort(units, kind="stable")
            bounds = np.flatnonzero(np.diff(units[order])) + 1
            for part in np.split(order, bounds):
                groups.setdefault(int(units[part[0]]), {})[kind] = idx[part]
        return groups

    def _read(
        self, requests: Mapping[str, Interned], known: Mapping[str, KnownRecords]
    ) -> ReadSession:
        unit_of_bucket, conn_of_unit = self._layout(requests)
        keys = self._keys(requests, unit_of_bucket)
        records: dict[str, np.ndarray] = {}
        wanted: dict[str, np.ndarray] = {}
        for kind in keys:
            n = len(requests[kind].ids)
            have = np.zeros(n, dtype=bool)
            if self.cache is not None:
                records[kind], have = self.cache.get(kind, requests[kind].hashes)
            if kind in known:
                if kind not in records:
                    records[kind] = known[kind].records.copy()
                else:
                    records[kind][known[kind].valid] = known[kind].records[known[kind].valid]
                have = have | known[kind].valid
            wanted[kind] = np.flatnonzero(~have)
        groups = self._groups(keys, wanted)
        payloads: dict[int, tuple[list[bytes], int]] = {}
        for unit, by_kind in groups.items():
            blob = b"".join(
                _gather(keys[kind].buf, keys[kind].starts, idx).tobytes()
                for kind, idx in by_kind.items()
            )
            n = sum(len(idx) for idx in by_kind.values())
            chunks, count = payloads.setdefault(int(conn_of_unit[unit]), ([], 0))
            if self.optimistic:
                chunks += [_header(b"WATCH", n), blob]
            chunks += [_header(b"MGET", n), blob]
            payloads[int(conn_of_unit[unit])] = (chunks, count + 1 + self.optimistic)
        replies = self._read_exchange(payloads) if payloads else {}
        cursor = {conn: 0 for conn in replies}
        values = {kind: np.full(len(idx), None, dtype=object) for kind, idx in wanted.items()}
        position = {kind: np.empty(len(requests[kind].ids), dtype=np.int64) for kind in keys}
        for kind, idx in wanted.items():
            position[kind][idx] = np.arange(len(idx))
        for unit, by_kind in groups.items():
            conn = int(conn_of_unit[unit])
            got = replies[conn][cursor[conn] : cursor[conn] + 1 + self.optimistic]
            cursor[conn] += 1 + self.optimistic
            for reply in got:
                if isinstance(reply, Exception):
                    self.release_units(list(groups) if self.optimistic else [], conn_of_unit)
                    raise StoreError(f"profile store {self.url}: read failed: {reply}")
            mget = got[-1]
            pos = 0
            for kind, idx in by_kind.items():
                column = np.empty(len(idx), dtype=object)
                column[:] = mget[pos : pos + len(idx)]  # type: ignore[index]
                values[kind][position[kind][idx]] = column
                pos += len(idx)
        context = f"profile store {self.url}"
        for kind, idx in wanted.items():
            decoded = decode_records(kind, values[kind].tolist(), context)
            if kind in records:
                records[kind][idx] = decoded
            else:
                records[kind] = decoded
        self.stats.reads += 1
        watched = list(groups) if self.optimistic else []
        token = _Token(keys, groups, watched, unit_of_bucket, conn_of_unit)
        return ReadSession(requests, records, token)

    def _read_exchange(
        self, payloads: Mapping[int, tuple[list[bytes], int]]
    ) -> dict[int, list[object]]:
        """Send the reads, then collect a write-behind write's replies, then the reads'.

        Redis runs a connection's commands in order, so a read sent behind a write sees it; the
        read needs no wait of its own for the write. (With every record cached there is no
        read, and the write is collected before the next write is sent, see `write`.)
        """
        if self._pending is None:
            return self._exchange(payloads, "read")
        self._send(payloads, "read")
        try:
            self._settle()
        except BaseException:
            self._drop_connections()  # the reads' replies are still on the wire
            raise
        return self._receive({conn: count for conn, (_, count) in payloads.items()}, "read")

    # -- write --------------------------------------------------------------------------------

    def write(
        self,
        session: ReadSession,
        changed: Mapping[str, np.ndarray],
        tx_refs: TxRefs | None = None,
    ) -> None:
        self._settle()  # write-behind: the previous write is acknowledged before the next
        token: _Token = session.token  # type: ignore[assignment]
        keys, unit_of_bucket, conn_of_unit = token.keys, token.unit_of_bucket, token.conn_of_unit
        per_unit: dict[int, list[bytes]] = {}
        counts: dict[int, int] = {}
        for kind, mask in changed.items():
            if kind not in keys or not mask.any():
                continue
            kk = keys[kind]
            recs = session.records[kind]
            raw = recs.view(np.uint8).reshape(len(recs), recs.dtype.itemsize)
            idx_all = np.flatnonzero(mask)
            units = kk.units[idx_all]
            for unit in np.unique(units).tolist() if units.any() else [0]:
                idx = idx_all[units == unit] if units.any() else idx_all
                pairs = _gather_pairs(kk.buf, kk.starts, idx, raw).tobytes()
                per_unit.setdefault(unit, []).extend([_header(b"MSET", 2 * len(idx)), pairs])
                counts[unit] = counts.get(unit, 0) + 1
            self.stats.records_written += len(idx_all)
        if tx_refs is not None and len(tx_refs.rows):
            self._ref_commands(tx_refs, per_unit, counts, unit_of_bucket)
        payloads: dict[int, tuple[list[bytes], int]] = {}
        plan: dict[int, list[tuple[int, int]]] = {}  # conn -> (unit, replies) in send order
        for unit in sorted(set(token.watched) | set(per_unit)):
            conn = int(conn_of_unit[unit])
            chunks, count = payloads.setdefault(conn, ([], 0))
            if unit in per_unit:
                chunks += [_MULTI, *per_unit[unit], _EXEC]
                n = counts[unit] + 2
            else:
                chunks.append(_UNWATCH)
                n = 1
            payloads[conn] = (chunks, count + n)
            plan.setdefault(conn, []).append((unit, n))
        token.watched = []
        if not payloads:
            if self.cache is not None:
                for kind, records in session.records.items():
                    self.cache.put(kind, session.requests[kind].hashes, records)
            return
        if self.write_behind:
            self._send(payloads, "write")
            self._pending = _Pending(plan, set(per_unit))
            self.stats.writes += 1
            if self.cache is not None:  # emptied again if the write turns out to fail
                for kind, records in session.records.items():
                    self.cache.put(kind, session.requests[kind].hashes, records)
            return
        try:
            replies = self._exchange(payloads, "write")
        except _TopologyChanged as exc:
            nothing = {kind: np.zeros(len(m), dtype=bool) for kind, m in changed.items()}
            raise WriteConflict(nothing) from exc
        aborted = self._check_write(plan, set(per_unit), replies)
        self._contended = self.CONTENDED_WRITES if aborted else max(self._contended - 1, 0)
        self.stats.writes += 1
        if self.cache is not None and not aborted:
            for kind, records in session.records.items():
                self.cache.put(kind, session.requests[kind].hashes, records)
        if aborted:
            self.stats.conflicts += 1
            committed = {}
            for kind, mask in changed.items():
                ok = mask.copy()
                if kind in keys:
                    ok &= ~np.isin(keys[kind].units, aborted)
                committed[kind] = ok
            raise WriteConflict(committed)

    def _check_write(
        self,
        plan: Mapping[int, list[tuple[int, int]]],
        written: set[int],
        replies: Mapping[int, list[object]],
    ) -> list[int]:
        """The units whose transaction was aborted (EXEC nil); raise on any error reply."""
        aborted: list[int] = []
        for conn, items in plan.items():
            pos = 0
            for unit, n in items:
                got = replies[conn][pos : pos + n]
                pos += n
                if unit not in written:
                    continue
                result = got[-1]
                errors = [r for r in got if isinstance(r, Exception)]
                if isinstance(result, list):
                    errors += [r for r in result if isinstance(r, Exception)]
                if errors:
                    raise StoreError(f"profile store {self.url}: write refused: {errors[0]}")
                if result is None:
                    aborted.append(unit)
        return aborted

    def _ref_commands(
        self,
        refs: TxRefs,
        per_unit: dict[int, list[bytes]],
        counts: dict[int, int],
        unit_of_bucket: np.ndarray,
    ) -> None:
        rows = refs.rows
        buckets = self._buckets(refs.tx.row_hash[rows])
        weeks = refs.ts[rows] // _WEEK_MS
        order = np.lexsort((weeks, buckets))
        b_sorted, w_sorted = buckets[order], weeks[order]
        cut = np.flatnonzero((np.diff(b_sorted) != 0) | (np.diff(w_sorted) != 0)) + 1
        ttl = str(self.label_horizon_ms).encode()
        for part in np.split(order, cut):
            if not len(part):
                continue
            b, week = int(buckets[part[0]]), int(weeks[part[0]])
            unit = int(unit_of_bucket[b])
            key = self._ref_key(b, week)
            pairs = _ref_pairs(
                rows[part],
                refs.tx.data,
                refs.tx.offsets,
                refs.merchant.data,
                refs.merchant.offsets,
                refs.device.data,
                refs.device.offsets,
            ).tobytes()
            per_unit.setdefault(unit, []).extend(
                [
                    _header(b"HSET", 1 + 2 * len(part)),
                    _bulk(key),
                    pairs,
                    _header(b"PEXPIRE", 2),
                    _bulk(key),
                    _bulk(ttl),
                ]
            )
            counts[unit] = counts.get(unit, 0) + 2

    def _ref_key(self, bucket: int, week: int) -> bytes:
        return f"{self.prefix}:{{{bucket}}}:t:{week}".encode()

    def release(self, session: ReadSession) -> None:
        token = session.token
        if isinstance(token, _Token) and token.watched:
            self.release_units(token.watched, token.conn_of_unit)
            token.watched = []

    def release_units(self, units: Sequence[int], conn_of_unit: np.ndarray) -> None:
        """UNWATCH the connections of ``units`` (best effort: a broken one is dropped)."""
        conns = sorted({int(conn_of_unit[u]) for u in units})
        if not conns:
            return
        with contextlib.suppress(StoreError, _TopologyChanged):
            self._exchange({c: ([_UNWATCH], 1) for c in conns}, "release")

    # -- labels -------------------------------------------------------------------------------

    def find_tx_refs(self, tx: Interned, label_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._settle()
        n = len(tx.row_hash)
        merchants = np.full(n, None, dtype=object)
        devices = np.full(n, None, dtype=object)
        rows = np.flatnonzero(tx.codes >= 0)
        if not len(rows):
            return merchants, devices
        buckets = self._buckets(tx.row_hash)
        hi = np.asarray(label_time, dtype=np.int64) // _WEEK_MS
        lo = (np.asarray(label_time, dtype=np.int64) - self.label_horizon_ms) // _WEEK_MS
        raw = tx.data.tobytes()
        fields = [raw[tx.offsets[r] : tx.offsets[r + 1]] for r in range(n)]
        asks: dict[int, list[tuple[list[int], bytes]]] = {}
        for b in np.unique(buckets[rows]).tolist():
            mine = rows[buckets[rows] == b]
            for week in range(int(lo[mine].min()), int(hi[mine].max()) + 1):
                want = mine[(lo[mine] <= week) & (hi[mine] >= week)]
                if len(want):
                    conn = self._conn_of_bucket(b)
                    asks.setdefault(conn, []).append((want.tolist(), self._ref_key(b, week)))
        payloads = {}
        for conn, items in asks.items():
            chunks = []
            for want, key in items:
                chunks.append(_header(b"HMGET", 1 + len(want)) + _bulk(key))
                chunks.extend(_bulk(fields[r]) for r in want)
            payloads[conn] = (chunks, len(items))
        try:
            replies = self._exchange(payloads, "label lookup")
        except _TopologyChanged:
            replies = self._exchange(payloads, "label lookup")
        for conn, items in asks.items():
            for (want, _), got in zip(items, replies[conn], strict=True):
                if isinstance(got, Exception):
                    raise StoreError(f"profile store {self.url}: label lookup failed: {got}")
                for r, value in zip(want, got, strict=True):
                    if value is None:
                        continue
                    merchants[r], devices[r] = _parse_ref(value)
        return merchants, devices

    # -- maintenance --------------------------------------------------------------------------

    def purge(self, layout: bool = False) -> None:
        """Delete every profile and reference under this store's prefix (tests, benchmarks,
        the worker's warm-up), and with ``layout`` the record of its bucket layout too."""
        hosts = {(c.host, c.port) for c in self._conns}
        for host, port in hosts:
            client = redis.Redis(host=host, port=port, db=self.db, **self._auth)
            try:
                keys = [
                    key
                    for key in client.scan_iter(match=f"{self.prefix}:*", count=1000)
                    if layout or not key.endswith(b":meta")
                ]
                for key in keys:
                    client.delete(key)
            finally:
                client.close()


class _TopologyChanged(Exception):
    """A cluster slot moved (MOVED/ASK): the slot map was reloaded; retry the batch."""
