"""Fault trials for the runner: random small multi-export recipes, a run killed with SIGKILL at a chosen point,
the run after it, and what must hold then (outputs equal to a clean run's, no stray files, no FFmpeg left running).

Used by tests/test_faults.py and benchmarks/fault_trials.py, so the test and the closing note's table are the
same trials. Everything random comes from one `random.Random(seed)`: a trial is reproducible from its number.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from mediagen import make_video

SEED = 15
GRACE = 3.0  # seconds an FFmpeg may take to notice its parent died (the docs promise 0.5 s; kept generous, never asserted as time)

# Edits a trial recipe picks from: each a body over the sources below; "cut" is plain cuts of an H.264 file, so an MP4
# export of it at the source's size goes through the smart cut (and its hidden work directory beside the output).
EDITS = {
    "cut": "  video clip from 0.6s to 1.6s",
    "titled": '  video clip for 1s\n  title "Hi" from 0s to 1s',
    "graded": "  video other for 1s\n  grade warm",
    "joined": "  video clip for 1s\n  transition crossfade 500ms\n  video other from 0.5s to 1.5s",
    "pattern": "  video bars for 1s",
}
MEDIA = {"clip": 'media clip = "clip.mp4"', "other": 'media other = "other.mp4"',
         "bars": "media bars = pattern bars duration 2s size 320x180 fps 30 tone 330hz"}
FORMATS = ("mp4", "mov")  # deterministic containers: Matroska/WebM write random UIDs (see the report in the closing note)
KILL_EVENTS = ("run-started", "plan", "step-started", "step-finished")


@attrs.frozen
class Shape:
    """One trial's recipe: its exports as (name, edit, format, with an expect step)."""

    exports: tuple[tuple[str, str, str, bool], ...]

    def text(self) -> str:
        edits = sorted({e for _, e, _, _ in self.exports})
        lines = ["nemo 1"]
        for name, line in MEDIA.items():
            if any(f" {name} " in EDITS[e] or EDITS[e].endswith(f" {name}") for e in edits):
                lines.append(line)
        lines.append("")
        for edit in edits:
            lines += [f"edit {edit} {{", EDITS[edit], "}", ""]
        for name, edit, fmt, expect in self.exports:
            lines += [f"export {name} = {edit} {{", "  size 320x180", "  quality draft", f"  format {fmt}",
                      f'  save "out/{name}.{fmt}"', "}", ""]
            if expect:
                lines += [f"expect {name} {{", "  size == 320x180", "}", ""]
        return "\n".join(lines)

    def outputs(self) -> list[str]:
        return [f"out/{name}.{fmt}" for name, _, fmt, _ in self.exports]

    def label(self) -> str:
        return " ".join(f"{edit}.{fmt}" + ("+expect" if expect else "") for _, edit, fmt, expect in self.exports)


@attrs.frozen
class KillPoint:
    """Kill -9 right after the run prints the `nth` event `event` (of `step`, if given), `delay` seconds later."""

    event: str
    step: str | None
    nth: int
    delay: float

    def label(self) -> str:
        return f"{self.event}" + (f"({self.step})" if self.step else f"#{self.nth}") + f"+{self.delay * 1000:.0f}ms"

    def matches(self, event: dict, seen: int) -> bool:
        if event.get("event") != self.event or (self.step is not None and event.get("step") != self.step):
            return False
        return seen + 1 >= self.nth


def shapes(rng: random.Random, count: int) -> list[tuple[Shape, KillPoint]]:
    """`count` trials: 2-4 exports over random edits and containers, and a kill point in the run's own events."""
    out = []
    for _ in range(count):
        n = rng.randint(2, 4)
        exports = tuple((f"e{i}", rng.choice(sorted(EDITS)), rng.choice(FORMATS), rng.random() < 0.25) for i in range(n))
        event = rng.choice(KILL_EVENTS)
        step = f"export.{rng.choice(exports)[0]}" if event in ("step-started", "step-finished") else None
        nth = rng.randint(1, n) if event == "plan" else 1
        out.append((Shape(exports), KillPoint(event, step, nth, round(rng.uniform(0.0, 0.15), 3))))
    return out


def make_sources(folder: Path) -> Path:
    """The media every trial recipe reads, made once; mtimes an hour old so their digests are trusted from the first run on."""
    folder.mkdir(parents=True, exist_ok=True)
    make_video(folder / "clip.mp4", duration=2.0, gop=15)
    make_video(folder / "other.mp4", duration=2.0, pattern="smptebars", tone=660)
    make_video(folder / "swap.mp4", duration=2.0, pattern="rgbtestsrc", tone=220, gop=15)
    old = time.time() - 3600
    for f in folder.iterdir():
        os.utime(f, (old, old))
    return folder


def project(root: Path, shape: Shape, sources: Path) -> Path:
    """A fresh project directory holding the trial's recipe and copies of the sources (times kept)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("clip.mp4", "other.mp4"):
        shutil.copy2(sources / name, root / name)
    recipe = root / "r.nemo"
    recipe.write_text(shape.text(), encoding="utf-8")
    return recipe


def command(recipe: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "nemoflow", "run", str(recipe), "--json", *args]


def run(recipe: Path, *args: str, env: dict[str, str] | None = None, preexec: Callable[[], None] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`nemoflow run RECIPE --json ARGS` to the end, in the recipe's directory."""
    return subprocess.run(command(recipe, *args), cwd=recipe.parent, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, preexec_fn=preexec)


@attrs.frozen
class Killed:
    """What a killed run left: whether the kill point was reached (else the run ended by itself) and FFmpegs still alive."""

    reached: bool
    exit_code: int | None
    survivors: tuple[str, ...]
    running: int = 0  # processes the run had started (naming the project) when it was killed


def run_and_kill(recipe: Path, point: KillPoint, *args: str) -> Killed:
    """Start a run and SIGKILL it right after `point`; then wait up to GRACE for FFmpegs it started to go away."""
    proc = subprocess.Popen(command(recipe, *args), cwd=recipe.parent, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    seen = running = 0
    reached = False
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if point.matches(event, seen):
            reached = True
            if point.delay:
                time.sleep(point.delay)
            running = sum(not item.startswith(f"{proc.pid}:") for item in _alive_naming(str(recipe.parent)))
            os.kill(proc.pid, signal.SIGKILL)
            break
        if event.get("event") == point.event and (point.step is None or event.get("step") == point.step):
            seen += 1
    proc.stdout.close()
    code = proc.wait(timeout=60)
    return Killed(reached, None if reached and code == -signal.SIGKILL else code, survivors(recipe.parent), running)


def survivors(folder: Path, grace: float = GRACE) -> tuple[str, ...]:
    """Processes (not zombies) whose command line names `folder`, still there after `grace` seconds: FFmpegs a killed run left."""
    deadline = time.monotonic() + grace
    while True:
        found = _alive_naming(str(folder))
        if not found or time.monotonic() > deadline:
            return tuple(found)
        time.sleep(0.05)


def _alive_naming(text: str) -> list[str]:
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


def reap(found: tuple[str, ...]) -> None:
    """Kill what a trial left running, so one failure does not slow the trials after it."""
    for item in found:
        pid = int(item.split(":", 1)[0])
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def digests(root: Path, outputs: list[str]) -> dict[str, str | None]:
    return {o: hashlib.sha256((root / o).read_bytes()).hexdigest() if (root / o).is_file() else None for o in outputs}


def strays(root: Path, outputs: list[str], state: Path | None = None) -> list[str]:
    """Files a finished run must not leave: partial or temporary files and hidden work directories in the project,
    anything but the outputs in out/, temporary files in the state directory, store entries without a record."""
    state = state or root / ".nemoflow"
    found = []
    expected = {root / o for o in outputs}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] == ".nemoflow" or path == state or state in path.parents:
            continue
        name = path.name
        if ".partial" in name or name.endswith(".tmp") or ".restore" in name or ".smartcut." in name or (
                name.startswith(".") and path.is_dir()):
            found.append(str(rel))
        elif rel.parts[0] == "out" and path.is_file() and path not in expected:
            found.append(str(rel))
    if state.is_dir():
        for path in state.rglob("*"):
            if path.name.endswith(".tmp") or ".partial" in path.name:
                found.append(str(path.relative_to(state.parent)))
        store = state / "store"
        for entry in store.glob("*/*") if store.is_dir() else ():
            objects = [p for p in entry.iterdir() if p.name not in ("record.json", "components.json")]
            if objects and not (entry / "record.json").is_file():
                found.append(f"{entry.relative_to(state.parent)} (objects without a record)")
    return sorted(found)


@attrs.frozen
class Trial:
    number: int
    shape: Shape
    point: KillPoint
    killed: Killed
    next_exit: int
    identical: bool
    strays: tuple[str, ...]
    survivors: tuple[str, ...]
    next_stderr: str = ""
    next_counts: str = ""  # what the next run found: "3 cached, 2 ran"

    def row(self) -> list[str]:
        killed = f" ({self.killed.running} FFmpeg running)" if self.killed.running else ""
        return [str(self.number), self.shape.label(),
                self.point.label() + (killed if self.killed.reached else " (finished first)"),
                f"{self.next_exit} ({self.next_counts})", "yes" if self.identical else "NO", ", ".join(self.strays) or "none",
                ", ".join(s.split(":", 1)[0] for s in self.survivors) or "none"]


class References:
    """Clean runs' output digests, one per recipe text (trials with the same shape share one)."""

    def __init__(self, folder: Path, sources: Path) -> None:
        self.folder = folder
        self.sources = sources
        self._done: dict[str, dict[str, str | None]] = {}

    def of(self, shape: Shape) -> dict[str, str | None]:
        text = shape.text()
        if text not in self._done:
            root = self.folder / f"clean-{len(self._done)}"
            recipe = project(root, shape, self.sources)
            done = run(recipe)
            if done.returncode != 0:
                raise AssertionError(f"the clean run of this recipe failed ({done.returncode}):\n{text}\n{done.stderr}")
            self._done[text] = digests(root, shape.outputs())
        return self._done[text]


def kill_trial(number: int, shape: Shape, point: KillPoint, folder: Path, sources: Path, refs: References) -> Trial:
    """One trial: a run killed at `point`, then a run to the end; compared with a clean run of the same recipe."""
    root = folder / f"trial-{number}"
    recipe = project(root, shape, sources)
    killed = run_and_kill(recipe, point)
    reap(killed.survivors)
    done = run(recipe)
    ours = digests(root, shape.outputs())
    return Trial(number, shape, point, killed, done.returncode, ours == refs.of(shape), tuple(strays(root, shape.outputs())),
                 killed.survivors, done.stderr, counts(done.stdout))


def counts(stdout: str) -> str:
    """'4 cached, 3 ran' from a `run --json`'s run-finished event."""
    for line in reversed(stdout.splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "run-finished":
            c = event.get("counts", {})
            ran = c.get("ok", 0) + c.get("failed", 0)
            return f"{c.get('cached', 0)} cached, {c.get('restored', 0)} restored, {ran} ran"
    return "no run-finished"


def swapping(real: Callable, step_id: str, clip: Path, swap: Path, pristine: Path, scratch: Path) -> Callable:
    """An export step runner that renders `step_id` with `clip` replaced by `swap`, then puts the original back.

    The original returns as a copy with `pristine`'s times: same bytes, same mtime, so only a witness that looks
    deeper than (size, mtime) can tell the step read something else. Deterministic: the swap wraps that one render.
    """
    original = clip.read_bytes()

    def wrapped(steps, step):
        if step.id != step_id:
            return real(steps, step)
        shutil.copy2(swap, scratch / "swap.tmp")
        os.replace(scratch / "swap.tmp", clip)
        try:
            return real(steps, step)
        finally:
            (scratch / "back.tmp").write_bytes(original)
            shutil.copystat(pristine, scratch / "back.tmp")
            os.replace(scratch / "back.tmp", clip)

    return wrapped
