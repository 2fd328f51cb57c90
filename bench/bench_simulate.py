"""Benchmark of the transaction simulator: transactions generated per second.

Prints, for one run of >= 500,000 transactions: in-memory generation (`generate`, columns only)
and end to end (`simulate`: generation + transactions.jsonl + labels, contacts, merchants,
manifest), plus the machine's core count. A tiny warm-up run first loads (or, on a cold cache,
compiles) the numba JSONL kernel; its time is printed separately.

Usage: python bench/bench_simulate.py [--customers 6000] [--days 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from riskstream.simulate import generate, simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=6000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    try:
        t0 = time.perf_counter()
        simulate(20, 2, 0, tmp / "warmup")
        warm = time.perf_counter() - t0

        gen_best, n = float("inf"), 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            sim = generate(args.customers, args.days, args.seed)
            gen_best = min(gen_best, time.perf_counter() - t0)
            n = len(sim.transactions)
        del sim

        e2e_best, size = float("inf"), 0
        for _ in range(args.repeat):
            out = tmp / "run"
            t0 = time.perf_counter()
            manifest = simulate(args.customers, args.days, args.seed, out)
            e2e_best = min(e2e_best, time.perf_counter() - t0)
            size = (out / "transactions.jsonl").stat().st_size
            shutil.rmtree(out)
        assert manifest.counts["transactions"] == n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"nproc: {os.cpu_count()}")
    print(f"run: --customers {args.customers} --days {args.days} --seed {args.seed}")
    print(f"transactions: {n:,} ({size / n:.0f} bytes/line, {size / 1e6:.1f} MB)")
    print(f"warm-up (kernel load/compile + tiny run): {warm:.2f} s")
    print(f"in-memory generate: {gen_best:.3f} s = {n / gen_best:,.0f} transactions/s")
    print(f"end to end with JSONL: {e2e_best:.3f} s = {n / e2e_best:,.0f} transactions/s")


if __name__ == "__main__":
    main()
