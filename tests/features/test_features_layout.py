"""The Redis key layout (hash-tag buckets): recorded with the profiles, reused when a store is
opened again without naming it, refused when named differently."""

from __future__ import annotations

import uuid

import pytest
import redis
from feature_helpers import CATALOG, T0, run

from riskstream.errors import ConfigError
from riskstream.features.redis_store import RedisStore
from riskstream.features.stage import FeatureStage


def _forget(store: RedisStore) -> None:
    """Delete the store's profiles and its layout record."""
    store.purge()
    client = redis.Redis(host=store.host, port=store.port, db=store.db)
    client.delete(f"{store.prefix}:{{0}}:meta")
    client.close()
    store.close()


ROWS = [
    {
        "tx_id": f"t{i}",
        "customer_id": f"c{i % 5}",
        "merchant_id": "m",
        "amount": 10.0 + i,
        "timestamp": T0 + i * 60_000,
    }
    for i in range(20)
]


def test_a_store_opened_without_buckets_keeps_the_recorded_layout(redis_url: str) -> None:
    prefix = "t" + uuid.uuid4().hex[:12]
    first = RedisStore(redis_url, prefix=prefix, concurrency="single_writer", cache_entries=0)
    assert first.buckets == 1
    run(FeatureStage(CATALOG, first), ROWS)
    before = first.get("customer", "c3")
    first.close()
    # the worker's optimistic store (16 buckets when new) finds the existing profiles
    again = RedisStore(redis_url, prefix=prefix, concurrency="optimistic")
    try:
        assert again.buckets == 1
        got = again.get("customer", "c3")
        assert before is not None and got is not None
        assert got.tobytes() == before.tobytes()
        with pytest.raises(ConfigError, match="buckets=1"):
            RedisStore(redis_url, prefix=prefix, buckets=4)
    finally:
        _forget(again)


def test_optimistic_stores_on_one_redis_use_a_connection_per_bucket(redis_url: str) -> None:
    prefix = "t" + uuid.uuid4().hex[:12]
    store = RedisStore(redis_url, prefix=prefix, concurrency="optimistic")
    try:
        assert store.buckets == 16 and len(store._conns) == 16
        frame = run(FeatureStage(CATALOG, store), ROWS)
        assert frame["customer.tx_count_24h"][-1] > 0
    finally:
        _forget(store)
