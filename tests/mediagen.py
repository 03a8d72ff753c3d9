"""Generate real media files for tests with the same FFmpeg nemoflow uses.

Small sizes keep the suite fast; every generator takes the properties the
engine must cope with (rotation, 10-bit, no audio, odd sizes, VFR, GOP length).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from nemoflow.media.ffmpeg import ffmpeg_exe


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def make_video(path: Path, *, size: tuple[int, int] = (320, 180), fps: float = 30, duration: float = 2.0,
               audio: bool = True, tone: int = 440, codec: str = "libx264", pix_fmt: str = "yuv420p",
               gop: int | None = None, pattern: str = "testsrc2", color: str | None = None,
               rotate: int | None = None, vfr: bool = False, audio_codec: str = "aac") -> Path:
    """A test clip. `color` gives a flat frame instead of a pattern; `rotate` sets display rotation metadata."""
    w, h = size
    src = f"color=c={color}:s={w}x{h}:r={fps}:d={duration}" if color else f"{pattern}=s={w}x{h}:r={fps}:d={duration}"
    args = ["-f", "lavfi", "-i", src]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={duration}"]
    vf = []
    if vfr:
        # Drop every third frame and keep timestamps: a genuinely variable frame rate.
        vf.append("select='not(eq(mod(n\\,3)\\,2))'")
    if vf:
        args += ["-vf", ",".join(vf)]
    args += ["-c:v", codec, "-pix_fmt", pix_fmt]
    if codec == "libx264":
        args += ["-preset", "ultrafast"]
    if vfr:
        args += ["-fps_mode", "vfr"]
    if gop:
        args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    if audio:
        args += ["-c:a", audio_codec, "-b:a", "96k"]
    path.parent.mkdir(parents=True, exist_ok=True)
    if rotate is None:
        ffmpeg(*args, "-shortest", str(path))
    else:
        raw = path.with_name(path.stem + ".unrotated" + path.suffix)
        ffmpeg(*args, "-shortest", str(raw))
        ffmpeg("-display_rotation:v:0", str(rotate), "-i", str(raw), "-c", "copy", str(path))
        raw.unlink()
    return path


def make_image(path: Path, *, size: tuple[int, int] = (320, 180), color: str | None = None) -> Path:
    """A still: a pattern frame, or a flat color."""
    w, h = size
    src = f"color=c={color}:s={w}x{h}" if color else f"testsrc2=s={w}x{h}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", src, "-frames:v", "1", "-update", "1", str(path))
    return path


def make_audio(path: Path, *, duration: float = 3.0, tone: int = 220, codec: str | None = None) -> Path:
    """A sine tone; the container follows the suffix (.wav, .mp3, .m4a, .aac)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={duration}"]
    if codec:
        args += ["-c:a", codec]
    ffmpeg(*args, str(path))
    return path


def make_shaky(path: Path, *, shaky: tuple[float, float] = (2.0, 4.0), duration: float = 6.0, size: tuple[int, int] = (640, 360),
               audio: bool = True) -> Path:
    """A clip that is steady, then shakes hard during `shaky` (a crop window jumping by up to ~5% of the width), then steady."""
    w, h = size
    a, b = shaky
    amp = round(w * 0.05)
    on = f"gte(t\\,{a})*lt(t\\,{b})"
    src = (f"testsrc2=s={w + 2 * amp + 16}x{h + 2 * amp + 16}:r=30:d={duration},"
           f"crop={w}:{h}:x='{amp}+{on}*{amp}*sin(n*12.9898)':y='{amp}+{on}*{amp}*cos(n*78.233)'")
    args = ["-f", "lavfi", "-i", src]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}", "-c:a", "aac", "-b:a", "96k"]
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg(*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-shortest", str(path))
    return path


def make_black_ends(path: Path, *, head: float = 1.0, body: float = 3.0, tail: float = 1.0, size: tuple[int, int] = (320, 180)) -> Path:
    """Black for `head` seconds, a pattern for `body`, black for `tail`: a camera left running before and after the shot."""
    w, h = size
    total = head + body + tail
    src = (f"testsrc2=s={w}x{h}:r=30:d={total},"
           f"drawbox=c=black:t=fill:enable='lt(t\\,{head})+gte(t\\,{head + body})'")
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", src, "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={total}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest", str(path))
    return path


def make_dull(path: Path, *, duration: float = 2.0, size: tuple[int, int] = (320, 180)) -> Path:
    """A flat, washed-out clip: a pattern at half contrast and 40% saturation, as from a log profile or a hazy day."""
    w, h = size
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={w}x{h}:r=30:d={duration},eq=contrast=0.5:saturation=0.4",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest", str(path))
    return path
