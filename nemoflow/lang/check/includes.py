"""Reading the file tree: `include` statements spliced in place, and the recipe's one `engine`.

Includes are read before params are known, so their paths must be literal;
each file is read once, so diamond includes are fine and cycles are reported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ...core import codes, engines, limits
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
        if st.budget.tokens < 0:
            continue  # the recipe is over its token limit, reported once where it ran out
        # os.path's probes, not Path's: they answer False for a name over NAME_MAX instead of raising OSError
        if os.path.isdir(target):
            inside = sorted(p.name for p in target.glob("*.nemo"))[:3]
            st.error(stmt.path.span, f"{stmt.path.value} is a directory, not a recipe file", codes.INCLUDE_IS_DIRECTORY,
                     help=f"include a recipe inside it, e.g. `include \"{stmt.path.value.rstrip('/')}/{inside[0]}\"`" if inside
                     else "include names one .nemo file")
            continue
        if os.path.exists(target) and not os.path.isfile(target):
            _not_a_recipe(st, stmt, "it is a device, pipe or socket, not a file")
            continue
        if not os.path.isfile(target):
            hint = similar_file(target)
            st.error(stmt.path.span, f"included file not found: {stmt.path.value}", codes.INCLUDE_NOT_FOUND,
                     help=f"did you mean `{sibling(stmt.path.value, hint)}`?" if hint
                     else "include paths are relative to the including file's folder")
            continue
        seen.add(display)
        try:
            text = read_source(target, display)
            st.read += len(text)
        except RecipeError as err:
            if any(d.code == codes.NOT_UTF8.id for d in err.diagnostics):
                _not_a_recipe(st, stmt, "it is not UTF-8 text")
            else:  # too large, unreadable: these messages quote nothing of the file
                st.merge(err.sources)
                st.diags.extend(err.diagnostics)
            continue
        if not _RECIPE_START.match(text):
            _not_a_recipe(st, stmt, "it does not start with the header `nemo 1`")
            continue
        if st.read > limits.RECIPE_BYTES.value():
            st.error(stmt.path.span, f"with {stmt.path.value}, the recipe and the files it includes come to more than "
                     f"{limits.RECIPE_BYTES.value() / 1e6:g} MB of text", codes.RECIPE_TOO_LARGE,
                     help=f"a recipe and its includes are read whole by every check; {limits.RECIPE_BYTES.how_to_raise()}")
            continue
        try:
            st.sources.add(display, text)
            st.dirs[display] = target.parent
            sub = parse_module(text, display, st.budget, comments=False)
        except RecipeError as err:
            st.merge(err.sources)
            st.diags.extend(err.diagnostics)
            continue
        st.files.append(target)
        out.extend(load_includes(st, sub, [*stack, display], seen))
    return out


_RECIPE_START = re.compile(r"\A(?:[ \t]*+(?:#[^\n]*+)?+\r?\n)*+[ \t]*+nemo(?![\w-])")
"""A recipe begins with `nemo`, after blank lines and comments; anything else is some other file.
(Possessive repeats: millions of comment lines before the header cost no backtracking memory.)"""


def _not_a_recipe(st: State, stmt: ast.Include, why: str) -> None:
    """Reported at the include, quoting nothing of the file: a recipe shared in git must not make CI logs print,
    say, the first line of /etc/passwd."""
    st.error(stmt.path.span, f"{stmt.path.value} is not a nemoflow recipe: {why}", codes.INCLUDE_NOT_RECIPE,
             help="include names another .nemo recipe (its content is not shown, since it is not one)")


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
