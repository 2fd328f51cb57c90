"""Task stores: where SMS tasks, the outbox, emitted labels and card blocks live.

Two implementations of one interface (`TaskStore`): `FileTaskStore`, a directory for the
embedded mode and the command line, and `RedisTaskStore` (module `redis_store`) for the
service. Both make one promise the outbox depends on: `TaskStore.commit` writes tasks, outbox
entries, labels and blocks *atomically*, so a task is never created without its SMS in the
outbox, and an SMS is never marked sent without the task knowing. Writes are optimistic: a
task carries the version it was read at, and a commit over a newer version raises
`StoreConflict` (the manager re-reads and retries).

The file store is an append-only journal (``sms_journal.jsonl``; one ``write`` per commit,
under an exclusive ``flock`` so the CLI, ``sms serve`` and a run can share a directory; a torn
last line left by a killed process is dropped on open). `flush` writes the readable
snapshots beside it, each replaced atomically: ``sms_tasks.jsonl`` (one task per line, in
creation order), ``sms_labels.jsonl`` (labels in the format ``riskstream run --labels``
reads), ``card_blocks.jsonl`` (the deny list) and ``sms_meta.json`` (time mode and the
event-time watermark of the run that wrote it).

Examples
--------
>>> import tempfile
>>> from riskstream.alerts.tasks import SmsTask
>>> store = FileTaskStore(tempfile.mkdtemp())
>>> task = SmsTask.new("tx1", "cu1", 12.0, "EUR", None, None, 1000, 61000)
>>> store.commit([task])
>>> store.get("sms-tx1").version, store.task_for_tx("tx1"), store.latest_lead("cu1")
(1, 'sms-tx1', 'sms-tx1')
>>> store.due(61000)
['sms-tx1']
>>> store.commit([task])  # the copy in hand is now stale
>>> store.commit([SmsTask.new("tx1", "cu1", 12.0, "EUR", None, None, 1000, 61000)])
Traceback (most recent call last):
...
riskstream.alerts.store.StoreConflict: sms-tx1: stored version 2, expected 0
"""

from __future__ import annotations

import fcntl
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from riskstream.alerts.masking import get_logger
from riskstream.alerts.tasks import OutboxEntry, SmsTask, TaskState, parse_time
from riskstream.errors import AlertError

__all__ = ["STORE_FILES", "FileTaskStore", "StoreConflict", "TaskStore", "open_store"]

log = get_logger(__name__)

STORE_FILES: tuple[str, ...] = (
    "sms_journal.jsonl",
    "sms_tasks.jsonl",
    "sms_labels.jsonl",
    "card_blocks.jsonl",
    "sms_meta.json",
    "sms_sent.jsonl",
)


class StoreConflict(AlertError):
    """Another writer changed a task since it was read; read it again and retry."""


class TaskStore(ABC):
    """The interface of a task store (see the module docstring).

    ``time_mode`` is ``"event"`` for a store written by a replay or an embedded run (its
    clock is the event-time watermark) and ``"clock"`` for a service's store.
    """

    time_mode: str = "clock"

    @abstractmethod
    def get(self, task_id: str) -> SmsTask | None:
        """A fresh copy of the task, or None."""

    @abstractmethod
    def task_for_tx(self, tx_id: str) -> str | None:
        """The id of the task of a challenged transaction, or None."""

    @abstractmethod
    def latest_lead(self, customer_id: str) -> str | None:
        """The customer's most recent lead task (the one whose SMS counts for the cooldown)."""

    @abstractmethod
    def commit(
        self,
        tasks: Sequence[SmsTask] = (),
        *,
        outbox_add: Sequence[OutboxEntry] = (),
        outbox_done: Sequence[str] = (),
        labels: Sequence[dict[str, Any]] = (),
        blocks: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Write everything or nothing; bumps each task's ``version`` on success."""

    @abstractmethod
    def outbox(self) -> list[OutboxEntry]:
        """The SMS not yet handed to the gateway, oldest ``not_before`` first."""

    @abstractmethod
    def due(self, now: int) -> list[str]:
        """Pending lead tasks whose ``expires_at`` is at or before ``now``, earliest first."""

    @abstractmethod
    def tasks(self) -> Iterator[SmsTask]:
        """Every task, in creation order."""

    @abstractmethod
    def labels(self) -> list[dict[str, Any]]:
        """The labels emitted by replies, in the order they were emitted."""

    @abstractmethod
    def blocks(self) -> list[dict[str, Any]]:
        """The card blocks (deny-list entries) emitted by NO replies."""

    @abstractmethod
    def remember(self, nonce: str, now: int, ttl_ms: int) -> bool:
        """True the first time ``nonce`` is seen within ``ttl_ms``; False for a replay."""

    @abstractmethod
    def watermark(self) -> int | None:
        """The event time the store's run had reached (event-time stores), else None."""

    @abstractmethod
    def set_watermark(self, at: int) -> None:
        """Record the event-time clock of the run writing the store."""

    @abstractmethod
    def info(self) -> dict[str, str]:
        """Free facts about the store's writer (the contact store and merchants it used)."""

    @abstractmethod
    def set_info(self, **facts: str) -> None:
        """Record facts for `info`."""

    def flush(self) -> None:  # noqa: B027 (optional hook)
        """Write readable snapshots, if the store keeps any."""

    def close(self) -> None:
        self.flush()


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


class FileTaskStore(TaskStore):
    """A task store in a directory (journal + snapshots); see the module docstring.

    Parameters
    ----------
    path
        The directory (created if missing).
    fresh
        Remove the store files of an earlier run first (a run rewrites its outputs).
    time_mode
        ``"event"`` or ``"clock"`` for a new store; an existing store keeps its own.
    fsync
        fsync the journal after each commit (survives a machine crash, not only a kill).
    """

    def __init__(
        self,
        path: str | Path,
        fresh: bool = False,
        time_mode: str = "clock",
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self.fresh = fresh
        self.fsync = fsync
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if fresh:
                for name in STORE_FILES:
                    (self.path / name).unlink(missing_ok=True)
            self._lock_handle = open(self.path / ".sms.lock", "a+b")  # noqa: SIM115
            self._journal = open(self.path / "sms_journal.jsonl", "a+b")  # noqa: SIM115
        except OSError as exc:
            raise AlertError(f"cannot open the task store {path}: {exc.strerror}") from exc
        self._tasks: dict[str, dict[str, Any]] = {}
        self._tx: dict[str, str] = {}
        self._customers: dict[str, str] = {}
        self._pending: dict[str, int] = {}
        self._outbox: dict[str, OutboxEntry] = {}
        self._labels: list[dict[str, Any]] = []
        self._blocks: list[dict[str, Any]] = []
        self._nonces: dict[str, int] = {}
        self._offset = 0
        self._dirty = False
        meta = self._read_meta()
        self.time_mode = meta.get("time_mode", time_mode)
        self._watermark: int | None = meta.get("watermark")
        self._info: dict[str, str] = dict(meta.get("info") or {})
        with self._locked():
            self._catch_up(repair=True)

    # -- journal -----------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._lock_handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)

    def _catch_up(self, repair: bool = False) -> None:
        """Apply the journal lines other processes appended since we last read."""
        size = os.fstat(self._journal.fileno()).st_size
        if size == self._offset:
            return
        self._journal.seek(self._offset)
        data = self._journal.read(size - self._offset)
        end = data.rfind(b"\n") + 1
        if end < len(data):
            if not repair:
                data = data[:end]  # a writer is mid-line (cannot happen under the lock)
            else:
                log.warning("task store %s: dropping a torn last journal line", self.path)
                self._journal.truncate(self._offset + end)
                data = data[:end]
        for line in data[:end].splitlines():
            if line.strip():
                self._apply(orjson.loads(line))
        self._offset += end
        self._dirty = True

    def _apply(self, rec: dict[str, Any]) -> None:
        kind = rec["t"]
        if kind == "task":
            task = rec["task"]
            task_id = task["task_id"]
            new = task_id not in self._tasks
            self._tasks[task_id] = task
            self._tx[task["tx_id"]] = task_id
            is_lead = task["lead"] == task_id
            if new and is_lead:
                self._customers[task["customer_id"]] = task_id
            if is_lead and task["state"] == TaskState.PENDING.value:
                self._pending[task_id] = parse_time(task["expires_at"])
            else:
                self._pending.pop(task_id, None)
        elif kind == "outbox":
            entry = OutboxEntry.from_json(rec["entry"])
            self._outbox[entry.key] = entry
        elif kind == "sent":
            self._outbox.pop(rec["key"], None)
        elif kind == "label":
            self._labels.append(rec["label"])
        elif kind == "block":
            self._blocks.append(rec["block"])
        elif kind == "nonce":
            self._nonces[rec["nonce"]] = int(rec["until"])

    def _append(self, records: list[dict[str, Any]]) -> None:
        data = b"".join(_dumps(r) for r in records)
        self._journal.seek(0, os.SEEK_END)
        self._journal.write(data)
        self._journal.flush()
        if self.fsync:
            os.fsync(self._journal.fileno())
        for rec in records:
            self._apply(rec)
        self._offset += len(data)
        self._dirty = True

    # -- reads -------------------------------------------------------------------------------
    def get(self, task_id: str) -> SmsTask | None:
        with self._locked():
            self._catch_up()
            obj = self._tasks.get(task_id)
        return SmsTask.from_json(obj) if obj is not None else None

    def task_for_tx(self, tx_id: str) -> str | None:
        with self._locked():
            self._catch_up()
            return self._tx.get(tx_id)

    def latest_lead(self, customer_id: str) -> str | None:
        with self._locked():
            self._catch_up()
            return self._customers.get(customer_id)

    def outbox(self) -> list[OutboxEntry]:
        with self._locked():
            self._catch_up()
            entries = list(self._outbox.values())
        return sorted(entries, key=lambda e: (e.not_before, e.key))

    def due(self, now: int) -> list[str]:
        with self._locked():
            self._catch_up()
            due = [(t, k) for k, t in self._pending.items() if t <= now]
        return [k for _, k in sorted(due)]

    def tasks(self) -> Iterator[SmsTask]:
        with self._locked():
            self._catch_up()
            objs = list(self._tasks.values())
        return (SmsTask.from_json(o) for o in objs)

    def labels(self) -> list[dict[str, Any]]:
        with self._locked():
            self._catch_up()
            return list(self._labels)

    def blocks(self) -> list[dict[str, Any]]:
        with self._locked():
            self._catch_up()
            return list(self._blocks)

    def watermark(self) -> int | None:
        return self._watermark

    def set_watermark(self, at: int) -> None:
        if self._watermark is None or at > self._watermark:
            self._watermark = int(at)
            self._dirty = True

    def info(self) -> dict[str, str]:
        return dict(self._info)

    def set_info(self, **facts: str) -> None:
        self._info.update(facts)
        self._dirty = True

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
        with self._locked():
            self._catch_up()
            for task in tasks:
                stored = self._tasks.get(task.task_id)
                version = stored["version"] if stored is not None else 0
                if version != task.version:
                    raise StoreConflict(
                        f"{task.task_id}: stored version {version}, expected {task.version}"
                    )
            records: list[dict[str, Any]] = []
            for task in tasks:
                obj = task.to_json()
                obj["version"] = task.version + 1
                records.append({"t": "task", "task": obj})
            records += [{"t": "outbox", "entry": e.to_json()} for e in outbox_add]
            records += [{"t": "sent", "key": k} for k in outbox_done]
            records += [{"t": "label", "label": lab} for lab in labels]
            records += [{"t": "block", "block": b} for b in blocks]
            if records:
                self._append(records)
        for task in tasks:
            task.version += 1

    def remember(self, nonce: str, now: int, ttl_ms: int) -> bool:
        with self._locked():
            self._catch_up()
            until = self._nonces.get(nonce)
            if until is not None and until > now:
                return False
            self._nonces = {n: u for n, u in self._nonces.items() if u > now}
            self._append([{"t": "nonce", "nonce": nonce, "until": now + ttl_ms}])
            return True

    # -- snapshots ---------------------------------------------------------------------------
    def _read_meta(self) -> dict[str, Any]:
        try:
            return orjson.loads((self.path / "sms_meta.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}

    def _replace(self, name: str, data: bytes) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.path / name)

    def flush(self) -> None:
        """Write ``sms_tasks.jsonl``, ``sms_labels.jsonl``, ``card_blocks.jsonl`` and meta."""
        with self._locked():
            self._catch_up()
            if not self._dirty and (self.path / "sms_tasks.jsonl").exists():
                return
            ordered = sorted(self._tasks.values(), key=lambda o: (o["event_time"], o["task_id"]))
            self._replace("sms_tasks.jsonl", b"".join(_dumps(o) for o in ordered))
            self._replace("sms_labels.jsonl", b"".join(_dumps(lab) for lab in self._labels))
            self._replace("card_blocks.jsonl", b"".join(_dumps(b) for b in self._blocks))
            meta = {"time_mode": self.time_mode, "watermark": self._watermark, "info": self._info}
            self._replace("sms_meta.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2))
            self._dirty = False

    def close(self) -> None:
        self.flush()
        self._journal.close()
        self._lock_handle.close()


def open_store(
    spec: str | Path,
    *,
    fresh: bool = False,
    time_mode: str = "clock",
    fsync: bool = False,
    redis_prefix: str = "rs:{sms}:",
) -> TaskStore:
    """The store named by ``spec``: ``redis://...`` (or ``rediss://``) or a directory."""
    text = str(spec)
    if text.startswith(("redis://", "rediss://", "unix://")):
        from riskstream.alerts.redis_store import RedisTaskStore

        return RedisTaskStore(text, prefix=redis_prefix, fresh=fresh, time_mode=time_mode)
    return FileTaskStore(text, fresh=fresh, time_mode=time_mode, fsync=fsync)
