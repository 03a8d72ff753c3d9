"""What a logo overlay on part of the timeline costs: a 10 s 4K export with and without it, side by side.

Issue 17's target: an overlay on part of the timeline must not cost an RGB round trip for the whole export, so

  standard edit + `overlay logo at top-right width 12% from 0s to 5s`  /  the same edit without it   <= 1.15

The standard edit is benchmarks/render.py's (a 10 s cut of generated 4K footage, graded, titled, with music),
and so are its inputs and its honesty rules, reused from that file: the two cases alternate round by round
(A B A B …), every timed `nemoflow run` is given `--force 'export.*'` and a fresh cache dir, its output is deleted
before and must come back newer, and its own journal must show its export step rendered (not cached, not restored).
The logo is a small PNG with alpha made here by FFmpeg. After timing, the outputs are decoded: the logo's colour
must be at the top-right at 2 s and gone at 7 s in the overlay case, and absent from the plain case (so a run that
dropped the overlay cannot pass). Reported: each case's median wall and CPU seconds, the ratio of the medians
(the figure judged) and the median of the per-round ratios.

    python benchmarks/overlay_cost.py [--repeats 3] [--size 3840x2160] [--keep DIR] [--json]

Exit 0 when both cases ran and were checked, whether or not the target was met (PASS/FAIL is printed); exit 1
when a case could not run or an output check failed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import render
from render import STANDARD_RECIPE, Case, log, make_inputs, preflight, run_case, run_quiet

TARGET = 1.15
LOGO_RGB = (255, 0, 200)  # a colour nothing in testsrc2, the grade or the title makes
OVERLAY_LINE = "  overlay logo at top-right width 12% from 0s to 5s\n"


def recipes(work: Path, size: str) -> tuple[Path, Path]:
    """The standard edit as render.py writes it, and the same with a `logo` media and the overlay line."""
    plain = STANDARD_RECIPE.format(size=size).replace("out/nemoflow.mp4", "out/plain.mp4")
    with_logo = plain.replace('media lofi = "music.m4a"\n', 'media lofi = "music.m4a"\nmedia logo = "logo.png"\n')
    with_logo = with_logo.replace("  music lofi volume 35%\n", "  music lofi volume 35%\n" + OVERLAY_LINE)
    with_logo = with_logo.replace("out/plain.mp4", "out/overlay.mp4")
    assert OVERLAY_LINE in with_logo and "logo.png" in with_logo, "render.STANDARD_RECIPE changed shape"
    paths = (work / "plain.nemo", work / "overlay.nemo")
    paths[0].write_text(plain)
    paths[1].write_text(with_logo)
    return paths


def make_logo(work: Path, ffmpeg: str) -> None:
    """A 480x240 PNG with alpha: a rounded badge in LOGO_RGB, transparent around it."""
    r, g, b = LOGO_RGB
    inside = "lt(hypot(max(abs(X-240)-120,0),max(abs(Y-120)-20,0)),90)"
    graph = f"color=c=black@0:s=480x240,format=rgba,geq=r={r}:g={g}:b={b}:a='if({inside},255,0)'"
    proc = run_quiet([ffmpeg, *render.QUIET, "-f", "lavfi", "-i", graph, "-frames:v", "1", str(work / "logo.png")])
    if proc.returncode != 0:
        raise render.SetupError(f"could not make logo.png:\n{render.tail(proc.stderr)}")


def top_right(path: Path, t: float) -> Any:
    """The top-right third (a third of the width and of the height) of the frame shown at `t`, as RGB."""
    import av
    import numpy as np

    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            if frame.time is not None and frame.time + 1e-6 >= t:
                rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
                h, w = rgb.shape[:2]
                return rgb[: h // 3, w * 2 // 3:]
    raise AssertionError(f"{path.name} has no frame at {t} s")


def logo_coloured(corner: Any) -> int:
    import numpy as np

    return int((np.abs(corner - np.array(LOGO_RGB)).max(axis=2) < 40).sum())


def output_checks(plain: Case, overlay: Case, width: int, height: int) -> dict[str, dict[str, Any]]:
    """Each output is the 10 s WxH H.264 file with sound the standard edit makes, and only the overlay case has the logo."""
    checks: dict[str, dict[str, Any]] = {}
    for case in (plain, overlay):
        if case.status != "ok":
            checks[f"{case.name}_output"] = render.check(False, f"{case.name} did not run ({case.why})")
            continue
        info = render.scan(case.output)
        checks[f"{case.name}_output"] = render.output_check(info, width, height)
    if plain.status == overlay.status == "ok":
        extra = logo_coloured(top_right(overlay.output, 2.0)) - logo_coloured(top_right(plain.output, 2.0))
        after = render.mad(top_right(overlay.output, 7.0), top_right(plain.output, 7.0))
        checks["logo_drawn"] = render.check(extra > 1000 and after < 2,
                                            f"top-right third: {extra} more logo-coloured pixels than the plain export at 2 s; "
                                            f"mean |Δ| {after:.2f} from it at 7 s (want > 1000, and < 2: the logo gone after 5 s)")
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of alternated runs; default 3")
    parser.add_argument("--size", default="3840x2160", help="WxH of the source and the export; default 3840x2160")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="work dir to use and keep (default: a temp dir, removed)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    args = parser.parse_args()
    match = re.fullmatch(r"(\d+)x(\d+)", args.size)
    if not match or int(match[1]) % 2 or int(match[2]) % 2:
        parser.error(f"--size takes WxH with even W and H, got {args.size!r}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    width, height = int(match[1]), int(match[2])

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="nemoflow-overlay-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for sub in ("out", "logs", "cache"):
            (work / sub).mkdir(exist_ok=True)
        try:
            make_inputs(work, ffmpeg, width, height)
            make_logo(work, ffmpeg)
        except render.SetupError as exc:
            log(f"overlay benchmark: {exc}")
            return 1
        plain_recipe, overlay_recipe = recipes(work, args.size)

        def nemoflow(recipe: Path) -> list[str]:
            return [sys.executable, "-m", "nemoflow.cli", "run", str(recipe), "--force", "export.*",
                    "--state-dir", str(work / render.STATE)]

        plain = Case("plain", "standard edit", nemoflow(plain_recipe), work / "out" / "plain.mp4", python=True,
                     recipe=plain_recipe, proof="journal", method="render")
        overlay = Case("overlay", "standard edit + logo overlay 0-5 s", nemoflow(overlay_recipe),
                       work / "out" / "overlay.mp4", python=True, recipe=overlay_recipe, proof="journal", method="render")
        for case in (plain, overlay):
            preflight(case, work)
            if case.status == "failed":
                log(f"{case.name}: FAILED ({case.why}):\n{case.error}")
        counter = 0
        for round_no in range(args.repeats):
            log(f"round {round_no + 1}/{args.repeats}")
            order = (plain, overlay) if round_no % 2 == 0 else (overlay, plain)  # neither always goes first
            for case in order:
                if case.status == "ok":
                    counter += 1
                    run_case(case, work, counter)
        checks = output_checks(plain, overlay, width, height)
        ran = plain.status == overlay.status == "ok" and len(plain.runs) == len(overlay.runs) == args.repeats
        of_medians = overlay.median / plain.median if ran and plain.median else None
        pairs = [o / p for o, p in zip(overlay.runs, plain.runs, strict=True)] if ran else []
        cpu_of_medians = overlay.cpu_median / plain.cpu_median if ran and plain.cpu_median else None
        passed = of_medians is not None and of_medians <= TARGET and all(c["ok"] for c in checks.values())
        report = {
            "size": args.size, "repeats": args.repeats, "target": f"overlay / plain <= {TARGET}",
            "cases": {c.name: c.to_json() for c in (plain, overlay)},
            "ratio_of_medians": None if of_medians is None else round(of_medians, 3),
            "median_of_round_ratios": round(statistics.median(pairs), 3) if pairs else None,
            "round_ratios": [round(x, 3) for x in pairs],
            "cpu_ratio_of_medians": None if cpu_of_medians is None else round(cpu_of_medians, 3),
            "checks": checks, "result": "PASS" if passed else "FAIL",
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"overlay cost, {args.size}, 10 s export, {args.repeats} alternated round(s):")
            for case in (plain, overlay):
                if case.status == "ok":
                    print(f"  {case.label:<38} median {case.median:7.2f} s wall, {case.cpu_median:7.2f} s CPU  "
                          f"runs {', '.join(f'{r:.2f}' for r in case.runs)}")
                else:
                    print(f"  {case.label:<38} FAILED ({case.why})\n{case.error}")
            if of_medians is not None:
                print(f"  ratio of medians (overlay / plain): {of_medians:.3f}   (median of round ratios "
                      f"{statistics.median(pairs):.3f}, range {min(pairs):.3f}-{max(pairs):.3f}; CPU {cpu_of_medians:.3f})")
            print("checks:")
            for name, result in checks.items():
                print(f"  {'ok  ' if result['ok'] else 'FAIL'}  {name}: {result['detail']}")
            print(f"target: overlay / plain <= {TARGET}  ->  {report['result']}")
        return 0 if ran and all(c["ok"] for c in checks.values()) else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
