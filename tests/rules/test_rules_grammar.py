"""The grammar: precedence, literals, lists, dotted names, comments, and every forbidden
construct rejected with its offset."""

from __future__ import annotations

import builtins
import contextlib
from pathlib import Path

import pytest

from riskstream.rules.lexer import ExpressionError, TokenKind, tokenize
from riskstream.rules.limits import RuleLimits
from riskstream.rules.parser import parse
from riskstream.rules.syntax import Call, ListLiteral, Literal, Name, canonical


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a or b and c", "(a or (b and c))"),
        ("(a or b) and c", "((a or b) and c)"),
        ("not a and b", "((not a) and b)"),
        ("not a == b", "(not (a == b))"),
        ("a + b * c - d / e % f", "((a + (b * c)) - ((d / e) % f))"),
        ("-a * b", "((-a) * b)"),
        ("a - -1", "(a - -1.0)"),
        ("a + b > c * 2 and d", "(((a + b) > (c * 2.0)) and d)"),
        ("a - b - c", "((a - b) - c)"),
        ("x in [1, 2] or y not in L", "((x in [1.0, 2.0]) or (y not in L))"),
        ("0 < x < 10", "((0.0 < x) and (x < 10.0))"),
        ("a == b != c", "((a == b) and (b != c))"),
        ("customer.tx_count_1h >= 3", "(customer.tx_count_1h >= 3.0)"),
        ("customer . tx_count_1h", "customer.tx_count_1h"),
        ("abs(a - b) > max(1, c, 2)", "(abs((a - b)) > max(1.0, c, 2.0))"),
        ("f()", "f()"),
        ("True and false or true", "((true and false) or true)"),
        ("x == 'it\\'s' or x == \"a\\\"b\"", '((x == "it\'s") or (x == "a\\"b"))'),
        ("1_000 + 2.5e3 + .5 + 1.", "(((1000.0 + 2500.0) + 0.5) + 1.0)"),
        ("x  # a comment\n and y", "(x and y)"),
        ("[]", "[]"),
        ("[1, 2,]", "[1.0, 2.0]"),
    ],
)
def test_precedence_and_literals(text: str, expected: str) -> None:
    assert canonical(parse(text)) == expected


def test_node_kinds_and_offsets() -> None:
    tree = parse("distance_km(lat, lon, 1, 2) > 10")
    call = tree.left
    assert isinstance(call, Call) and call.func == "distance_km"
    assert isinstance(call.args[0], Name) and call.args[0].name == "lat"
    assert (call.start, call.end) == (0, 27)
    lst = parse("x in ['a', 'b']").right
    assert isinstance(lst, ListLiteral) and [i.value for i in lst.items] == ["a", "b"]
    assert isinstance(parse("'x'"), Literal)


def test_tokens_know_their_places() -> None:
    tokens = tokenize("amount >= 10")
    assert [(t.kind, t.start, t.end) for t in tokens] == [
        (TokenKind.NAME, 0, 6),
        (TokenKind.OP, 7, 9),
        (TokenKind.NUMBER, 10, 12),
        (TokenKind.EOF, 12, 12),
    ]


FORBIDDEN = [
    # (expression, offset of the offending token, words in the message)
    ("lambda x: x", 0, "lambda"),
    ("[x for x in y]", 3, "comprehension"),
    ("amount.real > 1", None, None),  # parses; the checker rejects it (see test_checker)
    ("x[0] == 1", 1, "subscript"),
    ("(x)[0]", 3, "subscript"),
    ("(x).y", 3, "attribute"),
    ("'abc'.upper()", 5, "attribute"),
    ("f(x)(y)", 4, "only functions"),
    ("x = 1", 2, "assignment"),
    ("x += 1", 2, "assignment"),
    ("(y := 1) > 0", 3, "':='"),
    ("import os", 0, "import"),
    ("from os import path", 0, "import"),
    ("__import__('os')", 0, "'__'"),
    ("x.__class__", 2, "'__'"),
    ("amount.__class__.__bases__", 7, "'__'"),
    ("'a' 'b' == x", 4, "unexpected string"),
    ("f'x' == x", 0, "prefix"),
    ("x ** 2 > 1", 2, "power"),
    ("x // 2 > 1", 2, "floor division"),
    ("a && b", 2, "'&&'"),
    ("a || b", 2, "'||'"),
    ("!a", 0, "'!'"),
    ("a & b", 2, "bitwise"),
    ("~a", 0, "bitwise"),
    ("{'a': 1}", 0, "dicts"),
    ("a if b else c", 2, "conditional"),
    ("a ? b : c", 2, "'?:'"),
    ("x is None", 2, "'is'"),
    ("x == None", 5, "'None'"),
    ("x == null", 5, "'null'"),
    ("a; b", 1, "one expression"),
    ("(1, 2)", 2, "tuples"),
    ("f(*args)", 2, "'*'"),
    ("f(a=1)", 3, "assignment"),
    ("def f(): pass", 0, "statement"),
    ("yield x", 0, "statement"),
    ("await x", 0, "statement"),
    ("x = __builtins__", 2, "assignment"),
    ("`x`", 0, "unexpected"),
    ("a $ b", 2, "unexpected"),
    ("\u00e9t\u00e9 > 1", 0, "unexpected character"),
    ("'open", 0, "unterminated"),
    ("'bad \\q escape'", 5, "escape"),
    ("12abc", 0, "malformed number"),
    ("1e+", 1, "exponent"),
    ("a b", 2, "unexpected name"),
    ("(a", 0, "never closed"),
    ("a +", 3, "end of expression"),
    ("", 0, "empty"),
    ("   ", 0, "empty"),
    ("not", 3, "end of expression"),
    ("a not b", 2, "'not'"),
    ("and", 0, "'and'"),
]


@pytest.mark.parametrize(("text", "offset", "words"), FORBIDDEN)
def test_forbidden_constructs_are_rejected_at_their_token(
    text: str, offset: int | None, words: str | None
) -> None:
    if offset is None:
        parse(text)
        return
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.offset == offset, info.value.message
    assert words is not None and words in info.value.message


def test_rejection_has_no_side_effect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is evaluated, imported or executed while parsing hostile text."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec/compile/import must not be called")

    target = tmp_path / "pwned"
    attacks = [
        f"__import__('os').system('touch {target}')",
        f"open('{target}', 'w')",
        "exec('x = 1')",
        "eval('1')",
        "getattr(amount, '__class__')",
        "(lambda: 1)()",
        "[c for c in ().__class__.__bases__[0].__subclasses__()]",
    ]
    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    monkeypatch.setattr(builtins, "compile", boom)
    monkeypatch.setattr(builtins, "__import__", boom)
    for text in attacks:
        with contextlib.suppress(ExpressionError):
            parse(text)
    monkeypatch.undo()
    assert not target.exists()


def test_size_and_depth_limits() -> None:
    limits = RuleLimits(max_depth=5, max_nodes=9, max_expression_chars=40)
    parse("((((a))))", limits)  # parentheses alone add no node, but count as nesting below 5
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("((((((a))))))", limits)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("a + (b + (c + (d + (e + f))))", RuleLimits(max_depth=5))
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("not not not not not not a", limits)
    with pytest.raises(ExpressionError, match="too large"):
        parse("x in [1, 2, 3, 4, 5, 6, 7, 8]", limits)
    with pytest.raises(ExpressionError, match="too long") as info:
        parse("a" * 41, limits)
    assert info.value.offset == 40


def test_default_limits_stop_deep_and_long_input_without_recursion_error() -> None:
    for text in ("(" * 5000 + "a" + ")" * 5000, "-" * 3000 + "1", "not " * 1000 + "a"):
        with pytest.raises(ExpressionError, match=r"too deeply|too long"):
            parse(text, RuleLimits(max_expression_chars=100_000))
    with pytest.raises(ExpressionError, match=r"too large|too deeply"):
        parse(" + ".join(["a"] * 1000), RuleLimits(max_expression_chars=100_000))
