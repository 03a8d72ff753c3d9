"""How fast `ask` analyses footage: 60 s of 4K H.264, against realtime and against a plain decode, cold and cached.

The issue's figure: analysing 60 s of 4K takes at most 0.5× realtime, and a
re-run is served from the cache. The footage is generated once (testsrc2 at
3840x2160, 30 fps, a shaky stretch in the middle, x264 veryfast with B-frames
and CABAC like camera files, AAC) and kept in --work. Each round, interleaved
so the machine's noise hits both alike, times:

- the floor: `ffmpeg -i FILE -f null -`, every frame decoded and nothing else;
- the analysis, cold: `nemoflow draft --step ask.fixed` on a recipe asking
  "trim the shaky clips, color grade, remove silence" with an empty cache:
  Python start-up, checking, probing, the one FFmpeg analysis pass, the cuts;
- the same command again, with the analysis cache warm (a new process);

and reports the medians as ratios: cold analysis ÷ 60 s (target ≤ 0.5),
cold ÷ plain decode, and warm ÷ cold. `--json` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from table import print_table

from nemoflow.media.ffmpeg import ffmpeg_exe

SECONDS = 60
RECIPE = """nemo 1

media walk = "walk4k.mp4"
ask fixed = walk "trim the shaky clips, color grade, remove silence"

export out = fixed {
  save "out/walk.mp4"
}
"""


def footage(work: Path) -> Path:
    """60 s of 4K, shaky from 25 s to 35 s, made once and reused."""
    path = work / "walk4k.mp4"
    if path.exists():
        return path
    work.mkdir(parents=True, exist_ok=True)
    on = "gte(t\\,25)*lt(t\\,35)"
    src = (f"testsrc2=s=4000x2320:r=30:d={SECONDS},"
           f"crop=3840:2160:x='80+{on}*70*sin(n*12.9898)':y='80+{on}*70*cos(n*78.233)'")
    tmp = path.with_suffix(".partial.mp4")
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src, "-f", "lavfi", "-i",
                    f"sine=frequency=440:sample_rate=48000:duration={SECONDS}", "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", str(tmp)], check=True)
    tmp.replace(path)
    return path


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} … failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / ".work" / "ask")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    work: Path = args.work
    clip = footage(work)
    recipe = work / "r.nemo"
    recipe.write_text(RECIPE, encoding="utf-8")
    cache = work / "cache"
    env = {**os.environ, "NEMOFLOW_CACHE_DIR": str(cache)}
    draft = [sys.executable, "-m", "nemoflow", "draft", str(recipe), "--step", "ask.fixed"]
    decode = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(clip), "-f", "null", "-"]

    plain, cold, warm = [], [], []
    for _ in range(args.rounds):
        plain.append(timed(decode))
        shutil.rmtree(cache, ignore_errors=True)
        cold.append(timed(draft, env))
        warm.append(timed(draft, env))
    out = json.loads(subprocess.run(draft, env=env, capture_output=True, text=True, check=True).stdout)
    segs = next(t for t in out["ask.fixed"]["draft"]["t"] if t["tt"] == 0)["sg"]
    kept = [(s["m"]["in"] / 1000, (s["m"]["in"] + s["d"]) / 1000) for s in segs]

    p, c, w = statistics.median(plain), statistics.median(cold), statistics.median(warm)
    result = {"footage_seconds": SECONDS, "rounds": args.rounds, "plain_decode_s": round(p, 2), "analysis_cold_s": round(c, 2),
              "analysis_warm_s": round(w, 2), "cold_vs_realtime": round(c / SECONDS, 3), "cold_vs_decode": round(c / p, 3),
              "warm_vs_cold": round(w / c, 3), "kept_source_spans": kept,
              "cold_rounds": [round(x, 2) for x in cold], "plain_rounds": [round(x, 2) for x in plain]}
    if args.json:
        print(json.dumps(result))
        return 0
    print_table(f"ask analysis of {SECONDS} s of 3840x2160 H.264 ({args.rounds} interleaved rounds, medians)",
                ["measure", "seconds", "ratio", "target", "verdict"],
                [["plain FFmpeg decode (the floor)", f"{p:.2f}", f"{p / SECONDS:.3f}× realtime", "", ""],
                 ["nemoflow ask analysis, cold", f"{c:.2f}", f"{c / SECONDS:.3f}× realtime", "≤ 0.5×",
                  "PASS" if c / SECONDS <= 0.5 else "FAIL"],
                 ["  … vs the plain decode", "", f"{c / p:.2f}×", "", ""],
                 ["re-run, analysis cached", f"{w:.2f}", f"{w / c:.3f}× cold", "cached", "PASS" if w < 0.25 * c else "FAIL"]],
                right=("seconds", "ratio"))
    print(f"kept source spans: {', '.join(f'{a:.2f}–{b:.2f}s' for a, b in kept)} (truth: the shake is 25–35 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
