"""Generate real media files for tests with the same FFmpeg nemoflow uses.

Small sizes keep the suite fast; every generator takes the properties the
engine must cope with (rotation, 10-bit, no audio, odd sizes, VFR, GOP length).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from nemoflow.engines.local.ffmpeg import ffmpeg_exe


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
