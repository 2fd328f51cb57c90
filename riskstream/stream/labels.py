"""Reading label files (``tx_id``, ``is_fraud``, ``label_time``; other columns ignored).

Labels come from SMS replies, chargebacks and analysts; they are data, so a bad line is
counted and skipped (with its line number in the log), never fatal.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import orjson

from riskstream.batch import DeadLetter
from riskstream.engine import LabelFeed
from riskstream.errors import InputError
from riskstream.stream.decode import parse_event_times

__all__ = ["read_labels"]

log = logging.getLogger(__name__)


def read_labels(path: str | Path) -> tuple[LabelFeed, list[DeadLetter]]:
    """Load a JSON-lines label file into a `LabelFeed`; invalid lines are returned apart."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read labels {path}: {exc.strerror}") from exc
    entries = [(i, line) for i, line in enumerate(raw.split(b"\n")) if line.strip()]
    parsed = [_parse_label(line) for _, line in entries]
    times, time_reasons = parse_event_times([p[3] for p in parsed])
    tx_ids: list[str] = []
    frauds: list[bool] = []
    keep: list[int] = []
    rejected: list[DeadLetter] = []
    for k, ((index, line), (reason, tx_id, is_fraud, _)) in enumerate(
        zip(entries, parsed, strict=True)
    ):
        reason = reason or (time_reasons[k] and "invalid_value:label_time")
        if reason:
            rejected.append(DeadLetter(index, reason, line))
            continue
        tx_ids.append(tx_id)
        frauds.append(is_fraud)
        keep.append(k)
    if rejected:
        log.warning("labels %s: %d invalid lines skipped", path, len(rejected))
    feed = LabelFeed(np.array(tx_ids, dtype=object), np.array(frauds, dtype=bool), times[keep])
    return feed, rejected


def _parse_label(line: bytes) -> tuple[str, str, bool, object]:
    """(reason or "", tx_id, is_fraud, raw label_time) of one label line."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "invalid_json", "", False, None
    if type(obj) is not dict:
        return "not_an_object", "", False, None
    tx_id, is_fraud = obj.get("tx_id"), obj.get("is_fraud")
    if type(tx_id) is not str or not tx_id:
        return "invalid_value:tx_id", "", False, None
    if type(is_fraud) is not bool:
        return "invalid_value:is_fraud", "", False, None
    return "", tx_id, is_fraud, obj.get("label_time")
