"""Transaction references (tx id -> merchant and device) as labels see them, on every store.

A label carries only a tx id and its time; `ProfileStore.find_tx_refs` must name the merchant
and device of every transaction labelled within the horizon, whatever the store's layout (the
Redis stores keep a hash per bucket and week), across weeks, with ids of any
characters, after a batch was replayed, and must not find what is unknown.
"""

from __future__ import annotations

import numpy as np
import pytest
import redis
from feature_helpers import CATALOG, T0, open_test_store, run

from riskstream.features.hashing import intern
from riskstream.features.stage import FeatureStage

DAY = 86_400_000
HORIZON = 30 * DAY


def _rows(n: int) -> list[dict]:
    """``n`` transactions over ~3 weeks; merchant, device, both or neither; odd ids."""
    rng = np.random.default_rng(11)
    rows = []
    for i in range(n):
        shape = i % 4
        rows.append(
            {
                "tx_id": f"tx-{i}" if i % 5 else f"tx\x1f{i}:é{{x}}",
                "customer_id": f"c{i % 37}",
                "merchant_id": f"mé\x1f{i % 23}" if shape in (0, 1) else None,
                "device_id": f"d:{i % 11}\x1e" if shape in (0, 2) else None,
                "amount": float(rng.uniform(1, 100)),
                "timestamp": T0 + i * (21 * DAY // n),
            }
        )
    return rows


def _lookup(store, tx_ids: list[str], label_time: int) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    tx = intern(np.array(tx_ids, dtype=object))
    merchants, devices = store.find_tx_refs(tx, np.full(len(tx_ids), label_time, dtype=np.int64))
    return merchants.tolist(), devices.tolist()


@pytest.mark.parametrize(
    "store_kind", ["memory", "redis", "redis-writebehind", "cluster", "cluster-single"]
)
def test_every_labelled_transaction_finds_its_merchant_and_device(
    store_kind: str, request: pytest.FixtureRequest
) -> None:
    rows = _rows(700)
    with open_test_store(store_kind, request) as store:
        store.label_horizon_ms = HORIZON
        stage = FeatureStage(CATALOG, store)
        run(stage, rows, cuts=range(0, len(rows), 97))
        run(stage, rows[100:300], cuts=[150])  # replayed batches: references written again
        label_time = rows[-1]["timestamp"] + DAY
        merchants, devices = _lookup(
            store, [r["tx_id"] for r in rows] + ["unknown", "tx-1 "], label_time
        )
    expected_m = [r["merchant_id"] for r in rows]
    expected_d = [r["device_id"] for r in rows]
    # neither merchant nor device: no reference is kept, nothing to find
    for i, r in enumerate(rows):
        if r["merchant_id"] is None and r["device_id"] is None:
            expected_m[i] = expected_d[i] = None
    assert merchants == [*expected_m, None, None]
    assert devices == [*expected_d, None, None]


@pytest.mark.parametrize("store_kind", ["redis", "cluster"])
def test_a_label_later_than_the_horizon_finds_nothing(
    store_kind: str, request: pytest.FixtureRequest
) -> None:
    rows = _rows(40)
    with open_test_store(store_kind, request) as store:
        store.label_horizon_ms = HORIZON
        stage = FeatureStage(CATALOG, store)
        run(stage, rows)
        late = rows[0]["timestamp"] + HORIZON + 8 * DAY  # beyond the horizon's last week
        merchants, _ = _lookup(store, [rows[0]["tx_id"]], late)
        in_time, _ = _lookup(store, [rows[0]["tx_id"]], rows[0]["timestamp"] + HORIZON)
    assert merchants == [None]
    assert in_time == [rows[0]["merchant_id"]]


@pytest.mark.parametrize("store_kind", ["redis", "cluster"])
def test_reference_keys_expire_after_the_horizon(
    store_kind: str, request: pytest.FixtureRequest
) -> None:
    rows = _rows(60)
    with open_test_store(store_kind, request) as store:
        store.label_horizon_ms = HORIZON
        run(FeatureStage(CATALOG, store), rows)
        ttls = {}
        for conn in store._conns:
            client = redis.Redis(host=conn.host, port=conn.port)
            for key in client.scan_iter(match=f"{store.prefix}:*:t:*", count=1000):
                ttls[key] = client.pttl(key)
            client.close()
    assert ttls  # the references are there, each in a key that expires
    assert all(HORIZON - 60_000 < ttl <= HORIZON for ttl in ttls.values()), ttls
