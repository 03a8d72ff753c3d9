"""What a media file holds, as the local engine needs to know it before rendering.

PyAV reads the container headers; nothing is decoded except the first video
frame, because the display rotation (a phone clip's DISPLAYMATRIX) reaches
PyAV 18 only as frame side data (`VideoFrame.rotation`), and because a clip
whose first frame cannot be decoded would only fail later, mid-render.

`av` is imported inside functions: `nemoflow --help` must not pay for it.

Conventions the renderer relies on:

* `VideoInfo.rotation` is the clockwise angle (0, 90, 180, 270) by which the
  stored picture is turned for display, i.e. what FFmpeg's autorotate applies
  (transpose=clock for 90). PyAV's `VideoFrame.rotation` and FFmpeg's
  `-display_rotation` are counter-clockwise, so `-display_rotation 90` reads
  back as 270 here. Phones recording in portrait usually store 90.
* `width`/`height` are display dimensions (swapped for 90/270);
  `coded_width`/`coded_height` are the stream's stored dimensions (not padded
  to macroblocks). Sample aspect ratio is not applied.
* A GIF with more than one frame is kind "video" (it moves and has a duration);
  a single-frame GIF, and every PNG, JPEG and WebP, is kind "image".
"""

from __future__ import annotations

import contextlib
import itertools
import os
import statistics
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import MediaError

if TYPE_CHECKING:
    import av.container
    import av.stream

# Packets demuxed from the start of a video stream to judge its frame timing.
_TIMING_SAMPLE = 60
# Packets we feed a decoder before concluding it will never produce a frame.
_DECODE_BUDGET = 120
# Picture formats whose files may hold one frame (an image) or many (a video).
_ANIMATED_FORMATS = ("gif", "apng")


@attrs.frozen
class VideoInfo:
    """The first video stream, as the renderer sees it (display orientation)."""

    codec: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int
    fps: float
    vfr: bool
    pix_fmt: str
    bit_depth: int
    profile: str | None
    frames: int | None


@attrs.frozen
class AudioInfo:
    """The first audio stream."""

    codec: str
    sample_rate: int
    channels: int


@attrs.frozen
class MediaInfo:
    """Facts about one source file; `kind` decides how a recipe may use it."""

    path: Path
    container: str
    kind: str
    duration: float | None
    size_bytes: int
    bit_rate: int | None
    video: VideoInfo | None
    audio: AudioInfo | None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only, for `nemoflow probe --json` and caches."""
        return attrs.asdict(self, value_serializer=lambda _inst, _field, value: str(value) if isinstance(value, Path) else value)


def check_file(path: Path) -> int:
    """Fail early, with a message a user can act on, for paths PyAV would only call "invalid"; return the size."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MediaError(f"media file not found: {path}; check the path for typos and that the file has not been moved, "
                         "renamed or deleted") from None
    except PermissionError:
        raise MediaError(f"cannot access {path}: permission denied on the file or a folder above it; give your user "
                         "access or copy the file somewhere readable") from None
    except OSError as exc:
        raise MediaError(f"cannot access {path}: {exc.strerror or exc}; check the path") from None
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not a media file; point the recipe at a video, image or audio file inside it")
    if not path.is_file():
        raise MediaError(f"{path} is not a regular file (a device, pipe or socket); save the media to a file and use that")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except PermissionError:
        raise MediaError(f"cannot read {path}: permission denied; give your user read access (for example `chmod u+r`) "
                         "or copy the file somewhere readable") from None
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror or exc}; check the disk or copy the file again") from None
    if st.st_size == 0:
        raise MediaError(f"{path} is empty (0 bytes), usually the result of an interrupted download, copy or export; "
                         "copy or export it again")
    return st.st_size


def av_errors() -> tuple[type[BaseException], ...]:
    """Everything PyAV raises for bad input (FFmpeg errors, plus I/O and decoding of odd metadata)."""
    import av

    return (av.FFmpegError, OSError, ValueError, EOFError, RuntimeError, UnicodeError)


@contextlib.contextmanager
def open_media(path: Path) -> Iterator[av.container.InputContainer]:
    """Open read-only with PyAV; a file FFmpeg cannot parse becomes a MediaError."""
    import av

    try:
        container = av.open(os.fspath(path), "r", metadata_errors="replace")
    except av_errors() as exc:
        raise MediaError(f"FFmpeg cannot read {path} ({_reason(exc)}); the file is corrupt, incomplete, or not really the "
                         "type its name says; open it in a media player to check, and export or download it again") from None
    try:
        yield container
    finally:
        container.close()


def _reason(exc: BaseException) -> str:
    import av

    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror).rstrip(".").lower()
    return str(exc) or type(exc).__name__


def probe(path: Path) -> MediaInfo:
    """Read what `path` holds; MediaError if it is missing, unreadable, or not media FFmpeg can decode."""
    size = check_file(path)
    with open_media(path) as container:
        return inspect_container(container, path, size)


def inspect_container(container: av.container.InputContainer, path: Path, size: int) -> MediaInfo:
    """The MediaInfo of an open container; decodes the first video frame (or audio frame for audio-only files)."""
    vstream = next((s for s in container.streams.video if not _is_cover_art(s)), None)
    audio_streams = list(container.streams.audio)
    astream = next((s for s in audio_streams if s.codec_context is not None), None)  # skip tracks FFmpeg cannot decode
    if vstream is None and astream is None:
        found = _stream_summary(container) or "nothing"
        raise MediaError(f"{path} holds no video, image or audio stream that nemoflow can decode (FFmpeg sees: {found}); "
                         "export it again as a normal video, image or audio file (for example H.264 with AAC in MP4)")
    fmt = container.format.name
    video, moving = _video_info(container, vstream, path) if vstream is not None else (None, False)
    audio = _audio_info(astream) if astream is not None else None
    if vstream is None and astream is not None:
        _require_audio_frame(container, astream, path)
    kind = "audio"
    if video is not None:
        still = fmt.endswith("_pipe") or fmt == "image2" or (fmt in _ANIMATED_FORMATS and not moving)
        kind = "image" if still else "video"
        if still:
            video = attrs.evolve(video, fps=0.0, vfr=False)
    duration = None if kind == "image" else _duration(container)
    bit_rate = container.bit_rate or None
    return MediaInfo(path=path, container=fmt, kind=kind, duration=duration, size_bytes=size, bit_rate=bit_rate,
                     video=video, audio=audio)


def _is_cover_art(stream: av.stream.Stream) -> bool:
    import av.stream

    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _stream_summary(container: av.container.InputContainer) -> str:
    return ", ".join(f"{s.type} ({s.codec_context.name if s.codec_context else 'no decoder'})" for s in container.streams)


def _duration(container: av.container.InputContainer) -> float | None:
    if container.duration and container.duration > 0:
        return container.duration / 1_000_000
    ends = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
    return max(ends) if ends else None


def _video_info(container: av.container.InputContainer, stream: av.stream.Stream, path: Path) -> tuple[VideoInfo, bool]:
    """The stream's VideoInfo, and whether it has more than one frame (an animated GIF is a video)."""
    if stream.codec_context is None:
        raise MediaError(f"{path} has a video stream in a codec FFmpeg cannot decode; convert it first "
                         "(for example `ffmpeg -i INPUT -c:v libx264 -c:a aac output.mp4`)")
    frame, pts = _scan_video(container, stream, path)
    coded_w, coded_h = frame.width, frame.height
    rotation = _clockwise(frame.rotation)
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    pix_fmt = frame.format.name
    frames = stream.frames or None
    animated = stream.codec_context.name in _ANIMATED_FORMATS
    if animated and frames is None and len(pts) < _TIMING_SAMPLE:
        frames = len(pts)  # the sample saw every frame
    irregular, sampled_rate = _timing(pts, stream.time_base)
    avg = _rate(stream.average_rate) or _rate(stream.guessed_rate)
    fps = avg
    if animated:
        # Centisecond delays: 30 fps is stored as 3/3/4 cs, and FFmpeg's rates are guesses; the timestamps are the truth.
        vfr = irregular
        fps = sampled_rate or avg
    else:
        vfr = irregular or _rates_disagree(avg, _rate(stream.base_rate))
        if irregular and not stream.frames and sampled_rate:
            fps = sampled_rate  # Matroska cannot count frames; its "average" is only the guessed base rate
    info = VideoInfo(codec=stream.codec.canonical_name, width=width, height=height, coded_width=coded_w, coded_height=coded_h,
                     rotation=rotation, fps=fps, vfr=vfr, pix_fmt=pix_fmt, bit_depth=_bit_depth(pix_fmt),
                     profile=stream.profile or None, frames=frames)
    return info, len(pts) > 1 or (stream.frames or 0) > 1


def _scan_video(container: av.container.InputContainer, stream: av.stream.Stream, path: Path) -> tuple[Any, list[int]]:
    """Decode until the first frame, and gather the first packets' timestamps, in one demux pass."""
    errors = av_errors()
    frame = None
    pts: list[int] = []
    last_error: BaseException | None = None
    try:
        for n, packet in enumerate(container.demux(stream)):
            if packet.pts is not None and packet.size:
                pts.append(packet.pts)
            if frame is None:
                try:
                    decoded = stream.decode(packet)  # the empty packet at the end flushes the decoder
                except errors as exc:
                    last_error, decoded = exc, []
                if decoded:
                    frame = decoded[0]
                elif n >= _DECODE_BUDGET:
                    break
            if frame is not None and n + 1 >= _TIMING_SAMPLE:
                break
    except errors as exc:
        last_error = exc
    if frame is None:
        why = f" (FFmpeg says: {_reason(last_error)})" if last_error is not None else ""
        raise MediaError(f"{path} has a {stream.codec_context.name} video stream but no frame of it could be decoded{why}; "
                         "the file is corrupt or was not finished; play it to check, and export or download it again")
    return frame, pts


def _require_audio_frame(container: av.container.InputContainer, stream: av.stream.Stream, path: Path) -> None:
    """An audio-only file whose first packets do not decode is as useless as a video without frames."""
    errors = av_errors()
    last_error: BaseException | None = None
    try:
        for fed, packet in enumerate(container.demux(stream)):
            try:
                if stream.decode(packet):
                    return
            except errors as exc:
                last_error = exc
            if fed >= _DECODE_BUDGET:
                break
    except errors as exc:
        last_error = exc
    why = f" (FFmpeg says: {_reason(last_error)})" if last_error is not None else ""
    raise MediaError(f"{path} has a {stream.codec_context.name} audio stream but none of it could be decoded{why}; "
                     "the file is corrupt or was not finished; play it to check, and export or download it again")


def _clockwise(ccw: int | float | None) -> int:
    """PyAV's counter-clockwise angle in [-180, 180] -> clockwise 0/90/180/270 (nearest quarter turn)."""
    if not ccw:
        return 0
    return (-round(ccw / 90) * 90) % 360


def _rate(value: Fraction | None) -> float:
    return float(value) if value else 0.0


def _rates_disagree(avg: float, base: float) -> bool:
    """Average vs. base (r_frame_rate) rate: apart by >1% means dropped or varying frames, unless base is a field rate."""
    if not avg or not base:
        return False
    if abs(base / avg - 2) < 0.01:  # interlaced: base counts fields
        return False
    return abs(avg - base) / base > 0.01


def _timing(pts: list[int], time_base: Fraction | None) -> tuple[bool, float | None]:
    """Irregular frame spacing in a packet sample, and the sample's mean rate.

    One tick of slack absorbs coarse time bases (Matroska's milliseconds make
    30 fps 33/34/33 ms; GIF's centiseconds make it 3/3/4), 5% absorbs jitter.
    """
    stamps = sorted(set(pts))
    if len(stamps) < 4 or not time_base:
        return False, None
    deltas = [b - a for a, b in itertools.pairwise(stamps)]
    median = statistics.median(deltas)
    slack = max(1.0, 0.05 * median)
    irregular = any(abs(d - median) > slack for d in deltas)
    span = float((stamps[-1] - stamps[0]) * time_base)
    return irregular, ((len(stamps) - 1) / span if span > 0 else None)


def _bit_depth(pix_fmt: str) -> int:
    from av.video.format import VideoFormat

    try:
        return max(c.bits for c in VideoFormat(pix_fmt).components)
    except (ValueError, TypeError):
        return 8


def _audio_info(stream: av.stream.Stream) -> AudioInfo:
    ctx = stream.codec_context
    return AudioInfo(codec=stream.codec.canonical_name, sample_rate=int(ctx.sample_rate or 0), channels=int(ctx.channels or 0))


def describe(info: MediaInfo) -> str:
    """Human summary for `nemoflow probe`: the facts that explain how a clip will render."""
    parts = [info.kind]
    if info.duration is not None:
        parts.append(f"{info.duration:.3f} s")
    parts.append(human_bytes(info.size_bytes))
    if info.bit_rate:
        parts.append(f"{info.bit_rate / 1000:.0f} kb/s")
    parts.append(f"container {info.container}")
    lines = [f"{info.path}", f"  {', '.join(parts)}"]
    v = info.video
    if v is not None:
        size = f"{v.width}x{v.height}"
        if v.rotation:
            size += f" (stored {v.coded_width}x{v.coded_height}, rotated {v.rotation}° clockwise)"
        codec = f"{v.codec} ({v.profile})" if v.profile else v.codec
        detail = [f"{codec} {size}"]
        if info.kind != "image":
            detail.append(f"{v.fps:.3f}".rstrip("0").rstrip(".") + " fps" + (" variable" if v.vfr else ""))
        detail.append(f"{v.pix_fmt} {v.bit_depth}-bit")
        if v.frames and info.kind != "image":
            detail.append(f"{v.frames} frames")
        lines.append(f"  {'image' if info.kind == 'image' else 'video'}: {', '.join(detail)}")
    a = info.audio
    if a is not None:
        lines.append(f"  audio: {a.codec}, {a.sample_rate} Hz, {a.channels} channel{'s' if a.channels != 1 else ''}")
    return "\n".join(lines)


def human_bytes(n: int) -> str:
    """`1.5 MB`: decimal units (10^6 bytes a MB), the one unit of every size nemoflow prints, the service's limit included."""
    if n < 1000:
        return f"{n} B"
    value = n / 1000
    for unit in ("kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            break
        value /= 1000
    return f"{value:.1f} {unit}"
