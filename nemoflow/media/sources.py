"""How FFmpeg opens one media entry: a file with input seeking, a still looped, or a generator as lavfi.

Shared by everything that feeds media to FFmpeg (an engine's filter graph,
footage analysis, encoding a generated source for upload), so a generator
means the same picture and sound everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..draft.media import MediaEntry, MediaKind
from .escape import lavfi_number
from .ffmpeg import ffmpeg_path
from .rewrap import seekable_path
from .timing import rate_text

PATTERN_SOURCES = {
    "testsrc": "testsrc2=s={s}:r={r}",
    "bars": "smptehdbars=s={s}:r={r}",
    "grid": "color=c=0x1e2430:s={s}:r={r},drawgrid=w=iw/16:h=ih/9:t=2:c=0xffffff@0.6",
    "gradient": "gradients=s={s}:r={r}:speed=0.01",
    "mandelbrot": "mandelbrot=s={s}:r={r}",
    "noise": "color=c=0x808080:s={s}:r={r},noise=alls=60:allf=t+u",
}


def seconds(ms: int | float) -> str:
    """Milliseconds as an FFmpeg time in seconds (`1.5`)."""
    return lavfi_number(ms / 1000)


def generator_source(gen: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """lavfi descriptions (video, audio) for a generated media entry."""
    name = gen["name"]
    video = audio = None
    if name in ("pattern", "color"):
        size = f"{gen['w']}x{gen['h']}"
        rate = rate_text(gen["fps"])  # 29.97 is 30000/1001, the rate the frame grid is computed in
        if name == "color":
            video = f"color=c=0x{gen['color'].lstrip('#')}:s={size}:r={rate}"
        else:
            video = PATTERN_SOURCES[gen.get("kind") or "testsrc"].format(s=size, r=rate)
    if gen.get("tone"):
        audio = f"sine=frequency={lavfi_number(gen['tone'])}:sample_rate=48000"
    elif name == "silence":
        audio = "anullsrc=r=48000:cl=stereo"
    if audio and gen.get("volume") is not None and abs(gen["volume"] - 100) > 1e-6:
        audio += f",volume={lavfi_number(gen['volume'] / 100)}"
    return video, audio


# The decoder for a still's content, by the codec the probe found (its content, whatever the file is named).
_STILL_DECODERS = ("png", "mjpeg", "webp", "gif")


def _still_demuxer(entry: MediaEntry) -> list[str]:
    """Open a still as exactly one file: FFmpeg's image2 would read `logo%d.png` as a numbered sequence (and draw
    `logo0.png` beside it), so pattern matching is off; image2 guesses the decoder from the name, so it is named
    by content. A still of unknown codec (an old Draft) is left to FFmpeg's probing, as before."""
    if entry.codec not in _STILL_DECODERS:
        return []
    return ["-f", "image2", "-pattern_type", "none", "-c:v", str(entry.codec)]


def input_args(entry: MediaEntry, start_ms: float, length_ms: int | None, *, loop: bool = False,
               still_fps: float | None = None) -> list[str]:
    """Arguments that open one media entry at `start_ms` for `length_ms` (input seeking, not a trim filter).

    A still with `still_fps` opens as its one frame, for a graph that loops it; without, as a looped stream."""
    args: list[str] = []
    if entry.gen is not None:
        video, audio = generator_source(entry.gen)
        total = (start_ms + (length_ms or entry.d or 0)) / 1000
        parts = []
        if video:
            parts.append(f"{video},trim=duration={lavfi_number(total)}[out0]")
        if audio:
            parts.append(f"{audio},atrim=duration={lavfi_number(total)}[out{len(parts)}]")
        if start_ms:
            args += ["-ss", seconds(start_ms)]
        if length_ms is not None:
            args += ["-t", seconds(length_ms)]
        return [*args, "-f", "lavfi", "-i", ";".join(parts)]
    if entry.path is None:
        raise ValueError(f"media entry {entry} has neither a file nor a generator")
    if entry.kind == MediaKind.IMAGE:
        if still_fps is not None:
            # one frame, decoded once, at the output's rate (so its stream has that frame rate and time base):
            # the filter graph loops the fitted frame (engines/local/graph.py `still_loop`); `-loop 1` decoded
            # the file again for every output frame (10x the time for a 4K PNG)
            return [*_still_demuxer(entry), "-framerate", rate_text(still_fps), "-i", ffmpeg_path(entry.path)]
        # a still as a stream of `length_ms` (footage analysis measures a window of it)
        return [*_still_demuxer(entry), "-loop", "1", "-framerate", "30", "-t", seconds(length_ms or 0),
                "-i", ffmpeg_path(entry.path)]
    if loop:
        args += ["-stream_loop", "-1"]
    if start_ms:
        args += ["-ss", seconds(start_ms)]
    if length_ms is not None:
        args += ["-t", seconds(length_ms)]
    # a transport stream has no index to seek by: read its indexed copy (media/rewrap.py) when seeking
    path = seekable_path(entry.path) if start_ms else entry.path
    return [*args, "-i", ffmpeg_path(path)]
