"""Reading the file tree: `include` statements spliced in place, and the recipe's one `engine`.

Includes are read before params are known, so their paths must be literal;
each file is read once, so diamond includes are fine and cycles are reported.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...core import codes, engines
from ...core.diagnostics import RecipeError, Related, suggestion
from .. import ast
from ..parser import parse_module, read_source
from .state import State
from .text import sibling, similar_file


def load_includes(st: State, module: ast.Module, stack: list[str], seen: set[str]) -> list:
    """A module's statements with each include replaced by the included file's statements."""
    out: list = []
    here = st.dirs[module.file]
    for stmt in module.statements:
        _top_level_only(st, stmt)
        if not isinstance(stmt, ast.Include):
            out.append(stmt)
            continue
        if not stmt.path.is_plain:
            st.error(stmt.path.span, "an include path cannot use `${…}`", codes.INCLUDE_INTERPOLATED,
                     help="includes are read before params are known; write the path literally")
            continue
        target = (here / stmt.path.value).resolve()
        display = os.path.normpath(os.path.join(os.path.dirname(module.file), stmt.path.value))
        if display in stack or str(target) in {str((st.dirs[s] / Path(s).name).resolve()) for s in stack}:
            chain = " → ".join([*stack[stack.index(display):], display]) if display in stack else " → ".join([*stack, display])
            st.error(stmt.path.span, f"include cycle: {chain}", codes.INCLUDE_CYCLE,
                     help="a file cannot include itself, directly or through other files; remove one include")
            continue
        if display in seen:
            continue  # each file is included once (diamond includes are fine)
        if not target.is_file():
            hint = similar_file(target)
            st.error(stmt.path.span, f"included file not found: {stmt.path.value}", codes.INCLUDE_NOT_FOUND,
                     help=f"did you mean `{sibling(stmt.path.value, hint)}`?" if hint
                     else "include paths are relative to the including file's folder")
            continue
        seen.add(display)
        try:
            text = read_source(target, display)
            st.sources.add(display, text)
            st.dirs[display] = target.parent
            sub = parse_module(text, display)
        except RecipeError as err:
            st.merge(err.sources)
            st.diags.extend(err.diagnostics)
            continue
        st.files.append(target)
        out.extend(load_includes(st, sub, [*stack, display], seen))
    return out


def _top_level_only(st: State, stmt) -> None:
    """`include` and `engine` belong to the whole recipe, never to one loop item."""
    if isinstance(stmt, ast.ForLoop):
        for inner in stmt.body:
            if isinstance(inner, ast.Include):
                st.error(inner.span, "`include` inside a `for` loop", codes.INCLUDE_IN_LOOP,
                         help="move the include to the top level of the file")
            elif isinstance(inner, ast.Engine):
                st.error(inner.span, "`engine` inside a `for` loop", codes.ENGINE_IN_LOOP,
                         help="a recipe runs on one engine: move `engine` to the top level of the file")
            _top_level_only(st, inner)


def engine_statement(st: State, statements: list) -> ast.Engine | None:
    """The recipe's one top-level `engine` statement (included files count), if any."""
    found: ast.Engine | None = None
    for stmt in statements:
        if not isinstance(stmt, ast.Engine):
            continue
        if found is not None:
            st.error(stmt.span, "a second `engine` statement", codes.SECOND_ENGINE,
                     help="a recipe runs on one engine (statements in included files count too): remove one of them",
                     related=(Related(found.span, "first `engine` statement here"),))
            continue
        found = stmt
        name = stmt.name.name
        if name not in engines.names():
            hint = suggestion(name, engines.names())
            st.error(stmt.name.span, f"unknown engine `{name}`", codes.UNKNOWN_ENGINE,
                     help=(f"{hint} " if hint else "") + f"the engines are {engines.described()}")
    return found
