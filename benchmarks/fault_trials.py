"""Fault trials for the closing note: kill -9 at chosen points of random multi-export recipes, then the other faults.

    python3 benchmarks/fault_trials.py [--trials 20] [--seed 15] [--only N ...] [--repeat K] [--keep DIR]

Each kill trial (tests/faultkit.py, the same trials as tests/test_faults.py) makes a recipe of 2-4 exports over
tiny generated sources (320x180, 1-2 s), starts `python3 -m nemoflow run --json`, SIGKILLs it right after a chosen
event of its own event stream (plus a seeded delay of 0-150 ms), waits up to 3 s for FFmpegs it started to go away,
runs it again to the end and compares every output byte for byte with a clean run of the same recipe in a fresh
directory. Then: state disk full (a real tmpfs if this machine lets us mount one, else skipped), destination disk full
(tmpfs; and `ulimit -f` through an FFmpeg wrapper, always), read-only state dir and destination (a read-only bind
mount as root, chmod otherwise), and a source swapped while its export renders (in-process, see the test).

Prints one Markdown table: trial, recipe shape, kill point, next-run exit, outputs identical, stray files, FFmpeg survivors.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import faultkit as fk  # noqa: E402  (tests/ is put on sys.path just above)

from nemoflow.media.ffmpeg import ffmpeg_exe  # noqa: E402

TWO = fk.Shape((("e0", "titled", "mp4", True), ("e1", "graded", "mp4", False)))
HEADERS = ["trial", "recipe shape", "kill point / fault", "next-run exit", "outputs identical", "stray files", "ffmpeg survivors"]


def _mount(*args: str) -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _row(name: str, fault: str, first: subprocess.CompletedProcess | None, root: Path, refs: fk.References,
         state: Path | None = None, shape: fk.Shape = TWO) -> list[str]:
    """Run the recipe again to the end and compare; the first (faulty) run's exit code goes into the fault column."""
    recipe = root / "r.nemo"
    args = ("--state-dir", str(state)) if state else ()
    done = fk.run(recipe, *args)
    same = fk.digests(root, shape.outputs()) == refs.of(shape)
    first_exit = f" (faulty run exit {first.returncode})" if first is not None else ""
    return [name, shape.label(), fault + first_exit, str(done.returncode), "yes" if same else "NO",
            ", ".join(fk.strays(root, shape.outputs(), state)) or "none", "-"]


def other_faults(work: Path, sources: Path, refs: fk.References) -> list[list[str]]:
    rows = []
    # state disk full: a 96 KB tmpfs; the project is on another file system, so outputs are copied into the store
    root = work / "state-full"
    fk.project(root, TWO, sources)
    state = work / "state-full-fs"
    state.mkdir()
    if _mount("-t", "tmpfs", "-o", "size=96k", "tmpfs", str(state)):
        first = fk.run(root / "r.nemo", "--state-dir", str(state))
        _mount("-o", "remount,size=8m", str(state))
        rows.append(_row("state-full", "state dir on a full 96 KB tmpfs", first, root, refs, state))
        _umount(state)
    else:
        rows.append(["state-full", TWO.label(), "skipped: cannot mount a tmpfs here", "-", "-", "-", "-"])
    # destination full: out/ a 48 KB tmpfs
    root = work / "dest-full"
    fk.project(root, TWO, sources)
    (root / "out").mkdir()
    if _mount("-t", "tmpfs", "-o", "size=48k", "tmpfs", str(root / "out")):
        first = fk.run(root / "r.nemo")
        _mount("-o", "remount,size=8m", str(root / "out"))
        rows.append(_row("dest-full", "out/ on a full 48 KB tmpfs", first, root, refs))
        _umount(root / "out")
    else:
        rows.append(["dest-full", TWO.label(), "skipped: cannot mount a tmpfs here", "-", "-", "-", "-"])
    # destination past a file size limit: FFmpeg through a wrapper with `ulimit -f` and SIGXFSZ ignored (EFBIG)
    root = work / "dest-ulimit"
    fk.project(root, TWO, sources)
    wrapper = work / "ffmpeg-ulimit"
    wrapper.write_text(f"#!/bin/sh\ntrap '' XFSZ\nulimit -f 32\nexec '{ffmpeg_exe()}' \"$@\"\n", encoding="utf-8")
    wrapper.chmod(0o755)
    first = fk.run(root / "r.nemo", "-j", "1", env={"NEMOFLOW_FFMPEG": str(wrapper)})
    rows.append(_row("dest-ulimit", "FFmpeg under ulimit -f (EFBIG)", first, root, refs))
    # read-only state dir (after a first run) and read-only destination
    for name, where in (("state-ro", ".nemoflow"), ("dest-ro", "out")):
        root = work / name
        fk.project(root, TWO, sources)
        if where == ".nemoflow":
            fk.run(root / "r.nemo")
            (root / "out" / "e0.mp4").unlink()
        target = root / where
        target.mkdir(exist_ok=True)
        if os.geteuid() != 0:
            target.chmod(0o555)
            ok = True
        else:
            ok = _mount("--bind", str(target), str(target)) and _mount("-o", "remount,bind,ro", str(target))
        if not ok:
            rows.append([name, TWO.label(), "skipped: no read-only bind mount", "-", "-", "-", "-"])
            continue
        first = fk.run(root / "r.nemo")
        if os.geteuid() != 0:
            target.chmod(0o755)
        else:
            _umount(target)
        rows.append(_row(name, f"{where}/ read-only", first, root, refs))
    rows.append(swapped(work, sources, refs))
    return rows


def swapped(work: Path, sources: Path, refs: fk.References) -> list[str]:
    """The source of export.e0 swapped for another clip while it renders, put back after (in-process, deterministic)."""
    from runnerkit import finished, nf

    from nemoflow.core.model import StepKind
    from nemoflow.run import steps as steps_mod

    root = work / "swapped"
    recipe = fk.project(root, TWO, sources)
    clip = root / "clip.mp4"
    real = steps_mod.KINDS[StepKind.EXPORT]
    wrapped = fk.swapping(real, "export.e0", clip, sources / "swap.mp4", sources / "clip.mp4", work)
    steps_mod.KINDS[StepKind.EXPORT] = wrapped
    try:
        first = nf("run", recipe, "--json", "-j", "1")
    finally:
        steps_mod.KINDS[StepKind.EXPORT] = real
    again = nf("run", recipe, "--json")
    same = fk.digests(root, TWO.outputs()) == refs.of(TWO)
    status = finished(again).get("export.e0", "?")
    return ["swapped", TWO.label(), f"clip.mp4 swapped during export.e0 (faulty run exit {first.exit_code})",
            f"{again.exit_code} (export.e0 {status})", "yes" if same else "NO", ", ".join(fk.strays(root, TWO.outputs())) or "none", "-"]


def print_markdown(headers: list[str], rows: list[list[str]]) -> None:
    """A Markdown table, ready for the closing note."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=fk.SEED)
    parser.add_argument("--only", type=int, nargs="*", help="run only these trial numbers")
    parser.add_argument("--repeat", type=int, default=1, help="run each chosen kill trial this many times")
    parser.add_argument("--no-others", action="store_true", help="only the kill trials")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary directory, removed)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="nemoflow-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        sources = fk.make_sources(work / "sources")
        refs = fk.References(work / "clean", sources)
        rows = []
        trials = fk.shapes(random.Random(args.seed), args.trials)
        for n, (shape, point) in enumerate(trials):
            if args.only and n not in args.only:
                continue
            for k in range(args.repeat):
                trial = fk.kill_trial(n, shape, point, work / f"run{k}", sources, refs)
                rows.append(trial.row())
                if trial.next_exit != 0:
                    print(f"trial {n}: next run exited {trial.next_exit}:\n{trial.next_stderr}", file=sys.stderr)
        if not args.no_others:
            rows += other_faults(work / "others", sources, refs)
        print_markdown(HEADERS, rows)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
