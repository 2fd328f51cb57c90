"""Decode and validate raw JSON lines into a columnar `TxBatch`; everything else is a dead letter.

Validation runs per field over whole columns (type sets, numpy masks), falling back to
per-element checks only for the columns where something is off, so clean batches stay fast.
A record gets the reason of the first check it fails, in this order: ``oversized``,
``invalid_utf8``, ``invalid_json``, ``not_an_object``, then per field in schema order
``missing_field:F``, ``wrong_type:F``, ``invalid_value:F``. The decoder never raises on input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter

import numpy as np
import orjson

from riskstream.batch import OPTIONAL_STRING_FIELDS, TX_TYPES, DeadLetter, TxBatch
from riskstream.stream.isotime import parse_utc_z, parse_utc_z_codes

__all__ = ["Decoder", "parse_event_times"]

_MIN_TS_MS = 0  # 1970-01-01
_MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_CURRENCY = re.compile(r"[A-Z]{3}\Z")
_COUNTRY = re.compile(r"[A-Z]{2}\Z")
_MCC = re.compile(r"\d{4}\Z")
_NUMBER_TYPES = (int, float)


class Decoder:
    """Turns raw lines into a `TxBatch` of valid transactions plus `DeadLetter` records.

    Parameters
    ----------
    max_line_bytes
        Longer lines are dead-lettered as ``oversized`` without being parsed.
    max_id_length
        Upper bound on the length of every id and string field.

    Examples
    --------
    >>> batch, dead = Decoder().decode([
    ...     b'{"tx_id":"t1","customer_id":"c1","amount":12.5,"currency":"EUR",'
    ...     b'"timestamp":"2026-01-05T08:15:30.123Z"}',
    ...     b'{"tx_id":"t2","customer_id":"c1","amount":-3,"currency":"EUR",'
    ...     b'"timestamp":1767600930123}',
    ...     b'not json',
    ... ])
    >>> len(batch), batch.timestamp.tolist()
    (1, [1767600930123])
    >>> [(d.offset, d.reason) for d in dead]
    [(1, 'invalid_value:amount'), (2, 'invalid_json')]
    """

    def __init__(self, max_line_bytes: int = 65_536, max_id_length: int = 128) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_id_length = max_id_length

    def decode(
        self,
        lines: Sequence[bytes],
        offsets: Sequence[int] | np.ndarray | None = None,
        ingest_ns: int = 0,
    ) -> tuple[TxBatch, list[DeadLetter]]:
        """Decode ``lines`` (without their newlines); ``offsets`` default to 0..n-1."""
        n = len(lines)
        offs = np.arange(n, dtype=np.int64) if offsets is None else np.asarray(offsets, np.int64)
        clean = _decode_clean(lines, self.max_line_bytes, self.max_id_length)
        if clean is not None:
            return TxBatch(offset=offs, **clean, ingest_ns=ingest_ns), []
        reasons: list[str | None] = [None] * n
        objs = self._parse(lines, reasons)
        parsed_ok = reasons.count(None) == n
        good = list(range(n)) if parsed_ok else [i for i in range(n) if reasons[i] is None]
        records = objs if parsed_ok else [objs[i] for i in good]
        columns, field_reasons = _validate(records, self.max_id_length)
        if parsed_ok and field_reasons.count(None) == n:
            return TxBatch(offset=offs, **columns, ingest_ns=ingest_ns), []
        for j, reason in enumerate(field_reasons):
            if reason is not None:
                reasons[good[j]] = reason
        keep = np.fromiter((r is None for r in field_reasons), dtype=bool, count=len(good))
        batch = TxBatch(
            offset=offs[np.asarray(good, dtype=np.int64)][keep],
            **{name: col[keep] for name, col in columns.items()},
            ingest_ns=ingest_ns,
        )
        dead = [
            DeadLetter(int(offs[i]), reason, bytes(lines[i]))
            for i, reason in enumerate(reasons)
            if reason is not None
        ]
        return batch, dead

    def _parse(self, lines: Sequence[bytes], reasons: list[str | None]) -> list[object]:
        limit = self.max_line_bytes
        loads = orjson.loads
        try:
            if max(map(len, lines), default=0) > limit:
                raise ValueError
            objs = list(map(loads, lines))
        except (orjson.JSONDecodeError, ValueError, TypeError):
            objs = [_parse_one(line, limit, reasons, i) for i, line in enumerate(lines)]
        if set(map(type, objs)) != {dict}:
            for i, obj in enumerate(objs):
                if reasons[i] is None and type(obj) is not dict:
                    reasons[i] = "not_an_object"
        return objs


def _parse_one(line: bytes, limit: int, reasons: list[str | None], i: int) -> object:
    if len(line) > limit:
        reasons[i] = "oversized"
        return None
    try:
        return orjson.loads(line)
    except (orjson.JSONDecodeError, TypeError):
        try:
            bytes(line).decode("utf-8")
        except UnicodeDecodeError:
            reasons[i] = "invalid_utf8"
        else:
            reasons[i] = "invalid_json"
        return None


#: Batches at least this large try the Arrow path first (below, its set-up costs more: on the
#: 2-core development machine, per-record orjson was 5x cheaper at 64 lines, 1.8x at 500 and
#: even at 2,000 in CPU time, bench/RESULTS.md `## bench_worker`).
ARROW_MIN_ROWS = 2048
_OPEN, _CLOSE = ord("{"), ord("}")
_FLOAT_FIELDS = ("amount", "lat", "lon")
_ARROW_SCHEMA: object = None  # built on first use: importing pyarrow costs start-up time
_INT64_RANGE = float(2**63)
_MAX_NESTING = 1000  # orjson refuses JSON nested deeper than 1024 levels; leave it to it


def _decode_clean(
    lines: Sequence[bytes], max_line_bytes: int, max_len: int
) -> dict[str, np.ndarray] | None:
    """The columns of a batch whose every line is a valid transaction, or None.

    Arrow's JSON reader parses the whole batch into columns in C++ (no Python object per
    record) and the columns are validated with Arrow kernels, as replay validates Parquet.
    It is a fast path only: it answers when it can prove the per-record path would accept
    every line with the same values, and says None otherwise (any invalid line, anything
    Arrow reads more leniently than orjson), so the per-record path, which gives each bad line
    its reason, decides. A property test holds the two paths to the same result.
    """
    n = len(lines)
    if n < ARROW_MIN_ROWS:
        return None
    buf = b"\n".join(lines)
    if b"NaN" in buf or b"Infinity" in buf:  # orjson rejects these literals; Arrow does not
        return None
    try:  # orjson rejects invalid UTF-8 anywhere in a line; Arrow does not check strings
        buf.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=n)
    if lengths.max() > max_line_bytes or lengths.min() < 2:
        return None
    ends = np.cumsum(lengths + 1) - 1  # the newline after each line (one past the last)
    view = np.frombuffer(buf, dtype=np.uint8)
    # Each line one object from its first to its last byte: no line is blank, so a line
    # holding two objects shows as an extra row below.
    if not ((view[ends - lengths] == _OPEN).all() and (view[ends - 1] == _CLOSE).all()):
        return None
    table = _read_json(buf)
    if table is None or table.num_rows != n or _nesting(table.schema) >= _MAX_NESTING:
        return None
    return _validated(table, n, max_len)


def _nesting(schema: object) -> int:
    """How deep the lines' JSON nests (the object itself is 1), from the inferred types."""
    import pyarrow as pa

    deepest = 1
    stack = [(field.type, 2) for field in schema]  # type: ignore[attr-defined]
    while stack:
        kind, depth = stack.pop()
        if pa.types.is_struct(kind):
            deepest = max(deepest, depth)
            stack.extend((kind.field(i).type, depth + 1) for i in range(kind.num_fields))
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            deepest = max(deepest, depth)
            stack.append((kind.value_type, depth + 1))
    return deepest


def _read_json(buf: bytes) -> object:
    global _ARROW_SCHEMA
    import pyarrow as pa
    import pyarrow.json as pj

    if _ARROW_SCHEMA is None:
        typed = [(name, pa.string()) for name in ("tx_id", "customer_id", "currency")]
        typed += [(name, pa.float64()) for name in _FLOAT_FIELDS]
        typed += [(name, pa.string()) for name in OPTIONAL_STRING_FIELDS if name != "mcc"]
        _ARROW_SCHEMA = pa.schema(typed)  # timestamp, mcc: string or integer, as inferred
    try:
        return pj.read_json(
            pa.BufferReader(buf),
            # two blocks: parsed on both cores when the second one is free
            read_options=pj.ReadOptions(block_size=max(len(buf) // 2 + 1, 1 << 20)),
            parse_options=pj.ParseOptions(explicit_schema=_ARROW_SCHEMA),
        )
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None


def _canonical_times(arr: object) -> np.ndarray | None:
    """Epoch ms of an Arrow string column in which every value has the canonical UTC shape
    (``2026-01-05T08:15:30.123Z``, all of one width), parsed from its bytes; else None."""
    import pyarrow as pa

    n = len(arr)  # type: ignore[arg-type]
    if not pa.types.is_string(arr.type) or arr.null_count or n == 0:  # type: ignore[attr-defined]
        return None
    _, offsets_buf, data_buf = arr.buffers()  # type: ignore[attr-defined]
    start = arr.offset  # type: ignore[attr-defined]
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[start : start + n + 1]
    width = int(offsets[1] - offsets[0])
    if width not in (20, 24) or not (np.diff(offsets) == width).all():
        return None
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    ms, ok = parse_utc_z_codes(data.reshape(n, width))
    if not ok.all() or not ((ms >= _MIN_TS_MS) & (ms <= _MAX_TS_MS)).all():
        return None
    return ms


def _validated(table: object, n: int, max_len: int) -> dict[str, np.ndarray] | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from riskstream.replay.inputs import validate_arrays, validated_timestamps

    arrays: dict[str, object] = {}
    for column, name in zip(table.columns, table.column_names, strict=True):  # type: ignore[attr-defined]
        arr = column.combine_chunks()
        if pa.types.is_floating(arr.type) and arr.null_count < len(arr):
            values = arr.to_numpy(zero_copy_only=False)
            # An integer beyond 64 bits is a number to Arrow and an error to orjson; an
            # integer -0 is -0.0 to Arrow and 0 to orjson.
            if np.nanmax(np.abs(values)) >= _INT64_RANGE or np.signbit(values[values == 0]).any():
                return None
        if name in _ALL_FIELDS:
            if name not in ("tx_id", "timestamp") and pa.types.is_string(arr.type):
                arr = pc.dictionary_encode(arr)
            arrays[name] = arr
    for name in _ALL_FIELDS:
        arrays.setdefault(name, None)
    if arrays["timestamp"] is None:
        return None
    reasons: list[str | None] = [None] * n
    ts = _canonical_times(arrays["timestamp"])
    if ts is None:
        ts = validated_timestamps(arrays["timestamp"], reasons)
    rows = np.arange(n, dtype=np.int64)
    cols = validate_arrays(arrays, n, max_len, reasons, ts, None, rows)
    return cols if reasons.count(None) == n else None


_FIELDS = ("tx_id", "customer_id", "amount", "currency", "timestamp", "lat", "lon")
_ALL_FIELDS = _FIELDS + OPTIONAL_STRING_FIELDS
_ABSENT = dict.fromkeys(_ALL_FIELDS)
_ROW = itemgetter(*_ALL_FIELDS)


def _transpose(records: list[dict]) -> dict[str, tuple]:
    """Field name -> tuple of values (None when absent), in one C-level pass per record."""
    if not records:
        return {name: () for name in _ALL_FIELDS}
    absent = _ABSENT
    rows = [_ROW(absent | r) for r in records]
    return dict(zip(_ALL_FIELDS, zip(*rows, strict=True), strict=True))


def _validate(records: list[dict], max_len: int) -> tuple[dict[str, np.ndarray], list[str | None]]:
    """Check every field of every record; returns the columns and a reason per record."""
    values = _transpose(records)
    reasons: list[str | None] = [None] * len(records)
    cols: dict[str, np.ndarray] = {}
    cols["tx_id"] = _string_column(values["tx_id"], "tx_id", True, max_len, None, reasons)
    cols["customer_id"] = _string_column(
        values["customer_id"], "customer_id", True, max_len, None, reasons
    )
    cols["amount"] = _amount_column(values["amount"], reasons)
    cols["currency"] = _string_column(values["currency"], "currency", True, 3, _CURRENCY, reasons)
    cols["timestamp"] = _timestamp_values(values["timestamp"], reasons)
    patterns = {"country": _COUNTRY}
    for name in OPTIONAL_STRING_FIELDS:
        if name == "mcc":
            cols[name] = _mcc_column(values[name], reasons)
        else:
            cols[name] = _string_column(
                values[name], name, False, max_len, patterns.get(name), reasons
            )
    _check_type_values(cols["type"], reasons)
    cols["lat"], cols["lon"] = _location_columns(values["lat"], values["lon"], reasons)
    return cols, reasons


def _flag(reasons: list[str | None], index: int, reason: str) -> None:
    if reasons[index] is None:
        reasons[index] = reason


def _string_column(
    values: Sequence[object],
    name: str,
    required: bool,
    max_len: int,
    pattern: re.Pattern[str] | None,
    reasons: list[str | None],
) -> np.ndarray:
    col = np.fromiter(values, dtype=object, count=len(values))  # keeps lists as objects
    if _all_valid_strings(values, required, max_len, pattern):
        return col
    for i, value in enumerate(values):
        if value is None:
            if required:
                _flag(reasons, i, f"missing_field:{name}")
        elif type(value) is not str:
            _flag(reasons, i, f"wrong_type:{name}")
        elif not 0 < len(value) <= max_len or (pattern is not None and not pattern.match(value)):
            _flag(reasons, i, f"invalid_value:{name}")
    return col


def _all_valid_strings(
    values: Sequence[object], required: bool, max_len: int, pattern: re.Pattern[str] | None
) -> bool:
    """The fast check: C-level passes over the column, regexes only on distinct values."""
    kinds = set(map(type, values))
    if not kinds <= ({str} if required else {str, type(None)}) or "" in values:
        return False
    present = values if required else [v for v in values if v is not None]
    if not present:
        return True
    if pattern is not None:
        return all(map(pattern.match, set(present)))
    return max(map(len, present)) <= max_len


def _amount_column(values: Sequence[object], reasons: list[str | None]) -> np.ndarray:
    out = np.full(len(values), np.nan)
    if set(map(type, values)) <= {int, float}:
        try:
            out = np.array(values, dtype=np.float64)
        except OverflowError:
            pass
        else:
            if np.isfinite(out).all() and (out >= 0).all():
                return out
    for i, value in enumerate(values):
        if value is None:
            _flag(reasons, i, "missing_field:amount")
        elif type(value) not in _NUMBER_TYPES:
            _flag(reasons, i, "wrong_type:amount")
        else:
            number = float(value) if abs(value) < 1e300 else math.inf
            if not math.isfinite(number) or number < 0:
                _flag(reasons, i, "invalid_value:amount")
            else:
                out[i] = number
    return out


def parse_event_times(values: list[object]) -> tuple[np.ndarray, list[str | None]]:
    """Event times (ISO 8601 with offset or Z, or epoch ms) as epoch ms, and a reason per bad one.

    >>> parse_event_times(["2026-01-05T09:15:30.123+01:00", 1767600930123, "yesterday"])[1]
    [None, None, 'invalid_value:timestamp']
    """
    reasons: list[str | None] = [None] * len(values)
    return _timestamp_values(values, reasons), reasons


def _timestamp_values(values: list[object], reasons: list[str | None]) -> np.ndarray:
    out = np.zeros(len(values), dtype=np.int64)
    # Fast path for the canonical shapes (2026-01-05T08:15:30.123Z and without millis),
    # vectorised; whatever it does not parse goes through the general parser below.
    fast: list[int] = []
    for width in (24, 20):
        rows = [i for i, v in enumerate(values) if type(v) is str and len(v) == width]
        if rows:
            ms, ok = parse_utc_z([values[i] for i in rows], width)  # type: ignore[misc]
            parsed = np.asarray(rows)[ok]
            out[parsed] = ms[ok]
            fast.extend(parsed.tolist())
    fast_set = set(fast)
    for i, value in enumerate(values):
        if i in fast_set:
            continue
        if value is None:
            _flag(reasons, i, "missing_field:timestamp")
        elif type(value) is int:
            out[i] = value if _MIN_TS_MS <= value <= _MAX_TS_MS else 0
            if not _MIN_TS_MS <= value <= _MAX_TS_MS:
                _flag(reasons, i, "invalid_value:timestamp")
        elif type(value) is str:
            out[i] = _parse_iso(value, reasons, i)
        else:
            _flag(reasons, i, "wrong_type:timestamp")
    bad_range = np.flatnonzero((out < _MIN_TS_MS) | (out > _MAX_TS_MS))
    for i in bad_range:
        _flag(reasons, int(i), "invalid_value:timestamp")
    return out


def _parse_iso(value: str, reasons: list[str | None], i: int) -> int:
    """ISO 8601 with a date, a time and an offset (or Z); anything else is invalid."""
    try:
        if len(value) < 20 or value[10] not in "Tt ":
            raise ValueError
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
        return (parsed - _EPOCH) // _ONE_MS
    except (ValueError, OverflowError):
        _flag(reasons, i, "invalid_value:timestamp")
        return 0


def _mcc_column(values: Sequence[object], reasons: list[str | None]) -> np.ndarray:
    col = np.fromiter(values, dtype=object, count=len(values))  # keeps lists as objects
    if set(map(type, values)) <= {str, type(None)} and all(
        map(_MCC.match, set(values) - {None})  # type: ignore[arg-type]
    ):
        return col
    for i, value in enumerate(values):
        if value is None:
            continue
        if type(value) is int and 0 <= value <= 9999:
            col[i] = f"{value:04d}"
        elif type(value) is str and _MCC.match(value):
            continue
        elif type(value) in (int, str):
            _flag(reasons, i, "invalid_value:mcc")
        else:
            _flag(reasons, i, "wrong_type:mcc")
    return col


def _check_type_values(col: np.ndarray, reasons: list[str | None]) -> None:
    if {v for v in col.tolist() if type(v) is str} <= TX_TYPES:
        return
    for i, value in enumerate(col):
        if type(value) is str and value not in TX_TYPES:
            _flag(reasons, i, "invalid_value:type")


def _location_columns(
    lats: Sequence[object], lons: Sequence[object], reasons: list[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    numeric = {int, float, type(None)}
    if set(map(type, lats)) <= numeric and set(map(type, lons)) <= numeric:
        lat = np.array(lats, dtype=np.float64)  # None becomes NaN
        lon = np.array(lons, dtype=np.float64)
        lat_nan, lon_nan = np.isnan(lat), np.isnan(lon)
        with np.errstate(invalid="ignore"):
            in_range = (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
        if ((lat_nan == lon_nan) & (lat_nan | in_range)).all():
            return lat, lon
    lat = np.full(len(lats), np.nan)
    lon = np.full(len(lats), np.nan)
    for i, (a, b) in enumerate(zip(lats, lons, strict=True)):
        if a is None and b is None:
            continue
        if a is None or b is None:
            _flag(reasons, i, "invalid_value:lat" if a is None else "invalid_value:lon")
        elif type(a) not in _NUMBER_TYPES:
            _flag(reasons, i, "wrong_type:lat")
        elif type(b) not in _NUMBER_TYPES:
            _flag(reasons, i, "wrong_type:lon")
        elif not -90.0 <= a <= 90.0:
            _flag(reasons, i, "invalid_value:lat")
        elif not -180.0 <= b <= 180.0:
            _flag(reasons, i, "invalid_value:lon")
        else:
            lat[i] = a
            lon[i] = b
    return lat, lon
