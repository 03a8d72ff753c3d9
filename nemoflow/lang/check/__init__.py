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

from ...core import codes, limits
from ...core.diagnostics import RecipeError, Span, sort_key
from ...core.model import Recipe, StepKind
from ...core.outputs import OutputPolicy
from .. import ast
from ..parser import parse_module, read_source
from .declare import MAX_FANOUT, declare, loop_variables_hiding_steps
from .includes import engine_statement, load_includes
from .params import read_params
from .resolve import resolve
from .state import State, TooManyReferences, TooManySteps
from .whole import cycles, export_paths, source_order, unused

__all__ = ["MAX_FANOUT", "check_file", "check_source"]


def check_file(
    path: Path,
    overrides: dict[str, str] | None = None,
    params_file: Path | None = None,
    display: str | None = None,
    outputs: OutputPolicy | None = None,
) -> Recipe:
    """Read, parse and check a recipe file and its includes; raise RecipeError on any error.

    `outputs`: where exports may be saved besides the recipe's folder (default: only under it).
    """
    st = State(overrides or {}, params_file, outputs or OutputPolicy())
    with limits.gc_paused():
        return _run(st, path, display or str(path))


def check_source(text: str, file: str = "recipe.nemo", base_dir: Path | None = None,
                 overrides: dict[str, str] | None = None, outputs: OutputPolicy | None = None) -> Recipe:
    """Check recipe text that is not on disk (tests, editors); `base_dir` stands for the recipe's folder."""
    st = State(overrides or {}, None, outputs or OutputPolicy())
    with limits.gc_paused():
        return _run_text(st, text, file, base_dir or Path.cwd())


def _run(st: State, path: Path, display: str) -> Recipe:
    text = read_source(path, display)
    st.read += len(text)
    st.files.append(path.resolve())
    return _run_text(st, text, display, path.resolve().parent)


def _run_text(st: State, text: str, file: str, base_dir: Path) -> Recipe:
    """The pipeline: includes, engine, params, declarations, resolution, whole-recipe checks."""
    st.sources.add(file, text)
    st.dirs[file] = base_dir
    try:
        root = parse_module(text, file, st.budget, comments=False)
    except RecipeError as err:
        raise RecipeError(err.diagnostics, st.merge(err.sources)) from None
    statements = load_includes(st, root, [file], {file})
    if st.budget.tokens < 0:  # an include went over the token limit: what follows would only echo the missing part
        raise RecipeError(limits.capped(sorted((d for d in st.diags if d.is_error), key=sort_key)), st.sources)
    engine = engine_statement(st, statements)
    read_params(st, statements)
    for stmt in statements:
        if not isinstance(stmt, ast.Include):
            try:
                declare(st, stmt, (), {}, (), st.dirs[stmt.span.file])
            except TooManySteps as over:
                _too_many_steps(st, stmt, over.expanded)
                raise RecipeError(limits.capped(sorted((d for d in st.diags if d.is_error), key=sort_key)), st.sources) from None
    loop_variables_hiding_steps(st)
    # Media first: edits check in/out points against generated sources' lengths.
    instances = [i for insts in st.decls.values() for i in insts]
    try:
        for inst in sorted(instances, key=lambda i: i.kind != StepKind.MEDIA):
            resolve(st, inst)
        for inst in st.expects:
            resolve(st, inst)
        for inst in st.glob_media.values():
            resolve(st, inst)
    except TooManyReferences as over:
        n = st.max_references
        st.error(over.span, f"fan-out makes more than {n:,} references between steps by here; a recipe may make at most {n:,}",
                 codes.TOO_MANY_REFERENCES,
                 help=f"a name that means every item of a loop (`concat m`), used inside another loop, refers to all of "
                      f"them each time; {limits.REFERENCES.how_to_raise()}")
        raise RecipeError(limits.capped(sorted((d for d in st.diags if d.is_error), key=sort_key)), st.sources) from None
    cycles(st)
    export_paths(st)
    unused(st, statements)
    # One report per place, not one per loop item (the first: later ones may have skipped their "did you mean").
    st.diags = list({(d.span, d.code, d.message): d for d in reversed(st.diags)}.values())[::-1]
    errors = [d for d in st.diags if d.is_error]
    if errors:
        # Warnings ("never used") are mostly echoes of the errors; show them once the errors are fixed.
        raise RecipeError(limits.capped(sorted(errors, key=sort_key)), st.sources)
    ordered = source_order(st)
    return Recipe(
        path=(base_dir / Path(file).name),
        steps=ordered,
        params=st.params,
        files=tuple(st.files),
        sources=st.sources,
        warnings=tuple(limits.capped(sorted(st.diags, key=sort_key))),
        engine=engine.name.name if engine is not None else None,
        engine_span=engine.span if engine is not None else None,
        tables=tuple(st.tables),
    )


def _too_many_steps(st: State, stmt, expanded: bool) -> None:
    """Reported at the top-level statement whose fan-out went over (a loop: `for x in [...]` is underlined)."""
    sp = stmt.span
    end = stmt.iterable.span if isinstance(stmt, ast.ForLoop) else None
    span = Span(sp.file, sp.line, sp.column, end.end_line, end.end_column) if end is not None and end.line == sp.line \
        else Span.point(sp.file, sp.line, sp.column)
    if expanded:
        n = st.max_expanded
        st.error(span, f"fan-out makes the recipe too large to check: once loops are expanded, its steps hold more than "
                 f"{n:,} values (each item repeats the loop's body); a recipe may hold at most {n:,}", codes.EXPANDED_TOO_LARGE,
                 help=f"move what every item shares out of the loop, or loop over fewer items; {limits.EXPANDED.how_to_raise()}")
        return
    n = st.max_steps
    st.error(span, f"fan-out makes more than {n:,} steps and loop iterations (counting the loops inside this one); "
             f"a recipe may make at most {n:,}", codes.TOO_MANY_STEPS,
             help=f"loop over fewer items, or split the recipe; {limits.STEPS.how_to_raise()}")
