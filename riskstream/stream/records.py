"""The output records, as JSON lines: decisions, alerts, SMS tasks and dead letters.

Every driver writes the same records, built here from a `DecisionBatch`. Only rows with rule
hits carry explanation objects; everything else is built from columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

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


def decision_lines(db: DecisionBatch) -> list[bytes]:
    """One JSON line (with its newline) per decision, in batch order.

    Rows without any rule hit, the vast majority, are formatted from a template over the
    columns; rows with hits (and any row whose ids would need JSON escaping) go through
    orjson with their explanation. Both produce the same JSON.
    """
    n = len(db)
    explain = db.explanations
    batch = db.batch
    tx_ids = batch.tx_id.tolist()
    customers = batch.customer_id.tolist()
    names = [DECISION_NAMES[c] for c in db.decision.tolist()]
    scores = np.round(db.score, 6).tolist()
    model_scores = np.round(db.model_score, 6).tolist()
    probabilities = _json_numbers(db.fraud_probability)
    times = iso_times(batch.timestamp)
    latency = db.latency_us.tolist() if len(db.latency_us) else [0] * n
    constant = orjson.dumps(
        {
            "ruleset_hash": db.ruleset_hash,
            "model_snapshot": db.model_snapshot,
            "engine_version": db.engine_version,
        }
    ).decode()[1:-1]
    template = (
        '{"tx_id":"%s","customer_id":"%s","decision":"%s","score":%r,"rule_hits":[],'
        '"shadow_hits":[],"model_score":%r,"fraud_probability":%s,"features":{},'
        + constant
        + ',"event_time":"%s",'
        '"latency_us":%d}\n'
    )
    plain = _needs_no_escaping(tx_ids, customers) and np.isfinite(db.model_score).all()
    lines = []
    for i in range(n):
        if plain and i not in explain:
            row = (tx_ids[i], customers[i], names[i], scores[i], model_scores[i])
            lines.append((template % (*row, probabilities[i], times[i], latency[i])).encode())
        else:
            lines.append(_decision_json(db, i, explain.get(i, _NO_HITS), times[i], latency[i]))
    return lines


def _json_numbers(values: np.ndarray) -> list[str]:
    """Numbers rounded to 6 decimals as JSON text; NaN (not available) becomes null."""
    missing = np.isnan(values)
    if missing.all():
        return ["null"] * len(values)
    rounded = np.round(values, 6).tolist()
    return ["null" if m else repr(v) for v, m in zip(rounded, missing.tolist(), strict=True)]


def _optional_number(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


def _needs_no_escaping(*columns: list[str]) -> bool:
    """True when every string is plain printable ASCII without quotes or backslashes."""
    text = "".join(chain.from_iterable(columns))
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _decision_json(
    db: DecisionBatch, i: int, why: dict[str, Any], event_time: str, latency_us: int
) -> bytes:
    batch = db.batch
    model_score = float(db.model_score[i])
    record = {
        "tx_id": batch.tx_id[i],
        "customer_id": batch.customer_id[i],
        "decision": DECISION_NAMES[db.decision[i]],
        "score": round(float(db.score[i]), 6),
        "rule_hits": why["rule_hits"],
        "shadow_hits": why["shadow_hits"],
        "model_score": round(model_score, 6) if np.isfinite(model_score) else None,
        "fraud_probability": _optional_number(db.fraud_probability[i]),
        "features": why["features"],
        "ruleset_hash": db.ruleset_hash,
        "model_snapshot": db.model_snapshot,
        "engine_version": db.engine_version,
        "event_time": event_time,
        "latency_us": latency_us,
    }
    if why.get("tags"):
        record["tags"] = why["tags"]
    if why.get("notifications"):
        record["notifications"] = why["notifications"]
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


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
