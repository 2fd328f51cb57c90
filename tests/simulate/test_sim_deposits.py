"""The marketing rule's targets: deposits over 20,000 in each of three consecutive months."""

from __future__ import annotations

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate import generate


def _monthly_deposits(sim) -> np.ndarray:
    t, w = sim.transactions, sim.world
    dep = t.type == C.T_DEPOSIT
    month = t.ts[dep].astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    month -= month.min()
    totals = np.zeros((w.customers, int(month.max()) + 1))
    np.add.at(totals, (t.customer[dep], month), t.amount[dep] / 100.0)
    return totals


def test_big_depositors_exist_for_three_full_months(sim90) -> None:
    totals = _monthly_deposits(sim90)
    assert totals.shape[1] == 3  # January, February, March
    over = np.flatnonzero((totals > 20_000).all(axis=1))
    assert np.array_equal(over, sim90.world.big_depositors)
    assert 0.01 <= over.shape[0] / sim90.world.customers <= 0.06
    ids = sim90.manifest().big_depositors
    assert ids == [f"cu{c:06d}" for c in over]


def test_short_runs_still_deposit_in_every_month_covered() -> None:
    sim = generate(150, 40, seed=4, start="2026-03-15")  # 15 March - 23 April
    totals = _monthly_deposits(sim)
    assert totals.shape[1] == 2
    big = sim.world.big_depositors
    assert (totals[big] > 20_000).all()


def test_salaries_are_monthly_and_steady(sim90) -> None:
    t, w = sim90.transactions, sim90.world
    salary = (t.channel == C.DEPOSIT) & (t.payee >= 0)
    payers = np.unique(t.customer[salary])
    assert payers.shape[0] > 0.7 * w.customers
    counts = np.bincount(t.customer[salary], minlength=w.customers)[payers]
    assert counts.max() <= 3
