"""Vectorised parsing of the canonical UTC timestamp shape, ``YYYY-MM-DDTHH:MM:SS[.fff]Z``.

Payment systems send this shape for nearly every transaction; parsing it with numpy over a
whole column costs a fraction of ``datetime.fromisoformat`` per value. Anything that is not
exactly this shape, or not a real date and time, is reported as not parsed, and the caller
falls back to the general parser, so this module never decides that a timestamp is invalid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["parse_utc_z", "parse_utc_z_codes"]

_MS_PER_DAY = 86_400_000
_SEPARATORS_24 = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z"}
_SEPARATORS_20 = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: "Z"}
_DIGITS_24 = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]
_DIGITS_20 = _DIGITS_24[:14]


def parse_utc_z(values: Sequence[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Epoch milliseconds of strings of exactly ``width`` (24 or 20) characters, and a mask of
    which ones were parsed.

    >>> ms, ok = parse_utc_z(["2026-01-05T08:15:30.123Z", "2026-02-30T08:15:30.123Z"], 24)
    >>> ms[ok].tolist(), ok.tolist()
    ([1767600930123], [True, False])
    >>> parse_utc_z(["2024-02-29T23:59:59Z"], 20)[0].tolist()
    [1709251199000]
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    return parse_utc_z_codes(np.array(values, dtype=f"U{width}").view(np.uint32).reshape(n, width))


def parse_utc_z_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`parse_utc_z` over character codes, one row of 24 or 20 per timestamp (the UTF-8 bytes
    of an Arrow string column fit as they are).

    >>> raw = np.frombuffer(b"2026-01-05T08:15:30.123Z", dtype=np.uint8).reshape(1, 24)
    >>> parse_utc_z_codes(raw)[0].tolist()
    [1767600930123]
    """
    n, width = codes.shape
    seps = _SEPARATORS_24 if width == 24 else _SEPARATORS_20
    ok = np.ones(n, dtype=bool)
    for pos, char in seps.items():
        ok &= codes[:, pos] == ord(char)
    digit_cols = _DIGITS_24 if width == 24 else _DIGITS_20
    d = codes[:, digit_cols].astype(np.int64) - ord("0")
    ok &= ((d >= 0) & (d <= 9)).all(axis=1)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month = d[:, 4] * 10 + d[:, 5]
    day = d[:, 6] * 10 + d[:, 7]
    hour = d[:, 8] * 10 + d[:, 9]
    minute = d[:, 10] * 10 + d[:, 11]
    second = d[:, 12] * 10 + d[:, 13]
    milli = d[:, 14] * 100 + d[:, 15] * 10 + d[:, 16] if width == 24 else 0
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= _days_in_month(year, month))
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59) & (year >= 1)
    days = _days_from_civil(year, month, day)
    ms = days * _MS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli
    return np.where(ok, ms, 0), ok


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    lengths = np.array([31, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    return lengths[np.clip(month, 0, 12)] + ((month == 2) & leap)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468
