"""The parser of the rule language: tokens -> syntax tree (a Pratt parser, no Python `ast`).

Grammar (Python-like, lowest precedence first)::

    expr     := expr "or" expr | expr "and" expr | "not" expr
              | sum (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") sum)*
    sum      := sum ("+" | "-") term | term
    term     := term ("*" | "/" | "%") unary | unary
    unary    := ("-" | "+") unary | atom
    atom     := NUMBER | STRING | "true" | "false" | NAME ("." NAME)* [ "(" args ")" ]
              | "(" expr ")" | "[" [expr ("," expr)* [","]] "]"

A comparison chain ``a < b < c`` means ``a < b and b < c``. Everything else a Python or CEL user
might try (assignment, walrus, lambda, comprehension, subscript, attribute access on a value,
``**``, ``//``, bit operators, dicts, ``if``/``else``, ``is``, ``None``, imports, ``__dunder__``
names) is rejected here with its offset and a hint. Size and depth limits are enforced as the
tree is built, so no input can make it recurse without bound.
"""

from __future__ import annotations

from riskstream.rules.lexer import ExpressionError, Token, TokenKind, tokenize
from riskstream.rules.limits import RuleLimits
from riskstream.rules.syntax import BinaryOp, Call, ListLiteral, Literal, Name, Node, UnaryOp

__all__ = ["parse"]

_OR, _AND, _NOT, _CMP, _SUM, _TERM, _UNARY = 1, 2, 3, 4, 5, 6, 7
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_INFIX_SYMBOLS = {"+": _SUM, "-": _SUM, "*": _TERM, "/": _TERM, "%": _TERM} | dict.fromkeys(
    _COMPARISONS, _CMP
)
_INFIX_WORDS = {"and": _AND, "or": _OR, "in": _CMP}

_ASSIGN = ("assignment is not allowed in rule expressions", "use '==' to compare")
_BITWISE = ("bitwise operators are not supported", "use 'and', 'or', 'not' for conditions")
_SYMBOL_ERRORS: dict[str, tuple[str, str | None]] = {
    "=": _ASSIGN,
    ":=": ("assignment expressions (':=') are not allowed", None),
    "**": ("'**' (power) is not supported", None),
    "//": ("'//' (floor division) is not supported", "use '/'"),
    "&&": ("'&&' is not supported", "use 'and'"),
    "||": ("'||' is not supported", "use 'or'"),
    "!": ("'!' is not supported", "use 'not'"),
    "&": _BITWISE,
    "|": _BITWISE,
    "^": _BITWISE,
    "~": _BITWISE,
    "<<": _BITWISE,
    ">>": _BITWISE,
    "{": ("dicts and sets are not allowed", "a list is written [a, b]"),
    "}": ("dicts and sets are not allowed", "a list is written [a, b]"),
    ":": ("':' is not allowed (no slices, dicts or lambdas)", None),
    ";": ("only one expression is allowed", "combine conditions with 'and' / 'or'"),
    "?": ("the conditional operator '?:' is not supported", "write separate rules"),
    "@": ("'@' is not supported", None),
    "*": ("unexpected '*'", "unpacking is not allowed"),
}
for _sym in ("+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "**=", "//=", ">>=", "<<="):
    _SYMBOL_ERRORS[_sym] = _ASSIGN

_STATEMENT = "is a Python statement keyword; a rule is a single expression"
_KEYWORD_ERRORS: dict[str, tuple[str, str | None]] = {
    "lambda": ("lambdas are not allowed in rule expressions", None),
    "for": ("comprehensions and loops are not allowed", "use 'in' with a list"),
    "while": ("loops are not allowed", None),
    "if": ("conditional expressions are not allowed", "write separate rules"),
    "else": ("conditional expressions are not allowed", "write separate rules"),
    "import": ("imports are not allowed", None),
    "from": ("imports are not allowed", None),
    "is": ("'is' is not supported", "use '==', or is_missing(x) for a missing value"),
    "None": ("'None' is not a value here", "use is_missing(x)"),
    "null": ("'null' is not a value here", "use is_missing(x)"),
    "nil": ("'nil' is not a value here", "use is_missing(x)"),
}
_STATEMENTS = "def class return yield async await with as del global nonlocal pass raise try"
for _kw in [*_STATEMENTS.split(), "except", "finally", "assert", "break", "continue", "elif"]:
    _KEYWORD_ERRORS[_kw] = (f"'{_kw}' {_STATEMENT}", None)
_STRING_PREFIXES = {"f", "r", "b", "u", "rb", "br", "fr", "rf", "F", "R", "B", "U"}
_BOOLS = {"true": True, "false": False, "True": True, "False": False}


def parse(text: str, limits: RuleLimits | None = None) -> Node:
    """Parse an expression; raise `ExpressionError` (with an offset) when it is not valid.

    Examples
    --------
    >>> from riskstream.rules.syntax import canonical
    >>> canonical(parse("a + b * c > 2 or not d and e"))
    '(((a + (b * c)) > 2.0) or ((not d) and e))'
    >>> canonical(parse("0 < x <= 10"))
    '((0.0 < x) and (x <= 10.0))'
    >>> parse("x = 1")
    Traceback (most recent call last):
    ...
    riskstream.rules.lexer.ExpressionError: assignment is not allowed in rule expressions
    """
    limits = limits or RuleLimits()
    if len(text) > limits.max_expression_chars:
        raise ExpressionError(
            limits.max_expression_chars,
            f"expression is too long ({len(text)} characters; the limit is "
            f"{limits.max_expression_chars})",
            "split it into several rules, or move long lists into named lists",
        )
    if not text.strip():
        raise ExpressionError(0, "empty expression")
    return _Parser(tokenize(text), limits).parse()


def _describe(tok: Token) -> str:
    if tok.kind is TokenKind.EOF:
        return "end of expression"
    if tok.kind is TokenKind.NAME:
        return f"name {tok.text!r}"
    return f"{tok.kind.value} {tok.text}" if tok.kind is not TokenKind.OP else repr(tok.text)


class _Parser:
    def __init__(self, tokens: list[Token], limits: RuleLimits) -> None:
        self.tokens = tokens
        self.pos = 0
        self.limits = limits
        self.nesting = 0

    # -- helpers ---------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind is not TokenKind.EOF:
            self.pos += 1
        return tok

    def is_op(self, tok: Token, text: str) -> bool:
        return tok.kind is TokenKind.OP and tok.text == text

    def expect(self, text: str, opened: Token) -> Token:
        tok = self.peek()
        if self.is_op(tok, text):
            return self.advance()
        if tok.kind is TokenKind.EOF:
            raise ExpressionError(opened.start, f"{opened.text!r} is never closed")
        raise self.unexpected(tok, f"expected {text!r}")

    def unexpected(self, tok: Token, expected: str | None = None) -> ExpressionError:
        if tok.kind is TokenKind.OP and tok.text in _SYMBOL_ERRORS:
            message, hint = _SYMBOL_ERRORS[tok.text]
            return ExpressionError(tok.start, message, hint)
        if tok.kind is TokenKind.NAME and tok.text in _KEYWORD_ERRORS:
            message, hint = _KEYWORD_ERRORS[tok.text]
            return ExpressionError(tok.start, message, hint)
        message = f"unexpected {_describe(tok)}"
        hint = expected
        if tok.kind is TokenKind.EOF:
            hint = "an operand is missing"
        elif tok.kind is TokenKind.STRING and self.pos > 0:
            hint = "strings are not concatenated; compare them with '==' or use 'in'"
        elif tok.kind in (TokenKind.NAME, TokenKind.NUMBER) and self.pos > 0:
            hint = "an operator is missing"
        return ExpressionError(tok.start, message, hint)

    def make(self, node: Node, at: int) -> Node:
        kids = node.children()
        node.depth = 1 + max((k.depth for k in kids), default=0)
        node.size = 1 + sum(k.size for k in kids)
        if node.depth > self.limits.max_depth:
            raise ExpressionError(
                at,
                f"expression is nested too deeply (the limit is {self.limits.max_depth})",
                "split it into several rules",
            )
        if node.size > self.limits.max_nodes:
            raise ExpressionError(
                at,
                f"expression is too large (more than {self.limits.max_nodes} nodes)",
                "split it into several rules, or move long lists into named lists",
            )
        return node

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.expr(0)
        tok = self.peek()
        if tok.kind is not TokenKind.EOF:
            if self.is_op(tok, ","):
                raise ExpressionError(tok.start, "tuples are not allowed", "a list is [a, b]")
            raise self.unexpected(tok, "expected an operator or the end of the expression")
        return node

    def expr(self, min_bp: int) -> Node:
        self.nesting += 1
        if self.nesting > self.limits.max_depth:
            raise ExpressionError(
                self.peek().start,
                f"expression is nested too deeply (the limit is {self.limits.max_depth})",
                "split it into several rules",
            )
        left = self.prefix()
        chain_right: Node | None = None
        while True:
            tok = self.peek()
            op, bp = self.infix(tok)
            if op is None or bp <= min_bp:
                break
            self.advance()
            if op == "not in":
                self.advance()
            if bp == _CMP:
                right = self.expr(_CMP)
                if chain_right is not None:
                    cmp = self.binop(op, chain_right, right, tok)
                    left = self.binop("and", left, cmp, tok)
                else:
                    left = self.binop(op, left, right, tok)
                chain_right = right
            else:
                left = self.binop(op, left, self.expr(bp), tok)
                chain_right = None
        self.nesting -= 1
        return left

    def binop(self, op: str, left: Node, right: Node, tok: Token) -> Node:
        node = BinaryOp(left.start, right.end, op=op, left=left, right=right, op_start=tok.start)
        return self.make(node, tok.start)

    def infix(self, tok: Token) -> tuple[str | None, int]:
        if tok.kind is TokenKind.OP:
            if tok.text in _INFIX_SYMBOLS:
                return tok.text, _INFIX_SYMBOLS[tok.text]
            if tok.text in ("(", "[", "."):
                raise self.postfix_error(tok)
            if tok.text in (")", "]", ","):
                return None, 0
            raise self.unexpected(tok)
        if tok.kind is TokenKind.NAME:
            if tok.text in _INFIX_WORDS:
                return tok.text, _INFIX_WORDS[tok.text]
            if tok.text == "not":
                nxt = self.peek(1)
                if nxt.kind is TokenKind.NAME and nxt.text == "in":
                    return "not in", _CMP
                raise ExpressionError(tok.start, "unexpected 'not'", "did you mean 'not in'?")
            if tok.text in _KEYWORD_ERRORS:
                raise self.unexpected(tok)
        return None, 0

    def postfix_error(self, tok: Token) -> ExpressionError:
        if tok.text == "[":
            return ExpressionError(tok.start, "subscripting is not allowed")
        if tok.text == ".":
            return ExpressionError(
                tok.start,
                "attribute access is only allowed on catalog names",
                "names are written in full, like customer.tx_count_1h",
            )
        return ExpressionError(tok.start, "only functions can be called", "e.g. abs(x)")

    def prefix(self) -> Node:
        tok = self.advance()
        if tok.kind is TokenKind.NUMBER:
            assert isinstance(tok.value, float)
            return self.make(Literal(tok.start, tok.end, value=tok.value), tok.start)
        if tok.kind is TokenKind.STRING:
            assert isinstance(tok.value, str)
            return self.make(Literal(tok.start, tok.end, value=tok.value), tok.start)
        if tok.kind is TokenKind.NAME:
            return self.name(tok)
        if tok.kind is TokenKind.OP:
            if tok.text == "(":
                inner = self.expr(0)
                if self.is_op(self.peek(), ","):
                    raise ExpressionError(self.peek().start, "tuples are not allowed",
                                          "a list is written [a, b]")  # fmt: skip
                close = self.expect(")", tok)
                inner.start, inner.end = min(inner.start, tok.start), max(inner.end, close.end)
                return inner
            if tok.text == "[":
                return self.list_literal(tok)
            if tok.text in ("-", "+"):
                operand = self.expr(_UNARY - 1)
                if isinstance(operand, Literal) and isinstance(operand.value, float):
                    value = -operand.value if tok.text == "-" else operand.value
                    return self.make(Literal(tok.start, operand.end, value=value), tok.start)
                return self.make(
                    UnaryOp(tok.start, operand.end, op=tok.text, operand=operand), tok.start
                )
        self.pos -= 1 if tok.kind is not TokenKind.EOF else 0
        raise self.unexpected(tok)

    def name(self, tok: Token) -> Node:
        text = tok.text
        if text in _BOOLS:
            return self.make(Literal(tok.start, tok.end, value=_BOOLS[text]), tok.start)
        if text == "not":
            operand = self.expr(_NOT - 1)
            return self.make(UnaryOp(tok.start, operand.end, op="not", operand=operand), tok.start)
        if text in _KEYWORD_ERRORS or text in ("and", "or", "in"):
            self.pos -= 1
            raise self.unexpected(tok)
        if text in _STRING_PREFIXES and self.peek().kind is TokenKind.STRING:
            raise ExpressionError(tok.start, "string prefixes (f, r, b, u) are not supported")
        parts = [tok]
        while self.is_op(self.peek(), ".") and self.peek(1).kind is TokenKind.NAME:
            self.advance()
            parts.append(self.advance())
        for part in parts:
            if part.text.startswith("__"):
                raise ExpressionError(part.start, "names starting with '__' are not allowed")
        dotted = ".".join(p.text for p in parts)
        end = parts[-1].end
        if self.is_op(self.peek(), "("):
            return self.call(dotted, tok.start, self.advance())
        return self.make(Name(tok.start, end, name=dotted), tok.start)

    def call(self, func: str, start: int, opened: Token) -> Node:
        args: list[Node] = []
        while not self.is_op(self.peek(), ")"):
            args.append(self.expr(0))
            if self.is_op(self.peek(), "="):
                raise ExpressionError(self.peek().start, "keyword arguments are not supported")
            if not self.is_op(self.peek(), ","):
                break
            self.advance()
        close = self.expect(")", opened)
        return self.make(Call(start, close.end, func=func, args=args), start)

    def list_literal(self, opened: Token) -> Node:
        items: list[Node] = []
        while not self.is_op(self.peek(), "]"):
            items.append(self.expr(0))
            tok = self.peek()
            if tok.kind is TokenKind.NAME and tok.text == "for":
                raise ExpressionError(tok.start, "comprehensions are not allowed",
                                      "use 'in' with a list")  # fmt: skip
            if not self.is_op(tok, ","):
                break
            self.advance()
        close = self.expect("]", opened)
        return self.make(ListLiteral(opened.start, close.end, items=items), opened.start)
