"""The audit trail: decision logs as SHA-256 hash chains, written by every driver and verified.

Format (``riskstream-audit/1``). Each decision record is one JSON object per line; the writer
appends two keys before its closing brace, after all of the record's own keys::

    {...,"latency_us":812,"seq":41,"prev_hash":"9f2c...e1"}

``seq`` counts the records of the file from 0; ``prev_hash`` is the lower-case hex SHA-256 of
the exact bytes of the previous line, its newline included. The first record's ``prev_hash``
is the file's *anchor*. The anchor and the final state are recorded in a sidecar file,
``<log>.chain`` (JSON: ``format``, ``hash``, ``anchor``, ``first_seq``, ``records``, ``head``
— the hash of the last line — and ``closed``). It is written when the log is opened and
again when it is closed, so a log that was not closed (a crash) says so.

What the chain proves: a change of any byte of a record, a record removed, records reordered,
or records cut from the end (against the sidecar) is detected, and `verify_log` names the
first broken line. It does not stop someone who rewrites a whole log and its sidecar: for
that, keep the head hash somewhere else (a ticket, a signed store, the next file's anchor —
``ChainedWriter(handle, anchor=<previous head>)`` chains rotated files together).

Examples
--------
>>> import io
>>> buf = io.BytesIO()
>>> writer = ChainedWriter(buf)
>>> writer.write_lines([b'{"tx_id":"a"}\\n', b'{"tx_id":"b"}\\n'])
>>> buf.getvalue().splitlines()[1][:44]
b'{"tx_id":"b","seq":1,"prev_hash":"2b88456805'
>>> verify_bytes(buf.getvalue(), writer.anchor).ok
True
>>> verify_bytes(buf.getvalue().replace(b'"a"', b'"x"'), writer.anchor).line
1
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import orjson

from riskstream.errors import ReplayError
from riskstream.replay._chain import GROWTH, chain_block, hash_lines, verify_block

__all__ = [
    "AUDIT_FORMAT",
    "GENESIS_ANCHOR",
    "Chain",
    "ChainedWriter",
    "VerifyResult",
    "read_sidecar",
    "sidecar_path",
    "verify_bytes",
    "verify_log",
]

AUDIT_FORMAT = "riskstream-audit/1"
_BLOCK = 1 << 25  # bytes read at a time by `verify_log`
#: The anchor of a log that does not continue another one: sha256("riskstream-audit/1 genesis").
GENESIS_ANCHOR = hashlib.sha256(f"{AUDIT_FORMAT} genesis".encode()).hexdigest()


def sidecar_path(log: str | Path) -> Path:
    """Where the anchor and head of ``log`` are recorded: ``<log>.chain``."""
    return Path(f"{log}.chain")


def _anchor_bytes(anchor: str) -> np.ndarray:
    try:
        raw = bytes.fromhex(anchor)
    except ValueError as exc:
        raise ReplayError(f"audit anchor must be 64 hex digits, got {anchor!r}") from exc
    if len(raw) != 32:
        raise ReplayError(f"audit anchor must be 64 hex digits, got {anchor!r}")
    return np.frombuffer(raw, dtype=np.uint8).copy()


def _starts(lines: list[bytes]) -> np.ndarray:
    starts = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lines), np.int64, len(lines)), out=starts[1:])
    return starts


class Chain:
    """The chain state without a file: links lines and remembers the head and the next seq.

    For writers that do not own a file (a Kafka partition: keep ``head`` and ``seq`` with
    the partition's checkpoint and start the next `Chain` from them).

    >>> chain = Chain()
    >>> [line[:21] for line in chain.link([b'{"a":1}\\n', b'{"a":2}\\n'])]
    [b'{"a":1,"seq":0,"prev_', b'{"a":2,"seq":1,"prev_']
    >>> chain.seq, len(chain.head)
    (2, 64)
    """

    def __init__(self, anchor: str = GENESIS_ANCHOR, seq: int = 0) -> None:
        self._prev = _anchor_bytes(anchor)
        self.seq = seq

    @property
    def head(self) -> str:
        return self._prev.tobytes().hex()

    def link(self, lines: list[bytes]) -> list[bytes]:
        """The lines (JSON objects ending with ``}\\n``) with ``seq`` and ``prev_hash``."""
        if not lines:
            return []
        buf = np.frombuffer(b"".join(lines), dtype=np.uint8)
        out = chain_block(buf, _starts(lines), self.seq, self._prev)
        self.seq += len(lines)
        return out.tobytes().splitlines(keepends=True)


class ChainedWriter:
    """Writes JSON-object lines to ``handle`` as a hash chain (see the module docstring).

    Parameters
    ----------
    handle
        A binary file (or stdout's buffer).
    anchor
        The first record's ``prev_hash``: `GENESIS_ANCHOR`, or the head of the log this one
        continues.
    sidecar
        Path of the sidecar file to keep (``<log>.chain``), or None (stdout).
    first_seq
        ``seq`` of the first record (0 for a new chain).
    """

    def __init__(
        self,
        handle: IO[bytes],
        anchor: str = GENESIS_ANCHOR,
        sidecar: str | Path | None = None,
        first_seq: int = 0,
    ) -> None:
        self.handle = handle
        self.anchor = anchor
        self.sidecar = Path(sidecar) if sidecar is not None else None
        self.first_seq = first_seq
        self.records = 0
        self._prev = _anchor_bytes(anchor)
        self._scratch = np.empty(0, dtype=np.uint8)  # reused: fresh memory costs page faults
        self._write_sidecar(closed=False)

    @classmethod
    def open(cls, path: str | Path, anchor: str = GENESIS_ANCHOR) -> ChainedWriter:
        """A writer on a new file at ``path`` (truncated) with its sidecar beside it."""
        return cls(open(path, "wb"), anchor, sidecar_path(path))

    @property
    def head(self) -> str:
        """Hash of the last record written (the anchor before the first)."""
        return self._prev.tobytes().hex()

    def write_lines(self, lines: list[bytes]) -> None:
        """Chain and write complete lines (each a JSON object ending with ``}\\n``)."""
        if lines:
            self.write_block(np.frombuffer(b"".join(lines), dtype=np.uint8), _starts(lines))

    def write_block(self, buf: np.ndarray, starts: np.ndarray) -> None:
        """Chain and write the lines ``buf[starts[i]:starts[i+1]]`` (uint8 buffer, int64)."""
        n = len(starts) - 1
        if n <= 0:
            return
        size = len(buf) + n * GROWTH
        if len(self._scratch) < size:
            self._scratch = np.empty(max(size, 2 * len(self._scratch)), dtype=np.uint8)
        out = chain_block(
            buf, starts, self.first_seq + self.records, self._prev, scratch=self._scratch
        )
        self.handle.write(memoryview(out))
        self.records += n

    def flush(self) -> None:
        self.handle.flush()

    def close(self, close_handle: bool = True) -> None:
        """Flush, record the head in the sidecar and close the file."""
        self.handle.flush()
        self._write_sidecar(closed=True)
        if close_handle:
            self.handle.close()

    def _write_sidecar(self, closed: bool) -> None:
        if self.sidecar is None:
            return
        record = {
            "format": AUDIT_FORMAT,
            "hash": "sha256",
            "anchor": self.anchor,
            "first_seq": self.first_seq,
            "records": self.records,
            "head": self.head,
            "closed": closed,
        }
        tmp = self.sidecar.with_name(self.sidecar.name + ".tmp")
        tmp.write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, self.sidecar)


@dataclass
class VerifyResult:
    """The outcome of verifying a log; ``line`` is 1-based, 0 when ``ok``."""

    ok: bool
    records: int
    line: int = 0
    message: str = ""
    head: str = ""
    closed: bool | None = None

    def __str__(self) -> str:
        if self.ok:
            note = "" if self.closed is not False else " (not closed: the end is not checked)"
            return f"ok: {self.records} records, head {self.head}{note}"
        return f"broken at line {self.line}: {self.message}"


def read_sidecar(log: str | Path) -> dict | None:
    """The sidecar of ``log`` as a dict, or None when there is none."""
    path = sidecar_path(log)
    if not path.exists():
        return None
    try:
        record = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ReplayError(f"cannot read the audit sidecar {path}: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != AUDIT_FORMAT:
        raise ReplayError(f"{path} is not a {AUDIT_FORMAT} sidecar")
    return record


_REASONS = {
    1: "no chain fields (seq, prev_hash) at the end of the record",
    4: "the record has no newline: the file was cut inside it",
}


def verify_bytes(
    data: bytes,
    anchor: str = GENESIS_ANCHOR,
    first_seq: int = 0,
    records: int | None = None,
    head: str | None = None,
) -> VerifyResult:
    """Verify a chained log held in memory; ``records``/``head`` come from a closed sidecar."""
    return _verify_blocks(iter([data]), anchor, first_seq, records, head)


def _verify_blocks(
    blocks: Iterator[bytes],
    anchor: str,
    first_seq: int,
    records: int | None,
    head: str | None,
) -> VerifyResult:
    """Verify a log given as consecutive blocks of bytes (cut anywhere)."""
    prev = _anchor_bytes(anchor)
    n = 0  # complete lines verified so far
    tail = b""
    for block in _with_end(blocks):
        if block is None:
            data, tail = tail, b""
        else:
            data = tail + block
            cut = data.rfind(b"\n") + 1
            data, tail = data[:cut], data[cut:]
        if not data:
            continue
        buf = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(buf == 10) + 1
        if len(ends) == 0 or ends[-1] != len(buf):
            ends = np.append(ends, len(buf))
        starts = np.concatenate(([0], ends)).astype(np.int64)
        bad, code, seq = verify_block(buf, starts, first_seq + n, prev, native=None)
        if bad >= 0:
            line, message = _diagnose(bad, code, seq, first_seq + n, n == 0)
            return VerifyResult(False, n + bad, n + line, message)
        n += len(starts) - 1
    last = prev.tobytes().hex()
    if records is not None and n != records:
        where = n + 1 if n < records else records + 1
        what = (
            f"the log ends after {n} records but its sidecar says {records}: records were "
            "removed from the end"
            if n < records
            else f"the sidecar says {records} records but the log has {n}"
        )
        return VerifyResult(False, n, where, what, last, True)
    if head is not None and n and last != head:
        return VerifyResult(
            False, n, n, "the last record does not hash to the head in the sidecar", last, True
        )
    return VerifyResult(True, n, head=last, closed=records is not None)


def _with_end(blocks: Iterator[bytes]) -> Iterator[bytes | None]:
    yield from blocks
    yield None


def _diagnose(bad: int, code: int, seq: int, first_seq: int, at_start: bool) -> tuple[int, str]:
    """(1-based line within the block, message) for its first failure ``bad`` (code ``code``);
    ``first_seq`` is the seq expected on the block's first line, ``at_start`` whether the block
    starts the log."""
    line = bad + 1
    expected = first_seq + bad
    if code in _REASONS:
        return line, _REASONS[code]
    if code == 2:
        if seq > expected:
            return line, (
                f"seq {seq} where {expected} was expected: {seq - expected} record(s) removed "
                "before this line"
            )
        return line, f"seq {seq} where {expected} was expected: records reordered or repeated"
    # code 3: prev_hash does not match the line before (or the anchor).
    if bad == 0 and at_start:
        return line, "prev_hash is not the log's anchor: the first record was changed"
    return bad, (
        f"this record does not hash to the prev_hash recorded in line {line}: it was changed "
        f"(or line {line}'s prev_hash was)"
    )


def verify_log(path: str | Path, anchor: str | None = None) -> VerifyResult:
    """Verify the log at ``path`` against its sidecar (anchor, count and head).

    Without a sidecar the anchor is ``anchor`` or `GENESIS_ANCHOR`, and the end of the log
    cannot be checked (a cut at a line boundary goes unnoticed).
    """
    side = read_sidecar(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror}") from exc
    blocks = iter(lambda: handle.read(_BLOCK), b"")
    with handle:
        if side is None:
            result = _verify_blocks(blocks, anchor or GENESIS_ANCHOR, 0, None, None)
            result.closed = False if result.ok else None
            return result
        if anchor is not None and anchor != side["anchor"]:
            return VerifyResult(False, 0, 1, "the sidecar's anchor is not the one given")
        closed = bool(side.get("closed"))
        result = _verify_blocks(
            blocks,
            side["anchor"],
            int(side.get("first_seq", 0)),
            int(side["records"]) if closed else None,
            side["head"] if closed else None,
        )
    if result.ok:
        result.closed = closed
    return result


def line_hashes(data: bytes) -> list[str]:
    """The hex SHA-256 of each line of ``data`` (newline included), for tools and tests."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    starts = np.concatenate(([0], ends)).astype(np.int64)
    return [d.tobytes().hex() for d in hash_lines(buf, starts)]
