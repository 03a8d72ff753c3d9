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
import re
import statistics
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..core.sniff import HEAD_BYTES, media_type
from ..core.units import human_bytes
from ..draft.media import AudioTrack
from ..errors import MediaError
from .ffmpeg import ffmpeg_path

if TYPE_CHECKING:
    import av.container
    import av.stream

# Packets demuxed from the start of a video stream to judge its frame timing.
_TIMING_SAMPLE = 60
# ...and from each of a few later points (a quarter, half, three quarters in), found by seeking to any frame:
# a rate change after the first seconds is seen without demuxing the whole file.
_WINDOWS = (0.25, 0.5, 0.75)
_WINDOW_SAMPLE = 30
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
    fps: float  # for a variable rate, the fastest rate sampled (the rate that keeps every frame), not the average
    vfr: bool
    pix_fmt: str
    bit_depth: int
    profile: str | None
    frames: int | None
    fps_min: float = 0.0  # variable rate only: the slowest rate sampled
    fps_avg: float = 0.0  # variable rate only: frames / duration, as FFmpeg reports it
    duration: float | None = None  # the picture's own length (s); the container's may be longer (sound outlasting it)
    # seconds from the container's start (its earliest stream, as FFmpeg times an input) to the first frame: MPEG-TS
    # camera files and MP4s remuxed from them start the picture ~23 ms after the sound (AAC priming)
    start: float = 0.0


@attrs.frozen
class AudioInfo:
    """The audio stream a clip plays unless it chooses another: the container's default track, else the first."""

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
    tracks: tuple[AudioTrack, ...] = ()  # every audio stream FFmpeg can decode, in file order

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
        container = av.open(ffmpeg_path(path), "r", metadata_errors="replace")  # `take:2.mp4` is a file, not a protocol
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
    animated = animated_webp(path, size)
    if animated is not None:
        return animated
    with path.open("rb") as fh:
        if media_type(fh.read(HEAD_BYTES)) == "svg":
            return svg_info(path, size)
    with open_media(path) as container:
        return inspect_container(container, path, size)


_SVG_TAG = re.compile(r"<svg\b([^>]*)>", re.S)
_SVG_UNITS = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}
SVG_DEFAULT_SIZE = (300, 150)
"""A drawing that gives no size (no width/height, no viewBox): the size browsers give it."""


def _svg_attr(tag: str, name: str) -> str | None:
    found = re.search(rf"(?<![\w:-]){name}\s*=\s*([\"'])(.*?)\1", tag, re.S)
    return found.group(2).strip() if found else None


def _svg_length(value: str | None) -> float | None:
    """An SVG width/height in CSS pixels (96 per inch); None for a percentage, a font-relative unit, or nothing."""
    found = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px|pt|pc|mm|cm|in)?", value or "")
    if not found:
        return None
    number = float(found.group(1)) * _SVG_UNITS[found.group(2) or ""]
    return number if number > 0 else None


def svg_size(text: str) -> tuple[int, int]:
    """The drawing's own size in pixels, from its root element: width and height, else its viewBox (one of the two
    given: the other from the viewBox's aspect), else SVG_DEFAULT_SIZE."""
    tag = _SVG_TAG.search(text)
    attrs_text = tag.group(1) if tag else ""
    w, h = _svg_length(_svg_attr(attrs_text, "width")), _svg_length(_svg_attr(attrs_text, "height"))
    box = [float(x) for x in re.split(r"[\s,]+", _svg_attr(attrs_text, "viewBox") or "") if re.fullmatch(r"-?[0-9.eE+-]+", x)]
    vw, vh = (box[2], box[3]) if len(box) == 4 and box[2] > 0 and box[3] > 0 else (None, None)
    if w is None and h is None:
        w, h = (vw, vh) if vw else SVG_DEFAULT_SIZE
    elif w is None:
        w = h * vw / vh if vw else h * 2
    elif h is None:
        h = w * vh / vw if vw else w / 2
    return max(1, round(w)), max(1, round(h))


def svg_info(path: Path, size: int) -> MediaInfo:
    """An SVG drawing: its size from its root element, and proof that librsvg can draw it (one small rasterisation
    by the `ffmpeg` binary; PyAV's FFmpeg has no SVG decoder). A still whose pixels are made when it is shown
    (media/sources.py rasterises it at that size)."""
    from .ffmpeg import ffmpeg_exe

    try:
        text = path.read_bytes()[:1 << 20].decode("utf-8", "replace")
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror or exc}; check the disk or copy the file again") from None
    width, height = svg_size(text)
    test = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-f", "image2", "-pattern_type", "none", "-c:v", "librsvg",
                           "-width", "16", "-height", "16", "-i", ffmpeg_path(path), "-frames:v", "1", "-f", "null", "-"],
                          capture_output=True, text=True, timeout=60, check=False)
    if test.returncode != 0:
        lines = [re.sub(r"^\[[^\]]*\]\s*", "", line).strip() for line in test.stderr.splitlines() if line.strip()]
        why = next((line for line in lines if "svg" in line.lower()), lines[0] if lines else "no reason given")
        raise MediaError(f"{path} is an SVG drawing that librsvg cannot draw ({why}); open it in a browser or an editor "
                         "to check it, or export it as PNG")
    video = VideoInfo(codec="svg", width=width, height=height, coded_width=width, coded_height=height, rotation=0, fps=0.0,
                      vfr=False, pix_fmt="rgba", bit_depth=8, profile=None, frames=1)
    return MediaInfo(path=path, container="svg", kind="image", duration=None, size_bytes=size, bit_rate=None, video=video,
                     audio=None)


_WEBP_ANIMATED = 0x02  # VP8X flags: an animation (ANIM + ANMF chunks)
_WEBP_ALPHA = 0x10


def animated_webp(path: Path, size: int) -> MediaInfo | None:
    """An animated WebP read from its RIFF chunks (the VP8X canvas, each ANMF frame's duration in ms), or None for
    any other file. PyAV's FFmpeg has no animated-WebP decoder (the `ffmpeg` binary renders and reads them), and the
    chunks hold every fact the probe reports: a GIF export's peer must be checkable (`frames`, `duration`, `codec`).
    `frames` counts the stored frames: libwebp merges identical consecutive frames into one longer one."""
    try:
        with path.open("rb") as fh:
            head = fh.read(30)
            if len(head) < 30 or head[:4] != b"RIFF" or head[8:16] != b"WEBPVP8X" or not head[20] & _WEBP_ANIMATED:
                return None
            width, height = int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
            durations: list[int] = []
            fh.seek(12 + 8 + int.from_bytes(head[16:20], "little"))
            while len(header := fh.read(8)) == 8:
                fourcc, length = header[:4], int.from_bytes(header[4:], "little")
                if fourcc == b"ANMF":
                    frame = fh.read(16)
                    if len(frame) < 16:
                        break
                    durations.append(int.from_bytes(frame[12:15], "little"))
                    length -= 16
                fh.seek(length + (length & 1), 1)
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror or exc}; check the disk or copy the file again") from None
    if not durations:
        raise MediaError(f"{path} is an animated WebP with no frames; export or download it again")
    total = sum(durations) / 1000
    # libwebp stores a run of identical frames as one longer frame: the shortest frame is the rate it was made at
    fps = 1000 / min(d for d in durations if d) if any(durations) else 0.0
    pix_fmt = "yuva420p" if head[20] & _WEBP_ALPHA else "yuv420p"
    video = VideoInfo(codec="webp", width=width, height=height, coded_width=width, coded_height=height, rotation=0,
                      fps=fps, vfr=len(set(durations)) > 1, pix_fmt=pix_fmt, bit_depth=8, profile=None,
                      frames=len(durations), duration=total)
    return MediaInfo(path=path, container="webp_anim", kind="video", duration=total, size_bytes=size,
                     bit_rate=round(size * 8 / total) if total else None, video=video, audio=None)


def inspect_container(container: av.container.InputContainer, path: Path, size: int) -> MediaInfo:
    """The MediaInfo of an open container; decodes the first video frame (or audio frame for audio-only files)."""
    vstream = next((s for s in container.streams.video if not _is_cover_art(s)), None)
    tracks = tuple(_audio_track(s) for s in container.streams.audio if s.codec_context is not None)  # skip undecodable ones
    chosen = next((t for t in tracks if t.default), tracks[0]) if tracks else None
    astream = container.streams[chosen.index] if chosen is not None else None
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
                     video=video, audio=audio, tracks=tracks)


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
    if pix_fmt == "yuv420p" and stream.codec_context.name == "vp9" and str(stream.metadata.get("alpha_mode", "")) == "1":
        pix_fmt = "yuva420p"  # WebM's alpha is a side stream FFmpeg's native vp9 decoder drops; libvpx-vp9 keeps it
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
    slowest = average = 0.0
    if not animated:
        rates = [r for r in (_window_rates(w, stream.time_base) for w in [pts, *_later_windows(container, stream)]) if r]
        if len(rates) > 1 and max(f for f, _ in rates) / min(f for f, _ in rates) > 1.05:
            vfr = True  # steady in each window, but not the same rate everywhere
        if vfr and rates:
            # Render at the fastest rate found, not the average: the average drops frames from the fast parts.
            fastest, base = max(f for f, _ in rates), _rate(stream.base_rate)
            if base and abs(fastest - base) / base < 0.03:
                fastest = base  # Matroska's whole milliseconds make 30 fps look like 30.3; FFmpeg's base rate is exact
            slowest, average, fps = min(s for _, s in rates), fps, fastest
    info = VideoInfo(codec=stream.codec.canonical_name, width=width, height=height, coded_width=coded_w, coded_height=coded_h,
                     rotation=rotation, fps=fps, vfr=vfr, pix_fmt=pix_fmt, bit_depth=_bit_depth(pix_fmt),
                     profile=stream.profile or None, frames=frames, fps_min=slowest, fps_avg=average,
                     duration=_stream_duration(stream), start=_start_offset(container, stream))
    return info, len(pts) > 1 or (stream.frames or 0) > 1


def _start_offset(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    """The stream's first timestamp after the container's start (FFmpeg's zero for the input), never negative."""
    if stream.start_time is None or not stream.time_base or container.start_time is None:
        return 0.0
    return max(0.0, float(stream.start_time * stream.time_base) - container.start_time / 1_000_000)


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


def _stream_duration(stream: av.stream.Stream) -> float | None:
    """The stream's length: from its header (MP4), else Matroska's per-track `DURATION` tag (`00:00:02.000000000`)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = str(stream.metadata.get("DURATION") or stream.metadata.get("duration") or "")
    parts = tag.split(":")
    try:
        seconds = float(parts[-1]) + 60 * float(parts[-2]) + 3600 * float(parts[-3]) if len(parts) == 3 else None
    except ValueError:
        return None
    return seconds if seconds and seconds > 0 else None


def _later_windows(container: av.container.InputContainer, stream: av.stream.Stream) -> list[list[int]]:
    """Packet timestamps from a few points later in the stream (demuxed, not decoded; seeking to any frame)."""
    length = stream.duration or (int(container.duration / 1_000_000 / stream.time_base) if container.duration and stream.time_base
                                 else 0)
    if not length or not stream.time_base:
        return []
    start = stream.start_time or 0
    windows = []
    with contextlib.suppress(*av_errors()):
        for where in _WINDOWS:
            container.seek(int(start + where * length), stream=stream, any_frame=True, backward=True)
            pts: list[int] = []
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    pts.append(packet.pts)
                if len(pts) >= _WINDOW_SAMPLE:
                    break
            windows.append(pts)
    return windows


def _window_rates(pts: list[int], time_base: Fraction | None) -> tuple[float, float] | None:
    """A window's fast and slow rates, from the lower and upper quartiles of its frame spacing: a pattern such as
    30 fps with every third frame dropped is 30 fps (and 15), and one late or lost frame moves neither."""
    stamps = sorted(set(pts))
    if len(stamps) < 8 or not time_base:
        return None
    q1, _, q3 = statistics.quantiles([b - a for a, b in itertools.pairwise(stamps)], n=4)
    if q1 <= 0:
        return None
    return 1 / float(q1 * time_base), 1 / float(q3 * time_base)


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


def _audio_track(stream: av.stream.Stream) -> AudioTrack:
    import av.stream

    ctx = stream.codec_context
    language = stream.language if stream.language not in (None, "", "und") else None
    title = str(stream.metadata.get("title") or "").strip() or None
    layout = ctx.layout.name if ctx.layout is not None and ctx.layout.nb_channels else ""
    return AudioTrack(index=stream.index, codec=stream.codec.canonical_name, sample_rate=int(ctx.sample_rate or 0),
                      channels=int(ctx.channels or 0), layout=layout,
                      default=bool(stream.disposition & av.stream.Disposition.default), language=language, title=title)


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
            rate = f"{v.fps:.3f}".rstrip("0").rstrip(".") + " fps"
            if v.vfr and v.fps_min and v.fps_min < v.fps * 0.99:  # a variable rate renders at its fastest: show the range
                rate = f"variable {v.fps_min:.3f}".rstrip("0").rstrip(".") + f"–{rate}, {v.fps_avg:.3f}".rstrip("0").rstrip(".") \
                    + " average"
            elif v.vfr:
                rate += " variable"
            detail.append(rate)
        detail.append(f"{v.pix_fmt} {v.bit_depth}-bit")
        if v.frames and info.kind != "image":
            detail.append(f"{v.frames} frames")
        lines.append(f"  {'image' if info.kind == 'image' else 'video'}: {', '.join(detail)}")
    a = info.audio
    if len(info.tracks) > 1:
        chosen = next((t for t in info.tracks if t.default), info.tracks[0])
        for n, t in enumerate(info.tracks, 1):
            used = "  (clips play this one unless they say `track N`)" if t is chosen else ""
            lines.append(f"  audio track {n}: {t.codec}, {t.sample_rate} Hz, {t.describe()}{used}")
    elif a is not None:
        lines.append(f"  audio: {a.codec}, {a.sample_rate} Hz, {a.channels} channel{'s' if a.channels != 1 else ''}")
    return "\n".join(lines)


