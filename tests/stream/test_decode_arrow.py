"""The decoder's Arrow fast path gives exactly what the per-record path gives, or stands aside.

Batches of at least `ARROW_MIN_ROWS` lines are parsed by Arrow's JSON reader first; it must
never accept a line the per-record path (orjson + per-field checks) would reject, nor read a
value differently. Each case decodes the same lines with the fast path on and off. The
threshold is lowered to `SMALL` lines here: what the fast path accepts does not depend on the
batch size, and small batches keep the property tests quick.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.stream import decode
from riskstream.stream.decode import Decoder


def _record(i: int, draw: st.DrawFn, mcc: st.SearchStrategy) -> dict:
    record = {
        "tx_id": f"tx{i:06d}",
        "customer_id": draw(st.sampled_from(["c1", "c2", "cust-3", "客户4"])),
        "amount": draw(
            st.one_of(
                st.integers(0, 10**6),
                st.floats(0, 1e7, allow_nan=False),
                st.sampled_from([0.1, 1e-300, 4800.0, 2.0**53 + 1]),
            )
        ),
        "currency": draw(st.sampled_from(["EUR", "CNY", "USD"])),
        "timestamp": draw(
            st.sampled_from(
                [
                    "2026-01-05T08:15:30.123Z",
                    "2026-01-05T08:15:31Z",
                    "2026-03-01T00:00:00.000Z",
                    "2026-01-05T09:15:30.123+01:00",
                ]
            )
        ),
    }
    optional = {
        "merchant_id": st.sampled_from(["m1", "m2", "caf\u00e9", None]),
        "mcc": mcc,  # strings or numbers, one kind a batch (a mix is a type error to Arrow)
        "channel": st.sampled_from(["pos", "online", None]),
        "country": st.sampled_from(["FR", "CN", None]),
        "device_id": st.sampled_from(["d1", "d2", None]),
        "type": st.sampled_from(["purchase", "transfer", "deposit", None]),
        "lat": st.sampled_from([48.85, -33.9, 0, None]),
        "note": st.sampled_from(["x", "y"]),  # a field the engine does not read
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            record[name] = draw(values)
    if "lat" in record:
        record["lon"] = None if record["lat"] is None else 2.35
    return record


_MUTATIONS: dict[str, object] = {
    "nan_amount": lambda b: b.replace(b'"amount":', b'"amount":NaN,"was":', 1),
    "nan_elsewhere": lambda b: b[:-1] + b',"x":NaN}',
    "infinity": lambda b: b[:-1] + b',"x":-Infinity}',
    "bigint_elsewhere": lambda b: b[:-1] + b',"x":123456789012345678901234567890}',
    "bigint_amount": lambda b: b.replace(b'"amount":', b'"amount":123456789012345678901,"was":', 1),
    "u64_amount": lambda b: b.replace(b'"amount":', b'"amount":18000000000000000000,"was":', 1),
    "duplicate_key": lambda b: b[:-1] + b',"currency":"USD"}',
    "two_objects": lambda b: b + b,
    "trailing_cr": lambda b: b + b"\r",
    "leading_space": lambda b: b" " + b,
    "blank": lambda b: b"",
    "whitespace": lambda b: b"   ",
    "int_customer": lambda b: b.replace(b'"customer_id":', b'"customer_id":123,"was":', 1),
    "escaped_key": lambda b: b.replace(b'"tx_id"', b'"tx\\u005fid"', 1),
    "epoch_timestamp": lambda b: b.replace(b'"timestamp":', b'"timestamp":1767600930123,"w":', 1),
    "raw_tab": lambda b: b.replace(b'"currency":"', b'"currency":"\t', 1),
    "nested_extra": lambda b: b[:-1] + b',"meta":{"a":[1,2]}}',
    "mixed_extra": lambda b: b[:-1] + b',"note":7}',
    "missing_tx_id": lambda b: b.replace(b'"tx_id"', b'"tx_no"', 1),
    "negative_amount": lambda b: b.replace(b'"amount":', b'"amount":-1,"was":', 1),
    "exponent_amount": lambda b: b.replace(b'"amount":', b'"amount":1e5,"was":', 1),
    "bad_utf8": lambda b: b.replace(b'"currency":"', b'"currency":"\xff', 1),
    "lone_surrogate": lambda b: b.replace(b'"tx_id":"', b'"tx_id":"\\ud800', 1),
    "oversized": lambda b: b[:-1] + b',"pad":"' + b"p" * 20000 + b'"}',
    "array": lambda b: b"[" + b + b"]",
    "deep_array": lambda b: b[:-1] + b',"x":' + b"[" * 1100 + b"]" * 1100 + b"}",
    "deep_object": lambda b: b[:-1] + b',"x":' + b'{"a":' * 1100 + b"1" + b"}" * 1100 + b"}",
    "minus_zero_amount": lambda b: b.replace(b'"amount":', b'"amount":-0,"was":', 1),
    "minus_zero_lat": lambda b: b[:-1] + b',"lat":-0,"lon":-0.0}',
    "escaped_duplicate_key": lambda b: b[:-1] + b',"curr\\u0065ncy":"USD"}',
    "inner_newline": lambda b: b.replace(b',"currency"', b',\n"currency"', 1),
    "two_objects_over_lines": lambda b: b + b"\n" + b,
    "bool_amount": lambda b: b.replace(b'"amount":', b'"amount":true,"was":', 1),
    "null_timestamp": lambda b: b.replace(b'"timestamp":', b'"timestamp":null,"was":', 1),
}


SMALL = 64


@pytest.fixture(autouse=True, scope="module")
def _small_arrow_batches() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(decode, "ARROW_MIN_ROWS", SMALL)
        yield


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """A batch of valid lines, a few of them mutated; and how many mutations."""
    n = draw(st.integers(SMALL, SMALL + 40))
    mcc = st.sampled_from(["5411", "0742", None] if draw(st.booleans()) else [5411, 742, None])
    lines = [orjson.dumps(_record(i, draw, mcc)) for i in range(n)]
    mutations = draw(st.integers(0, 3))
    for _ in range(mutations):
        name = draw(st.sampled_from(sorted(_MUTATIONS)))
        i = draw(st.integers(0, n - 1))
        lines[i] = _MUTATIONS[name](lines[i])  # type: ignore[operator]
    return lines, mutations


def _decode_both(lines: list[bytes], monkeypatch: pytest.MonkeyPatch) -> tuple:
    decoder = Decoder(max_line_bytes=16384)
    fast = decoder.decode(lines)
    with monkeypatch.context() as patch:
        patch.setattr(decode, "ARROW_MIN_ROWS", 10**9)
        slow = decoder.decode(lines)
    return fast, slow


def _assert_same(fast: tuple, slow: tuple) -> None:
    (batch_f, dead_f), (batch_s, dead_s) = fast, slow
    assert [(d.offset, d.reason, d.raw) for d in dead_f] == [
        (d.offset, d.reason, d.raw) for d in dead_s
    ]
    for field in dataclasses.fields(batch_f):
        a, b = getattr(batch_f, field.name), getattr(batch_s, field.name)
        if not isinstance(a, np.ndarray):
            continue
        assert a.dtype == b.dtype, field.name
        if a.dtype == object:
            assert a.tolist() == b.tolist(), field.name
        else:  # bit for bit, NaN included
            assert a.tobytes() == b.tobytes(), field.name


@settings(max_examples=150, deadline=None)
@given(batches())
def test_the_fast_path_decodes_exactly_like_the_per_record_path(case: tuple) -> None:
    lines, mutations = case
    if mutations == 0:  # a clean batch: the fast path must not stand aside
        assert decode._decode_clean(lines, 16384, 128) is not None
    with pytest.MonkeyPatch.context() as monkeypatch:
        _assert_same(*_decode_both(lines, monkeypatch))


@pytest.mark.parametrize("mutation", sorted(_MUTATIONS))
def test_each_lenient_arrow_case_is_left_to_the_per_record_path(
    mutation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = {"tx_id": "t", "customer_id": "c", "amount": 12.5, "currency": "EUR",
            "timestamp": "2026-01-05T08:15:30.123Z", "note": "x"}  # fmt: skip
    lines = [orjson.dumps({**base, "tx_id": f"t{i}"}) for i in range(SMALL)]
    lines[7] = _MUTATIONS[mutation](lines[7])  # type: ignore[operator]
    _assert_same(*_decode_both(lines, monkeypatch))


def test_a_clean_batch_takes_the_fast_path() -> None:
    base = {"tx_id": "t", "customer_id": "c", "amount": 12.5, "currency": "EUR",
            "timestamp": "2026-01-05T08:15:30.123Z", "mcc": 5411, "lat": 1, "lon": 2.5}  # fmt: skip
    lines = [orjson.dumps({**base, "tx_id": f"t{i}"}) for i in range(SMALL)]
    columns = decode._decode_clean(lines, 16384, 128)
    assert columns is not None
    assert columns["mcc"][0] == "5411" and columns["timestamp"][0] == 1767600930123
