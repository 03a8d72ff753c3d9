"""What a run would do, step by step, and why: run, restore, cached, blocked or error.

A plan is made from the recipe, the steps' keys and what the state directory
remembers (`History`: records by key, how each step last ended), before
anything runs. Every reason is a fact with a kind, not a sentence to be parsed
back: the runner asks `forced`, `explain` walks `Change`s.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import attrs

from ..core.diagnostics import Diagnostic, render, suggestion
from ..core.model import Recipe, Step, StepKind
from ..errors import NemoflowError
from .keys import Component, Part, StepKey, describe_change, describe_value


class TargetError(NemoflowError):
    """A target or --force that names no step."""

    exit_code = 2


class Status(enum.StrEnum):
    RUN = "run"
    RESTORE = "restore"
    CACHED = "cached"
    BLOCKED = "blocked"
    ERROR = "error"


class Why(enum.StrEnum):
    """The kind of a reason in a plan."""

    NEW = "new"  # not run before (with this state directory)
    FORCED = "forced"  # --force
    CHANGED = "changed"  # a key component changed since the last run
    FAILED = "failed"  # failed in the last run
    INTERRUPTED = "interrupted"  # did not finish in the last run
    FORGOTTEN = "forgotten"  # no result in the cache, and nothing to say why
    UNCHANGED = "unchanged"
    OUTPUT = "output"  # an output file is missing or was modified
    BLOCKED = "blocked"  # an input cannot run
    ENGINE = "engine"  # the engine cannot run this step (its diagnostic)
    RECHECK = "recheck"  # an expect whose export renders again in this run: its cached checks were on another file


@attrs.frozen
class Change:
    """One key component that differs from the last run's key."""

    component: Component  # as it is now (or as it was, if it was removed)
    kind: str  # changed | added | removed
    before: str | None
    after: str | None
    reason: str

    @property
    def input(self) -> str | None:
        """The input step whose key changed, for `input` components."""
        return self.component.label if self.component.part == Part.INPUT else None

    def to_json(self) -> dict[str, Any]:
        return {"component": self.component.name, "change": self.kind, "before": self.before, "after": self.after,
                "reason": self.reason}


@attrs.frozen
class Reason:
    why: Why
    text: str
    change: Change | None = None
    diagnostic: Diagnostic | None = None


@attrs.frozen
class PlannedStep:
    id: str
    kind: StepKind
    status: Status
    reasons: tuple[Reason, ...]
    key: StepKey
    record: dict[str, Any] | None = None

    @property
    def forced(self) -> bool:
        return any(r.why == Why.FORCED for r in self.reasons)

    @property
    def must_run(self) -> bool:
        """Runs even if the store holds a result for its key by the time it starts (forced, or checks to make again)."""
        return any(r.why in (Why.FORCED, Why.RECHECK) for r in self.reasons)

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(r.text for r in self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.id, "kind": self.kind, "status": self.status, "reasons": list(self.texts), "key": self.key.key}


@attrs.frozen
class Plan:
    steps: dict[str, PlannedStep]  # in dependency order

    def count(self, status: Status) -> int:
        return sum(s.status == status for s in self.steps.values())

    @property
    def changes(self) -> bool:
        return any(s.status in (Status.RUN, Status.RESTORE) for s in self.steps.values())

    @property
    def errors(self) -> bool:
        return any(s.status in (Status.ERROR, Status.BLOCKED) for s in self.steps.values())


@attrs.frozen
class OutputCheck:
    ok: bool
    reason: str = ""  # "output missing: out/a.mp4" | "output modified: out/a.mp4"
    restorable: bool = False


@attrs.frozen
class LastRun:
    """How a step ended in the last run that touched it (the state directory's last.json, or a killed run's journal)."""

    key: str
    status: str  # ok | cached | restored | failed | blocked | cancelled | interrupted
    run: str | None = None
    t: str | None = None
    seconds: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class History(Protocol):
    """What the planner reads from the state directory (run/store.py implements it)."""

    def record(self, key: str) -> dict[str, Any] | None: ...

    def check_outputs(self, record: dict[str, Any]) -> OutputCheck: ...

    def components(self, key: str) -> tuple[Component, ...] | None: ...

    def last(self, step_id: str) -> LastRun | None: ...


class Planner:
    """Plans one recipe: which steps a run covers, and each one's status and reasons."""

    def __init__(self, recipe: Recipe, order: list[str], keys: Mapping[str, StepKey], history: History,
                 problems: Mapping[str, Diagnostic]) -> None:
        self.recipe = recipe
        self.order = order
        self.keys = keys
        self.history = history
        self.problems = problems  # step → why the engine cannot run it

    # -- which steps ---------------------------------------------------------------------------------
    def match(self, pattern: str) -> list[str]:
        """Step ids a target or --force names: `export.final`, `export.final[a]`, `final`, or a glob like `export.*`."""
        ids = self.order
        if pattern in ("*", "all"):
            return list(ids)
        if any(c in pattern for c in "*?[") and pattern not in self.recipe.steps:
            return [s for s in ids if fnmatch.fnmatchcase(s, pattern)]
        return [s for s in ids if s == pattern or s.split("[")[0] == pattern or self.recipe.steps[s].name == pattern]

    def unknown(self, name: str, option: str = "") -> TargetError:
        hint = suggestion(name, self.recipe.steps) or "steps: " + ", ".join(self.order[:12])
        return TargetError(f"{option}no step `{name}` in {self.recipe.path}; {hint} (`nemoflow graph FILE` lists them all)")

    def select(self, targets: Iterable[str]) -> set[str]:
        """The steps a run covers: all, or the targets, what they need, and the expect blocks checking them."""
        targets = list(targets)
        if not targets:
            return set(self.order)
        chosen: set[str] = set()
        for target in targets:
            matched = self.match(target)
            if not matched:
                raise self.unknown(target)
            chosen.update(matched)
        closure: set[str] = set()
        stack = list(chosen)
        while stack:
            sid = stack.pop()
            if sid not in closure:
                closure.add(sid)
                stack.extend(self.recipe.steps[sid].inputs)
        for step in self.recipe.by_kind(StepKind.EXPECT):
            if step.spec.target.id in closure:
                closure.add(step.id)
        return closure

    def forced(self, patterns: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for pattern in patterns:
            matched = self.match(pattern)
            if not matched:
                raise self.unknown(pattern, "--force ")
            out.update(matched)
        return out

    # -- each step's status ------------------------------------------------------------------------
    def plan(self, selected: set[str], forced: set[str]) -> Plan:
        out: dict[str, PlannedStep] = {}
        for sid in self.order:
            if sid not in selected:
                continue
            step, key = self.recipe.steps[sid], self.keys[sid]
            problem = self.problems.get(sid)
            stuck = next((d for d in step.inputs if d in out and out[d].status in (Status.ERROR, Status.BLOCKED)), None)
            if problem is not None:
                reason = Reason(Why.ENGINE, render(problem, self.recipe.sources), diagnostic=problem)
                out[sid] = PlannedStep(sid, step.kind, Status.ERROR, (reason,), key)
            elif stuck:
                out[sid] = PlannedStep(sid, step.kind, Status.BLOCKED, (Reason(Why.BLOCKED, f"needs {stuck}, which cannot run"),), key)
            elif sid in forced:
                out[sid] = PlannedStep(sid, step.kind, Status.RUN, (Reason(Why.FORCED, "forced with --force"),), key)
            else:
                out[sid] = self._status(step, key)
            target = step.spec.target.id if step.kind == StepKind.EXPECT else None
            if out[sid].status == Status.CACHED and target in out and out[target].status == Status.RUN:
                # the cached checks measured the file the export is about to replace (or fail to): check the new one
                why = Reason(Why.RECHECK, f"{target} renders again in this run: its checks run on the new file")
                out[sid] = PlannedStep(sid, step.kind, Status.RUN, (why,), key, out[sid].record)
        return Plan(out)

    def _status(self, step: Step, key: StepKey) -> PlannedStep:
        record = self.history.record(key.key)
        if record is None:
            return PlannedStep(step.id, step.kind, Status.RUN, self._why(step.id, key), key)
        found = self.history.check_outputs(record)
        if found.ok:
            return PlannedStep(step.id, step.kind, Status.CACHED, (Reason(Why.UNCHANGED, "unchanged"),), key, record)
        if found.restorable:
            return PlannedStep(step.id, step.kind, Status.RESTORE, (Reason(Why.OUTPUT, f"{found.reason}; a copy is in the cache"),),
                               key, record)
        return PlannedStep(step.id, step.kind, Status.RUN, (Reason(Why.OUTPUT, found.reason),), key, record)

    def _why(self, sid: str, key: StepKey) -> tuple[Reason, ...]:
        prev = self.history.last(sid)
        if prev is None:
            return (Reason(Why.NEW, "not run before"),)
        before = self.history.components(prev.key)
        if before is not None:
            changes = diff_components(before, key.components, self.recipe.steps.get(sid))
            if changes:
                return tuple(Reason(Why.CHANGED, c.reason, change=c) for c in changes)
        if prev.status == "failed":
            return (Reason(Why.FAILED, f"failed in the last run: {(prev.error or '').splitlines()[0][:120] if prev.error else ''}"),)
        if prev.status in ("interrupted", "cancelled"):
            return (Reason(Why.INTERRUPTED, "did not finish in the last run"),)
        if before is None and prev.key != key.key:
            return (Reason(Why.FORGOTTEN, "changed since the last run (its details were cleaned from the cache)"),)
        return (Reason(Why.FORGOTTEN, "no result in the cache (cleaned, or another state directory)"),)

    # -- explain ----------------------------------------------------------------------------------
    def changes(self, sid: str, old_key: str, depth: int = 0) -> list[dict[str, Any]]:
        """Which components of `sid`'s key differ from `old_key`'s, each input's change followed down to its root cause."""
        before = self.history.components(old_key)
        if before is None or old_key == self.keys[sid].key:
            return []
        out = []
        for change in diff_components(before, self.keys[sid].components, self.recipe.steps[sid]):
            item = change.to_json()
            if change.input and depth < 20:
                item["because"] = self.changes(change.input, change.before or "", depth + 1)
            out.append(item)
        return out


def diff_components(before: tuple[Component, ...], after: tuple[Component, ...], step: Step | None) -> list[Change]:
    """What differs between two keys' components, in words: "param size changed: 3840x2160 → 1920x1080"."""
    old_by = {c.name: c for c in before}
    new_by = {c.name: c for c in after}
    media = step is not None and step.kind == StepKind.MEDIA
    out = []
    for name in dict.fromkeys([*new_by, *old_by]):
        old, new = old_by.get(name), new_by.get(name)
        if old is not None and new is not None and old.value == new.value:
            continue
        comp = new or old
        assert comp is not None
        kind = "added" if old is None else "removed" if new is None else "changed"
        out.append(Change(comp, kind, old.value if old else None, new.value if new else None,
                          _reason(comp, kind, old.value if old else None, new.value if new else None, media)))
    return out


def _reason(comp: Component, kind: str, old: str | None, new: str | None, media: bool) -> str:
    part = comp.part
    if part == Part.FILE:
        return f"{'media' if media else 'file'} {comp.label} {'content changed' if kind == 'changed' else kind}"
    if part == Part.INPUT:
        return f"input {comp.label} {kind}"
    if part == Part.IDENTITY and comp.label in ("engine", "ffmpeg"):
        what = "FFmpeg" if comp.label == "ffmpeg" else "engine"
        return f"{what} {kind}: {old} → {new}" if kind == "changed" else f"{comp.label} {kind}"
    if part == Part.FORMAT:
        return "nemoflow's cache format changed"
    label = f"{part} {comp.index} (`{comp.label}`)" if part in (Part.CLAUSE, Part.CHECK) else comp.name
    if kind == "changed" and old is not None and new is not None:
        return f"{label} changed: {describe_change(old, new)}"
    return f"{label} {kind}" + (f": {describe_value(new)}" if new is not None else "")
