"""`make demo`: simulate a small bank, score it with the embedded engine, print what happened.

The demo appends a few malformed lines to the simulated stream so the dead-letter output has
something to show; everything else is the simulator's realistic traffic.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from riskstream.alerts.tasks import parse_time
from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.simulate import simulate
from riskstream.stream.decode import parse_event_times
from riskstream.stream.embedded import RunSummary, input_size, run_embedded
from riskstream.stream.labels import read_labels
from riskstream.stream.progress import progress_bar

__all__ = ["main"]

_BAD_LINES = (
    b'{"tx_id": "demo-bad-1", "customer_id": "cu000001", "amount": -40, '
    b'"currency": "EUR", "timestamp": "2026-01-15T10:00:00Z"}',
    b'{"tx_id": "demo-bad-2", "customer_id": "cu000001", "amount": 12.0, '
    b'"currency": "EUR", "timestamp": "the 15th"}',
    b"\xff\xfe not even text",
    b'{"tx_id": "demo-bad-3", "amount": 1',
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-out")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    console = Console(soft_wrap=True)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    data, results = out / "data", out / "run"

    console.print(f"[bold]Simulating[/] {args.customers} customers over {args.days} days ...")
    simulate(customers=args.customers, days=args.days, seed=args.seed, out_dir=data)
    transactions = data / "transactions.jsonl"
    with open(transactions, "ab") as handle:
        handle.write(b"\n".join(_BAD_LINES) + b"\n")

    console.print("[bold]Scoring[/] with the embedded engine ...")
    labels, rejected = read_labels(data / "labels.jsonl")
    engine = Engine(load_config(), labels=labels)
    with progress_bar(input_size(transactions), "scoring") as advance:
        summary = run_embedded(transactions, str(results), engine, len(rejected), advance)
    _print_summary(console, summary, data, results)


def _print_summary(console: Console, summary: RunSummary, data: Path, results: Path) -> None:
    report = summary.to_json_dict()
    table = Table(title="Decisions", show_edge=False)
    table.add_column("decision")
    table.add_column("transactions", justify="right")
    table.add_column("share", justify="right")
    total = max(report["decisions_out"], 1)
    for name, count in report["decisions"].items():
        table.add_row(name, f"{count:,}", f"{100 * count / total:.2f}%")
    console.print(table)
    if report["top_rules"]:
        rules = Table(title="Top rules", show_edge=False)
        rules.add_column("rule")
        rules.add_column("hits", justify="right")
        for rule, hits in report["top_rules"].items():
            rules.add_row(rule, f"{hits:,}")
        console.print(rules)
    console.print(
        f"alerts: {report['alerts']:,}   SMS tasks: {report['sms_tasks']:,}   "
        f"labels fed by event time: {report['labels_loaded']:,}"
    )
    dead = ", ".join(f"{k}: {v}" for k, v in report["dead_letters"].items()) or "none"
    console.print(f"dead letters: {report['dead_letters_out']} ({dead})")
    _print_example_task(console, results)
    console.print(
        f"throughput: {report['throughput_tx_per_s']:,} tx/s   "
        f"latency p50 {report['latency_us']['p50'] / 1000:.1f} ms, "
        f"p99 {report['latency_us']['p99'] / 1000:.1f} ms (per micro-batch)"
    )
    console.print(f"rule set {report['ruleset_hash'][:12]}   model {report['model_snapshot']}")
    console.print(f"inputs:  {data}/transactions.jsonl, {data}/labels.jsonl")
    outputs = ", ".join(
        str(results / n)
        for n in (
            "decisions.jsonl",
            "alerts.jsonl",
            "sms_tasks.jsonl",
            "dead_letters.jsonl",
            "summary.json",
        )
    )
    console.print(f"outputs: {outputs}")


def _print_example_task(console: Console, results: Path) -> None:
    """The SMS tasks the run created, two of its texts, and what a customer's NO changes."""
    from riskstream.alerts.showcase import example_reply, task_overview

    overview = task_overview(results)
    if not overview.tasks:
        console.print("SMS: no challenged transaction, no SMS task")
        return
    states = ", ".join(f"{name} {count:,}" for name, count in overview.states.most_common())
    languages = ", ".join(f"{lang} {n:,}" for lang, n in overview.languages.most_common())
    console.print(
        f"SMS: {overview.tasks:,} tasks, {overview.sms:,} SMS sent ({languages}), "
        f"{overview.joined:,} joined an open task inside the cooldown; states: {states}"
    )
    for sms in overview.examples:
        console.print(f"  SMS to {sms['to']} ({sms['language']}): {sms['text']}", markup=False)
    reply = example_reply(results, results.parent / "sms-live")
    if reply is None:
        return
    if reply.restored:
        console.print(
            f"a customer answers NO (the replay ended after this task expired, so it is "
            f"restored as it was 90 s after its SMS went out, into {reply.store}):"
        )
    console.print("  $ " + " ".join(reply.command), markup=False)
    for line in reply.lines:
        console.print("  " + line, markup=False)
    console.print(
        f"  labels: {reply.store}/sms_labels.jsonl (feed back with --labels); "
        f"deny list: {reply.store}/card_blocks.jsonl"
    )
    _print_follow_up(console, results.parent / "data" / "transactions.jsonl", reply.store)


def _print_follow_up(console: Console, transactions: Path, store: Path) -> None:
    """The blocked card's next payment, scored with the deny list: the NO reply now blocks."""
    blocks = store / "card_blocks.jsonl"
    entries = [orjson.loads(x) for x in blocks.read_bytes().splitlines()] if blocks.exists() else []
    if not entries:
        return
    block = entries[0]
    records = _valid_records(transactions)
    card = next((r.get("card_id") for r in records if r.get("tx_id") == block["tx_id"]), None)
    blocked_at = parse_time(block["blocked_at"])
    of_card = [r for r in records if card and r.get("card_id") == card]
    times, _ = parse_event_times([r.get("timestamp") for r in of_card])
    later = [r for r, at in zip(of_card, times.tolist(), strict=True) if at >= blocked_at]
    if not later:
        return
    follow_up = store.parent / "follow-up"
    follow_up.mkdir(exist_ok=True)
    source = follow_up / "next_payment.jsonl"
    source.write_bytes(orjson.dumps(later[0]) + b"\n")
    config = load_config()
    config["alerts"]["deny_list"] = str(store)
    for name in ("contacts", "merchants"):  # the bank's, beside the simulated input
        config["alerts"]["sms"][name] = str(transactions.parent / f"{name}.jsonl")
    run_embedded(source, str(follow_up / "run"), Engine(config), 0)
    decided = orjson.loads((follow_up / "run" / "decisions.jsonl").read_bytes().splitlines()[0])
    console.print(
        f"the card's next payment ({decided['tx_id']}, {decided['event_time']}), scored with "
        f"the deny list: {decided['decision']} by {decided['rule_hits']}",
        markup=False,
    )
    console.print(
        f"  $ riskstream run --input {source} --out {follow_up / 'run'} --deny-list {store}",
        markup=False,
    )


def _valid_records(path: Path) -> list[dict]:
    """The JSON objects of a transaction file (the demo's malformed lines left out)."""
    records = []
    for line in path.read_bytes().splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return [r for r in records if isinstance(r, dict)]


if __name__ == "__main__":
    main()
