"""Card testing: a fraudster checks that stolen card numbers work with bursts of tiny online
payments, many within minutes, and sometimes cashes out with a larger purchase right after."""

from __future__ import annotations

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import DAY_MS, HOUR_MS, MINUTE_MS
from riskstream.simulate.columns import Transactions
from riskstream.simulate.scenarios._common import (
    FraudContext,
    fraud_country,
    group_offsets,
    grouped_cumsum,
    ip_in,
)
from riskstream.simulate.world import World

__all__ = ["card_testing"]

CODE = C.FRAUD_TYPES.index("card_testing")


def card_testing(
    ctx: FraudContext,
    incidents: int,
    rng: np.random.Generator,
    *,
    burst: tuple[int, int] = (5, 25),
    max_cents: int = 200,
    mean_gap_s: float = 20.0,
    cashout_p: float = 0.4,
) -> Transactions:
    """Bursts of tiny e-commerce payments on one victim card each.

    For each incident: a random customer's card; a fresh device and an IP in a fraud-prone
    country; a burst of ``burst`` payments (uniform count) at one or two random online merchants
    (not the victim's usual ones), exponential gaps of mean ``mean_gap_s`` seconds, so the
    whole burst takes minutes. Amounts are at most ``max_cents`` in the merchant's currency
    (40% exactly 1.00). Half the bursts start between 00:00 and 06:00 UTC. With probability
    ``cashout_p`` one or two larger purchases (150-900 EUR) follow 2 minutes to 3 hours later.
    All rows are labelled ``card_testing``.

    Parameters
    ----------
    ctx
        The scenario context (fresh devices and incident ids are taken from it).
    incidents
        Number of bursts (victim cards).
    rng
        The generator to draw from.
    burst
        Smallest and largest number of tiny payments in a burst.
    max_cents
        Largest tiny amount, in cents.
    mean_gap_s
        Mean gap between payments of a burst, seconds.
    cashout_p
        Probability that a burst is followed by a cash-out purchase.

    Examples
    --------
    >>> from riskstream.simulate import generate
    >>> sim = generate(200, 7, seed=3)
    >>> ct = sim.transactions.take(sim.transactions.fraud == CODE)
    >>> bool((ct.channel == C.ECOM).all())
    True

    """
    w = ctx.world
    n = int(incidents)
    victim = rng.integers(0, w.customers, n)
    card = w.card_start[victim] + (rng.random(n) * w.n_cards[victim]).astype(np.int64)
    inc = ctx.new_incidents(n)
    dev = ctx.new_devices(n)
    country = fraud_country(rng, n)
    span = max(1, w.days * DAY_MS - 4 * HOUR_MS)
    t0 = w.start_ms + rng.integers(0, span, n)
    night = rng.random(n) < 0.5
    day0 = (t0 - w.start_ms) // DAY_MS
    t0 = np.where(night, w.start_ms + day0 * DAY_MS + rng.integers(0, 6 * HOUR_MS, n), t0)
    m1, m2 = _uniform_online(w, rng, n), _uniform_online(w, rng, n)

    k = rng.integers(burst[0], burst[1] + 1, n)
    owner, rank = group_offsets(k)
    rows = owner.shape[0]
    gaps = np.where(rank == 0, 0, rng.exponential(mean_gap_s * 1000.0, rows).astype(np.int64))
    ts = t0[owner] + grouped_cumsum(gaps, rank)
    merchant = np.where(rng.random(rows) < 0.6, m1[owner], m2[owner])
    amount = np.where(rng.random(rows) < 0.4, 100, rng.integers(1, max_cents + 1, rows))
    ip = ip_in(rng, country[owner])

    # optional cash-out right after the burst
    last = ts[np.cumsum(k) - 1]
    cash = rng.random(n) < cashout_p
    nc = np.where(cash, rng.integers(1, 3, n), 0)
    cowner, _ = group_offsets(nc)
    crow = cowner.shape[0]
    cts = last[cowner] + rng.integers(2 * MINUTE_MS, 3 * HOUR_MS, crow)
    cmerchant = w.random_online(rng, crow)
    ccur = C.COUNTRY_CURRENCY[w.m_country[cmerchant]]
    camount = np.round(rng.uniform(150.0, 900.0, crow) * C.EUR_TO[ccur] * 100).astype(np.int64)

    owner_all = np.concatenate([owner, cowner])
    merchant_all = np.concatenate([merchant, cmerchant])
    mcountry = w.m_country[merchant_all]
    t = Transactions.new(
        owner_all.shape[0],
        ts=np.concatenate([ts, cts]),
        customer=victim[owner_all],
        amount=np.concatenate([amount, camount]),
        currency=C.COUNTRY_CURRENCY[mcountry],
        type=C.PURCHASE,
        channel=C.ECOM,
        card=card[owner_all],
        merchant=merchant_all,
        mcc=C.MCC_CODE[w.m_mcc_row[merchant_all]],
        country=mcountry,
        device=dev[owner_all],
        ip=np.concatenate([ip, ip_in(rng, country[cowner])]),
        fraud=CODE,
        incident=inc[owner_all],
    )
    return ctx.inside(t)


def _uniform_online(w: World, rng: np.random.Generator, n: int) -> np.ndarray:
    """Online merchants drawn uniformly (testers favour obscure shops, not popular ones)."""
    return w.online_start + (rng.random(n) * w.n_online).astype(np.int64)
