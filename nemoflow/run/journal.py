"""The run journal: every run's events, one JSON object per line, flushed as they happen.

It is the runner's memory across crashes. A journal without a
`run-finished` line belongs to a run that was killed; the next run reads it
to say so, to remove the partial outputs of the steps it was running, and to
remember what those steps were (for `explain`). Finished steps need nothing
from it: their records in the store are the proof that they finished.

A journal is read back as untrusted input: each line must match
schemas/state.schema.json#/$defs/journal-event or it is skipped (with one
warning per journal); a last line cut short by a kill is expected and skipped
silently. A journal is never larger than a run's events, so one above
core/untrusted.LIMIT is not read at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import attrs

from ..core.untrusted import parse, problem, read_bytes

KEEP = 20  # journals kept per recipe
_SKIP = {"step-progress"}  # too chatty to keep


class Journal:
    def __init__(self, directory: Path, run_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{run_id}.jsonl"
        self._fh: TextIO | None = open(self.path, "a", encoding="utf-8")
        _prune(directory)

    def write(self, event: dict[str, Any]) -> None:
        if self._fh is None or event.get("event") in _SKIP:
            return
        self._fh.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@attrs.frozen
class Interrupted:
    """What a killed run left behind."""

    run: str
    pid: int | None
    started: str
    unfinished: tuple[str, ...]  # steps started, never finished
    finished: tuple[str, ...]
    events: tuple[dict, ...]


def journals(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jsonl")) if directory.is_dir() else []


def read(path: Path, warn: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """A journal's events that are sound (schemas/state.schema.json#/$defs/journal-event), in order."""
    say = warn or (lambda text: None)
    try:
        raw = read_bytes(path)
    except ValueError as exc:
        say(f"ignored the journal {path} ({exc})")
        return []
    if raw is None:
        return []
    lines = raw.split(b"\n")
    events, bad = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = parse(line)
        except ValueError as exc:
            if number == len(lines):  # the last line, cut short by a kill: expected
                continue
            bad.append(f"line {number}: {exc}")
            continue
        found = problem(event, "journal-event")
        if found is not None:
            bad.append(f"line {number}: {found}")
            continue
        events.append(event)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        say(f"ignored {len(bad)} damaged line{'s' if len(bad) != 1 else ''} of the journal {path} ({bad[0]}{more})")
    return events


def last_interrupted(directory: Path, *, exclude: Path | None = None, warn: Callable[[str], None] | None = None) -> Interrupted | None:
    """The most recent journal, if its run never finished (killed, crashed, power cut)."""
    previous = [p for p in journals(directory) if p != exclude]
    if not previous:
        return None
    events = read(previous[-1], warn)
    if not events or any(e.get("event") == "run-finished" for e in events):
        return None
    started = [e["step"] for e in events if e.get("event") == "step-started" and "step" in e]
    done = {e["step"] for e in events if e.get("event") == "step-finished" and "step" in e}
    head = events[0]
    return Interrupted(run=head.get("run", previous[-1].stem), pid=head.get("pid"), started=head.get("t", "?"),
                       unfinished=tuple(s for s in dict.fromkeys(started) if s not in done),
                       finished=tuple(s for s in dict.fromkeys(started) if s in done), events=tuple(events))


def _prune(directory: Path) -> None:
    for old in journals(directory)[:-KEEP]:
        try:
            os.unlink(old)
        except OSError:
            pass
