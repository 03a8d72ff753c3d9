"""The checked recipe: steps with typed, resolved arguments.

This is what planning, the Draft builder and the engines consume, and the
one vocabulary they share: names are resolved to step ids (`edit.cut`,
`export.final[clip_a]`), values carry units, paths are absolute, fan-out is
expanded. Nothing here refers to the grammar, to FFmpeg or to a service.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, Union

import attrs

from .diagnostics import Diagnostic, Sources, Span
from .values import Bitrate, Color, Decibels, Duration, Factor, Fps, Percent, Resolution, to_json


class StepKind(enum.StrEnum):
    """What a step does; also the first part of its id (`export.final`)."""

    MEDIA = "media"
    EDIT = "edit"
    ASK = "ask"
    EXPORT = "export"
    EXPECT = "expect"


class MediaSource(enum.StrEnum):
    FILE = "file"
    URL = "url"
    GENERATED = "generated"


class CheckOp(enum.StrEnum):
    """How an `expect` line compares: a comparison, or presence."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    ABOUT = "~="
    HAS = "has"
    HAS_NO = "has no"


def step_id(kind: StepKind, name: str, index: tuple[str, ...] = ()) -> str:
    """`export.final[clip_a]`: the stable name plans, keys, reports and targets use; built here, never split apart."""
    return f"{kind}.{name}" + label(name, index)[len(name):]


def label(name: str, index: tuple[str, ...] = ()) -> str:
    """`final[clip_a]`: how a step is named in a recipe (the id without its kind)."""
    return name + "".join(f"[{k}]" for k in index)


@attrs.frozen
class StepRef:
    """A resolved reference to another step."""

    id: str

    def __str__(self) -> str:
        return self.id


_T = TypeVar("_T")


class Args(Mapping[str, Any]):
    """A clause's arguments by slot name, each already a typed value (Duration, Percent, StepRef, str, bool …).

    The signature table decides the names and types; the typed getters say at
    the point of use what a builder expects, and fail loudly if the checker
    ever let something else through.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values = dict(values or {})

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Args({self._values!r})"

    def _typed(self, name: str, types: type[_T] | tuple[type, ...]) -> Any:
        value = self._values.get(name)
        if value is not None and not isinstance(value, types):
            raise TypeError(f"argument `{name}` is {type(value).__name__}, expected {types}")
        return value

    def duration(self, name: str) -> Duration | None:
        return self._typed(name, Duration)

    def percent(self, name: str) -> Percent | None:
        return self._typed(name, Percent)

    def level(self, name: str) -> Percent | Decibels | None:
        return self._typed(name, (Percent, Decibels))

    def factor(self, name: str) -> Factor | Percent | None:
        return self._typed(name, (Factor, Percent))

    def color(self, name: str) -> Color | None:
        return self._typed(name, Color)

    def text(self, name: str) -> str | None:
        return self._typed(name, str)

    def number(self, name: str) -> float | None:
        value = self._values.get(name)
        return float(getattr(value, "value", value)) if value is not None else None

    def flag(self, name: str) -> bool:
        return bool(self._typed(name, bool))

    def ref(self, name: str) -> StepRef:
        return self._typed(name, StepRef)

    def refs(self, name: str) -> tuple[StepRef, ...]:
        return self._typed(name, tuple) or ()


@attrs.frozen
class MediaSpec:
    kind: ClassVar[StepKind] = StepKind.MEDIA
    source: MediaSource
    path: Path | None = None
    url: str | None = None
    generator: str | None = None
    options: Args = attrs.field(factory=Args, converter=Args, eq=attrs.cmp_using(eq=lambda a, b: dict(a) == dict(b)))


@attrs.frozen
class Op:
    """One clause of an edit: a verb of the signature table and its arguments."""

    verb: str
    args: Args = attrs.field(converter=Args, eq=attrs.cmp_using(eq=lambda a, b: dict(a) == dict(b)))
    span: Span


@attrs.frozen
class EditSpec:
    kind: ClassVar[StepKind] = StepKind.EDIT
    base: StepRef | None
    ops: tuple[Op, ...]


@attrs.frozen
class AskSpec:
    kind: ClassVar[StepKind] = StepKind.ASK
    base: StepRef
    instruction: str
    where: Span | None = attrs.field(default=None, eq=False)  # the instruction's string literal (for errors; not in cache keys)


@attrs.frozen
class ExportSettings:
    """An export block's settings; None where the block says nothing (the engine's defaults apply)."""

    format: str | None = None  # mp4 | mov | webm | mkv | gif | webp (always set once checked: from `format` or the file name)
    codec: str | None = None  # h264 | hevc | vp9
    size: Resolution | None = None
    quality: str | None = None  # high | medium | draft
    crf: int | None = None
    fps: Fps | float | None = None
    bitrate: Bitrate | None = None
    audio: str | None = None  # aac | opus | none
    volume: Percent | Decibels | None = None  # master output level, after the mix (and its `loudness`, refused with it)

    def items(self) -> list[tuple[str, Any]]:
        """The settings given, by name (cache-key components and JSON)."""
        return [(f.name, getattr(self, f.name)) for f in attrs.fields(ExportSettings) if getattr(self, f.name) is not None]

    @property
    def fps_value(self) -> float | None:
        return None if self.fps is None else float(self.fps.value if isinstance(self.fps, Fps) else self.fps)


@attrs.frozen
class ExportSpec:
    kind: ClassVar[StepKind] = StepKind.EXPORT
    base: StepRef
    path: Path
    settings: ExportSettings


class CheckKind(enum.StrEnum):
    """What an `expect` line measures in the rendered file; run/expect.py has one measurement per kind."""

    PROPERTY = "property"  # `duration <= 12s`: a probed fact (signatures.EXPECT_SUBJECTS) compared with a value
    PRESENCE = "presence"  # `has audio`, `has no video`
    LOOKS_LIKE = "looks like"  # `frame at 5s looks like "golden/5s.png" ssim >= 0.97`: value is a LooksLike
    NO_BLACK = "no black frames"  # value is a RunLimit
    NO_FROZEN = "no frozen frames"  # value is a RunLimit
    NO_SILENCE = "no silence"  # value is a RunLimit
    AV_SYNC = "av sync"  # `av sync within 20ms`: value is a Duration
    TRACKS = "tracks"  # `tracks == 1 video + 1 audio`: value is a Tracks
    CAPTION = "caption"  # `caption "Hello" at 3s`, `no caption at 3s`: value is a CaptionAt


@attrs.frozen
class LooksLike:
    """The frame shown at `at` compared with a stored picture by a similarity metric (`threshold` compared with `op`)."""

    at: Duration
    golden: Path  # absolute, resolved against the recipe's folder
    metric: str  # "ssim" | "psnr" (signatures.LOOKS_LIKE_METRICS)
    threshold: float


@attrs.frozen
class RunLimit:
    """`no frozen frames longer than 1s`: runs at most `longer_than` long are allowed; `written` says the recipe gave it."""

    longer_than: Duration
    written: bool


@attrs.frozen
class Tracks:
    """Stream counts by type, in the order written: ((\"video\", 1), (\"audio\", 1)); types not named must be absent."""

    counts: tuple[tuple[str, int], ...]

    def __str__(self) -> str:
        return " + ".join(f"{n} {kind}" for kind, n in self.counts) or "nothing"


@attrs.frozen
class CaptionAt:
    """`caption "Hello" at 3s`: that caption is on screen at `at_ms` of the file; `text` None: no caption is."""

    text: str | None
    at_ms: int


@attrs.frozen
class Check:
    subject: str  # a key of signatures.EXPECT_SUBJECTS, "audio"/"video" for has/has no, or the kind's subject
    op: CheckOp
    value: Any  # a typed value (Duration, Resolution, …) or, per kind, LooksLike / RunLimit / Tracks
    text: str  # as written, for reports
    span: Span
    kind: CheckKind = CheckKind.PROPERTY


@attrs.frozen
class ExpectSpec:
    kind: ClassVar[StepKind] = StepKind.EXPECT
    target: StepRef
    checks: tuple[Check, ...]


Spec = Union[MediaSpec, EditSpec, AskSpec, ExportSpec, ExpectSpec]
S = TypeVar("S", MediaSpec, EditSpec, AskSpec, ExportSpec, ExpectSpec)


@attrs.frozen
class Step(Generic[S]):
    """One node of the plan: its stable id, where it was written, what it reads, and its typed spec."""

    id: str  # "export.final[clip_a]"
    name: str  # "final"
    index: tuple[str, ...]  # ("clip_a",)
    span: Span
    inputs: tuple[str, ...]
    spec: S

    @property
    def kind(self) -> StepKind:
        return self.spec.kind

    @property
    def label(self) -> str:
        """`final[clip_a]`: the step as the recipe names it."""
        return label(self.name, self.index)

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


def _plain(value: Any) -> Any:
    """References by id, paths as text, argument tables as dicts: what `graph --format json` shows."""
    if isinstance(value, StepRef):
        return value.id
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple) and value and isinstance(value[0], StepRef):
        return [r.id for r in value]
    return value


def _spec_dict(spec: Spec) -> dict:
    out = {}
    for field in attrs.fields(type(spec)):
        value = getattr(spec, field.name)
        if isinstance(value, Span):
            continue
        if isinstance(value, tuple) and value and isinstance(value[0], (Op, Check)):
            value = [_item_dict(v) for v in value]
        elif isinstance(value, ExportSettings):
            value = dict(value.items())
        elif isinstance(value, Mapping):
            value = {k: _plain(v) for k, v in value.items()}
        else:
            value = _plain(value)
        out[field.name] = value
    return out


def _item_dict(item: Op | Check) -> dict:
    if isinstance(item, Op):
        return {"verb": item.verb, "args": {k: _plain(v) for k, v in item.args.items()}, "line": item.span.line}
    return {"subject": item.subject, "op": item.op, "value": item.value, "text": item.text, "line": item.span.line}


@attrs.frozen
class ParamValue:
    name: str
    type: str
    value: Any
    origin: str  # "default" | "--set" | a params file path
    span: Span


@attrs.frozen
class TableRows:
    """A `for VAR in table(…)` loop's rows, for `plan`'s "rows: 1 changed" line (docs/variants.md): the steps of
    row KEY are those whose index holds KEY right after `prefix` (the keys of the loops around it)."""

    table: str  # the data file, as the recipe names it
    var: str
    prefix: tuple[str, ...]
    keys: tuple[str, ...]
    # the columns each step reads: (step name, "LINE:COLUMN" of an edit clause) or (step name, "*") for all of it
    uses: dict[tuple[str, str], tuple[str, ...]] = attrs.field(factory=dict, eq=False)
    cells: dict[str, dict[str, str]] = attrs.field(factory=dict, eq=False)  # key -> column -> the cell's text


@attrs.frozen
class Recipe:
    """A checked recipe: every step, in source order, plus what was read to get here."""

    path: Path
    steps: dict[str, Step]
    params: dict[str, ParamValue]
    files: tuple[Path, ...]  # the recipe and everything it includes
    sources: Sources
    warnings: tuple[Diagnostic, ...] = ()
    engine: str | None = None  # from `engine NAME` (a name of core/engines.py); None when the recipe names none
    engine_span: Span | None = None  # the `engine NAME` statement
    tables: tuple[TableRows, ...] = ()  # table loops (variants), for plan's per-row summary

    def by_kind(self, kind: StepKind) -> list[Step]:
        return [s for s in self.steps.values() if s.kind == kind]

