"""Table loops in the checker: a table's rows as loop items, and `$row.column` read where a clause uses it.

A cell is read as a value only where it is used, as the slot wants it (text for a title, a duration for `trim`),
and stands in the clause as if written there: a synthetic literal whose span is the CELL's, so every existing
"wrong type", "unknown unit" or "out of range" message points at the data file, with a note naming the recipe
line that used it. Cells end up in the step's resolved clauses, so a step's cache key holds only its own row's
cells: edit one cell and only that row's steps change (docs/variants.md).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import attrs

from ...core import codes, limits
from ...core.diagnostics import Related, Span, did_you_mean
from ...core.model import TableRows
from .. import ast
from ..literals import Interpolation, LiteralError, read_color, read_quantity, read_ratio, read_timecode
from ..tables import Cell, Row, TableError, TableTooLarge, read_table
from .state import FAIL, Binding, State

_QUANTITY = re.compile(r"[+-]?\d+(\.\d+)?([ \t]+(?i:lufs|lkfs|dbtp|db)|[A-Za-z%][A-Za-z0-9.%]*)?")
_TIMECODE = re.compile(r"\d+:\d\d:\d\d(\.\d+)?")
_RATIO = re.compile(r"\d+(\.\d+)?:\d+(\.\d+)?")
_COLOR = re.compile(r"#[0-9A-Fa-f]{3,8}")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def rows(st: State, it: ast.Table, var: str, base_dir: Path, env, index: tuple[str, ...], loop_body=()) -> list[tuple[str, Binding]] | None:
    """A table loop's items: (key, binding) per row, keyed by the `key` column (else the first); None if reported."""
    pattern = it.pattern.value if it.pattern.is_plain else None
    if pattern is None:
        from .values import string_value

        pattern = string_value(st, it.pattern, env)
        if pattern is None:
            return None
    path = Path(pattern) if os.path.isabs(pattern) else base_dir / pattern
    shown = _shown(path)
    if not os.path.isfile(path):
        st.error(it.pattern.span, f"table file not found: {pattern}", codes.TABLE_NOT_FOUND,
                 help=f"looked for {path} (a table's path is relative to the recipe)")
        return None
    most = limits.TABLE_ROWS.value()
    try:
        table = read_table(path, shown, most, limits.TABLE_BYTES.value())
    except TableTooLarge:
        st.error(it.span, f"{pattern} has more than {most:,} rows", codes.FANOUT_TOO_LARGE,
                 help=f"split the table; {limits.TABLE_ROWS.how_to_raise()}")
        return None
    except TableError as err:
        _add_source(st, path, shown)
        st.error(err.span, err.message, codes.TABLE_UNREADABLE, help=err.help,
                 related=(Related(it.pattern.span, "read by this loop"),))
        return None
    except OSError as err:
        st.error(it.pattern.span, f"cannot read {pattern}: {err.strerror or err}", codes.TABLE_UNREADABLE)
        return None
    st.sources.add(shown, table.text)
    if not table.rows or not table.columns:
        st.error(it.pattern.span, f"{pattern} has no {'rows' if not table.rows else 'columns'}", codes.EMPTY_TABLE,
                 help="a table loop makes one variant per row under the header; add rows")
        return None
    if it.key is not None:
        if it.key_var_name != var:
            st.error(it.key_var.span if it.key_var else it.span,
                     f"`key {it.key_var_name}.{it.key.name}`: the loop variable is `{var}`",
                     codes.KEY_NOT_LOOP_VARIABLE, help=f"write `key {var}.{it.key.name}`")
            return None
        if it.key.name not in table.columns:
            _unknown_column(st, it.key.name, it.key.span, table.columns, pattern)
            return None
        column = it.key.name
    else:
        column = table.columns[0]
    out: list[tuple[str, Binding]] = []
    first: dict[str, Span] = {}
    for row in table.rows:
        cell = row.cells.get(column)
        if cell is None:
            st.error(row.span, f"this row has no `{column}`, the loop's key", codes.UNKNOWN_COLUMN,
                     help="every row needs a key: it names the row's steps")
            return None
        key = cell.text.strip()
        if not key or any(c in key for c in "[]\n"):
            st.error(cell.span, f"`{key}` cannot name a step" if key else "an empty key cannot name a step",
                     codes.BAD_LOOP_KEY, help=f"the `{column}` column names each row's steps: give every row "
                     "a distinct value without brackets or newlines")
            return None
        if key in first:
            st.error(cell.span, f"two rows have the key `{key}`", codes.DUPLICATE_ROW_KEY,
                     help=f"the `{column}` column names each row's steps; make it unique, or choose another "
                          f"with `key {var}.COLUMN`", related=(Related(first[key], "first used here"),))
            return None
        first[key] = cell.span
        out.append((key, Binding(var, "row", row, key, cell.span)))
    texts = {key: {c: cell.text for c, cell in binding.value.cells.items()} for key, binding in out}
    st.tables.append(TableRows(pattern, var, index, tuple(first), _uses(loop_body, var), texts))
    if path.resolve() not in st.files:
        st.files.append(path.resolve())  # `preview --watch` re-renders when the table changes
    return out


def _uses(body, var: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """Which columns each step of a loop body reads (for plan's "hat-07: headline"): per edit clause and in all."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for stmt in body:
        if isinstance(stmt, ast.ForLoop):
            out.update(_uses(stmt.body, var))
            continue
        name = getattr(getattr(stmt, "name", None), "name", None) or getattr(getattr(stmt, "target", None), "name", None)
        if name is None:
            continue
        clauses = [stmt.source] if isinstance(stmt, ast.Media) else list(getattr(stmt, "body", ()))
        every: list[str] = []
        if isinstance(stmt, ast.Ask):
            every += _columns([stmt.instruction], var)
        for clause in clauses:
            items = clause.items if isinstance(clause, ast.Clause) else [*clause.subject, clause.value, *clause.more]
            found = _columns(items, var)
            if found and isinstance(stmt, ast.Edit):
                out[(name, f"{clause.span.line}:{clause.span.column}")] = tuple(found)
            every += [c for c in found if c not in every]
        if every:
            out[(name, "*")] = tuple(every)
    return out


def _columns(items, var: str) -> list[str]:
    found: list[str] = []
    for item in items:
        if isinstance(item, ast.Var) and item.name.startswith(var + "."):
            found.append(item.name.split(".", 1)[1])
        elif isinstance(item, ast.StringLit):
            found += [p.attr for p in item.parts if isinstance(p, Interpolation) and p.name == var and p.attr]
        elif isinstance(item, ast.ListLit):
            found += _columns(item.items, var)
    return list(dict.fromkeys(found))


def _shown(path: Path) -> str:
    """The data file's name in diagnostics: relative to the current folder when it is below it."""
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def _add_source(st: State, path: Path, shown: str) -> None:
    try:
        st.sources.add(shown, path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        pass


def _unknown_column(st: State, name: str, span: Span, columns, where: str) -> None:
    best = did_you_mean(name, columns) if st.shown(codes.UNKNOWN_COLUMN, span) else None  # each row repeats it
    st.error(span, f"{where} has no column `{name}`", codes.UNKNOWN_COLUMN,
             help=f"did you mean `{best}`?" if best else "its columns: " + ", ".join(f"`{c}`" for c in columns))


def is_cell(var: ast.Var) -> bool:
    return "." in var.name


def cell(st: State, var: ast.Var, env) -> Cell | None:
    """The cell `$row.column` names in this iteration, or None (reported)."""
    head, column = var.name.split(".", 1)
    return cell_named(st, head, column, var.span, env)


def cell_named(st: State, head: str, column: str, span: Span, env) -> Cell | None:
    binding = env.get(head)
    if binding is None or binding.kind != "row":
        what = "not a loop variable here" if binding is None else "not a table row"
        st.error(span, f"`{head}.{column}`: `{head}` is {what}", codes.UNKNOWN_FIELD,
                 help="`NAME.COLUMN` reads a column of a `for NAME in table(…)` loop's row")
        return None
    row: Row = binding.value
    found = row.cells.get(column)
    if found is None:
        if column in row.columns:  # JSON, JSONL, TOML: another row has it, this one leaves it out
            st.error(span, f"row {row.number} ({row.span.file}:{row.span.line}) has no `{column}`", codes.UNKNOWN_COLUMN,
                     help=f"give every row a cell `{column}`", related=(Related(row.span, "the row"),))
        else:
            _unknown_column(st, column, span, row.columns, row.span.file)
        return None
    return found


def natural(st: State, var: ast.Var, env):
    """`$row.column` where no type is asked for (a loop list, a param-like use): a value if it reads as one
    (`2s`, `35%`, `#fff`, `true`), else its text."""
    c = cell(st, var, env)
    if c is None:
        return FAIL
    item = _literal(st, c, var.span)
    if item is FAIL:
        return FAIL
    return item.value


def item_for(st: State, var: ast.Var, env, kinds: tuple[str, ...]):
    """The cell as the item a slot of these kinds reads: text where text is wanted, else a literal, a color
    name or a size word; its span is the cell's, so the slot's own messages point at the data file."""
    c = cell(st, var, env)
    if c is None:
        return FAIL
    text = c.text.strip()
    if "string" in kinds or "path" in kinds or not kinds:
        return ast.StringLit(json.dumps(c.text), (c.text,), c.text, c.span)
    if ("color" in kinds or "frame" in kinds) and _WORD.fullmatch(text):  # `red`, `vertical`, or a misspelling
        return ast.Word(text, c.span)
    return _literal(st, c, var.span)


def _literal(st: State, c: Cell, used: Span):
    text = c.text.strip()
    span = c.span
    readers = ((_TIMECODE, read_timecode, "timecode"), (_RATIO, read_ratio, "ratio"), (_COLOR, read_color, "color"),
               (_QUANTITY, read_quantity, "quantity"))
    if text in ("true", "false"):
        return ast.Literal("boolean", text, text == "true", span)
    for pattern, reader, kind in readers:
        if pattern.fullmatch(text):
            try:
                return ast.Literal(kind, text, reader(text), span)
            except LiteralError as err:
                st.error(span, f"{err.message} (this cell)", codes.BAD_CELL, help=err.help,
                         related=(Related(used, "used here"),))
                return FAIL
    return ast.StringLit(json.dumps(c.text), (c.text,), c.text, span)


def note_use(st: State, before: int, cell_span: Span, used: Span) -> None:
    """Diagnostics reported at a cell since `before` also name the recipe line that used it."""
    if cell_span == used:  # not a cell: the value was written in the recipe
        return
    for i in range(before, len(st.diags)):
        d = st.diags[i]
        if d.span == cell_span and not any(r.span == used for r in d.related):
            st.diags[i] = attrs.evolve(d, related=(*d.related, Related(used, "used here")))


def fits(var: ast.Var, env, spec) -> bool:
    """Whether `$row.column` could fill an optional positional slot of type `spec` (no diagnostics): as its text
    for an enum or a string, else as the value it reads as. A cell that reads as nothing (`3sec`) fits any typed
    slot, so the slot reports it at the cell."""
    from .coerce import fits_kind

    head, column = var.name.split(".", 1)
    binding = env.get(head)
    found = binding.value.cells.get(column) if binding is not None and binding.kind == "row" else None
    if found is None:
        return False
    if isinstance(spec, tuple):
        return True
    if spec in ("media", "draft", "source"):
        return False
    if spec in ("look", "path"):
        return True
    kinds = spec.split("|")
    text = found.text.strip()
    if "string" in kinds:
        return True
    if ("color" in kinds or "frame" in kinds) and _WORD.fullmatch(text):
        return True
    for pattern, reader in ((_TIMECODE, read_timecode), (_RATIO, read_ratio), (_COLOR, read_color), (_QUANTITY, read_quantity)):
        if pattern.fullmatch(text):
            try:
                value = reader(text)
            except LiteralError:
                return True
            return any(fits_kind(value, k) for k in kinds)
    return text in ("true", "false") and "boolean" in kinds
