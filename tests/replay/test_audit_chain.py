"""The audit hash chain: writer format, verification of intact, tampered, cut and reordered
logs, native kernels against the hashlib fallback, and `run`'s own output."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.replay import _chain
from riskstream.replay.audit import (
    GENESIS_ANCHOR,
    ChainedWriter,
    read_sidecar,
    verify_bytes,
    verify_log,
)
from riskstream.stream.embedded import run_embedded


def _records(n: int) -> list[bytes]:
    return [orjson.dumps({"tx_id": f"t{i}", "score": i / 7}) + b"\n" for i in range(n)]


def _chained(n: int = 10, anchor: str = GENESIS_ANCHOR) -> bytes:
    buf = io.BytesIO()
    writer = ChainedWriter(buf, anchor)
    writer.write_lines(_records(n)[: n // 2])
    writer.write_lines(_records(n)[n // 2 :])
    return buf.getvalue()


def test_each_record_carries_seq_and_the_hash_of_the_previous_line() -> None:
    lines = _chained(5).splitlines(keepends=True)
    previous = GENESIS_ANCHOR
    for seq, line in enumerate(lines):
        record = orjson.loads(line)
        assert record["seq"] == seq and record["prev_hash"] == previous
        assert record["tx_id"] == f"t{seq}"  # the record's own keys are unchanged
        previous = hashlib.sha256(line).hexdigest()
    assert verify_bytes(b"".join(lines)).ok


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1)), max_size=12)
)
def test_native_kernel_and_hashlib_fallback_write_the_same_bytes(dicts: list[dict]) -> None:
    lines = [orjson.dumps(d) + b"\n" for d in dicts]
    if not lines:
        return
    src = np.frombuffer(b"".join(lines), dtype=np.uint8)
    starts = np.concatenate(([0], np.cumsum([len(x) for x in lines]))).astype(np.int64)
    anchor = np.frombuffer(bytes.fromhex(GENESIS_ANCHOR), np.uint8)
    p1, p2 = anchor.copy(), anchor.copy()
    native = _chain.chain_block(src, starts, 3, p1, native=_chain.native())
    python = _chain.chain_block(src, starts, 3, p2, native=False)
    assert native.tobytes() == python.tobytes() and (p1 == p2).all()
    data = python.tobytes()
    assert verify_bytes(data, first_seq=3).ok
    buf = np.frombuffer(data, np.uint8)
    ends = np.concatenate(([0], np.flatnonzero(buf == 10) + 1)).astype(np.int64)
    for native_flag in {False, _chain.native()}:
        prev = anchor.copy()
        assert _chain.verify_block(buf, ends, 3, prev, native=native_flag)[0] == -1


def test_a_changed_byte_names_the_changed_line() -> None:
    data = _chained(10)
    lines = data.splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"t3"', b'"t9"')
    result = verify_bytes(b"".join(lines))
    assert not result.ok and result.line == 4 and "changed" in result.message


def test_a_changed_hash_field_or_seq_is_detected() -> None:
    lines = _chained(6).splitlines(keepends=True)
    forged = lines[2].replace(b'"seq":2', b'"seq":7')
    assert verify_bytes(b"".join([*lines[:2], forged, *lines[3:]])).line == 3
    first = lines[0][:-10] + b"0" * 7 + lines[0][-3:]
    assert verify_bytes(b"".join([first, *lines[1:]])).line == 1


def test_a_removed_record_is_detected_where_it_was() -> None:
    lines = _chained(10).splitlines(keepends=True)
    result = verify_bytes(b"".join(lines[:4] + lines[5:]))
    assert not result.ok and result.line == 5 and "removed" in result.message
    assert verify_bytes(b"".join(lines[1:])).line == 1  # the first record removed


def test_reordered_records_are_detected() -> None:
    lines = _chained(10).splitlines(keepends=True)
    lines[6], lines[7] = lines[7], lines[6]
    result = verify_bytes(b"".join(lines))
    assert not result.ok and result.line == 7


def test_a_log_cut_inside_a_record_or_at_the_end_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    writer = ChainedWriter.open(path)
    writer.write_lines(_records(8))
    writer.close()
    assert verify_log(path).ok and read_sidecar(path)["records"] == 8
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    path.write_bytes(data[:-20])
    result = verify_log(path)
    assert not result.ok and result.line == 8 and "cut" in result.message
    path.write_bytes(b"".join(lines[:6]))  # cut at a line boundary: only the sidecar knows
    result = verify_log(path)
    assert not result.ok and result.line == 7 and "removed from the end" in result.message
    path.write_bytes(b"".join([*lines[:7], lines[7].replace(b'"t7"', b'"x7"')]))
    assert verify_log(path).line == 8  # the last record has no successor: the head catches it


def test_an_unclosed_log_verifies_without_its_end(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    writer = ChainedWriter.open(path)
    writer.write_lines(_records(3))
    writer.flush()
    result = verify_log(path)
    assert result.ok and result.closed is False and "not closed" in str(result)
    writer.close()


def test_a_continued_log_starts_from_the_previous_head() -> None:
    first = io.BytesIO()
    writer = ChainedWriter(first)
    writer.write_lines(_records(3))
    second = _chained(4, anchor=writer.head)
    assert verify_bytes(second, writer.head).ok
    assert verify_bytes(second).line == 1  # not from the genesis anchor


def test_run_writes_a_verifiable_chain(tmp_path: Path, transactions_file: Path) -> None:
    engine = Engine(load_config(engine={"batch_size": 500, "max_wait_ms": 5}))
    run_embedded(transactions_file, str(tmp_path / "out"), engine)
    log = tmp_path / "out" / "decisions.jsonl"
    result = verify_log(log)
    assert result.ok and result.records == 3000 and result.closed
    assert read_sidecar(log)["head"] == result.head


@pytest.mark.parametrize("native", [False, True])
def test_blank_and_foreign_lines_are_broken_lines(native: bool) -> None:
    if native and not _chain.native():
        pytest.skip("no libcrypto kernels on this machine")
    data = _chained(3)
    lines = data.splitlines(keepends=True)
    for bad in (b"\n", b'{"tx_id":"t1"}\n'):
        buf = b"".join([lines[0], bad, *lines[1:]])
        assert verify_bytes(buf).line == 2


def test_a_chain_without_a_file_links_like_the_writer() -> None:
    from riskstream.replay.audit import Chain

    chain = Chain()
    lines = chain.link(_records(4)) + chain.link(_records(10)[4:])
    assert b"".join(lines) == _chained(10) and chain.seq == 10
    assert verify_bytes(b"".join(lines)).ok


@pytest.mark.parametrize("block", [7, 64, 1000, 1 << 20])
def test_verify_log_reads_in_blocks_and_names_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    from riskstream.replay import audit

    monkeypatch.setattr(audit, "_BLOCK", block)
    path = tmp_path / "log.jsonl"
    writer = ChainedWriter.open(path, anchor=GENESIS_ANCHOR)
    writer.write_lines(_records(12))
    writer.close()
    assert verify_log(path).ok and verify_log(path).records == 12
    lines = path.read_bytes().splitlines(keepends=True)
    cases = [
        ([*lines[:5], lines[5].replace(b'"t5"', b'"t0"'), *lines[6:]], 6),  # changed
        (lines[:7] + lines[8:], 8),  # removed
        ([*lines[:9], lines[10], lines[9], lines[11]], 10),  # swapped
        ([*lines[:11], lines[11][:-9]], 12),  # cut inside the last record
    ]
    for data, line in cases:
        path.write_bytes(b"".join(data))
        assert verify_log(path).line == line, (block, line)
