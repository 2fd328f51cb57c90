"""The shipped rule sets: they check against the shipped catalog and pass their cases; the
marketing rule finds the simulator's big depositors, once per qualifying month."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from riskstream.features.catalog import FeatureCatalog
from riskstream.rules import DecisionPolicy, load_ruleset
from riskstream.rules.cases import run_cases
from riskstream.rules.loader import default_ruleset_path
from riskstream.simulate import catalog as C
from riskstream.simulate.core import generate
from tests.rules.conftest import make_catalog

DATA = Path(__file__).parent / "data"


def test_shipped_rule_sets_check_against_the_shipped_catalog() -> None:
    catalog = FeatureCatalog.default()
    folder = default_ruleset_path().parent
    for path in sorted(folder.glob("*.yaml")):
        if path.name.endswith("_cases.yaml"):
            continue
        ruleset = load_ruleset(path, catalog)
        assert ruleset.rules, path
    assert load_ruleset(None, catalog).hash == load_ruleset(default_ruleset_path(), catalog).hash


def test_default_rules_pass_their_cases() -> None:
    catalog = FeatureCatalog.default()
    ruleset = load_ruleset(None, catalog)
    cases = default_ruleset_path().with_name("default_cases.yaml")
    results = run_cases(ruleset, cases.read_text(), catalog, str(cases))
    assert [(r.name, r.problems) for r in results if not r.passed] == []
    scenarios = {tag for rule in ruleset.rules for tag in rule.tags}
    assert {
        "card_testing",
        "account_takeover",
        "impossible_travel",
        "compromised_merchant",
        "spending_spree",
        "money_mule",
    } <= scenarios


def _monthly_deposit_features(sim) -> dict[str, np.ndarray]:
    """A stand-in for the feature stage's calendar-month deposit sums (amounts in units)."""
    tx = sim.transactions
    month = tx.ts.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    amount = tx.amount / 100.0
    deposit = tx.type == C.T_DEPOSIT
    n = len(tx)
    m0 = np.zeros(n)
    key = tx.customer.astype(np.int64) * 10_000 + month
    running: dict[int, float] = {}
    for i in np.flatnonzero(deposit).tolist():  # time order: a running sum per customer-month
        k = int(key[i])
        running[k] = running.get(k, 0.0) + float(amount[i])
        m0[i] = running[k]
    m1 = np.array([running.get(int(k) - 1, 0.0) for k in key])  # earlier months are complete
    m2 = np.array([running.get(int(k) - 2, 0.0) for k in key])
    column = np.empty(n, dtype=object)
    column[:] = [C.TYPES[t] for t in tx.type.tolist()]
    return {
        "type": column,
        "amount": amount,
        "customer.deposit_sum_month_0": np.where(deposit, m0, np.nan),
        "customer.deposit_sum_month_1": m1,
        "customer.deposit_sum_month_2": m2,
    }


def test_marketing_rule_on_simulated_data() -> None:
    catalog = make_catalog()
    ruleset = load_ruleset(DATA / "marketing.yaml", catalog)
    sim = generate(300, 100, seed=11)  # Jan 1 to Apr 10: three full months and a bit
    frame = _monthly_deposit_features(sim)
    n = len(sim.transactions)
    decided = DecisionPolicy().decide(ruleset, ruleset.evaluate(frame, n), frame, np.zeros(n))
    rows = decided.hit_rows
    assert len(rows) > 0
    customers = sim.transactions.customer[rows]
    months = sim.transactions.ts[rows].astype("datetime64[ms]").astype("datetime64[M]")
    # once per qualifying period: never twice for the same customer and month
    pairs = set(zip(customers.tolist(), months.astype(np.int64).tolist(), strict=True))
    assert len(pairs) == len(rows)
    # every flagged customer deposited > 20,000 in each of three consecutive months ...
    tx = sim.transactions
    month_of = tx.ts.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    dep = tx.type == C.T_DEPOSIT
    for cust, month in pairs:
        for back in range(3):
            sel = dep & (tx.customer == cust) & (month_of == month - back)
            assert tx.amount[sel].sum() / 100.0 > 20_000
    # ... and they are the simulator's big depositors
    assert set(customers.tolist()) <= set(sim.world.big_depositors.tolist())
    # notify adds a tag and a notification, and never changes the decision
    assert set(decided.decisions[rows].tolist()) == {0}
    first = int(rows[0])
    assert decided.tags(first) == ["high_potential"]
    assert decided.notifications(first)[0]["rule"] == "high_potential_depositor"
    assert set(decided.features(first)) == {
        "type",
        "customer.deposit_sum_month_0",
        "customer.deposit_sum_month_1",
        "customer.deposit_sum_month_2",
        "amount",
    }
