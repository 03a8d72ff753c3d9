"""Render speed and memory, measured side by side in one run and reported as ratios.

Absolute seconds drift from machine to machine (and minute to minute on a
noisy one), so every target is a ratio of two cases timed in the same run,
interleaved round-robin: the median over --repeats rounds of each round's
ratio (its range shown too), so a burst of other load hits both sides of a
pair rather than one side's median. CPU seconds of the process trees are
shown beside wall time: on a machine shared with other work they are the
steadier figure.

  nemoflow standard edit / hand-written single FFmpeg graph      <= 1.05
  MoviePy 2.x, same edit / nemoflow                               >= 3
  full re-encode of 2-12 s / `nemoflow run` of a trim (smart cut)  >= 20
  (the export step alone is reported too, without a target: it leaves out start-up, checking and recording)
  nemoflow's own peak RSS (the Python process, not its FFmpeg)    <= 150 MB
  (plus the smart cut off keyframes, 2.5-12.5 s: ratio reported, no target)

Inputs are generated with the FFmpeg from the imageio-ffmpeg wheel, nothing is
downloaded: a 20 s WxH 30 fps H.264 + stereo AAC source (testsrc2 + 440 Hz sine,
libx264 ultrafast crf 18, -g 30: a 1 s GOP, like phone footage) and a 30 s
220 Hz music file (mono AAC, .m4a).

Every timed run must do the work it is timed for, or the case fails (exit 1,
no PASS): its output is deleted first and must come back newer than the run;
`nemoflow run` is given `--force 'export.*'` (its state dir is warm, media
probed, as on a user's second run) and its own journal must show every export
step run, not cached or restored from the store, by the expected method (a
filter-graph render, or a smart cut); export_step.py gets a new state dir
per run and must print the method it used.

    python benchmarks/render.py [--json] [--repeats 3] [--no-moviepy] [--size 3840x2160] [--keep DIR]

`--size 1280x720 --repeats 1` is a quick smoke run. MoviePy (the `bench`
extra: pip install -e ".[bench]") runs once whatever --repeats says: it takes
minutes at 4K. Exit 0 when everything ran, whether or not a target was met
(this is a measurement); exit 1 when a case could not run (the failure and
its stderr are shown). MB here are MiB (2**20 bytes).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from table import print_table as show_table

ROOT = Path(__file__).resolve().parent.parent
FONT = ROOT / "nemoflow" / "fonts" / "DejaVuSans-Bold.ttf"
MOVIEPY_SCRIPT = Path(__file__).resolve().parent / "moviepy_edit.py"
EXPORT_STEP = Path(__file__).resolve().parent / "export_step.py"
FPS = 30
SOURCE_SECONDS, MUSIC_SECONDS = 20, 30
POLL_SECONDS = 0.05
STATE = "state"  # the nemoflow runs' state dir, under the work dir
GRADE = "eq=contrast=1.12:saturation=1.3:gamma_r=1.1:gamma_b=0.9"  # nemoflow's grade "teal-orange" at 100%
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-profile:v", "high", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "192k"]
QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]

STANDARD_RECIPE = """nemo 1
media city = "src.mp4"
media lofi = "music.m4a"
edit cut {{
  video city from 2s to 12s
  grade "teal-orange"
  title "Urban Dreams" from 0s to 3s
  music lofi volume 35%
}}
export final = cut {{
  size {size}
  crf 20
  save "out/nemoflow.mp4"
}}
"""

TRIM_RECIPE = """nemo 1
media city = "src.mp4"
edit t {{
  video city from {start}s to {end}s
}}
export trim = t {{
  size {size}
  save "out/{name}.mp4"
}}
"""

TARGETS = {  # ratio or figure -> (comparison, bound)
    "nemoflow_vs_ffmpeg": ("<=", 1.05),
    "moviepy_vs_nemoflow": (">=", 3.0),
    "reencode_vs_smartcut_cli": (">=", 20.0),  # the whole `nemoflow run` of a trim-only recipe, as the issue asks
    "nemoflow_peak_rss_mb": ("<=", 150.0),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- running and measuring


@dataclass
class Measured:
    wall: float
    returncode: int
    own_peak_mb: float | None  # last VmHWM read from /proc/<pid>/status while it ran (Python cases)
    tree_max_mb: float  # wait4's ru_maxrss: the largest single process among it and its waited-for children
    stderr: str
    pid: int  # nemoflow names its journal after it: how a run is shown to have rendered
    started_ns: int  # time.time_ns() just before the spawn: an output older than this was not written by the run
    cpu: float  # user + system seconds of the process and its waited-for children (FFmpeg included)


def _vm_hwm_kb(status_path: str) -> int | None:
    try:
        with open(status_path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None  # gone, or a zombie (no memory map left)


def run_measured(cmd: list[str], *, cwd: Path, log_stem: Path, env: dict[str, str] | None = None,
                 poll_hwm: bool = False) -> Measured:
    """Run without a shell; wall clock from spawn to exit, exact (not rounded up to a poll tick).

    The exit is awaited with waitid(WNOWAIT), so the poller stops before the
    pid is reaped and can never read a recycled pid's status; wait4 then reaps
    it and gives its rusage. Output goes to files, so nothing can block on a full pipe.
    """
    out_path, err_path = log_stem.with_suffix(".stdout.log"), log_stem.with_suffix(".stderr.log")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started_ns = time.time_ns()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        hwm: list[int | None] = [None]
        stop = threading.Event()

        def poll() -> None:
            status = f"/proc/{proc.pid}/status"
            while not stop.is_set():
                kb = _vm_hwm_kb(status)
                if kb is not None:
                    hwm[0] = kb
                stop.wait(POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True) if poll_hwm else None
        try:
            if poller:
                poller.start()
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
            wall = time.perf_counter() - start
            stop.set()
            if poller:
                poller.join()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            stop.set()
            if proc.returncode is None:  # interrupted: leave nothing running
                proc.kill()
                proc.wait()
    stderr = err_path.read_text(errors="replace")
    return Measured(wall, proc.returncode, None if hwm[0] is None else hwm[0] / 1024, usage.ru_maxrss / 1024, stderr,
                    proc.pid, started_ns, usage.ru_utime + usage.ru_stime)


def run_quiet(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------- inputs


def filter_path(path: Path) -> str:
    """A path as a filtergraph option value (two levels of FFmpeg escaping)."""
    text = str(path)
    if re.fullmatch(r"[A-Za-z0-9_./+-]+", text):
        return text
    text = re.sub(r"([\\':])", r"\\\1", text)  # option level
    return re.sub(r"([\\'\[\],;])", r"\\\1", text)  # graph level


def source_commands(ffmpeg: str, width: int, height: int) -> dict[str, list[str]]:
    return {
        "src.mp4": [ffmpeg, *QUIET, "-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r={FPS}:d={SOURCE_SECONDS}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SOURCE_SECONDS}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-g", str(FPS), "-pix_fmt", "yuv420p",
                    *AAC, "-ac", "2", "-shortest", "src.mp4"],  # stereo, as phones record (smart cut copies stereo only)
        "music.m4a": [ffmpeg, *QUIET, "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={MUSIC_SECONDS}",
                      *AAC, "music.m4a"],
    }


def make_inputs(work: Path, ffmpeg: str, width: int, height: int) -> None:
    """Generate the source and the music; a --keep dir made by the same commands is reused."""
    commands = source_commands(ffmpeg, width, height)
    stamp = work / "inputs.json"
    wanted = json.dumps({name: cmd[1:] for name, cmd in commands.items()}, sort_keys=True)
    if stamp.exists() and stamp.read_text() == wanted and all((work / name).exists() for name in commands):
        log(f"reusing the inputs in {work}")
        return
    stamp.unlink(missing_ok=True)
    for name, cmd in commands.items():
        log(f"generating {name} ...")
        proc = run_quiet(cmd, cwd=work)
        if proc.returncode != 0:
            raise SetupError(f"could not generate {name}:\n{tail(proc.stderr)}")
    stamp.write_text(wanted)


class SetupError(Exception):
    pass


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    label: str
    cmd: list[str]
    output: Path
    python: bool = False  # a Python process: poll its own VmHWM
    once: bool = False
    inner: bool = False  # the command prints export_seconds=…: time the export step, not the whole process
    recipe: Path | None = None  # nemoflow cases: checked before timing, cache dir seeded per run
    env: dict[str, str] | None = None  # extra environment variables
    # How each timed run is shown to have done the work (a benchmark that can time a cache hit cannot fail):
    # "file" a new output file (FFmpeg, MoviePy); "journal" the run's own journal says every export step ran
    # (not cached, not restored) by `method`; "step" export_step.py printed that it made the file by `method`.
    proof: str = "file"
    method: str = ""  # "render" (one filter graph) or "smartcut"
    status: str = "ok"  # ok, failed, skipped
    note: str = ""
    why: str = ""  # one line: why it failed
    error: str = ""  # the command and the tail of its stderr
    runs: list[float] = field(default_factory=list)
    own_peak_mb: list[float] = field(default_factory=list)
    tree_max_mb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU seconds of the whole process tree, per run
    proofs: list[str] = field(default_factory=list)  # per run: what showed that it rendered

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "label": self.label, "status": self.status,
            "median_s": _round(self.median, 3), "runs": [round(r, 3) for r in self.runs],
            "cpu_s": [round(c, 2) for c in self.cpu], "rendered": self.proofs,
            "peak_rss_mb": _round(max(self.own_peak_mb or self.tree_max_mb, default=None), 1),
            "process_tree_max_rss_mb": _round(max(self.tree_max_mb, default=None), 1),
        }
        if self.note:
            data["note"] = self.note
        if self.status == "failed":
            data["why"], data["error"] = self.why, self.error
        return data


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def build_cases(work: Path, ffmpeg: str, width: int, height: int, with_moviepy: bool) -> list[Case]:
    size = f"{width}x{height}"
    out = work / "out"
    fontsize = round(0.09 * height)
    graph = (f"[0:v]{GRADE},drawtext=fontfile={filter_path(FONT)}:text='Urban Dreams':fontsize={fontsize}:fontcolor=white"
             f":x=(w-text_w)/2:y=(h-text_h)/2:enable='between(t,0,3)'[v];"
             f"[1:a]volume=0.35[m];[0:a][m]amix=inputs=2:duration=first:normalize=0[a]")
    reference = [ffmpeg, *QUIET, "-ss", "2", "-t", "10", "-i", "src.mp4", "-t", "10", "-i", "music.m4a",
                 "-filter_complex", graph, "-map", "[v]", "-map", "[a]", *X264, *AAC, "-movflags", "+faststart",
                 str(out / "reference.mp4")]

    def reencode(start: str, name: str) -> list[str]:
        return [ffmpeg, *QUIET, "-ss", start, "-t", "10", "-i", "src.mp4", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", "20", *AAC, str(out / f"{name}.mp4")]

    def nemoflow(recipe: Path) -> list[str]:
        # --force: the state dir is warm (its media probed, as on a user's second run) but the export renders every time
        return [sys.executable, "-m", "nemoflow.cli", "run", str(recipe), "--force", "export.*", "--state-dir", str(work / STATE)]

    recipes = {
        "standard": STANDARD_RECIPE.format(size=size),
        "trim": TRIM_RECIPE.format(start="2", end="12", size=size, name="trim"),
        "trim_offkey": TRIM_RECIPE.format(start="2.5", end="12.5", size=size, name="trim_offkey"),
        "trim_step": TRIM_RECIPE.format(start="2", end="12", size=size, name="trim_step"),
    }
    paths = {}
    for name, text in recipes.items():
        paths[name] = work / f"{name}.nemo"
        paths[name].write_text(text)

    cases = [
        Case("reference", "ffmpeg graph (reference)", reference, out / "reference.mp4"),
        Case("nemoflow", "nemoflow", nemoflow(paths["standard"]), out / "nemoflow.mp4", python=True,
             recipe=paths["standard"], proof="journal", method="render"),
        Case("reencode", "re-encode 2-12 s (ffmpeg)", reencode("2", "reencode"), out / "reencode.mp4"),
        Case("smartcut", "smart cut 2-12 s (nemoflow)", nemoflow(paths["trim"]), out / "trim.mp4", python=True,
             recipe=paths["trim"], proof="journal", method="smartcut"),
        Case("smartcut_step", "smart cut 2-12 s (export step only)",  # {run}: a new state dir per run
             [sys.executable, str(EXPORT_STEP), str(paths["trim_step"]), str(work / "step-state" / "{run}")], out / "trim_step.mp4",
             python=True, recipe=paths["trim_step"], inner=True, proof="step", method="smartcut"),
        Case("reencode_offkey", "re-encode 2.5-12.5 s (ffmpeg)", reencode("2.5", "reencode_offkey"),
             out / "reencode_offkey.mp4"),
        Case("smartcut_offkey", "smart cut 2.5-12.5 s (nemoflow)", nemoflow(paths["trim_offkey"]),
             out / "trim_offkey.mp4", python=True, recipe=paths["trim_offkey"], proof="journal", method="smartcut"),
    ]
    moviepy = Case("moviepy", "MoviePy 2.x",
                   [sys.executable, str(MOVIEPY_SCRIPT), "src.mp4", "music.m4a", str(out / "moviepy.mp4"),
                    "--font", str(FONT), "--font-size", str(fontsize)],
                   out / "moviepy.mp4", python=True, once=True, env={"FFMPEG_BINARY": ffmpeg},  # the same FFmpeg
                   note="run once whatever --repeats says")
    if not with_moviepy:
        moviepy.status, moviepy.note = "skipped", "--no-moviepy"
    elif importlib.util.find_spec("moviepy") is None:
        moviepy.status, moviepy.note = "skipped", 'MoviePy is not installed: pip install -e ".[bench]" (or "moviepy>=2,<3")'
    elif not importlib.metadata.version("moviepy").startswith("2."):
        moviepy.status = "skipped"
        moviepy.note = f'MoviePy {importlib.metadata.version("moviepy")} is installed, this needs 2.x: pip install "moviepy>=2,<3"'
    cases.append(moviepy)
    return cases


def nemoflow_env(work: Path, cache: Path) -> dict[str, str]:
    """The repo's nemoflow, the wheel's FFmpeg (as the reference), no user config, a given cache dir."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["NEMOFLOW_CONFIG"] = str(work / "nemoflow-config.toml")  # does not exist: defaults only
    env["XDG_CACHE_HOME"] = str(cache)
    env["NO_COLOR"] = "1"
    for var in ("NEMOFLOW_FFMPEG", "NEMOFLOW_CACHE_DIR"):  # the wheel's FFmpeg; the cache under XDG_CACHE_HOME
        env.pop(var, None)
    # .pyc files written (by `check` before timing), as an installed package has them: with this set, every timed
    # run would compile each module whose source changed since its .pyc, a cost no user pays
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def preflight(case: Case, work: Path) -> None:
    """`nemoflow check` the recipe: warms .pyc files and the grammar cache, and fails early on a contract change.

    For `nemoflow run` cases, then run the recipe's media steps only: the state dir is warm (media probed) as on
    a user's second run, and every timed run is `--force`d to render its exports all the same.
    """
    assert case.recipe is not None
    env = nemoflow_env(work, work / "cache" / "preflight")
    commands = [[sys.executable, "-m", "nemoflow.cli", "check", str(case.recipe)]]
    if case.proof == "journal":
        media = [f"media.{name}" for name in re.findall(r"^media (\w+) =", case.recipe.read_text(), flags=re.M)]
        commands.append([sys.executable, "-m", "nemoflow.cli", "run", str(case.recipe), *media, "--state-dir", str(work / STATE)])
    for cmd in commands:
        proc = run_quiet(cmd, cwd=work, env=env)
        if proc.returncode != 0:
            case.status, case.why = "failed", f"`nemoflow {cmd[3]} {case.recipe.name}` exited {proc.returncode}"
            case.error = f"{' '.join(proc.args)}\n{tail(proc.stderr)}"
            return


def rendered(case: Case, result: Measured, work: Path, log_stem: Path) -> tuple[bool, str]:
    """Did this timed run do the work it was timed for? (ok, what shows it, or why not).

    The output file was removed before the run, so it must exist, be non-empty and be newer than the spawn. A
    nemoflow run must also say so in its own journal (named after its pid): every export step started with
    action "run" and finished "ok" (not "cached", not "restored" from the store), made by `case.method`.
    """
    try:
        st = case.output.stat()
    except OSError:
        return False, f"wrote no {case.output.name}"
    if st.st_size == 0 or st.st_mtime_ns < result.started_ns:
        return False, f"{case.output.name} is empty or older than the run ({st.st_size} bytes)"
    if case.proof == "file":
        return True, f"new {case.output.name}"
    if case.proof == "step":
        found = re.search(r"^method=(\w+)$", log_stem.with_suffix(".stdout.log").read_text(), flags=re.M)
        if not found or found.group(1) != case.method:
            return False, f"export_step.py made the file by {found.group(1) if found else 'an unknown method'}, not {case.method}"
        return True, f"export step: {case.method}"
    journals = list((work / STATE / "recipes").glob(f"*/journal/*-{result.pid}.jsonl"))
    events = []
    for journal in journals:
        if journal.stat().st_mtime_ns >= result.started_ns:
            events = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    if not events or events[0].get("event") != "run-started" or events[0].get("pid") != result.pid:
        return False, f"no journal of this run (pid {result.pid}) under {work / STATE}"
    started = [e for e in events if e["event"] == "step-started" and e["kind"] == "export"]
    finished = [e for e in events if e["event"] == "step-finished" and e["kind"] == "export"]
    if not finished or len(started) != len(finished):
        return False, "the journal shows no export step that ran"
    for event in finished:
        smart = "smart cut" in event.get("summary", "")
        if event["status"] != "ok" or (smart != (case.method == "smartcut")):
            return False, f"{event['step']} {event['status']}: {event.get('summary', '')} (want ok, by {case.method})"
    if any(e["action"] != "run" for e in started):
        return False, "an export step was restored from the store, not rendered"
    return True, "; ".join(f"{e['step']} ran: {e.get('summary', '')}" for e in finished)


def run_case(case: Case, work: Path, counter: int) -> None:
    case.output.unlink(missing_ok=True)  # a stale file must not pass the checks
    cmd = [arg.replace("{run}", f"run{counter}") for arg in case.cmd]
    env = None
    if case.recipe is not None:
        # A fresh cache dir per run, so a render cache (if nemoflow grows one) cannot turn repeats into
        # cache hits; `check` seeds it, so the grammar cache is warm as on a user's machine.
        cache = work / "cache" / f"run{counter}"
        env = nemoflow_env(work, cache)
        run_quiet([sys.executable, "-m", "nemoflow.cli", "check", str(case.recipe)], cwd=work, env=env)
    elif case.env is not None:
        env = dict(os.environ, **case.env)
    log_stem = work / "logs" / f"{case.name}-{counter}"
    result = run_measured(cmd, cwd=work, log_stem=log_stem, env=env, poll_hwm=case.python)
    ok, proof = rendered(case, result, work, log_stem) if result.returncode == 0 else (False, f"exited {result.returncode}")
    if not ok:
        why = proof if result.returncode != 0 else f"did not render: {proof}"
        case.status, case.why, case.error = "failed", why, f"{' '.join(cmd)}\n{tail(result.stderr)}"
        log(f"  {case.name}: FAILED ({why}); stderr:\n{tail(result.stderr, 10)}")
        return
    wall = result.wall
    if case.inner:
        found = re.search(r"export_seconds=([0-9.]+)", (work / "logs" / f"{case.name}-{counter}.stdout.log").read_text())
        if not found:
            case.status, case.why = "failed", "printed no export_seconds"
            return
        wall = float(found.group(1))
    case.runs.append(wall)
    case.cpu.append(result.cpu)
    case.proofs.append(proof)
    case.tree_max_mb.append(result.tree_max_mb)
    if result.own_peak_mb is not None:
        case.own_peak_mb.append(result.own_peak_mb)
    rss = result.own_peak_mb if result.own_peak_mb is not None else result.tree_max_mb
    log(f"  {case.name:<16} {wall:8.2f} s   cpu {result.cpu:7.2f} s   peak RSS {rss:7.1f} MB   ({proof})")


# ---------------------------------------------------------------- checking outputs


def scan(path: Path, grab: tuple[float, ...] = (), start: float = 0.0, stop: float | None = None) -> dict[str, Any]:
    """Decode a file's video (edit lists honoured) and describe it; keep luma and RGB of the frames at `grab` times."""
    import av

    info: dict[str, Any] = {"frames": 0, "grabbed": {}}
    with av.open(str(path)) as container:
        info["container_duration_s"] = container.duration / 1e6 if container.duration else None
        info["audio"] = container.streams.audio[0].codec_context.name if container.streams.audio else None
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        info["codec"] = video.codec_context.name
        info["width"], info["height"] = video.codec_context.width, video.codec_context.height
        info["fps"] = float(video.average_rate) if video.average_rate else None
        if start > 0:
            container.seek(int(start / video.time_base), stream=video, backward=True)
        first = last = None
        for frame in container.decode(video):
            t = frame.time
            if t is None:
                continue
            if stop is not None and t > stop + 0.5 / FPS:
                break
            info["frames"] += 1
            first = t if first is None else first
            last = t
            if info["frames"] == 1:
                info["first_luma"] = luma(frame)
            for want in grab:
                if abs(t - want) < 0.5 / FPS:
                    info["grabbed"][want] = (luma(frame), frame.to_ndarray(format="rgb24"))
        info["first_s"] = first
        info["duration_s"] = None if first is None else last - first + 1 / FPS
    return info


def luma(frame: Any) -> Any:
    import numpy as np

    return frame.reformat(format="gray").to_ndarray().astype(np.int16)


def mad(a: Any, b: Any) -> float:
    import numpy as np

    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def keyframe_times(path: Path) -> list[float]:
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return [round(float(p.pts * p.time_base), 3) for p in container.demux(video) if p.is_keyframe and p.pts is not None]


def check(ok: bool, detail: str) -> dict[str, Any]:
    return {"ok": bool(ok), "detail": detail}


def describe(info: dict[str, Any]) -> str:
    fps = f"{info['fps']:g}" if info["fps"] else "?"
    duration = f"{info['duration_s']:.3f}" if info["duration_s"] is not None else "?"
    return (f"{info['width']}x{info['height']} {info['codec']} {fps} fps, {info['frames']} frames, {duration} s, "
            f"audio {info['audio'] or 'none'}")


def output_check(info: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    ok = (info["duration_s"] is not None and abs(info["duration_s"] - 10) <= 1 / FPS + 1e-3
          and (info["width"], info["height"]) == (width, height) and info["codec"] == "h264" and info["audio"] is not None)
    return check(ok, describe(info) + " (want 10 s ± 1 frame, WxH, h264, with audio)")


def run_checks(cases: dict[str, Case], work: Path, width: int, height: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Probe every output that exists. Returns (checks, fidelity figures)."""
    log("checking outputs ...")
    checks: dict[str, Any] = {}
    kf = keyframe_times(work / "src.mp4")
    checks["source_gop_1s"] = check(kf == [float(s) for s in range(SOURCE_SECONDS)],
                                    f"source keyframes at {kf[:4]}...{kf[-1:]} s ({len(kf)} keyframes)")
    src = scan(work / "src.mp4", grab=tuple(k / FPS for k in (59, 60, 61, 74, 75, 76, 90, 210)), start=1.0, stop=7.0)
    probes: dict[str, dict[str, Any]] = {}

    for name in ("reference", "nemoflow", "moviepy"):
        case = cases[name]
        if case.status != "ok":
            if case.status == "failed":
                checks[f"{name}_output"] = check(False, f"{name} did not run ({case.why})")
            continue
        try:
            probes[name] = scan(case.output, grab=(1.0, 5.0))
        except Exception as exc:  # a broken file is a failed check, not a crash
            checks[f"{name}_output"] = check(False, f"cannot decode {case.output.name}: {type(exc).__name__}: {exc}")
            continue
        checks[f"{name}_output"] = output_check(probes[name], width, height)

    for name, trim_start in (("reencode", 2.0), ("smartcut", 2.0), ("reencode_offkey", 2.5), ("smartcut_offkey", 2.5)):
        case = cases[name]
        if case.status != "ok":
            checks[f"{name}_frames"] = check(False, f"{name} did not run ({case.why})")
            continue
        try:
            info = scan(case.output)
        except Exception as exc:
            checks[f"{name}_frames"] = check(False, f"cannot decode {case.output.name}: {type(exc).__name__}: {exc}")
            continue
        exact = info["frames"] == 300 and info["fps"] == FPS
        if "first_luma" not in info:
            checks[f"{name}_frames"] = check(False, f"{case.output.name} has no video frames")
            continue
        checks[f"{name}_frames"] = check(exact and (info["width"], info["height"]) == (width, height),
                                         describe(info) + " (want exactly 300 frames at 30 fps, WxH)")
        key = round(trim_start * FPS)
        wanted, before, after = (src["grabbed"][k / FPS][0] for k in (key, key - 1, key + 1))
        d, d_prev, d_next = mad(info["first_luma"], wanted), mad(info["first_luma"], before), mad(info["first_luma"], after)
        checks[f"{name}_first_frame"] = check(
            d < 2 and d < 0.5 * min(d_prev, d_next),
            f"first frame vs source at {trim_start:g} s: mean |ΔY| {d:.2f}; vs the neighbouring source frames {d_prev:.2f} / "
            f"{d_next:.2f} (want < 2 and under half of those)")

    fidelity: dict[str, Any] = {}
    if "reference" in probes:
        ref = probes["reference"]["grabbed"]
        if 5.0 in ref and 7.0 in src["grabbed"]:
            fidelity["ungraded_source_vs_reference"] = {"t5_rgb_mad": round(mad(src["grabbed"][7.0][1], ref[5.0][1]), 2),
                                                        "t1_rgb_mad": round(mad(src["grabbed"][3.0][1], ref[1.0][1]), 2)}
        for name in ("nemoflow", "moviepy"):
            other = probes.get(name, {}).get("grabbed", {})
            if 1.0 in other and 5.0 in other and 1.0 in ref and 5.0 in ref:
                fidelity[f"{name}_vs_reference"] = {"t5_rgb_mad": round(mad(other[5.0][1], ref[5.0][1]), 2),
                                                    "t1_rgb_mad": round(mad(other[1.0][1], ref[1.0][1]), 2)}
    return checks, fidelity


# ---------------------------------------------------------------- report


def pair_ratios(numerator: Case, denominator: Case, *, cpu: bool = False) -> list[float]:
    """One ratio per round: the two runs of a round ran one after the other, under the same load (wall, or CPU
    of the process trees). Empty unless both cases ran and proved every run; a once-only case (MoviePy) is
    paired with the other case's median."""
    if numerator.status != "ok" or denominator.status != "ok":
        return []
    top, bottom = (numerator.cpu, denominator.cpu) if cpu else (numerator.runs, denominator.runs)
    if not top or not bottom or min(bottom) <= 0:
        return []
    if len(top) != len(bottom):
        return [statistics.median(top) / statistics.median(bottom)]
    return [a / b for a, b in zip(top, bottom, strict=True)]


def ratio(numerator: Case, denominator: Case, *, cpu: bool = False) -> float | None:
    """The median of the per-round ratios (steadier than a ratio of medians on a shared machine); None unless both ran."""
    pairs = pair_ratios(numerator, denominator, cpu=cpu)
    return statistics.median(pairs) if pairs else None


def verdict(name: str, value: float | None, skipped: bool) -> str:
    if name not in TARGETS:
        return "info"
    if skipped:
        return "skipped"
    if value is None:
        return "n/a"
    op, bound = TARGETS[name]
    return "PASS" if (value <= bound if op == "<=" else value >= bound) else "FAIL"


def ffmpeg_version(ffmpeg: str) -> str:
    out = run_quiet([ffmpeg, "-hide_banner", "-version"]).stdout
    match = re.match(r"ffmpeg version (\S+)", out)
    return match.group(1) if match else "unknown"


def print_table(report: dict[str, Any], cases: dict[str, Case]) -> None:
    ratios, verdicts = report["ratios"], report["verdicts"]
    ratio_of = {  # case -> (ratio key, how to read it)
        "nemoflow": ("nemoflow_vs_ffmpeg", "this / ffmpeg graph"),
        "moviepy": ("moviepy_vs_nemoflow", "this / nemoflow"),
        "smartcut": ("reencode_vs_smartcut_cli", "re-encode / this"),
        "smartcut_step": ("reencode_vs_smartcut", "re-encode / this"),
        "smartcut_offkey": ("reencode_vs_smartcut_offkey", "re-encode / this"),
    }
    rows = []
    for name in ("reference", "nemoflow", "moviepy", "reencode", "smartcut", "smartcut_step", "reencode_offkey", "smartcut_offkey"):
        case = cases[name]
        data = report["cases"][name]
        wall = "skipped" if case.status == "skipped" else ("FAILED" if case.status == "failed" else f"{case.median:.2f} s")
        cpu = f"{case.cpu_median:.2f} s" if case.status == "ok" and case.cpu_median is not None else ""
        rss = f"{data['peak_rss_mb']:.0f} MB" if data["peak_rss_mb"] is not None else ""
        rat = tgt = res = ""
        if name in ratio_of:
            key, what = ratio_of[name]
            value = ratios.get(key)
            rat = f"{what} = {value:.2f}" if value is not None else f"{what} = n/a"
            spread = report["ratio_ranges"].get(key)
            if spread and spread[0] != spread[1]:
                rat += f" ({spread[0]:.2f}-{spread[1]:.2f})"
            if name == "moviepy" and ratios.get("moviepy_vs_ffmpeg") is not None:
                rat += f" (/ ffmpeg graph = {ratios['moviepy_vs_ffmpeg']:.2f})"
            if name == "nemoflow" and ratios.get("nemoflow_vs_ffmpeg_cpu") is not None:
                rat += f" (CPU {ratios['nemoflow_vs_ffmpeg_cpu']:.2f})"
            if key in TARGETS:
                tgt = f"{TARGETS[key][0]} {TARGETS[key][1]:g}"
            res = verdicts[key]
        rows.append((case.label, wall, cpu, str(len(case.runs)), rss, rat, tgt, res))
    rss_value = report["nemoflow_peak_rss_mb"]
    rows.append(("nemoflow peak RSS (Python process only)", "", "", "", f"{rss_value:.0f} MB" if rss_value is not None else "n/a",
                 "", "<= 150 MB", verdicts["nemoflow_peak_rss_mb"]))
    headers = ("case", "median wall", "median CPU", "runs", "peak RSS", "ratio", "target", "result")
    machine = report["machine"]
    title = (f"render benchmark, {report['size']}, {report['repeats']} interleaved round(s), medians; "
             f"FFmpeg {machine['ffmpeg']}, {machine['cpu_count']} CPUs")
    show_table(title, headers, rows, right=("median wall", "median CPU", "runs", "peak RSS"), width=132)
    print()
    for line in report["notes"]:
        print(f"- {line}")
    print("checks:")
    for name, result in report["checks"].items():
        print(f"  {'ok  ' if result['ok'] else 'FAIL'}  {name}: {result['detail']}")
    if report["fidelity"]:
        print("picture vs the reference output (mean |Δ| of RGB, 0-255; t=1 s has the title, t=5 s the grade only):")
        for name, figures in report["fidelity"].items():
            print(f"  {name}: t=1 s {figures['t1_rgb_mad']}, t=5 s {figures['t5_rgb_mad']}")
    for name, case in cases.items():
        if case.status == "failed":
            print(f"\n{name} FAILED ({case.why}):\n{case.error}")
    print(f"\noverall: {'PASS' if report['pass'] else 'FAIL'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of interleaved runs (medians reported); default 3")
    parser.add_argument("--no-moviepy", action="store_true", help="skip the slow MoviePy case")
    parser.add_argument("--size", default="3840x2160", help="WxH of the source and the export; default 3840x2160")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="work dir to use and keep (default: a temp dir, removed)")
    args = parser.parse_args()
    match = re.fullmatch(r"(\d+)x(\d+)", args.size)
    if not match or int(match[1]) % 2 or int(match[2]) % 2 or int(match[1]) < 64 or int(match[2]) < 64:
        parser.error(f"--size takes WxH with even W and H of at least 64, got {args.size!r}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    width, height = int(match[1]), int(match[2])
    if importlib.util.find_spec("numpy") is None:
        raise SystemExit('render benchmark: numpy is needed to check the outputs: pip install -e ".[bench]" (or numpy)')

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    if args.keep:
        work = args.keep.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="nemoflow-render-bench-"))
    began = time.perf_counter()
    try:
        for sub in ("out", "logs", "cache"):
            (work / sub).mkdir(exist_ok=True)
        machine = {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "ffmpeg": ffmpeg_version(ffmpeg),
                   "python": platform.python_version(), "platform": platform.platform(),
                   "moviepy": importlib.metadata.version("moviepy") if importlib.util.find_spec("moviepy") else None,
                   "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
        try:
            make_inputs(work, ffmpeg, width, height)
        except SetupError as exc:
            log(f"render benchmark: {exc}")
            return 1
        case_list = build_cases(work, ffmpeg, width, height, not args.no_moviepy)
        cases = {c.name: c for c in case_list}
        for case in case_list:
            if case.recipe is not None:
                preflight(case, work)
                if case.status == "failed":
                    log(f"{case.name}: FAILED ({case.why}):\n{case.error}")
        counter = 0
        for round_no in range(args.repeats):
            log(f"round {round_no + 1}/{args.repeats}")
            for case in case_list:
                if case.status != "ok" or (case.once and case.runs):
                    continue
                counter += 1
                run_case(case, work, counter)
        machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        checks, fidelity = run_checks(cases, work, width, height)

        ratios = {
            "nemoflow_vs_ffmpeg": ratio(cases["nemoflow"], cases["reference"]),
            "moviepy_vs_nemoflow": ratio(cases["moviepy"], cases["nemoflow"]),
            "moviepy_vs_ffmpeg": ratio(cases["moviepy"], cases["reference"]),
            "reencode_vs_smartcut": ratio(cases["reencode"], cases["smartcut_step"]),
            "reencode_vs_smartcut_cli": ratio(cases["reencode"], cases["smartcut"]),
            "reencode_vs_smartcut_offkey": ratio(cases["reencode_offkey"], cases["smartcut_offkey"]),
            # CPU seconds of the process trees: steadier than wall time when other work shares the machine
            "nemoflow_vs_ffmpeg_cpu": ratio(cases["nemoflow"], cases["reference"], cpu=True),
        }
        pairs = {"nemoflow_vs_ffmpeg": ("nemoflow", "reference", False), "nemoflow_vs_ffmpeg_cpu": ("nemoflow", "reference", True),
                 "reencode_vs_smartcut": ("reencode", "smartcut_step", False),
                 "reencode_vs_smartcut_cli": ("reencode", "smartcut", False),
                 "reencode_vs_smartcut_offkey": ("reencode_offkey", "smartcut_offkey", False)}
        ranges = {key: pair_ratios(cases[a], cases[b], cpu=cpu) for key, (a, b, cpu) in pairs.items()}
        nemo_rss = max(cases["nemoflow"].own_peak_mb, default=None)
        verdicts = {key: verdict(key, value, key == "moviepy_vs_nemoflow" and cases["moviepy"].status == "skipped")
                    for key, value in ratios.items()}
        verdicts["nemoflow_peak_rss_mb"] = verdict("nemoflow_peak_rss_mb", nemo_rss, False)
        passed = all(v in ("PASS", "skipped", "info") for v in verdicts.values()) and all(c["ok"] for c in checks.values())
        notes = [
            f"source: {SOURCE_SECONDS} s {width}x{height} {FPS} fps H.264 + stereo AAC, testsrc2 + 440 Hz, libx264 ultrafast crf 18, "
            f"-g {FPS}: a 1 s GOP like phone footage (keyframes every 1 s, so 2 s is on one and 2.5 s is not); "
            f"music: {MUSIC_SECONDS} s 220 Hz sine, AAC .m4a",
            f"{args.repeats} round(s), cases interleaved round-robin; a ratio is the median of the rounds' ratios (the two runs "
            "of a round ran one after the other), its range in brackets; MoviePy runs once only (minutes at 4K)",
            "peak RSS: own VmHWM polled every 50 ms for Python processes (nemoflow, MoviePy: not their FFmpeg children); "
            "ru_maxrss of the ffmpeg process itself for the ffmpeg cases",
            "MoviePy grade: numpy contrast 1.12 + saturation 1.3 per RGB frame, without eq's gamma_r/gamma_b chroma shift",
            f"load average (1 min) {machine['loadavg_start'][0]:g} at the start, {machine['loadavg_end'][0]:g} at the end "
            f"on {machine['cpus_usable']} usable CPUs: other load skews the seconds, less so the ratios",
        ]
        notes += [f"{c.name}: {c.note}" for c in case_list if c.status == "skipped"]
        notes += [f"{c.name}: every timed run did the work ({len(c.proofs)} of {len(c.runs)}): {c.proofs[-1]}"
                  for c in case_list if c.status == "ok" and c.proofs and c.proof != "file"]
        report = {
            "machine": machine, "size": f"{width}x{height}", "repeats": args.repeats,
            "cases": {c.name: c.to_json() for c in case_list},
            "ratios": {k: _round(v, 3) for k, v in ratios.items()},
            "ratio_ranges": {k: [round(min(v), 3), round(max(v), 3)] for k, v in ranges.items() if v},
            "targets": {k: f"{op} {bound:g}" for k, (op, bound) in TARGETS.items()},
            "verdicts": verdicts,
            "nemoflow_peak_rss_mb": _round(nemo_rss, 1),
            "checks": checks, "fidelity": fidelity, "notes": notes,
            "pass": passed, "total_s": round(time.perf_counter() - began, 1), "work_dir": str(work) if args.keep else None,
        }
        if args.json:
            print(json.dumps(report, indent=2, ensure_ascii=False))
            for case in case_list:
                if case.status == "failed":
                    log(f"\n{case.name} FAILED ({case.why}):\n{case.error}")
        else:
            print_table(report, cases)
        return 1 if any(c.status == "failed" for c in case_list) else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
