"""Measurements of a rendered file for `expect` (run/expect.py): frames, detectors, stream timing and counts.

Each function reads only what its check needs: a frame is decoded from the
keyframe before it, stream timing and counts come from the container without
decoding, and black, frozen and silent runs come from FFmpeg's own detectors
(blackdetect, freezedetect, silencedetect) in a single decode pass however
many of them are asked for. Nothing here needs numpy: pictures are compared by
FFmpeg's `ssim`/`psnr` filters on lossless PNGs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs

from ..errors import MediaError
from .ffmpeg import capture_ffmpeg, ffmpeg_path


@attrs.frozen
class Run:
    """A span of the file (seconds from its start) where a detector fired."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@attrs.frozen
class Detections:
    """What the detectors found; None for a detector that was not asked for."""

    black: tuple[Run, ...] | None = None
    frozen: tuple[Run, ...] | None = None
    silence: tuple[Run, ...] | None = None


_BLACK = re.compile(r"black_start:\s*(-?[\d.]+)\s+black_end:\s*(-?[\d.]+)")
_FREEZE = re.compile(r"freezedetect\.freeze_(start|end): (-?[\d.]+)")
_SILENCE = re.compile(r"silence_(start|end): (-?[\d.]+)")


def detect(path: Path, *, duration: float, black: tuple[float, float] | None = None, frozen: tuple[float, float] | None = None,
           silence: tuple[float, float] | None = None) -> Detections:
    """Run the asked detectors over the file in one FFmpeg pass.

    `black` is (pixel threshold, picture ratio); `frozen` (noise dB, minimum seconds); `silence` (noise dB,
    minimum seconds). Black runs are found from one frame long (blackdetect `d=0`): the caller filters them.
    A freeze or silence still going at the end of the file ends at `duration`.
    """
    args = ["-loglevel", "info", "-i", ffmpeg_path(path)]
    video = []
    if black is not None:
        video.append(f"blackdetect=d=0:pix_th={black[0]}:pic_th={black[1]}")
    if frozen is not None:
        video.append(f"freezedetect=n={frozen[0]}dB:d={frozen[1]}")
    if video:
        args += ["-map", "0:v:0", "-filter:v", ",".join(video)]
    if silence is not None:
        args += ["-map", "0:a:0", "-filter:a", f"silencedetect=n={silence[0]}dB:d={silence[1]}"]
    if not video and silence is None:
        return Detections()
    args += ["-f", "null", "-"]
    proc = capture_ffmpeg(args, what=f"scanning {path.name} for black, frozen or silent parts")  # stop_all stops it
    err = proc.stderr
    if proc.returncode != 0:
        tail = "\n".join("    " + ln for ln in err.strip().splitlines()[-4:])
        raise MediaError(f"FFmpeg could not scan {path} for black, frozen or silent parts (exit code {proc.returncode}):\n{tail}")
    found_black = tuple(Run(float(a), float(b)) for a, b in _BLACK.findall(err)) if black is not None else None
    return Detections(found_black, _paired(_FREEZE.findall(err), duration) if frozen is not None else None,
                      _paired(_SILENCE.findall(err), duration) if silence is not None else None)


def _paired(marks: list[tuple[str, str]], duration: float) -> tuple[Run, ...]:
    runs, start = [], None
    for what, at in marks:
        if what == "start":
            start = float(at)
        elif start is not None:
            runs.append(Run(start, float(at)))
            start = None
    if start is not None:  # still frozen / silent when the file ends
        runs.append(Run(start, max(start, duration)))
    return tuple(runs)


@attrs.frozen
class Grab:
    """The frame shown at a time, written as a PNG."""

    width: int
    height: int
    time: float  # its presentation time, from the first frame


def frame_png(path: Path, at: float, dest: Path) -> Grab | None:
    """Write the frame displayed at `at` seconds (the last one whose time is not after it) as a PNG; None past the end."""
    import av

    from .probe import open_media

    with open_media(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base
        first = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
        target = first + at
        chosen = _decode_until(container, stream, target, seek=True)
        if chosen is None:  # the seek landed after the time (an odd index): decode from the start
            chosen = _decode_until(container, stream, target, seek=False)
        if chosen is None:
            return None
        frame, ended = chosen
        if ended and frame.time is not None:
            step = float(frame.duration * tb) if frame.duration else (1 / float(stream.average_rate) if stream.average_rate else 0)
            if target >= frame.time + max(step, 1e-6):
                return None
        rgb = frame.reformat(format="rgb24")
        ctx = av.CodecContext.create("png", "w")
        ctx.width, ctx.height, ctx.pix_fmt = rgb.width, rgb.height, "rgb24"
        data = b"".join(bytes(p) for p in [*ctx.encode(rgb), *ctx.encode(None)])
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return Grab(rgb.width, rgb.height, round(float(frame.time) - first, 6))


def _decode_until(container, stream, target: float, *, seek: bool):
    """(the last frame at or before `target`, whether the stream ended there), or None if the first frame is after it."""
    tb = stream.time_base
    if seek:
        container.seek(max(0, int(target / tb)), stream=stream, backward=True, any_frame=False)
    else:
        container.seek(0, stream=stream, backward=True)
    chosen = None
    for frame in container.decode(stream):
        if frame.time is None:
            continue
        if frame.time <= target + float(tb) / 2:
            chosen = frame
        else:
            return (chosen, False) if chosen is not None else None
    return (chosen, True) if chosen is not None else None


def png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG's header; None if the file is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


_SSIM = re.compile(r"SSIM .*All:\s*([\d.]+|inf)")
_PSNR = re.compile(r"PSNR .*average:\s*([\d.]+|inf)")


def compare_pngs(actual: Path, golden: Path, metric: str) -> float:
    """SSIM (0..1) or PSNR (dB; inf when identical) of two same-size PNGs, by FFmpeg's own filters."""
    args = ["-loglevel", "info", "-i", ffmpeg_path(actual), "-i", ffmpeg_path(golden), "-lavfi", f"[0:v][1:v]{metric}",
            "-f", "null", "-"]
    proc = capture_ffmpeg(args, what=f"comparing {actual.name} with {golden.name}")
    found = (_SSIM if metric == "ssim" else _PSNR).search(proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = "\n".join("    " + ln for ln in proc.stderr.strip().splitlines()[-4:])
        raise MediaError(f"FFmpeg could not compare {actual.name} with {golden} ({metric}):\n{tail}")
    return float(found.group(1))


@attrs.frozen
class StreamTime:
    kind: str  # "video" | "audio"
    start: float
    end: float


def stream_times(path: Path) -> dict[str, StreamTime]:
    """When the first video and the first audio stream start and end, from the container (no decoding).

    The container's own start times and durations, which take edit lists (AAC priming) into account; a stream
    without a duration (Matroska) is measured from its packets.
    """
    from .probe import open_media

    out: dict[str, StreamTime] = {}
    with open_media(path) as container:
        chosen = [s for s in (next(iter(container.streams.video), None), next(iter(container.streams.audio), None)) if s]
        missing = []
        for s in chosen:
            tb = s.time_base
            if s.start_time is not None and s.duration and tb:
                start = float(s.start_time * tb)
                out[s.type] = StreamTime(s.type, start, start + float(s.duration * tb))
            else:
                missing.append(s)
        if missing:
            spans: dict[int, list[float]] = {}
            for packet in container.demux(missing):
                if packet.pts is None:
                    continue
                tb = packet.stream.time_base
                a, b = float(packet.pts * tb), float((packet.pts + (packet.duration or 0)) * tb)
                a = max(a, 0.0)  # negative times are encoder priming, which players discard
                lo_hi = spans.setdefault(packet.stream.index, [a, b])
                lo_hi[0], lo_hi[1] = min(lo_hi[0], a), max(lo_hi[1], b)
            for s in missing:
                if s.index in spans:
                    out[s.type] = StreamTime(s.type, *spans[s.index])
    return out


def stream_counts(path: Path) -> dict[str, int]:
    """How many streams of each type the file holds (cover art counts as video: it is a track players see)."""
    from .probe import open_media

    counts: dict[str, int] = {}
    with open_media(path) as container:
        for s in container.streams:
            counts[s.type] = counts.get(s.type, 0) + 1
    return counts


def replace_atomically(src: Path, dest: Path) -> None:
    """Copy `src` to `dest` through a temporary file beside it, so `dest` is the old file or the new, never half."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(src.read_bytes())
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
