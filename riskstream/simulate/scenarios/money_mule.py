"""Money mule: an account receives transfers from several unrelated senders and passes almost
all of it on within hours, to new payees."""

from __future__ import annotations

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import DAY_MS, HOUR_MS, MINUTE_MS
from riskstream.simulate.columns import Transactions
from riskstream.simulate.scenarios._common import (
    FraudContext,
    group_offsets,
    grouped_cumsum,
    ip_in,
)

__all__ = ["money_mule"]

CODE = C.FRAUD_TYPES.index("money_mule")


def money_mule(
    ctx: FraudContext,
    incidents: int,
    rng: np.random.Generator,
    *,
    sources: tuple[int, int] = (3, 8),
    in_eur: tuple[float, float] = (400.0, 3_000.0),
    collect_hours: tuple[float, float] = (6.0, 72.0),
    hold_hours: tuple[float, float] = (1.0, 12.0),
    outs: tuple[int, int] = (2, 4),
    out_share: tuple[float, float] = (0.90, 0.98),
    new_device_p: float = 0.5,
) -> Transactions:
    """Fan-in from several senders, fast fan-out to new payees.

    For each incident: a random customer who is not a big depositor; ``sources`` incoming
    transfers (channel ``transfer``, type ``deposit``; uniform count), each from a distinct
    fresh sender (its ``payee_id``), uniform in ``in_eur``, spread over ``collect_hours``;
    ``hold_hours`` after the last one, ``outs`` outgoing transfers (uniform count) 5-60 minutes
    apart, each to a fresh payee, together ``out_share`` of what came in. Outgoing transfers use
    the mule's own device, or with probability ``new_device_p`` a fresh one (a handler's), from
    home IPs. Labelled ``money_mule``, in and out.

    Parameters
    ----------
    ctx
        The scenario context.
    incidents
        Number of mule accounts.
    rng
        The generator to draw from.
    sources
        Smallest and largest number of incoming transfers.
    in_eur
        Range of each incoming amount, EUR.
    collect_hours
        Range of the time over which the incoming transfers arrive, hours.
    hold_hours
        Range of the delay between the last incoming and the first outgoing transfer, hours.
    outs
        Smallest and largest number of outgoing transfers.
    out_share
        Range of the share of the incoming total sent on.
    new_device_p
        Probability that the outgoing transfers come from a device new to the customer.

    Examples
    --------
    >>> from riskstream.simulate import generate
    >>> sim = generate(200, 7, seed=3)
    >>> mm = sim.transactions.take(sim.transactions.fraud == CODE)
    >>> sorted(set(mm.type.tolist())) == [C.T_TRANSFER, C.T_DEPOSIT]
    True

    """
    w = ctx.world
    n = int(incidents)
    pool = np.setdiff1d(np.arange(w.customers), w.big_depositors)
    mule = (
        pool[rng.integers(0, pool.shape[0], n)]
        if pool.shape[0]
        else rng.integers(0, w.customers, n)
    )
    inc = ctx.new_incidents(n)
    span = max(1, w.days * DAY_MS - 5 * DAY_MS)
    t0 = w.start_ms + rng.integers(0, span, n)

    s = rng.integers(sources[0], sources[1] + 1, n)
    sowner, _ = group_offsets(s)
    srows = sowner.shape[0]
    collect = rng.uniform(collect_hours[0], collect_hours[1], n) * HOUR_MS
    in_ts = t0[sowner] + (rng.random(srows) * collect[sowner]).astype(np.int64)
    in_cents = np.round(rng.uniform(in_eur[0], in_eur[1], srows) * 100).astype(np.int64)
    total = np.bincount(sowner, weights=in_cents, minlength=n)
    last_in = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last_in, sowner, in_ts)

    o = rng.integers(outs[0], outs[1] + 1, n)
    oowner, orank = group_offsets(o)
    orows = oowner.shape[0]
    hold = (rng.uniform(hold_hours[0], hold_hours[1], n) * HOUR_MS).astype(np.int64)
    gap = np.where(orank == 0, hold[oowner], rng.integers(5 * MINUTE_MS, 60 * MINUTE_MS, orows))
    out_ts = last_in[oowner] + grouped_cumsum(gap, orank)
    share = rng.gamma(4.0, 1.0, orows)
    norm = np.bincount(oowner, weights=share, minlength=n)
    send = total * rng.uniform(out_share[0], out_share[1], n)
    out_cents = np.floor(send[oowner] * share / norm[oowner]).astype(np.int64)

    home = w.home_country[mule].astype(np.int64)
    own_dev = w.device_start[mule]
    fresh = ctx.new_devices(n)
    use_new = rng.random(n) < new_device_p
    device = np.where(use_new, fresh, own_dev)
    ip = np.where(use_new[oowner], ip_in(rng, home[oowner]), w.device_ip[own_dev][oowner])
    senders = ctx.new_payees(srows)
    payees = ctx.new_payees(orows)
    incoming = Transactions.new(
        srows,
        ts=in_ts,
        customer=mule[sowner],
        amount=in_cents,
        currency=0,
        type=C.T_DEPOSIT,
        channel=C.TRANSFER,
        country=home[sowner],
        payee=senders,
        fraud=CODE,
        incident=inc[sowner],
    )
    outgoing = Transactions.new(
        orows,
        ts=out_ts,
        customer=mule[oowner],
        amount=out_cents,
        currency=0,
        type=C.T_TRANSFER,
        channel=C.TRANSFER,
        country=home[oowner],
        device=device[oowner],
        ip=ip,
        payee=payees,
        fraud=CODE,
        incident=inc[oowner],
    )
    return ctx.inside(Transactions.concat([incoming, outgoing]))
