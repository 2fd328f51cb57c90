"""The tokenizer of the rule language: expression text -> tokens with their offsets.

It knows every symbol a Python or CEL user might type, including the forbidden ones (``=``,
``:=``, ``**``, ``lambda`` ...), so the parser can reject each with a precise message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["ExpressionError", "Token", "TokenKind", "tokenize"]


class ExpressionError(Exception):
    """A problem at an offset of an expression (internal; turned into a `RuleDiagnostic`)."""

    def __init__(self, offset: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.hint = hint


class TokenKind(Enum):
    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    OP = "operator"
    EOF = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the source text
    start: int
    end: int
    value: float | str | None = None


# Longest first, so that "<=" wins over "<".
_SYMBOLS = (
    "**=", "//=", ">>=", "<<=", "...",
    "==", "!=", "<=", ">=", ":=", "**", "//", "->", "&&", "||", "<<", ">>",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
    "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".", "=", "!", "&", "|",
    "^", "~", "@", "{", "}", ":", ";", "?", "`", "$", "\\",
)  # fmt: skip
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}
_DIGITS = "0123456789"


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ch in _DIGITS


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; raise `ExpressionError` at the first bad character.

    Examples
    --------
    >>> [t.text for t in tokenize("amount >= 1_000 and mcc in ['5967']")]
    ['amount', '>=', '1_000', 'and', 'mcc', 'in', '[', "'5967'", ']', '']
    >>> tokenize("a = 1")[1].text
    '='
    >>> tokenize("'open")
    Traceback (most recent call last):
    ...
    riskstream.rules.lexer.ExpressionError: unterminated string
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == "#":  # a comment runs to the end of the line
            while i < n and text[i] != "\n":
                i += 1
        elif _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            tokens.append(Token(TokenKind.NAME, text[i:j], i, j))
            i = j
        elif ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
            tokens.append(_number(text, i))
            i = tokens[-1].end
        elif ch in "'\"":
            tokens.append(_string(text, i))
            i = tokens[-1].end
        else:
            for sym in _SYMBOLS:
                if text.startswith(sym, i):
                    tokens.append(Token(TokenKind.OP, sym, i, i + len(sym)))
                    i += len(sym)
                    break
            else:
                if ch.isidentifier():
                    raise ExpressionError(i, f"unexpected character {ch!r}", "names are ASCII")
                raise ExpressionError(i, f"unexpected character {ch!r}")
    tokens.append(Token(TokenKind.EOF, "", n, n))
    return tokens


def _number(text: str, i: int) -> Token:
    n = len(text)
    j = i

    def digits(j: int) -> int:
        start = j
        while j < n and (text[j] in _DIGITS or (text[j] == "_" and j > start)):
            j += 1
        if text[j - 1] == "_":
            raise ExpressionError(j - 1, "a number cannot end with '_'")
        return j

    if text[j] != ".":
        j = digits(j)
    if j < n and text[j] == "." and not (j + 1 < n and _is_name_start(text[j + 1])):
        j += 1
        if j < n and text[j] in _DIGITS:
            j = digits(j)
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and text[k] in _DIGITS:
            j = digits(k)
        else:
            raise ExpressionError(j, "malformed number exponent")
    if j < n and _is_name_char(text[j]):
        raise ExpressionError(
            i, f"malformed number {text[i : j + 1]!r}", "numbers are decimal, like 1000 or 2.5e3"
        )
    raw = text[i:j]
    return Token(TokenKind.NUMBER, raw, i, j, float(raw.replace("_", "")))


def _string(text: str, i: int) -> Token:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    n = len(text)
    while j < n:
        ch = text[j]
        if ch == quote:
            return Token(TokenKind.STRING, text[i : j + 1], i, j + 1, "".join(out))
        if ch == "\n":
            break
        if ch == "\\":
            if j + 1 < n and text[j + 1] in _ESCAPES:
                out.append(_ESCAPES[text[j + 1]])
                j += 2
                continue
            raise ExpressionError(
                j, "unsupported escape in string", "escapes are \\\\ \\' \\\" \\n \\t"
            )
        out.append(ch)
        j += 1
    raise ExpressionError(i, "unterminated string")
