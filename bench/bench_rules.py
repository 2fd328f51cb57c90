"""Benchmark: the shipped default rule set, compiled by riskstream, against the same rules run
by zen-engine (GoRules' Rust expression engine, the fastest Python rule engine we could pin).

One run, one batch of simulated-looking transactions (numpy, seeded), both engines on it:

- riskstream: `RuleSet.evaluate` + `DecisionPolicy.decide` over the columns (hits, decisions,
  scores); best of several repeats, after a warm-up.
- zen-engine: every rule translated from the checked riskstream syntax tree to one zen
  expression list, compiled once, evaluated once per transaction on a prebuilt dict (building
  the dicts is not timed). Zen raises on comparisons with null, so each comparison is guarded
  with ``x != null``, which is also riskstream's missing-value semantics. Only the hits are
  computed on the zen side (no decisions): the comparison favours zen.

The hits of both engines are compared row by row; the script fails if they differ.

    .venv/bin/python bench/bench_rules.py [--rows 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np

from riskstream.features.catalog import FeatureCatalog, FeatureType
from riskstream.rules import DecisionPolicy, RuleSet, load_ruleset
from riskstream.rules.parser import parse
from riskstream.rules.syntax import BinaryOp, Call, ListLiteral, Literal, Name, Node, UnaryOp

COUNTRIES = np.array(["FR", "DE", "GB", "ES", "IT", "NL", "NG", "RU", "US", "UA"], dtype=object)
COUNTRY_P = np.array([0.4, 0.2, 0.12, 0.08, 0.07, 0.05, 0.02, 0.02, 0.03, 0.01])
CHANNELS = np.array(["pos", "ecom", "atm", "transfer", "deposit"], dtype=object)
CHANNEL_P = np.array([0.45, 0.3, 0.08, 0.12, 0.05])
TYPE_OF = np.array(["purchase", "purchase", "withdrawal", "transfer", "deposit"], dtype=object)
MCCS = np.array(["5411", "5812", "5999", "4111", "5967", "7995", "6051", "4829"], dtype=object)
MCC_P = np.array([0.3, 0.25, 0.2, 0.15, 0.03, 0.03, 0.02, 0.02])


def make_frame(catalog: FeatureCatalog, n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Columns for every catalog name, shaped like the feature stage's output."""
    rng = np.random.default_rng(seed)
    channel_idx = rng.choice(len(CHANNELS), n, p=CHANNEL_P)
    amount = np.round(np.exp(rng.normal(3.5, 1.3, n)), 2)
    amount[rng.random(n) < 0.01] = np.round(rng.uniform(0.5, 4.0), 2)  # tiny payments
    history = rng.poisson(60, n).astype(np.float64)
    history[rng.random(n) < 0.02] = rng.integers(0, 3)
    mean = amount * np.exp(rng.normal(0.0, 0.6, n))
    first = history == 0
    cols: dict[str, Any] = {
        "amount": amount,
        "currency": np.full(n, "EUR", dtype=object),
        "timestamp": 1_767_225_600_000 + np.sort(rng.integers(0, 30 * 86_400_000, n)),
        "channel": CHANNELS[channel_idx],
        "type": TYPE_OF[channel_idx],
        "mcc": np.where(channel_idx < 2, MCCS[rng.choice(len(MCCS), n, p=MCC_P)], None),
        "country": COUNTRIES[rng.choice(len(COUNTRIES), n, p=COUNTRY_P)],
        "customer_id": np.array([f"cu{i:06d}" for i in rng.integers(0, 50_000, n)], dtype=object),
        "card_id": np.array([f"ca{i:07d}" for i in rng.integers(0, 80_000, n)], dtype=object),
        "merchant_id": np.array([f"me{i:05d}" for i in rng.integers(0, 5_000, n)], dtype=object),
        "device_id": np.where(
            channel_idx == 1,
            np.array([f"dv{i:06d}" for i in rng.integers(0, 60_000, n)], dtype=object),
            None,
        ),
        "payee_id": np.where(channel_idx == 3, "pa1", None).astype(object),
        "ip": np.where(channel_idx == 1, "10.1.2.3", None).astype(object),
        "lat": np.where(channel_idx < 3, rng.uniform(35, 60, n), np.nan),
        "lon": np.where(channel_idx < 3, rng.uniform(-10, 30, n), np.nan),
        "customer.tx_count_1h": np.where(first, np.nan, rng.exponential(0.6, n)),
        "customer.tx_count_24h": np.where(first, np.nan, rng.exponential(3.0, n)),
        "customer.amount_mean": np.where(first, np.nan, mean),
        "customer.amount_zscore": np.where(history < 5, np.nan, rng.normal(0, 1.2, n)),
        "customer.amount_ratio": np.where(first, np.nan, amount / mean),
        "customer.seconds_since_last": np.where(first, np.nan, rng.exponential(20_000, n)),
        "customer.tx_count_total": history,
    }
    cols["hour"] = ((cols["timestamp"] // 3_600_000) % 24).astype(np.float64)
    for name, spec in catalog.items():  # names added to the catalog later: missing values
        if name not in cols:
            cols[name] = _missing_column(spec.type, n)
    return cols


def _missing_column(t: FeatureType, n: int) -> np.ndarray:
    if t is FeatureType.NUMBER:
        return np.full(n, np.nan)
    if t is FeatureType.BOOL:
        return np.zeros(n, dtype=np.bool_)
    if t is FeatureType.TIME:
        return np.zeros(n, dtype=np.int64)
    return np.full(n, None, dtype=object)


# -- zen-engine ----------------------------------------------------------------------------
def to_zen(node: Node, ruleset: RuleSet, catalog: FeatureCatalog) -> str:
    """The same condition in zen's expression language, with null guards on comparisons."""

    def names(n: Node) -> list[str]:
        if isinstance(n, Name):
            return [n.name] if n.name in catalog else []
        return [x for c in n.children() for x in names(c)]

    def text(n: Node) -> str:
        if isinstance(n, Literal):
            if isinstance(n.value, bool):
                return "true" if n.value else "false"
            return json.dumps(n.value) if isinstance(n.value, str) else repr(float(n.value))
        if isinstance(n, Name):
            if n.name in catalog:
                return n.name
            return json.dumps(list(ruleset.lists[n.name].values))
        if isinstance(n, ListLiteral):
            return "[" + ", ".join(text(i) for i in n.items) + "]"
        if isinstance(n, UnaryOp):
            assert n.operand is not None
            return f"not({text(n.operand)})" if n.op == "not" else f"({n.op}{text(n.operand)})"
        if isinstance(n, Call):
            args = [text(a) for a in n.args]
            if n.func in ("min", "max"):
                return f"{n.func}([{', '.join(args)}])"
            if n.func == "abs":
                return f"abs({args[0]})"
            raise NotImplementedError(f"no zen translation for {n.func}()")
        assert isinstance(n, BinaryOp) and n.left is not None and n.right is not None
        core = f"({text(n.left)} {n.op} {text(n.right)})"
        if n.op in ("and", "or", "+", "-", "*", "/", "%"):
            return core
        guards = [f"{name} != null" for name in dict.fromkeys(names(n))]
        return "(" + " and ".join([*guards, core]) + ")" if guards else core

    return text(node)


def zen_contexts(frame: dict[str, np.ndarray], names: list[str], n: int) -> list[dict]:
    contexts = []
    columns = [(name.split("."), frame[name]) for name in names]
    for i in range(n):
        ctx: dict[str, Any] = {}
        for parts, column in columns:
            value = column[i]
            if isinstance(value, float | np.floating):
                value = None if math.isnan(value) else float(value)
            elif isinstance(value, np.generic):
                value = value.item()
            target = ctx
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = value
        contexts.append(ctx)
    return contexts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n = args.rows

    catalog = FeatureCatalog.default()
    ruleset = load_ruleset(None, catalog)
    policy = DecisionPolicy()
    frame = make_frame(catalog, n)
    model = np.random.default_rng(1).beta(1, 12, n)
    print(f"# bench_rules: {len(ruleset.rules)} rules (shipped default, {ruleset.hash[:12]}), "
          f"{n:,} transactions, nproc {os.cpu_count()}")  # fmt: skip

    ruleset.evaluate(frame, n)  # warm-up
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = ruleset.evaluate(frame, n)
        decided = policy.decide(ruleset, result, frame, model)
        times.append(time.perf_counter() - t0)
    ours = n / min(times)
    hit_rate = result.hits.any(axis=0).mean()
    counts = np.bincount(decided.decisions, minlength=4).tolist()
    print(f"riskstream   {ours:>14,.0f} tx/s  (evaluate + decide, best of {args.repeat}; "
          f"rows with a hit {hit_rate:.1%}, decisions by code {counts})")  # fmt: skip

    small = []
    for size in (1_000, 1):
        sub = {k: v[:size] for k, v in frame.items()}
        reps = max(20, 20_000 // size)
        t0 = time.perf_counter()
        for _ in range(reps):
            policy.decide(ruleset, ruleset.evaluate(sub, size), sub, model[:size])
        per_batch = (time.perf_counter() - t0) / reps
        small.append((size, per_batch))
        print(f"riskstream   {size / per_batch:>14,.0f} tx/s  at batches of {size:,} "
              f"({per_batch * 1e6:,.0f} us a batch)")  # fmt: skip

    try:
        import zen
    except ImportError:
        print("zen-engine not installed (pip install zen-engine==2.1.3): no comparison")
        return 0
    exprs = [to_zen(parse(rule.when), ruleset, catalog) for rule in ruleset.rules]
    program = zen.compile_expression("[" + ", ".join(exprs) + "]")
    contexts = zen_contexts(frame, list(ruleset.features), n)
    t0 = time.perf_counter()
    zen_hits = [program.evaluate(ctx) for ctx in contexts]
    zen_time = time.perf_counter() - t0
    theirs = n / zen_time
    print(
        f"zen-engine   {theirs:>14,.0f} tx/s  (one compiled expression list a transaction, "
        "hits only)"
    )
    mismatches = int((result.hits != np.array(zen_hits, dtype=bool).T).sum())
    print(f"ratio        {ours / theirs:>14,.1f} x  (riskstream / zen-engine); "
          f"hit mismatches between the engines: {mismatches}")  # fmt: skip
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
