"""Hover: an operation's signature and doc, a keyword's meaning, a param's value, a media file's probed facts."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import attrs

from ..core import signatures as sig
from ..core.diagnostics import Span
from ..core.model import MediaSource, MediaSpec, StepKind
from ..errors import NemoflowError
from ..lang import ast
from ..lang.check.text import expected_text, usage
from .analysis import Analysis
from .completion import _STATEMENT_DOCS
from .index import STEP_KINDS, Symbol
from .status import Statuses


@attrs.frozen
class Found:
    markdown: str
    span: Span | None


def hover(a: Analysis, file: str, line: int, column: int, probes: ProbeCache | None = None,
          statuses: Statuses | None = None) -> Found | None:
    """What to show for the 1-based position: a name's definition and facts, else the word under it."""
    occ = a.index.at(file, line, column)
    if occ is not None:
        text = _symbol(a, occ.symbol, probes)
        if statuses is not None and a.recipe is not None and occ.symbol.kind in STEP_KINDS:
            text += "\n\n" + statuses.of(a.recipe, occ.symbol.name, occ.symbol.kind)
        return Found(text.rstrip(), occ.span)
    where = locate(a, file, line, column)
    if where is None:
        return None
    table, clause, item = where
    if item is None:
        return None
    word = item.name if isinstance(item, ast.Word) else None
    if clause is None:
        if word in _STATEMENT_DOCS:
            return Found(f"`{word}`: {_STATEMENT_DOCS[word]}", item.span)
        return None
    verb = clause.items[0]
    signature = table.get(verb.name) if isinstance(verb, ast.Word) else None
    if signature is None or word is None:
        return None
    if item is verb:
        return Found(_signature(signature), item.span)
    i = clause.items.index(item)
    before = clause.items[i - 1] if i > 0 else None
    slot = signature.keyword(word) or (signature.keyword(f"{before.name} {word}") if isinstance(before, ast.Word) else None)
    nxt = clause.items[i + 1] if i + 1 < len(clause.items) else None
    slot = slot or (signature.keyword(f"{word} {nxt.name}") if isinstance(nxt, ast.Word) else None)
    if slot is not None:
        return Found(_slot(signature, slot), item.span)
    if word in signature.flags:
        return Found(f"`{signature.verb} … {word}`: a flag of `{signature.verb}`", item.span)
    return None


def _signature(s: sig.Signature) -> str:
    lines = [f"```nemo\n{s.verb} {usage(s)}\n```", s.doc]
    for slot in (*s.positional, *s.keywords):
        bounds = _bounds(slot)
        name = f"`{slot.name}`" if slot in s.keywords else f"*{slot.name}*"
        lines.append(f"- {name}: {expected_text(slot.type)}{bounds}" + (f" — {slot.doc}" if slot.doc else ""))
    if s.flags:
        lines.append("- flags: " + ", ".join(f"`{f}`" for f in s.flags))
    return "\n\n".join(lines[:2]) + ("\n\n" + "\n".join(lines[2:]) if len(lines) > 2 else "")


def _slot(s: sig.Signature, slot: sig.Slot) -> str:
    text = f"`{s.verb} … {slot.name}`: {expected_text(slot.type)}{_bounds(slot)}"
    return text + (f"\n\n{slot.doc}" if slot.doc else "")


def _bounds(slot: sig.Slot) -> str:
    if slot.min is None and slot.max is None:
        return ""
    return f" ({slot.min:g} to {slot.max:g})" if slot.min is not None and slot.max is not None else \
        f" (at least {slot.min:g})" if slot.min is not None else f" (at most {slot.max:g})"


def _symbol(a: Analysis, sym: Symbol, probes: ProbeCache | None) -> str:
    where = "" if sym.span.file == a.file else f"\n\nin `{os.path.basename(sym.span.file)}` line {sym.span.line}"
    head = f"**{sym.kind}** `{sym.name}`\n\n```nemo\n{sym.detail}\n```{where}"
    if a.recipe is None:
        return head + "\n\n*(the recipe has errors: values and facts appear once it checks)*"
    if sym.kind == "param":
        p = a.recipe.params.get(sym.name)
        if p is not None:
            origin = "its default" if p.origin == "default" else p.origin
            return head + f"\n\nvalue: `{p.value}` ({p.type}, from {origin})"
        return head
    if sym.kind == "media" and probes is not None:
        for step in a.recipe.steps.values():
            if step.name == sym.name and step.kind == StepKind.MEDIA and isinstance(step.spec, MediaSpec):
                if step.spec.source == MediaSource.FILE and step.spec.path is not None:
                    return head + "\n\n" + probes.facts(step.spec.path)
                break
    if sym.kind in ("edit", "export", "ask"):
        count = sum(1 for s in a.recipe.steps.values() if s.name == sym.name and s.kind == sym.kind)
        if count > 1:
            head += f"\n\n{count} instances (fanned out)"
    return head


class ProbeCache:
    """Probed facts per file, kept while the file's size and time are the same (a probe may read a whole file)."""

    def __init__(self) -> None:
        self._facts: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def facts(self, path: Path) -> str:
        try:
            st = os.stat(path)
        except OSError:
            return f"`{path}` does not exist yet"
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            found = self._facts.get(key)
        if found is None:
            from ..media.probe import describe, probe  # PyAV: loaded on the first media hover, not at start

            try:
                found = "```\n" + describe(probe(path)) + "\n```"
            except NemoflowError as exc:
                found = f"cannot be used: {exc}"
            with self._lock:
                self._facts[key] = found
        return found


def locate(a: Analysis, file: str, line: int, column: int):
    """(signature table, clause or None, item under the position or None) — None outside any statement."""
    return _in(a.statements(file), line, column)


def _inside(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def _item_at(items, line: int, column: int):
    return next((i for i in items if _inside(i.span, line, column)), None)


def _in(statements, line: int, column: int):
    for stmt in statements:
        if not _inside(stmt.span, line, column):
            continue
        if isinstance(stmt, ast.ForLoop):
            inner = _in(stmt.body, line, column)
            if inner is not None:
                return inner
        clauses: tuple = ()
        table: dict = {}
        if isinstance(stmt, (ast.Edit, ast.Export)):
            clauses, table = stmt.body, sig.EDIT_OPS if isinstance(stmt, ast.Edit) else sig.EXPORT_SETTINGS
        elif isinstance(stmt, ast.Media):
            clauses, table = (stmt.source,), sig.GENERATORS
        for clause in clauses:
            if _inside(clause.span, line, column):
                return table, clause, _item_at(clause.items, line, column)
        if stmt.span.line == line:
            keyword = type(stmt).__name__.lower().replace("forloop", "for")
            kw_span = Span(stmt.span.file, line, stmt.span.column, line, stmt.span.column + len(keyword))
            if _inside(kw_span, line, column):
                return {}, None, ast.Word(keyword, kw_span)
        return {}, None, None
    return None
