"""Replay throughput from Parquet and from JSON lines, with the share of time per stage.

Usage: .venv/bin/python bench/bench_replay.py [--customers 20000] [--days 35] [--labels]

Simulates a bank (>= 2 million transactions with the defaults), converts its JSON lines to
Parquet, then replays both files with the default rules and model through the full `replay`
driver (decisions.jsonl hash-chained, alerts, SMS tasks, dead letters, summary), side by side
in one process after a warm-up (numba caches). Stages are timed by wrapping the Engine's
stage objects; the decision writer runs on a second thread, so its time overlaps the others.
With ``--labels`` the Parquet replay is repeated with the simulator's labels fed in event time.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.replay.driver import replay_history
from riskstream.replay.inputs import concat_batches, read_history, to_arrow
from riskstream.simulate import simulate
from riskstream.stream.labels import read_labels


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(obj: Any, name: str, label: str, times: Counter) -> None:
    inner: Callable[..., Any] = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            times[label] += time.perf_counter() - started

    object.__setattr__(obj, name, wrapper)  # also on frozen dataclasses (the policy)


def _engine(config: dict, labels_path: Path | None, times: Counter) -> Engine:
    labels = read_labels(labels_path)[0] if labels_path else None
    engine = Engine(config, labels=labels)
    _timed(engine, "_drop_duplicates", "engine: duplicates", times)
    _timed(engine.features, "compute", "engine: features", times)
    _timed(engine.model, "score", "engine: model score", times)
    _timed(engine.model, "learn", "engine: model learn", times)
    _timed(engine.rules, "evaluate", "engine: rules", times)
    _timed(engine.policy, "decide", "engine: policy + explanations", times)
    return engine


def _config(model: str) -> dict:
    config = load_config()
    if model == "online":
        try:  # the online anomaly model (Half-Space Trees) where the models stage has it
            import riskstream.models.config  # noqa: F401
        except ImportError:
            return config
    config["model"] = {**config.get("model", {}), "kind": model}
    return config


def replay_once(
    path: Path, out: Path, labels: Path | None, model: str
) -> tuple[dict, Counter, str]:
    times: Counter = Counter()
    engine = _engine(_config(model), labels, times)
    cpu = _cpu()
    started = time.perf_counter()
    history = read_history(path)
    times["input: open + validate"] += time.perf_counter() - started
    summary, _ = replay_history(history, out, engine)
    wall = time.perf_counter() - started
    cpu = _cpu() - cpu
    stages = summary.stage_seconds
    times["input: open + validate"] += stages["input"]
    engine_parts = sum(v for k, v in times.items() if k.startswith("engine:"))
    times["engine: other (label slicing, frames, glue)"] = stages["engine"] - engine_parts
    times["outputs: alerts, SMS tasks, counts, dead letters"] = stages["outputs"]
    times["decision writer thread (overlaps)"] = stages["write (thread)"]
    report = summary.to_json_dict()
    report["wall"] = wall
    report["cpu"] = cpu
    return report, times, engine.model_snapshot


def show(name: str, report: dict, times: Counter, model: str) -> None:
    n = report["lines_in"]
    wall = report["wall"]
    print(f"{name}: {n:,} tx in {wall:.2f} s = {n / wall:,.0f} tx/s  (model {model[:40]})")
    cpu = report["cpu"]
    print(f"  CPU {cpu:.2f} s (all threads) = {n / cpu:,.0f} tx per CPU-second")
    serial = sum(v for k, v in times.items() if "overlaps" not in k)
    for label, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        share = f"{100 * seconds / serial:5.1f}%" if "overlaps" not in label else "  par."
        print(f"  {label:<50} {seconds:7.2f} s {1e6 * seconds / n:6.2f} us/tx {share}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--labels", action="store_true", help="Also replay with labels.")
    parser.add_argument("--model", default="online", choices=["online", "heuristic"],
                        help="model.kind (online: HST + feedback learner)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        simulate(customers=args.customers, days=args.days, seed=11, out_dir=data)
        jsonl = data / "transactions.jsonl"
        warm = Path(tmp) / "warm.jsonl"
        with open(jsonl, "rb") as src:
            warm.write_bytes(b"".join(src.readline() for _ in range(5000)))
        replay_once(warm, Path(tmp) / "warm-out", None, args.model)
        parquet = data / "transactions.parquet"
        pq.write_table(to_arrow(concat_batches(list(read_history(jsonl).chunks))), parquet)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"nproc: {os.cpu_count()}, load average {load}; "
              f"input {jsonl.stat().st_size / 1e6:,.0f} MB JSON lines, "
              f"{parquet.stat().st_size / 1e6:,.0f} MB Parquet")  # fmt: skip
        runs = [("parquet", parquet, None), ("jsonl", jsonl, None)]
        if args.labels:
            runs.append(("parquet + labels", parquet, data / "labels.jsonl"))
        for name, path, labels in runs:
            report, times, model = replay_once(
                path, Path(tmp) / name.replace(" ", ""), labels, args.model
            )
            show(name, report, times, model)


if __name__ == "__main__":
    main()
