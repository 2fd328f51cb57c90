"""The decision sink of `run` and `replay`: decisions formatted, chained and written, and
alerts and SMS tasks handled, on a second thread while the Engine scores the next batch."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import numpy as np

from riskstream.alerts.embedded import RunAlerts
from riskstream.engine import DecisionBatch
from riskstream.errors import OutputError
from riskstream.replay._format import format_decisions, scratch_size
from riskstream.replay.audit import ChainedWriter

__all__ = ["DecisionSink"]

_END_BATCH = object()


class DecisionSink:
    """Formats, chains and writes decision batches on a thread of its own, and hands them to
    the run's alerts there too (in order, with ``end_batch`` after each input batch).

    The formatting and chain kernels release the GIL, and the Engine's numba kernels do as
    well, so the second core does the outputs while the first scores the next batch.
    ``submit(db)`` returns at once (blocks only when ``depth`` items wait); ``close()`` waits
    for the queue, closes the writer (unless ``close_writer`` is false: its owner closes it)
    and re-raises any error of the thread. With ``flush``, the writer is flushed after each
    input batch (decisions streamed to a pipe).
    """

    def __init__(
        self,
        writer: ChainedWriter,
        alerts: RunAlerts | None = None,
        depth: int = 8,
        flush: bool = False,
        close_writer: bool = True,
    ) -> None:
        self.writer = writer
        self.alerts = alerts
        self._flush = flush
        self._close_writer = close_writer
        self.seconds = 0.0
        self.alerted = 0
        self.tasks = 0
        self._queue: queue.Queue[Any] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._closed = False
        self._scratch = np.empty(0, dtype=np.uint8)
        self._thread = threading.Thread(target=self._loop, name="decision-writer", daemon=True)
        self._thread.start()

    def submit(self, db: DecisionBatch) -> None:
        self._put(db)

    def end_batch(self) -> None:
        """After the decisions of one input batch: due SMS go out, due tasks expire."""
        self._put(_END_BATCH)

    def _put(self, item: Any) -> None:
        if self._error is not None:
            raise OutputError(f"writing decisions failed: {self._error}") from self._error
        self._queue.put(item)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue
            started = time.perf_counter()
            try:
                if item is _END_BATCH:
                    if self.alerts is not None:
                        self.alerts.end_batch()
                    if self._flush:
                        self.writer.flush()
                else:
                    self._write(item)
            except BaseException as exc:  # handed to the main thread by submit/close
                self._error = exc
            self.seconds += time.perf_counter() - started

    def _write(self, db: DecisionBatch) -> None:
        if len(self._scratch) < scratch_size(db):
            self._scratch = np.empty(scratch_size(db), dtype=np.uint8)
        buf, starts = format_decisions(db, self._scratch)
        self.writer.write_block(buf, starts)
        if self.alerts is not None:
            alerted, tasks = self.alerts.on_decisions(db)
            self.alerted += alerted
            self.tasks += tasks

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        if self._close_writer:
            self.writer.close()
        if self._error is not None:
            raise OutputError(f"writing decisions failed: {self._error}") from self._error
