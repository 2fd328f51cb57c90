"""`riskstream features list` and `riskstream profile show`, through click's CliRunner."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
import redis
from click.testing import CliRunner
from feature_helpers import CATALOG, T0

from riskstream.features.cli import features, profile


def _transactions(path: Path) -> Path:
    lines = []
    for i in range(40):
        record = {
            "tx_id": f"t{i}",
            "customer_id": "alice" if i % 2 else "bob",
            "amount": 12.5 + i,
            "currency": "EUR",
            "timestamp": T0 + i * 600_000,
            "card_id": "card-a" if i % 2 else "card-b",
            "merchant_id": "shop",
            "lat": 48.85,
            "lon": 2.35,
        }
        if i % 10 == 1:
            record.update(type="deposit", amount=21_000.0)
        lines.append(orjson.dumps(record))
    lines.append(b"not json")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_features_list_prints_the_catalog() -> None:
    result = CliRunner().invoke(features, ["list"])
    assert result.exit_code == 0, result.output
    assert "customer.amount_zscore" in result.output
    assert "card.travel_speed_kmh" in result.output
    as_json = CliRunner().invoke(features, ["list", "--json", "--entity", "merchant"])
    records = [orjson.loads(line) for line in as_json.output.splitlines() if line.startswith("{")]
    assert {r["name"] for r in records} == {n for n, s in CATALOG.items() if s.entity == "merchant"}
    assert all(r["type"] and r["definition"] for r in records)


def test_profile_show_replays_a_file_into_the_memory_store(tmp_path: Path) -> None:
    path = _transactions(tmp_path / "tx.jsonl")
    result = CliRunner().invoke(
        profile, ["show", "--customer", "alice", "--transactions", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "customer alice" in result.output
    assert "recent activity" in result.output and "typical amount" in result.output
    assert "deposits by calendar month" in result.output
    as_json = CliRunner().invoke(
        profile, ["show", "--customer", "alice", "--transactions", str(path), "--json"]
    )
    view = orjson.loads(as_json.output)
    assert view["transactions"] == 20
    assert view["activity"]["24h"]["count"] == 20
    assert view["deposits_by_month"]["2026-01"] == 84_000.0
    assert view["schema_version"] == 2 and view["record_bytes"] <= 512


def test_profile_show_reads_redis(tmp_path: Path, redis_url: str) -> None:
    path = _transactions(tmp_path / "tx.jsonl")
    prefix = "tcli" + uuid.uuid4().hex[:8]
    config = tmp_path / "config.yaml"
    config.write_text(f"features:\n  store: {redis_url}\n  key_prefix: {prefix}\n")
    runner = CliRunner()
    loaded = runner.invoke(
        profile,
        ["show", "--merchant", "shop", "--config", str(config), "--transactions", str(path)],
    )
    assert loaded.exit_code == 0, loaded.output
    again = runner.invoke(
        profile, ["show", "--merchant", "shop", "--config", str(config), "--json"]
    )
    assert again.exit_code == 0, again.output
    assert orjson.loads(again.output)["transactions"] == 40
    card = runner.invoke(profile, ["show", "--card", "card-a", "--config", str(config), "--json"])
    assert orjson.loads(card.output)["last_location"]["lat"] == pytest.approx(48.85, abs=1e-4)
    # --store overrides the config's store (same server here)
    direct = runner.invoke(
        profile, ["show", "--card", "card-a", "--config", str(config), "--store", redis_url]
    )
    assert direct.exit_code == 0 and "card card-a" in direct.output
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_profile_show_errors() -> None:
    unknown = CliRunner().invoke(profile, ["show", "--customer", "nobody"])
    assert unknown.exit_code == 1 and "no profile for customer 'nobody'" in unknown.output
    both = CliRunner().invoke(profile, ["show", "--customer", "a", "--card", "b"])
    assert both.exit_code == 2
    bad_store = CliRunner().invoke(profile, ["show", "--customer", "a", "--store", "ftp://x"])
    assert bad_store.exit_code == 1 and "unknown profile store" in bad_store.output
