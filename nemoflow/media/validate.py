"""Validate source media before anything renders.

A render that dies ten minutes in because clip 7 is a half-downloaded MP4 is
the failure this module exists to prevent. Every check is cheap (a stat, the
first bytes, the container headers, one decoded frame, a seek near the end),
each failure is a MediaError paragraph naming the file and the fix, and the
file is only ever opened for reading.

The type is judged by content, not by the name: a text file renamed `.mp4`
is rejected, an MP4 named `.mov` (same ISO BMFF family) is fine, and any
supported content is accepted whatever its extension; how the recipe uses it
is checked against the probed kind (`expect`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..config import setting
from ..core.signatures import MEDIA_TYPES
from ..core.sniff import HEAD_BYTES, looks_like, media_type, not_media, structure_problem
from ..core.units import human_bytes
from ..errors import ConfigError, MediaError
from .probe import MediaInfo, animated_webp, av_errors, check_file, inspect_container, open_media, svg_info

__all__ = ["looks_like", "sniff", "sniff_head", "validate_media"]

DEFAULT_MAX_BYTES = 500_000_000  # the cloud service's limit: 500 MB, decimal as everywhere in nemoflow's messages

SUPPORTED_TYPES = MEDIA_TYPES
EXPECTED_KINDS = ("video", "image", "audio")

# Same units as the recipe language's file sizes: kB/MB/GB are decimal, KiB/MiB/GiB binary.
_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12,
               "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")

_HEAD_BYTES = HEAD_BYTES


def max_media_bytes() -> int:
    """The largest source file accepted: NEMOFLOW_MAX_MEDIA_SIZE, else `[local] max_media_size`, else 500 MB."""
    raw = setting("local", "max_media_size", env="NEMOFLOW_MAX_MEDIA_SIZE")
    if raw is None:
        return DEFAULT_MAX_BYTES
    where = "NEMOFLOW_MAX_MEDIA_SIZE" if os.environ.get("NEMOFLOW_MAX_MEDIA_SIZE") else "`[local] max_media_size` in the config file"
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    else:
        m = _SIZE.fullmatch(str(raw))
        unit = m.group(2).lower() if m else ""
        if not m or unit not in _SIZE_UNITS:
            raise ConfigError(f"{where} is `{raw}`, which is not a file size; write bytes (500000000) or a size such as "
                              "500MB or 2GiB")
        value = round(float(m.group(1)) * _SIZE_UNITS[unit])
    if value <= 0:
        raise ConfigError(f"{where} is `{raw}`; the media size limit must be more than 0 bytes (for example 500MB or 2GiB)")
    return value


def sniff(path: Path) -> str | None:
    """The real type from the magic bytes (one of SUPPORTED_TYPES), or None when it is none of them."""
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    return media_type(head)


def sniff_head(head: bytes) -> str | None:
    """The type of a file whose first 4 KiB are `head` (as sniff)."""
    return media_type(head)


def validate_media(path: Path, *, max_bytes: int | None = None, expect: str | None = None) -> MediaInfo:
    """Probe `path` and refuse anything that would fail or mislead the render; `expect` is how the recipe uses it."""
    if expect is not None and expect not in EXPECTED_KINDS:
        raise ValueError(f"expect must be one of {EXPECTED_KINDS} or None, not {expect!r}")
    size = check_file(path)
    limit = max_media_bytes() if max_bytes is None else max_bytes
    if size > limit:
        raise MediaError(f"{path} is {human_bytes(size)} ({size:,} bytes), over the {human_bytes(limit)} ({limit:,} bytes) limit "
                         "for source media; trim or compress it first (for example re-encode at a lower bitrate or "
                         "resolution), or raise the limit with NEMOFLOW_MAX_MEDIA_SIZE (for example NEMOFLOW_MAX_MEDIA_SIZE=2GiB)")
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    kind = media_type(head)
    if kind is None:
        raise MediaError(f"{path} is not a supported media file ({not_media(head)}); nemoflow takes {', '.join(SUPPORTED_TYPES)}, judged "
                         "by content, not by the file name; convert it first (for example `ffmpeg -i INPUT output.mp4`)")
    problem, settled = structure_problem(path, kind, head, size)
    if problem:
        raise MediaError(f"{path} is incomplete: {problem}; this usually means an interrupted download, copy, export or "
                         "recording; copy or export it again from the original")
    if kind == "webp" and animated_webp(path, size) is not None:
        raise MediaError(f"{path} is an animated WebP, which nemoflow reads only to check its own exports (`expect`), not "
                         f"as a source; convert it first (for example `ffmpeg -i {path.name} {path.stem}.mp4`) and use that")
    if kind == "svg":  # drawn by librsvg, which PyAV's FFmpeg lacks: its own probe
        info, problem = svg_info(path, size), None
    else:
        with open_media(path) as container:
            info = inspect_container(container, path, size)
            problem = None if settled else _ends_early(container, info)
    if problem:
        raise MediaError(f"{path} is incomplete: {problem}; this usually means an interrupted download, copy, export or "
                         "recording; copy or export it again from the original")
    if expect is not None:
        _check_use(info, expect)
    return info


def _ends_early(container, info: MediaInfo) -> str | None:
    """Seek to near the declared end and demux: if the packets stop well short, the file was cut.

    For formats without an exact size field: MP3 with a Xing header, AVI,
    live-written Matroska, and anything else whose header declares a duration.
    No decoding: one seek plus a second or so of packets.
    """
    if info.kind == "image" or not info.duration or info.duration <= 0:
        return None
    errors = av_errors()
    start = (container.start_time or 0) / 1_000_000
    declared_end = start + info.duration
    try:
        container.seek(int(max(start, declared_end - 1.0) * 1_000_000), backward=True, any_frame=False)
    except errors:
        return None  # cannot seek: no cheap verdict
    end = None
    try:
        for count, packet in enumerate(container.demux()):
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None or not packet.size or packet.time_base is None:
                continue
            stop = float((ts + (packet.duration or 0)) * packet.time_base)
            end = stop if end is None else max(end, stop)
            if count > 20_000:
                return None  # the seek went far back (no index): not cheap any more, give no verdict
    except errors:
        pass  # a read error on the way to the end is itself a sign: judge by what was read
    if end is None:
        return f"it declares {info.duration:.2f} s but no media data could be read near the end"
    if declared_end - end > max(0.5, 0.02 * info.duration):
        return f"it declares {info.duration:.2f} s but its media data stops at {end - start:.2f} s"
    return None


def _check_use(info: MediaInfo, expect: str) -> None:
    """The recipe's use of a file must match what it holds (an MP3 is no video clip)."""
    path, kind = info.path, info.kind
    if expect == kind:
        return
    if expect == "image" and kind == "video" and info.container == "gif":
        return  # an animated GIF used as a picture shows its first frame
    if expect == "audio" and info.audio is not None:
        return  # a video's soundtrack is usable as audio
    holds = {"audio": "holds only audio (no picture)", "image": "is a still image", "video": "is a video"}[kind]
    if expect == "video":
        fix = ("use it as an audio track instead, or point the clip at the video file" if kind == "audio"
               else "use it as an image (a still shown for a duration) instead, or point the clip at a video file")
        raise MediaError(f"{path} {holds}, but the recipe uses it as a video clip; {fix}")
    if expect == "image":
        fix = ("use it as an audio track instead, or point it at an image file" if kind == "audio"
               else "use it as a video clip, or export the frame you want as PNG or JPEG")
        raise MediaError(f"{path} {holds}, but the recipe uses it as an image; {fix}")
    what = "has no audio track" if kind == "video" else "is a still image with no sound"
    raise MediaError(f"{path} {what}, but the recipe uses it as audio; point it at an audio file or a video with sound")
