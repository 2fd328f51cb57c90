"""The `riskstream` command line: one click group; each area contributes its own commands."""

from __future__ import annotations

import click

from riskstream import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="riskstream")
def main() -> None:
    """riskstream: a real-time transaction risk engine."""


def _register() -> None:
    """Attach the commands that each sub-package owns (kept here so `--help` lists them all)."""
    from riskstream.simulate.cli import simulate
    from riskstream.stream.cli import run

    main.add_command(run)
    main.add_command(simulate)


_register()


if __name__ == "__main__":
    main()
