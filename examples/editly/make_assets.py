"""Make the two binary assets the editly ports use, so none is committed: a VP9 clip with an alpha channel
(assets/dancer.webm, for alpha.nemo and visibleFromUntil.nemo) and a PNG with alpha (assets/emoji.png, for
imageOverlay.nemo and position.nemo). Every other asset is a small SVG text file in assets/.

    python3 examples/editly/make_assets.py [DIR]      (DIR: where the recipes are; default: this folder)

Uses the FFmpeg of the imageio-ffmpeg wheel that nemoflow itself runs; takes about a second.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg

HERE = Path(__file__).resolve().parent

# A bright shape that sways left and right on a transparent background: a stand-in for editly's dancer1.webm.
DANCER = ("color=c=black@0.0:s=160x240:r=25:d=3,format=yuva420p,"
          "geq=lum='if(lt(hypot(X-80-30*sin(2*PI*T),Y-90),45)+between(Y,130,230)*lt(abs(X-80-20*sin(2*PI*T)),22),200,0)':"
          "cb=90:cr=200:a='if(lt(hypot(X-80-30*sin(2*PI*T),Y-90),45)+between(Y,130,230)*lt(abs(X-80-20*sin(2*PI*T)),22),255,0)'")
# A red disc with a white ring on a transparent background.
EMOJI = ("color=c=black@0.0:s=96x96,format=rgba,"
         "geq=r=255:g='if(lt(hypot(X-48,Y-48),36),40,255)':b='if(lt(hypot(X-48,Y-48),36),40,255)':"
         "a='if(lt(hypot(X-48,Y-48),44),255,0)'")


def make(folder: Path = HERE) -> None:
    """Write assets/dancer.webm and assets/emoji.png under `folder` (skipped when already there)."""
    assets = folder / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    quiet = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if not (assets / "dancer.webm").exists():
        subprocess.run([*quiet, "-f", "lavfi", "-i", DANCER, "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p",
                        "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8", "-auto-alt-ref", "0",
                        str(assets / "dancer.webm")], check=True)
    if not (assets / "emoji.png").exists():
        subprocess.run([*quiet, "-f", "lavfi", "-i", EMOJI, "-frames:v", "1", str(assets / "emoji.png")], check=True)


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
