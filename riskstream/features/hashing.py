"""Stable 64-bit hashes of string columns and their interning to per-batch entity codes.

A string column of a `TxBatch` (object array of ``str`` or ``None``) is handed to pyarrow once
(one C loop that also yields the UTF-8 bytes and offsets); from then on everything is numba over
those buffers: the FNV-1a hash of each value's UTF-8 bytes with a splitmix64 finish, and the
interning of the hashes to codes ``0..u-1`` in order of first occurrence. Missing values (None
or the empty string) get code -1 and hash 0. Hashes are stable across processes and machines
(no Python ``hash``), so they can name tx ids in a profile's idempotency ring.

Cost: about 0.1 microsecond per value (pyarrow conversion included) on the development machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa

__all__ = ["Interned", "hash_strings", "intern"]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@numba.njit(inline="always")
def _finish(h: np.uint64) -> np.uint64:
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@numba.njit(cache=True)
def _hash_spans(data: np.ndarray, offsets: np.ndarray, valid: np.ndarray, base: int) -> np.ndarray:
    """Hash of each value; 0 for missing ones (``valid`` bit clear or empty)."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.uint64)
    check = valid.shape[0] > 0
    for i in range(n):
        start = offsets[i]
        end = offsets[i + 1]
        if end <= start:
            continue
        if check:
            bit = base + i
            if (valid[bit >> 3] >> (bit & 7)) & 1 == 0:
                continue
        h = _FNV_OFFSET
        for j in range(start, end):
            h ^= np.uint64(data[j])
            h *= _FNV_PRIME
        h = _finish(h)
        out[i] = h if h != 0 else np.uint64(1)
    return out


@numba.njit(cache=True)
def _intern_hashes(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes in order of first occurrence (-1 for hash 0) and the first row of each code."""
    n = hashes.shape[0]
    size = 16
    while size < 2 * n:
        size *= 2
    mask = size - 1
    slot_hash = np.zeros(size, dtype=np.uint64)
    slot_code = np.empty(size, dtype=np.int64)
    codes = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    u = 0
    for i in range(n):
        h = hashes[i]
        if h == 0:
            codes[i] = -1
            continue
        s = np.int64(h & np.uint64(mask))
        while True:
            if slot_hash[s] == 0:
                slot_hash[s] = h
                slot_code[s] = u
                first[u] = i
                codes[i] = u
                u += 1
                break
            if slot_hash[s] == h:
                codes[i] = slot_code[s]
                break
            s = (s + 1) & mask
    return codes, first[:u].copy()


def _buffers(column: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """UTF-8 bytes, offsets, validity bits and bit offset of a str/None object column."""
    array = pa.array(column, type=pa.string(), from_pandas=False)
    n = len(array)
    validity, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1 + array.offset)[array.offset :]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)
        if data_buf is not None
        else np.zeros(0, dtype=np.uint8)
    )
    valid = (
        np.frombuffer(validity, dtype=np.uint8)
        if validity is not None and array.null_count
        else np.zeros(0, dtype=np.uint8)
    )
    return data, offsets, valid, array.offset


def hash_strings(column: np.ndarray) -> np.ndarray:
    """Stable uint64 hash of each value of a str/None column; 0 marks a missing value.

    Examples
    --------
    >>> h = hash_strings(np.array(["tx1", None, "", "tx1"], dtype=object))
    >>> h[0] == h[3], h[1], h[2]
    (np.True_, np.uint64(0), np.uint64(0))
    >>> int(hash_strings(np.array(["abc"], dtype=object))[0])
    996580060897260808
    """
    if len(column) == 0:
        return np.zeros(0, dtype=np.uint64)
    data, offsets, valid, base = _buffers(column)
    return _hash_spans(data, offsets, valid, base)


@dataclass
class Interned:
    """A string column interned for one batch.

    ``codes[i]`` is the index of row ``i``'s value in ``ids`` (-1 when missing); ``ids`` holds
    the distinct values in order of first occurrence, ``hashes`` their stable hashes,
    ``row_hash`` the hash of every row (0 when missing). ``data``/``offsets`` are the UTF-8
    bytes of the column (value ``i`` is ``data[offsets[i]:offsets[i+1]]``) and ``first`` the
    row of each distinct value's first occurrence, so keys can be built without Python.
    """

    codes: np.ndarray
    ids: np.ndarray
    hashes: np.ndarray
    row_hash: np.ndarray
    first: np.ndarray
    data: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def intern(column: np.ndarray) -> Interned:
    """Intern a str/None object column: codes per row, distinct ids in first-seen order.

    Examples
    --------
    >>> it = intern(np.array(["b", "a", None, "b"], dtype=object))
    >>> it.codes.tolist(), it.ids.tolist()
    ([0, 1, -1, 0], ['b', 'a'])
    """
    column = np.asarray(column, dtype=object)
    if len(column) == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        return Interned(
            empty_i,
            np.zeros(0, dtype=object),
            np.zeros(0, dtype=np.uint64),
            np.zeros(0, dtype=np.uint64),
            empty_i,
            np.zeros(0, dtype=np.uint8),
            np.zeros(1, dtype=np.int32),
        )
    data, offsets, valid, base = _buffers(column)
    row_hash = _hash_spans(data, offsets, valid, base)
    codes, first = _intern_hashes(row_hash)
    return Interned(
        codes=codes,
        ids=column[first],
        hashes=row_hash[first],
        row_hash=row_hash,
        first=first,
        data=data,
        offsets=offsets,
    )
