"""Runner speed: unchanged re-runs, planning 1,000 steps, and the executor's overhead, side by side in one run.

Absolute seconds drift on a noisy machine, so every figure comes with what it
is compared against in the same run, interleaved round-robin, medians of
--repeats rounds (sub-second commands run --per-round times in each round):

  unchanged re-run of each example (nemoflow run, nothing changed)     <= 1 s, 0 FFmpeg processes started
      (with its ratio to `python -c pass` and to `nemoflow check FILE`)
  nemoflow plan, generated 1,000-step recipe, cold and warm            <= 1 s (ratio to `nemoflow check FILE`)
  nemoflow run -j 2, 50 tiny exports, fresh state and outputs,
      over the same 50 FFmpeg commands run directly 2 at a time, - 1  <= 10 %

1. The examples (urban_dreams, travel_reel, batch_social) are copied with
   their includes into a temp dir and rendered once with small `--set`s
   (urban_dreams: size=720p; batch_social: length=2s, it has no size param;
   travel_reel has neither, it renders as written: 1080p and vertical).
   Then the same command is re-run. NEMOFLOW_FFMPEG points at a tiny `sh`
   wrapper that logs each FFmpeg start and execs the real binary, for the
   first render and the re-runs alike (the FFmpeg identity is part of every
   cache key), so the FFmpeg processes a re-run starts are counted. Each
   re-run's stderr must say "nothing to do"; a re-run that rewrote
   .nemoflow/digests.json hashed a file again (counted too).
2. The 1,000-step recipe is the one benchmarks/cli_speed.py checks (its
   generator is imported from there). "cold" is a state dir that does not
   exist yet; "warm" is the same state dir straight after (plan creates no
   state dir, so it still does not exist); "primed" is a state dir in which
   `nemoflow run FILE export.x0` ran once (the FFmpeg version and digests are
   memoized, 4 steps cached): what a real project's plan sees.
3. 50 exports of a generated 320x240 30 fps testsrc clip with a tone, one
   per item of `for f in [400hz, 401hz, ...]`: each item has its own tone,
   so every media and edit step has its own cache key, as in a real batch
   of different files (identical items would share keys and run once).
   Each clip is 4 s by default (--export-seconds). Why 4 s: what nemoflow adds is mostly fixed per run
   (~0.45-0.65 s on 2 busy cores, of which start-up and checking the 150
   steps is ~0.2 s), so its share depends on the render length: measured
   2 s -> ~+12 %, 4 s -> ~+8-9 %, 5 s -> ~+9 % (noise is +-2 points). At
   2 s (~0.15 s per render) the figure would largely measure Python's
   start-up; 4 s (~0.25 s per render, ~6.5 s per run) keeps the exports
   tiny without letting start-up dominate, and start-up is also reported on
   its own (`nemoflow check` of the same recipe) with the overhead less it.
   The reference runs the FFmpeg commands nemoflow builds (library API:
   Workspace.reading → export_draft + graph.build_command), with nemoflow's leading
   flags, through the same wrapper binary, in a ThreadPoolExecutor(2).
   Reference and nemoflow swap order every round.

A user config file is ignored (NEMOFLOW_CONFIG points at an empty file) and
NEMOFLOW_STATE_DIR / NEMOFLOW_JOBS / NEMOFLOW_DEBUG are unset for the
commands measured, so the figures do not depend on this machine's settings.
If PYTHONDONTWRITEBYTECODE is set (an editable install then recompiles
nemoflow's modules on every start, which no installed copy does), the
commands measured get PYTHONPYCACHEPREFIX=<work dir>/pycache instead:
compiled once by the setup, never written into the source tree.

    python benchmarks/runner_speed.py [--json] [--repeats 3] [--per-round 3] [--export-seconds 4] [--keep DIR]

Exit 0 when everything ran, whether or not a target was met (this is a
measurement); exit 1 when a command failed (it is shown with its stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli_speed import thousand_step_recipe  # benchmarks/ is sys.path[0] when a script here runs
from table import print_table as show_table

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {  # recipe -> the --sets used for the first render and every re-run (see the docstring)
    "urban_dreams.nemo": ["--set", "size=720p"],
    "travel_reel.nemo": [],
    "batch_social.nemo": ["--set", "length=2s"],
}
EXPORTS, JOBS = 50, 2
EXPORT_SIZE = "320x240"
NEMOFLOW_LEADING = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1"]  # as ffmpeg.run_ffmpeg
SCRUBBED_ENV = ("NEMOFLOW_STATE_DIR", "NEMOFLOW_JOBS", "NEMOFLOW_DEBUG", "NEMOFLOW_FFMPEG")

TARGETS = {  # figure -> (comparison, bound); rerun targets apply to each example
    "rerun_s": ("<=", 1.0),
    "rerun_ffmpeg_processes": ("<=", 0),
    "plan_cold_s": ("<=", 1.0),
    "plan_warm_s": ("<=", 1.0),
    "run_overhead": ("<=", 0.10),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Failed(Exception):
    pass


# ---------------------------------------------------------------- running and counting


@dataclass
class Sample:
    seconds: float
    ffmpeg: int  # FFmpeg processes started (lines the wrapper logged)
    stderr: str


class Wrapper:
    """`#!/bin/sh` that logs one line per start, then execs the real FFmpeg: NEMOFLOW_FFMPEG points here."""

    def __init__(self, work: Path, real: str) -> None:
        self.path = work / "ffmpeg-wrapper.sh"
        self.log = work / "ffmpeg-starts.log"
        self.log.touch()
        self.path.write_text(f'#!/bin/sh\necho "$$" >> {shlex.quote(str(self.log))}\nexec {shlex.quote(real)} "$@"\n')
        self.path.chmod(0o755)

    def count(self) -> int:
        with open(self.log, "rb") as fh:
            return sum(1 for _ in fh)


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], wrapper: Wrapper) -> Sample:
    """Run without a shell, output discarded (stderr kept for checks); wall clock and FFmpeg starts."""
    before = wrapper.count()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, errors="replace", check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise Failed(f"`{shlex.join(cmd)}` (in {cwd}) exited {proc.returncode}:\n{tail(proc.stderr)}")
    return Sample(seconds, wrapper.count() - before, proc.stderr)


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class Case:
    label: str
    runs: list[float] = field(default_factory=list)
    ffmpeg: list[int] = field(default_factory=list)

    def add(self, sample: Sample) -> Sample:
        self.runs.append(sample.seconds)
        self.ffmpeg.append(sample.ffmpeg)
        return sample

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "median_s": round(self.median, 4), "min_s": round(min(self.runs), 4),
                "runs": [round(r, 4) for r in self.runs], "ffmpeg_started": sum(self.ffmpeg), "ffmpeg_per_run": self.ffmpeg}


# ---------------------------------------------------------------- recipes


def exports_recipe(path: Path, seconds: float) -> Path:
    """EXPORTS exports of a tiny generated clip, one per item of a literal list (150 steps).

    The items are tone frequencies, so each clip's media, and so its edit, is its own step with its own cache key, as
    in a real batch of different files (see the module docstring for why identical items are avoided).
    """
    items = ", ".join(f"{400 + i}hz" for i in range(EXPORTS))
    path.write_text(f"""nemo 1

for f in [{items}] {{
  media src = pattern testsrc duration {seconds:g}s size {EXPORT_SIZE} fps 30 tone $f

  edit clip {{
    video src for {seconds:g}s
  }}

  export tiny = clip {{
    size {EXPORT_SIZE}
    save "out/${{f}}.mp4"
  }}
}}
""")
    return path


_INCLUDE = re.compile(r'^\s*include\s+"([^"]+)"', re.M)
_MEDIA_FILE = re.compile(r'^\s*media\s+\w+\s*=\s*"([^"]+)"', re.M)


def copy_example(src: Path, dest_dir: Path) -> Path:
    """Copy a recipe with the includes and media files it names (relative paths kept), recursively."""
    todo, seen = [src], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        target = dest_dir / path.relative_to(src.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        if path.suffix == ".nemo":
            text = path.read_text(encoding="utf-8")
            for ref in _INCLUDE.findall(text) + _MEDIA_FILE.findall(text):
                if "://" not in ref and (path.parent / ref).is_file():
                    todo.append((path.parent / ref).resolve())
    return dest_dir / src.name


# ---------------------------------------------------------------- the three benchmarks


def setup_examples(work: Path, nemoflow: str, env: dict[str, str], wrapper: Wrapper) -> dict[str, dict[str, Any]]:
    """Copy and render each example once; returns name -> {dir, recipe, args, first render figures}."""
    out = {}
    for name, sets in EXAMPLES.items():
        where = work / "examples" / Path(name).stem
        recipe = copy_example((ROOT / "examples" / name).resolve(), where)
        log(f"first render of {name} {shlex.join(sets)} ...")
        first = run([nemoflow, "run", recipe.name, *sets], cwd=where, env=env, wrapper=wrapper)
        out[name] = {"dir": where, "recipe": recipe, "sets": sets, "first_render_s": first.seconds, "first_render_ffmpeg": first.ffmpeg,
                     "first_summary": first.stderr.strip().splitlines()[-1] if first.stderr.strip() else ""}
    return out


def memo_stamp(directory: Path) -> int | None:
    try:
        return (directory / ".nemoflow" / "digests.json").stat().st_mtime_ns
    except FileNotFoundError:
        return None


def reference_commands(recipe_path: Path, out_dir: Path, scratch: Path, ffmpeg: str) -> list[list[str]]:
    """The FFmpeg command nemoflow builds for each export, writing to out_dir, with nemoflow's leading flags."""
    from nemoflow.core.model import StepKind
    from nemoflow.engines.local.graph import build_command
    from nemoflow.lang.check import check_file
    from nemoflow.run.workspace import RunOptions, Workspace

    recipe = check_file(recipe_path, {}, None, display=str(recipe_path))
    cmds = []
    with Workspace(recipe, RunOptions(state_dir=scratch / "state")).reading() as steps:
        for step in recipe.by_kind(StepKind.EXPORT):
            draft, output = steps.export_draft(step)
            cmd = build_command(draft, output, out_dir / step.spec.path.name, what=step.id, cache_dir=scratch, transforms={})
            cmds.append([ffmpeg, *NEMOFLOW_LEADING, *cmd.args])
    return cmds


def run_reference(cmds: list[list[str]], out_dir: Path, wrapper: Wrapper) -> Sample:
    """The same commands, JOBS at a time, nothing else: the floor nemoflow's executor is measured against."""
    def one(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              errors="replace", check=False)

    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    before = wrapper.count()
    start = time.perf_counter()
    with ThreadPoolExecutor(JOBS) as pool:
        done = list(pool.map(one, cmds))
    seconds = time.perf_counter() - start
    bad = [(cmd, p) for cmd, p in zip(cmds, done, strict=True) if p.returncode != 0]
    if bad:
        raise Failed(f"reference FFmpeg failed: `{shlex.join(bad[0][0])}`:\n{tail(bad[0][1].stderr)}")
    made = len(list(out_dir.glob("*.mp4")))
    if made != len(cmds):
        raise Failed(f"reference wrote {made} files, expected {len(cmds)}")
    return Sample(seconds, wrapper.count() - before, "")


# ---------------------------------------------------------------- report


def verdict(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    op, bound = TARGETS[key]
    return "PASS" if (value <= bound if op == "<=" else value >= bound) else "FAIL"


def ffmpeg_version(ffmpeg: str) -> str:
    out = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"ffmpeg version (\S+)", out)
    return match.group(1) if match else "unknown"


def print_table(report: dict[str, Any]) -> None:
    rows: list[tuple[str, ...]] = []
    rr, pl, ex = report["rerun"], report["plan"], report["exports"]

    def secs(case: dict[str, Any]) -> str:
        return f"{case['median_s']:.3f} s"

    py = rr["python"]
    rows.append((py["label"], secs(py), str(len(py["runs"])), "", "", "", ""))
    for name, item in rr["examples"].items():
        rows.append((item["check"]["label"], secs(item["check"]), str(len(item["check"]["runs"])), "", "", "", ""))
        rerun = item["rerun"]
        rows.append((rerun["label"], secs(rerun), str(len(rerun["runs"])), f"{rerun['ffmpeg_started']} total",
                     f"x python {item['rerun_vs_python']:.1f}, / check {item['rerun_vs_check']:.2f}", "<= 1 s, 0 FFmpeg",
                     report["verdicts"][f"rerun[{name}]"]))
    rows.append((pl["check"]["label"], secs(pl["check"]), str(len(pl["check"]["runs"])), "", "", "", ""))
    for which in ("cold", "warm", "primed"):
        case = pl[which]
        key = f"plan_{which}_s"
        rows.append((case["label"], secs(case), str(len(case["runs"])), f"{sum(case['ffmpeg_per_run']) / len(case['runs']):g}/run",
                     f"/ check {pl[f'{which}_vs_check']:.2f}", "<= 1 s" if key in TARGETS else "",
                     report["verdicts"].get(key, "info")))
    rows.append((ex["check"]["label"], secs(ex["check"]), str(len(ex["check"]["runs"])), "", "", "", ""))
    rows.append((ex["reference"]["label"], secs(ex["reference"]), str(len(ex["reference"]["runs"])),
                 f"{sum(ex['reference']['ffmpeg_per_run']) / len(ex['reference']['runs']):g}/run", "", "", ""))
    rows.append((ex["nemoflow"]["label"], secs(ex["nemoflow"]), str(len(ex["nemoflow"]["runs"])),
                 f"{sum(ex['nemoflow']['ffmpeg_per_run']) / len(ex['nemoflow']['runs']):g}/run",
                 f"overhead {ex['overhead']:+.1%} = {ex['overhead_s']:+.2f} s (less start-up {ex['overhead_less_startup']:+.1%})",
                 "<= +10%",
                 report["verdicts"]["run_overhead"]))
    headers = ("case", "median", "runs", "FFmpeg", "ratio", "target", "result")
    machine = report["machine"]
    title = (f"runner benchmark, {report['repeats']} interleaved round(s) x {report['per_round']} for sub-second commands, medians; "
             f"FFmpeg {machine['ffmpeg']}, {machine['cpu_count']} CPUs")
    show_table(title, headers, rows, right=("median", "runs", "FFmpeg"), width=170)
    print()
    for line in report["notes"]:
        print(f"- {line}")
    print(f"\noverall: {'PASS' if report['pass'] else 'FAIL'} ({report['total_s']:.0f} s)")


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of interleaved runs (medians reported); default 3")
    parser.add_argument("--per-round", type=int, default=3, help="runs of each sub-second command per round; default 3")
    parser.add_argument("--export-seconds", type=float, default=4.0, help="length of each of the 50 tiny exports; default 4")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="work dir to use and keep (default: a temp dir, removed)")
    args = parser.parse_args()
    if args.repeats < 1 or args.per_round < 1:
        parser.error("--repeats and --per-round must be at least 1")
    if not 0.5 <= args.export_seconds <= 60:
        parser.error("--export-seconds takes 0.5 to 60")
    nemoflow = shutil.which("nemoflow")
    if nemoflow is None:
        raise SystemExit("install nemoflow first: pip install -e .")

    import imageio_ffmpeg

    real_ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    if args.keep:
        work = args.keep.resolve()
        if work.exists() and any(work.iterdir()):
            parser.error(f"--keep {work}: give a new or empty directory (first renders and state dirs must start fresh)")
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="nemoflow-runner-bench-"))
    began = time.perf_counter()
    try:
        return measure(args, work, nemoflow, real_ffmpeg, began)
    except Failed as exc:
        log(f"runner benchmark: a command failed:\n{exc}")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path, nemoflow: str, real_ffmpeg: str, began: float) -> int:
    wrapper = Wrapper(work, real_ffmpeg)
    (work / "empty-config.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(NEMOFLOW_FFMPEG=str(wrapper.path), NEMOFLOW_CONFIG=str(work / "empty-config.toml"))
    pyc_note = "compiled modules: as this environment has them"
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None and "PYTHONPYCACHEPREFIX" not in env:
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        pyc_note = ("PYTHONDONTWRITEBYTECODE was set: the commands measured cache compiled modules in PYTHONPYCACHEPREFIX "
                    "(a temp dir), as an installed copy would have them")
    machine = {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "ffmpeg": ffmpeg_version(real_ffmpeg),
               "python": platform.python_version(), "platform": platform.platform(),
               "loadavg_start": [round(x, 2) for x in os.getloadavg()]}

    # -- setup: first renders, the 1,000-step recipe and its primed state dir, the 50-export recipe and its reference commands
    examples = setup_examples(work, nemoflow, env, wrapper)
    plan_dir = work / "plan"
    plan_dir.mkdir()
    big = thousand_step_recipe(plan_dir / "big.nemo")
    primed = plan_dir / "state-primed"
    log("priming a state dir for the 1,000-step plan (nemoflow run big.nemo export.x0) ...")
    run([nemoflow, "run", big.name, "export.x0", "--state-dir", str(primed)], cwd=plan_dir, env=env, wrapper=wrapper)
    fifty_dir = work / "fifty"
    fifty_dir.mkdir()
    fifty = exports_recipe(fifty_dir / "fifty.nemo", args.export_seconds)
    ref_out = work / "reference-out"
    ref_cmds = reference_commands(fifty, ref_out, work / "scratch", str(wrapper.path))
    if len(ref_cmds) != EXPORTS:
        raise Failed(f"the 50-export recipe has {len(ref_cmds)} exports")

    python = Case("python -c pass (reference)")
    checks = {n: Case(f"nemoflow check {n} {shlex.join(e['sets'])}".rstrip()) for n, e in examples.items()}
    reruns = {n: Case(f"re-run: nemoflow run {n} {shlex.join(e['sets'])}".rstrip()) for n, e in examples.items()}
    rewrote_memo: dict[str, list[int]] = {n: [] for n in examples}  # which re-runs (1-based) rewrote digests.json
    not_nothing: dict[str, list[str]] = {n: [] for n in examples}
    plan_check = Case("nemoflow check big.nemo (1,001 steps)")
    plan_cases = {"cold": Case("nemoflow plan big.nemo, cold (new state dir)"),
                  "warm": Case("nemoflow plan big.nemo, warm (same dir, 2nd time)"),
                  "primed": Case("nemoflow plan big.nemo, primed (dir after a run)")}
    fifty_check = Case(f"nemoflow check fifty.nemo ({EXPORTS * 3} steps: start-up)")
    reference = Case(f"{EXPORTS} exports: the FFmpeg commands, {JOBS} at a time")
    nemo_run = Case(f"{EXPORTS} exports: nemoflow run -j {JOBS}, fresh state")

    for cmd, cwd in (([sys.executable, "-c", "pass"], work), ([nemoflow, "check", big.name], plan_dir),
                     ([nemoflow, "check", fifty.name], fifty_dir)):
        run(cmd, cwd=cwd, env=env, wrapper=wrapper)  # warm the page cache and .pyc files
    cold_n = 0
    for round_no in range(args.repeats):
        log(f"round {round_no + 1}/{args.repeats}")
        for _ in range(args.per_round):
            python.add(run([sys.executable, "-c", "pass"], cwd=work, env=env, wrapper=wrapper))
            for name, ex in examples.items():
                checks[name].add(run([nemoflow, "check", ex["recipe"].name, *ex["sets"]], cwd=ex["dir"], env=env, wrapper=wrapper))
                stamp = memo_stamp(ex["dir"])
                sample = reruns[name].add(run([nemoflow, "run", ex["recipe"].name, *ex["sets"]], cwd=ex["dir"], env=env,
                                              wrapper=wrapper))
                if memo_stamp(ex["dir"]) != stamp:
                    rewrote_memo[name].append(len(reruns[name].runs))
                last = sample.stderr.strip().splitlines()[-1] if sample.stderr.strip() else ""
                if not last.startswith("nothing to do"):
                    not_nothing[name].append(last)
            plan_check.add(run([nemoflow, "check", big.name], cwd=plan_dir, env=env, wrapper=wrapper))
            cold_n += 1
            fresh = plan_dir / f"state-cold-{cold_n}"
            plan_cases["cold"].add(run([nemoflow, "plan", big.name, "--state-dir", str(fresh)], cwd=plan_dir, env=env, wrapper=wrapper))
            plan_cases["warm"].add(run([nemoflow, "plan", big.name, "--state-dir", str(fresh)], cwd=plan_dir, env=env, wrapper=wrapper))
            plan_cases["primed"].add(run([nemoflow, "plan", big.name, "--state-dir", str(primed)], cwd=plan_dir, env=env,
                                         wrapper=wrapper))
            fifty_check.add(run([nemoflow, "check", fifty.name], cwd=fifty_dir, env=env, wrapper=wrapper))
        order = ("reference", "nemoflow") if round_no % 2 == 0 else ("nemoflow", "reference")
        for which in order:
            if which == "reference":
                reference.add(run_reference(ref_cmds, ref_out, wrapper))
                continue
            shutil.rmtree(fifty_dir / "out", ignore_errors=True)
            state = fifty_dir / f"state-{round_no}"
            shutil.rmtree(state, ignore_errors=True)
            sample = nemo_run.add(run([nemoflow, "run", fifty.name, "-j", str(JOBS), "--state-dir", str(state)], cwd=fifty_dir,
                                      env=env, wrapper=wrapper))
            made = len(list((fifty_dir / "out").glob("*.mp4")))
            summary = sample.stderr.strip().splitlines()[-1] if sample.stderr.strip() else ""
            if made != EXPORTS or not summary.startswith(f"{EXPORTS * 3} ran"):
                raise Failed(f"nemoflow run of fifty.nemo wrote {made} files; it said: {summary!r}")
            shutil.rmtree(state, ignore_errors=True)
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]

    # -- figures
    rerun_report: dict[str, Any] = {"python": python.to_json(), "examples": {}}
    verdicts: dict[str, str] = {}
    for name, ex in examples.items():
        rr = reruns[name]
        item = {"args": ex["sets"], "first_render_s": round(ex["first_render_s"], 2), "first_render_ffmpeg": ex["first_render_ffmpeg"],
                "first_render_summary": ex["first_summary"], "check": checks[name].to_json(), "rerun": rr.to_json(),
                "first_rerun_s": round(rr.runs[0], 4), "rerun_vs_python": round(rr.median / python.median, 2),
                "rerun_vs_check": round(rr.median / checks[name].median, 3),
                "reruns_that_rewrote_digests": rewrote_memo[name], "reruns_not_nothing_to_do": not_nothing[name]}
        rerun_report["examples"][name] = item
        ok = (verdict("rerun_s", rr.median) == "PASS" and verdict("rerun_ffmpeg_processes", sum(rr.ffmpeg)) == "PASS"
              and not not_nothing[name])
        verdicts[f"rerun[{name}]"] = "PASS" if ok else "FAIL"
    plan_report: dict[str, Any] = {"steps": 1001, "check": plan_check.to_json()}
    for which, case in plan_cases.items():
        plan_report[which] = case.to_json()
        plan_report[f"{which}_vs_check"] = round(case.median / plan_check.median, 3)
    verdicts["plan_cold_s"] = verdict("plan_cold_s", plan_cases["cold"].median)
    verdicts["plan_warm_s"] = verdict("plan_warm_s", plan_cases["warm"].median)
    overhead = nemo_run.median / reference.median - 1
    overhead_s = nemo_run.median - reference.median
    less_startup = (nemo_run.median - fifty_check.median) / reference.median - 1
    clip = f"{args.export_seconds:g} s {EXPORT_SIZE} 30 fps testsrc + a 400-{399 + EXPORTS} Hz tone"
    exports_report = {"count": EXPORTS, "jobs": JOBS, "clip": clip,
                      "check": fifty_check.to_json(), "reference": reference.to_json(), "nemoflow": nemo_run.to_json(),
                      "overhead": round(overhead, 4), "overhead_s": round(overhead_s, 3),
                      "overhead_less_startup": round(less_startup, 4),
                      "per_export_reference_s": round(reference.median * JOBS / EXPORTS, 3)}
    verdicts["run_overhead"] = verdict("run_overhead", overhead)

    first = ", ".join(f"{n} {e['first_render_s']:.1f} s ({e['first_render_ffmpeg']} FFmpeg)" for n, e in examples.items())
    notes = [
        f"first renders (setup, not timed against anything): {first}",
        "re-runs: the same command as the first render, in the recipe's dir, state in .nemoflow/ beside it; "
        "FFmpeg = processes the wrapper logged during the timed re-runs (all rounds together); first re-run after the render: "
        + ", ".join(f"{n} {reruns[n].runs[0]:.3f} s" for n in examples),
        *(f"{n}: re-run(s) #{', #'.join(map(str, c))} of {len(reruns[n].runs)} rewrote .nemoflow/digests.json (hashed files again)"
          + (": the first render's outputs, hashed as they were written, are hashed once more by the next run (a digest taken "
             "< 2 s after a file's mtime is not trusted)" if c == [1] else "") for n, c in rewrote_memo.items() if c),
        *(f"{n}: re-runs that did not say 'nothing to do': {v[:3]}" for n, v in not_nothing.items() if v),
        "plan FFmpeg per run: `ffmpeg -version` for the cache key's FFmpeg identity, unless the state dir's memo has it "
        "(plan saves the memo only into a state dir that exists, and creates none, so cold and warm on a new dir both pay it)",
        f"{EXPORTS} exports: {exports_report['clip']}, -j {JOBS}; reference = the same commands (library-built, nemoflow's "
        f"leading flags, same wrapper binary) in ThreadPoolExecutor({JOBS}); ~{exports_report['per_export_reference_s']:.2f} s "
        "per export; 'less start-up' subtracts the `nemoflow check` time of the same recipe",
        pyc_note,
        f"load average (1 min) {machine['loadavg_start'][0]:g} at the start, {machine['loadavg_end'][0]:g} at the end "
        f"on {machine['cpus_usable']} usable CPUs: other load skews the seconds, less so the ratios",
    ]
    report = {
        "machine": machine, "repeats": args.repeats, "per_round": args.per_round,
        "rerun": rerun_report, "plan": plan_report, "exports": exports_report,
        "targets": {k: f"{op} {bound:g}" for k, (op, bound) in TARGETS.items()},
        "verdicts": verdicts, "pass": all(v == "PASS" for v in verdicts.values()), "notes": notes,
        "total_s": round(time.perf_counter() - began, 1), "work_dir": str(work) if args.keep else None,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
