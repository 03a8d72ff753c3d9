"""Run events: one vocabulary for the live display, `--json`, the journal and JUnit.

Each event is a flat JSON object, `{"v": 1, "event": …, "t": …, "run": …}`
plus its fields, fixed by `schemas/events.schema.json`. The runner emits;
sinks listen. Emitting is thread-safe: steps report from worker threads.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

VERSION = 1
Sink = Callable[[dict[str, Any]], None]


def new_run_id() -> str:
    """Sortable and unique enough per recipe: UTC time to the millisecond, then the pid."""
    import os

    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-{os.getpid()}"


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventBus:
    def __init__(self, run_id: str, sinks: list[Sink] | None = None) -> None:
        self.run_id = run_id
        self.sinks: list[Sink] = list(sinks or [])
        self._lock = threading.Lock()
        self._last_progress: dict[str, float] = {}

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"v": VERSION, "event": event, "t": timestamp(), "run": self.run_id, **fields}
        with self._lock:
            for sink in self.sinks:
                sink(record)
        return record

    def progress(self, step: str, seconds: float, total: float, fps: float, speed: float, phase: str, done: bool,
                 unit: str = "s") -> None:
        """step-progress, at most about twice a second per step (renders report ~2/s; uploads far more).

        `seconds`/`total` count `unit`: media seconds (renders), MB (uploads, downloads) or % (cloud renders).
        """
        now = time.monotonic()
        if not done and now - self._last_progress.get(step, 0.0) < 0.45:
            return
        self._last_progress[step] = now
        self.emit("step-progress", step=step, phase=phase, seconds=round(seconds, 3), total=round(total, 3),
                  fps=round(fps, 2), speed=round(speed, 3), unit=unit)


class JsonLines:
    """`--json`: every event on its own line, flushed, for CI to read as it happens."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: dict[str, Any]) -> None:
        self.stream.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.stream.flush()
