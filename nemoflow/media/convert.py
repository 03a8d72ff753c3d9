"""An existing file re-encoded to an Output (another container, codec or quality), e.g. a cloud render delivered as MP4."""

from __future__ import annotations

from pathlib import Path

from ..draft.output import Output
from .encode import audio_args, container_args, picture_filters, video_args
from .ffmpeg import ffmpeg_path, run_ffmpeg


def convert(src: Path, dest: Path, out: Output, *, what: str) -> None:
    """Write `src`'s first video (and audio, if the output has sound) to `dest` as `out` asks."""
    picture = picture_filters(out, "0:v:0", "pic")  # a GIF's palette, made from every frame
    video = ["-filter_complex", ";".join(picture), "-map", "[pic]"] if picture else ["-map", "0:v:0"]
    maps = video + (["-map", "0:a:0?"] if out.has_audio else [])
    level = ["-af", f"volume={out.volume / 100:.6g}"] if out.has_audio and abs(out.volume - 100.0) > 1e-9 else []  # master level
    run_ffmpeg(["-i", ffmpeg_path(src), *maps, *video_args(out), *level, *audio_args(out), *container_args(out), "-y",
                ffmpeg_path(dest)], what=what)
