"""Decision records: the fast template and the orjson path write the same JSON."""

from __future__ import annotations

import numpy as np
import orjson
from stream_helpers import make_transactions

from riskstream.engine import DecisionBatch
from riskstream.stream.decode import Decoder
from riskstream.stream.records import decision_line, decision_lines, iso_times


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


def reference_record(db: DecisionBatch, i: int) -> dict:
    """The decision record of row i, built field by field from the contract."""
    why = db.explanations.get(i, {"rule_hits": [], "shadow_hits": [], "features": {}})
    probability = float(db.fraud_probability[i])
    return {
        "tx_id": db.batch.tx_id[i],
        "customer_id": db.batch.customer_id[i],
        "decision": ["allow", "review", "challenge", "block"][db.decision[i]],
        "score": round(float(db.score[i]), 6),
        "rule_hits": why["rule_hits"],
        "shadow_hits": why["shadow_hits"],
        "model_score": round(float(db.model_score[i]), 6),
        "fraud_probability": None if np.isnan(probability) else round(probability, 6),
        "features": why["features"],
        "ruleset_hash": db.ruleset_hash,
        "model_snapshot": db.model_snapshot,
        "engine_version": db.engine_version,
        "event_time": iso_times(db.batch.timestamp[i : i + 1])[0],
        "latency_us": int(db.latency_us[i]),
    }


def test_lines_hold_exactly_the_contract_fields() -> None:
    db = _decisions()
    for i, line in enumerate(decision_lines(db)):
        assert orjson.loads(line) == reference_record(db, i)
        assert line.endswith(b"\n") and line.count(b"\n") == 1


def test_a_line_does_not_depend_on_its_batch() -> None:
    db = _decisions(['quo"te'])  # one id that needs escaping changes nothing for the others
    lines = decision_lines(db)
    times = iso_times(db.batch.timestamp)
    for i in range(len(db)):
        why = db.explanations.get(i, {"rule_hits": [], "shadow_hits": [], "features": {}})
        assert decision_line(db, i, why, times[i], int(db.latency_us[i])) == lines[i]


def test_ids_that_need_escaping_are_escaped() -> None:
    db = _decisions(['quo"te', "back\\slash", "tab\there", "汉字"])
    decoded = [orjson.loads(line) for line in decision_lines(db)]
    assert [d["tx_id"] for d in decoded[:4]] == ['quo"te', "back\\slash", "tab\there", "汉字"]
