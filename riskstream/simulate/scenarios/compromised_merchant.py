"""Compromised merchant: a store's card terminal is skimmed for a few days; cards used there in
that window are later defrauded online, elsewhere, days to weeks after the visit."""

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

__all__ = ["compromised_merchant"]

CODE = C.FRAUD_TYPES.index("compromised_merchant")


def compromised_merchant(
    ctx: FraudContext,
    incidents: int,
    rng: np.random.Generator,
    *,
    cards_per_breach: tuple[int, int] = (8, 25),
    window_days: tuple[int, int] = (3, 10),
    delay_days: tuple[float, float] = (2.0, 20.0),
    uses: tuple[int, int] = (1, 4),
) -> Transactions:
    """Breached stores, and later online fraud on the cards that paid there.

    Each of the ``incidents`` breaches lasts ``window_days`` days (uniform) and starts in the
    first 60% of the run; its store is drawn among those with genuine card-present purchases in
    the window, weighted by their number (never the same store twice). Among the cards that
    paid there during the window, up to ``cards_per_breach`` (uniform) are defrauded: ``uses``
    online purchases each (uniform count) at random online merchants, the first
    ``delay_days`` days (uniform) after the card's first visit in the window (shrunk to fit
    what is left of a short run), then 10 minutes to 2 days apart; amounts lognormal, median
    250 EUR, 30-1,500 EUR, in the merchant's currency; one fresh device per breach (the
    ring's) and IPs in a fraud-prone country. Payments that would fall after the run are
    dropped. Each defrauded card is its own incident (its holder reports it); ``ctx.notes``
    records the breaches as ``(merchant, window start ms, window end ms)``. Labelled
    ``compromised_merchant``.

    Parameters
    ----------
    ctx
        The scenario context; the breached stores' customers come from ``ctx.genuine``.
    incidents
        Number of breached stores.
    rng
        The generator to draw from.
    cards_per_breach
        Smallest and largest number of defrauded cards per breach.
    window_days
        Smallest and largest length of a breach, days.
    delay_days
        Smallest and largest delay between a card's visit and its first fraudulent use, days.
    uses
        Smallest and largest number of fraudulent payments per card.

    Examples
    --------
    >>> from riskstream.simulate import generate
    >>> sim = generate(300, 30, seed=3)
    >>> cm = sim.transactions.take(sim.transactions.fraud == CODE)
    >>> bool((cm.channel == C.ECOM).all()), len(sim.notes["compromised_merchant"]) >= 1
    (True, True)

    """
    w, g = ctx.world, ctx.genuine
    buys = np.flatnonzero((g.channel == C.POS) & (g.type == C.PURCHASE))
    buys = buys[np.argsort(g.ts[buys], kind="stable")]
    b_ts, b_merchant = g.ts[buys], g.merchant[buys]
    breaches: list[tuple[int, int, int]] = ctx.notes.setdefault("compromised_merchant", [])
    taken = np.zeros(w.n_merchants, dtype=bool)
    parts: list[Transactions] = []
    for _ in range(int(incidents)):
        length = int(rng.integers(window_days[0], window_days[1] + 1)) * DAY_MS
        latest = max(1, int(0.6 * w.days * DAY_MS) - length)
        ws = w.start_ms + int(rng.integers(0, latest))
        we = ws + length
        lo, hi = np.searchsorted(b_ts, [ws, we])
        visits = np.bincount(b_merchant[lo:hi], minlength=w.n_merchants).astype(np.float64)
        visits[taken] = 0.0
        if visits.sum() == 0:
            continue
        store = int(rng.choice(w.n_merchants, p=visits / visits.sum()))
        taken[store] = True
        here = buys[lo + np.flatnonzero(b_merchant[lo:hi] == store)]
        cards, first = np.unique(g.card[here], return_index=True)
        breaches.append((int(store), ws, we))
        k = min(cards.shape[0], int(rng.integers(cards_per_breach[0], cards_per_breach[1] + 1)))
        pick = np.sort(rng.choice(cards.shape[0], size=k, replace=False))
        card, visit = cards[pick], g.ts[here][first[pick]]
        cust = g.customer[here][first[pick]]
        inc = ctx.new_incidents(k)
        dev = ctx.new_devices(1)
        country = fraud_country(rng, 1)
        m = rng.integers(uses[0], uses[1] + 1, k)
        owner, rank = group_offsets(m)
        rows = owner.shape[0]
        # delays shrink to fit the rest of the run (short runs still show the pattern)
        room = (w.end_ms - visit[owner]) * 0.9
        hi = np.minimum(delay_days[1] * DAY_MS, room)
        lo = np.minimum(delay_days[0] * DAY_MS, hi * 0.5)
        delay = (lo + rng.random(rows) * (hi - lo)).astype(np.int64)
        gap = np.where(rank == 0, delay, rng.integers(10 * MINUTE_MS, 48 * HOUR_MS, rows))
        ts = visit[owner] + grouped_cumsum(gap, rank)
        merchant = w.random_online(rng, rows)
        mcountry = w.m_country[merchant]
        currency = C.COUNTRY_CURRENCY[mcountry]
        eur = np.clip(np.exp(rng.normal(np.log(250.0), 0.7, rows)), 30.0, 1500.0)
        parts.append(
            Transactions.new(
                rows,
                ts=ts,
                customer=cust[owner],
                amount=np.round(eur * C.EUR_TO[currency] * 100).astype(np.int64),
                currency=currency,
                type=C.PURCHASE,
                channel=C.ECOM,
                card=card[owner],
                merchant=merchant,
                mcc=C.MCC_CODE[w.m_mcc_row[merchant]],
                country=mcountry,
                device=np.full(rows, dev[0]),
                ip=ip_in(rng, np.full(rows, country[0])),
                fraud=CODE,
                incident=inc[owner],
            )
        )
    return ctx.inside(Transactions.concat(parts))
