"""`riskstream simulate`: write a synthetic bank's transactions and labels."""

from __future__ import annotations

import datetime as _dt
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click

from riskstream.errors import ConfigError
from riskstream.simulate.core import DEFAULT_FRAUD_RATE, DEFAULT_START
from riskstream.simulate.core import simulate as run
from riskstream.simulate.writer import Progress


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise (CI logs)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            name = "write" if stage == "write" else "generate"
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        yield update


@click.command()
@click.option("--customers", type=int, default=2000, show_default=True, help="Number of customers.")
@click.option("--days", type=int, default=30, show_default=True, help="Days simulated.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed: same seed, same bytes.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Output directory (created if missing; files in it are replaced).",
)
@click.option(
    "--start",
    default=DEFAULT_START,
    show_default=True,
    help="First day (UTC), ISO date.",
)
@click.option(
    "--fraud-rate",
    type=float,
    default=DEFAULT_FRAUD_RATE,
    show_default=True,
    help="Target share of fraudulent transactions.",
)
@click.option("--quiet", is_flag=True, help="No progress bar and no summary.")
def simulate(
    customers: int,
    days: int,
    seed: int,
    out_dir: str,
    start: str,
    fraud_rate: float,
    quiet: bool,
) -> None:
    """Simulate a bank: DIR/transactions.jsonl (time-ordered) and DIR/labels.jsonl.

    Also DIR/contacts.jsonl, DIR/merchants.jsonl and DIR/manifest.json. About 3 transactions
    per customer per day; fraud scenarios are injected at the target rate; labels arrive late
    (SMS replies within minutes, chargebacks days to weeks later). Unlabelled transactions
    are genuine.
    """
    try:
        day = _dt.date.fromisoformat(start)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date: {start!r}", param_hint="--start") from exc
    began = time.perf_counter()
    try:
        with _progress(not quiet and sys.stderr.isatty()) as progress:
            manifest = run(
                customers, days, seed, out_dir, start=day, fraud_rate=fraud_rate, progress=progress
            )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if quiet:
        return
    elapsed = time.perf_counter() - began
    c = manifest.counts
    click.echo(
        f"{c['transactions']:,} transactions ({c['fraud_transactions']:,} fraudulent, "
        f"rate {manifest.fraud_rate:.3%}), {c['labels']:,} labels, {c['customers']:,} customers, "
        f"{c['merchants']:,} merchants -> {out_dir} in {elapsed:.1f} s"
    )
