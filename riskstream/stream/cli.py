"""`riskstream run`: score a file or stdin with the embedded engine (no Kafka, no Redis)."""

from __future__ import annotations

import sys

import click
import orjson

from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.errors import RiskstreamError
from riskstream.stream.embedded import input_size, run_embedded
from riskstream.stream.labels import read_labels
from riskstream.stream.progress import progress_bar

__all__ = ["run"]


@click.command()
@click.option("--input", "source", required=True, help="JSON-lines file of transactions, or -.")
@click.option("--out", required=True, help="Output directory, or - for decisions on stdout.")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False), help="Labels file.")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False), help="Rule file YAML.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config YAML.")
@click.option(
    "--deny-list",
    "deny_list",
    help="Cards blocked by NO replies: card_blocks.jsonl, an SMS task-store dir or redis:// URL.",
)
def run(
    source: str,
    out: str,
    labels_path: str | None,
    rules_path: str | None,
    config_path: str | None,
    deny_list: str | None,
) -> None:
    """Score transactions in-process; bad lines go to the dead letters, exit code stays 0.

    A rule file given with --rules is watched: a changed file that compiles replaces the rule
    set between two micro-batches; a broken one is logged and the running rules stay.
    """
    try:
        config = load_config(config_path)
        if rules_path:
            config["rules"]["path"] = rules_path
        if deny_list:
            config["alerts"]["deny_list"] = deny_list
        labels, rejected = read_labels(labels_path) if labels_path else (None, [])
        engine = Engine(config, labels=labels)
        with progress_bar(input_size(source), "scoring") as advance:
            summary = run_embedded(source, out, engine, len(rejected), advance)
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    if out != "-":
        report = summary.to_json_dict()
        click.echo(
            f"{report['lines_in']} lines: {report['decisions_out']} decisions, "
            f"{report['dead_letters_out']} dead letters, "
            f"{report['throughput_tx_per_s']} tx/s -> {out}",
            err=True,
        )
    else:
        sys.stderr.buffer.write(orjson.dumps({"summary": summary.to_json_dict()}) + b"\n")
