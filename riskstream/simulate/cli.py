"""`riskstream simulate`: write a synthetic bank's transactions and labels."""

from __future__ import annotations

import click


@click.command()
@click.option("--customers", type=int, default=2000, show_default=True)
@click.option("--days", type=int, default=30, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True)
def simulate(customers: int, days: int, seed: int, out_dir: str) -> None:
    """Simulate a bank: DIR/transactions.jsonl (time-ordered) and DIR/labels.jsonl."""
    raise click.ClickException("the simulator is not built yet")
