"""What the worker emitted for each input record not yet committed, kept for re-emission.

At-least-once delivery replays the records after the last committed offset when a worker dies.
The profile watermarks (`riskstream.features.stage.FeatureStage.last_replayed`) tell which of
those transactions were already applied; for them the worker re-emits, byte for byte, the
decision (and alert and SMS task) it produced the first time, found here by topic, partition
and offset. Entries are written *before* the outputs are produced and trimmed once the offsets
they belong to are committed, so the store holds about one commit interval of outputs per
partition, whatever the traffic.

Layout: one hash per input partition (``{prefix}:out:{group}:{topic}:{partition}``), one field
per micro-batch and writer (``first-last-writer`` offsets), its value the packed rows of that
batch; a replay reads the field names and fetches only the batches that cover the replayed
offsets, the earliest batch first, so the outputs first stored for an offset are the ones
re-emitted (a replayed batch covering the same offsets adds a field, never replaces one).
Committed offsets trim every field wholly below them, whoever wrote it. Written
with one ``HSET`` per partition per batch (plus ``EXPIRE``, so the hash of a partition that
moved away ages out), read only when a replay happens.

`open_emitted_store` picks the implementation from a URL: ``memory://`` (in-process: survives
nothing, for tests and the embedded default), ``redis://...`` or ``redis+cluster://...``.

Examples
--------
>>> store = MemoryEmittedStore()
>>> store.put("tx", 0, {5: b'{"a":1}', 6: b'{"a":2}'})
>>> store.get("tx", 0, [6, 7])
{6: b'{"a":2}'}
>>> store.trim("tx", 0, 7); store.get("tx", 0, [5, 6])
{}
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import redis
from redis.cluster import RedisCluster

from riskstream.errors import ConfigError, StoreError

__all__ = ["EmittedStore", "MemoryEmittedStore", "RedisEmittedStore", "open_emitted_store"]

_ROW = b"\x1e"
_OFF = b"\x1d"


def _pack(rows: Mapping[int, bytes]) -> bytes:
    return _ROW.join(b"%d%s%s" % (offset, _OFF, blob) for offset, blob in rows.items())


def _span(field: bytes) -> tuple[int, int]:
    first, last = field.split(b"-")[:2]
    return int(first), int(last)


def _unpack(value: bytes) -> dict[int, bytes]:
    out = {}
    for row in value.split(_ROW):
        offset, _, blob = row.partition(_OFF)
        out[int(offset)] = blob
    return out


class EmittedStore(abc.ABC):
    """Outputs per (topic, partition, offset); see the module docstring."""

    url: str = ""

    @abc.abstractmethod
    def put(self, topic: str, partition: int, rows: Mapping[int, bytes]) -> None:
        """Remember ``rows`` (offset -> packed outputs) of one batch of one partition."""

    def put_many(self, batches: Mapping[tuple[str, int], Mapping[int, bytes]]) -> None:
        """`put` for several partitions at once (one round trip in Redis)."""
        for (topic, partition), rows in batches.items():
            self.put(topic, partition, rows)

    @abc.abstractmethod
    def get(self, topic: str, partition: int, offsets: Sequence[int]) -> dict[int, bytes]:
        """The stored outputs of those ``offsets`` that have any."""

    @abc.abstractmethod
    def trim(self, topic: str, partition: int, below: int) -> None:
        """Forget the batches whose offsets are all below ``below`` (committed)."""

    def trim_many(self, below: Mapping[tuple[str, int], int]) -> None:
        """`trim` for several partitions at once (two round trips in Redis)."""
        for (topic, partition), offset in below.items():
            self.trim(topic, partition, offset)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryEmittedStore(EmittedStore):
    """In-process store: batches per partition in a dict (lost with the process)."""

    url = "memory://"

    def __init__(self) -> None:
        self._parts: dict[tuple[str, int], dict[tuple[int, int], dict[int, bytes]]] = {}

    def put(self, topic: str, partition: int, rows: Mapping[int, bytes]) -> None:
        if rows:
            batches = self._parts.setdefault((topic, partition), {})
            batch = batches.setdefault((min(rows), max(rows)), {})
            for offset, blob in rows.items():
                batch.setdefault(offset, blob)  # the first outputs of an offset win

    def get(self, topic: str, partition: int, offsets: Sequence[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for rows in self._parts.get((topic, partition), {}).values():
            out.update({o: rows[o] for o in offsets if o in rows})
        return out

    def trim(self, topic: str, partition: int, below: int) -> None:
        batches = self._parts.get((topic, partition), {})
        for span in [s for s in batches if s[1] < below]:
            del batches[span]


class RedisEmittedStore(EmittedStore):
    """The store in one Redis or a Redis Cluster (each partition's hash is one key).

    Parameters
    ----------
    client
        A ``redis.Redis`` or ``redis.cluster.RedisCluster`` client.
    prefix
        Key prefix, ``{prefix}:out:{group}:...``.
    group
        The consumer group (workers of one group share entries).
    ttl_s
        Expiry of a partition's hash after its last write (a partition that moved away).
    """

    def __init__(
        self, client: redis.Redis | RedisCluster, prefix: str, group: str, ttl_s: int, url: str = ""
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.group = group
        self.ttl_s = ttl_s
        self.url = url
        self._writer = uuid.uuid4().hex[:12].encode()

    def _key(self, topic: str, partition: int) -> str:
        return f"{self.prefix}:out:{self.group}:{topic}:{partition}"

    def put(self, topic: str, partition: int, rows: Mapping[int, bytes]) -> None:
        self.put_many({(topic, partition): rows})

    def put_many(self, batches: Mapping[tuple[str, int], Mapping[int, bytes]]) -> None:
        spans = {where: (min(rows), max(rows)) for where, rows in batches.items() if rows}
        if not spans:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for (topic, partition), (first, last) in spans.items():
                key = self._key(topic, partition)
                # one field per batch and writer: a replay of the same offsets (same span,
                # another worker or a restart) adds a field, never replaces the first outputs
                field = b"%d-%d-%s" % (first, last, self._writer)
                pipe.hset(key, field, _pack(batches[(topic, partition)]))
                pipe.expire(key, self.ttl_s)
            pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"emitted-output store {self.url}: write failed: {exc}") from exc

    def get(self, topic: str, partition: int, offsets: Sequence[int]) -> dict[int, bytes]:
        if not offsets:
            return {}
        key = self._key(topic, partition)
        lo, hi = min(offsets), max(offsets)
        try:
            fields = sorted(
                (f for f in self.client.hkeys(key) if _span(f)[1] >= lo and _span(f)[0] <= hi),
                key=_span,
            )
            values = self.client.hmget(key, fields) if fields else []
        except redis.RedisError as exc:
            raise StoreError(f"emitted-output store {self.url}: read failed: {exc}") from exc
        wanted = set(offsets)
        out: dict[int, bytes] = {}
        for value in values:
            if value is not None:
                for offset, blob in _unpack(value).items():
                    if offset in wanted:
                        out.setdefault(offset, blob)  # the first outputs of an offset win
        return out

    def trim(self, topic: str, partition: int, below: int) -> None:
        key = self._key(topic, partition)
        try:
            done = [f for f in self.client.hkeys(key) if _span(f)[1] < below]
            if done:
                self.client.hdel(key, *done)
        except redis.RedisError as exc:
            raise StoreError(f"emitted-output store {self.url}: trim failed: {exc}") from exc

    def trim_many(self, below: Mapping[tuple[str, int], int]) -> None:
        if not below:
            return
        keys = [
            (self._key(topic, partition), offset) for (topic, partition), offset in below.items()
        ]
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, _ in keys:
                pipe.hkeys(key)
            fields = pipe.execute()
            pipe = self.client.pipeline(transaction=False)
            stale = 0
            for (key, offset), names in zip(keys, fields, strict=True):
                done = [f for f in names if _span(f)[1] < offset]
                if done:
                    pipe.hdel(key, *done)
                    stale += 1
            if stale:
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"emitted-output store {self.url}: trim failed: {exc}") from exc

    def close(self) -> None:
        self.client.close()


def open_emitted_store(
    url: str, prefix: str = "rs", group: str = "riskstream", ttl_s: int = 7 * 86_400
) -> EmittedStore:
    """The store a URL names: ``memory://``, ``redis://host:port/db``, ``redis+cluster://...``."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryEmittedStore()
    if scheme in ("redis", "rediss"):
        client = redis.Redis.from_url(url, socket_timeout=5.0)
    elif scheme == "redis+cluster":
        client = RedisCluster.from_url(url.replace("redis+cluster://", "redis://", 1))
    else:
        raise ConfigError(f"worker: unknown emitted-output store URL {url!r}")
    return RedisEmittedStore(client, prefix, group, ttl_s, url)
