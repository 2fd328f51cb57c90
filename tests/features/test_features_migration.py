"""Profile schema migration: a record written by an older schema version is read and upgraded."""

from __future__ import annotations

import numpy as np
import pytest
import redis
from feature_helpers import CATALOG, T0, open_test_store, run

from riskstream.errors import StoreError
from riskstream.features import schema
from riskstream.features.stage import FeatureStage


def _v1_customer() -> bytes:
    """A customer record as schema version 1 wrote it, built field by field."""
    v1 = np.zeros(1, dtype=schema._CUSTOMER_V1)
    v1["version"] = 1
    v1["kind"] = schema.KIND_CODE["customer"]
    v1["flags"] = 1
    v1["n_tx"] = 7
    v1["first_ts"] = T0 - 86_400_000
    v1["last_ts"] = T0 - 3_600_000
    v1["floor"] = schema.NEVER
    v1["amount_mean"] = 42.0
    v1["log_mean"] = np.log1p(42.0)
    v1["log_var"] = 0.04
    v1["n_spend"] = 7
    hours = np.zeros(24, dtype=np.uint16)
    hours[9] = 1000  # more than a uint8 bin holds: v2 scales the histogram down
    hours[18] = 500
    v1["hours"] = hours
    v1["prev_loc_ts"] = schema.NEVER
    v1["w24h_n"][0, (T0 - 3_600_000) // 7_200_000 % 12] = 7
    return v1.tobytes()


def test_v1_record_is_read_and_upgraded() -> None:
    raw = _v1_customer()
    assert len(raw) == schema._CUSTOMER_V1.itemsize != schema.CUSTOMER.itemsize
    (rec,) = schema.decode_records("customer", [raw], "test")
    assert int(rec["version"]) == schema.SCHEMA_VERSION
    assert int(rec["n_tx"]) == 7 and float(rec["amount_mean"]) == 42.0
    assert rec["hours"][9] == 255 and rec["hours"][18] == 127
    assert int(rec["month"]) == schema.NO_MONTH  # new in v2: no deposits known
    assert rec["deposits"].tolist() == [0, 0, 0]


def test_mixed_versions_in_one_read() -> None:
    fresh = schema.fresh_records("customer", 1).tobytes()
    recs = schema.decode_records("customer", [fresh, _v1_customer(), None], "test")
    assert recs["version"].tolist() == [2, 2, 2]
    assert recs["n_tx"].tolist() == [0, 7, 0]


def test_unknown_version_and_foreign_records_are_refused() -> None:
    raw = bytearray(schema.fresh_records("payee", 1).tobytes())
    raw[0:2] = (99).to_bytes(2, "little")
    with pytest.raises(StoreError, match="version 99"):
        schema.decode_records("payee", [bytes(raw)], "test")
    card = schema.fresh_records("card", 1).tobytes()
    with pytest.raises(StoreError):
        schema.decode_records("payee", [card], "test")


@pytest.mark.parametrize("store_kind", ["redis", "cluster"])
def test_stored_v1_profile_feeds_features_and_is_rewritten_as_v2(
    store_kind: str, request: pytest.FixtureRequest
) -> None:
    with open_test_store(store_kind, request) as store:
        stage = FeatureStage(CATALOG, store)
        run(stage, [{"tx_id": "x", "customer_id": "other", "amount": 1.0, "timestamp": T0}])
        key = _key(store, "customer", "cust-v1")
        client = _client(store, key)
        client.set(key, _v1_customer())
        frame = run(
            stage, [{"tx_id": "y", "customer_id": "cust-v1", "amount": 50.0, "timestamp": T0}]
        )
        assert frame["customer.tx_count_total"][0] == 7.0
        assert frame["customer.tx_count_24h"][0] == 7.0
        assert frame["customer.amount_mean"][0] == 42.0
        stored = client.get(key)
        assert len(stored) == schema.CUSTOMER.itemsize
        assert int.from_bytes(stored[:2], "little") == schema.SCHEMA_VERSION
        client.close()


def _key(store, kind: str, entity_id: str) -> bytes:  # type: ignore[no-untyped-def]
    from riskstream.features.hashing import hash_strings

    h = int(hash_strings(np.array([entity_id], dtype=object))[0])
    bucket = (h >> 11) % store.buckets
    return f"{store.prefix}:{{{bucket}}}:{schema.KEY_LETTER[kind]}:{entity_id}".encode()


def _client(store, key: bytes) -> redis.Redis:  # type: ignore[no-untyped-def]
    if not store.cluster:
        return redis.Redis(host=store.host, port=store.port, db=store.db)
    from redis.cluster import RedisCluster

    return RedisCluster(host=store.host, port=store.port)
