"""End-to-end `riskstream run` throughput against a bare `orjson.loads` loop, side by side.

Usage: .venv/bin/python bench/bench_embedded.py [--customers 5000] [--days 35] [--repeat 3]

Simulates a bank (>= 500,000 transactions), then in one run measures, on the same file:
the transactions/s of `riskstream run` (a subprocess, the real CLI, outputs written to disk),
the transactions/s of reading the same lines and calling `orjson.loads` on each, and the
ratio. The best of ``--repeat`` runs is kept for each, interleaved so drift hits both.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from riskstream.simulate import simulate


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def bare_orjson(path: Path) -> tuple[float, float]:
    """Lines/s of the loop, by wall time and by CPU time."""
    started, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    count = 0
    loads = orjson.loads
    with open(path, "rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    wall, cpu = time.perf_counter() - started, _cpu(resource.RUSAGE_SELF) - cpu
    return count / wall, count / cpu


def riskstream_run(path: Path, out: Path) -> tuple[float, float, dict]:
    """Transactions/s of the CLI, by wall time and by CPU time (all its threads), and its
    summary."""
    cmd = [sys.executable, "-m", "riskstream.cli", "run", "--input", str(path), "--out", str(out)]
    started, cpu = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - started, _cpu(resource.RUSAGE_CHILDREN) - cpu
    summary = orjson.loads((out / "summary.json").read_bytes())
    return summary["lines_in"] / wall, summary["lines_in"] / cpu, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        manifest = simulate(customers=args.customers, days=args.days, seed=11, out_dir=data)
        path = data / "transactions.jsonl"
        with open(path, "rb") as handle:
            n = sum(1 for _ in handle)
        size_mb = path.stat().st_size / 1e6
        print(f"input: {n:,} transactions ({size_mb:.0f} MB), cores: {os.cpu_count()}")
        riskstream_run(path, Path(tmp) / "warm")  # numba cache and page cache warm-up
        best_run = best_json = best_run_cpu = best_json_cpu = 0.0
        summary: dict = {}
        for i in range(args.repeat):
            rate, rate_cpu, summary = riskstream_run(path, Path(tmp) / f"run{i}")
            best_run, best_run_cpu = max(best_run, rate), max(best_run_cpu, rate_cpu)
            rate, rate_cpu = bare_orjson(path)
            best_json, best_json_cpu = max(best_json, rate), max(best_json_cpu, rate_cpu)
        del manifest
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"riskstream run (end to end, CLI wall time): {best_run:>12,.0f} tx/s")
    print(f"  engine loop only (summary.json):          {summary['throughput_tx_per_s']:>12,} tx/s")
    print(f"bare orjson.loads loop:                     {best_json:>12,.0f} tx/s")
    print(f"ratio run / orjson:                         {best_run / best_json:>12.3f}")
    print(f"per CPU-second (all threads): run {best_run_cpu:,.0f} tx, orjson {best_json_cpu:,.0f}")
    print(f"ratio per CPU-second:                       {best_run_cpu / best_json_cpu:>12.3f}")
    print(
        f"latency p50/p99 per micro-batch: {summary['latency_us']['p50']} / "
        f"{summary['latency_us']['p99']} us"
    )


if __name__ == "__main__":
    main()
