"""Half-Space Trees: riskstream's numba port against river's, per event, in one run.

For each forest: river's `score_one` + `learn_one` per event against `score_learn_many` over the
same events (same trees, same starting state), the ratio of the two, the largest score
difference; then riskstream alone on a longer stream and in small micro-batches. Times are CPU
time of this process (the machine may be shared), the best of several repeats; wall time is
printed beside. The numba kernels are compiled (cold) and loaded from cache in subprocesses
first, and warmed before any timing.

    .venv/bin/python bench/bench_hst.py
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from river import anomaly

from riskstream.models.hst import HalfSpaceTrees

NAMES = ["amount", "hour", "velocity", "distance"]
LIMITS = {"amount": (0.0, 300.0), "hour": (0.0, 24.0), "velocity": (0.0, 12.0), "distance": (-4, 4)}
FORESTS = [(10, 8, 250, 20_000), (50, 10, 250, 4_000)]  # n_trees, height, window, river events
LONG_STREAM = 200_000

_COMPILE = """
import time
t0 = time.process_time()
import numpy as np
from riskstream.models.hst import HalfSpaceTrees
t1, w1 = time.process_time(), time.perf_counter()
m = HalfSpaceTrees(n_trees=4, height=3, window_size=10, seed=0, feature_names=["a", "b"])
X = np.random.default_rng(0).random((20, 2))
m.score_learn_many(X)
m.score_many(X)
m.learn_many(X)
print(t1 - t0, time.process_time() - t1, time.perf_counter() - w1)
"""


def make_stream(n: int, seed: int = 0) -> np.ndarray:
    """Card-like events: drifting amounts and hours, a step in velocity, 1 % outliers."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / max(n, 1)
    amount = 40.0 + 40.0 * t + rng.gamma(2.0, 15.0, n)
    hour = (10.0 + 4.0 * t + rng.normal(0.0, 3.0, n)) % 24.0
    velocity = rng.poisson(2.0 + 2.0 * (t > 0.5), n).astype(float)
    distance = rng.normal(0.0, 1.0, n)
    X = np.column_stack([amount, hour, velocity, distance])
    outliers = rng.random(n) < 0.01
    X[outliers] *= rng.choice([-2.0, 4.0, 10.0], size=(int(outliers.sum()), 1))
    return X


def cold_and_cached_compile() -> list[list[float]]:
    """[import, first calls CPU s, first calls wall s] in a process that compiles the three
    kernels into an empty cache, then in one that loads them from it."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = []
        for _ in range(2):  # the first compiles and writes the cache, the second loads it
            done = subprocess.run(
                [sys.executable, "-c", _COMPILE], env=env, check=True, capture_output=True
            )
            runs.append([float(v) for v in done.stdout.split()])
    return runs


def best_time(state: dict, run, repeat: int) -> tuple[float, float]:
    """Best CPU and best wall seconds of `run(model)` over `repeat` fresh copies of a model."""
    cpu, wall = [], []
    for _ in range(repeat):
        model = HalfSpaceTrees.from_state(state)  # outside the timing
        c, w = time.process_time(), time.perf_counter()
        run(model)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(cpu), min(wall)


def river_pass(model: anomaly.HalfSpaceTrees, rows: list[dict]) -> np.ndarray:
    out = np.empty(len(rows))
    for i, x in enumerate(rows):
        out[i] = model.score_one(x)
        model.learn_one(x)
    return out


def bench_forest(n_trees: int, height: int, window: int, n_river: int, repeat: int) -> None:
    warmup = 4 * window  # past the first window, so every score walks the trees
    X = make_stream(warmup + max(n_river, LONG_STREAM), seed=n_trees)
    rows = [dict(zip(NAMES, r, strict=True)) for r in X[: warmup + n_river].tolist()]

    def warm_river() -> anomaly.HalfSpaceTrees:
        # Built anew for every pass: a deep copy would run ~30 % slower (scattered objects).
        model = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window, limits=LIMITS, seed=42
        )
        river_pass(model, rows[:warmup])
        return model

    start = HalfSpaceTrees.from_river(warm_river(), NAMES).get_state()

    timed = X[warmup : warmup + n_river]
    river_cpu = river_wall = ours_cpu = ours_wall = float("inf")
    for _ in range(3):  # river and ours alternate, so both see the machine in the same mood
        model = warm_river()  # every pass from the same state, built outside the timing
        c, w = time.process_time(), time.perf_counter()
        expected = river_pass(model, rows[warmup:])
        river_cpu = min(river_cpu, time.process_time() - c)
        river_wall = min(river_wall, time.perf_counter() - w)
        cpu, wall = best_time(start, lambda m: m.score_learn_many(timed), repeat)
        ours_cpu, ours_wall = min(ours_cpu, cpu), min(ours_wall, wall)
    got = HalfSpaceTrees.from_state(start).score_learn_many(timed)
    max_diff = float(np.abs(got - expected).max())

    long = X[warmup : warmup + LONG_STREAM]
    long_cpu, long_wall = best_time(start, lambda m: m.score_learn_many(long), repeat)
    per = {}
    for size in (1, 16, 256):
        chunk = X[warmup : warmup + min(n_river, 20_000)]

        def batched(model, chunk=chunk, size=size):
            for i in range(0, len(chunk), size):
                model.score_learn_many(chunk[i : i + size])

        per[size] = best_time(start, batched, max(1, repeat // 2))[0] / len(chunk)

    r_us, o_us = river_cpu / n_river * 1e6, ours_cpu / n_river * 1e6
    print(f"\n{n_trees} trees, height {height}, window {window}")
    print(
        f"  river  score_one+learn_one   {n_river:>7,} events  {r_us:9.2f} us/event"
        f"  (wall {river_wall / n_river * 1e6:.2f})"
    )
    print(
        f"  ours   score_learn_many      {n_river:>7,} events  {o_us:9.3f} us/event"
        f"  (wall {ours_wall / n_river * 1e6:.3f})"
    )
    print(f"  speed-up (river / ours, CPU) {r_us / o_us:8.1f}x")
    print(f"  max |score difference|       {max_diff:.3g}  (bit-identical: {max_diff == 0.0})")
    print(
        f"  ours   score_learn_many      {LONG_STREAM:>7,} events  "
        f"{long_cpu / LONG_STREAM * 1e6:9.3f} us/event  (wall {long_wall / LONG_STREAM * 1e6:.3f})"
    )
    print(
        "  ours   micro-batches of 1 / 16 / 256:  "
        + " / ".join(f"{per[s] * 1e6:.3f}" for s in (1, 16, 256))
        + " us/event"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repeats per timing (best kept)")
    args = parser.parse_args()

    print("bench_hst: riskstream.models.hst.HalfSpaceTrees vs river.anomaly.HalfSpaceTrees")
    print(
        f"  {platform.processor() or platform.machine()}, nproc={os.cpu_count()}, "
        f"python {platform.python_version()}, load average at start "
        + " ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    cold, cached = cold_and_cached_compile()
    print(
        f"  numba kernels, first calls in a fresh process: cold compile {cold[1]:.2f} s CPU "
        f"({cold[2]:.2f} s wall), load from cache {cached[1]:.2f} s CPU ({cached[2]:.2f} s wall)"
    )
    print(f"  import of riskstream.models.hst: {cold[0]:.2f} s CPU")
    # Warm: compile or load the kernels of this process before any timing.
    warm = HalfSpaceTrees(n_trees=4, height=3, window_size=10, seed=0, feature_names=NAMES)
    warm.score_learn_many(make_stream(30))
    warm.score_many(make_stream(3))
    warm.learn_many(make_stream(3))

    for n_trees, height, window, n_river in FORESTS:
        bench_forest(n_trees, height, window, n_river, args.repeat)


if __name__ == "__main__":
    main()
