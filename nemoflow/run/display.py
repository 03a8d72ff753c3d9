"""Terminal progress for renders: a rich bar per FFmpeg run (time, fps, speed, ETA).

On a terminal the bars are live; in CI logs (not a TTY) only the finished
lines are printed, so logs stay readable.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text


class _Rate(ProgressColumn):
    """Media time reached / total, FFmpeg's fps and speed."""

    def render(self, task: Task) -> Text:
        f = task.fields
        return Text(f"{task.completed:5.1f}/{task.total or 0:.1f}s  {f.get('fps', 0):5.1f} fps  {f.get('speed', 0):4.2f}x",
                    style="progress.data.speed")


class RenderDisplay:
    """Receives engine progress callbacks; use as a context manager around a run."""

    def __init__(self, console: Console | None = None, *, enabled: bool | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        live = sys.stderr.isatty() if enabled is None else enabled
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), _Rate(),
                                 TimeRemainingColumn(), console=self.console, disable=not live, transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RenderDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, step_id: str, snapshot, total: float) -> None:
        task = self.tasks.get(step_id)
        if task is None:
            task = self.tasks[step_id] = self.progress.add_task(step_id, total=max(total, 0.001), fps=0.0, speed=0.0)
        done = total if snapshot.done else min(snapshot.seconds, total)
        self.progress.update(task, completed=done, fps=snapshot.fps, speed=snapshot.speed)

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
