"""References: a name in a clause resolved to step ids, fan-out included.

Inside its loop a fanned-out name means this item's instance; outside, it is
an error unless the slot takes many (`concat`) or it is an expect's target.
"""

from __future__ import annotations

from ...core import codes
from ...core.diagnostics import Related, Span, suggestion
from ...core.model import StepKind, StepRef, label
from .. import ast
from .state import FAIL, Instance, State
from .text import article, describe_item, want_text


def reference(st: State, item, want: str, inst: Instance, what: str, many: bool):
    """The step(s) an item names, of the kinds `want` allows; marks them used."""
    if isinstance(item, ast.Ref):
        name, index, span = item.name, item.index, item.span
    elif isinstance(item, ast.Word):
        name, index, span = item.name, item.index, item.span
    elif isinstance(item, ast.Var):
        st.error(item.span, f"{what} takes a name, not `${item.name}`", codes.NOT_A_STEP_NAME,
                 help="declare a media for it: `media clip = $" + item.name + "`")
        return FAIL
    else:
        st.error(item.span, f"{what} takes the name of a {want_text(want)}, got {describe_item(item)}", codes.NOT_A_STEP_NAME,
                 help="declare a media first: `media clip = \"footage/clip.mp4\"`, then refer to `clip`"
                 if isinstance(item, ast.StringLit) else None)
        return FAIL
    binding = inst.env.get(name)
    if binding is not None and not index:
        if binding.kind != "media" or binding.media_id is None:
            st.error(span, f"`{name}` is a loop value, not a step", codes.LOOP_VALUE_NOT_STEP, help=f"write `${name}` to use its value")
            return FAIL
        found = [st.glob_media[binding.media_id]]
    else:
        found = lookup(st, name, index, span, inst, many)
        if found is None:
            return FAIL
    st.refer(len(found), span)
    for target in found:
        if target.kind not in _WANTED[want]:
            kind = target.kind
            st.error(span, f"`{name}` is {article(kind)} {kind}; {what} takes {want_text(want)}", codes.WRONG_STEP_KIND,
                     help="an export is a file on disk; refer to the edit it renders instead" if kind == StepKind.EXPORT else None)
            return FAIL
    st.used.update(t.id for t in found)
    refs = tuple(StepRef(t.id) for t in found)
    return refs if many else refs[0]


_WANTED = {"media": (StepKind.MEDIA,), "draft": (StepKind.EDIT, StepKind.ASK), "source": (StepKind.MEDIA, StepKind.EDIT, StepKind.ASK)}


def lookup(st: State, name: str, index: tuple[str, ...], span: Span, inst: Instance, many: bool) -> list[Instance] | None:
    """The instances a name means: an explicit index, this loop item's instance, or every instance when `many`."""
    insts = st.decls.get(name)
    if not insts:
        hint = suggestion(name, [*st.decls, *inst.env]) if st.shown(codes.UNKNOWN_NAME, span) else None
        st.error(span, f"unknown name `{name}`", codes.UNKNOWN_NAME,
                 help=hint or "declare it with `media`, `edit`, `ask` or `export`")
        return None
    if index:
        found = st.instances(name).get(index)
        if found:
            return found[:1]
        shown = ", ".join(c.label for c in insts[:6])
        st.error(span, f"no step `{label(name, index)}`", codes.NO_SUCH_INSTANCE,
                 help=f"`{name}` has: {shown}" + (" …" if len(insts) > 6 else ""))
        return None
    first = insts[0]
    if not first.loops:
        return [first]
    depth = len(first.loops)
    if inst.loops[:depth] == first.loops:
        return list(st.instances(name).get(inst.index[:depth], ()))
    if many:
        return list(insts)
    examples = ", ".join(c.label for c in insts[:2])
    st.error(span, f"`{name}` is fanned out over {len(insts)} items", codes.FANNED_OUT_NAME,
             help=f"refer to one of them ({examples}, …), move this into the loop, or gather them all with `concat {name}`",
             related=(Related(first.span, "declared inside this loop"),))
    return None
