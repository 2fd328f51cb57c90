"""The Redis task store of the service: tasks, outbox, labels, blocks and nonces in Redis.

Same interface and promises as `riskstream.alerts.store.FileTaskStore`. A commit is one
``WATCH``/``MULTI``/``EXEC`` transaction over the task keys it writes, so the task, its outbox
entry, the indexes and the labels land together or not at all; a concurrent change of a
watched task raises `StoreConflict`. Every key carries the hash tag of the prefix (default
``rs:{sms}:``), so the transaction also works on a Redis Cluster (all keys in one slot).

Keys (after the prefix): ``task:ID`` (JSON), ``tx:TX`` (task id), ``cust:CUSTOMER`` (latest
lead), ``tasks`` (zset by event time), ``pending`` (zset of pending leads by ``expires_at``),
``outbox`` (zset by ``not_before``) with ``outbox:e`` (hash of entries), ``labels`` (list),
``blocks`` (list) with ``blocked`` (hash by card hash), ``nonce:N`` (SET NX PX), ``meta``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import redis

from riskstream.alerts.store import StoreConflict, TaskStore
from riskstream.alerts.tasks import OutboxEntry, SmsTask, TaskState
from riskstream.errors import AlertError

__all__ = ["RedisTaskStore"]


class RedisTaskStore(TaskStore):
    """A task store in Redis.

    Parameters
    ----------
    url
        ``redis://host:port/db``.
    prefix
        Key prefix; keep a ``{hash tag}`` in it for Redis Cluster.
    fresh
        Delete every key under the prefix first (tests, a replay into Redis).
    time_mode
        ``"clock"`` (a service) or ``"event"``; kept in the store's ``meta`` hash.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "rs:{sms}:",
        fresh: bool = False,
        time_mode: str = "clock",
    ) -> None:
        self.url = url
        self.prefix = prefix
        try:
            self.client = redis.Redis.from_url(url)
            if fresh:
                keys = list(self.client.scan_iter(match=self._escaped_prefix() + "*"))
                if keys:
                    self.client.delete(*keys)
            stored = self.client.hget(self._k("meta"), "time_mode")
            if stored is None:
                self.client.hset(self._k("meta"), "time_mode", time_mode)
        except redis.RedisError as exc:
            raise AlertError(f"task store {url}: {exc}") from exc
        self.time_mode = stored.decode() if stored else time_mode

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _escaped_prefix(self) -> str:
        return "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)

    # -- reads -------------------------------------------------------------------------------
    def get(self, task_id: str) -> SmsTask | None:
        raw = self.client.get(self._k("task", task_id))
        return SmsTask.from_json(orjson.loads(raw)) if raw is not None else None

    def task_for_tx(self, tx_id: str) -> str | None:
        raw = self.client.get(self._k("tx", tx_id))
        return raw.decode() if raw is not None else None

    def latest_lead(self, customer_id: str) -> str | None:
        raw = self.client.get(self._k("cust", customer_id))
        return raw.decode() if raw is not None else None

    def outbox(self) -> list[OutboxEntry]:
        keys = self.client.zrange(self._k("outbox"), 0, -1)
        if not keys:
            return []
        raws = self.client.hmget(self._k("outbox", "e"), keys)
        return [OutboxEntry.from_json(orjson.loads(r)) for r in raws if r is not None]

    def due(self, now: int) -> list[str]:
        return [k.decode() for k in self.client.zrangebyscore(self._k("pending"), "-inf", now)]

    def tasks(self) -> Iterator[SmsTask]:
        ids = [i.decode() for i in self.client.zrange(self._k("tasks"), 0, -1)]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for raw in self.client.mget([self._k("task", i) for i in chunk]):
                if raw is not None:
                    yield SmsTask.from_json(orjson.loads(raw))

    def labels(self) -> list[dict[str, Any]]:
        return [orjson.loads(r) for r in self.client.lrange(self._k("labels"), 0, -1)]

    def blocks(self) -> list[dict[str, Any]]:
        return [orjson.loads(r) for r in self.client.lrange(self._k("blocks"), 0, -1)]

    def is_blocked(self, card_hash: str) -> bool:
        """Whether a card (by `riskstream.alerts.tasks.card_hash`) is on the deny list."""
        return bool(self.client.hexists(self._k("blocked"), card_hash))

    def watermark(self) -> int | None:
        raw = self.client.hget(self._k("meta"), "watermark")
        return int(raw) if raw is not None else None

    def set_watermark(self, at: int) -> None:
        current = self.watermark()
        if current is None or at > current:
            self.client.hset(self._k("meta"), "watermark", int(at))

    def info(self) -> dict[str, str]:
        raw = self.client.hgetall(self._k("info"))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def set_info(self, **facts: str) -> None:
        if facts:
            self.client.hset(self._k("info"), mapping=facts)

    # -- writes ------------------------------------------------------------------------------
    def commit(
        self,
        tasks: Sequence[SmsTask] = (),
        *,
        outbox_add: Sequence[OutboxEntry] = (),
        outbox_done: Sequence[str] = (),
        labels: Sequence[dict[str, Any]] = (),
        blocks: Sequence[dict[str, Any]] = (),
    ) -> None:
        task_keys = [self._k("task", t.task_id) for t in tasks]
        try:
            with self.client.pipeline() as pipe:
                if task_keys:
                    pipe.watch(*task_keys)
                    for task, raw in zip(tasks, pipe.mget(task_keys), strict=True):
                        version = orjson.loads(raw)["version"] if raw is not None else 0
                        if version != task.version:
                            raise StoreConflict(
                                f"{task.task_id}: stored version {version}, expected {task.version}"
                            )
                pipe.multi()
                for task, key in zip(tasks, task_keys, strict=True):
                    self._write_task(pipe, task, key)
                for entry in outbox_add:
                    pipe.hset(self._k("outbox", "e"), entry.key, orjson.dumps(entry.to_json()))
                    pipe.zadd(self._k("outbox"), {entry.key: entry.not_before})
                for key in outbox_done:
                    pipe.zrem(self._k("outbox"), key)
                    pipe.hdel(self._k("outbox", "e"), key)
                for label in labels:
                    pipe.rpush(self._k("labels"), orjson.dumps(label))
                for block in blocks:
                    pipe.rpush(self._k("blocks"), orjson.dumps(block))
                    if block.get("card_hash"):
                        pipe.hset(self._k("blocked"), block["card_hash"], orjson.dumps(block))
                pipe.execute()
        except redis.WatchError as exc:
            raise StoreConflict(f"tasks changed concurrently: {exc}") from exc
        except redis.RedisError as exc:
            raise AlertError(f"task store {self.url}: {exc}") from exc
        for task in tasks:
            task.version += 1

    def _write_task(self, pipe: Any, task: SmsTask, key: str) -> None:
        obj = task.to_json()
        obj["version"] = task.version + 1
        pipe.set(key, orjson.dumps(obj))
        pipe.set(self._k("tx", task.tx_id), task.task_id)
        pipe.zadd(self._k("tasks"), {task.task_id: task.event_time})
        if task.is_lead:
            if task.version == 0:
                pipe.set(self._k("cust", task.customer_id), task.task_id)
            if task.state is TaskState.PENDING:
                pipe.zadd(self._k("pending"), {task.task_id: task.expires_at})
            else:
                pipe.zrem(self._k("pending"), task.task_id)

    def remember(self, nonce: str, now: int, ttl_ms: int) -> bool:
        return bool(self.client.set(self._k("nonce", nonce), now, nx=True, px=max(ttl_ms, 1)))

    def close(self) -> None:
        self.client.close()
