"""Stores under failure and contention: a Redis that goes away, a write cut in half, a kernel
that fails, and two writers racing for the same merchant profile."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from feature_helpers import CATALOG, T0, make_batch, open_test_store, run, snapshot

from riskstream.errors import StoreError
from riskstream.features import kernels
from riskstream.features import stage as stage_module
from riskstream.features.redis_store import RedisStore
from riskstream.features.stage import FeatureStage
from riskstream.stream.localservices import RedisCluster, RedisServer


def _rows(start: int, n: int, merchant: str = "m") -> list[dict]:
    return [
        {
            "tx_id": f"t{start + i}",
            "customer_id": f"c{(start + i) % 7}",
            "card_id": f"k{(start + i) % 7}",
            "merchant_id": merchant,
            "device_id": f"d{(start + i) % 3}",
            "amount": 5.0 + i,
            "timestamp": T0 + (start + i) * 1_000,
        }
        for i in range(n)
    ]


@pytest.fixture
def own_redis(redis_url: str, tmp_path) -> Iterator[RedisServer]:  # type: ignore[no-untyped-def]
    """A server of this test's own, so it can be stopped (redis_url: the service can start)."""
    server = RedisServer(base_dir=tmp_path).start()
    yield server
    server.stop()


@pytest.mark.parametrize("cache", [0, 1000])
def test_redis_going_away_mid_run_is_a_clear_store_error(
    own_redis: RedisServer, cache: int
) -> None:
    store = RedisStore(own_redis.url, socket_timeout=2.0, cache_entries=cache)
    stage = FeatureStage(CATALOG, store)
    run(stage, _rows(0, 20))
    own_redis.stop()
    started = time.monotonic()
    # with the cache every profile of the batch is known: the failure shows at the write
    phase = "write" if cache else "read"
    with pytest.raises(StoreError, match=f"connection lost during {phase}") as info:
        stage.compute(make_batch(_rows(20, 20)))
    assert own_redis.url.split("//")[1].split("/")[0] in str(info.value)
    assert time.monotonic() - started < 10
    assert stage.stats["rows"] == 20  # the failed batch is not counted as done


def test_write_behind_failure_surfaces_at_the_next_batch_or_flush(own_redis: RedisServer) -> None:
    store = RedisStore(own_redis.url, socket_timeout=2.0, write_behind=True)
    stage = FeatureStage(CATALOG, store)
    run(stage, _rows(0, 20))
    stage.flush()
    assert store.stats.writes == 1 and store.stats.round_trips == 2
    own_redis.stop()
    # every profile of this batch is cached: no read; the write goes out unacknowledged (or
    # fails at once if the socket already knows the server is gone)
    try:
        stage.compute(make_batch(_rows(20, 20)))
    except StoreError as exc:
        assert "connection lost during write" in str(exc)
    else:
        with pytest.raises(StoreError, match="previous batch"):
            stage.flush()
    with pytest.raises(StoreError):
        stage.compute(make_batch(_rows(40, 20)))


def test_a_write_cut_in_the_middle_applies_nothing(own_redis: RedisServer) -> None:
    store = RedisStore(own_redis.url)
    stage = FeatureStage(CATALOG, store)
    run(stage, _rows(0, 30))
    before = snapshot(store)
    conn = store._conns[0]
    original = conn.send_packed_command

    def half_then_crash(command, check_health=True):  # type: ignore[no-untyped-def]
        payload = b"".join(command)
        if b"MULTI" in payload[:64]:
            conn._sock.sendall(payload[: len(payload) // 2])
            conn.disconnect()  # the worker dies mid-write
            raise OSError("simulated crash in the middle of the write")
        return original(command, check_health)

    conn.send_packed_command = half_then_crash  # type: ignore[method-assign]
    with pytest.raises(StoreError, match="entirely or not at all"):
        stage.compute(make_batch(_rows(30, 30)))
    conn.send_packed_command = original  # type: ignore[method-assign]
    time.sleep(0.05)
    assert snapshot(store) == before  # MULTI without EXEC: Redis applied nothing
    # the worker restarts and replays the batch: same state as without the failure
    again = run(stage, _rows(30, 30))
    assert not again["replayed"].any()
    reference = FeatureStage(CATALOG)
    run(reference, _rows(0, 30))
    expected = run(reference, _rows(30, 30))
    for name in expected:
        if expected[name].dtype.kind == "f":
            assert np.array_equal(again[name], expected[name], equal_nan=True), name


@pytest.mark.parametrize("store_kind", ["memory", "redis", "cluster"])
def test_a_failure_during_computation_writes_nothing(
    store_kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_test_store(store_kind, request) as store:
        stage = FeatureStage(CATALOG, store)
        run(stage, _rows(0, 10))
        before = snapshot(store)

        def broken(*args: object) -> None:
            raise RuntimeError("kernel failed")

        original = kernels.merchant_kernel
        monkeypatch.setattr(stage_module.K, "merchant_kernel", broken)
        with pytest.raises(RuntimeError):
            stage.compute(make_batch(_rows(10, 10)))
        assert snapshot(store) == before
        monkeypatch.setattr(stage_module.K, "merchant_kernel", original)
        frame = run(stage, _rows(10, 10))
        assert not frame["replayed"].any()


def test_a_dead_cluster_node_is_a_clear_store_error(redis_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with RedisCluster(base_dir=tmp_path) as cluster:
        host, port = cluster.nodes[0]
        store = RedisStore(f"redis+cluster://{host}:{port}", buckets=8, socket_timeout=2.0)
        stage = FeatureStage(CATALOG, store)
        run(stage, _rows(0, 40))
        cluster._nodes[1].stop()
        with pytest.raises(StoreError, match="profile store redis\\+cluster://"):
            stage.compute(make_batch(_rows(40, 40)))
        store.close()


@pytest.mark.parametrize("store_kind", ["redis", "cluster"])
def test_two_writers_racing_lose_no_update(store_kind: str, request: pytest.FixtureRequest) -> None:
    with open_test_store(store_kind, request) as base:
        url = base.url
        prefix = base.prefix
        buckets = base.buckets
        a_store = RedisStore(url, prefix=prefix, buckets=buckets, concurrency="optimistic")
        b_store = RedisStore(url, prefix=prefix, buckets=buckets, concurrency="optimistic")
        a = FeatureStage(CATALOG, a_store)
        b = FeatureStage(CATALOG, b_store)
        write = a_store.write
        raced = []

        def write_after_b(*args: object, **kwargs: object) -> None:
            if not raced:  # between A's read and A's write, B updates the same merchant
                raced.append(True)
                run(b, _rows(100, 5))
            write(*args, **kwargs)  # type: ignore[arg-type]

        a_store.write = write_after_b  # type: ignore[method-assign]
        run(a, _rows(0, 5))
        assert a.stats["conflicts"] >= 1
        merchant = a_store.get("merchant", "m")
        assert merchant is not None and int(merchant["n_tx"]) == 10
        a_store.close()
        b_store.close()


@pytest.mark.parametrize("store_kind", ["redis", "cluster"])
def test_a_retry_does_not_conflict_on_profiles_it_already_committed(
    store_kind: str, request: pytest.FixtureRequest
) -> None:
    """A's batch conflicts on a hot merchant; the profiles it committed meanwhile belong to it.

    B keeps changing merchant ``m`` while A writes, until part of A's batch is committed; then
    B changes one of A's customers that A already committed. A's next attempt must not
    conflict on that customer (it neither reads nor watches it again), and every count is
    exact afterwards.
    """
    with open_test_store(store_kind, request) as base:
        buckets = 16 if store_kind == "redis" else base.buckets  # the worker's layout
        stores = [  # A, B, and a reader (A's own store must not read while A watches)
            RedisStore(
                base.url, prefix=f"{base.prefix}x", buckets=buckets, concurrency="optimistic"
            )
            for _ in range(3)
        ]
        a, b = (FeatureStage(CATALOG, s) for s in stores[:2])
        customers = [f"c{i}" for i in range(7)]
        write, outcomes, touched_committed = stores[0].write, [], []

        def committed_by_a() -> list[str]:
            records = {c: stores[2].get("customer", c) for c in customers}
            return [c for c, r in records.items() if r is not None and int(r["n_tx"]) > 0]

        def racing_write(*args: object, **kwargs: object) -> None:
            done = committed_by_a()
            if done and not touched_committed:  # part of A committed: B takes one of those
                touched_committed.append(len(outcomes))
                rows = [
                    {**row, "merchant_id": "mb", "device_id": "db", "card_id": "kb"}
                    for row in _rows(200, 1)
                ]
                rows[0]["customer_id"] = done[0]
                run(b, rows)
            elif not touched_committed and len(outcomes) < 10:  # B keeps changing the merchant
                k = len(outcomes)  # only the merchant is shared with A
                only_m = {"customer_id": f"b{k}", "card_id": f"kb{k}", "device_id": f"db{k}"}
                run(b, [{**row, **only_m} for row in _rows(100 + 10 * k, 1)])
            try:
                write(*args, **kwargs)  # type: ignore[arg-type]
            except Exception as exc:
                outcomes.append(type(exc).__name__)
                raise
            outcomes.append("ok")

        stores[0].write = racing_write  # type: ignore[method-assign]
        run(a, _rows(0, 14))
        assert touched_committed, f"no write of A committed part of the batch: {outcomes}"
        assert outcomes[touched_committed[0]] == "ok", outcomes
        merchant = stores[2].get("merchant", "m")
        b_on_m = touched_committed[0]  # B's one transaction on m before each of A's writes
        assert merchant is not None and int(merchant["n_tx"]) == 14 + b_on_m
        counts = {c: int(stores[2].get("customer", c)["n_tx"]) for c in customers}
        assert sum(counts.values()) == 14 + 1  # A's 14 and B's one on A's committed customer
        for s in stores:
            s.close()
