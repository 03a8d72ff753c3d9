"""The step-kind table: what running each kind of step means, the same for every engine.

    media   the engine describes the source (and brings it where it renders)
    edit    the clauses build a Draft (draft/build.py); the engine keeps it where it keeps timelines
    ask     the engine carries out the instruction on the base step's Draft
    export  the base Draft and the export settings resolve to an Output; the engine renders
    expect  the exported file is probed here and every assertion checked

What a step reads from earlier steps (media entries, Drafts) comes from this
run's memo, else from the cache (an input that did not run this time), else
is made now; a step being run always makes its own result.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ..core.model import AskSpec, CheckKind, ExpectSpec, ExportSpec, MediaSource, MediaSpec, Recipe, Step, StepKind
from ..draft.build import build_edit, media_clip_draft
from ..draft.media import MediaEntry
from ..draft.model import VIDEO, Draft
from ..draft.ops import DEFAULT_CANVAS
from ..draft.output import Output, output_for
from ..draft.schema import checked
from ..engines.base import Engine, Message, Reporter, Timeline
from ..errors import DraftError, NemoflowError, RenderError
from .expect import ExpectOptions, evaluate


class ChecksFailed(NemoflowError):
    """An expect step whose assertions did not all hold (each one is reported as a `check` event)."""

    exit_code = 1


class OutputNotWritten(NemoflowError):
    """An export's file could not be written where it is saved: that disk is full, or the place is read-only."""

    exit_code = 2


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


@attrs.frozen
class Outcome:
    """What running one step produced: a JSON result for the cache, files written, a line for people."""

    result: dict[str, Any]
    outputs: tuple[Path, ...] = ()
    summary: str = ""


CachedResult = Callable[[str], "dict[str, Any] | None"]  # step id → its result from the store, if it has one
CheckSink = Callable[[Step, dict[str, Any]], None]  # an expect step's check, as it is evaluated


class Steps:
    """Runs the steps of one recipe on one engine; media entries and Drafts are memoised for the run."""

    def __init__(self, recipe: Recipe, engine: Engine, *, cached: CachedResult, reporter: Callable[[str], Reporter],
                 on_check: CheckSink | None = None, expect: ExpectOptions | None = None) -> None:
        self.recipe = recipe
        self.expect = expect or ExpectOptions()  # golden pictures and failure artifacts (--update-golden, --junit)
        self.engine = engine
        self.cached = cached
        self.reporter = reporter
        self.on_check = on_check or (lambda step, check: None)
        self._media: dict[str, MediaEntry] = {}
        self._drafts: dict[str, Timeline] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def run(self, step: Step) -> Outcome:
        return KINDS[step.kind](self, step)

    def _locked(self, what: str) -> threading.Lock:
        """One maker per result ("draft:edit.cut", "media:media.clip"): two exports of one edit wait for one Draft."""
        with self._lock:
            return self._locks.setdefault(what, threading.Lock())

    # -- what steps read from earlier steps -------------------------------------------------
    def media(self, sid: str) -> MediaEntry:
        with self._locked(f"media:{sid}"):
            if sid not in self._media:
                step: Step[MediaSpec] = self.recipe.steps[sid]
                stored = self.cached(sid)
                if stored is not None:
                    entry = MediaEntry.from_json(stored, f"the cached result of {sid}")
                    if entry.path is not None and step.spec.source == MediaSource.FILE:
                        entry = entry.evolve(path=str(step.spec.path))  # same content (the key says so), maybe moved
                    self._media[sid] = entry
                else:
                    self._media[sid] = self.engine.media(step, self.reporter(sid)).entry
            return self._media[sid]

    def draft(self, sid: str) -> Timeline:
        """The timeline a step produces (a media step: the whole source as one clip); an engine's own kind after its asks."""
        with self._locked(f"draft:{sid}"):
            if sid not in self._drafts:
                step = self.recipe.steps[sid]
                stored = self.cached(sid) if step.kind in (StepKind.EDIT, StepKind.ASK) else None
                restored = self._restored(step, stored) if stored is not None else None
                if restored is not None:
                    self._drafts[sid] = self._relocated(restored) if isinstance(restored, Draft) else restored
                elif step.kind == StepKind.MEDIA:
                    self._drafts[sid] = checked(media_clip_draft(sid, self.media(sid)), f"for {sid}")
                else:
                    self._drafts[sid] = self._make_draft(step).draft
            return self._drafts[sid]

    def _restored(self, step: Step, stored: dict[str, Any]) -> Timeline | None:
        """A cached timeline read back (untrusted: the engine validates it); None, with a warning, if it is not sound."""
        try:
            return self.engine.restore(step, stored)
        except DraftError as err:
            first = str(err).splitlines()[0]
            self.reporter(step.id).message(Message.WARNING, f"ignored the cached timeline of {step.id} ({first}); made it again")
            return None

    def nemoflow_draft(self, sid: str) -> Draft:
        """A step's timeline where nemoflow's own operations must apply to it (an edit's base, a spliced clip)."""
        found = self.draft(sid)
        if not isinstance(found, Draft):
            raise NemoflowError(f"{sid}'s timeline is the {self.engine.name} engine's own, and nemoflow's clauses cannot edit it; "
                                "put these clauses before the ask, or ask for them in words")
        return found

    def _make_draft(self, step: Step):
        if step.kind == StepKind.EDIT:
            media = {i: self.media(i) for i in step.inputs if self.recipe.steps[i].kind == StepKind.MEDIA}
            return self.engine.timeline(step, build_edit(step, media, self.nemoflow_draft), self.reporter(step.id))
        if step.kind == StepKind.ASK:
            ask: AskSpec = step.spec
            return self.engine.ask(step, self.draft(ask.base.id), self.reporter(step.id))
        raise NemoflowError(f"{step.id} does not produce a draft")

    def _relocated(self, draft: Draft) -> Draft:
        """A cached Draft's file media pointed at where they are now (a key covers content, not place)."""
        moved = {mid: self.media(mid).path for mid, e in draft.media.items()
                 if "path" in e and mid in self.recipe.steps and self.recipe.steps[mid].kind == StepKind.MEDIA}
        moved = {mid: path for mid, path in moved.items() if path is not None and path != draft.media[mid]["path"]}
        if not moved:
            return draft
        return draft.with_m(media={**draft.media, **{mid: {**draft.media[mid], "path": path} for mid, path in moved.items()}})

    def export_draft(self, step: Step[ExportSpec]) -> tuple[Timeline, Output]:
        """The timeline an export renders and the file it asks for."""
        draft = self.draft(step.spec.base.id)
        if isinstance(draft, Draft):
            hint = draft.m.get("output")
        else:  # a timeline the engine keeps (the service's, after an ask) renders at its own frame unless the export says a size
            hint = {"long_edge": max(draft.canvas["w"], draft.canvas["h"])} if draft.canvas else None
        return draft, output_for(step.spec.settings, draft.canvas or DEFAULT_CANVAS, hint)


def _clips(draft: Draft) -> str:
    n = len(draft.segments(VIDEO))
    return f"{n} clip{'s' if n != 1 else ''}, {draft.d / 1000:.1f}s"


def run_media(steps: Steps, step: Step[MediaSpec]) -> Outcome:
    with steps._locked(f"media:{step.id}"):
        result = steps.engine.media(step, steps.reporter(step.id))
        steps._media[step.id] = result.entry
    entry = result.entry
    length = f", {entry.d / 1000:.1f}s" if entry.d else ""
    return Outcome(entry.to_json(), summary=f"{entry.kind}{length}" + (f", {result.note}" if result.note else ""))


def run_draft(steps: Steps, step: Step) -> Outcome:
    """An edit or an ask: make its timeline now (not from the cache: this step is the one running)."""
    with steps._locked(f"draft:{step.id}"):
        made = steps._make_draft(step)
        steps._drafts[step.id] = made.draft
    default = _clips(made.draft) if isinstance(made.draft, Draft) else f"{made.draft.d / 1000:.1f}s"
    return Outcome(made.draft.to_json(), summary=made.summary or default)


def run_export(steps: Steps, step: Step[ExportSpec]) -> Outcome:
    draft, out = steps.export_draft(step)
    if isinstance(draft, Draft):  # nemoflow's own: its strict schema; an engine checks its own kind itself
        checked(draft, f"before rendering {step.id}")
    dest: Path = step.spec.path
    try:
        done = steps.engine.render(step, draft, out, steps.reporter(step.id))
    except OSError as exc:  # creating the hidden partial file, or renaming it into place
        if exc.errno not in _FULL + _UNWRITABLE:
            raise
        named = Path(exc.filename) if isinstance(exc.filename, str) and Path(exc.filename).parent != dest.parent else dest
        raise OutputNotWritten(_not_written(named, exc.errno, exc.strerror or str(exc))) from None
    except RenderError as err:  # FFmpeg's own writes: it says why in words (strerror), not in a code
        said = str(err)
        code = next((c for c in (*_FULL, errno.EROFS) if os.strerror(c) in said), None)
        if code is not None:
            line = next(ln.strip() for ln in said.splitlines() if os.strerror(code) in ln)
            raise OutputNotWritten(_not_written(dest, code, os.strerror(code)) + f" (FFmpeg: {line})") from None
        if f"(exit code -{signal.SIGXFSZ})" in said:  # past `ulimit -f` with SIGXFSZ not ignored: the kernel killed FFmpeg
            raise OutputNotWritten(_not_written(dest, errno.EFBIG, "FFmpeg was killed by SIGXFSZ")) from None
        raise
    return Outcome(done.result, (done.path,), done.summary)


def _not_written(path: Path, code: int | None, why: str) -> str:
    """What a full or read-only destination means for the user, naming the path; the partial file is already gone."""
    where = path.parent
    if code == errno.ENOSPC:
        return (f"no space left on the device holding {where}: {path} could not be written, and nothing was saved. "
                "Free some space there, or save the export elsewhere, and run again")
    if code == errno.EDQUOT:
        return (f"disk quota exceeded on {where}: {path} could not be written, and nothing was saved. "
                "Free some space within your quota, or save the export elsewhere, and run again")
    if code == errno.EFBIG:
        return (f"{path} is too large to write there ({why}: the largest file the file system, or this process's `ulimit -f`, "
                "allows); nothing was saved. Save it on another file system, or raise the limit, and run again")
    return (f"cannot write {path}: {where} is not writable ({why}); nothing was saved. "
            "Make it writable, or save the export elsewhere, and run again")


def run_expect(steps: Steps, step: Step[ExpectSpec]) -> Outcome:
    spec = step.spec
    target: Step[ExportSpec] = steps.recipe.steps[spec.target.id]
    path = target.spec.path
    if not path.is_file():
        raise ChecksFailed(f"{step.id}: {os.path.relpath(path)} does not exist, so nothing could be checked")
    checks = []
    burned = (steps.cached(target.id) or {}).get("captions") if any(c.kind == CheckKind.CAPTION for c in spec.checks) else None
    for res in evaluate(path, spec.checks, options=steps.expect, name=step.id, captions=burned):
        item = {"check": res.check.text, "ok": res.ok, "expected": res.expected, "actual": res.actual,
                "file": res.check.span.file, "line": res.check.span.line}
        if res.artifacts:
            item["artifacts"] = [str(p) for p in res.artifacts]
        if res.golden_written is not None:
            item["golden_written"] = str(res.golden_written)
        checks.append(item)
        steps.on_check(step, item)
    bad = [c for c in checks if not c["ok"]]
    if bad:
        raise ChecksFailed(f"{len(bad)} of {len(checks)} checks failed in {step.id}: "
                           + "; ".join(f"{c['check']} (actual: {c['actual']})" for c in bad))
    written = sum("golden_written" in c for c in checks)
    kept = [{k: v for k, v in c.items() if k not in ("artifacts", "golden_written")} for c in checks]  # what this run did, not the cache
    return Outcome({"checks": kept}, summary=f"{len(checks)} check{'s' if len(checks) != 1 else ''} passed"
                   + (f", {written} golden picture{'s' if written != 1 else ''} written" if written else ""))


KINDS: dict[StepKind, Callable[[Steps, Any], Outcome]] = {
    StepKind.MEDIA: run_media,
    StepKind.EDIT: run_draft,
    StepKind.ASK: run_draft,
    StepKind.EXPORT: run_export,
    StepKind.EXPECT: run_expect,
}
"""Every kind of step, and what running it means (a test checks every StepKind is here)."""
