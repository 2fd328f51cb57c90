"""Decoding and validation: every class of bad input becomes a dead letter with its reason."""

from __future__ import annotations

import base64

import orjson
import pytest

from riskstream.stream.decode import Decoder

GOOD = {
    "tx_id": "t1",
    "customer_id": "c1",
    "amount": 12.5,
    "currency": "EUR",
    "timestamp": "2026-01-05T08:15:30.123Z",
}


def line(**changes: object) -> bytes:
    record = {**GOOD, **changes}
    return orjson.dumps({k: v for k, v in record.items() if v is not _DROP})


_DROP = object()


def reasons_of(lines: list[bytes]) -> list[str]:
    _, dead = Decoder(max_line_bytes=4096).decode(lines)
    return [d.reason for d in dead]


def test_a_valid_record_becomes_one_column_row() -> None:
    batch, dead = Decoder().decode(
        [line(card_id="k1", mcc=5411, lat=48.85, lon=2.35, country="FR", type="purchase")]
    )
    assert dead == []
    assert batch.tx_id.tolist() == ["t1"]
    assert batch.amount.tolist() == [12.5]
    assert batch.mcc.tolist() == ["5411"]  # an integer MCC is normalised to 4 digits
    assert batch.lat.tolist() == [48.85] and batch.country.tolist() == ["FR"]
    assert batch.device_id.tolist() == [None]  # absent optional field -> None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "invalid_json"),
        (b'{"tx_id": "t1",', "invalid_json"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b'"a string"', "not_an_object"),
        (b"[1, 2, 3]", "not_an_object"),
        (b"42", "not_an_object"),
        (b'{"tx_id":"t","customer_id":"c","amount":1e999,"currency":"EUR"}', "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, "oversized"),
        (b"[" * 2000 + b"]" * 2000, "invalid_json"),  # nesting deeper than the parser allows
    ],
)
def test_unparseable_lines_are_dead_lettered(raw: bytes, reason: str) -> None:
    assert reasons_of([raw]) == [reason]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tx_id": _DROP}, "missing_field:tx_id"),
        ({"customer_id": None}, "missing_field:customer_id"),
        ({"amount": _DROP}, "missing_field:amount"),
        ({"currency": _DROP}, "missing_field:currency"),
        ({"timestamp": _DROP}, "missing_field:timestamp"),
        ({"tx_id": 17}, "wrong_type:tx_id"),
        ({"tx_id": ""}, "invalid_value:tx_id"),
        ({"tx_id": "x" * 129}, "invalid_value:tx_id"),
        ({"customer_id": ["c1"]}, "wrong_type:customer_id"),
        ({"amount": "12.5"}, "wrong_type:amount"),
        ({"amount": True}, "wrong_type:amount"),
        ({"amount": -1}, "invalid_value:amount"),
        ({"currency": "eur"}, "invalid_value:currency"),
        ({"currency": "EURO"}, "invalid_value:currency"),
        ({"timestamp": "2026-01-05T08:15:30"}, "invalid_value:timestamp"),  # no offset
        ({"timestamp": "2026-13-05T08:15:30Z"}, "invalid_value:timestamp"),
        ({"timestamp": "yesterday"}, "invalid_value:timestamp"),
        ({"timestamp": 1.5}, "wrong_type:timestamp"),
        ({"timestamp": -5}, "invalid_value:timestamp"),
        ({"card_id": 5}, "wrong_type:card_id"),
        ({"device_id": ""}, "invalid_value:device_id"),
        ({"mcc": "54"}, "invalid_value:mcc"),
        ({"mcc": 12.0}, "wrong_type:mcc"),
        ({"country": "France"}, "invalid_value:country"),
        ({"type": "theft"}, "invalid_value:type"),
        ({"lat": 91.0, "lon": 0.0}, "invalid_value:lat"),
        ({"lat": 0.0, "lon": 181.0}, "invalid_value:lon"),
        ({"lat": 10.0}, "invalid_value:lon"),
        ({"lat": "10", "lon": 1.0}, "wrong_type:lat"),
        ({"payee_id": {"nested": {"deep": [1]}}}, "wrong_type:payee_id"),
    ],
)
def test_invalid_fields_are_dead_lettered_with_a_reason(changes: dict, reason: str) -> None:
    assert reasons_of([line(**changes)]) == [reason]


def test_the_first_failing_field_names_the_reason() -> None:
    assert reasons_of([line(amount=-1, currency="x")]) == ["invalid_value:amount"]


@pytest.mark.parametrize(
    ("stamp", "epoch_ms"),
    [
        ("2026-01-05T08:15:30.123Z", 1_767_600_930_123),
        ("2026-01-05T08:15:30Z", 1_767_600_930_000),
        ("2026-01-05T09:15:30.123+01:00", 1_767_600_930_123),
        ("2026-01-05T03:15:30.123456-05:00", 1_767_600_930_123),
        (1_767_600_930_123, 1_767_600_930_123),
    ],
)
def test_timestamps_in_every_accepted_form(stamp: object, epoch_ms: int) -> None:
    batch, dead = Decoder().decode([line(timestamp=stamp)])
    assert dead == []
    assert batch.timestamp.tolist() == [epoch_ms]


def test_a_refund_is_a_positive_amount_with_type_refund() -> None:
    batch, dead = Decoder().decode([line(amount=30, type="refund")])
    assert dead == [] and batch.type.tolist() == ["refund"]


def test_dead_letters_keep_raw_bytes_and_offsets() -> None:
    raw = [line(), b"\xff\xfe garbage", line(tx_id="t2", amount=-3)]
    _, dead = Decoder().decode(raw, offsets=[10, 11, 12])
    records = [d.to_json_dict() for d in dead]
    assert records[0]["offset"] == 11
    assert base64.b64decode(records[0]["raw_b64"]) == raw[1]
    assert "raw" not in records[0]
    assert records[1] == {"reason": "invalid_value:amount", "offset": 12, "raw": raw[2].decode()}


def test_one_bad_record_does_not_spoil_the_batch() -> None:
    lines = [line(tx_id=f"t{i}") for i in range(100)]
    lines[50] = line(tx_id="t50", timestamp="2026-99-05T08:15:30.123Z")
    batch, dead = Decoder().decode(lines)
    assert len(batch) == 99 and [d.offset for d in dead] == [50]
    assert "t50" not in batch.tx_id.tolist()
    assert batch.offset.tolist() == [i for i in range(100) if i != 50]
