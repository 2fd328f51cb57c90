"""Genuine card and transfer activity: every customer paying, withdrawing and transferring by
their own habits, at home and on their trips, plus the refunds some purchases get later.

Vectorised over all transactions at once: counts per customer, then one column at a time.
"""

from __future__ import annotations

import itertools

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import DAY_MS, HOUR_MS, sample_rows, to_e5, zipf_cdf
from riskstream.simulate.columns import Transactions
from riskstream.simulate.world import N_USUAL_ONLINE, N_USUAL_STORES, World

__all__ = ["genuine_transactions", "refunds"]

_STORE_SLOT_CDF = zipf_cdf(N_USUAL_STORES, 0.8)
#: Payments generated per block of customers (a cache-sized working set).
BLOCK_ROWS = 1 << 15
_ONLINE_SLOT_CDF = zipf_cdf(N_USUAL_ONLINE, 1.0)


def local_to_utc_ms(
    world: World, day: np.ndarray, local_ms: np.ndarray, tz: np.ndarray
) -> np.ndarray:
    """UTC event time of a local time-of-day (ms since local midnight) on a day of the run."""
    return world.start_ms + day * DAY_MS + local_ms - tz * HOUR_MS


def amounts_to_cents(eur: np.ndarray, currency: np.ndarray) -> np.ndarray:
    """EUR amounts converted at the fixed synthetic rates, in cents of ``currency``."""
    return np.round(eur * C.EUR_TO[currency] * 100.0).astype(np.int64)


def genuine_transactions(world: World, rng: np.random.Generator) -> Transactions:
    """Card and transfer activity of every customer over the run (deposits are separate).

    A customer makes Poisson(``rate`` x days) payments on uniformly drawn days, at local hours
    drawn from their hour profile, on a channel drawn from their channel mix. Card-present
    payments (pos, atm) happen at their usual nearby stores and ATMs (mostly), or on a trip at
    random stores of the destination city, in its currency; none happen on travel days, so
    consecutive card-present payments are always reachable in the time between them. Amounts are
    lognormal with the customer's parameters, scaled by the merchant category.

    Parameters
    ----------
    world
        The customers and merchants.
    rng
        The generator to draw from.

    Examples
    --------
    >>> from riskstream.simulate.world import build_world
    >>> w = build_world(20, 10, 0, np.random.default_rng(0))
    >>> t = genuine_transactions(w, np.random.default_rng(1))
    >>> 2 * 20 * 10 < len(t) < 4 * 20 * 10, int(t.fraud.max())
    (True, 0)

    """
    counts = rng.poisson(world.rate * world.days)
    # blocks of consecutive customers with about BLOCK_ROWS payments each: the working set
    # stays in cache, and the boundaries depend only on the counts (so on the seed)
    ends = np.searchsorted(np.cumsum(counts), np.arange(BLOCK_ROWS, counts.sum(), BLOCK_ROWS))
    edges = np.unique(np.concatenate([[0], ends + 1, [world.customers]]))
    edges = edges[edges <= world.customers]
    parts = [
        _block(world, lo, hi, counts[lo:hi], rng) for lo, hi in itertools.pairwise(edges.tolist())
    ]
    return Transactions.concat(parts)


def _block(
    world: World, lo: int, hi: int, counts: np.ndarray, rng: np.random.Generator
) -> Transactions:
    """The payments of customers ``lo`` to ``hi - 1``, sorted by time (sorting a block is
    cache-local; the blocks are then sorted runs, which the global stable sort merges fast)."""
    cust = np.repeat(np.arange(lo, hi, dtype=np.int64), counts)
    day = rng.integers(0, world.days, cust.shape[0])
    chan = sample_rows(world.channel_cdf[lo:hi], cust - lo, rng.random(cust.shape[0]))
    trip_city, travel_day = world.trip_at(cust, day)
    card_present = (chan == C.POS) | (chan == C.ATM)
    keep = ~(card_present & travel_day)
    cust, day, chan, trip_city = cust[keep], day[keep], chan[keep], trip_city[keep]
    m = cust.shape[0]

    abroad = trip_city >= 0
    loc_country = np.where(
        abroad, C.CITY_COUNTRY[np.maximum(trip_city, 0)], world.home_country[cust]
    )
    hour = sample_rows(world.hour_cdf[lo:hi], cust - lo, rng.random(m))
    ts = local_to_utc_ms(
        world, day, hour * HOUR_MS + rng.integers(0, HOUR_MS, m), C.COUNTRY_TZ[loc_country]
    )

    is_pos, is_atm = chan == C.POS, chan == C.ATM
    is_ecom, is_tr = chan == C.ECOM, chan == C.TRANSFER
    city = np.where(abroad, trip_city, world.home_city[cust]).astype(np.int64)

    # merchants ------------------------------------------------------------------------------
    merchant = np.full(m, -1, dtype=np.int64)
    u = rng.random(m)
    slot = np.searchsorted(_STORE_SLOT_CDF, rng.random(m), side="right")
    usual_store = world.usual_store[cust, np.minimum(slot, N_USUAL_STORES - 1)]
    rand_store = world.random_merchant(rng, city, C.STORE)
    merchant = np.where(is_pos, np.where(~abroad & (u < 0.88), usual_store, rand_store), merchant)
    usual_atm = world.usual_atm[cust, (rng.random(m) * world.usual_atm.shape[1]).astype(np.int64)]
    rand_atm = world.random_merchant(rng, city, C.ATM_KIND)
    merchant = np.where(is_atm, np.where(~abroad & (u < 0.85), usual_atm, rand_atm), merchant)
    oslot = np.searchsorted(_ONLINE_SLOT_CDF, rng.random(m), side="right")
    usual_online = world.usual_online[cust, np.minimum(oslot, N_USUAL_ONLINE - 1)]
    rand_online = world.random_online(rng, m)
    merchant = np.where(is_ecom, np.where(u < 0.8, usual_online, rand_online), merchant)
    has_m = merchant >= 0
    mrow = world.m_mcc_row[np.maximum(merchant, 0)]
    mcc = np.where(has_m, C.MCC_CODE[mrow], -1)
    country = np.where(has_m, world.m_country[np.maximum(merchant, 0)], loc_country)
    present = is_pos | is_atm
    lat = np.where(present, to_e5(world.m_lat[np.maximum(merchant, 0)]), 0)
    lon = np.where(present, to_e5(world.m_lon[np.maximum(merchant, 0)]), 0)

    # amounts --------------------------------------------------------------------------------
    z = rng.standard_normal(m)
    mu, sg = world.mu[cust], world.sigma[cust]
    eur = np.exp(mu + sg * z) * C.MCC_FACTOR[mrow]
    eur = np.where(is_atm, np.exp(mu + 1.6 + 0.45 * z), eur)
    eur = np.where(is_tr, np.exp(mu + 2.2 + 0.8 * z), eur)
    eur = np.clip(eur, 0.5, 15000.0)
    eur = np.where(is_tr & (rng.random(m) < 0.5), np.maximum(1.0, np.round(eur)), eur)
    currency = np.where(has_m, C.COUNTRY_CURRENCY[country], 0).astype(np.int64)
    local = eur * C.EUR_TO[currency]
    unit = C.ATM_UNIT[currency]
    local = np.where(is_atm, np.maximum(unit, np.round(local / unit) * unit), local)
    amount = np.round(local * 100.0).astype(np.int64)

    # instruments ----------------------------------------------------------------------------
    ncard = world.n_cards[cust]
    k = np.where(
        (ncard == 1) | (rng.random(m) < 0.75), 0, 1 + (rng.random(m) * (ncard - 1)).astype(np.int64)
    )
    card = np.where(has_m, world.card_start[cust] + np.minimum(k, ncard - 1), -1)
    online = is_ecom | is_tr
    ndev = world.n_devices[cust]
    dk = np.where((ndev == 1) | (rng.random(m) < 0.7), 0, 1)
    device = np.where(online, world.device_start[cust] + dk, -1)
    ip = world.device_ip[np.where(online, device, 0)]
    vary = rng.random(m)
    ip = np.where(
        vary < 0.15, (ip & np.uint32(0xFFFFFF00)) | rng.integers(1, 255, m).astype(np.uint32), ip
    )
    roam = abroad & (vary > 0.5)
    foreign_ip = (C.COUNTRY_IP8[loc_country] << np.uint32(24)) | rng.integers(
        1 << 16, 1 << 24, m
    ).astype(np.uint32)
    ip = np.where(online, np.where(roam, foreign_ip, ip), 0).astype(np.uint32)
    payee = np.where(
        is_tr,
        world.payee_start[cust] + (rng.random(m) ** 1.5 * world.n_payees[cust]).astype(np.int64),
        -1,
    )
    ttype = np.select([is_atm, is_tr], [C.WITHDRAWAL, C.T_TRANSFER], C.PURCHASE)

    t = Transactions.new(
        m,
        ts=ts,
        customer=cust,
        amount=amount,
        currency=currency,
        type=ttype,
        channel=chan,
        card=card,
        merchant=merchant,
        mcc=mcc,
        country=country,
        lat=lat,
        lon=lon,
        device=device,
        ip=ip,
        payee=payee,
    )
    inside = (ts >= world.start_ms) & (ts < world.end_ms)
    order = np.argsort(ts, kind="stable")
    return t.take(order[inside[order]])


def refunds(
    world: World, purchases: Transactions, rng: np.random.Generator, share: float = 0.015
) -> Transactions:
    """Refunds of a ``share`` of the purchases, 1 hour to 14 days later, at the same merchant.

    Full refunds (70%) or partial (30-90% of the amount), on the same card and channel. A store
    refund is card-present, so only domestic purchases are refunded in store, and not on a day
    the customer is travelling or away; refunds that would fall after the run are dropped.

    Parameters
    ----------
    world
        The customers and merchants.
    purchases
        Candidate transactions; only ``type == purchase`` rows over 5.00 are refunded.
    rng
        The generator to draw from.
    share
        Probability that an eligible purchase is refunded.

    """
    ok = (purchases.type == C.PURCHASE) & (purchases.amount >= 500)
    pick = ok & (rng.random(len(purchases)) < share)
    r = purchases.take(pick)
    m = len(r)
    delay = rng.integers(HOUR_MS, 14 * DAY_MS, m)
    ts = r.ts + delay
    partial = rng.random(m) < 0.3
    amount = np.where(partial, np.round(r.amount * rng.uniform(0.3, 0.9, m)), r.amount).astype(
        np.int64
    )
    day = (ts - world.start_ms) // DAY_MS
    away, travel = world.trip_at(r.customer, day)
    home = world.home_country[r.customer]
    instore = r.channel == C.POS
    valid = (ts < world.end_ms) & (~instore | ((r.country == home) & (away < 0) & ~travel))
    out = Transactions.new(
        m,
        ts=ts,
        customer=r.customer,
        amount=np.maximum(amount, 1),
        currency=r.currency,
        type=C.REFUND,
        channel=r.channel,
        card=r.card,
        merchant=r.merchant,
        mcc=r.mcc,
        country=r.country,
        lat=r.lat,
        lon=r.lon,
    )
    return out.take(valid)
