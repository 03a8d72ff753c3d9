"""Reading values that depend on where they stand: `$param`, loop variables, and `${…}` in strings.

Reading a param marks it used (for the "never used" warning). A failure
returns FAIL (or None for strings) after reporting, so callers simply stop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...core import codes
from ...core.diagnostics import Span, did_you_mean, suggestion
from .. import ast
from ..literals import Interpolation
from . import cells
from .state import FAIL, State


def param_value(st: State, var: ast.Var, env):
    """The value of `$name`: a loop variable, else a param (marked used), else FAIL (reported)."""
    if cells.is_cell(var):  # `$row.price`
        return cells.natural(st, var, env)
    binding = env.get(var.name)
    if binding is not None:
        if binding.kind == "media":
            return str(binding.value)
        if binding.kind == "row":
            st.error(var.span, f"`${var.name}` is a whole table row", codes.UNKNOWN_COLUMN,
                     help=f"read one of its cells: `${var.name}.COLUMN` (`${{{var.name}}}` in text gives the row's key)")
            return FAIL
        return binding.value
    if var.name in st.params:
        st.used_params.add(var.name)
        return st.params[var.name].value
    if var.name in st.param_decls:
        st.used_params.add(var.name)
        return FAIL  # declared but invalid: already reported
    names = [*st.param_decls, *env] if st.shown(codes.UNKNOWN_PARAM, var.span) else []  # no "did you mean" for hidden ones
    st.error(var.span, f"unknown param `${var.name}`", codes.UNKNOWN_PARAM,
             help=(suggestion(var.name, names) and f"did you mean `${did_you_mean(var.name, names)}`?")
             or "declare it with `param NAME = default`")
    return FAIL


def string_value(st: State, lit: ast.StringLit, env) -> str | None:
    """A string with its `${…}` filled in, or None (reported)."""
    out = []
    for part in lit.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = _interpolate(st, part, lit, env)
        if value is None:
            return None
        out.append(value)
    return "".join(out)


def _interpolate(st: State, part: Interpolation, lit: ast.StringLit, env) -> str | None:
    """One `${name}` or `${name.field}`: a glob item gives its key, a field reads its path."""
    span = Span(lit.span.file, lit.span.line, lit.span.column + part.offset, lit.span.line,
                lit.span.column + part.offset + part.length) if lit.span.line == lit.span.end_line else lit.span
    binding = env.get(part.name)
    if binding is not None:
        value: Any = binding.value
    elif part.name in st.params:
        st.used_params.add(part.name)
        value = st.params[part.name].value
    elif part.name in st.param_decls:
        st.used_params.add(part.name)
        return None
    else:
        names = [*st.param_decls, *env] if st.shown(codes.UNKNOWN_INTERPOLATION, span) else []
        best = did_you_mean(part.name, names)
        st.error(span, f"unknown name `{part.name}` in `${{…}}`", codes.UNKNOWN_INTERPOLATION,
                 help=f"did you mean `${{{best}}}`?" if best else "`${…}` takes a param or a loop variable")
        return None
    if binding is not None and binding.kind == "row":  # `${row}`: the row's key; `${row.title}`: a cell as text
        if part.attr is None:
            return binding.key
        found = cells.cell_named(st, part.name, part.attr, span, env)
        return None if found is None else found.text
    if part.attr is None:
        if binding is not None and binding.kind == "media":
            return binding.key
        return str(value) if not isinstance(value, bool) else str(value).lower()
    attrs_map = {"stem": lambda p: p.stem, "name": lambda p: p.name, "ext": lambda p: p.suffix.lstrip("."),
                 "dir": lambda p: str(p.parent), "path": str}
    if part.attr not in attrs_map:
        st.error(span, f"unknown field `.{part.attr}`", codes.UNKNOWN_FIELD,
                 help=suggestion(part.attr, attrs_map) or "fields: .stem .name .ext .dir .path")
        return None
    return attrs_map[part.attr](Path(str(value)))


def plain_value(st: State, item, env):
    """A plain value (no type expected): used in loops."""
    if isinstance(item, ast.StringLit):
        s = string_value(st, item, env)
        return FAIL if s is None else s
    if isinstance(item, ast.Var):
        return param_value(st, item, env)
    if isinstance(item, ast.ListLit):
        vals = [plain_value(st, v, env) for v in item.items]
        return FAIL if FAIL in vals else tuple(vals)
    if isinstance(item, ast.Word):
        st.error(item.span, f"`{item.name}` is a bare name here", codes.BARE_NAME_IN_LOOP, help=f'quote it: `"{item.name}"`')
        return FAIL
    return FAIL if item.value is None else item.value
