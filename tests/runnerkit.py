"""A small project for runner tests: a real clip, two branches, two tiny exports, an expect."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mediagen import make_video
from typer.testing import CliRunner

from nemoflow.cli import app

RECIPE = """nemo 1

param size: resolution = 320x180
param headline = "Hello"

media clip = "clip.mp4"
media bars = pattern testsrc duration 2s size 320x180 fps 30

edit cut {
  video clip from 0s to 1s
  title $headline from 0s to 1s
}

edit other {
  video bars for 1s
}

export a = cut {
  size $size
  quality draft
  save "out/a.mp4"
}

expect a {
  duration ~= 1s
  has audio
}

export b = other {
  size 320x180
  quality draft
  save "out/b.mp4"
}
"""


def make_project(root: Path, recipe: str = RECIPE) -> Path:
    """Write the recipe and its clip (mtime an hour ago, so its digest is trusted from the first run on)."""
    root.mkdir(parents=True, exist_ok=True)
    clip = make_video(root / "clip.mp4", size=(320, 180), duration=2.0)
    old = time.time() - 3600
    os.utime(clip, (old, old))
    path = root / "r.nemo"
    path.write_text(recipe, encoding="utf-8")
    return path


def nf(*args: str):
    """`nemoflow ARGS` in-process; the click Result."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def events(result) -> list[dict]:
    """The JSON events a `run --json` printed."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def finished(result) -> dict[str, str]:
    """step → final status, from `run --json` output."""
    return {e["step"]: e["status"] for e in events(result) if e["event"] == "step-finished"}


def plan(recipe: Path, *args: str) -> dict[str, dict]:
    """step → {status, reasons}, from `plan --json`."""
    result = nf("plan", recipe, "--json", *args)
    assert result.exit_code in (0, 1), result.output
    return {s["step"]: s for s in json.loads(result.stdout)["steps"]}


def journal_events(project: Path) -> list[list[dict]]:
    """Every journal of the project's recipe, oldest first, as lists of events."""
    out = []
    for path in sorted((project / ".nemoflow" / "recipes").glob("*/journal/*.jsonl")):
        out.append([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
    return out
