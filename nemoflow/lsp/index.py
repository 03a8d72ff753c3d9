"""Where each name of a recipe is defined and used, across its includes: what navigation and rename read.

Built from the parser's syntax trees (no second parser): a step (`media`,
`edit`, `ask`, `export`), a `param` and a loop variable are definitions; a
step's base, an expect's target, a clause word in a slot that takes a step
(the signature table says which), `$name` and `${name}` are references.
"""

from __future__ import annotations

import re

import attrs

from ..core import signatures as sig
from ..core.diagnostics import Span
from ..lang import ast
from ..lang.literals import Interpolation

STEP_KINDS = ("media", "edit", "ask", "export")
_REF_TYPES = ("media", "draft", "source")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@attrs.frozen
class Symbol:
    """A definition: a step, a param, or a loop variable (whose name means something only inside its loop)."""

    name: str
    kind: str  # media | edit | ask | export | param | loop
    span: Span  # the name
    whole: Span  # the statement
    detail: str  # the statement's first line, as written
    scope: Span | None = None  # a loop variable: the loop


@attrs.frozen
class Occurrence:
    symbol: Symbol
    span: Span  # the name only (`clip` in `${clip.stem}`, `short` in `short[a]`)
    definition: bool


@attrs.define
class Index:
    symbols: list[Symbol] = attrs.field(factory=list)
    occurrences: list[Occurrence] = attrs.field(factory=list)

    def at(self, file: str, line: int, column: int) -> Occurrence | None:
        """The occurrence under a 1-based position (a cursor just after a name counts too)."""
        for occ in self.occurrences:
            sp = occ.span
            if sp.file == file and sp.line == line and sp.column <= column <= sp.end_column:
                return occ
        return None

    def uses(self, symbol: Symbol) -> list[Occurrence]:
        return [o for o in self.occurrences if o.symbol == symbol]

    def step(self, name: str) -> Symbol | None:
        return next((s for s in self.symbols if s.name == name and s.kind in STEP_KINDS), None)

    def param(self, name: str) -> Symbol | None:
        return next((s for s in self.symbols if s.name == name and s.kind == "param"), None)

    def names(self, *kinds: str) -> list[Symbol]:
        seen: dict[str, Symbol] = {}
        for s in self.symbols:
            if s.kind in kinds:
                seen.setdefault(s.name, s)
        return list(seen.values())


def build(modules: list[ast.Module], texts: dict[str, str]) -> Index:
    """The index of a recipe's modules (the root first, then its includes); `texts` holds each file's text."""
    index = Index()
    for module in modules:
        _define(index, module.statements, texts.get(module.file, ""), None)
    for module in modules:
        lines = texts.get(module.file, "").split("\n")
        for stmt in module.statements:
            _refer(index, stmt, [], lines)
    return index


def _first_line(text: str, span: Span) -> str:
    lines = text.split("\n", span.line)
    return lines[span.line - 1].strip() if len(lines) >= span.line else ""


def _define(index: Index, statements, text: str, loop: ast.ForLoop | None) -> None:
    for stmt in statements:
        kind = {ast.Media: "media", ast.Edit: "edit", ast.Ask: "ask", ast.Export: "export", ast.Param: "param"}.get(type(stmt))
        if kind is not None:
            sym = Symbol(stmt.name.name, kind, stmt.name.span, stmt.span, _first_line(text, stmt.span))
            index.symbols.append(sym)
            index.occurrences.append(Occurrence(sym, stmt.name.span, True))
        elif isinstance(stmt, ast.ForLoop):
            sym = Symbol(stmt.var.name, "loop", stmt.var.span, stmt.span, _first_line(text, stmt.span), scope=stmt.span)
            index.symbols.append(sym)
            index.occurrences.append(Occurrence(sym, stmt.var.span, True))
            _define(index, stmt.body, text, stmt)


def _loop_symbol(index: Index, loop: ast.ForLoop) -> Symbol | None:
    return next((s for s in index.symbols if s.kind == "loop" and s.span == loop.var.span), None)


def _value_name(index: Index, name: str, loops: list[ast.ForLoop]) -> Symbol | None:
    """`$name`: the innermost loop variable of that name, else the param."""
    for loop in reversed(loops):
        if loop.var.name == name:
            return _loop_symbol(index, loop)
    return index.param(name)


def _step_name(index: Index, name: str, loops: list[ast.ForLoop], indexed: bool) -> Symbol | None:
    """A step reference: a glob loop's variable (inside its loop, without an index), else the step."""
    if not indexed:
        for loop in reversed(loops):
            if loop.var.name == name:
                return _loop_symbol(index, loop)
    return index.step(name)


def _name_span(span: Span, name: str) -> Span:
    return Span(span.file, span.line, span.column, span.line, span.column + len(name))


def _refer(index: Index, stmt, loops: list[ast.ForLoop], lines: list[str]) -> None:
    def ref(item, name: str, indexed: bool) -> None:
        sym = _step_name(index, name, loops, indexed)
        if sym is not None:
            index.occurrences.append(Occurrence(sym, _name_span(item.span, name), False))

    if isinstance(stmt, (ast.Edit, ast.Export, ast.Ask)) and stmt.base is not None:
        ref(stmt.base, stmt.base.name, bool(stmt.base.index))
    if isinstance(stmt, ast.Expect):
        ref(stmt.target, stmt.target.name, bool(stmt.target.index))
    if isinstance(stmt, ast.Param) and stmt.default is not None:
        _values(index, [stmt.default], loops, lines)
    elif isinstance(stmt, ast.Media):
        _values(index, stmt.source.items, loops, lines)
    elif isinstance(stmt, ast.Ask):
        _values(index, [stmt.instruction], loops, lines)
    elif isinstance(stmt, ast.Edit):
        for clause in stmt.body:
            _values(index, clause.items, loops, lines)
            for word in clause_references(clause):
                ref(word, word.name, bool(word.index))
    elif isinstance(stmt, ast.Export):
        for clause in stmt.body:
            _values(index, clause.items, loops, lines)
    elif isinstance(stmt, ast.Expect):
        for a in stmt.body:
            _values(index, [*a.subject, *([a.value] if a.value is not None else []), *a.more], loops, lines)
    elif isinstance(stmt, ast.ForLoop):
        it = stmt.iterable
        _values(index, [it.pattern if isinstance(it, ast.Glob) else it], loops, lines)
        key_var = it.key_var if isinstance(it, ast.Table) else None  # `key row.sku`
        sym = _loop_symbol(index, stmt) if key_var is not None and key_var.name == stmt.var.name else None
        if sym is not None:
            index.occurrences.append(Occurrence(sym, key_var.span, False))
        for inner in stmt.body:
            _refer(index, inner, [*loops, stmt], lines)


def _values(index: Index, items, loops: list[ast.ForLoop], lines: list[str]) -> None:
    """`$name` and `${name}` inside values, lists included."""
    for item in items:
        if isinstance(item, ast.Var):
            name = item.name.split(".", 1)[0]  # `$row.price`: the loop variable `row`
            sym = _value_name(index, name, loops)
            if sym is not None:
                sp = item.span
                index.occurrences.append(Occurrence(sym, Span(sp.file, sp.line, sp.column + 1, sp.line,
                                                              sp.column + 1 + len(name)), False))
        elif isinstance(item, ast.ListLit):
            _values(index, item.items, loops, lines)
        elif isinstance(item, ast.StringLit) and item.span.line == item.span.end_line:
            for part in item.parts:
                if isinstance(part, Interpolation):
                    span = _interpolation_name(item, part, lines)
                    sym = _value_name(index, part.name, loops) if span is not None else None
                    if sym is not None:
                        index.occurrences.append(Occurrence(sym, span, False))


def _interpolation_name(lit: ast.StringLit, part: Interpolation, lines: list[str]) -> Span | None:
    """The span of `name` in `${ name.stem }` (columns counted in the source line)."""
    sp = lit.span
    if sp.line > len(lines):
        return None
    start = sp.column - 1 + part.offset
    found = NAME.search(lines[sp.line - 1], start + 2, start + part.length)
    if found is None or found.group() != part.name:
        return None
    return Span(sp.file, sp.line, found.start() + 1, sp.line, found.end() + 1)


def clause_references(clause: ast.Clause) -> list[ast.Word]:
    """The words of an edit clause that name a step: those its verb's signature puts in a step slot."""
    verb = clause.items[0]
    signature = sig.EDIT_OPS.get(verb.name) if isinstance(verb, ast.Word) else None
    if signature is None or not signature.positional or signature.positional[0].type not in _REF_TYPES:
        return []
    slot = signature.positional[0]
    out: list[ast.Word] = []
    skip = 0
    for item in clause.items[1:]:
        if skip:
            skip -= 1
            continue
        if isinstance(item, ast.Word) and not item.index and (signature.keyword(item.name) or item.name in signature.flags):
            skip = 0 if item.name in signature.flags else 1
            continue
        if isinstance(item, ast.Word) and (not out or slot.many):
            out.append(item)
        elif not slot.many:
            break
    return out[: None if slot.many else 1]
