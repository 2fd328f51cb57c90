"""The type checker: names, did-you-mean hints, type mismatches, lists, non-bool conditions."""

from __future__ import annotations

import pytest

from riskstream.features.catalog import FeatureCatalog, FeatureType
from riskstream.rules.checker import Environment, check
from riskstream.rules.parser import parse
from riskstream.rules.syntax import ListType


@pytest.fixture
def env(catalog: FeatureCatalog) -> Environment:
    return Environment(
        catalog,
        {
            "risky": ListType(FeatureType.STRING),
            "small": ListType(FeatureType.NUMBER),
            "empty": ListType(None),
        },
    )


def errors_of(text: str, env: Environment) -> list[tuple[int, str, str | None]]:
    errors, _, _ = check(parse(text), env)
    return [(e.offset, e.message, e.hint) for e in errors]


@pytest.mark.parametrize(
    "text",
    [
        "amount > 10 and customer.is_new_device",
        "country in risky or amount in small or channel not in ['pos', 'atm']",
        "country in empty or amount not in []",
        "timestamp - customer.last_seen < 60",
        "timestamp > customer.last_seen",
        "hour_of(timestamp) < 6 and weekday_of(timestamp) >= 5",
        "distance_km(lat, lon, customer.home_lat, customer.home_lon) > 500",
        "is_missing(country) or is_missing(amount) or is_missing(customer.is_new_device)",
        "coalesce(country, 'XX') != customer.home_country",
        "coalesce(amount, 0) / max(1, customer.tx_count_1h) > 3 % 2",
        "log(amount) > sqrt(abs(-4)) and min(amount, 3) == 3",
        "starts_with(mcc, '59') and not (amount == -1)",
        "customer.is_new_device == true and -amount < 0",
        "true",
    ],
)
def test_well_typed_expressions_check(text: str, env: Environment) -> None:
    assert errors_of(text, env) == []


def test_features_read_are_collected_in_order(env: Environment) -> None:
    _, features, lists = check(parse("country in risky and amount > hour and amount > 1"), env)
    assert features == ["country", "amount", "hour"]
    assert lists == ["risky"]


@pytest.mark.parametrize(
    ("text", "offset", "message", "hint"),
    [
        ("amout > 10", 0, "unknown name 'amout'", "did you mean 'amount'?"),
        (
            "customer.tx_count_1hr > 1",
            0,
            "unknown name 'customer.tx_count_1hr'",
            "did you mean 'customer.tx_count_1h'?",
        ),
        ("country in riskyy", 11, "unknown name 'riskyy'", "did you mean 'risky'?"),
        ("zzz > 1", 0, "unknown name 'zzz'", None),
        (
            "amount.real > 1",
            0,
            "unknown name 'amount.real': 'amount' is a number and has no attributes",
            None,
        ),
        ("amount > 'abc'", 7, "cannot compare number with string", None),
        (
            "amount > '100'",
            7,
            "cannot compare number with string",
            "write the number without quotes",
        ),
        ("timestamp > 5", 10, "cannot compare time with number", None),
        (
            "country > 'a'",
            8,
            "'>' compares numbers or times, not strings",
            "use '==', '!=' or 'in'",
        ),
        ("mcc in [5967, 7995]", 4, "'in': the value is a string but the list holds numbers", None),
        ("amount in risky", 7, "'in': the value is a number but the list holds strings", None),
        ("x in [1, 'a']", 0, "unknown name 'x'", None),
        ("amount in [1, 'a']", 14, "list mixes number and string items", None),
        ("amount in [1, amount]", 14, "list items must be literals", None),
        ("amount in amount", 10, "'in' needs a list on its right, got number", None),
        ("[1, 2] == [1, 2]", 0, "a list can only be used on the right of 'in'", None),
        ("risky", 0, "a list can only be used on the right of 'in'", None),
        ("amount", 0, "a rule condition must be a bool, got number", None),
        ("country", 0, "a rule condition must be a bool, got string", None),
        ("amount + 1", 0, "a rule condition must be a bool, got number", None),
        ("amount and true", 0, "'and' needs bool operands, got number", None),
        ("true or 'x'", 8, "'or' needs bool operands, got string", None),
        ("not amount", 0, "'not' needs a bool, got number", None),
        ("-country == 1", 0, "'-' needs a number, got string", None),
        ("country + 'x' == 'ax'", 8, "'+' needs two numbers, got string and string", None),
        ("timestamp + 1 > 0", 10, "'+' needs two numbers, got time and number", None),
        ("eval('1')", 0, "unknown function 'eval'", None),
        ("open('x')", 0, "unknown function 'open'", None),
        ("os.system('ls')", 0, "unknown function 'os.system'", None),
        ("country.upper() == 'A'", 0, "unknown function 'country.upper'", None),
        ("abss(amount) > 1", 0, "unknown function 'abss'", "did you mean 'abs'?"),
        ("amount(1) > 1", 0, "'amount' is a feature, not a function", None),
        ("abs > 1", 0, "'abs' is a function", None),
        ("abs(country) > 1", 0, "abs() argument 1 must be a number, got string", None),
        ("abs(1, 2) > 1", 0, "abs() takes 1 argument(s), got 2", None),
        ("max(1) > 1", 0, "max() takes 2 or more arguments, got 1", None),
        ("coalesce(amount, 'x') > 1", 0, "coalesce() both arguments must have the same type", None),
        ("hour_of(amount) > 1", 0, "hour_of() argument 1 must be a time, got number", None),
        ("is_missing(risky)", 11, "a list can only be used on the right of 'in'", None),
    ],
)
def test_errors_have_offsets_messages_and_hints(
    text: str, offset: int, message: str, hint: str | None, env: Environment
) -> None:
    errors = errors_of(text, env)
    assert errors, text
    got_offset, got_message, got_hint = errors[0]
    assert got_offset == offset
    assert got_message.startswith(message), got_message
    if hint is not None:
        assert got_hint == hint


def test_all_errors_of_an_expression_are_reported(env: Environment) -> None:
    errors = errors_of("amout > 1 and countri == 'x' and hour > 'y'", env)
    assert [e[0] for e in errors] == [0, 14, 38]


def test_missing_value_semantics_are_documented() -> None:
    from riskstream.rules import planner

    assert 'x != "a"' in (planner.__doc__ or "")
