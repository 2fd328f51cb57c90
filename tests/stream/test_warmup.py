"""The worker's warm-up: after it, live traffic finds every numba kernel ready in the process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from riskstream.config import load_config
from riskstream.simulate import simulate
from riskstream.stream.warmup import _throwaway_config

# Run in a fresh process (the test process has loaded most kernels already): optionally warm
# up, then score simulated traffic and its labels in batches of the sizes a worker sees, and
# print how many kernel versions (compiled, or loaded from numba's disk cache) the traffic
# itself had to add. Those are what a worker's first live batches would wait for.
_SCRIPT = """
import gc, sys
from pathlib import Path
import numba
from riskstream.config import load_config
from riskstream.stream.emitted import MemoryEmittedStore
from riskstream.stream.warmup import warm_up
from riskstream.stream.worker import InRecord, Outputs, WorkerCore, WorkerEngine, WorkerSettings

def versions():
    found = [o for o in gc.get_objects() if isinstance(o, numba.core.dispatcher.Dispatcher)]
    return {id(o): (o.py_func.__qualname__, len(o.overloads)) for o in found}

config = load_config()
if sys.argv[2] == "warm":
    warm_up(config)
before = versions()
core = WorkerCore(WorkerEngine(config), WorkerSettings(), MemoryEmittedStore())
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


def _kernels_added_by_traffic(sim: Path, mode: str) -> tuple[int, str]:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(sim), mode],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
        check=True,
    )
    count, names = done.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(count), names


def test_after_the_warm_up_live_traffic_needs_no_new_kernel(simulated: Path) -> None:
    cold, names = _kernels_added_by_traffic(simulated, "cold")
    assert cold > 0, "without a warm-up the traffic loads kernels (else this test shows nothing)"
    warm, names = _kernels_added_by_traffic(simulated, "warm")
    assert warm == 0, f"kernels the warm-up missed: {names}"


def test_the_warm_up_engine_reaches_nothing_outside_the_process() -> None:
    config = load_config()
    config["features"].update(store="redis://127.0.0.1:1/0", concurrency="optimistic")
    config["model"]["snapshots"] = {"store": {"dir": "/nonexistent/snapshots"}}
    config["alerts"].update(deny_list="redis://127.0.0.1:1/0")
    throwaway = _throwaway_config(config)
    assert throwaway["features"]["store"] == "memory://"
    assert "concurrency" not in throwaway["features"]
    assert throwaway["model"]["snapshots"]["store"] is None
    assert throwaway["alerts"]["deny_list"] is None and throwaway["alerts"]["sinks"] == []
    assert config["features"]["store"] == "redis://127.0.0.1:1/0"  # the caller's is untouched
