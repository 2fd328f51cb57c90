"""The output records, as JSON lines: decisions, alerts, SMS tasks and dead letters.

Every driver writes the same records, built here from a `DecisionBatch`. Only rows with rule
hits carry explanation objects; everything else is built from columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from riskstream.batch import DeadLetter
from riskstream.decisions import CHALLENGE, DECISION_NAMES
from riskstream.engine import DecisionBatch

__all__ = [
    "alert_records",
    "dead_letter_lines",
    "decision_line",
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

    Every row is formatted from one template over the columns, numbers as Python writes them
    (6 decimals at most; NaN as null), so a decision's bytes depend on the decision alone,
    never on the batch it came in. Only rows with hits pay for serialising an explanation.
    """
    n = len(db)
    explain = db.explanations
    batch = db.batch
    tx_ids = _json_strings(batch.tx_id.tolist())
    customers = _json_strings(batch.customer_id.tolist())
    names = [DECISION_NAMES[c] for c in db.decision.tolist()]
    scores = _json_numbers(db.score)
    model_scores = _json_numbers(db.model_score)
    probabilities = _json_numbers(db.fraud_probability)
    times = iso_times(batch.timestamp)
    latency = db.latency_us.tolist() if len(db.latency_us) else [0] * n
    template = _template(db)
    lines = []
    for i in range(n):
        hits, shadow, features, extra = (
            _explained(explain[i]) if i in explain else ("[]", "[]", "{}", "")
        )
        row = (tx_ids[i], customers[i], names[i], scores[i], hits, shadow, model_scores[i])
        tail = (probabilities[i], features, times[i], latency[i], extra)
        lines.append((template % (*row, *tail)).encode())
    return lines


def decision_line(
    db: DecisionBatch, i: int, why: dict[str, Any], event_time: str, latency_us: int
) -> bytes:
    """The line of row ``i`` alone, byte for byte what `decision_lines` writes for it."""
    batch = db.batch
    hits, shadow, features, extra = _explained(why)
    row = (
        _json_strings([batch.tx_id[i]])[0],
        _json_strings([batch.customer_id[i]])[0],
        DECISION_NAMES[db.decision[i]],
        _json_numbers(db.score[i : i + 1])[0],
        hits,
        shadow,
        _json_numbers(db.model_score[i : i + 1])[0],
    )
    tail = (_json_numbers(db.fraud_probability[i : i + 1])[0], features, event_time, latency_us)
    return (_template(db) % (*row, *tail, extra)).encode()


def _template(db: DecisionBatch) -> str:
    constant = orjson.dumps(
        {
            "ruleset_hash": db.ruleset_hash,
            "model_snapshot": db.model_snapshot,
            "engine_version": db.engine_version,
        }
    ).decode()[1:-1]
    return (
        '{"tx_id":%s,"customer_id":%s,"decision":"%s","score":%s,"rule_hits":%s,'
        '"shadow_hits":%s,"model_score":%s,"fraud_probability":%s,"features":%s,'
        + constant
        + ',"event_time":"%s","latency_us":%d%s}\n'
    )


def _explained(why: dict[str, Any]) -> tuple[str, str, str, str]:
    """The JSON texts of a hit row's explanation: hits, shadow hits, features, extras."""
    extra = ""
    if why.get("tags"):
        extra += ',"tags":' + orjson.dumps(why["tags"]).decode()
    if why.get("notifications"):
        extra += ',"notifications":' + orjson.dumps(why["notifications"]).decode()
    return (
        orjson.dumps(why["rule_hits"]).decode(),
        orjson.dumps(why["shadow_hits"]).decode(),
        orjson.dumps(why["features"]).decode(),
        extra,
    )


def _json_numbers(values: np.ndarray) -> list[str]:
    """Numbers rounded to 6 decimals as JSON text (Python's repr); NaN becomes null.

    >>> _json_numbers(np.array([0.5, 5e-05, np.nan, 0.1234567]))
    ['0.5', '5e-05', 'null', '0.123457']
    """
    missing = np.isnan(values)
    if missing.all():
        return ["null"] * len(values)
    rounded = np.round(values, 6).tolist()
    if not missing.any():
        return list(map(repr, rounded))
    return ["null" if m else repr(v) for v, m in zip(rounded, missing.tolist(), strict=True)]


def _json_strings(values: list[str]) -> list[str]:
    """Strings as JSON text: quoted as they are when nothing needs escaping, else by orjson.

    >>> _json_strings(["tx1", 'a"b'])
    ['"tx1"', '"a\\\\"b"']
    """
    text = "".join(values)
    if text.isprintable() and '"' not in text and "\\" not in text:
        return ['"' + v + '"' for v in values]
    return [orjson.dumps(v).decode() for v in values]


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
