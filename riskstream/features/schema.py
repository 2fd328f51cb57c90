"""Profile records: one fixed-size numpy structured dtype per entity, versioned and migrated.

Every record starts with the same header: ``version`` (uint16), ``kind`` (uint8), ``flags``,
``n_tx``, ``first_ts``, ``last_ts``; so a stored value can be dispatched on its first two bytes
whatever its layout. The layout of each entity at each schema version is kept here for ever,
with the function that upgrades it to the next version: a store hands raw bytes to
`decode_records`, which returns records of the current version (an old record is read and
upgraded, never rejected). Stores write the current version only.

Windows are rings of event-time tiles (see `riskstream.features.windows`); ``floor``/``ring``
are the idempotency watermark (see `riskstream.features.kernels`). Amount sums are integer
cents (exact); counts saturate at their type's maximum instead of wrapping.

Sizes of the current version (bytes): customer 508, card 250, device 360, merchant 524,
payee 274.

Examples
--------
>>> CUSTOMER.itemsize <= 512
True
>>> rec = fresh_records("card", 1)
>>> int(rec["version"][0]), int(rec["kind"][0]), bool(rec["last_ts"][0] == NEVER)
(2, 2, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from riskstream.errors import StoreError

__all__ = [
    "CARD",
    "CUSTOMER",
    "DEVICE",
    "DTYPES",
    "KEY_LETTER",
    "KINDS",
    "KIND_CODE",
    "MERCHANT",
    "NEVER",
    "NO_MONTH",
    "PAYEE",
    "SCHEMA_VERSION",
    "decode_records",
    "fresh_records",
    "layout",
]

SCHEMA_VERSION = 2
"""The version every store writes."""

NEVER = np.iinfo(np.int64).min
"""Event time of something that never happened (``first_ts`` of a fresh profile, ...)."""

NO_MONTH = np.iinfo(np.int32).min
"""Month index of a profile that never saw a deposit."""

KINDS: tuple[str, ...] = ("customer", "card", "device", "merchant", "payee")
KIND_CODE: dict[str, int] = {kind: i + 1 for i, kind in enumerate(KINDS)}
KEY_LETTER: dict[str, str] = {
    "customer": "c",
    "card": "k",
    "device": "d",
    "merchant": "m",
    "payee": "p",
}

_u1, _u2, _u4, _u8 = np.uint8, np.uint16, np.uint32, np.uint64
_i4, _i8, _f4, _f8 = np.int32, np.int64, np.float32, np.float64

_HEADER = [
    ("version", _u2),  # schema version of this record
    ("kind", _u1),  # KIND_CODE of the entity
    ("flags", _u1),  # bit 0: the entity has been seen
    ("n_tx", _u4),  # transactions applied (saturating)
    ("first_ts", _i8),  # event time of the first applied transaction, ms; NEVER
    ("last_ts", _i8),  # latest event time applied, ms; NEVER; the head of every window ring
]


def _idem(ring: int, prefix: str = "") -> list[tuple]:
    # floor: every tx with ts <= floor counts as applied; ring: (ts << 22 | hash >> 42) of the
    # most recently applied txs, newest first, 0 = empty slot.
    return [(f"{prefix}floor", _i8), (f"{prefix}ring", _u8, (ring,))]


def _ring(name: str, tiles: int, stats: Sequence[tuple[str, type]]) -> list[tuple]:
    return [(f"{name}_{stat}", dtype, (tiles,)) for stat, dtype in stats]


_LOCATION = [("prev_lat", _f4), ("prev_lon", _f4), ("prev_loc_ts", _i8)]
_LABELS = [
    *_idem(4, "label_"),
    ("fraud_ew", _f8),  # fraud labels, decayed (time constant 30 d) to fraud_ts
    ("fraud_ts", _i8),  # label time of the latest fraud label applied; NEVER
    ("tx_ew", _f8),  # transactions, decayed (time constant 30 d) to last_ts
]

CUSTOMER = np.dtype(
    [
        *_HEADER,
        *_idem(4),
        ("amount_mean", _f4),  # EWMA of spend amounts (not deposits/refunds)
        ("log_mean", _f4),  # EWMA of log1p(spend amount)
        ("log_var", _f4),  # EW variance of log1p(spend amount)
        ("n_spend", _u4),  # spend transactions folded into the EW statistics
        ("hours", _u1, (24,)),  # hour-of-day (UTC) histogram, halved when a bin reaches 255
        ("home_lat", _f4, (2,)),  # two location candidates; home = the heavier one
        ("home_lon", _f4, (2,)),
        ("home_w", _f4, (2,)),
        *_LOCATION,
        ("month", _i4),  # calendar month (months since 1970-01) of deposits[0]; NO_MONTH
        ("deposits", _u4, (3,)),  # deposit cents of that month and the two before
        ("devices", _u8, (4,)),  # recently used devices: last seen s << 32 | hash32
        ("countries", _u8, (4,)),
        ("payees", _u8, (4,)),
        ("merchants", _u4, (8,)),  # hash32 of the 8 most recently used merchants, newest first
        *_ring("w10m", 5, [("n", _u2)]),
        *_ring("w1h", 6, [("n", _u2)]),
        *_ring("w24h", 12, [("n", _u2), ("s", _u4)]),
        *_ring("w7d", 7, [("n", _u2), ("s", _u4)]),
        *_ring("w30d", 6, [("n", _u2), ("s", _u4), ("q", _f4), ("x", _u4)]),
    ]
)

CARD = np.dtype(
    [
        *_HEADER,
        *_idem(4),
        *_LOCATION,
        ("merchants", _u8, (8,)),  # last seen s << 32 | hash32
        *_ring("w10m", 5, [("n", _u2)]),
        *_ring("w1h", 6, [("n", _u2), ("small", _u2)]),
        *_ring("w24h", 12, [("n", _u2), ("s", _u4)]),
    ]
)

DEVICE = np.dtype(
    [
        *_HEADER,
        *_idem(8),
        ("customers", _u8, (8,)),
        ("cards", _u8, (8,)),
        *_ring("w1h", 6, [("n", _u4)]),
        *_ring("w24h", 12, [("n", _u4)]),
        *_LABELS,
    ]
)

MERCHANT = np.dtype(
    [
        *_HEADER,
        *_idem(16),
        ("log_mean", _f4),
        ("log_var", _f4),
        ("n_amount", _u4),
        *_ring("w1h", 6, [("n", _u4), ("small", _u4)]),
        *_ring("w24h", 12, [("n", _u4), ("s", _u8), ("q", _f4), ("x", _f4)]),
        *_LABELS,
    ]
)

PAYEE = np.dtype(
    [
        *_HEADER,
        *_idem(8),
        ("customers", _u8, (8,)),
        *_ring("w24h", 12, [("n", _u2), ("s", _u4)]),
        *_ring("w7d", 7, [("n", _u2), ("s", _u4)]),
    ]
)

DTYPES: dict[str, np.dtype] = {
    "customer": CUSTOMER,
    "card": CARD,
    "device": DEVICE,
    "merchant": MERCHANT,
    "payee": PAYEE,
}

# --- older versions ---------------------------------------------------------------------------
# Version 1 (the first released layout): the customer kept its hour histogram in uint16 and had
# neither calendar-month deposits nor countries; the other entities are unchanged.

_CUSTOMER_V1 = np.dtype(
    [
        (name, CUSTOMER.fields[name][0]) if name != "hours" else ("hours", np.dtype((_u2, (24,))))
        for name in CUSTOMER.names
        if name not in ("month", "deposits", "countries")
    ]
)


def _customer_v1_to_v2(old: np.ndarray) -> np.ndarray:
    new = _copy_common(old, "customer")
    hours = old["hours"].astype(np.float64)
    top = hours.max(axis=1, keepdims=True)
    scale = np.where(top > 255, 255.0 / np.maximum(top, 1), 1.0)
    new["hours"] = np.floor(hours * scale).astype(_u1)
    return new


_MIGRATIONS: dict[tuple[str, int], tuple[np.dtype, Callable[[np.ndarray], np.ndarray]]] = {
    ("customer", 1): (_CUSTOMER_V1, _customer_v1_to_v2),
    **{
        (kind, 1): (DTYPES[kind], lambda old, kind=kind: _copy_common(old, kind))
        for kind in KINDS
        if kind != "customer"
    },
}
"""(kind, version) -> (layout of that version, upgrade to version + 1)."""


def layout(kind: str, version: int = SCHEMA_VERSION) -> np.dtype:
    """The record dtype of ``kind`` at ``version``."""
    if version == SCHEMA_VERSION:
        return DTYPES[kind]
    try:
        return _MIGRATIONS[(kind, version)][0]
    except KeyError:
        raise StoreError(f"unknown {kind} profile schema version {version}") from None


def _copy_common(old: np.ndarray, kind: str) -> np.ndarray:
    """Fresh current-version records with every field the old layout shares copied over."""
    new = fresh_records(kind, len(old))
    for name in old.dtype.names:
        if name in DTYPES[kind].names and old.dtype.fields[name][0] == DTYPES[kind].fields[name][0]:
            new[name] = old[name]
    new["version"] = SCHEMA_VERSION
    return new


def _fresh_template(kind: str) -> np.ndarray:
    dtype = DTYPES[kind]
    out = np.zeros(1, dtype=dtype)
    out["version"] = SCHEMA_VERSION
    out["kind"] = KIND_CODE[kind]
    for name in ("first_ts", "last_ts", "floor", "prev_loc_ts", "label_floor", "fraud_ts"):
        if name in dtype.names:
            out[name] = NEVER
    if "month" in dtype.names:
        out["month"] = NO_MONTH
    return out.view(np.uint8)


_TEMPLATES = {kind: _fresh_template(kind) for kind in KINDS}


def fresh_records(kind: str, n: int) -> np.ndarray:
    """``n`` records of an entity never seen: zero counts, NEVER times, empty rings."""
    dtype = DTYPES[kind]
    out = np.empty(n * dtype.itemsize, dtype=np.uint8)
    out.reshape(n, dtype.itemsize)[:] = _TEMPLATES[kind]  # a broadcast copy of one record
    return out.view(dtype)


def decode_records(kind: str, values: Sequence[bytes | None], context: str = "") -> np.ndarray:
    """Records of the current version from stored bytes (None: a fresh record).

    Records of an older version are upgraded one version at a time. A value that is not a
    record of ``kind`` raises `StoreError` naming ``context`` (the store and key space).

    Examples
    --------
    >>> blob = fresh_records("payee", 1).tobytes()
    >>> recs = decode_records("payee", [blob, None])
    >>> recs["version"].tolist(), recs["kind"].tolist()
    ([2, 2], [5, 5])
    """
    dtype = DTYPES[kind]
    n = len(values)
    size = dtype.itemsize
    if n and None not in values and set(map(len, values)) == {size}:  # type: ignore[arg-type]
        # copying bytes, then viewing them as records, is ~10x faster than copying records
        out = np.frombuffer(b"".join(values), dtype=np.uint8).copy().view(dtype)  # type: ignore[arg-type]
        if (out["version"] == SCHEMA_VERSION).all():
            _check_kind(out, kind, context)
            return out
    lengths = [-1 if v is None else len(v) for v in values]
    out = fresh_records(kind, n)
    present = [i for i, length in enumerate(lengths) if length >= 0]
    if not present:
        return out
    versions: dict[int, list[int]] = {}
    for i in present:
        raw = values[i]
        assert raw is not None
        if len(raw) < 3:
            raise StoreError(f"{context}: a {kind} profile of {len(raw)} bytes is not a record")
        versions.setdefault(int.from_bytes(raw[:2], "little"), []).append(i)
    for version, rows in versions.items():
        old_dtype = layout(kind, version)
        parts = [values[i] for i in rows]
        if any(len(p) != old_dtype.itemsize for p in parts):  # type: ignore[arg-type]
            raise StoreError(
                f"{context}: a {kind} profile of schema version {version} must have "
                f"{old_dtype.itemsize} bytes"
            )
        recs = np.frombuffer(b"".join(parts), dtype=np.uint8).copy().view(old_dtype)  # type: ignore[arg-type]
        _check_kind(recs, kind, context)
        while version < SCHEMA_VERSION:
            recs = _MIGRATIONS[(kind, version)][1](recs)
            version += 1
        out[np.asarray(rows, dtype=np.int64)] = recs
    return out


def _check_kind(records: np.ndarray, kind: str, context: str) -> None:
    if len(records) and not (records["kind"] == KIND_CODE[kind]).all():
        raise StoreError(f"{context}: found a record of another entity under a {kind} key")
