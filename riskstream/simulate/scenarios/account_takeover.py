"""Account takeover: a fraudster logs into the victim's online banking from a new device and
sends a large transfer to a new payee, often at an hour the victim is never active."""

from __future__ import annotations

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import MINUTE_MS
from riskstream.simulate.columns import Transactions
from riskstream.simulate.scenarios._common import (
    FraudContext,
    fraud_country,
    group_offsets,
    grouped_cumsum,
    ip_in,
    local_ms,
    unusual_hour,
)

__all__ = ["account_takeover"]

CODE = C.FRAUD_TYPES.index("account_takeover")


def account_takeover(
    ctx: FraudContext,
    incidents: int,
    rng: np.random.Generator,
    *,
    amount_eur: tuple[float, float] = (2_000.0, 15_000.0),
    probe_p: float = 0.5,
    second_p: float = 0.35,
    unusual_hour_p: float = 0.75,
) -> Transactions:
    """New device, new payee, large transfer(s).

    For each incident: a random customer; a fresh device (never seen for anyone) with an IP in
    a fraud-prone country, which is also the transfer's ``country``; a fresh payee. With
    probability ``probe_p`` a probe transfer of 1-5 EUR comes first; then the main transfer,
    uniform in ``amount_eur``, 2-20 minutes later; with probability ``second_p`` a second one
    of 30-80% of it 5-60 minutes after that. With probability ``unusual_hour_p`` the attack
    starts in one of the six hours the victim is least active (local time), else at a random
    hour. All rows are labelled ``account_takeover``.

    Parameters
    ----------
    ctx
        The scenario context (fresh devices, payees and incident ids are taken from it).
    incidents
        Number of taken-over accounts.
    rng
        The generator to draw from.
    amount_eur
        Range of the main transfer, EUR.
    probe_p
        Probability of a small probe transfer first.
    second_p
        Probability of a second large transfer.
    unusual_hour_p
        Probability that the attack happens at an hour unusual for the victim.

    Examples
    --------
    >>> from riskstream.simulate import generate
    >>> sim = generate(200, 7, seed=3)
    >>> ato = sim.transactions.take(sim.transactions.fraud == CODE)
    >>> bool((ato.channel == C.TRANSFER).all())
    True
    >>> bool((ato.device >= sim.world.n_devices_total).all())  # devices never seen before
    True

    """
    w = ctx.world
    n = int(incidents)
    victim = rng.integers(0, w.customers, n)
    inc = ctx.new_incidents(n)
    dev = ctx.new_devices(n)
    payee = ctx.new_payees(n)
    country = fraud_country(rng, n)
    day = rng.integers(0, w.days, n)
    hour = np.where(
        rng.random(n) < unusual_hour_p, unusual_hour(w, victim, rng), rng.integers(0, 24, n)
    )
    t0 = local_ms(w, victim, day, hour, rng)
    main = rng.uniform(amount_eur[0], amount_eur[1], n)

    probe = rng.random(n) < probe_p
    second = rng.random(n) < second_p
    k = 1 + probe.astype(np.int64) + second.astype(np.int64)
    owner, rank = group_offsets(k)
    rows = owner.shape[0]
    # role of each row: 0 probe, 1 main, 2 second
    role = rank + (~probe[owner]).astype(np.int64)
    gap = np.select(
        [role == 0, role == 1, role == 2],
        [
            np.zeros(rows, dtype=np.int64),
            rng.integers(2 * MINUTE_MS, 20 * MINUTE_MS, rows),
            rng.integers(5 * MINUTE_MS, 60 * MINUTE_MS, rows),
        ],
    )
    gap = np.where(rank == 0, 0, gap)
    ts = t0[owner] + grouped_cumsum(gap, rank)
    eur = np.select(
        [role == 0, role == 1],
        [rng.uniform(1.0, 5.0, rows), main[owner]],
        main[owner] * rng.uniform(0.3, 0.8, rows),
    )
    t = Transactions.new(
        rows,
        ts=ts,
        customer=victim[owner],
        amount=np.round(eur * 100).astype(np.int64),
        currency=0,
        type=C.T_TRANSFER,
        channel=C.TRANSFER,
        country=country[owner],
        device=dev[owner],
        ip=ip_in(rng, country[owner]),
        payee=payee[owner],
        fraud=CODE,
        incident=inc[owner],
    )
    return ctx.inside(t)
