"""Syntax tree → checked Recipe: includes, params, fan-out, names, types, units.

The checker collects every problem it can find before giving up, so a user
fixes a recipe in one round trip. Fan-out is expanded here, at compile time:
`for clip in glob("footage/*.mp4")` becomes one step per file, with stable
names such as `export.final[clip_a]`, so the DAG is static and plannable.

The stages, in order, each a module taking the shared `State` (state.py):
includes (read every file, the `engine` statement) → params (defaults,
`--set`, `--params`) → declare (one Instance per step, loops expanded) →
resolve (each step's clauses matched against its signatures, values coerced,
names looked up) → whole (cycles, export paths, unused names).
"""

from __future__ import annotations

from pathlib import Path

from ...core.diagnostics import RecipeError, sort_key
from ...core.model import Recipe, StepKind
from .. import ast
from ..parser import parse_module, read_source
from .declare import MAX_FANOUT, declare, loop_variables_hiding_steps
from .includes import engine_statement, load_includes
from .params import read_params
from .resolve import resolve
from .state import State
from .whole import cycles, export_paths, source_order, unused

__all__ = ["MAX_FANOUT", "check_file", "check_source"]


def check_file(
    path: Path,
    overrides: dict[str, str] | None = None,
    params_file: Path | None = None,
    display: str | None = None,
) -> Recipe:
    """Read, parse and check a recipe file and its includes; raise RecipeError on any error."""
    st = State(overrides or {}, params_file)
    return _run(st, path, display or str(path))


def check_source(text: str, file: str = "recipe.nemo", base_dir: Path | None = None,
                 overrides: dict[str, str] | None = None) -> Recipe:
    """Check recipe text that is not on disk (tests, editors)."""
    st = State(overrides or {}, None)
    return _run_text(st, text, file, base_dir or Path.cwd())


def _run(st: State, path: Path, display: str) -> Recipe:
    text = read_source(path, display)
    st.files.append(path.resolve())
    return _run_text(st, text, display, path.resolve().parent)


def _run_text(st: State, text: str, file: str, base_dir: Path) -> Recipe:
    """The pipeline: includes, engine, params, declarations, resolution, whole-recipe checks."""
    st.sources.add(file, text)
    st.dirs[file] = base_dir
    try:
        root = parse_module(text, file)
    except RecipeError as err:
        raise RecipeError(err.diagnostics, st.merge(err.sources)) from None
    statements = load_includes(st, root, [file], {file})
    engine = engine_statement(st, statements)
    read_params(st, statements)
    for stmt in statements:
        if not isinstance(stmt, ast.Include):
            declare(st, stmt, (), {}, (), st.dirs[stmt.span.file])
    loop_variables_hiding_steps(st)
    # Media first: edits check in/out points against generated sources' lengths.
    instances = [i for insts in st.decls.values() for i in insts]
    for inst in sorted(instances, key=lambda i: i.kind != StepKind.MEDIA):
        resolve(st, inst)
    for inst in st.expects:
        resolve(st, inst)
    for inst in st.glob_media.values():
        resolve(st, inst)
    cycles(st)
    export_paths(st)
    unused(st, statements)
    st.diags = list(dict.fromkeys(st.diags))  # one report per place, not one per loop item
    errors = [d for d in st.diags if d.is_error]
    if errors:
        # Warnings ("never used") are mostly echoes of the errors; show them once the errors are fixed.
        raise RecipeError(sorted(errors, key=sort_key), st.sources)
    ordered = source_order(st)
    return Recipe(
        path=(base_dir / Path(file).name),
        steps=ordered,
        params=st.params,
        files=tuple(st.files),
        sources=st.sources,
        warnings=tuple(sorted(st.diags, key=sort_key)),
        engine=engine.name.name if engine is not None else None,
        engine_span=engine.span if engine is not None else None,
    )
