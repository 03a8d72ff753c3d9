"""Declarations and fan-out: one Instance per step, with `for` loops expanded at compile time.

A glob loop's variable becomes an implicit media step per file
(`media.clip[city]`); a list loop's variable is a value. Keys come from file
stems (relative paths when stems clash) or from the items as written, so
step names stay stable between runs.
"""

from __future__ import annotations

import glob as globlib
import os
from pathlib import Path

import attrs

from ...core import codes, limits
from ...core.diagnostics import Related, Span
from ...core.model import StepKind
from .. import ast
from . import cells
from .state import FAIL, Binding, Instance, State
from .text import describe
from .values import param_value, plain_value, string_value

MAX_FANOUT = limits.FANOUT.default


_KINDS = {ast.Media: StepKind.MEDIA, ast.Edit: StepKind.EDIT, ast.Ask: StepKind.ASK, ast.Export: StepKind.EXPORT}


def declare(st: State, stmt, index: tuple[str, ...], env: dict[str, Binding], loops: tuple[int, ...], base_dir: Path) -> None:
    """Record a statement's Instance (or, for a loop, one per item), catching duplicate names."""
    if isinstance(stmt, (ast.Param, ast.Include, ast.Engine)):
        return
    if isinstance(stmt, ast.ForLoop):
        _declare_loop(st, stmt, index, env, loops, base_dir)
        return
    if isinstance(stmt, ast.Expect):
        inst = Instance(StepKind.EXPECT, stmt.target.name, index, stmt, env, loops, base_dir, stmt.span)
        st.expects.append(inst)
        st.seq(inst)
        return
    kind = _KINDS[type(stmt)]
    name = stmt.name.name
    if name in env:
        st.error(stmt.name.span, f"`{name}` is already the loop variable here", codes.NAME_IS_LOOP_VARIABLE,
                 help="give the step another name",
                 related=(Related(env[name].span, "loop variable declared here"),))
        return
    first = st.decl_first.get(name)
    if first is not None and first[0] != id(stmt):
        st.error(stmt.name.span, f"duplicate name `{name}`", codes.DUPLICATE_NAME,
                 help="every media, edit, ask and export needs its own name",
                 related=(Related(first[1], "first declared here"),))
        return
    st.decl_first.setdefault(name, (id(stmt), stmt.name.span))
    inst = Instance(kind, name, index, stmt, env, loops, base_dir, stmt.span)
    st.decls.setdefault(name, []).append(inst)
    st.seq(inst)


def loop_variables_hiding_steps(st: State) -> None:
    """Once every step is declared: a loop variable named like a step would make the name mean two things."""
    for var in st.loop_vars:
        if var.name in st.decls:
            first = st.decls[var.name][0]
            st.error(var.span, f"loop variable `{var.name}` hides the step `{var.name}`", codes.LOOP_VARIABLE_HIDES_STEP,
                     help="rename the loop variable", related=(Related(first.stmt.name.span, "the step is declared here"),))


def _declare_loop(st: State, loop: ast.ForLoop, index, env, loops, base_dir) -> None:
    var = loop.var.name
    if var in st.param_decls:
        st.error(loop.var.span, f"loop variable `{var}` hides the param `{var}`", codes.LOOP_VARIABLE_HIDES_PARAM,
                 help="rename the loop variable")
        return
    if not any(v is loop.var for v in st.loop_vars):
        st.loop_vars.append(loop.var)
    items = _iterate(st, loop, env, base_dir, index)
    if items is None:
        return
    keys_seen: dict[str, Span] = {}
    for key, binding in items:
        if key in keys_seen:
            st.error(loop.iterable.span, f"two items of this loop have the same name `{key}`", codes.DUPLICATE_LOOP_KEY,
                     help="step names are made from each item; make the items distinct")
            return
        keys_seen[key] = binding.span
    for key, binding in items:
        st.grow()  # an iteration counts even when its body declares nothing
        sub_index = (*index, key)
        sub_env = {**env, var: binding}
        if binding.kind == "media":
            inst = Instance(StepKind.MEDIA, var, sub_index, loop, sub_env, (*loops, id(loop)), base_dir, loop.var.span,
                            path=binding.value)
            existing = st.glob_media.get(inst.id)
            if existing is not None and existing.path != inst.path:
                st.error(loop.var.span, f"`{inst.id}` names two different files", codes.GLOB_NAME_CLASH,
                         help="use a different loop variable name in one of the loops")
                return
            st.glob_media[inst.id] = inst
            st.seq(inst)
            sub_env[var] = attrs.evolve(binding, media_id=inst.id)
        for stmt in loop.body:
            declare(st, stmt, sub_index, sub_env, (*loops, id(loop)), base_dir)


class _TooWide(Exception):
    """A `**` glob whose search would pass the folder limit: (the folder it searches from, the limit)."""


def _search_root(pattern: str) -> str:
    """The folder a pattern searches from: its leading components that hold no wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if globlib.has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def _within_folder_limit(pattern: str) -> None:
    """Refuse a `**` search of a huge tree before it starts: iglob yields only matches, so a search of `/` with few
    of them could not be stopped from the outside (it took over 30 s). Walking the folders once, counted, can."""
    if "**" not in pattern:
        return  # without `**` the depth is fixed by the pattern
    most = limits.GLOB_FOLDERS.value()
    seen = 0
    for _ in os.walk(_search_root(pattern), followlinks=True):
        seen += 1
        if seen > most:
            raise _TooWide(_search_root(pattern), most)


def _first_files(pattern: str, most: int) -> list[str]:
    """Files the pattern matches, stopping at `most`: a glob over a huge tree neither lists nor sorts all of it."""
    _within_folder_limit(pattern)
    found: list[str] = []
    for path in globlib.iglob(pattern, recursive=True):
        if os.path.isfile(path):
            found.append(path)
            if len(found) >= most:
                break
    return found


def _iterate(st: State, loop: ast.ForLoop, env, base_dir, index: tuple[str, ...]) -> list[tuple[str, Binding]] | None:
    """A loop's items as (key, binding) pairs; None (reported) if the loop cannot be expanded."""
    var = loop.var.name
    it = loop.iterable
    if isinstance(it, ast.Table):  # before Glob, which it extends
        return cells.rows(st, it, var, base_dir, env, index, loop.body)
    if isinstance(it, ast.Glob):
        pattern = string_value(st, it.pattern, env)
        if pattern is None:
            return None
        root = Path(pattern) if os.path.isabs(pattern) else base_dir / pattern
        try:
            matches = sorted(_first_files(str(root), MAX_FANOUT + 1))
        except _TooWide as wide:
            start, most = wide.args
            st.error(it.pattern.span, f"glob(\"{pattern}\") would search more than {most:,} folders under {start}",
                     codes.GLOB_TOO_WIDE, help="start the pattern in the folder that holds the footage (e.g. "
                     f"`glob(\"footage/**/*.mp4\")`); {limits.GLOB_FOLDERS.how_to_raise()}")
            return None
        if not matches:
            st.error(it.pattern.span, f"glob(\"{pattern}\") matched no files", codes.GLOB_NO_MATCH,
                     help=f"looked in {root.parent}; check the pattern, or add the files")
            return None
        if len(matches) > MAX_FANOUT:
            st.error(it.span, f"glob matched more than {MAX_FANOUT:,} files; a loop goes over at most {MAX_FANOUT:,}",
                     codes.FANOUT_TOO_LARGE, help=f"narrow the pattern; {limits.FANOUT.how_to_raise()}")
            return None
        paths = [Path(m).resolve() for m in matches]
        stems = [p.stem for p in paths]
        if len(set(stems)) == len(stems):
            keys = stems
        else:
            keys = [os.path.splitext(os.path.relpath(m, root.parent if "**" not in pattern else base_dir))[0].replace(os.sep, "/")
                    for m in matches]
        return [(k, Binding(var, "media", p, k, loop.var.span)) for k, p in zip(keys, paths, strict=True)]
    if isinstance(it, ast.Var):
        param = param_value(st, it, env)
        if param is FAIL:
            return None
        if not isinstance(param, tuple):
            st.error(it.span, f"`${it.name}` is {describe(param)}, not a list", codes.LOOP_OVER_NON_LIST,
                     help="loop over a list like `[\"a\", \"b\"]` or `glob(\"*.mp4\")`")
            return None
        values = list(param)
        spans = [it.span] * len(values)
        texts = [None] * len(values)
    else:
        values, spans, texts = [], [], []
        for item in it.items:
            v = plain_value(st, item, env)
            if v is FAIL:
                return None
            values.append(v)
            spans.append(item.span)
            texts.append(item.text if isinstance(item, ast.Literal) else None)
    if not values:
        st.warn(it.span, "this loop has nothing to loop over", codes.EMPTY_LOOP)
        return []
    if len(values) > MAX_FANOUT:
        st.error(it.span, f"this loop has {len(values)} items; at most {MAX_FANOUT}", codes.FANOUT_TOO_LARGE)
        return None
    out = []
    for v, span, text in zip(values, spans, texts, strict=True):
        key = text or (v if isinstance(v, str) else (str(v).lower() if isinstance(v, bool) else str(v)))
        if not key or any(c in key for c in "[]\n"):
            st.error(span, f"`{key}` cannot name a step", codes.BAD_LOOP_KEY,
                     help="loop items become parts of step names: use text without brackets or newlines")
            return None
        out.append((key, Binding(var, "value", v, key, span)))
    return out
