"""The seed's marketing rule through the whole engine: simulated deposits, real features."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson

from riskstream.engine import Engine
from riskstream.simulate import simulate
from riskstream.stream.embedded import run_embedded


def test_big_depositors_are_tagged_once_per_qualifying_month(tmp_path: Path) -> None:
    data = tmp_path / "data"
    manifest = simulate(customers=150, days=100, seed=11, out_dir=data)  # Jan 1 to Apr 10
    run_embedded(data / "transactions.jsonl", str(tmp_path / "out"), Engine())
    deposits: dict[tuple[str, str], float] = defaultdict(float)
    for line in (data / "transactions.jsonl").read_bytes().splitlines():
        tx = orjson.loads(line)
        if tx["type"] == "deposit":
            deposits[(tx["customer_id"], tx["timestamp"][:7])] += tx["amount"]
    tagged = []
    for line in (tmp_path / "out" / "decisions.jsonl").read_bytes().splitlines():
        decision = orjson.loads(line)
        if "high_potential" in decision.get("tags", []):
            assert decision["decision"] == "allow"  # notify never changes a decision
            assert decision["notifications"][0]["rule"] == "high_potential_depositor"
            tagged.append((decision["customer_id"], decision["event_time"][:7]))
    assert tagged, "the simulator's big depositors qualify in March"
    assert len(set(tagged)) == len(tagged)  # once per customer and qualifying month
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    for customer, month in tagged:
        k = months.index(month)
        assert k >= 2
        assert all(deposits[(customer, m)] > 20_000 for m in months[k - 2 : k + 1])
    expected = {
        c for c in {c for c, _ in deposits} if all(deposits[(c, m)] > 20_000 for m in months[:3])
    }
    assert {c for c, m in tagged if m == "2026-03"} == expected
    assert expected <= set(manifest.big_depositors)
