"""Sliding event-time windows as rings of tiles, recently-seen tables, idempotency rings.

A window of span ``W`` is a ring of ``k`` tiles of width ``g = W / k`` event-time
milliseconds. Tile ``t`` holds the events with ``ts // g == t``. The ring's head is the tile of
the profile's latest applied event time (``last_ts``); queried at time ``now`` (``max(ts,
last_ts)``), the window holds the tiles ``now // g - k + 1 .. now // g``, so it covers between
``W - g`` and ``W`` of history: counts and sums are *exact at tile granularity* (the property
test recomputes them from the raw events). An event older than the ring is outside every
window the profile can still be asked about, so dropping it loses nothing.

================ ======= ========= ================================================
window           tiles   tile      covers
================ ======= ========= ================================================
``10m``          5       2 min     the current 2-minute tile and the 4 before it
``1h``           6       10 min    the current 10-minute tile and the 5 before it
``24h``          12      2 h       the current 2-hour tile and the 11 before it
``7d``           7       1 day     the current UTC day and the 6 before it
``30d``          6       5 days    the current 5-day tile and the 5 before it
================ ======= ========= ================================================

Recently-seen tables (distinct merchants, devices, ... in a window) hold ``last_seen_s << 32 |
hash32`` per slot; the least recently seen entry is evicted, so a distinct count is exact up
to the table size and saturates there.

The idempotency ring of a profile holds ``ts << 22 | hash >> 42`` of its most recently applied
transactions and ``floor``, the largest event time ever evicted from it: a transaction counts
as applied when its entry is in the ring or its time is at or below ``floor``. See
``docs/features.md`` for why that is exact for replays from any number of partitions.

All functions here are numba-compiled helpers for the kernels in `riskstream.features.kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["WINDOWS", "Window", "window_tiles"]

NEVER = np.iinfo(np.int64).min
U2MAX = 65535
U4MAX = 4294967295
_MAX_TS = (1 << 42) - 1


@dataclass(frozen=True)
class Window:
    """A sliding window: ``tiles`` tiles of ``width_ms`` each."""

    name: str
    width_ms: int
    tiles: int

    @property
    def span_ms(self) -> int:
        return self.width_ms * self.tiles


WINDOWS: dict[str, Window] = {
    w.name: w
    for w in (
        Window("10m", 120_000, 5),
        Window("1h", 600_000, 6),
        Window("24h", 7_200_000, 12),
        Window("7d", 86_400_000, 7),
        Window("30d", 432_000_000, 6),
    )
}

W10M_G = WINDOWS["10m"].width_ms
W1H_G = WINDOWS["1h"].width_ms
W24H_G = WINDOWS["24h"].width_ms
W7D_G = WINDOWS["7d"].width_ms
W30D_G = WINDOWS["30d"].width_ms


def window_tiles(window: Window, now: int) -> tuple[int, int]:
    """First and last tile index the window holds when queried at event time ``now``.

    >>> window_tiles(WINDOWS["1h"], 3_600_000)
    (1, 6)
    """
    last = now // window.width_ms
    return last - window.tiles + 1, last


# --- tile rings -------------------------------------------------------------------------------


@numba.njit(inline="always")
def advance(arr: np.ndarray, old_last: int, new_last: int, width: int) -> None:
    """Clear the tiles that the head passes over when it moves from old_last to new_last."""
    if old_last == NEVER:
        return
    k = arr.shape[0]
    old_head = old_last // width
    new_head = new_last // width
    if new_head <= old_head:
        return
    if new_head - old_head >= k:
        arr[:] = 0
        return
    for t in range(old_head + 1, new_head + 1):
        arr[t % k] = 0


@numba.njit(inline="always")
def slot_of(ts: int, last: int, width: int, k: int) -> int:
    """The slot of the event at ``ts`` in a ring whose head is at ``last``, -1 if too old."""
    tile = ts // width
    if tile <= last // width - k:
        return -1
    return tile % k


@numba.njit(inline="always")
def span(last: int, now: int, width: int, k: int) -> tuple[int, int]:
    """Tiles (lo, hi) that are both in the window at ``now`` and still in the ring."""
    if last == NEVER:
        return 1, 0
    head = last // width
    lo = max(now // width - k + 1, head - k + 1)
    return lo, head


@numba.njit(inline="always")
def ring_sum(arr: np.ndarray, lo: int, hi: int) -> float:
    k = arr.shape[0]
    total = 0
    for t in range(lo, hi + 1):
        total += arr[t % k]
    return total


@numba.njit(inline="always")
def ring_fsum(arr: np.ndarray, lo: int, hi: int) -> float:
    k = arr.shape[0]
    total = 0.0
    for t in range(lo, hi + 1):
        total += arr[t % k]
    return total


@numba.njit(inline="always")
def ring_max(arr: np.ndarray, lo: int, hi: int) -> float:
    k = arr.shape[0]
    best = 0.0
    for t in range(lo, hi + 1):
        v = float(arr[t % k])
        if v > best:
            best = v
    return best


@numba.njit(inline="always")
def add_u2(arr: np.ndarray, s: int, v: int) -> None:
    arr[s] = min(int(arr[s]) + v, U2MAX)


@numba.njit(inline="always")
def add_u4(arr: np.ndarray, s: int, v: int) -> None:
    arr[s] = min(int(arr[s]) + v, U4MAX)


# --- recently-seen tables ---------------------------------------------------------------------


@numba.njit(inline="always")
def h32(h: np.uint64) -> np.uint64:
    x = h >> np.uint64(32)
    return x if x != 0 else np.uint64(1)


@numba.njit(inline="always")
def seen_find(table: np.ndarray, key: np.uint64) -> int:
    for j in range(table.shape[0]):
        e = table[j]
        if e != 0 and (e & np.uint64(0xFFFFFFFF)) == key:
            return j
    return -1


@numba.njit(inline="always")
def seen_touch(table: np.ndarray, key: np.uint64, ts: int) -> None:
    sec = np.uint64(min(max(ts // 1000, 0), U4MAX))
    j = seen_find(table, key)
    if j >= 0:
        if (table[j] >> np.uint64(32)) < sec:
            table[j] = (sec << np.uint64(32)) | key
        return
    victim = 0
    for m in range(1, table.shape[0]):
        if table[m] < table[victim]:
            victim = m
    table[victim] = (sec << np.uint64(32)) | key


@numba.njit(inline="always")
def seen_count(table: np.ndarray, now: int, span_ms: int) -> float:
    """Entries last seen within ``span_ms`` before ``now`` (second resolution)."""
    n = 0
    for j in range(table.shape[0]):
        e = table[j]
        if e != 0 and int(e >> np.uint64(32)) * 1000 + 999 > now - span_ms:
            n += 1
    return float(n)


@numba.njit(inline="always")
def mru_find(table: np.ndarray, key: np.uint32) -> int:
    for j in range(table.shape[0]):
        if table[j] == key:
            return j
    return -1


@numba.njit(inline="always")
def mru_touch(table: np.ndarray, key: np.uint32) -> None:
    j = mru_find(table, key)
    if j < 0:
        j = table.shape[0] - 1
    for m in range(j, 0, -1):
        table[m] = table[m - 1]
    table[0] = key


# --- idempotency ------------------------------------------------------------------------------


@numba.njit(inline="always")
def idem_entry(ts: int, h: np.uint64) -> np.uint64:
    t = np.uint64(min(max(ts, 0), _MAX_TS))
    return (t << np.uint64(22)) | (h >> np.uint64(42))


@numba.njit(inline="always")
def idem_seen(floor: int, ring: np.ndarray, ts: int, entry: np.uint64) -> bool:
    if ts <= floor:
        return True
    found = False
    for j in range(ring.shape[0]):
        found |= ring[j] == entry
    return found


@numba.njit(inline="always")
def idem_add(floor: int, ring: np.ndarray, entry: np.uint64) -> int:
    """Insert ``entry`` at the front; return the new floor (raised by an evicted entry)."""
    k = ring.shape[0]
    evicted = ring[k - 1]
    for m in range(k - 1, 0, -1):
        ring[m] = ring[m - 1]
    ring[0] = entry
    if evicted != 0:
        t = int(evicted >> np.uint64(22))
        if t > floor:
            return t
    return floor


# --- geography and calendar -------------------------------------------------------------------

EARTH_RADIUS_KM = 6371.0088


@numba.njit(inline="always")
def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(min(a, 1.0)))


@numba.njit(inline="always")
def month_index(ts: int) -> int:
    """Calendar month (UTC) of an epoch-ms time, as months since 1970-01."""
    z = ts // 86_400_000 + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return (y - 1970) * 12 + (m - 1)
