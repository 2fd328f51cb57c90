"""Snapshots: byte format round trip, content-hash ids, stores, versions from other code."""

from __future__ import annotations

import hashlib

import numpy as np
import orjson
import pytest
from model_helpers import CATALOG, drive, labels_for, make_stream, small, take

from riskstream.errors import ConfigError, ModelError
from riskstream.models import build_model_stage, load_snapshot
from riskstream.models.snapshots import (
    MAGIC,
    DirectorySnapshotStore,
    MemorySnapshotStore,
    RedisSnapshotStore,
    decode_snapshot,
    encode_snapshot,
    open_snapshot_store,
    read_snapshot,
    snapshot_id,
)

STATE = {
    "format": "demo",
    "version": 1,
    "floats": np.array([[0.5, np.nan], [np.inf, -0.0]]),
    "ints": np.arange(5, dtype=">i8"),  # big-endian in, little-endian stored
    "flags": np.array([True, False]),
    "names": np.array(["amount", "hour"]),
    "nested": {"limit": float("nan"), "items": [1, "two", None, 3.25], "empty": np.zeros((0, 3))},
    "bytes": np.frombuffer(b"\x00\x01\xff", dtype=np.uint8),
}


def test_round_trip_keeps_values_dtypes_and_shapes() -> None:
    data = encode_snapshot("demo", STATE)
    snap = decode_snapshot(data)
    assert snap.kind == "demo" and snap.written_by
    state = snap.state
    assert np.array_equal(state["floats"], STATE["floats"], equal_nan=True)
    assert np.signbit(state["floats"][1, 1])
    assert state["ints"].dtype == np.dtype("<i8") and state["ints"].tolist() == [0, 1, 2, 3, 4]
    assert state["flags"].dtype == bool and state["names"].tolist() == ["amount", "hour"]
    assert np.isnan(state["nested"]["limit"]) and state["nested"]["items"] == [1, "two", None, 3.25]
    assert state["nested"]["empty"].shape == (0, 3)
    assert state["bytes"].tobytes() == b"\x00\x01\xff"


def test_the_id_is_the_hash_of_the_bytes_and_equal_states_give_equal_bytes() -> None:
    data = encode_snapshot("demo", STATE)
    assert snapshot_id(data) == hashlib.sha256(data).hexdigest()[:20]
    reordered = dict(reversed(list(STATE.items())))
    assert encode_snapshot("demo", reordered) == data
    changed = {**STATE, "version": 2}
    assert snapshot_id(encode_snapshot("demo", changed)) != snapshot_id(data)


def test_damaged_or_substituted_bytes_are_refused() -> None:
    data = encode_snapshot("demo", STATE)
    sid = snapshot_id(data)
    flipped = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(ModelError, match="hash to"):
        decode_snapshot(flipped, expected_id=sid)
    with pytest.raises(ModelError, match="bad magic"):
        decode_snapshot(b"hello world")
    with pytest.raises(ModelError, match="not a snapshot id"):
        MemorySnapshotStore().get("../../etc/passwd")


def with_container(data: bytes, version: object, written_by: str) -> bytes:
    """The same snapshot rewritten as if another riskstream had written it."""
    start = len(MAGIC) + 4
    length = int.from_bytes(data[len(MAGIC) : start], "little")
    header = orjson.loads(data[start : start + length])
    header["container"] = version
    header["riskstream"] = written_by
    new = orjson.dumps(header, option=orjson.OPT_SORT_KEYS)
    return MAGIC + len(new).to_bytes(4, "little") + new + data[start + length :]


def test_a_snapshot_from_another_code_version_fails_clearly() -> None:
    data = encode_snapshot("demo", STATE)
    with pytest.raises(ModelError, match=r"container version 2, written by riskstream 9\.0") as e:
        decode_snapshot(with_container(data, 2, "9.0.0"))
    assert "upgrade riskstream" in str(e.value)
    with pytest.raises(ModelError, match="rebuild it from the stream"):
        decode_snapshot(with_container(data, 0, "0.0.1"))


@pytest.fixture(scope="module")
def stage_store():
    """A small stage run over two days, its snapshots in memory."""
    frame, fraud = make_stream(3000, seed=5, days=2.0)
    stage = build_model_stage(
        {"model": small(snapshots={"every": "1h", "store": {"memory": True}})}, CATALOG
    )
    scores, ids = drive(stage, frame, labels_for(frame, fraud, seed=5), cut_at_boundaries=True)
    return stage.store, frame, scores, ids


def test_an_old_model_state_inside_a_snapshot_fails_clearly(stage_store) -> None:
    store, _, _, ids = stage_store
    anomaly_id = ids[-1].split("+")[0].split(":")[1]
    snap = read_snapshot(store, anomaly_id)
    old_state = {**snap.state, "anomaly": {**snap.state["anomaly"], "version": 0}}
    old = encode_snapshot(snap.kind, old_state)
    store.put(snapshot_id(old), old)
    with pytest.raises(
        ModelError, match=r"version 1: 'riskstream\.models\.anomaly\.AnomalyScorer'"
    ):
        load_snapshot(store, f"hst:{snapshot_id(old)}")
    hst_old = {
        **snap.state,
        "anomaly": {
            **snap.state["anomaly"],
            "model": {**snap.state["anomaly"]["model"], "version": 0},
        },
    }
    old = encode_snapshot(snap.kind, hst_old)
    store.put(snapshot_id(old), old)
    with pytest.raises(ModelError, match="HalfSpaceTrees state of version 1"):
        load_snapshot(store, f"hst:{snapshot_id(old)}")


def test_load_snapshot_errors(stage_store) -> None:
    store, _, _, ids = stage_store
    anomaly_part, feedback_part = ids[-1].split("+")
    with pytest.raises(ModelError, match="not in the store"):
        load_snapshot(store, "hst:" + "0" * 20)
    with pytest.raises(ModelError, match="not an anomaly model"):
        load_snapshot(store, "hst:" + feedback_part.split(":")[1])
    with pytest.raises(ModelError, match="names several snapshots"):
        load_snapshot(store, ids[-1] + "," + ids[0])
    assert load_snapshot(store, anomaly_part).learner is None


def test_directory_store(tmp_path, stage_store) -> None:
    memory, frame, scores, ids = stage_store
    directory = open_snapshot_store({"dir": str(tmp_path / "snaps")})
    assert isinstance(directory, DirectorySnapshotStore)
    for part in ids[-1].split("+"):
        sid = part.split(":")[1]
        directory.put(sid, memory.get(sid))
        directory.put(sid, memory.get(sid))  # idempotent
        assert sid in directory and (tmp_path / "snaps" / f"{sid}.rsnap").exists()
    replayed = load_snapshot(directory, ids[-1]).score(take(frame, slice(-5, None)))
    assert np.array_equal(replayed.risk, scores.risk[-5:])
    assert not list((tmp_path / "snaps").glob("*.tmp*"))


def test_redis_store(redis_url, stage_store) -> None:
    memory, frame, scores, ids = stage_store
    store = open_snapshot_store({"redis": redis_url, "prefix": "test-models:"})
    assert isinstance(store, RedisSnapshotStore)
    for part in ids[-1].split("+"):
        sid = part.split(":")[1]
        store.put(sid, memory.get(sid))
        assert sid in store
    replayed = load_snapshot(store, ids[-1]).score(take(frame, slice(-5, None)))
    assert np.array_equal(replayed.risk, scores.risk[-5:])
    with pytest.raises(ModelError, match="not in Redis"):
        store.get("f" * 20)


def test_store_config_errors() -> None:
    assert open_snapshot_store(None) is None
    with pytest.raises(ConfigError, match=r"snapshots\.store"):
        open_snapshot_store({"s3": "bucket"})
