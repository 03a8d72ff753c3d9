"""Measuring captions in a rendered file, for `expect caption "Hello" at 3s`.

Soft captions are read back from the file's subtitle stream. Burned captions are measured on the frame: the
export's own ASS script (kept in the cache, named in its result) is drawn without the picture at that frame's
instant, over black and over white; where both agree the captions cover the pixel fully (fill and outline). The
frame must show those same pixels there (in brightness): a caption absent, a frame late, or elsewhere does not.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from .ffmpeg import ffmpeg_path, run_ffmpeg

PIXEL_TOLERANCE = 40  # of 255, in luma: lossy encoding blurs a caption's edges
MATCH_NEEDED = 0.6  # of the caption's opaque pixels, for it to count as shown


@attrs.frozen
class Shown:
    """How much of a burned caption the frame shows: `matched` of its `opaque` pixels (0 opaque: it draws nothing)."""

    opaque: int
    matched: float
    frame_time: float

    @property
    def ok(self) -> bool:
        return self.opaque > 0 and self.matched >= MATCH_NEEDED


def soft_cues(path: Path) -> list[tuple[int, int, str]] | None:
    """(start ms, end ms, text) of every cue of the file's first subtitle stream; None if it has none."""
    from .probe import open_media

    with open_media(path) as c:
        if not c.streams.subtitles:
            return None
        stream = c.streams.subtitles[0]
        found = []
        for p in c.demux(stream):
            if p.pts is None or not p.size:
                continue
            start = round(float(p.pts * stream.time_base) * 1000)
            end = start + round(float((p.duration or 0) * stream.time_base) * 1000)
            for sub in p.decode():
                text = getattr(sub, "dialogue", None)
                text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(getattr(sub, "text", b"") or "")
                found.append((start, end, text))
        return found


def frame_rgb(path: Path, at: float) -> tuple[np.ndarray, float] | None:
    """The frame displayed at `at` seconds as RGB, and its time; None past the end."""
    from .measure import _decode_until
    from .probe import open_media

    with open_media(path) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        first = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
        chosen = _decode_until(container, stream, first + at, seek=True) or _decode_until(container, stream, first + at,
                                                                                          seek=False)
        if chosen is None:
            return None
        frame, ended = chosen
        if ended and frame.time is not None and first + at >= frame.time + 2 * (float(frame.duration * tb) if frame.duration else 0.05):
            return None
        return frame.to_ndarray(format="rgb24"), round(float(frame.time) - first, 6)


def burned_shown(path: Path, ass: Path, at: float, fps: float, scratch: Path) -> Shown | None:
    """How much of what `ass` draws at the frame displayed at `at` that frame shows; None past the file's end."""
    got = frame_rgb(path, at)
    if got is None:
        return None
    frame, time = got
    h, w = frame.shape[:2]
    n = round(time * fps)
    fonts = ass.parent / "fonts"
    from .escape import filter_value

    draw = f"ass=filename={filter_value(str(ass))}:fontsdir={filter_value(str(fonts))}"
    src = lambda c: f"color=c={c}:s={w}x{h}:r={fps},trim=start_frame={n}:end_frame={n + 1},format=rgb24,{draw}"  # noqa: E731
    raw = scratch / f"caption-{n}.rgb"
    run_ffmpeg(["-filter_complex", f"{src('black')}[b];{src('white')}[w];[b][w]hstack=inputs=2,format=rgb24[o]",
                "-map", "[o]", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", ffmpeg_path(raw)],
               what="drawing a caption alone for `expect caption`")
    both = np.fromfile(raw, dtype=np.uint8).reshape(h, 2 * w, 3).astype(int)
    on_black, on_white = both[:, :w], both[:, w:]
    opaque = (np.abs(on_black - on_white) <= 12).all(axis=2)
    count = int(opaque.sum())
    if not count:
        return Shown(0, 0.0, time)
    # luma only: the file's colour is at half resolution (4:2:0), so a thin coloured stroke's chroma is smeared
    # into its neighbours (a yellow letter's blue channel comes back 100 off); its brightness is kept per pixel
    close = np.abs(_luma(frame.astype(int)) - _luma(on_black)) <= PIXEL_TOLERANCE
    return Shown(count, float((close & opaque).sum()) / count, time)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722
