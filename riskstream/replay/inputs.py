"""History files for replay: JSON lines, CSV or Parquet -> event-time ordered `TxBatch` chunks.

JSON lines go through the embedded driver's `Decoder`. CSV and Parquet are read with pyarrow
and go straight from Arrow columns to `TxBatch` columns, with the decoder's validation
semantics: each field is first checked over the whole column with Arrow kernels (types, nulls,
lengths, patterns on distinct values, ranges); only a column that fails that check is turned
into Python values and run through the decoder's own per-field checks, so a row gets exactly
the dead-letter reason the JSON decoder would give it (tested on the same data both ways).

Semantics of columnar files, where JSON has no equivalent:

- A null cell is an absent field (JSON ``null``); in CSV an empty cell is null. Every CSV cell
  is read as text and means the JSON value it spells: a number in ``amount``, ``lat``,
  ``lon``, digits (epoch milliseconds) or ISO 8601 text in ``timestamp``; text anywhere else.
- Arrow timestamp columns are instants (naive ones are taken as UTC), floored to milliseconds.
- A dead letter's ``raw`` is the row as a JSON object of its source columns; ``offset`` is the
  0-based row number (JSON lines: the line number).
- ``--map field=column`` names the source column of a field; unmapped fields are read from a
  column of their own name. A required field with no column at all is an error.

Rows are replayed in event-time order: when the input is not ordered by timestamp, the valid
rows are sorted (stable, so ties keep file order) and the summary says so. JSON lines are
decoded whole before the first row is scored (about 1 KB of memory per transaction): use
Parquet for long histories.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from riskstream.batch import OPTIONAL_STRING_FIELDS, REQUIRED_FIELDS, TX_TYPES, DeadLetter, TxBatch
from riskstream.errors import InputError
from riskstream.stream import decode as _decode
from riskstream.stream.decode import Decoder
from riskstream.stream.sources import read_line_batches

__all__ = ["FORMATS", "History", "concat_batches", "parse_mapping", "read_history", "to_arrow"]

FORMATS = ("jsonl", "csv", "parquet")
_ALL_FIELDS = (*REQUIRED_FIELDS, *OPTIONAL_STRING_FIELDS, "lat", "lon")
_PATTERNS = {"currency": "^[A-Z]{3}$", "country": "^[A-Z]{2}$", "mcc": "^[0-9]{4}$"}
_SLAB = 1 << 20
_MAX_TS = _decode._MAX_TS_MS
#: A source column: Arrow, or Python values (CSV cells of mixed meaning).
_Column = pa.ChunkedArray | pa.Array | list


@dataclass
class History:
    """A history file, validated: chunks of valid rows in event-time order, and dead letters."""

    path: Path
    format: str
    rows: int
    dead: list[DeadLetter]
    sorted_input: bool
    chunks: Iterator[TxBatch] = field(repr=False, default_factory=lambda: iter(()))


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``["amount=amt_eur", ...]`` -> ``{"amount": "amt_eur"}`` (field -> source column).

    >>> parse_mapping(["amount=amt", "timestamp = ts"])
    {'amount': 'amt', 'timestamp': 'ts'}
    """
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, column = item.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise InputError(f"--map expects field=column, got {item!r}")
        if name not in _ALL_FIELDS:
            raise InputError(f"--map: unknown field {name!r} (fields: {', '.join(_ALL_FIELDS)})")
        mapping[name] = column
    return mapping


def detect_format(path: Path) -> str:
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith((".parquet", ".pq")):
        return "parquet"
    if suffixes.endswith((".csv", ".csv.gz")):
        return "csv"
    return "jsonl"


def read_history(
    path: str | Path,
    fmt: str | None = None,
    mapping: Mapping[str, str] | None = None,
    batch_size: int = 65_536,
    max_line_bytes: int = 65_536,
    max_id_length: int = 128,
) -> History:
    """Open and validate a history file; the chunks are produced lazily, in event-time order."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "jsonl":
        if mapping:
            return _read_mapped_jsonl(path, mapping, batch_size, max_id_length)
        return _read_jsonl(path, batch_size, max_line_bytes, max_id_length)
    table = _read_table(path, fmt, dict(mapping or {}))
    return _history_from_table(path, fmt, table, dict(mapping or {}), batch_size, max_id_length)


# --- JSON lines -----------------------------------------------------------------------------


def _read_jsonl(path: Path, batch_size: int, max_line_bytes: int, max_len: int) -> History:
    decoder = Decoder(max_line_bytes, max_len)
    pieces: list[TxBatch] = []
    dead: list[DeadLetter] = []
    rows = 0
    for lines in read_line_batches(path, batch_size, 0.0):
        batch, bad = decoder.decode(lines.lines, lines.offsets)
        rows += len(lines.lines)
        dead.extend(bad)
        if len(batch):
            pieces.append(batch)
    return _ordered(path, "jsonl", pieces, dead, rows, batch_size)


def _read_mapped_jsonl(
    path: Path, mapping: Mapping[str, str], batch_size: int, max_len: int
) -> History:
    """JSON lines whose keys differ: renamed per line, then the usual decoder."""
    rename = {column: name for name, column in mapping.items()}
    decoder = Decoder(max_id_length=max_len)
    pieces: list[TxBatch] = []
    dead: list[DeadLetter] = []
    rows = 0
    for lines in read_line_batches(path, batch_size, 0.0):
        renamed = [_rename_line(line, rename) for line in lines.lines]
        batch, bad = decoder.decode(renamed, lines.offsets)
        by_offset = dict(zip(lines.offsets, lines.lines, strict=True))
        for letter in bad:
            letter.raw = by_offset[letter.offset]
        rows += len(lines.lines)
        dead.extend(bad)
        if len(batch):
            pieces.append(batch)
    return _ordered(path, "jsonl", pieces, dead, rows, batch_size)


def _rename_line(line: bytes, rename: Mapping[str, str]) -> bytes:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    if type(obj) is not dict:
        return line
    return orjson.dumps({rename.get(k, k): v for k, v in obj.items() if k not in _ALL_FIELDS or
                         k in rename})  # fmt: skip


def _ordered(
    path: Path, fmt: str, pieces: list[TxBatch], dead: list[DeadLetter], rows: int, size: int
) -> History:
    ts = [p.timestamp for p in pieces]
    in_order = all(bool((np.diff(t) >= 0).all()) for t in ts) and all(
        a[-1] <= b[0] for a, b in itertools.pairwise(ts)
    )
    if in_order:
        chunks: Iterator[TxBatch] = iter(pieces)
    else:
        whole = concat_batches(pieces)
        whole = whole.take(np.argsort(whole.timestamp, kind="stable"))
        chunks = (whole.take(slice(i, i + size)) for i in range(0, len(whole), size))
    return History(path, fmt, rows, dead, in_order, chunks)


def concat_batches(pieces: Sequence[TxBatch]) -> TxBatch:
    """One `TxBatch` of the rows of ``pieces``, in order."""
    if not pieces:
        return TxBatch.empty()
    names = [f.name for f in fields(TxBatch) if f.name != "ingest_ns"]
    return TxBatch(**{n: np.concatenate([getattr(p, n) for p in pieces]) for n in names})


# --- CSV and Parquet ------------------------------------------------------------------------


def _read_table(path: Path, fmt: str, mapping: dict[str, str]) -> pa.Table:
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            wanted = [c for c in (mapping.get(f, f) for f in _ALL_FIELDS) if c in schema.names]
            strings = [
                mapping.get(f, f)
                for f in (*REQUIRED_FIELDS[1:], *OPTIONAL_STRING_FIELDS)
                if mapping.get(f, f) in wanted
                and pa.types.is_string(schema.field(mapping.get(f, f)).type)
            ]
            return pq.read_table(path, columns=wanted, read_dictionary=strings)
        from pyarrow import csv

        with csv.open_csv(path) as reader:
            names = reader.schema.names
        wanted = [c for c in (mapping.get(f, f) for f in _ALL_FIELDS) if c in names]
        convert = csv.ConvertOptions(
            column_types=dict.fromkeys(wanted, pa.string()),
            include_columns=wanted,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        return csv.read_csv(path, convert_options=convert)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {fmt} input {path}: {exc}") from exc


def _history_from_table(
    path: Path,
    fmt: str,
    table: pa.Table,
    mapping: dict[str, str],
    batch_size: int,
    max_len: int,
) -> History:
    n = table.num_rows
    columns: dict[str, _Column | None] = {}
    for name in _ALL_FIELDS:
        source = mapping.get(name, name)
        columns[name] = table.column(source) if source in table.column_names else None
    for name in REQUIRED_FIELDS:
        if columns[name] is None:
            raise InputError(
                f"{path}: no column for the required field {name!r} "
                f"(name it with --map {name}=COLUMN)"
            )
    if fmt == "csv":
        columns = {k: (_csv_values(k, v) if v is not None else None) for k, v in columns.items()}
    ts_reasons: list[str | None] = [None] * n
    ts = _timestamps(columns["timestamp"], ts_reasons)
    ts_flagged = ts_reasons if ts_reasons.count(None) != n else None
    order = None
    in_order = bool((np.diff(ts) >= 0).all()) if n else True
    if not in_order:
        order = np.argsort(ts, kind="stable")
    sources = {name: mapping.get(name, name) for name in _ALL_FIELDS}

    def chunks() -> Iterator[TxBatch]:
        for lo in range(0, n, _SLAB):
            rows = (
                np.arange(lo, min(n, lo + _SLAB), dtype=np.int64)
                if order is None
                else order[lo : lo + _SLAB]
            )
            yield from _slab(columns, sources, rows, ts, ts_flagged, max_len, batch_size, dead)

    dead: list[DeadLetter] = []
    history = History(path, fmt, n, dead, in_order, chunks())
    return history


def _take(col: _Column | None, rows: np.ndarray, contiguous: bool) -> pa.Array | list | None:
    if col is None:
        return None
    if isinstance(col, list):
        return [col[i] for i in rows.tolist()]
    part = col.slice(int(rows[0]), len(rows)) if contiguous else col.take(pa.array(rows))
    return part.combine_chunks() if isinstance(part, pa.ChunkedArray) else part


def _slab(
    columns: dict[str, _Column | None],
    sources: dict[str, str],
    rows: np.ndarray,
    ts_all: np.ndarray,
    ts_reasons_all: list[str | None] | None,
    max_len: int,
    batch_size: int,
    dead: list[DeadLetter],
) -> Iterator[TxBatch]:
    """Validate one slab of rows (row numbers ``rows``) and cut its valid rows into batches."""
    n = len(rows)
    if n == 0:
        return
    contiguous = bool(rows[-1] - rows[0] == n - 1 and (n == 1 or (np.diff(rows) == 1).all()))
    arrays = {name: _take(col, rows, contiguous) for name, col in columns.items()}
    reasons: list[str | None] = [None] * n
    cols = validate_arrays(arrays, n, max_len, reasons, ts_all[rows], ts_reasons_all, rows)
    bad = [] if reasons.count(None) == n else [i for i, r in enumerate(reasons) if r is not None]
    keep = np.ones(n, dtype=bool)
    if bad:
        keep[bad] = False
        for i in bad:
            dead.append(DeadLetter(int(rows[i]), str(reasons[i]), _row_json(arrays, sources, i)))
    batch = TxBatch(offset=rows.astype(np.int64), **cols)
    if bad:
        batch = batch.take(keep)
    for lo in range(0, len(batch), batch_size):
        yield batch.take(slice(lo, lo + batch_size))


def _row_json(arrays: Mapping[str, Any], sources: Mapping[str, str], i: int) -> bytes:
    row = {}
    for name, arr in arrays.items():
        if arr is not None:
            value = arr[i] if isinstance(arr, list) else arr[i].as_py()
            row[sources[name]] = value.isoformat() if hasattr(value, "isoformat") else value
    try:
        return orjson.dumps(row)
    except TypeError:
        return orjson.dumps({k: repr(v) for k, v in row.items()})


# --- validation of Arrow columns ------------------------------------------------------------


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _distinct(arr: pa.Array) -> pa.Array:
    """The distinct non-null values of a string array (a dictionary's values as they are)."""
    if pa.types.is_dictionary(arr.type):
        return arr.dictionary
    return pc.unique(arr.drop_null())


def _strings_ok(arr: pa.Array, required: bool, max_len: int, pattern: str | None) -> bool:
    """The decoder's fast string check on an Arrow column (never says yes when it would not)."""
    if not _is_string(arr.type):
        return False
    if required and arr.null_count:
        return False
    if pattern is not None:
        values = _distinct(arr)
        return len(values) == 0 or bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())
    values = arr.dictionary if pa.types.is_dictionary(arr.type) else arr.drop_null()
    if len(values) == 0:
        return True
    lengths = pc.utf8_length(values)
    low, high = pc.min_max(lengths).values()
    return low.as_py() > 0 and high.as_py() <= max_len


def _object_column(arr: pa.Array) -> np.ndarray:
    """A string column as an object array of ``str`` (None for null), sharing repeated values."""
    if pa.types.is_dictionary(arr.type):
        values = np.empty(len(arr.dictionary) + 1, dtype=object)
        values[:-1] = arr.dictionary.to_numpy(zero_copy_only=False)
        values[-1] = None
        indices = arr.indices.fill_null(len(arr.dictionary)).to_numpy()
        return values[indices]
    return arr.to_numpy(zero_copy_only=False).astype(object, copy=False)


def _python_values(arr: pa.Array | list | None, n: int) -> list[object]:
    if arr is None:
        return [None] * n
    if isinstance(arr, list):
        return arr
    if pa.types.is_timestamp(arr.type):
        return _timestamp_ms(arr).tolist()  # type: ignore[return-value]
    return arr.to_pylist()


def validate_arrays(
    arrays: Mapping[str, Any],
    n: int,
    max_len: int,
    reasons: list[str | None],
    ts: np.ndarray,
    ts_reasons_all: list[str | None] | None,
    rows: np.ndarray,
) -> dict[str, np.ndarray]:
    """TxBatch columns (without ``offset``) of Arrow columns, flagging bad rows in ``reasons``
    in the decoder's order of checks (schema order, first failure wins)."""
    cols: dict[str, np.ndarray] = {}
    for name in ("tx_id", "customer_id", "amount", "currency", "timestamp"):
        arr = arrays[name]
        if name == "amount":
            cols[name] = _amount(arr, n, reasons)
        elif name == "timestamp":
            if ts_reasons_all is not None:
                for i, row in enumerate(rows.tolist()):
                    if ts_reasons_all[row] is not None and reasons[i] is None:
                        reasons[i] = ts_reasons_all[row]
            cols[name] = ts
        else:
            limit = 3 if name == "currency" else max_len
            cols[name] = _string(arr, n, name, True, limit, reasons)
    for name in OPTIONAL_STRING_FIELDS:
        if name == "mcc":
            cols[name] = _mcc(arrays[name], n, reasons)
        else:
            cols[name] = _string(arrays[name], n, name, False, max_len, reasons)
    _check_types(cols["type"], reasons)
    cols["lat"], cols["lon"] = _location(arrays["lat"], arrays["lon"], n, reasons)
    return cols


def _string(
    arr: pa.Array | None,
    n: int,
    name: str,
    required: bool,
    max_len: int,
    reasons: list[str | None],
) -> np.ndarray:
    if arr is None and not required:
        return np.full(n, None, dtype=object)
    if isinstance(arr, pa.Array) and _strings_ok(arr, required, max_len, _PATTERNS.get(name)):
        return _object_column(arr)
    pattern = _decode._CURRENCY if name == "currency" else _decode._COUNTRY
    return _decode._string_column(
        _python_values(arr, n),
        name,
        required,
        max_len,
        pattern if name in ("currency", "country") else None,
        reasons,
    )


def _amount(arr: pa.Array | None, n: int, reasons: list[str | None]) -> np.ndarray:
    if isinstance(arr, pa.Array) and arr.null_count == 0 and _is_number(arr.type):
        out = arr.to_numpy(zero_copy_only=False).astype(np.float64)
        if np.isfinite(out).all() and (out >= 0).all():
            return out
    return _decode._amount_column(_python_values(arr, n), reasons)


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _mcc(arr: pa.Array | None, n: int, reasons: list[str | None]) -> np.ndarray:
    if arr is None:
        return np.full(n, None, dtype=object)
    if isinstance(arr, list):
        return _decode._mcc_column(arr, reasons)
    if _strings_ok(arr, False, 4, _PATTERNS["mcc"]):
        return _object_column(arr)
    if pa.types.is_integer(arr.type):
        ints = arr.to_numpy(zero_copy_only=False)
        present = ~np.isnan(ints.astype(np.float64)) if arr.null_count else np.ones(n, bool)
        values = ints[present].astype(np.int64)
        if ((values >= 0) & (values <= 9999)).all():
            out = np.full(n, None, dtype=object)
            distinct, inverse = np.unique(values, return_inverse=True)
            out[present] = np.array([f"{v:04d}" for v in distinct.tolist()], object)[inverse]
            return out
    return _decode._mcc_column(_python_values(arr, n), reasons)


def _check_types(col: np.ndarray, reasons: list[str | None]) -> None:
    present = {v for v in set(col.tolist()) if type(v) is str}
    if present <= TX_TYPES:
        return
    _decode._check_type_values(col, reasons)


def _location(
    lat: pa.Array | None, lon: pa.Array | None, n: int, reasons: list[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    if lat is None and lon is None:
        return np.full(n, np.nan), np.full(n, np.nan)
    if (
        isinstance(lat, pa.Array)
        and isinstance(lon, pa.Array)
        and _is_number(lat.type)
        and _is_number(lon.type)
        and not (pa.types.is_floating(lat.type) and pc.any(pc.is_nan(lat)).as_py())
        and not (pa.types.is_floating(lon.type) and pc.any(pc.is_nan(lon)).as_py())
    ):
        a = lat.to_numpy(zero_copy_only=False).astype(np.float64)  # null -> NaN
        b = lon.to_numpy(zero_copy_only=False).astype(np.float64)
        a_nan, b_nan = np.isnan(a), np.isnan(b)
        with np.errstate(invalid="ignore"):
            in_range = (np.abs(a) <= 90.0) & (np.abs(b) <= 180.0)
        if ((a_nan == b_nan) & (a_nan | in_range)).all():
            return a, b
    return _decode._location_columns(_python_values(lat, n), _python_values(lon, n), reasons)


def _timestamp_ms(arr: pa.Array) -> np.ndarray:
    unit = arr.type.unit
    raw = pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False)
    per_ms = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}[unit]
    if per_ms is None:
        return raw.astype(np.int64) * 1000
    return np.floor_divide(raw.astype(np.int64), per_ms)


def validated_timestamps(col: _Column, reasons: list[str | None]) -> np.ndarray:
    """Event times of an Arrow (or Python) column as epoch ms; bad rows get their reason."""
    return _timestamps(col, reasons)


def _timestamps(col: _Column, reasons: list[str | None]) -> np.ndarray:
    """Event times of the whole column as epoch ms (0 where invalid, with the reason)."""
    if isinstance(col, list):
        return _decode._timestamp_values(col, reasons)
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    n = len(arr)
    if arr.null_count == 0:
        if pa.types.is_integer(arr.type):
            out = arr.to_numpy(zero_copy_only=False).astype(np.int64)
            if ((out >= 0) & (out <= _MAX_TS)).all():
                return out
        elif pa.types.is_timestamp(arr.type):
            out = _timestamp_ms(arr)
            if ((out >= 0) & (out <= _MAX_TS)).all():
                return out
    values = _python_values(arr, n)
    return _decode._timestamp_values(values, reasons)


def _csv_values(name: str, col: pa.ChunkedArray) -> _Column:
    """A CSV text column as the JSON values its cells spell (see the module docstring)."""
    if name in ("amount", "lat", "lon"):
        try:
            return pc.cast(col, pa.float64())
        except pa.ArrowInvalid:
            return [_number(v) for v in col.to_pylist()]
    if name == "timestamp":
        try:
            return pc.cast(col, pa.int64())
        except pa.ArrowInvalid:
            return [int(v) if v is not None and v.isdigit() else v for v in col.to_pylist()]
    return col


def _number(text: str | None) -> object:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def to_arrow(batch: TxBatch) -> pa.Table:
    """A `TxBatch` as an Arrow table of the transaction fields (to write Parquet or CSV)."""
    data: dict[str, pa.Array] = {}
    for name in _ALL_FIELDS:
        col = getattr(batch, name)
        if name in ("lat", "lon"):
            data[name] = pa.array(col, mask=np.isnan(col))
        elif name == "amount" or name == "timestamp":
            data[name] = pa.array(col)
        else:
            data[name] = pa.array(col.tolist(), type=pa.string())
    return pa.table(data)
