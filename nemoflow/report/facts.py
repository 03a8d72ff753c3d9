"""What one run did, read from its events (the live bus, or its journal afterwards): the facts a report is drawn from.

Events are the runner's one vocabulary (schemas/events.schema.json), so a report made right after a run and one made
later from the journal say the same thing. A journal is untrusted input, already filtered by run/journal.py; fields are
still read defensively here, since a report must never crash over an odd line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from ..errors import NemoflowError
from ..run.journal import journals, read


@attrs.frozen
class StepFacts:
    """One step of the run: what the plan said, how it ended, when, and what it wrote."""

    id: str
    kind: str
    planned: str = ""  # run | restore | cached | blocked | error ("" when the run did not plan it)
    reasons: tuple[str, ...] = ()
    status: str = ""  # ok | cached | restored | failed | blocked | cancelled ("" when it never finished: a killed run)
    seconds: float = 0.0
    started: datetime | None = None
    finished: datetime | None = None
    outputs: tuple[Path, ...] = ()
    summary: str = ""
    error: str | None = None
    messages: tuple[tuple[str, str], ...] = ()  # (kind, text) the step said: what an ask did, warnings


@attrs.frozen
class CheckFacts:
    """One `expect` assertion as it was evaluated."""

    step: str
    target: str
    check: str
    ok: bool
    expected: str
    actual: str
    line: int | None
    cached: bool
    artifacts: tuple[Path, ...] = ()  # pictures a failed check saved (the frame judged, the golden, the first black frame)


@attrs.frozen
class RunFacts:
    run_id: str
    recipe: str
    engine: str = ""
    started: datetime | None = None
    status: str = ""  # ok | failed | interrupted ("" when the journal has no end: the run was killed)
    exit_code: int | None = None
    seconds: float | None = None
    steps: dict[str, StepFacts] = attrs.field(factory=dict)  # in the order the run planned them
    checks: tuple[CheckFacts, ...] = ()
    notes: tuple[str, ...] = ()
    not_run: int = 0  # checks never evaluated (their export failed or was blocked)

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.steps.values())

    def of_kind(self, kind: str) -> list[StepFacts]:
        return [s for s in self.steps.values() if s.kind == kind]


class EventLog:
    """A sink on the run's bus that keeps its events (not progress) for the report written when the run ends."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") != "step-progress":
            self.events.append(event)


class NoRun(NemoflowError):
    """Nothing to report: the recipe has no run in this state directory (or not the one asked for)."""

    exit_code = 2


def journal_run(directory: Path, run_id: str | None = None, warn: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """The events of the last run kept in a recipe's journal folder (or of the run `run_id`, or the newest one it begins)."""
    found = journals(directory)
    if run_id is not None:
        found = [p for p in found if p.stem.startswith(run_id)]
        if not found:
            kept = ", ".join(p.stem for p in journals(directory)[-5:]) or "none"
            raise NoRun(f"no run `{run_id}` in the journal {directory} (the last runs kept: {kept})")
    for path in reversed(found):
        events = read(path, warn)
        if events:
            return events
    raise NoRun(f"this recipe has no run recorded in {directory}; run it first (`nemoflow run FILE`, or "
                "`nemoflow run FILE --report DIR` to write the report as it ends)")


_SAID = {"did", "warning", "note", "action", "text"}  # step-message kinds worth a reader's time (not calls, heartbeats, diffs)


def read_events(events: Iterable[dict[str, Any]]) -> RunFacts:
    """Fold one run's events, in order, into its facts."""
    head: dict[str, Any] = {}
    end: dict[str, Any] = {}
    steps: dict[str, dict[str, Any]] = {}
    checks: list[CheckFacts] = []
    notes: list[str] = []
    for event in events:
        kind = event.get("event")
        sid = event.get("step")
        if kind == "run-started":
            head = event
        elif kind == "run-finished":
            end = event
        elif kind == "note":
            notes.append(_str(event.get("message")))
        elif kind == "check":
            checks.append(CheckFacts(
                step=_str(sid), target=_str(event.get("target")), check=_str(event.get("check")), ok=event.get("ok") is True,
                expected=_str(event.get("expected")), actual=_str(event.get("actual")),
                line=event.get("line") if isinstance(event.get("line"), int) else None, cached=event.get("cached") is True,
                artifacts=tuple(Path(a) for a in event.get("artifacts") or () if isinstance(a, str))))
        elif isinstance(sid, str) and kind in ("plan", "step-started", "step-finished", "step-message"):
            fields = steps.setdefault(sid, {"id": sid, "kind": _str(event.get("kind"))})
            if kind == "plan":
                fields.update(planned=_str(event.get("status")), reasons=tuple(_str(r) for r in event.get("reasons") or ()))
            elif kind == "step-started":
                fields.setdefault("started", _time(event.get("t")))  # the first attempt: a retry's wait counts in its time
            elif kind == "step-finished":
                seconds = event.get("seconds")
                fields.update(status=_str(event.get("status")), finished=_time(event.get("t")),
                              seconds=float(seconds) if isinstance(seconds, (int, float)) else 0.0,
                              outputs=tuple(Path(o) for o in event.get("outputs") or () if isinstance(o, str)),
                              summary=_str(event.get("summary")),
                              error=event.get("error") if isinstance(event.get("error"), str) else None)
            elif event.get("kind") in _SAID:
                fields["messages"] = (*fields.get("messages", ()), (_str(event.get("kind")), _str(event.get("text"))))
    seconds = end.get("seconds")
    exit_code = end.get("exit_code")
    counted = end.get("checks") if isinstance(end.get("checks"), dict) else {}
    return RunFacts(
        run_id=_str(head.get("run") or end.get("run")), recipe=_str(head.get("recipe")), engine=_str(head.get("engine")),
        started=_time(head.get("t")), status=_str(end.get("status")),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
        steps={sid: StepFacts(**fields) for sid, fields in steps.items()}, checks=tuple(checks), notes=tuple(notes),
        not_run=counted.get("not_run", 0) if isinstance(counted.get("not_run"), int) else 0)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
