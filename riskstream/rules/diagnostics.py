"""Diagnostics of the rule language: where a problem is (file, line, column, rule id), what it
is, and a hint; sorted by position, capped, and printed with the source line and a caret.

`RuleError` (a `riskstream.errors.RuleError`) carries the list; nothing else escapes a load.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from riskstream import errors

__all__ = ["RuleDiagnostic", "RuleError", "SourceText", "format_diagnostics"]


@dataclass(frozen=True, order=True)
class RuleDiagnostic:
    """One problem found in a rule file or expression.

    Parameters
    ----------
    file
        The file (or ``<string>``) the problem is in.
    line, column
        1-based position of the offending token in that file.
    message
        What is wrong, one sentence.
    rule_id
        The rule it belongs to, when it belongs to one.
    hint
        How to fix it, when a hint helps (``did you mean 'amount'?``).
    source_line
        The text of the file's line, for the caret display.

    Examples
    --------
    >>> d = RuleDiagnostic("r.yaml", 4, 11, "unknown name 'amout'", "big", "did you mean 'amount'?",
    ...                    "    when: amout > 10")
    >>> print(d.format())
    r.yaml:4:11: rule 'big': unknown name 'amout'
        when: amout > 10
              ^
      hint: did you mean 'amount'?
    """

    file: str
    line: int
    column: int
    message: str
    rule_id: str | None = None
    hint: str | None = None
    source_line: str | None = None

    def headline(self) -> str:
        """``FILE:LINE:COLUMN: message`` (with the rule id when there is one)."""
        where = f"rule {self.rule_id!r}: " if self.rule_id else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"

    def format(self) -> str:
        """The headline, the source line with a caret under the column, and the hint."""
        lines = [self.headline()]
        if self.source_line is not None:
            text = self.source_line.rstrip("\r\n").expandtabs(1)
            lines.append(text)
            lines.append(" " * max(self.column - 1, 0) + "^")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def format_diagnostics(diagnostics: Iterable[RuleDiagnostic], limit: int | None = None) -> str:
    """Format diagnostics in order, at most `limit` of them, with a count of the rest."""
    diags = list(diagnostics)
    shown = diags if limit is None else diags[:limit]
    text = "\n".join(d.format() for d in shown)
    if len(diags) > len(shown):
        text += f"\n... and {len(diags) - len(shown)} more error(s)"
    return text


class RuleError(errors.RuleError):
    """A rule set or expression is invalid; `diagnostics` says where and why.

    The diagnostics are sorted by file and position and capped at `limit`; `total` counts all
    that were found.
    """

    def __init__(self, diagnostics: Iterable[RuleDiagnostic], limit: int = 20) -> None:
        found = sorted(diagnostics, key=lambda d: (d.file, d.line, d.column, d.message))
        self.total: int = len(found)
        self.diagnostics: list[RuleDiagnostic] = found[:limit]
        text = format_diagnostics(self.diagnostics)
        if self.total > len(self.diagnostics):
            text += f"\n... and {self.total - len(self.diagnostics)} more error(s)"
        super().__init__(text or "invalid rule set")


class SourceText:
    """A file's text with a line index: absolute offset -> (line, column) and line text.

    Examples
    --------
    >>> src = SourceText("r.yaml", "a: 1\\nbb: 2\\n")
    >>> src.position(6)
    (2, 2)
    >>> src.line_text(2)
    'bb: 2'
    """

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self._starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._starts.append(i + 1)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of an absolute character offset."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

    def line_text(self, line: int) -> str | None:
        if not 1 <= line <= len(self._starts):
            return None
        start = self._starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)]

    def diagnostic(
        self,
        offset: int,
        message: str,
        rule_id: str | None = None,
        hint: str | None = None,
    ) -> RuleDiagnostic:
        line, column = self.position(offset)
        return RuleDiagnostic(self.name, line, column, message, rule_id, hint, self.line_text(line))

    def diagnostic_at(
        self,
        line: int,
        column: int,
        message: str,
        rule_id: str | None = None,
        hint: str | None = None,
    ) -> RuleDiagnostic:
        return RuleDiagnostic(self.name, line, column, message, rule_id, hint, self.line_text(line))
