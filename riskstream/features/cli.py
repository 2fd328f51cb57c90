"""``riskstream features list`` and ``riskstream profile show``: the catalog and the 360° view.

`features` prints the feature catalog (shipped, or the one a config names) as a table or JSON;
`profile` shows one entity's profile from a store (``--store URL``, or the config's), optionally
after replaying a transactions file into it (``--transactions FILE``, handy with the default
in-process store, which starts empty).
"""

from __future__ import annotations

import sys

import click
import orjson

from riskstream.errors import RiskstreamError
from riskstream.features.catalog import FeatureCatalog

__all__ = ["features", "profile"]


def _catalog(config_path: str | None) -> FeatureCatalog:
    from riskstream.config import load_config

    config = load_config(config_path)
    path = (config.get("features") or {}).get("catalog")
    return FeatureCatalog.load(path) if path else FeatureCatalog.default()


@click.group()
def features() -> None:
    """The feature catalog: every name a rule or a model may read."""


@features.command("list")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config YAML.")
@click.option("--entity", help="Only the features of this entity (tx, customer, card, ...).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feature.")
def list_features(config_path: str | None, entity: str | None, as_json: bool) -> None:
    """Print every feature with its type, entity and description."""
    try:
        catalog = _catalog(config_path)
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    specs = [spec for spec in catalog.values() if entity is None or spec.entity == entity]
    if as_json:
        for spec in specs:
            record = {
                "name": spec.name,
                "type": spec.type.value,
                "entity": spec.entity,
                "description": spec.description,
                "definition": spec.definition,
            }
            sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
        return
    width = max((len(spec.name) for spec in specs), default=4)
    click.echo(f"{'name':<{width}}  {'type':<6}  {'entity':<8}  description")
    for spec in specs:
        click.echo(
            f"{spec.name:<{width}}  {spec.type.value:<6}  {spec.entity:<8}  {spec.description}"
        )
    click.echo(f"\n{len(specs)} features", err=True)


@click.group()
def profile() -> None:
    """Entity profiles: the behaviour the features are computed from."""


_KIND_OPTIONS = ("customer", "card", "device", "merchant", "payee")


@profile.command("show")
@click.option("--customer", help="Customer id.")
@click.option("--card", help="Card id.")
@click.option("--device", help="Device id.")
@click.option("--merchant", help="Merchant id.")
@click.option("--payee", help="Payee id.")
@click.option("--store", "store_url", help="Profile store URL (memory://, redis://, ...).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config YAML.")
@click.option(
    "--transactions",
    type=click.Path(dir_okay=False, exists=True),
    help="Replay this JSON-lines file into the store first.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(
    customer: str | None,
    card: str | None,
    device: str | None,
    merchant: str | None,
    payee: str | None,
    store_url: str | None,
    config_path: str | None,
    transactions: str | None,
    as_json: bool,
) -> None:
    """Print one entity's profile in human terms (habits, recent activity, windows, flags)."""
    given = {
        kind: value
        for kind, value in zip(
            _KIND_OPTIONS, (customer, card, device, merchant, payee), strict=True
        )
        if value is not None
    }
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --customer, --card, --device, --merchant, --payee"
        )
    ((kind, entity_id),) = given.items()
    try:
        view = _load_view(kind, entity_id, store_url, config_path, transactions)
    except RiskstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    if view is None:
        raise click.ClickException(f"no profile for {kind} {entity_id!r}")
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(view, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        from riskstream.features.view import render

        click.echo(render(view))


def _load_view(
    kind: str,
    entity_id: str,
    store_url: str | None,
    config_path: str | None,
    transactions: str | None,
) -> dict | None:
    from riskstream.config import load_config
    from riskstream.features.stage import build_feature_stage
    from riskstream.features.view import describe

    config = load_config(config_path)
    if store_url:
        config["features"] = {**(config.get("features") or {}), "store": store_url}
    stage = build_feature_stage(config, _catalog(config_path))
    try:
        if transactions:
            _replay(stage, transactions, config)
        record = stage.store.get(kind, entity_id)
    finally:
        stage.close()
    return None if record is None else describe(kind, entity_id, record)


def _replay(stage, path: str, config: dict) -> None:  # type: ignore[no-untyped-def]
    """Feed a transactions file through the feature stage (bad lines are skipped)."""
    from riskstream.stream.decode import Decoder

    decoder = Decoder(int(config["input"]["max_line_bytes"]), int(config["input"]["max_id_length"]))
    chunk: list[bytes] = []
    with open(path, "rb") as handle:
        for line in handle:
            line = line.rstrip(b"\r\n")
            if line:
                chunk.append(line)
            if len(chunk) >= 4096:
                stage.compute(decoder.decode(chunk)[0])
                chunk = []
    if chunk:
        stage.compute(decoder.decode(chunk)[0])
