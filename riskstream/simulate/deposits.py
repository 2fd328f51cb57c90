"""Money coming in: monthly salaries, irregular cash deposits, transfers from family, and the
big depositors who put more than 20,000 in every calendar month (the marketing rule's targets:
"deposits over 20,000 in each of three consecutive months").

All amounts are EUR at home. Nobody else can reach 20,000 in a month from these sources: salaries
are capped at 9,000 and irregular deposits at 3,000 each (about two a month).
"""

from __future__ import annotations

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import DAY_MS, HOUR_MS
from riskstream.simulate.columns import Transactions
from riskstream.simulate.world import World

__all__ = ["BIG_DEPOSIT_MIN", "calendar_months", "deposits"]

#: Every big depositor's deposits in each calendar month of the run add up to more than this (EUR).
BIG_DEPOSIT_MIN = 20_000


def calendar_months(world: World) -> list[tuple[int, int, int]]:
    """The calendar months the run touches: (month as ``datetime64[M]`` int, first day, last day)
    with days counted from the start and clipped to the run.

    >>> from types import SimpleNamespace
    >>> calendar_months(SimpleNamespace(start_ms=1767225600000, days=40))
    [(672, 0, 30), (673, 31, 39)]
    """
    start = np.datetime64(int(world.start_ms), "ms").astype("datetime64[D]")
    end = start + np.timedelta64(int(world.days) - 1, "D")
    out = []
    for month in np.arange(start.astype("datetime64[M]"), end.astype("datetime64[M]") + 1):
        first = (month.astype("datetime64[D]") - start).astype(np.int64)
        last = ((month + 1).astype("datetime64[D]") - start).astype(np.int64) - 1
        out.append(
            (int(month.astype(np.int64)), max(0, int(first)), min(world.days - 1, int(last)))
        )
    return out


def _at(
    world: World,
    cust: np.ndarray,
    day: np.ndarray,
    lo_h: float,
    hi_h: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """UTC times on the given days at uniform local times between ``lo_h`` and ``hi_h`` hours."""
    local = rng.integers(int(lo_h * HOUR_MS), int(hi_h * HOUR_MS), cust.shape[0])
    return world.start_ms + day * DAY_MS + local - world.tz[cust] * HOUR_MS


def deposits(world: World, rng: np.random.Generator) -> Transactions:
    """All incoming money of genuine customers over the run.

    - Salary: one deposit per calendar month on the customer's payday (1st or 25th-28th, when
      it falls inside the run) between 01:00 and 07:00 local, from their employer (``payee``),
      amount the monthly salary +-3%; channel ``deposit``.
    - Irregular deposits (customers without a salary): Poisson(2 per 30 days) cash deposits of
      lognormal amounts (median 400, at most 3,000) during opening hours; channel ``deposit``.
    - Family transfers (30% of customers): Poisson(0.7 per 30 days) incoming transfers from one
      of their payees, median 150, at most 2,000; channel ``transfer``, type ``deposit``.
    - Big depositors (`World.big_depositors`): in every calendar month the run touches, 1-3
      deposits adding up to 21,000-45,000 (whole euros) on days inside the run; channel
      ``deposit``. With a run of 90+ days from the 1st they cover three full months.

    Parameters
    ----------
    world
        The customers.
    rng
        The generator to draw from.

    Examples
    --------
    >>> from riskstream.simulate.world import build_world
    >>> w = build_world(100, 90, 1767225600000, np.random.default_rng(0))
    >>> d = deposits(w, np.random.default_rng(1))
    >>> bool((d.type == C.T_DEPOSIT).all()), bool((d.amount > 0).all())
    (True, True)

    """
    n, days = world.customers, world.days
    parts: list[Transactions] = []
    months = calendar_months(world)

    # salaries
    for month, first, last in months:
        month_start = np.datetime64(month, "M").astype("datetime64[D]")
        day = (
            month_start - np.datetime64(int(world.start_ms), "ms").astype("datetime64[D]")
        ).astype(np.int64) + (world.payday - 1)
        ok = (world.salary > 0) & (day >= first) & (day <= last)
        cust = np.flatnonzero(ok)
        k = cust.shape[0]
        amount = np.round(world.salary[cust] * rng.normal(1.0, 0.03, k)).astype(np.int64)
        parts.append(
            _incoming(
                cust,
                _at(world, cust, day[cust], 1, 7, rng),
                amount,
                C.DEPOSIT,
                world.employer[cust],
                world,
            )
        )

    # irregular cash deposits
    cnt = np.where(world.irregular, rng.poisson(2.0 * days / 30.0, n), 0)
    cust = np.repeat(np.arange(n), cnt)
    k = cust.shape[0]
    eur = np.clip(np.exp(rng.normal(np.log(400.0), 0.8, k)), 20.0, 3000.0)
    day = rng.integers(0, days, k)
    parts.append(
        _incoming(
            cust,
            _at(world, cust, day, 9, 18, rng),
            np.round(eur * 100).astype(np.int64),
            C.DEPOSIT,
            -1,
            world,
        )
    )

    # family transfers in
    cnt = np.where(world.family, rng.poisson(0.7 * days / 30.0, n), 0)
    cust = np.repeat(np.arange(n), cnt)
    k = cust.shape[0]
    eur = np.clip(np.exp(rng.normal(np.log(150.0), 0.7, k)), 10.0, 2000.0)
    day = rng.integers(0, days, k)
    payee = world.payee_start[cust] + (rng.random(k) * world.n_payees[cust]).astype(np.int64)
    parts.append(
        _incoming(
            cust,
            _at(world, cust, day, 7, 23, rng),
            np.round(eur * 100).astype(np.int64),
            C.TRANSFER,
            payee,
            world,
        )
    )

    # big depositors: > 20,000 in every calendar month touched
    big = world.big_depositors
    for _month, first, last in months:
        b = big.shape[0]
        pieces = rng.integers(1, 4, b)
        total = rng.integers(21_000, 45_001, b)
        cust = np.repeat(big, pieces)
        owner = np.repeat(np.arange(b), pieces)
        share = rng.gamma(3.0, 1.0, cust.shape[0])
        norm = np.bincount(owner, weights=share, minlength=b)
        eur = np.floor(total[owner] * share / norm[owner])
        # the first piece of each depositor takes the rounding remainder: sums are exact
        rest = total - np.bincount(owner, weights=eur, minlength=b).astype(np.int64)
        head = np.concatenate([[0], np.cumsum(pieces)[:-1]])
        eur[head] += rest
        day = rng.integers(first, last + 1, cust.shape[0])
        parts.append(
            _incoming(
                cust,
                _at(world, cust, day, 9, 17, rng),
                (eur * 100).astype(np.int64),
                C.DEPOSIT,
                -1,
                world,
            )
        )
    return Transactions.concat(parts)


def _incoming(
    cust: np.ndarray,
    ts: np.ndarray,
    amount: np.ndarray,
    channel: int,
    payee: np.ndarray | int,
    world: World,
) -> Transactions:
    k = cust.shape[0]
    return Transactions.new(
        k,
        ts=ts,
        customer=cust,
        amount=amount,
        currency=0,
        type=C.T_DEPOSIT,
        channel=channel,
        country=world.home_country[cust],
        payee=payee,
    )
