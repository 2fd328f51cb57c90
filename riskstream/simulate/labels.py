"""Ground truth as it reaches a bank: late, and only for some transactions.

Every fraudulent transaction gets a label; so does a small sample of genuine ones that the
customer confirmed ("yes, that was me"). All others carry no label and are genuine. A label's
``label_time`` is when the bank learns the truth, never before the transaction:

- ``sms`` (30% of card and takeover incidents, all genuine confirmations): the customer answers
  the confirmation SMS; delay per transaction 20 s + lognormal(median 90 s, sigma 0.8), at most
  15 minutes.
- ``chargeback`` (the other card and takeover incidents): the customer disputes the whole
  incident; label time = the incident's last transaction + lognormal(median 9 days, sigma 0.6)
  clipped to 1-60 days, plus up to 10 minutes of processing per transaction.
- ``investigation`` (money mules, who never report themselves): the incident's last
  transaction + lognormal(median 14 days, sigma 0.5) clipped to 3-60 days, plus up to 10
  minutes per transaction.

Genuine confirmations: each genuine transaction is confirmed with probability 0.3%, plus 4% if it
was paid in a foreign currency or abroad, plus 3% if it is 500 EUR or more (the cases a bank
would ask about). Deposits and refunds are never confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import DAY_MS, MINUTE_MS, SECOND_MS
from riskstream.simulate.columns import Transactions
from riskstream.simulate.world import World

__all__ = ["LABEL_SOURCES", "Labels", "make_labels"]

#: How a label reached the bank (index = code in `Labels.source`).
LABEL_SOURCES: tuple[str, ...] = ("sms", "chargeback", "investigation")
SMS, CHARGEBACK, INVESTIGATION = range(3)


@dataclass(eq=False)
class Labels:
    """Labels as columns, sorted by ``label_time`` then transaction position.

    Parameters
    ----------
    tx
        Position of the labelled transaction in the (time-sorted) transactions.
    fraud
        Fraud code (0 genuine, else index into `catalog.FRAUD_TYPES`).
    label_time
        When the label became known, ms since the epoch.
    source
        Index into `LABEL_SOURCES`.

    """

    tx: np.ndarray
    fraud: np.ndarray
    label_time: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return int(self.tx.shape[0])


def _sms_delay(rng: np.random.Generator, n: int) -> np.ndarray:
    d = 20 * SECOND_MS + np.exp(rng.normal(np.log(90.0), 0.8, n)) * SECOND_MS
    return np.minimum(d, 15 * MINUTE_MS).astype(np.int64)


def make_labels(
    world: World,
    t: Transactions,
    rng: np.random.Generator,
    *,
    sms_share: float = 0.3,
) -> Labels:
    """Labels for the time-sorted transactions ``t`` (see the module docstring for the rules).

    Parameters
    ----------
    world
        The customers (home countries, for "abroad").
    t
        All transactions, sorted by time (label ``tx`` are positions in it).
    rng
        The generator to draw from.
    sms_share
        Share of card and takeover incidents reported by SMS reply within minutes.

    Examples
    --------
    >>> from riskstream.simulate import generate
    >>> sim = generate(200, 7, seed=3)
    >>> lab = sim.labels
    >>> bool((lab.label_time >= sim.transactions.ts[lab.tx]).all())
    True

    """
    fraud_pos = np.flatnonzero(t.fraud > 0)
    inc = t.incident[fraud_pos]
    uniq, inv = np.unique(inc, return_inverse=True)
    ni = uniq.shape[0]
    # per incident: its scenario, its last transaction, its route
    scen = np.zeros(ni, dtype=np.int64)
    scen[inv] = t.fraud[fraud_pos]
    last = np.full(ni, np.iinfo(np.int64).min)
    np.maximum.at(last, inv, t.ts[fraud_pos])
    mule = scen == C.FRAUD_TYPES.index("money_mule")
    route = np.where(mule, INVESTIGATION, np.where(rng.random(ni) < sms_share, SMS, CHARGEBACK))
    cb = np.clip(np.exp(rng.normal(np.log(9.0), 0.6, ni)), 1.0, 60.0)
    inv_days = np.clip(np.exp(rng.normal(np.log(14.0), 0.5, ni)), 3.0, 60.0)
    base = last + (np.where(mule, inv_days, cb) * DAY_MS).astype(np.int64)
    m = fraud_pos.shape[0]
    r = route[inv]
    f_time = np.where(
        r == SMS,
        t.ts[fraud_pos] + _sms_delay(rng, m),
        base[inv] + rng.integers(0, 10 * MINUTE_MS, m),
    )

    # genuine confirmations
    g = t.fraud == 0
    cust = t.customer
    abroad = (t.currency != 0) | ((t.country >= 0) & (t.country != world.home_country[cust]))
    eur = t.amount / 100.0 / C.EUR_TO[t.currency]
    p = 0.003 + 0.04 * abroad + 0.03 * (eur >= 500.0)
    askable = g & (t.type != C.T_DEPOSIT) & (t.type != C.REFUND)
    conf = np.flatnonzero(askable & (rng.random(len(t)) < p))
    c_time = t.ts[conf] + _sms_delay(rng, conf.shape[0])

    tx = np.concatenate([fraud_pos, conf])
    label_time = np.concatenate([f_time, c_time])
    order = np.lexsort((tx, label_time))
    return Labels(
        tx=tx[order],
        fraud=np.concatenate([t.fraud[fraud_pos], t.fraud[conf]])[order].astype(np.int8),
        label_time=label_time[order],
        source=np.concatenate([r, np.full(conf.shape[0], SMS)])[order].astype(np.int8),
    )
