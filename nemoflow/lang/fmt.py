"""`nemoflow fmt`: one canonical layout, comments kept, no options.

Layout: two-space indentation, one space between items, one statement or
clause per line, lists on one line, at most one blank line in a row and none
just inside braces. Values are printed as written (`1m30s` stays `1m30s`), so
formatting never changes meaning. Comments stay with the line they were on
(trailing) or the line below them (own-line).
"""

from __future__ import annotations

import attrs

from . import ast
from .parser import parse_module

INDENT = "  "


@attrs.frozen
class _Unit:
    indent: int
    text: str
    first: int  # source lines it came from
    last: int
    kind: str  # "open" | "close" | "leaf"


def format_source(text: str, file: str = "recipe.nemo") -> str:
    """Canonical text of a recipe; raises RecipeError if it does not parse."""
    module = parse_module(text, file)
    units: list[_Unit] = [_Unit(0, f"nemo {module.header.version.text}", module.header.span.line,
                                module.header.span.end_line, "leaf")]
    for stmt in module.statements:
        _statement(stmt, 0, units)
    return _weave(units, list(module.comments))


def _statement(stmt, depth: int, out: list[_Unit]) -> None:
    line = stmt.span.line
    if isinstance(stmt, ast.Include):
        out.append(_Unit(depth, f"include {stmt.path.text}", line, stmt.span.end_line, "leaf"))
    elif isinstance(stmt, ast.Engine):
        out.append(_Unit(depth, f"engine {stmt.name.name}", line, stmt.span.end_line, "leaf"))
    elif isinstance(stmt, ast.Param):
        text = f"param {stmt.name.name}"
        if stmt.type is not None:
            text += f": {stmt.type.name}"
        if stmt.default is not None:
            text += f" = {_item(stmt.default)}"
        out.append(_Unit(depth, text, line, stmt.span.end_line, "leaf"))
    elif isinstance(stmt, ast.Media):
        out.append(_Unit(depth, f"media {stmt.name.name} = {_clause(stmt.source)}", line, stmt.span.end_line, "leaf"))
    elif isinstance(stmt, ast.Ask):
        out.append(_Unit(depth, f"ask {stmt.name.name} = {stmt.base.text} {_item(stmt.instruction)}", line,
                         stmt.span.end_line, "leaf"))
    elif isinstance(stmt, ast.Edit):
        head = f"edit {stmt.name.name}" + (f" = {stmt.base.text}" if stmt.base else "")
        end = (stmt.base or stmt.name).span.end_line
        _block(head, line, end, [(_clause(c), c.span) for c in stmt.body], stmt.close, depth, out)
    elif isinstance(stmt, ast.Export):
        head = f"export {stmt.name.name} = {stmt.base.text}"
        _block(head, line, stmt.base.span.end_line, [(_clause(c), c.span) for c in stmt.body], stmt.close, depth, out)
    elif isinstance(stmt, ast.Expect):
        head = f"expect {stmt.target.text}"
        _block(head, line, stmt.target.span.end_line, [(_assertion(a), a.span) for a in stmt.body], stmt.close, depth, out)
    elif isinstance(stmt, ast.ForLoop):
        it = stmt.iterable
        it_text = f"glob({it.pattern.text})" if isinstance(it, ast.Glob) else _item(it)
        if isinstance(it, ast.Table):
            it_text = f"table({it.pattern.text})" + (f" key {stmt.var.name}.{it.key.name}" if it.key else "")
        out.append(_Unit(depth, f"for {stmt.var.name} in {it_text} {{", line, it.span.end_line, "open"))
        for inner in stmt.body:
            _statement(inner, depth + 1, out)
        out.append(_Unit(depth, "}", stmt.close.line, stmt.close.line, "close"))
    else:  # pragma: no cover - the grammar has no other statements
        raise TypeError(type(stmt))


def _block(head: str, line: int, head_end: int, body, close, depth: int, out: list[_Unit]) -> None:
    out.append(_Unit(depth, head + " {", line, head_end, "open"))
    for text, span in body:
        out.append(_Unit(depth + 1, text, span.line, span.end_line, "leaf"))
    out.append(_Unit(depth, "}", close.line, close.line, "close"))


def _clause(clause: ast.Clause) -> str:
    return " ".join(_item(i) for i in clause.items)


def _assertion(a: ast.Assertion) -> str:
    subject = " ".join(_item(w) for w in a.subject)
    if a.op in ("has", "no"):
        return f"{a.op} {subject}"
    if not a.op:  # `caption "Hello" at 3s`
        return f"{subject} {_item(a.value)}"
    return " ".join([subject, a.op, _item(a.value), *(_item(m) for m in a.more)])


def _item(item) -> str:
    if isinstance(item, ast.Word):
        return item.text
    if isinstance(item, ast.Var):
        return f"${item.name}"
    if isinstance(item, ast.ListLit):
        return "[" + ", ".join(_item(i) for i in item.items) + "]"
    return item.text


def _weave(units: list[_Unit], comments: list[ast.Comment]) -> str:
    """Print units with comments put back and blank lines kept (at most one)."""
    lines: list[str] = []
    ci = 0
    prev_last = 0
    prev_kind = "open"  # nothing before the header: no blank line at the top

    def gap(line: int, kind: str) -> None:
        if lines and line > prev_last + 1 and prev_kind != "open" and kind != "close":
            lines.append("")

    for unit in units:
        while ci < len(comments) and comments[ci].span.line < unit.first:
            c = comments[ci]
            gap(c.span.line, "comment")
            indent = unit.indent + 1 if unit.kind == "close" else unit.indent
            lines.append(INDENT * indent + c.text)
            prev_last, prev_kind = c.span.line, "comment"
            ci += 1
        gap(unit.first, unit.kind)
        lines.append(INDENT * unit.indent + unit.text)
        trailing = []
        while ci < len(comments) and comments[ci].span.line <= unit.last:
            trailing.append(comments[ci])
            ci += 1
        if trailing:
            lines[-1] += "  " + trailing[0].text
            inner = unit.indent + 1 if unit.kind == "open" else unit.indent
            lines.extend(INDENT * inner + c.text for c in trailing[1:])
        prev_last, prev_kind = unit.last, unit.kind
    if ci < len(comments):
        for c in comments[ci:]:
            gap(c.span.line, "comment")
            lines.append(c.text)
            prev_last, prev_kind = c.span.line, "comment"
    return "\n".join(lines) + "\n"
