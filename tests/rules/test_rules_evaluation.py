"""Vectorised evaluation equals the per-row reference (hypothesis), missing-value semantics,
functions, shared subexpressions, and the fuzz test: random text only ever raises RuleError."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream.features.catalog import FeatureCatalog, FeatureType
from riskstream.rules import RuleError, compile_ruleset
from riskstream.rules.checker import Environment
from riskstream.rules.compiler import CompiledExpression, compile_expression
from riskstream.rules.planner import Program, prepare_list
from riskstream.rules.reference import evaluate_row
from riskstream.rules.syntax import ListType
from tests.rules.conftest import make_catalog, make_frame

CATALOG = make_catalog()
LISTS = {"risky": ("NG", "RU", ""), "odd": (13.0, -1.0, 0.5)}
NUM_COLS = ["amount", "hour", "lat", "lon", "customer.tx_count_1h", "customer.amount_zscore"]
STR_COLS = ["country", "channel", "customer.home_country"]
TIME_COLS = ["timestamp", "customer.last_seen"]


def program_and_env() -> tuple[Program, Environment]:
    prepared = {
        "risky": prepare_list(FeatureType.STRING, LISTS["risky"]),
        "odd": prepare_list(FeatureType.NUMBER, LISTS["odd"]),
    }
    env = Environment(CATALOG, {k: ListType(v.element) for k, v in prepared.items()})
    return Program(prepared), env


def compile_one(text: str) -> tuple[CompiledExpression, Program]:
    program, env = program_and_env()
    compiled = compile_expression(text, env, program)
    assert isinstance(compiled, CompiledExpression), [e.message for e in compiled]
    return compiled, program


# -- typed random expressions --------------------------------------------------------------
num_literal = st.sampled_from(["0", "1", "-1", "2.5", "13", "0.5", "1000", "-3.75", "1e3"])
str_literal = st.sampled_from(["'NG'", "'a'", "''", "'FR'", '"RU"'])


@st.composite
def num_expr(draw: st.DrawFn, depth: int = 3) -> str:
    if depth <= 0:
        return draw(st.one_of(num_literal, st.sampled_from(NUM_COLS)))
    d = depth - 1
    choice = draw(st.integers(0, 11))
    if choice <= 2:
        return draw(st.one_of(num_literal, st.sampled_from(NUM_COLS)))
    if choice == 3:
        op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
        return f"({draw(num_expr(d))} {op} {draw(num_expr(d))})"
    if choice == 4:
        return f"-{draw(num_expr(d))}"
    if choice == 5:
        fn = draw(st.sampled_from(["abs", "log", "sqrt"]))
        return f"{fn}({draw(num_expr(d))})"
    if choice == 6:
        fn = draw(st.sampled_from(["min", "max"]))
        args = draw(st.lists(num_expr(d), min_size=2, max_size=3))
        return f"{fn}({', '.join(args)})"
    if choice == 7:
        return f"coalesce({draw(num_expr(d))}, {draw(num_literal)})"
    if choice == 8:
        fn = draw(st.sampled_from(["hour_of", "weekday_of"]))
        return f"{fn}({draw(st.sampled_from(TIME_COLS))})"
    if choice == 9:
        return f"({draw(st.sampled_from(TIME_COLS))} - {draw(st.sampled_from(TIME_COLS))})"
    if choice == 10:
        args = [draw(num_expr(d)) for _ in range(4)]
        return f"distance_km({', '.join(args)})"
    return draw(st.sampled_from(NUM_COLS))


@st.composite
def str_expr(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(str_literal)
    if choice == 1:
        return f"coalesce({draw(st.sampled_from(STR_COLS))}, {draw(str_literal)})"
    return draw(st.sampled_from(STR_COLS))


@st.composite
def bool_expr(draw: st.DrawFn, depth: int = 3) -> str:
    d = depth - 1
    choice = draw(st.integers(0, 12 if depth > 0 else 7))
    if choice <= 1:
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"{draw(num_expr(2))} {op} {draw(num_expr(2))}"
    if choice == 2:
        op = draw(st.sampled_from(["==", "!="]))
        return f"{draw(str_expr())} {op} {draw(str_expr())}"
    if choice == 3:
        op = draw(st.sampled_from(["in", "not in"]))
        lst = draw(st.sampled_from(["risky", "['NG', 'a']", "[]", "['FR']"]))
        return f"{draw(str_expr())} {op} {lst}"
    if choice == 4:
        op = draw(st.sampled_from(["in", "not in"]))
        lst = draw(st.sampled_from(["odd", "[1, 2.5, -1]", "[]", "[13]"]))
        return f"{draw(num_expr(1))} {op} {lst}"
    if choice == 5:
        arg = draw(st.one_of(num_expr(1), str_expr(), st.just("customer.is_new_device")))
        return f"is_missing({arg})"
    if choice == 6:
        return draw(st.sampled_from(["customer.is_new_device", "true", "false"]))
    if choice == 7:
        op = draw(st.sampled_from(["<", ">=", "==", "!="]))
        return f"timestamp {op} customer.last_seen"
    if choice == 8:
        return f"starts_with({draw(str_expr())}, {draw(str_expr())})"
    if choice == 9:
        return f"not ({draw(bool_expr(d))})"
    if choice == 10:
        return f"{draw(num_expr(1))} < {draw(num_expr(1))} <= {draw(num_expr(1))}"
    op = draw(st.sampled_from(["and", "or"]))
    return f"({draw(bool_expr(d))}) {op} ({draw(bool_expr(d))})"


number_value = st.one_of(
    st.sampled_from([math.nan, 0.0, -0.0, 1.0, -1.0, 2.5, 13.0, 0.5, 1000.0, -3.75]),
    st.floats(-1e6, 1e6, allow_nan=False),
)
string_value = st.sampled_from([None, "NG", "RU", "a", "", "FR", "NGA"])
time_value = st.integers(-(10**12), 4 * 10**12)


@st.composite
def rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        row: dict[str, Any] = {name: draw(number_value) for name in NUM_COLS}
        row.update({name: draw(string_value) for name in STR_COLS})
        row.update({name: draw(time_value) for name in TIME_COLS})
        row["customer.is_new_device"] = draw(st.booleans())
        out.append(row)
    return out


def reference_row(row: dict[str, Any]) -> dict[str, Any]:
    full = {name: None for name in CATALOG}
    for name, spec in CATALOG.items():
        if spec.type is FeatureType.NUMBER:
            full[name] = math.nan
        elif spec.type is FeatureType.BOOL:
            full[name] = False
        elif spec.type is FeatureType.TIME:
            full[name] = 0
    full.update(row)
    return full


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=bool_expr(), data=rows())
def test_vectorised_equals_per_row_reference(text: str, data: list[dict[str, Any]]) -> None:
    compiled, program = compile_one(text)
    frame = make_frame(CATALOG, data)
    got = program.run([compiled.root], frame, len(data))[0]
    want = [bool(evaluate_row(compiled.tree, reference_row(r), LISTS)) for r in data]
    assert got.tolist() == want, text


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(bool_expr(2), min_size=2, max_size=6), data=rows())
def test_shared_subexpressions_do_not_change_results(
    texts: list[str], data: list[dict[str, Any]]
) -> None:
    rules = "\n".join(
        f"  - id: r{i}\n    when: |\n      {t}\n    action: review" for i, t in enumerate(texts)
    )
    lists = "lists:\n  risky: [NG, RU, '']\n  odd: [13, -1, 0.5]\n"
    ruleset = compile_ruleset(f"version: 1\n{lists}rules:\n{rules}\n", CATALOG)
    frame = make_frame(CATALOG, data)
    together = ruleset.evaluate(frame, len(data)).hits
    for i, text in enumerate(texts):
        compiled, program = compile_one(text)
        alone = program.run([compiled.root], frame, len(data))[0]
        assert together[i].tolist() == alone.tolist(), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # row 0: country NG, amount 10; row 1: both missing
        ("country == 'NG'", [True, False]),
        ("country != 'NG'", [False, False]),
        ("country != 'FR'", [True, False]),
        ("not (country == 'FR')", [True, True]),
        ("country in ['NG']", [True, False]),
        ("country not in ['FR']", [True, False]),
        ("amount > 5", [True, False]),
        ("amount != 5", [True, False]),
        ("not (amount > 5)", [False, True]),
        ("amount not in [1, 2]", [True, False]),
        ("is_missing(amount) and is_missing(country)", [False, True]),
        ("coalesce(amount, 0) == 0", [False, True]),
        ("coalesce(country, 'XX') == 'XX'", [False, True]),
        ("amount / 0 > 0 or amount / 0 <= 0", [False, False]),
        ("amount % 0 == amount % 0", [False, False]),
        ("is_missing(amount / 0)", [True, True]),
        ("log(amount - 10) > -1e300", [False, False]),
        ("is_missing(sqrt(-1))", [True, True]),
        ("abs(amount) >= 10 or true", [True, True]),
        ("country == customer.home_country", [False, False]),
        ("country != customer.home_country", [True, False]),
        ("customer.is_new_device == false", [True, True]),
        ("is_missing(customer.is_new_device)", [False, False]),
        ("starts_with(country, 'N')", [True, False]),
        ("min(amount, 3) == 3", [True, False]),
    ],
)
def test_missing_value_semantics(text: str, expected: list[bool]) -> None:
    rows_ = [{"country": "NG", "amount": 10.0, "customer.home_country": "FR"}, {}]
    compiled, program = compile_one(text)
    got = program.run([compiled.root], make_frame(CATALOG, rows_), 2)[0]
    assert got.tolist() == expected
    want = [bool(evaluate_row(compiled.tree, reference_row(r), LISTS)) for r in rows_]
    assert want == expected


def test_functions_compute_real_values() -> None:
    ms = 1_700_000_000_000  # 2023-11-14T22:13:20Z, a Tuesday
    rows_ = [{"timestamp": ms, "lat": 48.8566, "lon": 2.3522, "amount": math.e}]
    checks = [
        "hour_of(timestamp) == 22",
        "weekday_of(timestamp) == 1",
        "distance_km(lat, lon, 51.5074, -0.1278) > 343",
        "distance_km(lat, lon, 51.5074, -0.1278) < 344",
        "distance_km(lat, lon, lat, lon) == 0",
        "abs(log(amount) - 1) < 1e-12",
        "sqrt(16) == 4 and max(1, 5, 3) == 5 and min(4, -2) == -2",
        "(timestamp - customer.last_seen) == 1700000000",
        "hour_of(customer.last_seen) == 0 and weekday_of(customer.last_seen) == 3",
    ]
    frame = make_frame(CATALOG, rows_)
    for text in checks:
        compiled, program = compile_one(text)
        assert program.run([compiled.root], frame, 1)[0].tolist() == [True], text


def test_equal_subexpressions_are_planned_once(catalog: FeatureCatalog) -> None:
    text = (
        "version: 1\nrules:\n"
        "  - id: a\n    when: country in ['NG', 'RU'] and amount > 100\n    action: review\n"
        "  - id: b\n    when: (country in ['NG','RU']) and amount > 1_00.0\n    action: block\n"
        "  - id: c\n    when: country in ['NG', 'RU'] and hour < 5\n    action: block\n"
    )
    ruleset = compile_ruleset(text, catalog)
    # a: 7 nodes (2 columns, 2 constants, in, >, and); b is a; c adds hour, 5, <, and
    assert ruleset.program_size == 11


def test_constant_folding_and_empty_batch(catalog: FeatureCatalog) -> None:
    text = (
        "version: 1\nrules:\n"
        "  - id: k\n    when: 1 + 2 * 3 == 7 and 'a' in ['a']\n    action: review\n"
        "  - {id: f, when: amount > 1 and false, action: review}\n"
    )
    ruleset = compile_ruleset(text, catalog)
    frame = make_frame(catalog, [{"amount": 5.0}, {}])
    assert ruleset.evaluate(frame, 2).hits.tolist() == [[True, True], [False, False]]
    empty = ruleset.evaluate(make_frame(catalog, []), 0)
    assert empty.hits.shape == (2, 0)


def test_evaluation_does_not_modify_the_frame(catalog: FeatureCatalog) -> None:
    text = (
        "version: 1\nrules:\n  - id: a\n    when: coalesce(amount, 0) / 0 > 1\n    action: review\n"
    )
    ruleset = compile_ruleset(text, catalog)
    frame = make_frame(catalog, [{"amount": 5.0}, {}])
    before = {k: v.copy() for k, v in frame.items()}
    ruleset.evaluate(frame, 2)
    for name, column in frame.items():
        np.testing.assert_array_equal(column, before[name])


# -- fuzz: anything a user types gives a RuleError or a rule set, never anything else ------
FRAGMENTS = st.sampled_from(
    [
        "amount", "country", "customer.tx_count_1h", "timestamp", "risky", "abs", "log",
        "distance_km", "is_missing", "(", ")", "[", "]", ",", ".", "+", "-", "*", "/", "%",
        "==", "!=", "<", ">=", "and", "or", "not", "in", "not in", "true", "1", "2.5", "1e9",
        "'NG'", "\"x\"", "'", "\"", "lambda", "for", "if", "else", "=", ":=", "**", "__class__",
        "import", ";", ":", "{", "}", "\\", "#", "\n", "\t", " ", "é", "\x00", "|", "&", "@",
        "!", "~", "?", "`", "1_", "0x1", ".5e", "None", "is", "--", "- -", "((", "))",
    ]
)  # fmt: skip
expression_text = st.one_of(
    st.text(max_size=60),
    st.lists(FRAGMENTS, max_size=25).map(" ".join),
    st.lists(FRAGMENTS, max_size=25).map("".join),
)


@settings(max_examples=600, deadline=None)
@given(text=expression_text)
def test_fuzz_expressions_only_raise_rule_errors(text: str) -> None:
    indented = "\n".join("      " + line for line in (text.splitlines() or [""]))
    files = [
        "version: 1\nlists:\n  risky: [NG]\nrules:\n  - id: f\n    action: review\n"
        f"    when: |\n{indented}\n",
        "version: 1\nrules:\n  - id: f\n    action: review\n    when: " + text + "\n",
        text,
    ]
    frame = make_frame(CATALOG, [{"amount": 1.0, "country": "NG"}, {}])
    for file_text in files:
        try:
            ruleset = compile_ruleset(file_text, CATALOG)
        except RuleError as exc:
            assert exc.diagnostics and all(d.line >= 1 and d.column >= 1 for d in exc.diagnostics)
            continue
        ruleset.evaluate(frame, 2)
