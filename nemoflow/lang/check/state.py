"""What one check knows while it runs: the shared state, and the records it is made of.

The checker is a pipeline of plain functions (one module per stage) that
take a `State`. Each field below says which stage fills it and who reads
it, so a stage's inputs and outputs can be read off its signature and this
class rather than hunted for across a 1,000-line class.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import attrs

from ...core import codes, limits
from ...core.diagnostics import Diagnostic, Related, Sources, Span
from ...core.model import ParamValue, Step, StepKind, TableRows, label, step_id
from ...core.outputs import OutputPolicy
from .. import ast

FAIL: Any = object()
"""A value that could not be read; the reason is already reported, so callers just stop."""


class TooManySteps(Exception):
    """Fan-out went past limits.STEPS (or, with `expanded`, limits.EXPANDED): declaring stops at once, before
    anything bigger is built."""

    def __init__(self, expanded: bool = False) -> None:
        super().__init__("expanded" if expanded else "steps")
        self.expanded = expanded


class TooManyReferences(Exception):
    """References after fan-out went past limits.REFERENCES (at `span`): resolving stops at once."""

    def __init__(self, span: Span) -> None:
        super().__init__(str(span))
        self.span = span


@attrs.frozen
class Binding:
    """A loop variable's value in one iteration."""

    name: str
    kind: str  # "media" (a glob item) or "value"
    value: Any
    key: str
    span: Span
    media_id: str | None = None


@attrs.define
class Instance:
    """One declared step before resolution (a fanned-out block has one per item)."""

    kind: StepKind
    name: str
    index: tuple[str, ...]
    stmt: Any
    env: dict[str, Binding]
    loops: tuple[int, ...]
    base_dir: Path
    span: Span
    path: Path | None = None  # glob media

    @functools.cached_property
    def id(self) -> str:
        """Asked for many times per step while checking; computed once (kind, name and index never change)."""
        return step_id(self.kind, self.name, self.index)

    @property
    def label(self) -> str:
        return label(self.name, self.index)


@attrs.define(eq=False)
class State:
    """Everything one check has found so far. Stages run in the order of the fields' groups."""

    # -- what the caller asked for (check_file / check_source) --
    overrides: dict[str, str]  # --set NAME=VALUE, raw text
    params_file: Path | None  # --params FILE
    outputs: OutputPolicy = attrs.field(factory=OutputPolicy)  # where `save` may point (--allow-outside, output_root)

    # -- every stage: problems found, and the text of every file read, to quote them --
    diags: list[Diagnostic] = attrs.field(factory=list)
    sources: Sources = attrs.field(factory=Sources)

    # -- the check's resource limits (core/limits.py): tokens the parser may still read (the recipe and
    # its includes share them), and the steps and loop iterations declare.py has made, against max_steps --
    budget: limits.Budget = attrs.field(factory=limits.Budget.fresh)
    max_steps: int = attrs.field(factory=limits.STEPS.value)
    made: int = 0
    max_expanded: int = attrs.field(factory=limits.EXPANDED.value)
    expanded: int = 0  # values in the clauses of the steps declared so far (each loop item repeats its body's)
    weights: dict[int, int] = attrs.field(factory=dict)  # id(statement) -> its values, counted once
    max_duration: int = attrs.field(factory=limits.DURATION.value)  # seconds, read once (coerce.py checks every duration)
    read: int = 0  # characters of the recipe and its includes, against limits.RECIPE_BYTES
    max_references: int = attrs.field(factory=limits.REFERENCES.value)
    referred: int = 0  # references resolved so far (refs.reference), against max_references

    # -- includes.load_includes: the files read and each file's folder (paths are relative to it) --
    files: list[Path] = attrs.field(factory=list)
    dirs: dict[str, Path] = attrs.field(factory=dict)  # display name -> folder; the first is the recipe's own

    # -- params.read_params --
    params: dict[str, ParamValue] = attrs.field(factory=dict)  # only params with a valid value
    param_decls: dict[str, ast.Param] = attrs.field(factory=dict)  # every declared param, valid or not
    # -- values.param_value / _interpolate, whenever `$name` or `${name}` reads a param; whole.unused reads it --
    used_params: set[str] = attrs.field(factory=set)

    # -- declare.declare: one Instance per step, loops expanded --
    decls: dict[str, list[Instance]] = attrs.field(factory=dict)  # name -> its instances (several when fanned out)
    decl_first: dict[str, tuple[int, Span]] = attrs.field(factory=dict)  # name -> (id of its statement, name span)
    expects: list[Instance] = attrs.field(factory=list)  # expect blocks (they are named by their target, not declared)
    glob_media: dict[str, Instance] = attrs.field(factory=dict)  # the implicit media of glob loops, by step id
    order: dict[str, int] = attrs.field(factory=dict)  # step id -> declaration order (whole.source_order)
    loop_vars: list[ast.Ident] = attrs.field(factory=list)  # every loop variable, to catch one hiding a step
    tables: list[TableRows] = attrs.field(factory=list)  # table loops' rows (cells.rows), for plan's summary

    # -- refs.lookup: each name's instances by loop index, built on first use (declarations are complete by then) --
    by_index: dict[str, dict[tuple[str, ...], list[Instance]]] = attrs.field(factory=dict)
    # -- error and warn: the places reported so far, by code (limits.SHOWN_PER_CODE; a hidden one needs no "did you mean") --
    reported: dict[str, set[Span]] = attrs.field(factory=dict)

    # -- resolve.resolve: the checked steps --
    steps: dict[str, Step] = attrs.field(factory=dict)
    # -- refs.reference and expect targets: steps something refers to; whole.unused reads it --
    used: set[str] = attrs.field(factory=set)

    @property
    def recipe_dir(self) -> Path:
        """The folder of the recipe being checked (not of an included file): outputs go under it."""
        return next(iter(self.dirs.values()))

    def error(self, span: Span, message: str, code: codes.Code, help: str | None = None,
              expected: tuple[str, ...] = (), related: tuple[Related, ...] = ()) -> None:
        self.diags.append(Diagnostic(span, message, code.id, "error", expected, help, related))
        self.reported.setdefault(code.id, set()).add(span)

    def warn(self, span: Span, message: str, code: codes.Code, help: str | None = None) -> None:
        self.diags.append(Diagnostic(span, message, code.id, "warning", (), help))
        self.reported.setdefault(code.id, set()).add(span)

    def shown(self, code: codes.Code, span: Span) -> bool:
        """Whether a diagnostic of this code at this place would be shown: not a place already reported (each
        loop item repeats it, and only the first report is kept) and not past limits.SHOWN_PER_CODE (capped
        hides the rest). A "did you mean" over thousands of names is worth computing only for those."""
        places = self.reported.get(code.id, ())
        return span not in places and len(places) < limits.SHOWN_PER_CODE.default

    def instances(self, name: str) -> dict[tuple[str, ...], list[Instance]]:
        """A name's instances by loop index: finding this loop item's one is a lookup, not a scan of every item."""
        table = self.by_index.get(name)
        if table is None:
            table = {}
            for inst in self.decls.get(name, ()):
                table.setdefault(inst.index, []).append(inst)
            self.by_index[name] = table
        return table

    def merge(self, other: Sources) -> Sources:
        """Add the text of files another read (a failed include's parse) that this check has not seen."""
        self.sources.merge(other)
        return self.sources

    def seq(self, inst: Instance) -> None:
        """Note a step's place in declaration order (the first time it is seen); it counts against the limits."""
        self.order.setdefault(inst.id, len(self.order))
        stmt = inst.stmt
        values = self.weights.get(id(stmt))
        if values is None:
            values = self.weights[id(stmt)] = _values_in(stmt) if not isinstance(stmt, ast.ForLoop) else 1
        self.grow(values)

    def refer(self, count: int, span: Span) -> None:
        """`count` more references from one step to others; TooManyReferences past the limit, so `concat m` in a
        loop of 4,000 over an `m` of 4,000 stops at the limit instead of building 16 million edges."""
        self.referred += count
        if self.referred > self.max_references:
            raise TooManyReferences(span)

    def grow(self, values: int = 0) -> None:
        """One more step or loop iteration, holding `values` values in its clauses; TooManySteps past either
        limit, so six nested 20-item loops (64 million steps), or 2,000 copies of a 3,000-line edit, stop at
        the limit instead of filling memory."""
        self.made += 1
        self.expanded += values
        if self.made > self.max_steps:
            raise TooManySteps
        if self.expanded > self.max_expanded:
            raise TooManySteps(expanded=True)


def _values_in(stmt) -> int:
    """How much resolving a statement reads: its values and words, each `${…}` in its strings, the items of lists."""
    if isinstance(stmt, ast.Media):
        return _items(stmt.source.items)
    if isinstance(stmt, (ast.Edit, ast.Export)):
        return 1 + sum(_items(c.items) for c in stmt.body)
    if isinstance(stmt, ast.Expect):
        return 1 + sum(len(a.subject) + (_items((a.value,)) if a.value is not None else 0) for a in stmt.body)
    if isinstance(stmt, ast.Ask):
        return 1 + _items((stmt.instruction,))
    return 1


def _items(items) -> int:
    total = 0
    for item in items:
        if isinstance(item, ast.StringLit):
            total += len(item.parts)
        elif isinstance(item, ast.ListLit):
            total += 1 + _items(item.items)
        else:
            total += 1
    return total

