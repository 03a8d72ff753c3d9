"""How FFmpeg opens one media entry: a file with input seeking, a still looped, or a generator as lavfi.

Shared by everything that feeds media to FFmpeg (an engine's filter graph,
footage analysis, encoding a generated source for upload), so a generator
means the same picture and sound everywhere.
"""

from __future__ import annotations

import math
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
    # every colour, the line and the seed fixed: FFmpeg's defaults are random, a new picture on every run under one
    # cache key (issue 17); it still turns slowly, as a test pattern should move
    "gradient": "gradients=s={s}:r={r}:speed=0.01:n=3:c0=0x1e3c72:c1=0xe0604a:c2=0xf6d365:x0=0:y0=0:x1={w1}:y1={h1}:seed=1",
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
            video = PATTERN_SOURCES[gen.get("kind") or "testsrc"].format(s=size, r=rate, w1=gen["w"] - 1, h1=gen["h"] - 1)
    elif name == "gradient":
        video = gradient_source(gen)
    if gen.get("tone"):
        audio = f"sine=frequency={lavfi_number(gen['tone'])}:sample_rate=48000"
    elif name == "silence":
        audio = "anullsrc=r=48000:cl=stereo"
    if audio and gen.get("volume") is not None and abs(gen["volume"] - 100) > 1e-6:
        audio += f",volume={lavfi_number(gen['volume'] / 100)}"
    return video, audio


def gradient_source(gen: Mapping[str, Any]) -> str:
    """A still gradient, drawn once and repeated (`loop`): FFmpeg's `gradients` with every colour, the line and the
    seed given (its defaults are random) and no rotation.

    Linear: as CSS `linear-gradient(<angle>deg, …)`: the colours spread evenly along a line through the centre at
    `angle` (0 up, 90 right, 180 down), as long as the frame's extent that way, so the corners it points from and to
    get the first and last colour exactly. FFmpeg takes the line's ends only inside its frame, so it is drawn on a
    canvas large enough to hold them and the frame cut from its middle. Radial: the first colour at the centre, the
    last at the corners (circular)."""
    w, h, colors = int(gen["w"]), int(gen["h"]), list(gen["colors"])
    rate = rate_text(gen["fps"])
    if gen.get("kind") == "radial":
        cw, ch, line = w, h, (w // 2, h // 2, 0, 0)
    else:
        angle = math.radians(float(gen.get("angle", 180.0)))
        dx, dy = math.sin(angle), -math.cos(angle)
        length = abs(w * dx) + abs(h * dy)
        cw, ch = max(w, math.ceil(abs(dx) * length)) // 2 * 2 + 4, max(h, math.ceil(abs(dy) * length)) // 2 * 2 + 4
        line = (round(cw / 2 - dx * length / 2), round(ch / 2 - dy * length / 2),
                round(cw / 2 + dx * length / 2), round(ch / 2 + dy * length / 2))
    stops = ":".join(f"c{i}=0x{c.lstrip('#')}" for i, c in enumerate(colors))
    x0, y0, x1, y1 = line
    video = (f"gradients=s={cw}x{ch}:r={rate}:n={len(colors)}:{stops}:x0={x0}:y0={y0}:x1={x1}:y1={y1}:seed=1:speed=0"
             f":type={'radial' if gen.get('kind') == 'radial' else 'linear'}")
    if (cw, ch) != (w, h):
        video += f",crop={w}:{h}:{(cw - w) // 2}:{(ch - h) // 2}"
    return video + ",format=yuv420p,trim=end_frame=1,loop=loop=-1:size=1"


# The decoder for a still's content, by the codec the probe found (its content, whatever the file is named).
_STILL_DECODERS = {"png": "png", "mjpeg": "mjpeg", "webp": "webp", "gif": "gif", "svg": "librsvg"}


def _still_demuxer(entry: MediaEntry, raster: tuple[int, int] | None = None) -> list[str]:
    """Open a still as exactly one file: FFmpeg's image2 would read `logo%d.png` as a numbered sequence (and draw
    `logo0.png` beside it), so pattern matching is off; image2 guesses the decoder from the name, so it is named
    by content. A still of unknown codec (an old Draft) is left to FFmpeg's probing, as before. An SVG is drawn
    by librsvg at `raster` (width, height), the size it is shown at, else at its own size."""
    decoder = _STILL_DECODERS.get(str(entry.codec))
    if decoder is None:
        return []
    args = ["-f", "image2", "-pattern_type", "none", "-c:v", decoder]
    if decoder == "librsvg":
        w, h = raster or (entry.w or 0, entry.h or 0)
        args += ["-width", str(int(w)), "-height", str(int(h)), "-keep_ar", "0"]
    return args


def svg_raster(entry: MediaEntry, fit: str | None, width: int, height: int) -> tuple[int, int]:
    """The size to draw an SVG still at so that fitting it to a `width` x `height` frame scales nothing (or a pixel):
    inside the frame for `pad`/`blur` (the default), covering it for `crop`, the frame itself for `stretch` or the
    same aspect. Drawn at its final size, a small drawing is as sharp at 4K as at its own size."""
    w, h = float(entry.w or width), float(entry.h or height)
    if abs(w / h - width / height) < 0.01 or fit == "stretch":
        return width, height
    scale = max(width / w, height / h) if fit == "crop" else min(width / w, height / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def input_args(entry: MediaEntry, start_ms: float, length_ms: int | None, *, loop: bool = False,
               still_fps: float | None = None, raster: tuple[int, int] | None = None) -> list[str]:
    """Arguments that open one media entry at `start_ms` for `length_ms` (input seeking, not a trim filter).

    A still with `still_fps` opens as its one frame, for a graph that loops it; without, as a looped stream.
    `raster`: the size an SVG is drawn at (svg_raster)."""
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
            return [*_still_demuxer(entry, raster), "-framerate", rate_text(still_fps), "-i", ffmpeg_path(entry.path)]
        # a still as a stream of `length_ms` (footage analysis measures a window of it)
        return [*_still_demuxer(entry, raster), "-loop", "1", "-framerate", "30", "-t", seconds(length_ms or 0),
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
