"""`riskstream replay` (backtest, report, comparison) and `riskstream audit verify|replay`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import orjson

from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.errors import RiskstreamError
from riskstream.stream.labels import read_labels

__all__ = ["audit", "replay"]


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar with transactions/s on an interactive terminal; nothing otherwise."""
    if quiet or not total or not sys.stderr.isatty() or os.environ.get("CI", "") == "true":
        yield None
        return
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task):  # type: ignore[no-untyped-def]
            return Text(f"{task.speed or 0:,.0f} tx/s")

    columns = (TextColumn("replaying"), BarColumn(), TextColumn("{task.completed:,} tx"), _Rate())
    with Progress(*columns, TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("replay", total=total)
        yield lambda n: bar.advance(task, n)


def _engine_config(config_path: str | None, rules_path: str | None) -> dict:
    config = load_config(config_path)
    if rules_path:
        config["rules"]["path"] = rules_path
    return config


@click.command()
@click.option("--input", "source", required=True, type=click.Path(dir_okay=False, exists=True),
              help="History: JSON lines, CSV or Parquet.")  # fmt: skip
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False, exists=True),
              help="Labels (tx_id, is_fraud, label_time), fed in event time.")  # fmt: skip
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, exists=True),
              help="Rule file (default: the shipped rules).")  # fmt: skip
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Engine config YAML.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]),
              help="Input format (default: from the file name).")  # fmt: skip
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="Read FIELD from COLUMN (repeatable).")  # fmt: skip
@click.option("--batch-size", default=65_536, show_default=True, type=click.IntRange(1),
              help="Transactions per Engine call.")  # fmt: skip
@click.option("--report", is_flag=True, help="Write report.json and report.html (needs --labels).")
@click.option("--compare", "compare_path", type=click.Path(dir_okay=False, exists=True),
              help="Old rule file to compare the rules with (comparison.json).")  # fmt: skip
@click.option("--k", "k_values", default="10,50,100", show_default=True,
              help="Cards per day for the report's precision at k.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bar.")
def replay(
    source: str,
    out: str,
    labels_path: str | None,
    rules_path: str | None,
    config_path: str | None,
    fmt: str | None,
    mapping: tuple[str, ...],
    batch_size: int,
    report: bool,
    compare_path: str | None,
    k_values: str,
    quiet: bool,
) -> None:
    """Replay history through the Engine, as fast as the CPU allows, in event-time order.

    Writes the outputs of `run` (decisions.jsonl, alerts, SMS tasks, dead letters,
    summary.json); with --report a backtest report, with --compare a rule-set comparison.
    """
    from riskstream.replay.driver import replay_history
    from riskstream.replay.inputs import parse_mapping, read_history
    from riskstream.replay.report import Backtest, load_truth, write_report
    from riskstream.rules import load_ruleset

    if report and not labels_path:
        raise click.UsageError("--report needs --labels (the truth to measure against)")
    try:
        ks = [int(k) for k in k_values.split(",") if k.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"--k expects numbers like 10,50,100: {exc}") from exc
    try:
        config = _engine_config(config_path, rules_path)
        labels, rejected = read_labels(labels_path) if labels_path else (None, [])
        engine = Engine(config, labels=labels)
        history = read_history(
            source,
            fmt,
            parse_mapping(mapping),
            batch_size,
            int(config["input"]["max_line_bytes"]),
            int(config["input"]["max_id_length"]),
        )
        old = load_ruleset(compare_path, engine.catalog) if compare_path else None
        backtest = Backtest(engine.rules) if report else None
        collectors = (backtest.add,) if backtest is not None else ()
        with _progress(history.rows, quiet) as advance:
            summary, comparison = replay_history(
                history, out, engine, len(rejected), collectors, old, advance
            )
        truth = load_truth(labels_path) if labels_path else None
        out_dir = Path(out)
        compared = comparison.result(truth) if comparison is not None else None
        if compared is not None:
            (out_dir / "comparison.json").write_bytes(
                orjson.dumps(compared, option=orjson.OPT_INDENT_2)
            )
        if backtest is not None and truth is not None:
            write_report(out_dir, backtest, truth, ks, summary.to_json_dict(), compared)
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    done = summary.to_json_dict()
    order = "in order" if history.sorted_input else "sorted by event time"
    click.echo(
        f"{done['lines_in']} transactions ({history.format}, {order}): "
        f"{done['decisions_out']} decisions, {done['dead_letters_out']} dead letters, "
        f"{done['throughput_tx_per_s']:,} tx/s -> {out}",
        err=True,
    )
    if compared is not None:
        click.echo(
            f"comparison: {compared['changed']} decisions changed "
            f"({', '.join(f'{k}: {v}' for k, v in compared['changed_by_transition'].items())})",
            err=True,
        )


@click.group()
def audit() -> None:
    """Verify decision logs (hash chain) and recompute recorded decisions."""


@audit.command("verify")
@click.argument("log", type=click.Path(dir_okay=False, exists=True))
@click.option("--anchor", help="Expected anchor (hex) when the log has no sidecar.")
def verify(log: str, anchor: str | None) -> None:
    """Check the hash chain of a decision log; exit 1 naming the first broken line."""
    from riskstream.replay.audit import verify_log

    try:
        result = verify_log(log, anchor)
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{log}: {result}")
    if not result.ok:
        sys.exit(1)


@audit.command("replay")
@click.option("--decisions", "decisions_path", required=True,
              type=click.Path(dir_okay=False, exists=True),
              help="A decisions.jsonl to check.")  # fmt: skip
@click.option("--input", "source", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The transactions those decisions were made on.")  # fmt: skip
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False, exists=True),
              help="The labels the run had.")  # fmt: skip
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True),
              help="Candidate rule files or folders, matched by hash (repeatable).")  # fmt: skip
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="The run's engine config (policy thresholds are not in the hash).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN")
@click.option("--show", default=20, show_default=True, help="Mismatches to print.")
def audit_replay(
    decisions_path: str,
    source: str,
    labels_path: str | None,
    rule_files: tuple[str, ...],
    config_path: str | None,
    fmt: str | None,
    mapping: tuple[str, ...],
    show: int,
) -> None:
    """Recompute every recorded decision with its recorded rule set and model snapshot."""
    from riskstream.replay.audit_replay import audit_decisions
    from riskstream.replay.inputs import parse_mapping

    try:
        result = audit_decisions(
            decisions_path,
            source,
            labels_path=labels_path,
            rule_candidates=rule_files,
            config_path=config_path,
            fmt=fmt,
            mapping=parse_mapping(mapping),
        )
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in result.lines(show):
        click.echo(line)
    if not result.ok:
        sys.exit(1)
