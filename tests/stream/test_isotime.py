"""The vectorised timestamp parser agrees with the general ISO parser, value for value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.stream.decode import _parse_iso
from riskstream.stream.isotime import parse_utc_z

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
instants = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31))


def general(text: str) -> int | None:
    reasons: list[str | None] = [None]
    value = _parse_iso(text, reasons, 0)
    return None if reasons[0] else value


@settings(deadline=None)  # the first example may compile the parser (numba)
@given(instants)
def test_canonical_strings_parse_to_the_same_instant(moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    with_ms = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    no_ms = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = (moment.replace(tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)
    assert parse_utc_z([with_ms], 24)[0].tolist() == [expected] == [general(with_ms)]
    whole_seconds = expected - expected % 1000
    assert parse_utc_z([no_ms], 20)[0].tolist() == [whole_seconds] == [general(no_ms)]


@settings(max_examples=400, deadline=None)
@given(instants, st.integers(0, 23), st.sampled_from("0123456789:-TZ.x +"))
def test_a_mutated_string_is_either_refused_or_read_like_the_general_parser(
    moment: datetime, position: int, char: str
) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    text = text[:position] + char + text[position + 1 :]
    ms, ok = parse_utc_z([text], 24)
    if ok[0]:
        assert general(text) == ms[0]


def test_impossible_dates_are_not_parsed() -> None:
    texts = ["2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z"]
    assert parse_utc_z(texts, 20)[1].tolist() == [False, False, False]
