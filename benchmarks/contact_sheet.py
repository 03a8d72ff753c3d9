"""Contact sheets of what issue 17 added, rendered by nemoflow itself from generated sources:

  docs/transitions-sheet.png  every transition name but `cut`, at the middle of a 1 s transition between two different
                              sources (a test pattern giving way to a radial gradient, or back)
  docs/layers-sheet.png       overlays at the four corners, a pip with a border, opacity, an overlay's motion at its
                              start and end, Ken Burns at its start and end, linear and radial gradients, text styles

Each sheet is one small recipe (written to a temp dir, run with `nemoflow run`), its frames taken at known times
with FFmpeg, labelled with drawtext in the bundled DejaVu Sans and laid out with xstack. No new dependency.

    python benchmarks/contact_sheet.py [--out docs] [--keep DIR]

Exit 1 when a render fails (its stderr is shown).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parent.parent
FONT = ROOT / "nemoflow" / "fonts" / "DejaVuSans.ttf"
ASSETS = ROOT / "examples" / "editly" / "assets"
LABEL_H = 18  # the strip under each frame that holds its label

sys.path.insert(0, str(ROOT))
from nemoflow.core.signatures import TRANSITIONS  # noqa: E402  (the repo's own table, not an installed copy)


def transitions_recipe(w: int, h: int) -> tuple[str, list[tuple[float, str]]]:
    """One edit: 2 s clips alternating between two sources, each pair joined by the next transition (1 s).

    Clip k starts at k s and transition k runs from k+1 s to k+2 s, so its middle is at k+1.5 s.
    """
    lines = ["nemo 1",
             f"media bars = pattern testsrc duration 3s size {w}x{h} fps 25",
             f"media glow = gradient radial #ffd200 #f7971e #7a2e00 duration 3s size {w}x{h}",
             "edit every {", "  video bars for 2s"]
    cells = []
    for k, name in enumerate(t for t in TRANSITIONS if t != "cut"):  # a cut has no middle to show
        lines += [f"  transition {name} 1s", f"  video {'glow' if k % 2 == 0 else 'bars'} for 2s"]
        cells.append((k + 1.5, name))
    lines += ["}", "export sheet = every {", f"  size {w}x{h}", "  fps 25", '  save "out/transitions.mp4"', "}", ""]
    return "\n".join(lines), cells


def layers_recipe(w: int, h: int) -> tuple[str, list[tuple[float, str]]]:
    """One edit of 2 s stills, each showing one layer, motion or text feature; the frames to take and their labels."""
    recipe = f"""nemo 1
media photo = "{ASSETS / 'photo.svg'}"
media logo = "{ASSETS / 'logo.svg'}"
media smile = "{ASSETS / 'emoji.svg'}"
media cam = pattern testsrc duration 3s size 640x360 fps 25
media linear = gradient linear #1e3c72 #2a5298 #f5af19 angle 135 duration 2s size {w}x{h}
media radial = gradient radial #ffffff #ff8800 #000000 duration 2s size {w}x{h}
edit layers {{
  image photo for 2s fit crop
  overlay logo at top-left width 18% from 0s to 2s
  overlay logo at top-right width 18% from 0s to 2s
  overlay logo at bottom-left width 18% from 0s to 2s
  overlay logo at bottom-right width 18% from 0s to 2s
  image photo for 2s fit crop
  pip cam at bottom-right width 40% border 4px #ffffff from 2s to 4s
  image photo for 2s fit crop
  overlay cam at center width 60% opacity 50% from 4s to 6s
  image photo for 2s fit crop
  overlay smile at top-left width 12% move bottom-right scale 30% ease in-out from 6s to 8s
  image photo for 2s fit crop
  kenburns from 100% to 150% pan right
  video linear
  video radial
  image photo for 2s fit crop
  text "style box" style box size 20px from 14s to 16s
  image photo for 2s fit crop
  text "style bar: a long subtitle that wraps by itself at 70% of the frame" style bar wrap 70% size 16px from 16s to 18s
  image photo for 2s fit crop
  text "BREAKING\\nstyle news, headline and a smaller line" style news size 20px from 18s to 20s
  image photo for 2s fit crop
  text "animate slide-up\\nline by line" animate slide-up stagger 300ms size 20px from 20s to 22s
  image photo for 2s fit crop
  text "x 8% y 12%, align left" x 8% y 12% align left color #ffcc00 size 20px from 22s to 24s
}}
export sheet = layers {{
  size {w}x{h}
  fps 25
  save "out/layers.mp4"
}}
"""
    cells = [(1.0, "overlay at the four corners"), (3.0, "pip, border 4px #fff"), (5.0, "overlay, opacity 50%"),
             (6.0, "motion start (top-left 12%)"), (7.96, "motion end (bottom-right 30%)"),
             (8.0, "kenburns start (100%)"), (9.96, "kenburns end (150%, pan right)"),
             (11.0, "gradient linear, 135 deg"), (13.0, "gradient radial"), (15.0, "text style box"),
             (17.0, "text style bar, wrap 70%"), (19.0, "text style news"), (20.5, "text animate slide-up (mid)"),
             (23.0, "text x 8% y 12%, align left")]
    return recipe, cells


def render(work: Path, name: str, recipe: str) -> Path:
    path = work / f"{name}.nemo"
    path.write_text(recipe, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "nemoflow.cli", "run", str(path), "--force", "export.*"], cwd=work,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"contact sheet: `nemoflow run {path.name}` exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return work / "out" / f"{name}.mp4"


def drawtext_text(label: str) -> str:
    """A label as a drawtext `text=` value inside a filtergraph (its special characters escaped)."""
    return label.replace("\\", "\\\\").replace("'", "\u2019").replace(":", "\\:").replace(",", "\\,")


def sheet(video: Path, cells: list[tuple[float, str]], w: int, h: int, columns: int, out: Path, work: Path) -> None:
    """Take each cell's frame, put its label on a strip under it, and lay the cells out in a grid."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    quiet = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    frames = []
    for i, (t, label) in enumerate(cells):
        png = work / f"cell-{video.stem}-{i:03d}.png"
        label_filter = (f"pad={w}:{h + LABEL_H}:0:0:color=0x202020,"
                        f"drawtext=fontfile={FONT}:expansion=none:text={drawtext_text(label)}:fontsize={LABEL_H - 5}:fontcolor=white:"
                        f"x=4:y={h + 3}")
        subprocess.run([*quiet, "-ss", f"{t:.3f}", "-i", str(video), "-frames:v", "1", "-vf", label_filter, str(png)],
                       check=True)
        frames.append(png)
    rows = -(-len(frames) // columns)
    inputs = [a for png in frames for a in ("-i", str(png))]
    ch = h + LABEL_H
    layout = "|".join(f"{(i % columns) * w}_{(i // columns) * ch}" for i in range(len(frames)))
    graph = (f"{''.join(f'[{i}:v]' for i in range(len(frames)))}xstack=inputs={len(frames)}:layout={layout}:fill=0x000000,"
             f"crop={columns * w}:{rows * ch}:0:0[v]") if len(frames) > 1 else "[0:v]null[v]"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*quiet, *inputs, "-filter_complex", graph, "-map", "[v]", "-frames:v", "1", str(out)], check=True)
    print(f"wrote {out} ({len(frames)} cells, {columns} columns)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (default: docs/)")
    parser.add_argument("--keep", type=Path, help="work dir to keep (default: a temp dir, removed)")
    args = parser.parse_args()
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="nemoflow-sheet-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        tw, th = 192, 108
        recipe, cells = transitions_recipe(tw, th)
        sheet(render(work, "transitions", recipe), cells, tw, th, 6, args.out / "transitions-sheet.png", work)
        lw, lh = 320, 180
        recipe, cells = layers_recipe(lw, lh)
        sheet(render(work, "layers", recipe), cells, lw, lh, 4, args.out / "layers-sheet.png", work)
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
