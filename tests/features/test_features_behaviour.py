"""Behavioural features: sequential semantics in a batch, missing fields, the catalog contract,
calendar-month deposits (the marketing rule), travel, home, habits, first-time-seen."""

from __future__ import annotations

import numpy as np
import pytest
from feature_helpers import CATALOG, T0, assert_frames_equal, make_batch, run
from hypothesis import given, settings
from hypothesis import strategies as st
from test_features_windows import streams

from riskstream.batch import TxBatch
from riskstream.features import kernels as K
from riskstream.features.catalog import DENY_LIST_FEATURES, FeatureType
from riskstream.features.schema import CUSTOMER, DTYPES
from riskstream.features.stage import FeatureStage
from riskstream.rules import compile_ruleset

DAY = 86_400_000


def tx(tx_id: str, timestamp: int, amount: float = 10.0, **fields: object) -> dict:
    return {"tx_id": tx_id, "customer_id": "c", "amount": amount, "timestamp": timestamp, **fields}


# --- sequential semantics ---------------------------------------------------------------------


def test_two_transactions_of_a_customer_in_one_batch_see_each_other() -> None:
    rows = [
        {"tx_id": "a", "customer_id": "c", "card_id": "k", "amount": 10.0, "timestamp": T0},
        {"tx_id": "b", "customer_id": "c", "card_id": "k", "amount": 20.0, "timestamp": T0 + 5},
    ]
    frame = run(FeatureStage(CATALOG), rows)
    assert frame["customer.tx_count_10m"].tolist() == [0.0, 1.0]
    assert frame["customer.amount_sum_24h"].tolist() == [0.0, 10.0]
    assert frame["card.tx_count_1h"].tolist() == [0.0, 1.0]
    assert frame["customer.seconds_since_last"][1] == pytest.approx(0.005)


@settings(max_examples=60, deadline=None)
@given(streams(max_events=30), st.integers(1, 30))
def test_features_do_not_depend_on_batch_boundaries(case: tuple, size: int) -> None:
    rows, cuts = case
    whole = run(FeatureStage(CATALOG), rows)
    split = run(FeatureStage(CATALOG), rows, cuts)
    fixed = run(FeatureStage(CATALOG), rows, list(range(size, len(rows), size)))
    assert_frames_equal(whole, split)
    assert_frames_equal(whole, fixed)
    assert whole["replayed"].tolist() == split["replayed"].tolist()


# --- missing values and the catalog -----------------------------------------------------------


def test_missing_optional_fields_give_missing_values() -> None:
    rows = [
        {"tx_id": f"t{i}", "customer_id": "c", "amount": 3.0, "timestamp": T0 + i} for i in range(3)
    ]
    frame = run(FeatureStage(CATALOG), rows)
    for kind in ("card", "device", "merchant", "payee"):
        for name in K.__dict__[f"{kind.upper()}_FEATURES"]:
            assert np.isnan(frame[name]).all(), name
    for name in K.BOOL_FEATURES:
        assert not frame[name].any(), name
    for name in ("customer.distance_from_home_km", "customer.travel_speed_kmh"):
        assert np.isnan(frame[name]).all()
    assert frame["customer.tx_count_10m"].tolist() == [0.0, 1.0, 2.0]


def test_frame_has_every_catalog_name_with_its_type() -> None:
    frame = FeatureStage(CATALOG).compute(
        make_batch([{"tx_id": "t", "customer_id": "c", "amount": 1.0, "timestamp": T0}])
    )
    # every catalog name, plus tx_id first (the feedback learner keys its rows by it)
    assert list(frame) == ["tx_id", *(name for name in CATALOG if name != "tx_id")]
    assert frame["tx_id"].tolist() == ["t"]
    kinds = {FeatureType.NUMBER: "f", FeatureType.BOOL: "b", FeatureType.TIME: "i"}
    for name, spec in CATALOG.items():
        if spec.type is FeatureType.STRING:
            assert frame[name].dtype == object, name
        else:
            assert frame[name].dtype.kind == kinds[spec.type], name


def test_every_computed_feature_is_in_the_catalog_and_documented() -> None:
    computed = [
        *K.CUSTOMER_FEATURES,
        *K.CARD_FEATURES,
        *K.DEVICE_FEATURES,
        *K.MERCHANT_FEATURES,
        *K.PAYEE_FEATURES,
    ]
    for name in computed:
        spec = CATALOG[name]
        assert spec.entity == name.split(".")[0]
        assert spec.description and spec.definition, name
        expected = FeatureType.BOOL if name in K.BOOL_FEATURES else FeatureType.NUMBER
        assert spec.type is expected, name
    for name, spec in CATALOG.items():
        assert spec.description and spec.definition, name
        if name in DENY_LIST_FEATURES:  # set by the Engine from the deny list
            assert spec.type is FeatureType.BOOL and name not in computed, name
        elif spec.entity != "tx":
            assert name in computed, f"catalog name {name} is computed by no kernel"


def test_empty_batch() -> None:
    frame = FeatureStage(CATALOG).compute(TxBatch.empty())
    assert all(len(column) == 0 for column in frame.values())


def test_record_sizes() -> None:
    assert CUSTOMER.itemsize <= 512
    assert all(dtype.itemsize <= 600 for dtype in DTYPES.values())


def test_a_user_catalog_with_unknown_names_gets_missing_values() -> None:
    from riskstream.features.catalog import FeatureCatalog, FeatureSpec

    catalog = FeatureCatalog(
        [
            FeatureSpec("amount", FeatureType.NUMBER, "tx"),
            FeatureSpec("customer.tx_count_1h", FeatureType.NUMBER, "customer"),
            FeatureSpec("customer.future_feature", FeatureType.BOOL, "customer"),
        ]
    )
    frame = FeatureStage(catalog).compute(
        make_batch([{"tx_id": "t", "customer_id": "c", "amount": 1.0, "timestamp": T0}])
    )
    assert list(frame) == ["tx_id", "amount", "customer.tx_count_1h", "customer.future_feature"]
    assert frame["customer.future_feature"].tolist() == [False]


# --- calendar months: the marketing rule ------------------------------------------------------

MARKETING = """
version: 1
rules:
  - id: high_potential_depositor
    when: |
      type == "deposit"
      and customer.deposit_sum_month_0 > 20000
      and customer.deposit_sum_month_1 > 20000
      and customer.deposit_sum_month_2 > 20000
      and customer.deposit_sum_month_0 - amount <= 20000
    action: notify
"""


def _month_start(year: int, month: int) -> int:
    return int(np.datetime64(f"{year:04d}-{month:02d}-01", "ms").astype(np.int64))


def test_calendar_month_deposits_and_the_marketing_rule() -> None:
    rows = []
    amounts = {
        (2026, 1): [15_000.0, 6_000.0],
        (2026, 2): [21_000.0],
        (2026, 3): [10_000.0, 10_000.01],
    }
    for (year, month), parts in amounts.items():
        for j, amount in enumerate(parts):
            ts = _month_start(year, month) + (j + 1) * DAY - 1  # last ms of the day
            rows.append(
                {
                    "tx_id": f"d{year}{month}{j}",
                    "customer_id": "rich",
                    "amount": amount,
                    "timestamp": ts,
                    "type": "deposit",
                }
            )
    rows.append(
        {
            "tx_id": "buy",
            "customer_id": "rich",
            "amount": 5.0,
            "timestamp": _month_start(2026, 4) + 1,
            "type": "purchase",
        }
    )
    frame = run(FeatureStage(CATALOG), rows)
    m0 = frame["customer.deposit_sum_month_0"].tolist()
    m1 = frame["customer.deposit_sum_month_1"].tolist()
    m2 = frame["customer.deposit_sum_month_2"].tolist()
    # month_0 includes this deposit; months roll over on calendar boundaries (UTC)
    assert m0 == [15_000.0, 21_000.0, 21_000.0, 10_000.0, 20_000.01, 0.0]
    assert m1 == [0.0, 0.0, 21_000.0, 21_000.0, 21_000.0, 20_000.01]
    assert m2 == [0.0, 0.0, 0.0, 21_000.0, 21_000.0, 21_000.0]
    ruleset = compile_ruleset(MARKETING, CATALOG)
    hits = ruleset.evaluate(frame, len(rows)).hits[0]
    assert hits.tolist() == [False, False, False, False, True, False]


def test_marketing_rule_finds_the_simulated_big_depositors() -> None:
    simulate = pytest.importorskip("riskstream.simulate.core")
    sim_catalog = pytest.importorskip("riskstream.simulate.catalog")
    sim = simulate.generate(150, 100, seed=5)  # Jan 1 to Apr 10: three full months and a bit
    tx = sim.transactions
    n = len(tx)
    types = np.empty(n, dtype=object)
    types[:] = [sim_catalog.TYPES[t] for t in tx.type.tolist()]
    customers = np.empty(n, dtype=object)
    customers[:] = [f"cu{c:06d}" for c in tx.customer.tolist()]
    none = np.full(n, None, dtype=object)
    batch = TxBatch(
        offset=np.arange(n), tx_id=np.array([f"t{i}" for i in range(n)], dtype=object),
        customer_id=customers, amount=tx.amount / 100.0, currency=np.full(n, "EUR", dtype=object),
        timestamp=tx.ts.astype(np.int64), card_id=none, merchant_id=none, mcc=none,
        channel=none, country=none, device_id=none, ip=none, payee_id=none, type=types,
        lat=np.full(n, np.nan), lon=np.full(n, np.nan),
    )  # fmt: skip
    stage = FeatureStage(CATALOG)
    frames = [stage.compute(batch.take(slice(i, i + 4096))) for i in range(0, n, 4096)]
    frame = {name: np.concatenate([f[name] for f in frames]) for name in frames[0]}
    hits = compile_ruleset(MARKETING, CATALOG).evaluate(frame, n).hits[0]
    flagged = set(tx.customer[hits].tolist())
    assert flagged and flagged <= set(sim.world.big_depositors.tolist())


# --- places, habits, first time seen ----------------------------------------------------------


def test_impossible_travel_and_distance_from_home() -> None:
    paris, tokyo = (48.8566, 2.3522), (35.6762, 139.6503)
    hour = 3_600_000
    rows = [tx(f"p{i}", T0 + i * hour, card_id="k", lat=paris[0], lon=paris[1]) for i in range(4)]
    rows.append(tx("tokyo", T0 + 3 * hour + 600_000, card_id="k", lat=tokyo[0], lon=tokyo[1]))
    rows.append(tx("online", T0 + 4 * hour, card_id="k"))
    frame = run(FeatureStage(CATALOG), rows)
    distance = frame["card.distance_from_prev_km"]
    speed = frame["card.travel_speed_kmh"]
    assert np.isnan(distance[0]) and distance[1] == pytest.approx(0.0, abs=0.01)
    assert distance[4] == pytest.approx(9712, rel=0.01)  # Paris -> Tokyo
    assert speed[4] == pytest.approx(9712 * 6, rel=0.01)  # in 10 minutes
    assert np.isnan(speed[5])  # no location: missing, not an error
    assert frame["customer.travel_speed_kmh"][4] == pytest.approx(speed[4])
    home = frame["customer.distance_from_home_km"]
    assert np.isnan(home[:3]).all() and home[3] == pytest.approx(0.0, abs=0.01)
    assert home[4] == pytest.approx(9712, rel=0.01)


def test_first_time_seen_and_hour_habit() -> None:
    usual = {"device_id": "phone", "merchant_id": "grocer", "country": "FR"}
    rows = [tx(f"t{i}", T0 + i * DAY + 9 * 3_600_000, 20.0 + i, **usual) for i in range(10)]
    odd = {"device_id": "new-phone", "merchant_id": "casino", "country": "MT", "payee_id": "f"}
    rows.append(tx("odd", T0 + 10 * DAY + 3 * 3_600_000, 900.0, **odd))
    frame = run(FeatureStage(CATALOG), rows)
    for name in ("device", "country", "merchant"):
        flags = frame[f"customer.is_new_{name}"].tolist()
        assert flags == [True] + [False] * 9 + [True], name
    assert frame["customer.is_new_payee"].tolist() == [False] * 10 + [True]
    prob = frame["customer.hour_probability"]
    assert prob[9] > 0.25 and prob[10] < 0.05
    assert frame["customer.amount_zscore"][10] > 3
    assert frame["customer.amount_ratio"][10] > 20
    assert frame["customer.distinct_devices_30d"][10] == 1.0
    assert frame["customer.distinct_countries_7d"][10] == 1.0


def test_deposits_and_refunds_do_not_move_the_spend_habit() -> None:
    rows = [tx(f"t{i}", T0 + i * 1000, 10.0 + i % 2) for i in range(6)]
    rows.append(tx("salary", T0 + 10_000, 3000.0, type="deposit"))
    rows.append(tx("back", T0 + 10_500, 500.0, type="refund"))
    rows.append(tx("next", T0 + 11_000))
    frame = run(FeatureStage(CATALOG), rows)
    assert np.isnan(frame["customer.amount_zscore"][6:8]).all()  # not spends
    assert frame["customer.amount_mean"][8] == frame["customer.amount_mean"][6]
    assert frame["customer.amount_mean"][8] < 11
