"""`riskstream rules`: `check` rule files (diagnostics as FILE:LINE:COLUMN) and `test` them
against cases. Exit status 0 when everything is valid and passes, 1 otherwise; no traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from riskstream.errors import ConfigError
from riskstream.features.catalog import FeatureCatalog
from riskstream.rules.cases import run_cases
from riskstream.rules.diagnostics import RuleError, format_diagnostics
from riskstream.rules.loader import load_ruleset

__all__ = ["rules"]


def _catalog(path: str | None) -> FeatureCatalog:
    try:
        return FeatureCatalog.load(path) if path else FeatureCatalog.default()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _print_error(exc: RuleError) -> None:
    click.echo(format_diagnostics(exc.diagnostics))
    if exc.total > len(exc.diagnostics):
        click.echo(f"... and {exc.total - len(exc.diagnostics)} more error(s)")


_CATALOG = click.option(
    "--catalog",
    type=click.Path(dir_okay=False),
    default=None,
    help="Feature catalog YAML (default: the shipped catalog).",
)


@click.group("rules")
def rules() -> None:
    """Check and test rule files."""


@rules.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_CATALOG
@click.pass_context
def check(ctx: click.Context, files: tuple[str, ...], catalog: str | None) -> None:
    """Type-check rule FILES; print each error as FILE:LINE:COLUMN: message."""
    cat = _catalog(catalog)
    failed = 0
    for file in files:
        try:
            ruleset = load_ruleset(file, cat)
        except RuleError as exc:
            _print_error(exc)
            failed += 1
            continue
        shadow = sum(1 for r in ruleset.rules if not r.active)
        click.echo(
            f"{file}: ok, {len(ruleset.rules)} rules ({shadow} shadow), hash {ruleset.hash[:12]}"
        )
    if failed:
        ctx.exit(1)


@rules.command("test")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--cases", "cases_file", type=click.Path(dir_okay=False), required=True, help="Cases YAML."
)
@_CATALOG
@click.pass_context
def test(ctx: click.Context, file: str, cases_file: str, catalog: str | None) -> None:
    """Run the CASES of a cases file against rule FILE."""
    cat = _catalog(catalog)
    try:
        ruleset = load_ruleset(file, cat)
        text = Path(cases_file).read_text(encoding="utf-8")
        results = run_cases(ruleset, text, cat, cases_file)
    except RuleError as exc:
        _print_error(exc)
        ctx.exit(1)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {cases_file}: {exc}") from None
    failed = [r for r in results if not r.passed]
    for result in results:
        if result.passed:
            click.echo(f"PASS {result.name}")
        else:
            click.echo(f"FAIL {result.name} ({cases_file}:{result.line})")
            for problem in result.problems:
                click.echo(f"    {problem}")
    click.echo(f"{len(results) - len(failed)} cases passed, {len(failed)} failed")
    if failed:
        ctx.exit(1)
