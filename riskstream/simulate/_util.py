"""Small shared helpers of the simulator: time constants, distances, categorical sampling."""

from __future__ import annotations

import datetime as _dt

import numpy as np

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
EARTH_RADIUS_KM = 6371.0088


def parse_start(start: str | _dt.date) -> int:
    """Milliseconds since the epoch of midnight UTC at the start date.

    >>> parse_start("2026-01-01")
    1767225600000
    """
    day = _dt.date.fromisoformat(start) if isinstance(start, str) else start
    return int((day - _dt.date(1970, 1, 1)).days) * DAY_MS


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasting).

    >>> round(float(haversine_km(52.52, 13.405, 48.8566, 2.3522)), 0)
    877.0
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def jitter_km(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, sd_km: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Points scattered around (lat, lon) with a Gaussian of ``sd_km`` per axis."""
    lat = np.asarray(lat, dtype=np.float64)
    dy = rng.normal(0.0, 1.0, lat.shape) * sd_km
    dx = rng.normal(0.0, 1.0, lat.shape) * sd_km
    new_lat = lat + dy / 111.32
    new_lon = np.asarray(lon) + dx / (111.32 * np.cos(np.radians(lat)))
    return new_lat, new_lon


def sample_rows(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Categorical draws from per-row distributions: for each ``i``, the number of entries of
    ``cdf[rows[i]]`` that are <= ``u[i]`` (so ``u`` uniform in [0, 1) gives a draw from that row).

    One binary search in the flattened, offset table: no ``(len(rows), k)`` temporary.

    >>> cdf = np.array([[0.5, 1.0], [0.1, 1.0]])
    >>> sample_rows(cdf, np.array([0, 1, 1]), np.array([0.7, 0.05, 0.5])).tolist()
    [1, 0, 1]
    """
    n, k = cdf.shape
    flat = (cdf + np.arange(n, dtype=np.float64)[:, None]).ravel()
    rows = np.asarray(rows, dtype=np.int64)
    out = np.searchsorted(flat, rows + u, side="right") - rows * k
    return np.clip(out, 0, k - 1)


def zipf_cdf(n: int, s: float) -> np.ndarray:
    """Cumulative weights of ranks 1..n under a Zipf law with exponent ``s``."""
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    c = np.cumsum(w)
    return c / c[-1]


def to_e5(deg: np.ndarray) -> np.ndarray:
    """Degrees to integer 1e-5 degrees (about 1 m), rounded half away from zero."""
    return np.round(np.asarray(deg) * 1e5).astype(np.int32)


def _digits(out: np.ndarray, value: np.ndarray) -> None:
    """Write ``value`` as zero-padded ASCII digits into the columns of ``out`` (n, width)."""
    for j in range(out.shape[1] - 1, -1, -1):
        out[:, j] = value % 10 + 48
        value = value // 10


def iso_ms(ms: np.ndarray) -> np.ndarray:
    """ISO 8601 UTC timestamps with milliseconds, as an ``S24`` array (vectorised).

    Civil date from days after H. Hinnant's ``civil_from_days``.

    >>> iso_ms(np.array([1767601530123, 0])).tolist()
    [b'2026-01-05T08:25:30.123Z', b'1970-01-01T00:00:00.000Z']
    """
    ms = np.asarray(ms, dtype=np.int64)
    days = ms // DAY_MS
    rem = ms - days * DAY_MS
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    out = np.empty((ms.shape[0], 24), dtype=np.uint8)
    _digits(out[:, 0:4], year)
    _digits(out[:, 5:7], month)
    _digits(out[:, 8:10], doy - (153 * mp + 2) // 5 + 1)
    _digits(out[:, 11:13], rem // HOUR_MS)
    _digits(out[:, 14:16], (rem // MINUTE_MS) % 60)
    _digits(out[:, 17:19], (rem // SECOND_MS) % 60)
    _digits(out[:, 20:23], rem % SECOND_MS)
    out[:, [4, 7]] = ord("-")
    out[:, 10] = ord("T")
    out[:, [13, 16]] = ord(":")
    out[:, 19] = ord(".")
    out[:, 23] = ord("Z")
    return out.view("S24").ravel()


def iso_strings(ms: np.ndarray) -> list[str]:
    """`iso_ms` as a list of ``str``."""
    return iso_ms(ms).astype(str).tolist()
