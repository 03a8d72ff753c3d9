"""What one check knows while it runs: the shared state, and the records it is made of.

The checker is a pipeline of plain functions (one module per stage) that
take a `State`. Each field below says which stage fills it and who reads
it, so a stage's inputs and outputs can be read off its signature and this
class rather than hunted for across a 1,000-line class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from ...core import codes
from ...core.diagnostics import Diagnostic, Related, Sources, Span
from ...core.model import ParamValue, Step, StepKind, label, step_id
from .. import ast

FAIL: Any = object()
"""A value that could not be read; the reason is already reported, so callers just stop."""


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

    @property
    def id(self) -> str:
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

    # -- every stage: problems found, and the text of every file read, to quote them --
    diags: list[Diagnostic] = attrs.field(factory=list)
    sources: Sources = attrs.field(factory=Sources)

    # -- includes.load_includes: the files read and each file's folder (paths are relative to it) --
    files: list[Path] = attrs.field(factory=list)
    dirs: dict[str, Path] = attrs.field(factory=dict)  # display name -> folder

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

    # -- resolve.resolve: the checked steps --
    steps: dict[str, Step] = attrs.field(factory=dict)
    # -- refs.reference and expect targets: steps something refers to; whole.unused reads it --
    used: set[str] = attrs.field(factory=set)

    def error(self, span: Span, message: str, code: codes.Code, help: str | None = None,
              expected: tuple[str, ...] = (), related: tuple[Related, ...] = ()) -> None:
        self.diags.append(Diagnostic(span, message, code.id, "error", expected, help, related))

    def warn(self, span: Span, message: str, code: codes.Code, help: str | None = None) -> None:
        self.diags.append(Diagnostic(span, message, code.id, "warning", (), help))

    def merge(self, other: Sources) -> Sources:
        """Add the text of files another read (a failed include's parse) that this check has not seen."""
        for name, lines in other._text.items():
            if self.sources.line(name, 1) is None:
                self.sources._text[name] = lines
        return self.sources

    def seq(self, inst: Instance) -> None:
        """Note a step's place in declaration order (the first time it is seen)."""
        self.order.setdefault(inst.id, len(self.order))
