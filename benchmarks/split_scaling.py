"""Incremental re-render of a split export: change one title in a 2-minute 4K export, render again.

Issue 18's figure: with the segment cache (engines/local/chunked.py), the re-render after changing one title's text
takes at most 15% of the full render, and its output equals a full render of the changed recipe.

    re-render after the change (warm segment cache)  /  full split render (cold cache)   <= 0.15

Steps, all `nemoflow run` in a subprocess, each on a recipe whose sources are generated here (two 61 s clips of
testsrc2 at WxH 30 fps, H.264 + AAC, 1 s GOPs, and a music file):
  1. full: `--split`, a fresh cache dir, `--force export.final`; its output must be new and its summary must say
     every segment was rendered (`N rendered, 0 reused`).
  2. incremental: `--set headline=...` (the second title's text), the same cache dir; the output must be new and
     the summary must say some but not all segments were rendered.
  3. reference: the changed recipe rendered in one piece (`--no-split`, a fresh cache dir): its summary must not
     mention segments.
Then the incremental output is compared with the reference: the same frame count and duration, luma SSIM >= 0.99
on every frame (FFmpeg's ssim filter), and the sound decoded to the same samples. The single-process render's time
is reported beside the split one (split / single: the cost of splitting on one machine; not interleaved, so it is
an indication, not a verdict).

    python benchmarks/split_scaling.py [--size 3840x2160] [--seconds 120] [--segment 10] [--keep DIR] [--json]

`--size 640x360 --seconds 40` is a quick smoke run. Exit 0 when every step ran and was checked (PASS or FAIL
printed for the target); exit 1 when a step could not run or a check failed (then no PASS is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.15
QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]

RECIPE = """nemo 1
param headline = "Second title"
media a = "a.mp4"
media b = "b.mp4"
media music = "music.m4a"
edit cut {{
  video a from 0s to {half}s
  transition crossfade 1s
  video b from 0s to {rest}s
  title "First title" from 5s to 8s
  title $headline from {title_at}s to {title_end}s
  music music volume 35%
}}
export final = cut {{
  size {size}
  save "out/final.mp4"
}}
"""


class Failed(Exception):
    """A step that did not run, or did not do the work it is timed for: no PASS."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ffmpeg_exe() -> str:
    from nemoflow.media.ffmpeg import ffmpeg_exe as exe

    return exe()


def make_inputs(work: Path, width: int, height: int, seconds: float) -> None:
    ff = ffmpeg_exe()
    clip = seconds / 2 + 1.5
    for name, pattern, tone in (("a", "testsrc2", 440), ("b", "testsrc", 660)):
        marker = work / ".inputs"
        if (work / f"{name}.mp4").is_file() and marker.is_file() and marker.read_text() == f"{width}x{height} {seconds}":
            continue  # --keep: made by an earlier run with the same size and length
        log(f"making {name}.mp4 ({width}x{height}, {clip:g} s)")
        subprocess.run([ff, *QUIET, "-f", "lavfi", "-i", f"{pattern}=s={width}x{height}:r=30:d={clip}", "-f", "lavfi", "-i",
                        f"sine=frequency={tone}:sample_rate=48000:duration={clip}", "-c:v", "libx264", "-preset", "ultrafast",
                        "-crf", "23", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(work / f"{name}.mp4")],
                       check=True)
    subprocess.run([ff, *QUIET, "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={seconds + 10}",
                    "-c:a", "aac", str(work / "music.m4a")], check=True)
    (work / ".inputs").write_text(f"{width}x{height} {seconds}")


def run(work: Path, recipe: Path, cache: Path, *args: str) -> tuple[float, str]:
    """One `nemoflow run`, timed; its output must come back newer than the run's start."""
    out = work / "out" / "final.mp4"
    out.unlink(missing_ok=True)
    # two minutes of 4K test pattern is over the default 500 MB limit for one source file
    env = {**os.environ, "NEMOFLOW_CACHE_DIR": str(cache), "PYTHONDONTWRITEBYTECODE": "1", "NEMOFLOW_MAX_MEDIA_SIZE": "8GiB"}
    env.pop("NEMOFLOW_SPLIT", None)
    started = time.time()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nemoflow", "run", str(recipe), "--force", "export.final", *args],
                          cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise Failed(f"nemoflow run {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    if not out.is_file() or out.stat().st_mtime < started:
        raise Failed(f"nemoflow run {' '.join(args)} did not write a new {out}")
    return wall, proc.stdout + proc.stderr  # the run prints its report on stderr


def segments_of(stdout: str) -> tuple[int, int, int] | None:
    """(segments, rendered, reused) from the export's summary, or None when it was not split."""
    flat = " ".join(stdout.split())
    match = re.search(r"split into (\d+) segments: (\d+) rendered, (\d+) reused", flat)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def facts(path: Path) -> tuple[int, float]:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0)), c.duration / 1e6


def pcm(path: Path) -> bytes:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a", "-f", "f32le", "-"],
                          capture_output=True, check=True).stdout


def luma_ssim(a: Path, b: Path) -> list[float]:
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(a), "-i", str(b), "-lavfi", "[0:v][1:v]ssim=stats_file=-",
                           "-f", "null", "-"], capture_output=True, text=True, check=True)
    return [float(line.split("Y:")[1].split()[0]) for line in proc.stdout.splitlines() if "Y:" in line]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="3840x2160")
    ap.add_argument("--seconds", type=float, default=120.0, help="the export's length")
    ap.add_argument("--segment", type=float, default=10.0, help="segment length asked for (NEMOFLOW_SPLIT_SEGMENT)")
    ap.add_argument("--keep", type=Path, help="work here and keep the files")
    ap.add_argument("--json", action="store_true")
    opts = ap.parse_args()
    width, height = (int(x) for x in opts.size.lower().split("x"))
    work = opts.keep or Path(tempfile.mkdtemp(prefix="nemoflow-split-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["NEMOFLOW_SPLIT_SEGMENT"] = str(opts.segment)
    report: dict[str, Any] = {"size": opts.size, "seconds": opts.seconds, "segment": opts.segment, "target": TARGET}
    try:
        make_inputs(work, width, height, opts.seconds)
        half = round(opts.seconds / 2 + 0.5, 3)
        title_at = round(opts.seconds * 0.6 + 2, 3)
        recipe = work / "split.nemo"
        recipe.write_text(RECIPE.format(half=half, rest=round(opts.seconds - half + 1, 3), size=opts.size,
                                        title_at=title_at, title_end=title_at + 3), encoding="utf-8")
        cache, ref_cache = work / "cache", work / "cache-reference"
        for folder in (cache, ref_cache):
            shutil.rmtree(folder, ignore_errors=True)
        log("1. full split render (cold segment cache)")
        full, out1 = run(work, recipe, cache, "--split")
        seg1 = segments_of(out1)
        if seg1 is None or seg1[1] != seg1[0] or seg1[2] != 0:
            raise Failed(f"the full render did not render every segment: {seg1}\n{out1[-2000:]}")
        log(f"   {full:.1f} s, {seg1[0]} segments")
        log("2. the second title changed, re-render (warm segment cache)")
        incr, out2 = run(work, recipe, cache, "--split", "--set", "headline=A changed title")
        seg2 = segments_of(out2)
        if seg2 is None or not (0 < seg2[1] < seg2[0]):
            raise Failed(f"the re-render did not render some but not all segments: {seg2}\n{out2[-2000:]}")
        changed = work / "changed-split.mp4"
        shutil.move(work / "out" / "final.mp4", changed)
        log(f"   {incr:.1f} s, {seg2[1]} of {seg2[0]} segments rendered")
        log("3. reference: the changed recipe rendered in one piece")
        single, out3 = run(work, recipe, ref_cache, "--no-split", "--set", "headline=A changed title")
        if segments_of(out3) is not None or "split into" in out3:
            raise Failed("the reference render was split")
        reference = work / "out" / "final.mp4"
        log(f"   {single:.1f} s")
        log("4. comparing the re-rendered output with the reference")
        (n1, d1), (n2, d2) = facts(changed), facts(reference)
        if n1 != n2 or abs(d1 - d2) > 0.01:
            raise Failed(f"frame count or duration differ: split {n1} frames {d1:.3f} s, reference {n2} frames {d2:.3f} s")
        ssim = luma_ssim(reference, changed)
        if len(ssim) != n1:
            raise Failed(f"SSIM compared {len(ssim)} frames of {n1}")
        same_sound = pcm(changed) == pcm(reference)
        worst = min(ssim)
        report.update({
            "full_split_s": round(full, 2), "incremental_s": round(incr, 2), "single_process_s": round(single, 2),
            "segments": seg1[0], "rerendered_segments": seg2[1], "ratio": round(incr / full, 4),
            "split_over_single": round(full / single, 3), "frames": n1, "min_luma_ssim": round(worst, 5),
            "sound_identical": same_sound,
        })
        if worst < 0.99:
            raise Failed(f"luma SSIM falls to {worst:.4f} (frame {ssim.index(worst)})")
        if not same_sound:
            raise Failed("the sound differs from the single-process render's")
    except (Failed, subprocess.CalledProcessError) as err:
        report["error"] = str(err)
        print(json.dumps(report, indent=2) if opts.json else f"FAILED TO MEASURE: {err}")
        return 1
    finally:
        if opts.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    verdict = "PASS" if report["ratio"] <= TARGET else "FAIL"
    report["verdict"] = verdict
    if opts.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"split export {opts.size}, {opts.seconds:g} s, {report['segments']} segments")
        print(f"  full split render (cold cache)    {report['full_split_s']:8.1f} s")
        print(f"  one title changed, re-render      {report['incremental_s']:8.1f} s  "
              f"({report['rerendered_segments']} segment(s) rendered)")
        print(f"  single-process render (changed)   {report['single_process_s']:8.1f} s  "
              f"(split / single {report['split_over_single']:.2f}, not interleaved)")
        print(f"  re-render / full = {report['ratio']:.3f}  (target <= {TARGET})  {verdict}")
        print(f"  output vs single-process render of the changed recipe: {report['frames']} frames each, "
              f"min luma SSIM {report['min_luma_ssim']:.4f}, sound identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
