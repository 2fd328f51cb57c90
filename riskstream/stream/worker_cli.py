"""``riskstream worker``, ``riskstream produce`` and ``riskstream consume`` (click commands).

``worker`` runs the faust app of `riskstream.stream.faust_app` against a Kafka cluster with
profiles in Redis; ``produce`` feeds a JSON-lines file into a topic (key = ``customer_id``),
``consume`` prints or writes a topic's records. The commands are registered on the main
group by `riskstream.cli`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
import orjson

from riskstream.config import load_config
from riskstream.errors import RiskstreamError

__all__ = ["consume", "produce", "worker"]


@click.command()
@click.option("--brokers", required=True, help="Kafka bootstrap servers, host:port[,host:port].")
@click.option(
    "--redis",
    "redis_url",
    help="Profile store: redis://HOST:PORT/DB or "
    "redis+cluster://HOST:PORT (default: config features.store).",
)
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False), help="Rule file YAML.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config YAML.")
@click.option("--web-port", type=int, help="Port of /metrics, /healthz, /readyz.")
@click.option("--group", help="Consumer group / faust app id (default: config worker.app_id).")
@click.option(
    "--loglevel",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def worker(
    brokers: str,
    redis_url: str | None,
    rules_path: str | None,
    config_path: str | None,
    web_port: int | None,
    group: str | None,
    loglevel: str,
) -> None:
    """Score the transactions topic with a faust worker; decisions go to the decisions topic.

    At-least-once with idempotent effects: a transaction processed again after a crash gets
    the same decision (same decision_id) and counts once in every profile. SIGTERM finishes
    the batch in hand, commits and exits. JSON logs go to stderr.
    """
    from riskstream.stream.faust_app import run_worker

    try:
        config = load_config(config_path)
        if rules_path:
            config["rules"]["path"] = rules_path
        if redis_url:
            config["features"]["store"] = redis_url
        section = config.setdefault("worker", {})
        if web_port is not None:
            section["web_port"] = web_port
        if group:
            section["app_id"] = group
        run_worker(config, brokers, loglevel)
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--brokers", required=True, help="Kafka bootstrap servers, host:port[,host:port].")
@click.option("--topic", default="transactions", show_default=True)
@click.option("--input", "source", required=True, help="JSON-lines file, or - for stdin.")
@click.option("--rate", type=float, help="Records per second (default: as fast as possible).")
@click.option("--key-field", default="customer_id", show_default=True, help="Partitioning key.")
def produce(brokers: str, topic: str, source: str, rate: float | None, key_field: str) -> None:
    """Send each line of a file to a topic, keyed by its customer_id (same customer, same
    partition, so a customer's transactions stay in order)."""
    from riskstream.stream.kafka_tools import key_of, produce_lines

    try:
        handle = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    except OSError as exc:
        raise click.ClickException(f"cannot read {source}: {exc.strerror}") from exc
    with handle:
        try:
            report = asyncio.run(
                produce_lines(brokers, topic, handle, rate, key=lambda v: key_of(v, key_field))
            )
        except RiskstreamError as exc:
            raise click.ClickException(str(exc)) from exc
    rate_done = report.records / report.seconds if report.seconds else 0.0
    click.echo(
        f"{report.records} records ({report.bytes} bytes) to {topic} in {report.seconds:.2f} s "
        f"({rate_done:,.0f}/s)",
        err=True,
    )


@click.command()
@click.option("--brokers", required=True, help="Kafka bootstrap servers, host:port[,host:port].")
@click.option("--topic", default="decisions", show_default=True, multiple=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write here (default: stdout).")
@click.option("--count", type=int, help="Stop after this many records.")
@click.option(
    "--idle",
    type=float,
    default=5.0,
    show_default=True,
    help="Stop after this many seconds without a record (0: never).",
)
@click.option("--group", help="Consumer group to commit to (default: none, read from start).")
@click.option(
    "--audit",
    is_flag=True,
    help="With --out: one line per decision_id (first kept), hash-chained with a "
    ".chain sidecar (riskstream-audit/1).",
)
def consume(
    brokers: str,
    topic: tuple[str, ...],
    out: str | None,
    count: int | None,
    idle: float,
    group: str | None,
    audit: bool,
) -> None:
    """Read records (from the beginning) as JSON lines, until idle, a count, or Ctrl-C."""
    from riskstream.replay.audit import ChainedWriter, sidecar_path
    from riskstream.stream.kafka_tools import consume_lines

    if audit and not out:
        raise click.UsageError("--audit needs --out")

    async def run() -> int:
        seen: set[bytes] = set()
        n = 0
        handle = open(out, "wb") if out else sys.stdout.buffer  # noqa: SIM115
        writer = ChainedWriter(handle, sidecar=sidecar_path(Path(out))) if audit else None
        try:
            async for batch in consume_lines(
                brokers, list(topic), count=count, idle_s=idle or None, group=group
            ):
                lines = []
                for *_, value in batch:
                    if audit:
                        ident = orjson.loads(value).get("decision_id", "").encode() or value
                        if ident in seen:
                            continue
                        seen.add(ident)
                    lines.append(value.rstrip(b"\n") + b"\n")
                n += len(lines)
                if writer is not None:
                    writer.write_lines(lines)
                else:
                    handle.writelines(lines)
                    handle.flush()
        finally:
            if writer is not None:
                writer.close(True)
            if out:
                handle.close()
        return n

    try:
        n = asyncio.run(run())
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        return
    click.echo(f"{n} records from {', '.join(topic)}", err=True)
