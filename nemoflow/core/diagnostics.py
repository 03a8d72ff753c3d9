"""Diagnostics: the one error currency of the front end.

Every user-facing problem (syntax, names, units, cycles, bad --set values)
becomes a `Diagnostic` with a `Span`, so `check`, `check --json`, `fmt` and,
later, an editor's language server all report the same thing the same way.
"""

from __future__ import annotations

import difflib
import unicodedata
from array import array
from collections.abc import Iterable, Sequence

import attrs


@attrs.frozen
class Span:
    """A range in one source file; lines and columns are 1-based, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, file: str, line: int, column: int) -> Span:
        return cls(file, line, column, line, column + 1)

    def to_json(self) -> dict:
        return {
            "start": {"line": self.line, "column": self.column},
            "end": {"line": self.end_line, "column": self.end_column},
        }

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@attrs.frozen
class Related:
    """Another place that explains a diagnostic (first definition, cycle member)."""

    span: Span
    message: str


@attrs.frozen
class Diagnostic:
    """One problem: what (message), where (span), and what to do (help)."""

    span: Span
    message: str
    code: str
    severity: str = "error"
    expected: tuple[str, ...] = ()
    help: str | None = None
    related: tuple[Related, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict:
        out: dict = {
            "file": self.span.file,
            "range": self.span.to_json(),
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }
        if self.expected:
            out["expected"] = list(self.expected)
        if self.help:
            out["help"] = self.help
        if self.related:
            out["related"] = [
                {"file": r.span.file, "range": r.span.to_json(), "message": r.message}
                for r in self.related
            ]
        return out


class RecipeError(Exception):
    """Raised when a recipe cannot go further; carries every diagnostic found."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: Sources | None = None):
        self.diagnostics = tuple(diagnostics)
        self.sources = sources if sources is not None else Sources()
        super().__init__("; ".join(f"{d.span}: {d.message}" for d in self.diagnostics))


class Sources:
    """The text of every file a check read, so diagnostics can quote lines.

    Lines end at `\n`, as the parser counts them. A file is never split into
    line objects: quoting a line looks its start up in an array of offsets,
    built on the first quote, so a 10 MB recipe of three million short lines
    costs 12 MB to quote from, not 200 MB.
    """

    def __init__(self) -> None:
        self._text: dict[str, str] = {}
        self._starts: dict[str, array[int]] = {}

    def add(self, name: str, text: str) -> None:
        self._text[name] = text
        self._starts.pop(name, None)

    def merge(self, other: Sources) -> None:
        """Add the files `other` holds and this does not."""
        for name, text in other._text.items():
            self._text.setdefault(name, text)

    def line(self, name: str, line: int) -> str | None:
        text = self._text.get(name)
        if text is None:
            return None
        starts = self._starts.get(name)
        if starts is None:
            starts = self._starts[name] = line_starts(text)
        if not 1 <= line <= len(starts) or (line == len(starts) and starts[-1] == len(text)):
            return None  # past the end (a final newline starts no line)
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(text)
        return text[start:end].removesuffix("\r")


def line_starts(text: str) -> array[int]:
    """The offset at which each line starts, found 64 KB at a time (str.split runs in C)."""
    starts = array("i" if len(text) < 2**31 else "q", [0])
    step = 1 << 16
    for base in range(0, len(text), step):
        parts = text[base:base + step].split("\n")
        offset = base
        for length in map(len, parts[:-1]):
            offset += length + 1
            starts.append(offset)
    return starts


def span_within(literal: Span, sources: Sources, value: str, start: int, end: int) -> Span:
    """The span of `value[start:end]` inside the string literal at `literal`.

    Exact when the literal is the value in quotes on one line; when escapes or
    line breaks make columns and characters differ, the whole literal.
    """
    text = sources.line(literal.file, literal.line)
    if text is None or literal.end_line != literal.line or text[literal.column:literal.end_column - 2] != value:
        return literal
    first = literal.column + 1 + start
    return Span(literal.file, literal.line, first, literal.line, first + max(end - start, 1))


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt word, if any is close enough."""
    pool = sorted(set(candidates))
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            return lowered[word.lower()]
        return None
    return match[0]


def suggestion(word: str, candidates: Iterable[str]) -> str | None:
    """A ready-made "did you mean" sentence, or None."""
    best = did_you_mean(word, candidates)
    return f"did you mean `{best}`?" if best else None


def _cells(text: str) -> int:
    """Terminal width of text: wide East Asian characters take two cells."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _printable(text: str) -> str:
    """Show control characters (other than tab) as U+FFFD so a quote cannot corrupt a terminal."""
    return "".join(ch if ch == "\t" or ch.isprintable() else "\ufffd" for ch in text)


def _caret_line(source_line: str, column: int, length: int) -> str:
    """Spaces (tabs kept as tabs) up to column, then carets under the span."""
    prefix = source_line[: column - 1]
    pad = "".join("\t" if ch == "\t" else " " * _cells(ch) for ch in prefix)
    body = source_line[column - 1 : column - 1 + length]
    width = max(1, _cells(body) if body else 1)
    return pad + "^" * width


def render(diag: Diagnostic, sources: Sources) -> str:
    """Human form: `file:line:col: error: message`, the line, a caret, expected, help."""
    sp = diag.span
    out = [f"{sp}: {diag.severity}: {diag.message}"]
    text = sources.line(sp.file, sp.line)
    if text is not None:
        if len(text) > 200:  # a 1 MB line of garbage must not flood the terminal (cut first: one char stays one char)
            start = max(0, sp.column - 60)
            shown = _printable(text[start : start + 160])
            column = sp.column - start
        else:
            shown = _printable(text)
            column = sp.column
        length = (sp.end_column - sp.column) if sp.end_line == sp.line else len(text) - sp.column + 1
        gutter = str(sp.line)
        out.append(f" {gutter} | {shown}")
        out.append(f" {' ' * len(gutter)} | {_caret_line(shown, column, max(1, length))}")
    if diag.expected:
        out.append(f"  expected: {_join_or(diag.expected)}")
    if diag.help:
        out.append(f"  help: {diag.help}")
    for rel in diag.related:
        out.append(f"  note: {rel.span}: {rel.message}")
    return "\n".join(out)


def _join_or(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def render_all(diags: Iterable[Diagnostic], sources: Sources) -> str:
    """Every diagnostic, blank-line separated, then a one-line count."""
    diags = list(diags)
    parts = [render(d, sources) for d in diags]
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    summary = []
    if errors:
        summary.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        summary.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    if summary:
        parts.append(", ".join(summary))
    return "\n\n".join(parts)


def sort_key(diag: Diagnostic) -> tuple:
    return (diag.span.file, diag.span.line, diag.span.column, diag.message)
