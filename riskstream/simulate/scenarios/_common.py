"""What every fraud scenario shares: the context (world, genuine activity, fresh identifiers) and
a few draws (unusual hours, fraudsters' IPs, days the victim is at home)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import DAY_MS, HOUR_MS
from riskstream.simulate.columns import Transactions
from riskstream.simulate.world import World

__all__ = ["FraudContext"]


@dataclass(eq=False)
class FraudContext:
    """The inputs of a fraud scenario.

    Parameters
    ----------
    world
        Customers and merchants.
    genuine
        Genuine activity of the run (scenarios that need an anchor, such as a card-present
        payment or a merchant's customers, look here).
    next_device
        The next unused device index: fraudsters' devices are fresh, never seen before.
    next_payee
        The next unused payee index: fraudsters' and mules' counterparties are fresh.
    next_incident
        The next unused incident index (one incident = one attack on one customer).

    """

    world: World
    genuine: Transactions
    next_device: int
    next_payee: int
    next_incident: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def new_devices(self, k: int) -> np.ndarray:
        """``k`` fresh device indices."""
        out = np.arange(self.next_device, self.next_device + k, dtype=np.int64)
        self.next_device += k
        return out

    def new_payees(self, k: int) -> np.ndarray:
        """``k`` fresh payee indices."""
        out = np.arange(self.next_payee, self.next_payee + k, dtype=np.int64)
        self.next_payee += k
        return out

    def new_incidents(self, k: int) -> np.ndarray:
        """``k`` fresh incident indices."""
        out = np.arange(self.next_incident, self.next_incident + k, dtype=np.int64)
        self.next_incident += k
        return out

    def inside(self, t: Transactions) -> Transactions:
        """Only the rows inside the run's time window."""
        ok = (t.ts >= self.world.start_ms) & (t.ts < self.world.end_ms)
        return t if bool(ok.all()) else t.take(ok)


def unusual_hour(
    world: World, cust: np.ndarray, rng: np.random.Generator, k: int = 6
) -> np.ndarray:
    """A local hour among the ``k`` hours the customer is least likely to be active."""
    order = np.argsort(world.hour_p[cust], axis=1, kind="stable")[:, :k]
    return order[np.arange(cust.shape[0]), rng.integers(0, k, cust.shape[0])]


def fraud_country(rng: np.random.Generator, k: int) -> np.ndarray:
    """Countries where fraudsters' connections appear to come from."""
    return C.FRAUD_COUNTRIES[rng.integers(0, C.FRAUD_COUNTRIES.shape[0], k)].astype(np.int64)


def ip_in(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Random IPv4 addresses in each country's synthetic /8 block."""
    low = rng.integers(1 << 16, 1 << 24, np.shape(country)).astype(np.uint32)
    return (C.COUNTRY_IP8[country] << np.uint32(24)) | low


def home_day(
    world: World,
    cust: np.ndarray,
    rng: np.random.Generator,
    lo: int = 0,
    hi: int | None = None,
    tries: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """A day in ``[lo, hi)`` when the customer is at home, neither away nor travelling, and stays
    home the next day too; and whether one was found in ``tries`` draws."""
    hi = world.days if hi is None else hi
    hi = max(hi, lo + 1)
    n = cust.shape[0]
    days = rng.integers(lo, hi, (n, tries))
    c = np.repeat(cust, tries).reshape(n, tries)
    away, travel = world.trip_at(c, days)
    away2, _ = world.trip_at(c, days + 1)
    ok = (away < 0) & ~travel & (away2 < 0)
    first = np.argmax(ok, axis=1)
    return days[np.arange(n), first], ok.any(axis=1)


def local_ms(
    world: World, cust: np.ndarray, day: np.ndarray, hour: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """UTC time of a random moment in a local hour of a day at the customer's home."""
    within = rng.integers(0, HOUR_MS, cust.shape[0])
    return world.start_ms + day * DAY_MS + hour * HOUR_MS + within - world.tz[cust] * HOUR_MS


def group_offsets(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given sizes laid end to end: the group of each row, and its rank in it.

    >>> g, r = group_offsets(np.array([2, 0, 3]))
    >>> g.tolist(), r.tolist()
    ([0, 0, 2, 2, 2], [0, 1, 0, 1, 2])
    """
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.shape[0]), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return owner, np.arange(owner.shape[0]) - starts[owner]


def grouped_cumsum(values: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each group (rows grouped contiguously, as `group_offsets`).

    >>> g, r = group_offsets(np.array([2, 3]))
    >>> grouped_cumsum(np.array([1, 2, 10, 20, 30]), r).tolist()
    [1, 3, 10, 30, 60]
    """
    c = np.cumsum(values)
    head = np.arange(c.shape[0]) - rank
    return c - (c - values)[head]
