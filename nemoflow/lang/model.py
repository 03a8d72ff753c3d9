"""The checked recipe: steps with typed, resolved arguments.

This is what planning and the engines consume. Names are resolved to step
ids (`edit.cut`, `export.final[clip_a]`), values carry units, paths are
absolute, fan-out is expanded. Nothing here refers to the grammar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from .diagnostics import Diagnostic, Sources, Span
from .literals import to_json


@attrs.frozen
class StepRef:
    """A resolved reference to another step."""

    id: str

    def __str__(self) -> str:
        return self.id


@attrs.frozen
class MediaSpec:
    source: str  # "file" | "url" | "generated"
    path: Path | None = None
    url: str | None = None
    generator: str | None = None
    options: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Op:
    verb: str
    args: dict[str, Any]
    span: Span


@attrs.frozen
class EditSpec:
    base: StepRef | None
    ops: tuple[Op, ...]


@attrs.frozen
class AskSpec:
    base: StepRef
    instruction: str
    where: Span | None = attrs.field(default=None, eq=False)  # the instruction's string literal (for errors; not in cache keys)


@attrs.frozen
class ExportSpec:
    base: StepRef
    path: Path
    settings: dict[str, Any]


@attrs.frozen
class Check:
    subject: str
    op: str  # == != < <= > >= ~= has "has no"
    value: Any
    text: str  # as written, for reports
    span: Span


@attrs.frozen
class ExpectSpec:
    target: StepRef
    checks: tuple[Check, ...]


@attrs.frozen
class Step:
    id: str  # "export.final[clip_a]"
    kind: str  # media | edit | ask | export | expect
    name: str  # "final"
    index: tuple[str, ...]  # ("clip_a",)
    span: Span
    inputs: tuple[str, ...]
    spec: Any

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "index": list(self.index),
            "file": self.span.file,
            "range": self.span.to_json(),
            "inputs": list(self.inputs),
            "spec": to_json(_spec_dict(self.spec)),
        }


def _spec_dict(spec) -> dict:
    out = {}
    for field in attrs.fields(type(spec)):
        value = getattr(spec, field.name)
        if isinstance(value, Span):
            continue
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, StepRef):
            value = value.id
        elif isinstance(value, tuple) and value and isinstance(value[0], (Op, Check)):
            value = [_item_dict(v) for v in value]
        elif isinstance(value, dict):
            value = {k: (v.id if isinstance(v, StepRef) else v) for k, v in value.items()}
        out[field.name] = value
    return out


def _item_dict(item) -> dict:
    if isinstance(item, Op):
        args = {}
        for k, v in item.args.items():
            if isinstance(v, StepRef):
                v = v.id
            elif isinstance(v, tuple) and v and isinstance(v[0], StepRef):
                v = [r.id for r in v]
            args[k] = v
        return {"verb": item.verb, "args": args, "line": item.span.line}
    return {"subject": item.subject, "op": item.op, "value": item.value, "text": item.text, "line": item.span.line}


@attrs.frozen
class ParamValue:
    name: str
    type: str
    value: Any
    origin: str  # "default" | "--set" | a params file path
    span: Span


@attrs.frozen
class Recipe:
    """A checked recipe: every step, in source order, plus what was read to get here."""

    path: Path
    steps: dict[str, Step]
    params: dict[str, ParamValue]
    files: tuple[Path, ...]  # the recipe and everything it includes
    sources: Sources
    warnings: tuple[Diagnostic, ...] = ()
    engine: str | None = None  # from `engine NAME` (one of signatures.ENGINES); None when the recipe names none
    engine_span: Span | None = None  # the `engine NAME` statement

    def by_kind(self, kind: str) -> list[Step]:
        return [s for s in self.steps.values() if s.kind == kind]
