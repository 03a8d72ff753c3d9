"""Run a recipe's steps one after another, in dependency order, on the local engine.

Every media file is validated before anything renders, so a bad file fails
in a second rather than after the first ten minutes of encoding. (The runner
issue replaces this with a parallel, cached executor.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import attrs

from ..lang.model import Recipe
from ..plan.dag import topological_order
from .expect import CheckResult, evaluate


@attrs.define
class RunSummary:
    exports: list = attrs.field(factory=list)  # ExportResult
    checks: list[tuple[str, CheckResult]] = attrs.field(factory=list)
    seconds: float = 0.0

    @property
    def failed_checks(self) -> list[tuple[str, CheckResult]]:
        return [(sid, r) for sid, r in self.checks if not r.ok]


def run_local(recipe: Recipe, *, on_progress=None, say: Callable[[str], None] = print, cache_dir: Path | None = None) -> RunSummary:
    """Render every export and evaluate every expect; errors propagate as NemoflowError."""
    from ..engines.local.engine import LocalEngine

    started = time.monotonic()
    engine = LocalEngine(recipe, on_progress=on_progress, cache_dir=cache_dir)
    engine.media_entries()
    summary = RunSummary()
    for sid in topological_order(recipe):
        step = recipe.steps[sid]
        if step.kind in ("edit", "ask"):
            engine.draft(sid)
        elif step.kind == "export":
            t0 = time.monotonic()
            result = engine.export(step)
            summary.exports.append(result)
            took = time.monotonic() - t0
            how = f"smart cut: {result.detail}" if result.method == "smartcut" else f"{result.output.codec}, {result.output.quality}"
            say(f"  rendered {sid} -> {_rel(result.path)}  ({result.duration:.1f}s at {result.output.width}x{result.output.height}, "
                f"{how}; {took:.1f}s)")
        elif step.kind == "expect":
            target = recipe.steps[step.spec.target.id]
            for res in evaluate(target.spec.path, step.spec.checks):
                summary.checks.append((sid, res))
                mark = "ok  " if res.ok else "FAIL"
                line = f"  {mark} {sid}: {res.expected}"
                if not res.ok:
                    line += f"  (actual: {res.actual})  at {res.check.span.file}:{res.check.span.line}"
                say(line)
    summary.seconds = time.monotonic() - started
    return summary


def _rel(path: Path) -> str:
    import os

    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
