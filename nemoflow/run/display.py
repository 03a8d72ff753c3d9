"""What a person sees during `nemoflow run`: an event sink drawing with rich.

On a terminal: a live line per running step (a bar with media time, fps,
speed and ETA for renders), finished steps printed above, and a summary
table at the end. In CI logs (not a TTY) the live part is off and only the
finished lines and the table are printed, so logs stay readable.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

_TABLE_ROWS = 30


class _Rate(ProgressColumn):
    """Media time reached / total with FFmpeg's fps and speed (renders), MB moved (transfers), or the phase (cloud renders)."""

    def render(self, task: Task) -> Text:
        f = task.fields
        unit = f.get("unit", "s")
        if task.total is None or unit == "%":
            return Text(f.get("phase", ""), style="progress.data.speed")
        if unit == "MB":
            return Text(f"{f.get('phase', '')} {task.completed:.1f}/{task.total:.1f} MB", style="progress.data.speed")
        return Text(f"{task.completed:5.1f}/{task.total:.1f}s  {f.get('fps', 0):5.1f} fps  {f.get('speed', 0):4.2f}x",
                    style="progress.data.speed")


class RunDisplay:
    """Use as a context manager around a run; pass the instance as an event sink."""

    def __init__(self, console: Console | None = None, *, live: bool | None = None, verbose: bool = False) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.live = sys.stderr.isatty() if live is None else live
        self.verbose = verbose
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
                                 _Rate(), TimeRemainingColumn(), console=self.console, disable=not self.live, transient=True)
        self.tasks: dict[str, Any] = {}
        self.rows: list[tuple[str, str, float, str]] = []
        self.finished: dict[str, Any] | None = None

    def __enter__(self) -> RunDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def __call__(self, event: dict[str, Any]) -> None:
        handler = getattr(self, "_on_" + event["event"].replace("-", "_"), None)
        if handler is not None:
            handler(event)

    def _on_note(self, e: dict[str, Any]) -> None:
        self.line(f"note: {e['message']}")

    def _on_step_started(self, e: dict[str, Any]) -> None:
        if e["step"] not in self.tasks:
            label = e["step"] + (" (restoring)" if e.get("action") == "restore" else "")
            self.tasks[e["step"]] = self.progress.add_task(label, total=None, fps=0.0, speed=0.0, phase=e["kind"])

    def _on_step_progress(self, e: dict[str, Any]) -> None:
        task = self.tasks.get(e["step"])
        if task is None:
            return
        total = max(e["total"], 0.001)
        self.progress.update(task, total=total, completed=min(e["seconds"], total), fps=e["fps"], speed=e["speed"], phase=e["phase"],
                             unit=e.get("unit", "s"))

    def _on_step_message(self, e: dict[str, Any]) -> None:
        """The agent's words, nemoflow's notes and what an ask did always; function calls and draft diffs only with --verbose."""
        kind = e["kind"]
        if kind in ("call", "diff") and not self.verbose:
            return
        if kind == "diff":
            for line in e["text"].splitlines():
                self.line(f"           {line}")
            return
        label = {"text": "nemo", "call": "call", "heartbeat": "…", "action": "action", "note": "note"}.get(kind, kind)
        text = " ".join(e["text"].split())
        self.line(f"  {label:<8} {e['step']}: {text[:300]}")

    def _on_step_retry(self, e: dict[str, Any]) -> None:
        self.line(f"  retry    {e['step']} in {e['wait']:.1f}s (attempt {e['attempt']} failed: {e['error']})")

    def _on_step_finished(self, e: dict[str, Any]) -> None:
        task = self.tasks.pop(e["step"], None)
        if task is not None:
            self.progress.remove_task(task)
        status, sid, kind = e["status"], e["step"], e["kind"]
        outputs = ", ".join(_rel(p) for p in e.get("outputs", []))
        self.rows.append((sid, status, e.get("seconds", 0.0), e.get("summary") or e.get("error", "")))
        if status == "ok" and (kind == "export" or self.verbose):
            verb = "rendered" if kind == "export" else "ran     "
            where = f" -> {outputs}" if outputs else ""
            self.line(f"  {verb} {sid}{where}  ({e.get('summary', '')}; {e['seconds']:.1f}s)")
        elif status == "restored":
            self.line(f"  restored {sid} -> {outputs}  (from the cache)")
        elif status == "cached" and self.verbose:
            self.line(f"  cached   {sid}" + (f" -> {outputs}" if outputs else ""))
        elif status == "failed":
            first = (e.get("error") or "").splitlines()[0] if e.get("error") else ""
            self.line(f"  FAILED   {sid}: {first[:160]}")
        elif status in ("blocked", "cancelled") and kind == "expect":  # never "ok": its export did not make this run's file
            why = (e.get("error") or "").removeprefix("not checked: ") or "the run stopped first"
            self.line(f"  not checked {sid}: {why}")
        elif status in ("blocked", "cancelled"):
            self.line(f"  {status:<8} {sid}" + (f": {e['error']}" if e.get("error") else ""))

    def _on_check(self, e: dict[str, Any]) -> None:
        mark = "ok  " if e["ok"] else "FAIL"
        text = f"  {mark} {e['step']}: {e['expected']}"
        if not e["ok"]:
            text += f"  (actual: {e['actual']})  at {e['file']}:{e['line']}"
        if e.get("cached"):
            text += "  (cached)"
        self.line(text)
        if e.get("golden_written"):
            self.line(f"       {e['actual']}")
        for path in e.get("artifacts") or ():  # what the failed check looked at, for a reviewer
            self.line(f"       saved {path}")

    def _on_run_finished(self, e: dict[str, Any]) -> None:
        self.finished = e
        worked = [r for r in self.rows if r[1] != "cached"]
        if not worked:
            return
        table = Table(title=None, show_edge=False, pad_edge=False, box=None, header_style="bold")
        for name, justify in (("step", "left"), ("status", "left"), ("time", "right"), ("detail", "left")):
            table.add_column(name, justify=justify, overflow="fold" if name == "detail" else "ellipsis")
        for sid, status, seconds, detail in worked[:_TABLE_ROWS]:
            table.add_row(Text(sid), status, f"{seconds:.1f}s", Text((detail.splitlines() or [""])[0][:90]))  # ids hold [brackets]
        cached = len(self.rows) - len(worked)
        if len(worked) > _TABLE_ROWS:
            table.add_row(f"… {len(worked) - _TABLE_ROWS} more", "", "", "")
        if cached:
            table.add_row(f"{cached} step{'s' if cached != 1 else ''}", "cached", "", "")
        self.console.print(table)


def _rel(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path
