"""Generated media (`pattern`, `tone`, …) written to real files, for engines that need bytes to send.

The local engine renders generators straight into its filter graph; the
cloud needs a file to upload. Files are cached by what they contain (the
generator entry and the FFmpeg build), so a re-run neither encodes nor
uploads them again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .ffmpeg import ProgressCallback, atomic_output, ffmpeg_version, run_ffmpeg
from .graph import input_args


def generated_file(entry: dict[str, Any], cache_dir: Path, *, what: str, on_progress: ProgressCallback | None = None) -> Path:
    """The generator entry as an MP4 (video, with its tone if any) or an M4A (audio only), encoded once."""
    ident = json.dumps([entry["gen"], entry.get("d"), ffmpeg_version()], sort_keys=True)
    name = hashlib.sha256(ident.encode()).hexdigest()[:24]
    video = entry.get("kind") == "video"
    dest = cache_dir / "generated" / f"{name}.{'mp4' if video else 'm4a'}"
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p"] if video else ["-vn"]
    if entry.get("audio"):
        codecs += ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"]
    with atomic_output(dest) as tmp:
        args = [*input_args(entry, 0, entry.get("d")), *codecs, "-movflags", "+faststart",
                "-f", "mp4" if video else "ipod", "-y", str(tmp)]
        run_ffmpeg(args, what=what, on_progress=on_progress)
    return dest
