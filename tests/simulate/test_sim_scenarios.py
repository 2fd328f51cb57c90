"""Each fraud scenario is injected, labelled with its name, and carries its signature."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.simulate import SCENARIOS, Simulation
from riskstream.simulate import catalog as C
from riskstream.simulate._util import HOUR_MS, MINUTE_MS, haversine_km

PLANE_KMH = 900.0


def _code(name: str) -> int:
    return C.FRAUD_TYPES.index(name)


def _incidents(sim: Simulation, name: str) -> list[np.ndarray]:
    """Row positions of each incident of a scenario, in time order."""
    t = sim.transactions
    rows = np.flatnonzero(t.fraud == _code(name))
    return [rows[t.incident[rows] == i] for i in np.unique(t.incident[rows])]


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_every_scenario_present_and_labelled(sim, name: str) -> None:
    t, lab = sim.transactions, sim.labels
    rows = np.flatnonzero(t.fraud == _code(name))
    assert rows.shape[0] >= 5
    labelled = lab.tx[lab.fraud == _code(name)]
    assert np.array_equal(np.sort(labelled), rows)


def test_fraud_rate_near_target(sim) -> None:
    rate = (sim.transactions.fraud > 0).mean()
    assert 0.0035 < rate < 0.007
    m = sim.manifest()
    assert m.fraud_rate == pytest.approx(rate, abs=1e-6)
    assert set(m.counts["by_fraud_type"]) == set(C.FRAUD_TYPES)


def test_fraud_rate_is_configurable() -> None:
    from riskstream.simulate import generate

    none = generate(200, 10, seed=1, fraud_rate=0.0)
    assert (none.transactions.fraud == 0).all()
    assert (none.labels.fraud == 0).all()
    more = generate(200, 10, seed=1, fraud_rate=0.03)
    assert 0.02 < (more.transactions.fraud > 0).mean() < 0.045


def test_card_testing_bursts_of_tiny_online_payments(sim) -> None:
    t = sim.transactions
    for rows in _incidents(sim, "card_testing"):
        tiny = rows[t.amount[rows] <= 200]
        assert tiny.shape[0] >= 5
        assert (t.channel[rows] == C.ECOM).all()
        assert np.unique(t.card[rows]).shape[0] == 1
        assert t.ts[tiny].max() - t.ts[tiny].min() < 30 * MINUTE_MS  # a burst: minutes
        large = rows[t.amount[rows] > 200]
        assert (t.amount[large] >= 100 * 100).all()  # the cash-out, if any


def _seen_before(t, rows: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Whether each row's (customer, value) appeared in an earlier transaction."""
    out = np.empty(rows.shape[0], dtype=bool)
    for k, r in enumerate(rows):
        earlier = (t.customer[:r] == t.customer[r]) & (column[:r] == column[r])
        out[k] = bool(earlier.any())
    return out


def test_account_takeover_new_device_new_payee_large_transfer(sim) -> None:
    t, w = sim.transactions, sim.world
    unusual = 0
    incidents = _incidents(sim, "account_takeover")
    for rows in incidents:
        first = rows[:1]
        assert (t.channel[rows] == C.TRANSFER).all() and (t.type[rows] == C.T_TRANSFER).all()
        assert not _seen_before(t, first, t.device)[0]  # a device never seen for this customer
        assert not _seen_before(t, first, t.payee)[0]  # a payee never paid before
        assert t.amount[rows].max() >= 2_000 * 100
        c = t.customer[first[0]]
        local_hour = ((t.ts[first[0]] // HOUR_MS) + w.tz[c]) % 24
        unusual += w.hour_p[c, local_hour] <= np.sort(w.hour_p[c])[5]
    assert unusual / len(incidents) > 0.5  # mostly at an hour the customer is never active


def test_impossible_travel_faster_than_a_plane(sim) -> None:
    t = sim.transactions
    cp = np.flatnonzero(np.isin(t.channel, [C.POS, C.ATM]))
    for rows in _incidents(sim, "impossible_travel"):
        r = rows[0]
        before = cp[(cp < r) & (t.customer[cp] == t.customer[r])]
        prev = before[-1]
        km = haversine_km(t.lat[prev] / 1e5, t.lon[prev] / 1e5, t.lat[r] / 1e5, t.lon[r] / 1e5)
        hours = (t.ts[r] - t.ts[prev]) / HOUR_MS
        assert km > 1_000
        assert km / max(hours, 1e-9) > PLANE_KMH
        assert t.card[r] in t.card[before]  # a clone of a card used at home


def test_no_impossible_travel_among_genuine_payments(sim) -> None:
    t = sim.transactions
    cp = np.flatnonzero(np.isin(t.channel, [C.POS, C.ATM]) & (t.fraud == 0))
    cp = cp[np.lexsort((t.ts[cp], t.customer[cp]))]
    same = t.customer[cp][1:] == t.customer[cp][:-1]
    a, b = cp[:-1][same], cp[1:][same]
    km = haversine_km(t.lat[a] / 1e5, t.lon[a] / 1e5, t.lat[b] / 1e5, t.lon[b] / 1e5)
    hours = np.maximum((t.ts[b] - t.ts[a]) / HOUR_MS, 1e-9)
    assert not ((km > 300) & (km / hours > PLANE_KMH)).any()
    # yet genuine customers do pay abroad (travel), so "foreign" alone is not fraud
    abroad = (t.country[cp] != sim.world.home_country[t.customer[cp]]).mean()
    assert 0.01 < abroad < 0.2


def test_compromised_merchant_cards_paid_there_first(sim) -> None:
    t = sim.transactions
    breaches = sim.notes["compromised_merchant"]
    assert breaches
    windows = {m: (ws, we) for m, ws, we in breaches}
    for rows in _incidents(sim, "compromised_merchant"):
        card = t.card[rows[0]]
        assert (t.card[rows] == card).all() and (t.channel[rows] == C.ECOM).all()
        visits = np.flatnonzero(
            (t.card == card) & (t.fraud == 0) & np.isin(t.merchant, list(windows))
        )
        ok = [
            windows[t.merchant[v]][0] <= t.ts[v] < windows[t.merchant[v]][1]
            and t.ts[v] < t.ts[rows[0]]
            for v in visits
        ]
        assert any(ok)


def test_spending_spree_large_payments_at_odd_hours(sim) -> None:
    t, w = sim.transactions, sim.world
    for rows in _incidents(sim, "spending_spree"):
        c = t.customer[rows[0]]
        assert rows.shape[0] >= 4
        assert (t.amount[rows] >= 150 * 100).all()
        assert np.median(t.amount[rows] / 100) > 10 * np.exp(w.mu[c])
        assert t.ts[rows].max() - t.ts[rows].min() < 10 * HOUR_MS
        assert np.unique(t.card[rows]).shape[0] == 1
        assert np.isin(t.channel[rows], [C.POS, C.ATM]).all()
        assert (t.country[rows] == w.home_country[c]).all()
        local_hour = ((t.ts[rows[0]] // HOUR_MS) + w.tz[c]) % 24
        assert w.hour_p[c, local_hour] <= np.sort(w.hour_p[c])[5]


def test_money_mule_fan_in_fan_out(sim) -> None:
    t = sim.transactions
    for rows in _incidents(sim, "money_mule"):
        inflow = rows[t.type[rows] == C.T_DEPOSIT]
        outflow = rows[t.type[rows] == C.T_TRANSFER]
        assert np.unique(t.payee[inflow]).shape[0] >= 3  # several sources
        assert np.intersect1d(t.payee[inflow], t.payee[outflow]).shape[0] == 0
        assert t.ts[outflow].min() > t.ts[inflow].max()
        assert t.ts[outflow].max() - t.ts[inflow].max() < 24 * HOUR_MS  # rapid
        share = t.amount[outflow].sum() / t.amount[inflow].sum()
        assert 0.85 < share <= 0.98
