"""Spending spree: a thief with a stolen physical card buys expensive goods in the victim's
city, many large payments in a few hours, at hours the victim is never active."""

from __future__ import annotations

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import MINUTE_MS, to_e5
from riskstream.simulate.columns import Transactions
from riskstream.simulate.scenarios._common import (
    FraudContext,
    group_offsets,
    grouped_cumsum,
    home_day,
    local_ms,
    unusual_hour,
)

__all__ = ["spending_spree"]

CODE = C.FRAUD_TYPES.index("spending_spree")
_LOOT = np.isin(C.MCC_CODE, C.LOOT_MCCS) & (C.MCC_KIND == C.STORE)


def spending_spree(
    ctx: FraudContext,
    incidents: int,
    rng: np.random.Generator,
    *,
    n_tx: tuple[int, int] = (4, 12),
    median_eur: float = 600.0,
    gap_minutes: tuple[int, int] = (5, 40),
    atm_p: float = 0.2,
) -> Transactions:
    """Many large card-present payments with one stolen card, in a few hours, at odd hours.

    For each incident: a random customer and one of their cards; a day on which the victim is
    at home (not away, not travelling, also the day after); a start in one of the six local
    hours the victim is least active. ``n_tx`` payments (uniform count), ``gap_minutes`` apart
    (uniform), at random stores of the victim's home city, preferring electronics, jewellery,
    department and clothing stores (so the locations stay plausible: no impossible travel), or
    with probability ``atm_p`` ATM withdrawals (300-1,000 EUR in notes of 10). Purchases are
    lognormal around ``median_eur`` (150-5,000 EUR) and at least five times the victim's own
    median. Incidents with no suitable day are dropped. Labelled ``spending_spree``.

    Parameters
    ----------
    ctx
        The scenario context.
    incidents
        Number of stolen cards.
    rng
        The generator to draw from.
    n_tx
        Smallest and largest number of payments in a spree.
    median_eur
        Median purchase amount, EUR.
    gap_minutes
        Smallest and largest gap between payments, minutes.
    atm_p
        Probability that a payment is an ATM withdrawal.

    Examples
    --------
    >>> from riskstream.simulate import generate
    >>> sim = generate(200, 7, seed=3)
    >>> sp = sim.transactions.take(sim.transactions.fraud == CODE)
    >>> bool((sp.amount >= 15_000).all())
    True

    """
    w = ctx.world
    n = int(incidents)
    victim = rng.integers(0, w.customers, n)
    card = w.card_start[victim] + (rng.random(n) * w.n_cards[victim]).astype(np.int64)
    day, ok = home_day(w, victim, rng)
    hour = unusual_hour(w, victim, rng)
    t0 = local_ms(w, victim, day, hour, rng)
    inc = ctx.new_incidents(n)

    k = np.where(ok, rng.integers(n_tx[0], n_tx[1] + 1, n), 0)
    owner, rank = group_offsets(k)
    rows = owner.shape[0]
    gap = np.where(
        rank == 0, 0, rng.integers(gap_minutes[0] * MINUTE_MS, gap_minutes[1] * MINUTE_MS, rows)
    )
    ts = t0[owner] + grouped_cumsum(gap, rank)
    city = w.home_city[victim][owner].astype(np.int64)
    atm = rng.random(rows) < atm_p
    cand = np.stack([w.random_merchant(rng, city, C.STORE) for _ in range(6)], axis=1)
    weight = np.where(_LOOT[w.m_mcc_row[cand]], 8.0, 1.0)
    best = np.argmax(np.log(weight) + rng.gumbel(size=cand.shape), axis=1)
    store = cand[np.arange(rows), best]
    merchant = np.where(atm, w.random_merchant(rng, city, C.ATM_KIND), store)
    floor = 5.0 * np.exp(w.mu[victim][owner])
    buy = np.maximum(
        np.clip(np.exp(rng.normal(np.log(median_eur), 0.5, rows)), 150.0, 5000.0), floor
    )
    eur = np.where(atm, np.round(rng.uniform(300.0, 1000.0, rows) / 10.0) * 10.0, buy)
    t = Transactions.new(
        rows,
        ts=ts,
        customer=victim[owner],
        amount=np.round(eur * 100).astype(np.int64),
        currency=0,
        type=np.where(atm, C.WITHDRAWAL, C.PURCHASE),
        channel=np.where(atm, C.ATM, C.POS),
        card=card[owner],
        merchant=merchant,
        mcc=C.MCC_CODE[w.m_mcc_row[merchant]],
        country=w.m_country[merchant],
        lat=to_e5(w.m_lat[merchant]),
        lon=to_e5(w.m_lon[merchant]),
        fraud=CODE,
        incident=inc[owner],
    )
    return ctx.inside(t)
