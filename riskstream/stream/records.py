"""The output records, as JSON lines: decisions, alerts, SMS tasks and dead letters.

Every driver writes the same records, built here from a `DecisionBatch`. Only rows with rule
hits carry explanation objects; everything else is built from columns.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import orjson

from riskstream.batch import DeadLetter
from riskstream.decisions import CHALLENGE, DECISION_NAMES
from riskstream.engine import DecisionBatch

__all__ = [
    "alert_records",
    "dead_letter_lines",
    "decision_lines",
    "iso_times",
    "sms_task_records",
]

_NO_HITS: dict = {"rule_hits": [], "shadow_hits": [], "features": {}}


def iso_times(epoch_ms: np.ndarray) -> list[str]:
    """Epoch milliseconds as ISO 8601 UTC strings with milliseconds and Z.

    >>> iso_times(np.array([1767600930123]))
    ['2026-01-05T08:15:30.123Z']
    """
    text = np.datetime_as_string(epoch_ms.astype("datetime64[ms]"), unit="ms")
    return [s + "Z" for s in text.tolist()]


def decision_lines(db: DecisionBatch) -> Iterator[bytes]:
    """One JSON line (with its newline) per decision, in batch order."""
    batch = db.batch
    names = DECISION_NAMES
    decisions = db.decision.tolist()
    scores = np.round(db.score, 6).tolist()
    model_scores = np.round(db.model_score, 6).tolist()
    times = iso_times(batch.timestamp)
    latency = db.latency_us.tolist() if len(db.latency_us) else [0] * len(batch)
    explain = db.explanations
    dumps = orjson.dumps
    for i, tx_id in enumerate(batch.tx_id.tolist()):
        why = explain.get(i, _NO_HITS)
        record = {
            "tx_id": tx_id,
            "customer_id": batch.customer_id[i],
            "decision": names[decisions[i]],
            "score": scores[i],
            "rule_hits": why["rule_hits"],
            "shadow_hits": why["shadow_hits"],
            "model_score": model_scores[i],
            "features": why["features"],
            "ruleset_hash": db.ruleset_hash,
            "model_snapshot": db.model_snapshot,
            "engine_version": db.engine_version,
            "event_time": times[i],
            "latency_us": latency[i],
        }
        if why.get("tags"):
            record["tags"] = why["tags"]
        if why.get("notifications"):
            record["notifications"] = why["notifications"]
        yield dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def alert_records(db: DecisionBatch, alert_codes: frozenset[int]) -> Iterator[dict]:
    """An alert for every decision whose code is in ``alert_codes`` (review and above)."""
    batch = db.batch
    codes = db.decision
    rows = np.flatnonzero(np.isin(codes, list(alert_codes)))
    if len(rows) == 0:
        return
    times = iso_times(batch.timestamp[rows])
    for k, i in enumerate(rows.tolist()):
        why = db.explanations.get(i, _NO_HITS)
        yield {
            "alert_id": f"alert-{batch.tx_id[i]}",
            "tx_id": batch.tx_id[i],
            "customer_id": batch.customer_id[i],
            "decision": DECISION_NAMES[codes[i]],
            "score": round(float(db.score[i]), 6),
            "rule_hits": why["rule_hits"],
            "features": why["features"],
            "amount": float(batch.amount[i]),
            "currency": batch.currency[i],
            "merchant_id": batch.merchant_id[i],
            "event_time": times[k],
            "ruleset_hash": db.ruleset_hash,
        }


def sms_task_records(db: DecisionBatch) -> Iterator[dict]:
    """A pending SMS-confirmation task for every challenged transaction (id from the tx id)."""
    batch = db.batch
    rows = np.flatnonzero(db.decision == CHALLENGE)
    if len(rows) == 0:
        return
    times = iso_times(batch.timestamp[rows])
    for k, i in enumerate(rows.tolist()):
        yield {
            "task_id": f"sms-{batch.tx_id[i]}",
            "tx_id": batch.tx_id[i],
            "customer_id": batch.customer_id[i],
            "amount": float(batch.amount[i]),
            "currency": batch.currency[i],
            "merchant_id": batch.merchant_id[i],
            "state": "pending",
            "created_at": times[k],
        }


def dead_letter_lines(dead: list[DeadLetter]) -> Iterator[bytes]:
    for letter in dead:
        yield orjson.dumps(letter.to_json_dict(), option=orjson.OPT_APPEND_NEWLINE)
