"""Whole-recipe checks, once every step is resolved: cycles, clashing export paths, unused names, step order."""

from __future__ import annotations

import os
from pathlib import Path

from ...core import codes
from ...core.diagnostics import Related, Span
from ...core.model import Step, StepKind, step_id
from .state import State


def cycles(st: State) -> None:
    """Report each dependency cycle once, at its first step, with the others as notes."""
    from ...core.graph import find_cycles

    for cycle in find_cycles(st.steps):
        path = " → ".join([*cycle, cycle[0]])
        first = st.steps[cycle[0]]
        st.error(first.span, f"dependency cycle: {path}", codes.DEPENDENCY_CYCLE,
                 help="a step cannot depend on itself, directly or through other steps; break one of the references",
                 related=tuple(Related(st.steps[s].span, f"{s} is declared here") for s in cycle[1:]))


def export_paths(st: State) -> None:
    """Exports must not overwrite source media, nor each other."""
    written: dict[Path, Step] = {}
    media_files = {s.spec.path: s for s in st.steps.values() if s.kind == StepKind.MEDIA and s.spec.path is not None}
    for step in st.steps.values():
        if step.kind != StepKind.EXPORT:
            continue
        path = step.spec.path
        if path in media_files:
            st.error(step.span, f"`{step.id}` would overwrite the source media {path.name}", codes.OVERWRITES_SOURCE,
                     help="source media is never modified; save the export somewhere else",
                     related=(Related(media_files[path].span, "the media is declared here"),))
        elif path in written:
            st.error(step.span, f"`{step.id}` and `{written[path].id}` both write {os.path.relpath(path)}", codes.SAME_OUTPUT,
                     help="give each export its own `save` path; in a loop, use the item in it, e.g. `save \"out/${clip}.mp4\"`",
                     related=(Related(written[path].span, f"{written[path].id} is declared here"),))
        else:
            written[path] = step


def unused(st: State, statements: list) -> None:
    """Warnings: params and media never used, and a recipe with no export."""
    for name, decl in st.param_decls.items():
        if name not in st.used_params and name in st.params:
            st.warn(decl.name.span, f"param `{name}` is never used", codes.UNUSED_PARAM, help=f"use it as `${name}`, or remove it")
    for step in st.steps.values():
        if step.kind == StepKind.MEDIA and step.id not in st.used and not step.index:
            st.warn(step.span, f"media `{step.name}` is never used", codes.UNUSED_MEDIA, help="refer to it in an edit, or remove it")
    if not any(s.kind == StepKind.EXPORT for s in st.steps.values()) and st.steps:
        first = statements[0].span if statements else Span.point("recipe", 1, 1)
        st.warn(first, "this recipe has no export, so a run renders nothing", codes.NO_EXPORT,
                help="add `export NAME = EDIT { save \"out/NAME.mp4\" }`")


def source_order(st: State) -> dict[str, Step]:
    """Steps in declaration order (includes where they are included, loops item by item)."""
    last = len(st.order)

    def key(step: Step):
        # an expect on a fanned-out export made outside its loop sits with its own declaration
        return (st.order.get(step.id, st.order.get(step_id(StepKind.EXPECT, step.name), last)), step.id)

    return {s.id: s for s in sorted(st.steps.values(), key=key)}
