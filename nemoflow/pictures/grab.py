"""Small pictures and sound outlines taken from media with FFmpeg: thumbnails of sources, frames of outputs, waveforms.

Everything goes through the same FFmpeg and the same way of opening a source as rendering (media/sources.py), so a
thumbnail shows what the engine reads: generators, stills, SVGs, rotated phones, transport streams. Thumbnails are
fetched a few per FFmpeg process (one input and one output per frame, each seeking on its own) and two processes at a
time; a frame FFmpeg cannot give (past the end, an unreadable file) is None and is drawn as a placeholder.
"""

from __future__ import annotations

import array
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
from PIL import Image, UnidentifiedImageError

from ..draft.media import MediaEntry, MediaKind
from ..media.ffmpeg import capture_ffmpeg, ffmpeg_path
from ..media.sources import input_args, svg_raster

BATCH = 6  # frames per FFmpeg process: few enough decoders open at once even for 4K sources
TIMEOUT_S = 120.0
WAVE_RATE = 8000  # samples per second read for a waveform: plenty for a picture a few thousand pixels wide


@attrs.frozen
class Shot:
    """One frame to fetch: FFmpeg input arguments that open the source at the wanted time, and the box to fit it in."""

    inputs: tuple[str, ...]
    width: int
    height: int


def source_shot(entry: MediaEntry, at_ms: float, width: int, height: int) -> Shot | None:
    """The frame of a source at `at_ms` (its own time), fitted into width x height; None for a source without a picture."""
    if entry.kind == MediaKind.AUDIO or (entry.gen is not None and entry.gen.get("name") in ("tone", "silence")):
        return None
    if entry.path is None and entry.gen is None:
        return None  # only a URL (a service's upload): nothing to read here
    if entry.path is not None and not os.path.isfile(entry.path):
        return None
    if entry.gen is not None and "w" in entry.gen and "h" in entry.gen:
        # a generator drawn at thumbnail size: the same picture, at a fraction of the cost of 1080p or 4K
        w, h = _fitted(int(entry.gen["w"]), int(entry.gen["h"]), width, height)
        entry = entry.evolve(gen={**entry.gen, "w": max(2, w - w % 2), "h": max(2, h - h % 2)})
    raster = svg_raster(entry, None, width, height) if entry.codec == "svg" else None
    at = 0.0 if entry.is_still else max(0.0, float(at_ms))
    return Shot(tuple(input_args(entry, at, 1000, raster=raster)), width, height)


def file_shot(path: Path, at_s: float, width: int, height: int) -> Shot:
    """The frame of a video file at `at_s` seconds, fitted into width x height."""
    args = ["-ss", f"{max(0.0, at_s):.6f}"] if at_s > 0 else []
    return Shot((*args, "-t", "1", "-i", ffmpeg_path(path)), width, height)


def grab(shots: Sequence[Shot | None], *, what: str) -> list[Image.Image | None]:
    """The frames of `shots` as RGB images of exactly their boxes (letterboxed), in order; None where there is none."""
    todo = [(i, s) for i, s in enumerate(shots) if s is not None]
    batches = [todo[i:i + BATCH] for i in range(0, len(todo), BATCH)]
    out: list[Image.Image | None] = [None] * len(shots)
    workers = max(1, min(2, os.cpu_count() or 1, len(batches)))
    with ThreadPoolExecutor(workers) as pool:
        for done in pool.map(lambda batch: _grab_batch(batch, what), batches):
            for i, img in done:
                out[i] = img
    return out


def _grab_batch(batch: list[tuple[int, Shot]], what: str) -> list[tuple[int, Image.Image | None]]:
    with tempfile.TemporaryDirectory(prefix="nemoflow-thumbs-") as tmp:
        args = ["-loglevel", "error"]
        for _, shot in batch:
            args += shot.inputs
        for k, (_, shot) in enumerate(batch):
            w, h = shot.width, shot.height
            fit = f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:-1:-1:color=black,format=rgb24"
            args += ["-map", f"{k}:v:0", "-frames:v", "1", "-vf", fit, "-update", "1", ffmpeg_path(Path(tmp, f"{k}.png"))]
        try:
            capture_ffmpeg(args, what=what, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return [(i, None) for i, _ in batch]
        return [(i, _load(Path(tmp, f"{k}.png"))) for k, (i, _) in enumerate(batch)]


def _load(path: Path) -> Image.Image | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError):
        return None


def _fitted(w: int, h: int, box_w: int, box_h: int) -> tuple[int, int]:
    scale = min(box_w / w, box_h / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


@attrs.frozen
class Wave:
    """A sound's outline: for each column, the lowest and highest sample (-1..1) in its stretch of time."""

    lows: tuple[float, ...]
    highs: tuple[float, ...]


def waveform(entry: MediaEntry, start_ms: float, length_ms: int, columns: int, *, track: int | None = None,
             loop: bool = False, what: str) -> Wave | None:
    """The outline of `length_ms` of a source's sound from `start_ms`, in `columns` columns; None if it has none here."""
    if columns < 1:
        return None
    samples = pcm(entry, start_ms, length_ms, track=track, loop=loop, what=what)
    return outline(samples, columns, round(length_ms / 1000 * WAVE_RATE)) if samples else None


def pcm(entry: MediaEntry, start_ms: float, length_ms: int, *, track: int | None = None, loop: bool = False,
        what: str) -> array.array | None:
    """`length_ms` of a source's sound from `start_ms` as WAVE_RATE mono 16-bit samples; None if it has none here."""
    if length_ms <= 0 or (not entry.audio and entry.kind != MediaKind.AUDIO):
        return None
    if (entry.path is None and entry.gen is None) or (entry.path is not None and not os.path.isfile(entry.path)):
        return None
    if entry.gen is not None and "w" in entry.gen:  # its picture is made too: as small as can be
        entry = entry.evolve(gen={**entry.gen, "w": 16, "h": 16})
    chosen = entry.audio_track(track)
    stream = f"0:{chosen.index}" if chosen is not None else "0:a:0"
    with tempfile.TemporaryDirectory(prefix="nemoflow-wave-") as tmp:
        raw = Path(tmp, "wave.raw")
        args = ["-loglevel", "error", *input_args(entry, start_ms, length_ms, loop=loop), "-map", stream, "-ac", "1",
                "-ar", str(WAVE_RATE), "-f", "s16le", "-c:a", "pcm_s16le", ffmpeg_path(raw)]
        try:
            capture_ffmpeg(args, what=what, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None
        if not raw.is_file():
            return None
        samples = array.array("h")
        samples.frombytes(raw.read_bytes()[: raw.stat().st_size // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples or None


def outline(samples: array.array, columns: int, expected: int) -> Wave:
    """Per column min and max of `samples` (`expected` long); columns past the sound's end (a short source) are silent."""
    total = max(expected, 1)
    lows, highs = [], []
    for c in range(columns):
        a, b = c * total // columns, max((c + 1) * total // columns, c * total // columns + 1)
        part = samples[a:min(b, len(samples))]
        if part:
            lows.append(min(part) / 32768)
            highs.append(max(part) / 32767)
        else:
            lows.append(0.0)
            highs.append(0.0)
    return Wave(tuple(lows), tuple(highs))
