"""Window counts and sums are exact at tile granularity: property tests against brute force.

The brute force keeps every applied transaction of an entity and counts those whose tile lies
in the window at the query time; which transactions are applied follows the idempotency rule
written out in Python (`feature_helpers.ReferenceEntity`). Runs against all three stores.
"""

from __future__ import annotations

import numpy as np
import pytest
from feature_helpers import (
    CATALOG,
    STORE_KINDS,
    T0,
    open_test_store,
    reference_windows,
    run,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream.features.stage import FeatureStage

# entity -> id field, and window -> (count feature, sum feature or None)
WINDOWED = {
    "customer": (
        "customer_id",
        {
            "10m": ("customer.tx_count_10m", None),
            "1h": ("customer.tx_count_1h", None),
            "24h": ("customer.tx_count_24h", "customer.amount_sum_24h"),
            "7d": ("customer.tx_count_7d", "customer.amount_sum_7d"),
            "30d": ("customer.tx_count_30d", "customer.amount_sum_30d"),
        },
    ),
    "card": (
        "card_id",
        {
            "10m": ("card.tx_count_10m", None),
            "1h": ("card.tx_count_1h", None),
            "24h": ("card.tx_count_24h", "card.amount_sum_24h"),
        },
    ),
    "device": (
        "device_id",
        {"1h": ("device.tx_count_1h", None), "24h": ("device.tx_count_24h", None)},
    ),
    "merchant": (
        "merchant_id",
        {
            "1h": ("merchant.tx_count_1h", None),
            "24h": ("merchant.tx_count_24h", "merchant.amount_sum_24h"),
        },
    ),
    "payee": (
        "payee_id",
        {
            "24h": ("payee.tx_count_24h", "payee.amount_sum_24h"),
            "7d": ("payee.tx_count_7d", "payee.amount_sum_7d"),
        },
    ),
}

_GAPS = st.one_of(
    st.integers(0, 3_000),  # bursts, ties included
    st.integers(3_000, 900_000),  # minutes: 10m and 1h tiles
    st.integers(900_000, 36 * 3_600_000),  # hours: 24h tiles
    st.integers(36 * 3_600_000, 9 * 86_400_000),  # days: 7d and 30d tiles
)


@st.composite
def streams(draw: st.DrawFn, max_events: int = 40, late: bool = True) -> tuple[list, list]:
    """Transactions of a few entities with bursts, ties, gaps of days and late arrivals."""
    n = draw(st.integers(1, max_events))
    ts = T0 + np.cumsum(draw(st.lists(_GAPS, min_size=n, max_size=n)))
    if late:
        jitter = draw(
            st.lists(st.sampled_from([0, 0, 0, -1, -60_000, -7_200_000]), min_size=n, max_size=n)
        )
        ts = ts + np.array(jitter)
    pick = lambda values: draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))  # noqa: E731
    customers = pick(["c1", "c2", "c3"])
    cards = pick([None, "k1", "k2"])
    devices = pick([None, "d1"])
    merchants = pick([None, "m1", "m2"])
    payees = pick([None, None, "p1"])
    cents = draw(st.lists(st.integers(0, 1_000_000), min_size=n, max_size=n))
    rows = [
        {
            "tx_id": f"tx{i:04d}",
            "customer_id": customers[i],
            "card_id": cards[i],
            "device_id": devices[i],
            "merchant_id": merchants[i],
            "payee_id": payees[i],
            "amount": cents[i] / 100.0,
            "timestamp": int(ts[i]),
        }
        for i in range(n)
    ]
    cuts = draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=4))
    return rows, cuts


def check_windows(rows: list, frame: dict) -> None:
    for kind, (field, windows) in WINDOWED.items():
        dup, expected = reference_windows(rows, kind, field, list(windows))
        if kind == "customer":
            assert frame["replayed"].tolist() == dup
        for window, (count_name, sum_name) in windows.items():
            for i, value in enumerate(expected[window]):
                if value is None:
                    assert np.isnan(frame[count_name][i]), (count_name, i)
                    continue
                count, cents = value
                assert frame[count_name][i] == count, (count_name, i, rows[i])
                if sum_name is not None:
                    assert frame[sum_name][i] == cents / 100.0, (sum_name, i)


@settings(max_examples=150, deadline=None)
@given(streams())
def test_windows_exact_memory(case: tuple[list, list]) -> None:
    rows, cuts = case
    frame = run(FeatureStage(CATALOG), rows, cuts)
    check_windows(rows, frame)


@pytest.mark.parametrize("store_kind", [k for k in STORE_KINDS if k != "memory"])
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=streams(max_events=25))
def test_windows_exact_redis(store_kind: str, request: pytest.FixtureRequest, case: tuple) -> None:
    rows, cuts = case
    with open_test_store(store_kind, request) as store:
        frame = run(FeatureStage(CATALOG, store), rows, cuts)
    check_windows(rows, frame)


def test_window_edges_by_hand() -> None:
    """The 1h window holds the current 10-minute tile and the 5 before it, no more."""
    tile = 600_000
    start = T0 + 5 * tile  # at a tile boundary
    rows = [
        {"tx_id": "a", "customer_id": "c", "amount": 1.0, "timestamp": start},
        {"tx_id": "b", "customer_id": "c", "amount": 2.0, "timestamp": start + 6 * tile - 1},
        {"tx_id": "c", "customer_id": "c", "amount": 4.0, "timestamp": start + 6 * tile},
    ]
    frame = run(FeatureStage(CATALOG), rows)
    # b is in the 6th tile counted from a's: a still inside; c starts a 7th tile: a falls out
    assert frame["customer.tx_count_1h"].tolist() == [0.0, 1.0, 1.0]
    assert frame["customer.tx_count_10m"].tolist() == [0.0, 0.0, 1.0]


def test_counts_do_not_wrap() -> None:
    """A burst far above a tile's capacity would saturate, never wrap to small numbers."""
    n = 3_000
    rows = [
        {"tx_id": f"t{i}", "customer_id": "c", "amount": 0.01, "timestamp": T0 + i}
        for i in range(n)
    ]
    frame = run(FeatureStage(CATALOG), rows, cuts=[1_000, 2_000])
    assert frame["customer.tx_count_10m"][-1] == n - 1
    assert frame["customer.amount_sum_24h"][-1] == pytest.approx((n - 1) * 0.01)
