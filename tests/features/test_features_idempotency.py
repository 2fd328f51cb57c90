"""Idempotency: re-applying any prefix of an applied stream changes no profile, in any store.

Also the multi-partition case: a merchant receives transactions from several partitions whose
consumers interleave them arbitrarily; after a crash each partition is replayed from its own
committed offset, again interleaved arbitrarily, and nothing counts twice.
"""

from __future__ import annotations

import numpy as np
import pytest
from feature_helpers import CATALOG, STORE_KINDS, T0, open_test_store, run, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_features_windows import streams

from riskstream.features.stage import FeatureStage


@st.composite
def replays(draw: st.DrawFn, max_events: int = 40) -> tuple[list, list, int, list]:
    rows, cuts = draw(streams(max_events=max_events))
    prefix = draw(st.integers(1, len(rows)))
    replay_cuts = draw(st.lists(st.integers(1, max(prefix - 1, 1)), max_size=3))
    return rows, cuts, prefix, replay_cuts


def check_replay(store_kind: str, request: object, case: tuple) -> None:
    rows, cuts, prefix, replay_cuts = case
    with open_test_store(store_kind, request) as store:
        stage = FeatureStage(CATALOG, store)
        run(stage, rows, cuts)
        before = snapshot(store)
        again = run(stage, rows[:prefix], replay_cuts)
        assert snapshot(store) == before
        assert again["replayed"].all()


@settings(max_examples=150, deadline=None)
@given(replays())
def test_replaying_a_prefix_changes_nothing_memory(case: tuple) -> None:
    check_replay("memory", None, case)


@pytest.mark.parametrize("store_kind", [k for k in STORE_KINDS if k != "memory"])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=replays(max_events=25))
def test_replaying_a_prefix_changes_nothing_redis(
    store_kind: str, request: pytest.FixtureRequest, case: tuple
) -> None:
    check_replay(store_kind, request, case)


@st.composite
def partitions(draw: st.DrawFn) -> tuple[list, list, list, list]:
    """Two in-order partitions feeding one merchant, device and payee; two interleavings."""
    sizes = draw(st.lists(st.integers(1, 25), min_size=2, max_size=3))
    parts = []
    for p, size in enumerate(sizes):
        gaps = draw(st.lists(st.integers(0, 20_000), min_size=size, max_size=size))
        ts = T0 + np.cumsum(gaps) + draw(st.integers(-30_000, 30_000))
        parts.append(
            [
                {
                    "tx_id": f"p{p}-{i}",
                    "customer_id": f"c{p}",  # partitioned by customer
                    "card_id": f"k{p}",
                    "merchant_id": "m",
                    "device_id": "d",
                    "payee_id": "pay",
                    "amount": 1.0 + i,
                    "timestamp": int(t),
                }
                for i, t in enumerate(ts)
            ]
        )

    def interleave() -> list:
        cursors = [0] * len(parts)
        order = []
        while any(c < len(part) for c, part in zip(cursors, parts, strict=True)):
            live = [p for p, part in enumerate(parts) if cursors[p] < len(part)]
            p = draw(st.sampled_from(live))
            order.append(parts[p][cursors[p]])
            cursors[p] += 1
        return order

    first = interleave()
    committed = [draw(st.integers(0, len(part))) for part in parts]
    # after the crash: each partition again from its committed offset, in a new interleaving
    parts_backup = parts
    parts = [part[c:] for part, c in zip(parts_backup, committed, strict=True)]
    second = interleave()
    cuts = draw(st.lists(st.integers(1, max(len(first) - 1, 1)), max_size=4))
    return first, second, cuts, committed


@settings(max_examples=200, deadline=None)
@given(partitions())
def test_partition_replays_from_committed_offsets(case: tuple) -> None:
    first, second, cuts, _ = case
    stage = FeatureStage(CATALOG)
    run(stage, first, cuts)
    before = snapshot(stage.store)
    again = run(stage, second, [len(second) // 2])
    assert snapshot(stage.store) == before
    assert again["replayed"].all()


def test_replayed_rows_are_reported_and_features_come_from_current_state() -> None:
    rows = [
        {"tx_id": f"t{i}", "customer_id": "c", "amount": 10.0, "timestamp": T0 + i * 1000}
        for i in range(5)
    ]
    stage = FeatureStage(CATALOG)
    run(stage, rows)
    mixed = [rows[3], {**rows[4], "tx_id": "new", "timestamp": T0 + 9_000}]
    frame = run(stage, mixed)
    assert frame["replayed"].tolist() == [True, False]
    # the replayed row sees the state that already holds all five transactions
    assert frame["customer.tx_count_10m"].tolist() == [5.0, 5.0]
