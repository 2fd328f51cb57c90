"""The `riskstream` command line: one click group; each area contributes its own commands."""

from __future__ import annotations

import logging
import sys

import click

from riskstream import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="riskstream")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Logs go to stderr; they never carry card or phone numbers.",
)
def main(log_level: str) -> None:
    """riskstream: a real-time transaction risk engine."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _register() -> None:
    """Attach the commands that each sub-package owns (kept here so `--help` lists them all)."""
    from riskstream.alerts.cli import sms
    from riskstream.features.cli import features, profile
    from riskstream.replay.cli import audit, replay
    from riskstream.rules.cli import rules
    from riskstream.simulate.cli import simulate
    from riskstream.stream.cli import run
    from riskstream.stream.worker_cli import consume, produce, worker

    for command in (
        run, replay, worker, produce, consume, simulate, rules, features, profile, sms, audit,
    ):  # fmt: skip
        main.add_command(command)


_register()


if __name__ == "__main__":
    main()
