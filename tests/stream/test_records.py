"""Decision records: the fast template and the orjson path write the same JSON."""

from __future__ import annotations

import numpy as np
import orjson
from stream_helpers import make_transactions

from riskstream.engine import DecisionBatch
from riskstream.stream.decode import Decoder
from riskstream.stream.records import _decision_json, decision_lines, iso_times


def _decisions(tx_ids: list[str] | None = None) -> DecisionBatch:
    lines = make_transactions(50)
    if tx_ids is not None:
        records = [orjson.loads(x) for x in lines]
        for record, tx_id in zip(records, tx_ids, strict=False):
            record["tx_id"] = tx_id
        lines = [orjson.dumps(r) for r in records]
    batch, dead = Decoder().decode(lines)
    assert not dead
    rng = np.random.default_rng(1)
    return DecisionBatch(
        batch=batch,
        decision=rng.integers(0, 4, len(batch)).astype(np.int8),
        score=rng.random(len(batch)),
        model_score=rng.random(len(batch)) * 1e-3,
        fraud_probability=np.where(rng.random(len(batch)) < 0.5, np.nan, rng.random(len(batch))),
        explanations={3: {"rule_hits": ["r1"], "shadow_hits": [], "features": {"amount": 1.0}}},
        ruleset_hash="abc",
        model_snapshot="snap-1",
        latency_us=np.arange(len(batch), dtype=np.int64),
    )


def test_template_lines_equal_the_orjson_lines() -> None:
    db = _decisions()
    fast = decision_lines(db)
    times = iso_times(db.batch.timestamp)
    empty = {"rule_hits": [], "shadow_hits": [], "features": {}}
    for i, line in enumerate(fast):
        why = db.explanations.get(i, empty)
        reference = _decision_json(db, i, why, times[i], int(db.latency_us[i]))
        assert orjson.loads(line) == orjson.loads(reference)
        assert line.endswith(b"\n") and line.count(b"\n") == 1


def test_ids_that_need_escaping_are_escaped() -> None:
    db = _decisions(['quo"te', "back\\slash", "tab\there", "汉字"])
    decoded = [orjson.loads(line) for line in decision_lines(db)]
    assert [d["tx_id"] for d in decoded[:4]] == ['quo"te', "back\\slash", "tab\there", "汉字"]
