"""The worker's profile store (Redis, optimistic concurrency): transactions per batch layout."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from stream_helpers import make_transactions

from riskstream.config import load_config
from riskstream.features.hashing import intern
from riskstream.stream.emitted import MemoryEmittedStore
from riskstream.stream.worker import InRecord, WorkerCore, WorkerEngine, WorkerSettings


def _core(redis_url: str, prefix: str, per_connection: int) -> WorkerCore:
    config = load_config()
    config["features"].update(store=redis_url, key_prefix=prefix)
    core = WorkerCore(WorkerEngine(config), WorkerSettings(), MemoryEmittedStore())
    store = core.engine.features.store
    assert store.optimistic and store.buckets == 16
    store.WATCH_KEYS_PER_CONNECTION = per_connection
    return core


def _records(lines: list[bytes]) -> list[InRecord]:
    return [InRecord("transactions", i % 3, i, None, v, 0) for i, v in enumerate(lines)]


@pytest.mark.parametrize("per_connection", [1, 4, 150])
def test_racing_workers_count_every_transaction_once_whatever_the_layout(
    redis_url: str, per_connection: int
) -> None:
    # 16 transactions (one per bucket) with per_connection 1, 4 with 4, 1 with 150
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    a = _core(redis_url, prefix, per_connection)
    b = _core(redis_url, prefix, per_connection)
    lines = make_transactions(120, seed=1, customers=8)
    theirs, mine = lines[:60], lines[60:]  # B's transactions are the earlier ones
    store = a.engine.features.store
    write = store.write
    raced: list[bool] = []

    def write_after_b(*args: object, **kwargs: object) -> None:
        if not raced:  # between A's read and A's write, B updates the same cards
            raced.append(True)
            b.process(_records(theirs))
        write(*args, **kwargs)  # type: ignore[arg-type]

    store.write = write_after_b  # type: ignore[method-assign]
    a.process(_records(mine))
    assert a.engine.features.stats["conflicts"] >= 1
    cards = sum(int(store.get("card", f"card{i}")["n_tx"]) for i in range(7))
    customers = sum(int(store.get("customer", f"cu{i:04d}")["n_tx"]) for i in range(8))
    assert cards == customers == 120
    a.engine.features.store.purge()


def test_a_small_batch_is_one_transaction_on_one_connection(redis_url: str) -> None:
    core = _core(redis_url, f"t-{uuid.uuid4().hex[:8]}", 150)
    store = core.engine.features.store
    ids = np.array([f"c{i}" for i in range(40)], dtype=object)
    small = store.read({"customer": intern(ids[:20])})
    large = store.read({"customer": intern(ids)})
    try:
        assert len(small.token.conn_of_unit) == 1 and set(small.token.groups) == {0}
        assert len(large.token.conn_of_unit) == 1  # 40 keys: still one
        store.WATCH_KEYS_PER_CONNECTION = 10
        spread = store.read({"customer": intern(ids)})
        assert len(spread.token.conn_of_unit) == 4 and len(spread.token.groups) <= 4
        store.release(spread)
    finally:
        store.release(small)
        store.release(large)
