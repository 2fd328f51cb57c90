"""Warm-up: the scoring path's numba kernels compiled before a worker joins its group.

numba compiles a kernel the first time it is called with new argument types and caches the
machine code on disk. A worker that starts on a cold cache (a fresh install or container image)
would compile on its first live batches, about 20 s on the 2-core development machine, while
Kafka has already given it partitions: their transactions wait that long. Even with a warm
cache the first batch takes about 1 s to load the kernels. `warm_up` runs synthetic traffic
(every field, both timestamp forms, a dead letter, a replay, a challenge with its alert and SMS
task, a label and an SMS reply) through a throwaway engine of the same configuration before
the worker subscribes, so the first real batch runs at full speed.

The throwaway engine uses the worker's own profile and emitted-output stores (their packing
kernels are part of the path) under a key prefix of its own, ``<key_prefix>-warm-up-<random>``,
and deletes every key under it afterwards; it has no model snapshot store, no deny list and
no alert sinks, and the model the worker scores with never sees the synthetic traffic. The
kernels themselves are shared by every engine of the process.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from riskstream.features.redis_store import RedisStore
from riskstream.stream.emitted import open_emitted_store
from riskstream.stream.records import iso_times
from riskstream.stream.worker import InRecord, Outputs, WorkerCore, WorkerEngine, WorkerSettings

__all__ = ["synthetic_lines", "warm_up"]

_T0 = 946_684_800_000  # 2000-01-01T00:00:00Z: far from any real traffic (throwaway anyway)
_MINUTE = 60_000


def synthetic_lines(n: int = 60) -> list[bytes]:
    """``n`` valid, time-ordered transactions of a few customers with every optional field;
    the last one is far above its customer's habits.

    >>> import orjson
    >>> lines = synthetic_lines(3)
    >>> [orjson.loads(x)["customer_id"] for x in lines]
    ['wu-c0', 'wu-c1', 'wu-c2']
    """
    lines = []
    for i in range(n):
        ts = _T0 + i * 7 * _MINUTE
        record: dict[str, Any] = {
            "tx_id": f"wu-{i}",
            "customer_id": f"wu-c{i % 5}",
            "amount": 20.0 + (i % 9) * 3.5,
            "currency": "EUR",
            "timestamp": ts if i % 2 else _iso(ts),
            "card_id": f"wu-k{i % 5}",
            "merchant_id": f"wu-m{i % 4}",
            "mcc": "5411",
            "channel": ("pos", "ecom", "atm")[i % 3],
            "country": ("DE", "FR")[i % 2],
            "lat": 48.1 + i * 0.01,
            "lon": 11.5 - i * 0.01,
            "device_id": f"wu-d{i % 3}",
            "ip": f"10.0.0.{i % 250}",
            "payee_id": f"wu-p{i % 2}",
            "type": ("purchase", "transfer")[i % 2],
        }
        lines.append(orjson.dumps(record))
    if n:
        last = orjson.loads(lines[-1])
        last.update(amount=48_000.0, country="BR", channel="ecom", device_id="wu-new")
        lines[-1] = orjson.dumps(last)
    return lines


def _iso(ms: int) -> str:
    return iso_times(np.array([ms]))[0]


def _throwaway_config(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``config`` for the throwaway engine: its profiles under ``prefix``, no model snapshot
    store, no deny list, no alert sinks."""
    out = copy.deepcopy(dict(config))
    out["features"] = {**(out.get("features") or {}), "key_prefix": prefix}
    model = out["model"] = dict(out.get("model") or {})
    model["snapshots"] = {**(model.get("snapshots") or {}), "store": None, "every": "1h"}
    out["alerts"] = {**(out.get("alerts") or {}), "deny_list": None, "sinks": []}
    if model.get("kind", "online") == "online":
        _ready_soon(model)
    return out


def _ready_soon(model: dict[str, Any]) -> None:
    """The online model's parts past their cold start within the synthetic traffic (a worker
    restored from a snapshot scores with all of them from its first batch): the anomaly
    model's feature limits learnt, the calibration counting, the learner refitted inline."""
    anomaly = model["anomaly"] = dict(model.get("anomaly") or {})
    if "river" not in anomaly:
        anomaly["warmup_rows"] = 10
    model["calibration"] = {**(model.get("calibration") or {}), "min_count": 10}
    learner = model["learner"] = dict(model.get("learner") or {})
    if learner.get("kind", "gbdt") == "gbdt" and "river" not in learner:
        learner.update(
            refit_every="1h", refit_delay="0h", negative_after="1h", min_positives=1, n_trees=3
        )


def _records(lines: list[bytes], first: int) -> list[InRecord]:
    return [InRecord("warm-up", 0, first + k, b"k", v, 0) for k, v in enumerate(lines)]


def warm_up(config: Mapping[str, Any]) -> float:
    """Run synthetic traffic through a throwaway engine of ``config`` and delete what it
    stored; returns the seconds it took (mostly compiling, or loading compiled kernels from
    numba's cache)."""
    started = time.perf_counter()
    settings = WorkerSettings.from_config(config)
    features = config.get("features") or {}
    prefix = f"{features.get('key_prefix', 'rs')}-warm-up-{uuid.uuid4().hex[:12]}"
    engine = WorkerEngine(_throwaway_config(config, prefix))
    emitted_url = settings.emitted_store or str(features.get("store") or "memory://")
    core = WorkerCore(engine, settings, open_emitted_store(emitted_url, prefix, prefix, 600))
    try:
        _traffic(core)
    finally:
        core.trim_many({("warm-up", 0): 1 << 62})  # an emptied hash is deleted
        core.emitted.close()
        store = engine.features.store
        if isinstance(store, RedisStore):
            store.purge(layout=True)
        engine.features.close()
    return time.perf_counter() - started


def _traffic(core: WorkerCore) -> None:
    lines = synthetic_lines()
    core.process(_records(lines[:1], 0))  # one record: the thin-traffic shapes
    core.process(_records([*lines[1:20], b"{not json", b'{"tx_id": 5}'], 1))  # dead letters
    core.process(_records(lines[1:8], 1))  # a replay: stored outputs re-emitted
    label = {"tx_id": "wu-3", "is_fraud": True, "label_time": _T0 + 30 * _MINUTE}
    reply = {"task_id": "sms-wu-5", "answer": "no", "at": _iso(_T0 + 210 * _MINUTE)}
    core.add_labels(_records([orjson.dumps(label)], 0), Outputs())
    core.add_sms_replies(_records([orjson.dumps(reply)], 0), Outputs())
    core.process(_records(lines[20:], 20))  # labels due, refits, the last row challenges
