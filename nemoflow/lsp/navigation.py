"""Go to definition, find references, rename and the outline, from the name index (includes included)."""

from __future__ import annotations

import os
import re

from lsprotocol import types as lsp

from ..core.diagnostics import Span
from ..lang import ast
from ..lang.parser import STATEMENT_KEYWORDS
from .analysis import Analysis
from .index import NAME, Occurrence

_RESERVED = frozenset((*STATEMENT_KEYWORDS, "nemo", "in", "glob", "has", "no", "within", "true", "false"))


def definition(a: Analysis, file: str, line: int, column: int) -> Span | None:
    """Where the name under the position is defined; on an `include` path, the included file's first line."""
    occ = a.index.at(file, line, column)
    if occ is not None:
        return occ.symbol.span
    for stmt in a.statements(file):
        if isinstance(stmt, ast.Include) and _inside(stmt.path.span, line, column) and stmt.path.is_plain:
            target = os.path.normpath(os.path.join(os.path.dirname(file), stmt.path.value))
            return Span(target, 1, 1, 1, 1)
    return None


def _inside(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def references(a: Analysis, file: str, line: int, column: int, include_declaration: bool) -> list[Span]:
    occ = a.index.at(file, line, column)
    if occ is None:
        return []
    return [o.span for o in a.index.uses(occ.symbol) if include_declaration or not o.definition]


def rename_target(a: Analysis, file: str, line: int, column: int) -> Occurrence | None:
    return a.index.at(file, line, column)


class RenameError(ValueError):
    """A new name the language would not accept, or one already taken."""


def rename(a: Analysis, file: str, line: int, column: int, new: str) -> dict[str, list[tuple[Span, str]]] | None:
    """Every edit, by file, that renames the name under the position; RenameError for a name that cannot be."""
    occ = a.index.at(file, line, column)
    if occ is None:
        return None
    sym = occ.symbol
    if not NAME.fullmatch(new) or new in _RESERVED:
        raise RenameError(f"`{new}` is not a name: names start with a letter or `_`, then letters, digits, `_` or `-`")
    clash = a.index.step(new) if sym.kind in ("media", "edit", "ask", "export") else a.index.param(new) \
        if sym.kind == "param" else None
    if clash is not None and new != sym.name:
        raise RenameError(f"`{new}` is already the name of a {clash.kind} (line {clash.span.line})")
    edits: dict[str, list[tuple[Span, str]]] = {}
    for o in a.index.uses(sym):
        edits.setdefault(o.span.file, []).append((o.span, new))
    return edits


_KINDS = {"media": lsp.SymbolKind.File, "edit": lsp.SymbolKind.Function, "ask": lsp.SymbolKind.Function,
          "export": lsp.SymbolKind.Event, "param": lsp.SymbolKind.Variable, "loop": lsp.SymbolKind.Array,
          "expect": lsp.SymbolKind.Boolean, "include": lsp.SymbolKind.Module, "engine": lsp.SymbolKind.Constant}


def outline(a: Analysis, to_range) -> list[lsp.DocumentSymbol]:
    """The buffer's statements as document symbols (loops hold theirs); `to_range` turns a Span into a Range."""
    return _symbols(a.statements(a.file), to_range)


def _symbols(statements, to_range) -> list[lsp.DocumentSymbol]:
    out = []
    for stmt in statements:
        children: list[lsp.DocumentSymbol] = []
        if isinstance(stmt, (ast.Media, ast.Edit, ast.Ask, ast.Export, ast.Param)):
            kind = type(stmt).__name__.lower()
            name, sel, detail = stmt.name.name, stmt.name.span, kind
            if isinstance(stmt, ast.Edit):
                detail = f"edit, {len(stmt.body)} line{'s' if len(stmt.body) != 1 else ''}"
        elif isinstance(stmt, ast.ForLoop):
            kind, name, sel, detail = "loop", f"for {stmt.var.name}", stmt.var.span, "loop"
            children = _symbols(stmt.body, to_range)
        elif isinstance(stmt, ast.Expect):
            kind, name, sel, detail = "expect", f"expect {stmt.target.text}", stmt.target.span, f"{len(stmt.body)} checks"
        elif isinstance(stmt, ast.Include):
            kind, name, sel, detail = "include", stmt.path.value, stmt.path.span, "include"
        elif isinstance(stmt, ast.Engine):
            kind, name, sel, detail = "engine", f"engine {stmt.name.name}", stmt.name.span, "engine"
        else:
            continue
        out.append(lsp.DocumentSymbol(name=name or "?", kind=_KINDS[kind], range=to_range(stmt.span),
                                      selection_range=to_range(sel), detail=detail, children=children or None))
    return out


_DID_YOU_MEAN = re.compile(r"did you mean `([^`\n]+)`\?")
_ADD_UNIT = re.compile(r"^add a unit: `([^`\n]+)`$|^write the level in \w+: `([^`\n]+)`$")


def fixes(help_text: str | None, line: str, column: int, end_column: int) -> list[tuple[str, str, int, int]]:
    """(title, replacement, first column, end column) for a diagnostic's help that names the text to put in place.

    `line` is the source line and the columns (1-based, end exclusive) the diagnostic's span on it. A path suggested
    for a string stays in quotes; a suggestion for the whole word around the span (`10s` for the `sec` of `10sec`)
    replaces that word.
    """
    written = line[column - 1:end_column - 1]
    if not help_text or not written.strip():
        return []
    out = []
    for m, title in ((_DID_YOU_MEAN.search(help_text), "Change to"), (_ADD_UNIT.match(help_text), "Write")):
        if m is None:
            continue
        new = next(g for g in m.groups() if g)
        first, end = column, end_column
        word = _word_around(line, column, end_column)
        if word is not None and word[0] != written and new.startswith(line[word[1] - 1:column - 1]):
            written, first, end = word
        if written.startswith('"') and not new.startswith('"'):
            new = f'"{new}"'
        if new != written:
            out.append((f"{title} {new}", new, first, end))
    return out


def _word_around(line: str, column: int, end_column: int) -> tuple[str, int, int] | None:
    """The run of non-space, non-quote characters holding the span, with its columns."""
    first, end = column, end_column
    while first > 1 and not line[first - 2].isspace() and line[first - 2] != '"':
        first -= 1
    while end <= len(line) and not line[end - 1].isspace() and line[end - 1] != '"':
        end += 1
    return (line[first - 1:end - 1], first, end) if (first, end) != (column, end_column) else None
