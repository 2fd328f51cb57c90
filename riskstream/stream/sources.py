"""Line sources for the embedded driver: a file or stdin, cut into micro-batches of raw lines.

A file is read in large blocks and cut into full batches. A pipe is read as data arrives: a
batch goes out when it is full or when no new line came for ``max_wait_ms``, so a thin
stream is scored line by line with low latency and a busy one in large batches.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from riskstream.errors import InputError

__all__ = ["LineBatch", "read_line_batches"]

_BLOCK = 1 << 20


@dataclass
class LineBatch:
    """Raw non-blank lines (without newline) and their 0-based line index in the source."""

    lines: list[bytes]
    offsets: list[int]


def read_line_batches(
    source: str | Path, batch_size: int = 2048, max_wait_ms: float = 5.0
) -> Iterator[LineBatch]:
    """Yield micro-batches of lines from a path, or from stdin when ``source`` is ``-``."""
    if str(source) == "-":
        stream = sys.stdin.buffer
        if stream.isatty() or not _is_pollable(stream):
            yield from _blocks(stream, batch_size)
        else:
            yield from _adaptive(stream, batch_size, max_wait_ms)
        return
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed below, the generator owns it
    except OSError as exc:
        raise InputError(f"cannot read input {source}: {exc.strerror}") from exc
    with handle:
        yield from _blocks(handle, batch_size)


def _is_pollable(stream: BinaryIO) -> bool:
    try:
        return not os.path.isfile(f"/proc/self/fd/{stream.fileno()}") and hasattr(select, "poll")
    except (OSError, ValueError):
        return False


class _Splitter:
    """Accumulates bytes and hands out complete, non-blank lines with their line index."""

    def __init__(self) -> None:
        self.tail = b""
        self.next_index = 0
        self.lines: list[bytes] = []
        self.offsets: list[int] = []

    def feed(self, data: bytes, final: bool = False) -> None:
        data = self.tail + data
        parts = data.split(b"\n")
        self.tail = b"" if final else parts.pop()
        if final and parts and parts[-1] == b"":
            parts.pop()
        index = self.next_index
        for line in parts:
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.strip():
                self.lines.append(line)
                self.offsets.append(index)
            index += 1
        self.next_index = index

    def take(self, limit: int) -> LineBatch:
        batch = LineBatch(self.lines[:limit], self.offsets[:limit])
        del self.lines[:limit]
        del self.offsets[:limit]
        return batch


def _blocks(stream: BinaryIO, batch_size: int) -> Iterator[LineBatch]:
    splitter = _Splitter()
    while True:
        data = stream.read(_BLOCK)
        splitter.feed(data or b"", final=not data)
        while len(splitter.lines) >= batch_size:
            yield splitter.take(batch_size)
        if not data:
            break
    if splitter.lines:
        yield splitter.take(len(splitter.lines))


def _adaptive(stream: BinaryIO, batch_size: int, max_wait_ms: float) -> Iterator[LineBatch]:
    fd = stream.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    splitter = _Splitter()
    while True:
        ready = poller.poll(max_wait_ms if splitter.lines else None)
        if not ready:
            yield splitter.take(len(splitter.lines))
            continue
        data = os.read(fd, _BLOCK)
        splitter.feed(data, final=not data)
        while len(splitter.lines) >= batch_size:
            yield splitter.take(batch_size)
        if not data:
            break
    if splitter.lines:
        yield splitter.take(len(splitter.lines))
