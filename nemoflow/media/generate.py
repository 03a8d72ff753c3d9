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

from ..draft.media import MediaEntry, MediaKind
from .ffmpeg import ProgressCallback, atomic_output, ffmpeg_version, run_ffmpeg
from .sources import input_args


def generated_file(entry: MediaEntry, cache_dir: Path, *, what: str, on_progress: ProgressCallback | None = None) -> Path:
    """The generator entry as an MP4 (video, with its tone if any) or an M4A (audio only), encoded once."""
    if entry.gen is None:
        raise ValueError(f"{what}: not a generated source")
    ident = json.dumps([dict(entry.gen), entry.d, ffmpeg_version()], sort_keys=True)
    name = hashlib.sha256(ident.encode()).hexdigest()[:24]
    video = entry.kind == MediaKind.VIDEO
    dest = cache_dir / "generated" / f"{name}.{'mp4' if video else 'm4a'}"
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p"] if video else ["-vn"]
    if entry.audio:
        codecs += ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"]
    with atomic_output(dest) as tmp:
        args = [*input_args(entry, 0, entry.d), *codecs, "-movflags", "+faststart",
                "-f", "mp4" if video else "ipod", "-y", str(tmp)]
        run_ffmpeg(args, what=what, on_progress=on_progress)
    return dest
