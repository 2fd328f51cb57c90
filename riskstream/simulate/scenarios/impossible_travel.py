"""Impossible travel: a cloned card is used card-present in a far-away city shortly after the
real card was used at home, faster than any plane could have carried the customer there."""

from __future__ import annotations

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import HOUR_MS, MINUTE_MS, haversine_km, to_e5
from riskstream.simulate.columns import Transactions
from riskstream.simulate.scenarios._common import FraudContext, group_offsets, grouped_cumsum

__all__ = ["impossible_travel"]

CODE = C.FRAUD_TYPES.index("impossible_travel")


def impossible_travel(
    ctx: FraudContext,
    incidents: int,
    rng: np.random.Generator,
    *,
    min_km: float = 1_500.0,
    min_speed_kmh: float = 1_200.0,
    followups: tuple[int, int] = (0, 2),
    atm_p: float = 0.3,
) -> Transactions:
    """Card-present use of a cloned card too far, too soon after a genuine card-present payment.

    For each incident an anchor is drawn among the genuine card-present payments (pos, atm);
    the cloned card (same ``card``) is then used at a random store (or, with probability
    ``atm_p``, an ATM) of a city at least ``min_km`` from the anchor, after a delay of 15-100%
    of the time a trip at ``min_speed_kmh`` would take: the implied speed is always above
    ``min_speed_kmh`` (airliners cruise at ~900 km/h). ``followups`` more payments (uniform
    count) follow in the same city, 10-90 minutes apart. Amounts: stores 80-3,000 EUR
    (lognormal, median 400), ATMs 200-500 EUR, in local currency. Labelled
    ``impossible_travel``.

    Parameters
    ----------
    ctx
        The scenario context; anchors come from ``ctx.genuine``.
    incidents
        Number of cloned cards (at most the number of genuine card-present payments).
    rng
        The generator to draw from.
    min_km
        Smallest distance between the anchor and the fraudulent payment.
    min_speed_kmh
        Smallest implied travel speed between them.
    followups
        Smallest and largest number of further payments in the far city.
    atm_p
        Probability that a payment is an ATM withdrawal rather than a store purchase.

    Examples
    --------
    >>> from riskstream.simulate import generate
    >>> sim = generate(200, 7, seed=3)
    >>> it = sim.transactions.take(sim.transactions.fraud == CODE)
    >>> bool(np.isin(it.channel, [C.POS, C.ATM]).all())
    True

    """
    w, g = ctx.world, ctx.genuine
    cp = np.flatnonzero((g.channel == C.POS) | (g.channel == C.ATM))
    n = min(int(incidents), cp.shape[0])
    anchor = np.sort(rng.choice(cp, size=n, replace=False))
    a_lat, a_lon = g.lat[anchor] / 1e5, g.lon[anchor] / 1e5
    d_city = haversine_km(a_lat[:, None], a_lon[:, None], C.CITY_LAT[None, :], C.CITY_LON[None, :])
    # a random far city: the largest key among eligible ones (cities are >= 1,500 km apart from
    # somewhere in Europe for sure: Asia and the Americas are in the table)
    keys = np.where(d_city >= min_km + 50.0, rng.random(d_city.shape), -1.0)
    city = np.argmax(keys, axis=1)
    inc = ctx.new_incidents(n)

    k = 1 + rng.integers(followups[0], followups[1] + 1, n)
    owner, rank = group_offsets(k)
    rows = owner.shape[0]
    atm = rng.random(rows) < atm_p
    merchant = np.where(
        atm,
        w.random_merchant(rng, city[owner], C.ATM_KIND),
        w.random_merchant(rng, city[owner], C.STORE),
    )
    m_lat, m_lon = w.m_lat[merchant], w.m_lon[merchant]
    first = rank == 0
    dist = haversine_km(a_lat[owner], a_lon[owner], m_lat, m_lon)
    max_dt = dist / min_speed_kmh * HOUR_MS
    gap = np.where(
        first,
        (rng.uniform(0.15, 1.0, rows) * max_dt).astype(np.int64),
        rng.integers(10 * MINUTE_MS, 90 * MINUTE_MS, rows),
    )
    ts = g.ts[anchor][owner] + grouped_cumsum(gap, rank)
    country = w.m_country[merchant]
    currency = C.COUNTRY_CURRENCY[country]
    eur = np.where(
        atm,
        rng.uniform(200.0, 500.0, rows),
        np.clip(np.exp(rng.normal(np.log(400.0), 0.6, rows)), 80.0, 3000.0),
    )
    local = eur * C.EUR_TO[currency]
    unit = C.ATM_UNIT[currency]
    local = np.where(atm, np.maximum(unit, np.round(local / unit) * unit), local)
    t = Transactions.new(
        rows,
        ts=ts,
        customer=g.customer[anchor][owner],
        amount=np.round(local * 100).astype(np.int64),
        currency=currency,
        type=np.where(atm, C.WITHDRAWAL, C.PURCHASE),
        channel=np.where(atm, C.ATM, C.POS),
        card=g.card[anchor][owner],
        merchant=merchant,
        mcc=C.MCC_CODE[w.m_mcc_row[merchant]],
        country=country,
        lat=to_e5(m_lat),
        lon=to_e5(m_lon),
        fraud=CODE,
        incident=inc[owner],
    )
    return ctx.inside(t)
