"""What an engine is: the operations a run needs from a backend, and nothing of how a run is organised.

In the spirit of httpx's `BaseTransport`, a strict cut: the runner says *what*
it wants (describe this media, carry out this instruction on this Draft,
render this Draft to that file) and an engine says *how* — FFmpeg on this
machine, or the NemoVideo service. What every engine would otherwise repeat
(building edit Drafts from clauses, memoising Drafts, reading results back
from the cache, dispatching per step kind, `expect` checks) is the runner's,
in run/steps.py. An engine is constructed cheaply (no I/O, no network): the
checker asks it for diagnostics before anything runs.

A new engine is a subclass in its own folder plus one line in core/engines.py.
"""

from __future__ import annotations

import abc
import enum
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import attrs

from ..core import engines as registry

if TYPE_CHECKING:  # types only: `nemoflow check` builds an engine to ask for diagnostics, and must start fast
    from ..core.diagnostics import Diagnostic
    from ..core.model import AskSpec, EditSpec, ExportSpec, MediaSpec, Recipe, Step
    from ..draft.media import MediaEntry
    from ..draft.model import Draft
    from ..draft.output import Output
    from ..media.ffmpeg import Progress


class Resource(enum.StrEnum):
    """What a step mostly waits on; the executor keeps a budget per class."""

    CPU = "cpu"  # encoding and filtering on this machine
    NET = "net"  # uploads, polls, downloads
    LIGHT = "light"  # everything else


@attrs.frozen
class Resources:
    kind: Resource = Resource.LIGHT
    demand: int = 1  # units of the class's budget (cores for CPU)


class Message(enum.StrEnum):
    """Kinds of text a step reports while it runs (schemas/events.schema.json, `step-message`)."""

    TEXT = "text"  # a service's words
    CALL = "call"  # a service's function calls
    HEARTBEAT = "heartbeat"
    ACTION = "action"  # what a GUI-phrased reply was taken to mean
    NOTE = "note"  # nemoflow's own remarks
    WARNING = "warning"  # something the user should look at: a result smaller or shorter than asked
    DID = "did"  # what an ask did, line by line
    DIFF = "diff"  # a Draft diff


class Reporter(Protocol):
    """How an engine reports from inside one step (the runner turns these into events)."""

    def progress(self, done: float, total: float, phase: str, *, unit: str = "s", fps: float = 0.0, speed: float = 0.0,
                 finished: bool = False) -> None: ...

    def message(self, kind: Message, text: str) -> None: ...


class Timeline(Protocol):
    """A step's timeline: nemoflow's Draft, or one only its engine can read (the service's); JSON for the cache."""

    @property
    def d(self) -> int: ...

    @property
    def canvas(self) -> dict[str, Any] | None: ...

    @property
    def m(self) -> Mapping[str, Any]: ...

    def to_json(self) -> dict[str, Any]: ...


def _no_drafts(step_id: str) -> Timeline:
    raise LookupError(f"no step results are available here (asked for {step_id})")


class Memo(Protocol):
    """Small values an engine may keep between runs (e.g. an FFmpeg build's version), by an opaque key."""

    def lookup(self, key: str) -> object | None: ...

    def store(self, key: str, value: object) -> None: ...


@attrs.frozen
class EngineContext:
    """What a run gives its engine: the recipe, where to keep state, and how to ask the runner about files and keys."""

    recipe: Recipe
    state_dir: Path  # this recipe's own state (e.g. cloud sessions and render ids)
    cache_dir: Path  # content-addressed work shared across recipes (analyses, stabilization passes, encoded sources)
    options: Mapping[str, str] = attrs.field(factory=dict)  # engine options from the command line (`api_url`)
    digest_of: Callable[[Path], str | None] = lambda path: None  # a file's content digest, memoised by the runner
    key_of: Callable[[str], str] = lambda step_id: step_id  # a step's cache key
    draft_of: Callable[[str], Timeline] = _no_drafts  # another step's timeline, from the runner (made or read from the cache)


@attrs.frozen
class MediaResult:
    entry: MediaEntry
    note: str = ""  # added to the step's summary ("uploaded")


@attrs.frozen
class DraftResult:
    draft: Timeline  # a Draft, or a timeline only this engine reads (the service's)
    summary: str | None = None  # None: the runner's default (clips and length)


@attrs.frozen
class RenderResult:
    path: Path
    result: dict[str, Any]  # what the cache keeps about the render (JSON)
    summary: str


class Engine(abc.ABC):
    """Subclass and implement `identity`, `media`, `ask` and `render`; the rest have defaults."""

    name: ClassVar[str]

    def __init__(self, context: EngineContext) -> None:
        self.context = context
        self.recipe = context.recipe

    # -- before anything runs ------------------------------------------------------------------
    @abc.abstractmethod
    def identity(self, memo: Memo) -> dict[str, str]:
        """Cache-key components naming this engine and what it renders with; a change re-runs every step."""

    def step_identity(self, step: Step) -> dict[str, str]:
        """Key components only some steps have (e.g. an interpreter's revision for `ask` steps)."""
        return {}

    def diagnose(self, step: Step) -> Diagnostic | None:
        """Why this engine cannot run a step at all, known before running (`check` and `plan` report it)."""
        return None

    def resources(self, step: Step) -> Resources:
        return Resources()

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Called once before a run's first step."""
        return  # nothing to do by default

    @abc.abstractmethod
    def media(self, step: Step[MediaSpec], report: Reporter) -> MediaResult:
        """Validate and describe a media step's source (and bring it where this engine renders)."""

    def restore(self, step: Step, data: dict[str, Any]) -> Timeline:
        """An edit's or ask's result read back from the cache (untrusted JSON): by default a Draft, checked by its strict schema."""
        from ..draft.schema import load_draft

        return load_draft(data, f"read from the cache for {step.id}")

    def timeline(self, step: Step[EditSpec], draft: Draft, report: Reporter) -> DraftResult:
        """The Draft an edit's clauses built, kept wherever this engine keeps timelines; by default, as it is."""
        return DraftResult(draft)

    @abc.abstractmethod
    def ask(self, step: Step[AskSpec], base: Timeline, report: Reporter) -> DraftResult:
        """Carry out a plain-language instruction on `base`."""

    @abc.abstractmethod
    def render(self, step: Step[ExportSpec], draft: Timeline, output: Output, report: Reporter) -> RenderResult:
        """Render `draft` to `step.spec.path`, atomically: a finished file or none."""

    interrupted: ClassVar[str] = "FFmpeg was stopped, and no partial output was kept"  # what Ctrl-C leaves, said by the CLI

    def cancel(self) -> None:
        """Stop what is running (Ctrl-C, or a failure elsewhere without --keep-going); may be called from any thread."""
        return  # nothing to do by default

    def close(self) -> None:
        """Release connections and files at the end of a run."""
        return  # nothing to do by default


def engine_class(name: str) -> type[Engine]:
    """The class registered under `name` in core/engines.py, imported now."""
    module, _, attr = registry.entry(name).target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise TypeError(f"engine `{name}` ({registry.entry(name).target}) is not an engines.base.Engine")
    return cls


def create(name: str, context: EngineContext) -> Engine:
    return engine_class(name)(context)


def ffmpeg_progress(report: Reporter, total: float, phase: str) -> Callable[[Progress], None]:
    """An FFmpeg progress callback that reports media seconds reached out of `total`."""
    return lambda p: report.progress(p.seconds, total, phase, fps=p.fps, speed=p.speed, finished=p.done)


def bytes_progress(report: Reporter, phase: str) -> Callable[[int, int], None]:
    """A (bytes done, bytes total) callback that reports megabytes moved, for uploads and downloads."""
    return lambda done, total: report.progress(done / 1e6, max(total, done) / 1e6, phase, unit="MB",
                                               finished=total > 0 and done >= total)
