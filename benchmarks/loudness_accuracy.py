"""How close `loudness` lands to its target, judged by FFmpeg's own `ebur128` meter (the reference).

For each programme (made here with FFmpeg's generators: a tone, noise, speech-like gated noise, music with drum
hits, a quiet and a loud one, stereo with different channels, and clicks far above the programme) and each
target (-14 LUFS / -1 dBTP for the web, -23 LUFS / -2 dBTP for broadcast), a recipe puts the clip under
`loudness` and renders it with `nemoflow run`; the output is then measured with `ebur128=peak=true`, whose
summary is read here (not through nemoflow's code).

Target: |integrated - target| <= 0.5 LU and true peak <= ceiling + 0.1 dB. Each row says PASS or FAIL against
it; the script exits 1 only if a case could not run (no output, wrong duration), not for a FAIL.

    python benchmarks/loudness_accuracy.py [--seconds 8] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nemoflow.media.ffmpeg import ffmpeg_exe

TOLERANCE_LU = 0.5
PEAK_SLACK_DB = 0.1

# name -> an FFmpeg lavfi audio description (stereo, 48 kHz), {d} the length in seconds
PROGRAMMES = {
    "tone": "sine=f=1000:r=48000:d={d},volume=0.25,aformat=channel_layouts=stereo",
    "pink noise": "anoisesrc=c=pink:a=0.1:r=48000:d={d}:seed=1,aformat=channel_layouts=stereo",
    "speech-like": ("anoisesrc=c=pink:a=0.2:r=48000:d={d}:seed=2,"
                    "volume='0.05+0.95*gt(sin(2*PI*4*t)*sin(2*PI*0.45*t),0.1)':eval=frame,aformat=channel_layouts=stereo"),
    "music+drums": ("aevalsrc='0.08*(sin(2*PI*220*t)+sin(2*PI*277.2*t)+sin(2*PI*329.6*t))"
                    "+0.9*exp(-30*mod(t,0.5))*sin(2*PI*60*mod(t,0.5))':s=48000:d={d},aformat=channel_layouts=stereo"),
    "quiet speech": ("anoisesrc=c=pink:a=0.02:r=48000:d={d}:seed=3,"
                     "volume='0.1+0.9*gt(sin(2*PI*3*t),0)':eval=frame,aformat=channel_layouts=stereo"),
    "loud noise": "anoisesrc=c=white:a=0.9:r=48000:d={d}:seed=4,alimiter=limit=0.95,aformat=channel_layouts=stereo",
    "stereo L tone R noise": ("aevalsrc='0.3*sin(2*PI*440*t)|0':s=48000:d={d}[t];"
                              "anoisesrc=c=pink:a=0.05:r=48000:d={d}:seed=5,pan=stereo|c0=0*c0|c1=c0[n];"
                              "[t][n]amix=inputs=2:normalize=0"),
    "clicks over a tone": ("aevalsrc='0.03*sin(2*PI*220*t)+if(lt(mod(t,1),0.01),0.95,0)':s=48000:d={d},"
                           "aformat=channel_layouts=stereo"),
}
TARGETS = ((-14.0, -1.0), (-23.0, -2.0))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], capture_output=True, text=True, check=False)


def reference(path: Path) -> tuple[float, float]:
    """Integrated loudness and true peak from ebur128's summary (1 decimal, as FFmpeg prints it)."""
    err = run("-nostats", "-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-").stderr
    summary = err[err.rindex("Summary:"):]
    i = float(re.search(r"I:\s+(\S+) LUFS", summary).group(1))
    tp = float(re.search(r"Peak:\s+(\S+) dBFS", summary).group(1))
    return i, tp


def duration(path: Path) -> float:
    err = run("-i", str(path), "-f", "null", "-").stderr
    h, m, s = re.findall(r"time=(\d+):(\d+):([\d.]+)", err)[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


def make_clip(path: Path, audio: str, seconds: float) -> None:
    graph = f"{audio.format(d=seconds)}[a]"
    done = run("-y", "-f", "lavfi", "-i", f"testsrc2=s=320x180:r=30:d={seconds}", "-filter_complex", graph,
               "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "pcm_f32le", "-t", str(seconds),
               str(path))
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-500:])


RECIPE = """nemo 1
media clip = "clip.mov"
edit e {{
  video clip
  loudness {target:g} LUFS peak {peak:g} dBTP
}}
export o = e {{
  size 320x180
  quality draft
  save "out/o.mp4"
}}
"""


def case(work: Path, name: str, audio: str, target: float, peak: float, seconds: float) -> dict:
    work.mkdir(parents=True)
    clip = work / "clip.mov"
    make_clip(clip, audio, seconds)
    before_i, before_tp = reference(clip)
    (work / "r.nemo").write_text(RECIPE.format(target=target, peak=peak), encoding="utf-8")
    start = time.perf_counter()
    env = {**os.environ, "NEMOFLOW_CACHE_DIR": str(work / "cache")}  # a fresh cache: every run measures and fits
    done = subprocess.run(["nemoflow", "run", "r.nemo"], cwd=work, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    out = work / "out/o.mp4"
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"nemoflow run failed ({done.returncode}): {done.stderr[-600:]}")
    got = duration(out)
    if abs(got - seconds) > 0.1:
        raise RuntimeError(f"output lasts {got:.3f}s, not {seconds:g}s")
    i, tp = reference(out)
    plans = sorted((work / "cache").rglob("loudness/*.json"))
    plan = json.loads(plans[-1].read_text()) if plans else {}
    mode = f"{plan.get('mode', '?')}/{plan.get('rounds', '?')}"
    ok = abs(i - target) <= TOLERANCE_LU and tp <= peak + PEAK_SLACK_DB
    return {"name": name, "target": target, "peak": peak, "in_i": before_i, "in_tp": before_tp, "i": i, "tp": tp,
            "error": i - target, "mode": mode, "seconds": took, "ok": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--only", help="run only the programme whose name contains this")
    opts = parser.parse_args()
    rows, broken = [], []
    with tempfile.TemporaryDirectory(prefix="loudness-bench-") as tmp:
        for p, (name, audio) in enumerate(PROGRAMMES.items()):
            if opts.only and opts.only not in name:
                continue
            for t, (target, peak) in enumerate(TARGETS):
                try:
                    rows.append(case(Path(tmp) / f"{p}-{t}", name, audio, target, peak, opts.seconds))
                except (RuntimeError, ValueError, AttributeError) as exc:
                    broken.append(f"{name} @ {target:g} LUFS: {exc}")
    print(f"target: |error| <= {TOLERANCE_LU} LU and true peak <= ceiling + {PEAK_SLACK_DB} dB "
          f"(reference: FFmpeg ebur128, {opts.seconds:g} s programmes)")
    print(f"{'programme':24} {'target':>7} {'ceil':>5} {'in I':>6} {'in TP':>6} {'out I':>6} {'error':>6} {'out TP':>6} "
          f"{'mode/rounds':>11} {'run s':>6}  result")
    for r in rows:
        print(f"{r['name']:24} {r['target']:7.1f} {r['peak']:5.1f} {r['in_i']:6.1f} {r['in_tp']:6.1f} {r['i']:6.1f} "
              f"{r['error']:+6.1f} {r['tp']:6.1f} {r['mode']:>11} {r['seconds']:6.2f}  {'PASS' if r['ok'] else 'FAIL'}")
    passed = sum(r["ok"] for r in rows)
    print(f"{passed}/{len(rows)} PASS; worst |error| {max((abs(r['error']) for r in rows), default=0):.1f} LU; "
          f"worst peak over ceiling {max((r['tp'] - r['peak'] for r in rows), default=0):+.1f} dB")
    for b in broken:
        print(f"COULD NOT RUN: {b}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
