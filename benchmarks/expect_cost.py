"""What each `expect` check costs on a 10 s 3840x2160 output, side by side with rendering it.

Renders the file once with `nemoflow run` (a fresh state directory, so it
really renders; the script checks the export ran, not came from a cache),
then times each kind of check alone on it, in process (`run/expect.py`
`evaluate`), best of N. A timing counts only if its check really ran: every
check must pass on the good 4K render and fail on a deliberately bad small
file (a black gap, a frozen span, silence, an audio offset, mono sound, two
audio tracks, a different golden picture); otherwise the script fails loudly.

    python benchmarks/expect_cost.py [--seconds 10] [--size 3840x2160] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nemoflow.lang.check import check_file
from nemoflow.media.ffmpeg import ffmpeg_exe
from nemoflow.run.expect import ExpectOptions, evaluate

CHECKS = [  # (label, expect line, the bad file that must fail it)
    ("duration ~= (probe only)", "duration ~= {secs}s", "short"),
    ("frame looks like, ssim", 'frame at 5s looks like "golden/5s.png" ssim >= 0.97', "other"),
    ("frame looks like, psnr", 'frame at 5s looks like "golden/5s.png" psnr >= 35', "other"),
    ("no black frames", "no black frames", "black"),
    ("no frozen frames", "no frozen frames", "frozen"),
    ("no silence longer than 2s", "no silence longer than 2s", "silent"),
    ("black + frozen + silence (one pass)", "no black frames\n  no frozen frames\n  no silence longer than 2s", "black"),
    ("av sync within 20ms", "av sync within 20ms", "offset"),
    ("audio channels == 2", "audio channels == 2", "mono"),
    ("tracks == 1 video + 1 audio", "tracks == 1 video + 1 audio", "two_audio"),
]


def ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def bad_files(folder: Path, good_small: Path) -> dict[str, Path]:
    """Small files each wrong in one way (the point is that a check fails on them, not their size)."""
    src = ["-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=6", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6"]
    enc = ["-map", "0:v", "-map", "1:a", "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    out = {}
    for name, extra in (("black", ["-vf", "drawbox=c=black:t=fill:enable='between(t,2,2.5)'"]),
                        ("frozen", ["-vf", "split[a][b];[a][b]freezeframes=first=60:last=120:replace=60"]),
                        ("silent", ["-af", "volume=enable='between(t,1,4)':volume=0"]),
                        ("other", ["-vf", "hue=h=90"]),
                        ("short", ["-t", "1"])):
        out[name] = folder / f"{name}.mp4"
        ff(*src, *extra, *enc, str(out[name]))
    out["mono"] = folder / "mono.mp4"
    ff("-i", str(good_small), "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-ac", "1", "-c:a", "aac", str(out["mono"]))
    out["two_audio"] = folder / "two_audio.mp4"
    ff("-i", str(good_small), "-map", "0:v", "-map", "0:a", "-map", "0:a", "-c", "copy", str(out["two_audio"]))
    out["offset"] = folder / "offset.mp4"
    ff("-i", str(good_small), "-itsoffset", "0.1", "-i", str(good_small), "-map", "0:v", "-map", "1:a", "-c", "copy", str(out["offset"]))
    return out


def checks_for(folder: Path, name: str, line: str, size: str):
    recipe = folder / f"{name}.nemo"
    recipe.write_text('nemo 1\nmedia m = pattern duration 2s\nedit e {\n  video m\n}\nexport final = e {\n  save "out/x.mp4"\n}\n'
                      f"expect final {{\n  {line}\n}}\n", encoding="utf-8")
    return check_file(recipe).steps["expect.final"].spec.checks


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="3840x2160")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nemoflow-expect-cost-") as tmp:
        folder = Path(tmp)
        recipe = folder / "render.nemo"
        recipe.write_text(f"nemo 1\nmedia bars = pattern testsrc duration {args.seconds:g}s size {args.size} tone 440hz\n"
                          f"edit cut {{\n  video bars\n}}\nexport final = cut {{\n  size {args.size}\n  save \"out/final.mp4\"\n}}\n",
                          encoding="utf-8")
        start = time.perf_counter()
        done = subprocess.run(["nemoflow", "run", str(recipe), "--json", "--state-dir", str(folder / "state")],
                              capture_output=True, text=True, check=False)
        render = time.perf_counter() - start
        events = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
        rendered = [e for e in events if e.get("event") == "step-finished" and e.get("step") == "export.final" and e.get("status") == "ok"]
        if done.returncode != 0 or not rendered:
            print(f"FAIL: the render did not run (exit {done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        output = folder / "out" / "final.mp4"
        good_small = folder / "good_small.mp4"
        ff("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=6", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6",
           "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(good_small))
        bad = bad_files(folder, good_small)
        write = ExpectOptions(update_golden=True)
        evaluate(output, checks_for(folder, "golden", CHECKS[1][1], args.size), options=write)  # the 4K golden
        rows = []
        for label, line, bad_name in CHECKS:
            found = checks_for(folder, f"c{len(rows)}", line.format(secs=f"{args.seconds:g}"), args.size)
            best = float("inf")
            results = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                results = evaluate(output, found, options=ExpectOptions())
                best = min(best, time.perf_counter() - t0)
            ran = len(results) == len(found) and all(r.actual for r in results)
            passed = ran and all(r.ok for r in results)
            if bad_name == "other":  # a small golden against a small other picture: a frame that differs must fail
                small = checks_for(folder, f"s{len(rows)}", line.replace("golden/5s.png", "golden/small.png"), "320x180")
                evaluate(good_small, small, options=write)
                bad_results = evaluate(bad[bad_name], small, options=ExpectOptions())
            else:
                bad_results = evaluate(bad[bad_name], found, options=ExpectOptions())
            caught = any(not r.ok for r in bad_results)
            verdict = "PASS" if passed and caught else "FAIL"
            if verdict == "FAIL":
                failures.append(f"{label}: good={[(r.ok, r.actual) for r in results]} bad={[(r.ok, r.actual) for r in bad_results]}")
            rows.append((label, best, best / render, results[0].actual if results else "", caught, verdict))
    print(f"render of a {args.seconds:g} s {args.size} output with `nemoflow run`: {render:.2f} s")
    print(f"{'check':38} {'seconds':>8} {'x render':>9}  {'bad file fails':14} verdict  actual on the good render")
    for label, secs, ratio, actual, caught, verdict in rows:
        print(f"{label:38} {secs:8.2f} {ratio:9.3f}  {caught!s:14} {verdict:7}  {actual[:70]}")
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
