"""Preview speed: `nemoflow preview` of the standard 10 s 4K edit, against realtime and against the full render.

The standard edit is benchmarks/render.py's (a 10 s cut of a generated 20 s 4K H.264 source, graded, titled, with
music), at 3840x2160. Three cases, interleaved round-robin, each timed as a whole `nemoflow` process:

  full          `nemoflow run --force 'export.*'`: the 4K export (state dir warm: media probed)
  preview       `nemoflow preview` after an edit of the title (the recipe changed; its media and the source's
                480-line proxy are cached from an earlier preview): a whole process, Python start-up included
  watch         a running `nemoflow preview --watch --debounce 0` (its own copy of the recipe and state dir): from
                saving an edit of the title (by rename, as editors do) to its printing the new preview's path
  first preview `nemoflow preview` with an empty cache and state dir: probing and the source proxy included

  preview and watch realtime factors (10 s / wall)               >= 10
  full / preview (median of the rounds' ratios)                  reported
  first preview realtime factor                                  reported

CPU seconds (the process tree's; for the watch case, the watching process's and its FFmpeg children's during the
round) are shown beside wall time: on a machine shared with other work they are the steadier figure.

Every timed run must do the work it is timed for, or the case fails (exit 1): its output is deleted first and must
come back newer than the run, and the run's own journal (named after its pid) must show the export step started
to run (not restored) and finished `ok`; a preview must print the path of the file it made. After the runs, the last
preview is decoded: 854x480, 300 frames at 30 fps, 10 s of sound, the title shown at 1 s and gone at 5 s, and its
picture close to the full render's scaled down (mean |ΔRGB|).

    python benchmarks/preview_speed.py [--json] [--repeats 3] [--size 3840x2160] [--keep DIR]

Exit 0 when everything ran, whether or not the target was met (this is a measurement); 1 when a case could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import render as standard
from table import print_table

EDIT_SECONDS = 10.0
TARGET_REALTIME = 10.0
STATE = standard.STATE
TOKEN = f"{os.getpid()}.{time.time_ns() % 10**6}"  # in the edited titles: a --keep dir's earlier previews are never current


@dataclass
class Case:
    name: str
    label: str
    runs: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    export_s: list[float] = field(default_factory=list)  # the export step alone, from the run's journal
    proofs: list[str] = field(default_factory=list)
    status: str = "ok"
    why: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None


def journal_of(root: Path, pid: int, started_ns: int) -> list[dict[str, Any]]:
    """The events of the run with this pid under a state root (full runs: `recipes/`, previews: `preview/recipes/`)."""
    for journal in root.glob(f"**/recipes/*/journal/*-{pid}.jsonl"):
        if journal.stat().st_mtime_ns >= started_ns:
            return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    return []


def proved(events: list[dict[str, Any]], pid: int) -> tuple[bool, str, float]:
    """Did the journal's run render its export (started as `run`, finished `ok`)? (ok, proof or why not, export seconds)."""
    if not events or events[0].get("event") != "run-started" or events[0].get("pid") != pid:
        return False, f"no journal of this run (pid {pid})", 0.0
    started = [e for e in events if e["event"] == "step-started" and e["kind"] == "export"]
    finished = [e for e in events if e["event"] == "step-finished" and e["kind"] == "export"]
    if len(started) != 1 or len(finished) != 1:
        return False, "the journal shows no export step that ran", 0.0
    if started[0].get("action") != "run" or finished[0].get("status") != "ok":
        return False, f"{finished[0]['step']} {finished[0].get('status')} ({started[0].get('action')}), not rendered", 0.0
    return True, f"{finished[0]['step']} ran: {finished[0].get('summary', '')}", float(finished[0].get("seconds", 0.0))


def timed(case: Case, cmd: list[str], *, work: Path, env: dict[str, str], output: Path, state: Path, counter: int,
          prints_path: bool) -> None:
    if case.status != "ok":
        return
    output.unlink(missing_ok=True)
    stem = work / "logs" / f"{case.name}-{counter}"
    result = standard.run_measured(cmd, cwd=work, log_stem=stem, env=env)
    ok, proof, export_s = False, f"exited {result.returncode}", 0.0
    if result.returncode == 0:
        try:
            st = output.stat()
            fresh = st.st_size > 0 and st.st_mtime_ns >= result.started_ns
        except OSError:
            fresh = False
        printed = stem.with_suffix(".stdout.log").read_text().strip()
        if not fresh:
            proof = f"{output.name} was not written by this run"
        elif prints_path and printed != str(output):
            proof = f"printed {printed!r}, not the preview's path {output}"
        else:
            ok, proof, export_s = proved(journal_of(state, result.pid, result.started_ns), result.pid)
    if not ok:
        case.status, case.why = "failed", f"{proof}\n{' '.join(cmd)}\n{standard.tail(result.stderr)}"
        standard.log(f"  {case.name}: FAILED ({proof})")
        return
    case.runs.append(result.wall)
    case.cpu.append(result.cpu)
    case.export_s.append(export_s)
    case.proofs.append(proof)
    standard.log(f"  {case.name:<14} {result.wall:7.2f} s   cpu {result.cpu:6.2f} s   export step {export_s:6.2f} s   ({proof})")


def _newest_journal(root: Path, pid: int, started_ns: int) -> list[dict[str, Any]]:
    """The events of the newest run of process `pid` under a state root (a watching process makes one run per render)."""
    found = [j for j in root.glob(f"recipes/*/journal/*-{pid}.jsonl") if j.stat().st_mtime_ns >= started_ns]
    if not found:
        return []
    newest = max(found, key=lambda j: j.stat().st_mtime_ns)
    return [json.loads(line) for line in newest.read_text().splitlines() if line.strip()]


def _cpu_seconds(pid: int) -> float:
    """User + system time of a live process and of its children it has waited for (FFmpeg), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class Watcher:
    """A `nemoflow preview --watch` process: its stdout lines (the paths of the previews it made) in a queue."""

    def __init__(self, cmd: list[str], *, work: Path, env: dict[str, str]) -> None:
        self.log = open(work / "logs" / "watch.stderr.log", "wb")
        self.proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.put(line.strip())

    def next_path(self, timeout: float) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> int:
        """Ctrl-C, as a person stops it; its exit code (0 expected)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def timed_watch(case: Case, watcher: Watcher, recipe: Path, text: str, *, output: Path, state: Path) -> None:
    """Save an edit (a new file renamed over the recipe) and time until the watcher prints the new preview's path."""
    if case.status != "ok":
        return
    pid = watcher.proc.pid
    tmp = recipe.with_name(f".{recipe.name}.new")
    tmp.write_text(text)
    cpu0 = _cpu_seconds(pid)
    started_ns = time.time_ns()
    start = time.perf_counter()
    os.replace(tmp, recipe)
    printed = watcher.next_path(timeout=300)
    wall = time.perf_counter() - start
    cpu = _cpu_seconds(pid) - cpu0
    ok, proof, export_s = False, "the watcher printed nothing (see logs/watch.stderr.log)", 0.0
    if printed is not None:
        try:
            fresh = output.stat().st_mtime_ns >= started_ns
        except OSError:
            fresh = False
        if printed != str(output) or not fresh:
            proof = f"printed {printed!r}; {output} {'is new' if fresh else 'was not written after the save'}"
        else:
            ok, proof, export_s = proved(_newest_journal(state, pid, started_ns), pid)
    if not ok:
        case.status, case.why = "failed", proof
        standard.log(f"  {case.name}: FAILED ({proof})")
        return
    case.runs.append(wall)
    case.cpu.append(cpu)
    case.export_s.append(export_s)
    case.proofs.append(proof)
    standard.log(f"  {case.name:<14} {wall:7.2f} s   cpu {cpu:6.2f} s   export step {export_s:6.2f} s   ({proof})")


def frames_of(path: Path, times: tuple[float, ...]) -> dict[str, Any]:
    """Frame count, size, rate, sound length, and RGB frames at `times` (PyAV)."""
    import av

    grabbed: dict[float, Any] = {}
    count = 0
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info: dict[str, Any] = {"width": v.codec_context.width, "height": v.codec_context.height,
                                "fps": float(v.average_rate or 0)}
        wanted = sorted(times)
        for f in c.decode(v):
            count += 1
            while wanted and f.time is not None and f.time + 1e-6 >= wanted[0]:
                grabbed[wanted.pop(0)] = f
        info["frames"] = count
        info["grabbed"] = grabbed
    with av.open(str(path)) as c:
        a = c.streams.audio
        info["audio_s"] = sum(fr.samples for fr in c.decode(a[0])) / a[0].rate if a else 0.0
    return info


def checks(preview: Path, full: Path, width: int, height: int) -> dict[str, dict[str, Any]]:
    import numpy as np

    out: dict[str, dict[str, Any]] = {}
    p = frames_of(preview, (1.0, 5.0))
    h = 480 if height > 480 else height
    w = max(2, round(width * h / height / 2) * 2)
    shape_ok = (p["width"], p["height"]) == (w, h) and p["frames"] == 300 and abs(p["fps"] - 30) < 0.01
    out["preview_shape"] = {"ok": shape_ok, "detail": f"{p['width']}x{p['height']}, {p['frames']} frames at {p['fps']:g} fps "
                                                      f"(want {w}x{h}, 300 at 30)"}
    out["preview_sound"] = {"ok": abs(p["audio_s"] - EDIT_SECONDS) < 0.05, "detail": f"{p['audio_s']:.3f} s of sound"}
    rgb = {t: f.to_ndarray(format="rgb24").astype(np.float64) for t, f in p["grabbed"].items()}

    def title_pixels(img: Any) -> int:  # white text in the middle third
        mid = img[img.shape[0] // 3: 2 * img.shape[0] // 3]
        return int((mid.min(axis=2) > 235).sum())

    shown, gone = title_pixels(rgb[1.0]), title_pixels(rgb[5.0])
    out["preview_title"] = {"ok": shown > 4 * max(gone, 50), "detail": f"white pixels in the middle: {shown} at 1 s, {gone} at 5 s"}
    if full.exists():
        f = frames_of(full, (1.0, 5.0))
        diffs = {}
        for t in (1.0, 5.0):
            scaled = f["grabbed"][t].reformat(width=w, height=h, format="rgb24").to_ndarray().astype(np.float64)
            diffs[t] = float(np.abs(scaled - rgb[t]).mean())
        out["preview_vs_full"] = {"ok": max(diffs.values()) < 8, "detail": "mean |ΔRGB| vs the full render scaled down: "
                                  + ", ".join(f"{d:.2f} at {t:g} s" for t, d in diffs.items()) + " (want < 8)"}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of interleaved runs (medians reported); default 3")
    parser.add_argument("--size", default="3840x2160", help="WxH of the source and the export; default 3840x2160")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="work dir to use and keep (default: a temp dir, removed)")
    args = parser.parse_args()
    match = re.fullmatch(r"(\d+)x(\d+)", args.size)
    if not match or int(match[1]) % 2 or int(match[2]) % 2 or int(match[1]) < 64 or int(match[2]) < 64:
        parser.error(f"--size takes WxH with even W and H of at least 64, got {args.size!r}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    width, height = int(match[1]), int(match[2])
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="nemoflow-preview-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    try:
        for sub in ("out", "logs", "cache"):
            (work / sub).mkdir(exist_ok=True)
        load_start = os.getloadavg()[0]
        try:
            standard.make_inputs(work, ffmpeg, width, height)
        except standard.SetupError as exc:
            standard.log(f"preview benchmark: {exc}")
            return 1
        recipe = work / "standard.nemo"
        text = standard.STANDARD_RECIPE.format(size=f"{width}x{height}")
        recipe.write_text(text)
        cli = [sys.executable, "-m", "nemoflow.cli"]
        warm_env = standard.nemoflow_env(work, work / "cache" / "warm")
        # warm-up, untimed: .pyc files, the media probed for full runs, and one preview (the source's proxy)
        for cmd in ([*cli, "check", str(recipe)],
                    [*cli, "run", str(recipe), "media.city", "media.lofi", "--state-dir", str(work / STATE)],
                    [*cli, "preview", str(recipe), "--state-dir", str(work / STATE)]):
            proc = standard.run_quiet(cmd, cwd=work, env=warm_env)
            if proc.returncode != 0:
                standard.log(f"preview benchmark: `{' '.join(cmd[2:4])}` failed:\n{standard.tail(proc.stderr)}")
                return 1
        preview_path = Path(proc.stdout.strip())
        full_out = work / "out" / "nemoflow.mp4"
        full, warm, cold = Case("full", "full render (nemoflow run)"), Case("preview", "preview after an edit"), \
            Case("first", "first preview (empty cache)")
        live = Case("watch", "--watch: save to new preview")
        watched_recipe, watch_state = work / "watched.nemo", work / "watch-state"
        watched_recipe.write_text(text)
        watcher = Watcher([*cli, "preview", str(watched_recipe), "--watch", "--debounce", "0", "--state-dir", str(watch_state)],
                          work=work, env=warm_env)
        first_path = watcher.next_path(timeout=300)  # its first render, untimed
        if first_path is None:
            live.status, live.why = "failed", "the watcher made no first preview (see logs/watch.stderr.log)"
        watch_path = Path(first_path or "")
        try:
            counter = 0
            for round_no in range(args.repeats):
                standard.log(f"round {round_no + 1}/{args.repeats}")
                counter += 1
                timed(full, [*cli, "run", str(recipe), "--force", "export.*", "--state-dir", str(work / STATE)], work=work,
                      env=warm_env, output=full_out, state=work / STATE, counter=counter, prints_path=False)
                counter += 1
                recipe.write_text(text.replace('"Urban Dreams"', f'"Urban Dreams {TOKEN}-{counter}"'))  # an edit: the export must render
                timed(warm, [*cli, "preview", str(recipe), "--state-dir", str(work / STATE)], work=work, env=warm_env,
                      output=preview_path, state=work / STATE / "preview", counter=counter, prints_path=True)
                counter += 1
                timed_watch(live, watcher, watched_recipe, text.replace('"Urban Dreams"', f'"Urban Dreams {TOKEN}-{counter}"'),
                            output=watch_path, state=watch_state / "preview")
                counter += 1
                state = work / "cold" / f"run{counter}"
                cold_env = standard.nemoflow_env(work, work / "cache" / f"cold{counter}")
                standard.run_quiet([*cli, "check", str(recipe)], cwd=work, env=cold_env)  # .pyc and grammar cache, as a user has
                cold_path = Path(str(preview_path).replace(str(work / STATE), str(state)))
                timed(cold, [*cli, "preview", str(recipe), "--state-dir", str(state)], work=work, env=cold_env, output=cold_path,
                      state=state / "preview", counter=counter, prints_path=True)
        finally:
            recipe.write_text(text)
            stopped = watcher.stop()  # also on Ctrl-C or a crash here: no watcher left behind
        if stopped != 0 and live.status == "ok":
            live.status, live.why = "failed", f"the watcher exited {stopped} on Ctrl-C (want 0)"
        cases = (full, warm, live, cold)
        failed = [c for c in cases if c.status != "ok"]
        found = {} if failed else checks(preview_path, full_out, width, height)
        realtime = EDIT_SECONDS / warm.median if warm.median else None
        watch_realtime = EDIT_SECONDS / live.median if live.median else None
        pairs = [a / b for a, b in zip(full.runs, warm.runs, strict=False)] if full.runs and warm.runs else []
        figures = {
            "preview_realtime": realtime,
            "watch_realtime": watch_realtime,
            "preview_realtime_cpu": EDIT_SECONDS / statistics.median(warm.cpu) if warm.cpu else None,
            "watch_realtime_cpu": EDIT_SECONDS / statistics.median(live.cpu) if live.cpu else None,
            "preview_export_step_realtime": EDIT_SECONDS / statistics.median(warm.export_s) if warm.export_s else None,
            "full_over_preview": statistics.median(pairs) if pairs else None,
            "full_over_preview_cpu": statistics.median([a / b for a, b in zip(full.cpu, warm.cpu, strict=False)]) if pairs else None,
            "first_preview_realtime": EDIT_SECONDS / cold.median if cold.median else None,
            "full_realtime": EDIT_SECONDS / full.median if full.median else None,
        }
        verdicts = {name: "n/a" if value is None else "PASS" if value >= TARGET_REALTIME else "FAIL"
                    for name, value in (("preview", realtime), ("watch", watch_realtime))}
        report = {
            "size": f"{width}x{height}", "repeats": args.repeats, "cpus": os.cpu_count(),
            "load_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
            "cases": {c.name: {"label": c.label, "status": c.status, "runs_s": [round(r, 3) for r in c.runs],
                               "cpu_s": [round(r, 2) for r in c.cpu], "export_step_s": [round(r, 3) for r in c.export_s],
                               "rendered": c.proofs, **({"why": c.why} if c.why else {})} for c in cases},
            "figures": {k: (round(v, 2) if v is not None else None) for k, v in figures.items()},
            "target": f"preview_realtime and watch_realtime >= {TARGET_REALTIME:g}", "verdicts": verdicts, "checks": found,
            "pass": all(v == "PASS" for v in verdicts.values()) and all(c["ok"] for c in found.values()) and not failed,
            "total_s": round(time.perf_counter() - began, 1),
        }
        if args.json:
            print(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            _table(report, cases)
        for case in failed:
            standard.log(f"\n{case.name} FAILED: {case.why}")
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _table(report: dict[str, Any], cases: tuple[Case, ...]) -> None:
    fig = report["figures"]

    def x(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}x"

    rows = []
    for case in cases:
        median = f"{case.median:.2f} s" if case.median is not None else "FAILED"
        cpu = f"{statistics.median(case.cpu):.2f} s" if case.cpu else ""
        step = f"{statistics.median(case.export_s):.2f} s" if case.export_s else ""
        realtime = x(EDIT_SECONDS / case.median) if case.median else "n/a"
        if case.cpu:
            realtime += f" (CPU {x(EDIT_SECONDS / statistics.median(case.cpu))})"
        target, result = (f">= {TARGET_REALTIME:g}x", report["verdicts"][case.name]) if case.name in report["verdicts"] \
            else ("", "info")
        rows.append((case.label, median, cpu, step, str(len(case.runs)), realtime, target, result))
    print_table(f"preview benchmark, standard edit at {report['size']}, {report['repeats']} interleaved round(s), medians; "
                f"{report['cpus']} CPUs, load {report['load_1min'][0]:g} -> {report['load_1min'][1]:g}",
                ("case", "wall", "CPU", "export step", "runs", "realtime", "target", "result"), rows,
                right=("wall", "CPU", "export step", "runs"), width=140)
    print(f"\nfull / preview: {x(fig['full_over_preview'])} wall, {x(fig['full_over_preview_cpu'])} CPU (median of the rounds' "
          f"ratios); preview export step alone: {x(fig['preview_export_step_realtime'])} realtime")
    for name, result in report["checks"].items():
        print(f"  {'ok  ' if result['ok'] else 'FAIL'}  {name}: {result['detail']}")
    print(f"\noverall: {'PASS' if report['pass'] else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(main())
