"""The deny list a NO reply feeds, as the Engine reads it (``alerts.deny_list``)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from riskstream.alerts.denylist import DenyList
from riskstream.alerts.tasks import card_hash
from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.errors import AlertError
from riskstream.stream.decode import Decoder


def decide(engine: Engine, records: list[dict]) -> dict[str, tuple[int, list[str]]]:
    lines = [orjson.dumps(r) for r in records]
    batch, dead = Decoder().decode(lines, list(range(len(lines))))
    assert dead == []
    out = {}
    for db in engine.score(batch).decisions:
        for i, tx in enumerate(db.batch.tx_id.tolist()):
            out[tx] = (int(db.decision[i]), db.explanations.get(i, {}).get("rule_hits", []))
    return out


def test_a_store_directory_without_blocks_is_an_empty_list(tmp_path: Path) -> None:
    assert len(DenyList.open(tmp_path)) == 0


def test_a_broken_deny_list_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "card_blocks.jsonl").write_text('{"kind": "card", "card_hash": "ab"\n')
    with pytest.raises(AlertError, match=r"card_blocks\.jsonl"):
        DenyList.open(tmp_path)


def test_the_engine_blocks_denied_cards_and_held_customers_from_their_block_time(
    tmp_path: Path,
) -> None:
    blocks = [
        {"kind": "card", "card_hash": card_hash("card_x"), "blocked_at": "2026-01-02T00:00:00Z"},
        {"kind": "customer", "customer_id": "cu_held", "blocked_at": "2026-01-02T00:00:00Z"},
    ]
    (tmp_path / "card_blocks.jsonl").write_bytes(b"\n".join(map(orjson.dumps, blocks)))
    config = load_config()
    config["alerts"]["deny_list"] = str(tmp_path / "card_blocks.jsonl")
    base = {"amount": 20.0, "currency": "EUR", "channel": "pos", "merchant_id": "me1"}
    records = [
        {**base, "tx_id": "t1", "customer_id": "cu1", "card_id": "card_x",
         "timestamp": "2026-01-01T23:59:59Z"},
        {**base, "tx_id": "t2", "customer_id": "cu1", "card_id": "card_x",
         "timestamp": "2026-01-02T00:00:00Z"},
        {**base, "tx_id": "t3", "customer_id": "cu1", "card_id": "card_y",
         "timestamp": "2026-01-02T00:01:00Z"},
        {**base, "tx_id": "t4", "customer_id": "cu_held", "timestamp": "2026-01-02T00:02:00Z"},
    ]  # fmt: skip
    decided = decide(Engine(config), records)
    denied = {tx: "sms_denied_card" in hits for tx, (_, hits) in decided.items()}
    assert denied == {"t1": False, "t2": True, "t3": False, "t4": True}
    # Without the deny list the same payments are ordinary.
    assert not any("sms_denied_card" in hits for _, hits in decide(Engine(), records).values())
