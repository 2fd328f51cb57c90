"""The worker's warm-up: after it, live traffic finds every numba kernel ready in the process."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from riskstream.config import load_config
from riskstream.features.redis_store import RedisStore
from riskstream.simulate import simulate
from riskstream.stream.warmup import warm_up

# Run in a fresh process (the test process has loaded most kernels already): optionally warm
# up, then score simulated traffic and its labels in batches of the sizes a worker sees, and
# print how many kernel versions (compiled, or loaded from numba's disk cache) the traffic
# itself had to add. Those are what a worker's first live batches would wait for.
_SCRIPT = """
import gc, sys
from pathlib import Path
import numba
from riskstream.config import load_config
from riskstream.stream.emitted import open_emitted_store
from riskstream.stream.warmup import warm_up
from riskstream.stream.worker import InRecord, Outputs, WorkerCore, WorkerEngine, WorkerSettings

def versions():
    found = [o for o in gc.get_objects() if isinstance(o, numba.core.dispatcher.Dispatcher)]
    return {id(o): (o.py_func.__qualname__, len(o.overloads)) for o in found}

config = load_config()
config["features"].update(store=sys.argv[3], key_prefix=sys.argv[4])
if sys.argv[2] == "warm":
    warm_up(config)
before = versions()
emitted = open_emitted_store(sys.argv[3], sys.argv[4])
core = WorkerCore(WorkerEngine(config), WorkerSettings(), emitted)
sim = Path(sys.argv[1])
lines = (sim / "transactions.jsonl").read_bytes().splitlines()
labels = (sim / "labels.jsonl").read_bytes().splitlines()
sizes, position, k = [1, 3, 17, 100, 500], 0, 0
while position < len(lines):
    n = sizes[k % len(sizes)]
    batch = lines[position : position + n]
    core.add_labels([InRecord("labels", 0, k, None, labels[k % len(labels)], 0)], Outputs())
    core.process([InRecord("tx", 0, position + j, b"k", v, 0) for j, v in enumerate(batch)])
    position, k = position + n, k + 1
added = [
    name for key, (name, n) in versions().items() if n > before.get(key, (name, 0))[1]
]
print(len(added), sorted(added))
"""


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("warmup") / "sim"
    simulate(200, 6, 3, out)
    return out


def _kernels_added_by_traffic(sim: Path, mode: str, redis_url: str) -> tuple[int, str]:
    root = Path(__file__).resolve().parents[2]
    prefix = f"wu{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(sim), mode, redis_url, prefix],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
        check=True,
    )
    count, names = done.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(count), names


def test_after_the_warm_up_live_traffic_needs_no_new_kernel(
    simulated: Path, redis_url: str
) -> None:
    cold, names = _kernels_added_by_traffic(simulated, "cold", redis_url)
    assert cold > 0, "without a warm-up the traffic loads kernels (else this test shows nothing)"
    warm, names = _kernels_added_by_traffic(simulated, "warm", redis_url)
    assert warm == 0, f"kernels the warm-up missed: {names}"


def test_the_warm_up_leaves_nothing_behind(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its profiles and stored outputs go to the worker's Redis under a prefix of their own
    and are deleted; no model snapshot is written, the worker's prefix is not touched."""
    client = redis.Redis.from_url(redis_url)
    prefix = f"wu{uuid.uuid4().hex[:8]}"
    config = load_config()
    config["features"].update(store=redis_url, key_prefix=prefix)
    config["model"]["snapshots"] = {"store": {"dir": str(tmp_path / "snapshots")}}
    seen: list[bytes] = []
    real_purge = RedisStore.purge

    def purge(store: RedisStore, layout: bool = False) -> None:  # what there is to delete
        seen.extend(client.scan_iter(match=f"{store.prefix}*"))
        real_purge(store, layout)

    monkeypatch.setattr(RedisStore, "purge", purge)
    warm_up(config)
    assert any(b":c:" in key for key in seen), "the warm-up wrote profiles to Redis"
    assert list(client.scan_iter(match=f"{prefix}*")) == []
    assert not (tmp_path / "snapshots").exists()
    client.close()
