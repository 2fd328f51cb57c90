"""Decision lines from columns with a numba kernel: the same bytes as `decision_lines`, faster.

`riskstream.stream.records.decision_lines` formats rows without hits from a Python template
(about 2 us a row) and rows with hits through orjson. `format_decisions` writes the template
rows with a kernel straight into a byte buffer (about 0.2 us a row, GIL released) and takes the
rows with hits (1-2% of rows) from the very function `decision_lines` uses for them, so the
output is byte-identical (tested against `decision_lines` on random batches). Whenever the
template would not be used for a batch (ids that need JSON escaping, a non-finite model score)
or a number falls outside what the kernel formats, the whole batch goes through
`decision_lines` itself.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import orjson

from riskstream.decisions import DECISION_NAMES
from riskstream.engine import DecisionBatch
from riskstream.simulate._jsonl import _put, _put_ts, _put_uint
from riskstream.stream.records import decision_line, decision_lines, iso_times

__all__ = ["format_decisions", "scratch_size"]


def _b(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("ascii"), dtype=np.uint8).copy()


K_TX = _b('{"tx_id":"')
K_CUST = _b('","customer_id":"')
K_DECISION = _b('","decision":"')
K_SCORE = _b('","score":')
K_MODEL = _b(',"rule_hits":[],"shadow_hits":[],"model_score":')
K_PROB = _b(',"fraud_probability":')
K_FEATURES = _b(',"features":{},')
K_TIME = _b(',"event_time":"')
K_LATENCY = _b('","latency_us":')
K_NULL = _b("null")
_FIXED = 400  # bytes of a line besides ids, the constant part and the latency digits
_NAMES = np.zeros((len(DECISION_NAMES), 16), dtype=np.uint8)
_NAME_LENS = np.zeros(len(DECISION_NAMES), dtype=np.int64)
for _code, _name in enumerate(DECISION_NAMES):
    _NAMES[_code, : len(_name)] = _b(_name)
    _NAME_LENS[_code] = len(_name)


@nb.njit(cache=True)
def _put_repr6(buf, pos, x):
    """``repr(float(np.round(x, 6)))`` for a finite x with |x| < 1e9."""
    k = np.rint(x * 1e6)  # np.round(x, 6) is rint(x * 1e6) / 1e6, the nearest double to k/1e6
    if k < 0 or (k == 0 and np.signbit(k)):
        buf[pos] = 45  # '-'
        pos += 1
        k = -k
    m = np.int64(k)
    if m == 0:
        buf[pos] = 48
        buf[pos + 1] = 46
        buf[pos + 2] = 48
        return pos + 3
    if m < 100:  # below 1e-4: Python writes 5e-06, 1.2e-05
        if m < 10:
            buf[pos] = 48 + m
            pos += 1
            exponent = 6
        else:
            buf[pos] = 48 + m // 10
            pos += 1
            if m % 10:
                buf[pos] = 46
                buf[pos + 1] = 48 + m % 10
                pos += 2
            exponent = 5
        buf[pos] = 101  # 'e'
        buf[pos + 1] = 45
        buf[pos + 2] = 48
        buf[pos + 3] = 48 + exponent
        return pos + 4
    whole = m // 1_000_000
    frac = m % 1_000_000
    pos = _put_uint(buf, pos, whole, 1)
    buf[pos] = 46  # '.'
    pos += 1
    if frac == 0:
        buf[pos] = 48
        return pos + 1
    digits = 6
    while frac % 10 == 0:
        frac //= 10
        digits -= 1
    return _put_uint(buf, pos, frac, digits)


@nb.njit(cache=True)
def _put_int(buf, pos, v):
    if v < 0:
        buf[pos] = 45
        pos += 1
        v = -v
    return _put_uint(buf, pos, v, 1)


@nb.njit(cache=True, nogil=True)
def _format_kernel(
    out,
    starts,
    ids,
    id_starts,
    custs,
    cust_starts,
    codes,
    names,
    name_lens,
    score,
    model_score,
    prob,
    ts,
    latency,
    constant,
    extra,
    extra_starts,
    extra_row,
):
    """Write row i's line into ``out``; ``extra_row[i] >= 0``: copy that pre-formatted line."""
    pos = 0
    for i in range(codes.shape[0]):
        starts[i] = pos
        e = extra_row[i]
        if e >= 0:
            size = extra_starts[e + 1] - extra_starts[e]
            out[pos : pos + size] = extra[extra_starts[e] : extra_starts[e + 1]]
            pos += size
            continue
        pos = _put(out, pos, K_TX)
        size = id_starts[i + 1] - 1 - id_starts[i]
        out[pos : pos + size] = ids[id_starts[i] : id_starts[i + 1] - 1]
        pos += size
        pos = _put(out, pos, K_CUST)
        size = cust_starts[i + 1] - 1 - cust_starts[i]
        out[pos : pos + size] = custs[cust_starts[i] : cust_starts[i + 1] - 1]
        pos += size
        pos = _put(out, pos, K_DECISION)
        c = codes[i]
        for j in range(name_lens[c]):
            out[pos + j] = names[c, j]
        pos += name_lens[c]
        pos = _put(out, pos, K_SCORE)
        pos = _put_repr6(out, pos, score[i])
        pos = _put(out, pos, K_MODEL)
        pos = _put_repr6(out, pos, model_score[i])
        pos = _put(out, pos, K_PROB)
        pos = _put(out, pos, K_NULL) if np.isnan(prob[i]) else _put_repr6(out, pos, prob[i])
        pos = _put(out, pos, K_FEATURES)
        pos = _put(out, pos, constant)
        pos = _put(out, pos, K_TIME)
        pos = _put_ts(out, pos, ts[i])
        pos = _put(out, pos, K_LATENCY)
        pos = _put_int(out, pos, latency[i])
        out[pos] = 125
        out[pos + 1] = 10
        pos += 2
    starts[codes.shape[0]] = pos
    return pos


def scratch_size(db: DecisionBatch) -> int:
    """A scratch size that fits the lines of ``db`` unless ids or explanations are long."""
    return len(db) * (_FIXED + 512)


def _joined(strings: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Strings as one ASCII byte buffer (separated by ``"``) and their start offsets, or None
    when one of them is not plain printable ASCII without quotes and backslashes (the rule of
    `decision_lines`' template)."""
    n = len(strings)
    text = '"'.join(strings)
    if not (text.isascii() and text.isprintable()) or "\\" in text:
        return None
    buf = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    quotes = np.flatnonzero(buf == 34)
    if len(quotes) != n - 1:
        return None
    starts = np.empty(n + 1, dtype=np.int64)
    starts[0] = 0
    starts[1:n] = quotes + 1
    starts[n] = len(buf) + 1  # as if a separator followed the last string
    return buf, starts


def _in_kernel_range(*columns: np.ndarray) -> bool:
    return all(bool((np.abs(c[np.isfinite(c)]) < 1e9).all()) for c in columns)


def _lines_block(lines: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lines), np.int64, len(lines)), out=starts[1:])
    return np.frombuffer(b"".join(lines), dtype=np.uint8), starts


def format_decisions(
    db: DecisionBatch, scratch: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The decision lines of ``db`` as ``(buffer, starts)``: line i is
    ``buffer[starts[i]:starts[i+1]]``, the same bytes as ``decision_lines(db)[i]``.

    The lines are written into ``scratch`` when it is large enough (reusing a buffer saves
    the page faults of fresh memory); the result is a view of it then.
    """
    n = len(db)
    batch = db.batch
    latency = db.latency_us if len(db.latency_us) else np.zeros(n, dtype=np.int64)
    ts = batch.timestamp
    ids = _joined(batch.tx_id) if n else None
    custs = _joined(batch.customer_id) if ids is not None else None
    plain = (
        custs is not None
        and np.isfinite(db.model_score).all()
        and np.isfinite(db.score).all()
        and _in_kernel_range(db.score, db.model_score, db.fraud_probability)
        and bool(((ts >= 0) & (ts < 253_402_300_800_000)).all())  # years 1970-9999
    )
    if not plain or ids is None or custs is None:
        return _lines_block(decision_lines(db))
    extra_row = np.full(n, -1, dtype=np.int64)
    rows = sorted(db.explanations)
    if rows:
        times = iso_times(ts[rows])
        lat = latency.tolist()
        hit_lines = [
            decision_line(db, i, db.explanations[i], times[k], lat[i]) for k, i in enumerate(rows)
        ]
        extra, extra_starts = _lines_block(hit_lines)
        extra_row[rows] = np.arange(len(rows))
    else:
        extra, extra_starts = np.zeros(0, np.uint8), np.zeros(1, np.int64)
    constant = orjson.dumps(
        {
            "ruleset_hash": db.ruleset_hash,
            "model_snapshot": db.model_snapshot,
            "engine_version": db.engine_version,
        }
    )[1:-1]
    (id_buf, id_starts), (cust_buf, cust_starts) = ids, custs
    size = len(id_buf) + len(cust_buf) + len(extra) + n * (_FIXED + len(constant))
    out = scratch if scratch is not None and len(scratch) >= size else np.empty(size, np.uint8)
    starts = np.empty(n + 1, dtype=np.int64)
    _format_kernel(
        out,
        starts,
        id_buf,
        id_starts,
        cust_buf,
        cust_starts,
        db.decision.astype(np.int64),
        _NAMES,
        _NAME_LENS,
        np.ascontiguousarray(db.score, dtype=np.float64),
        np.ascontiguousarray(db.model_score, dtype=np.float64),
        np.ascontiguousarray(db.fraud_probability, dtype=np.float64),
        np.ascontiguousarray(ts, dtype=np.int64),
        np.ascontiguousarray(latency, dtype=np.int64),
        np.frombuffer(constant, dtype=np.uint8),
        extra,
        extra_starts,
        extra_row,
    )
    return out[: starts[n]], starts
