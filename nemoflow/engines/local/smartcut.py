"""Smart cut: frame-accurate trim and concat of H.264 that re-encodes only the partial GOPs at the cuts.

A piece [start, end) of a source is split at its IDR frames: the frames before the first IDR in the
piece (the head) and after the last point the source can be cut losslessly (the tail) are re-encoded
with libx264; everything between is stream-copied byte for byte. A piece with no IDR inside it is
re-encoded whole.

The parameter-set problem. Every H.264 slice names the PPS (and through it the SPS) it was coded
with, by id. The re-encoded parts come from a different encoder, so their SPS/PPS differ from the
source's (CABAC vs CAVLC, reference count, POC type, ...), and x264 numbers them 0 like nearly every
encoder. An MP4 `avc1` track carries one avcC for the whole track, so a naive concat either decodes
the copied frames with the re-encode's parameter sets or the other way round; FFmpeg's concat hides
this by re-sending the new sets in-band under the same id, which FFmpeg's own decoder follows but
which decoders that configure themselves from the avcC alone (hardware decoders, MediaCodec,
VideoToolbox) need not. Here the re-encodes are made with x264's `sps-id` set to an id that no
source uses (and `stitchable` so that every re-encode gets byte-identical headers), and the output
avcC lists the union of the source's parameter sets and the re-encode's. Each slice then finds its
own SPS/PPS by id in the sample entry: no in-band parameter sets are needed, and switching between
them happens only at IDR frames, as the standard requires. Sources whose parameter sets clash with
each other (same id, different bytes) cannot share one avcC; their pieces are re-encoded whole.

Audio is re-encoded to AAC for the whole output in the final mux, from exactly the same source time
ranges as the video, so it stays in sync and has the video's duration.

Times are seconds on the video stream's timeline, measured from its first frame. Both ends snap to
the nearest frame boundary: a piece holds the frames whose timestamps t satisfy
start - frame/2 <= t < end - frame/2, so `end` is exclusive and a time computed as frame/fps selects
exactly that frame. A piece whose end lies after the source's last frame raises RenderError naming
the file; a malformed piece (negative start, end <= start) raises ValueError.
"""

from __future__ import annotations

import contextlib
import functools
import math
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ...errors import RenderError
from ...media.ffmpeg import Progress, ffmpeg_path, run_ffmpeg
from ...media.workdir import work_dir

if TYPE_CHECKING:  # PyAV is imported lazily: probing should not cost an import until it is needed
    from av.container import InputContainer, OutputContainer
    from av.packet import Packet
    from av.video.stream import VideoStream

ProgressCallback = Callable[[Progress], None]

# x264's profile names for the H.264 profiles it can encode 8-bit 4:2:0 video in.
_X264_PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline", "Main": "main", "High": "high",
                  "Progressive High": "high", "Constrained High": "high"}
_PIX_FMTS = ("yuv420p", "yuvj420p")
_CONTAINERS = ("mov", "mp4", "matroska")
_NAL_IDR, _NAL_SPS, _NAL_PPS = 5, 7, 8
_OUT_NAL_LENGTH = 4  # x264 via FFmpeg writes 4-byte NAL lengths; copied packets are converted to match


@attrs.frozen
class Piece:
    """One range of one source to appear in the output."""

    path: Path = attrs.field(converter=Path)
    start: float  # seconds, in-point in the source (frame-accurate)
    end: float  # seconds, out-point (exclusive)
    audio_stream: int | None = None  # the audio track to use, by its index in the file; None: the first audio stream
    audio_filters: tuple[str, ...] = ()  # filters that bring that track to stereo (a mono one to both sides), applied first


@attrs.frozen
class SmartCutReport:
    """What smart_cut did: how much video was copied losslessly and how much was re-encoded."""

    copied_seconds: float
    reencoded_seconds: float
    segments: int  # copied runs plus re-encoded runs in the output, in order


# --------------------------------------------------------------------------------------------------
# H.264 bits: just enough to read parameter-set ids and NAL types.


def _unescape(nal: bytes) -> bytes:
    """RBSP of a NAL: emulation-prevention bytes (00 00 03) removed."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00") if b"\x00\x00\x03" in nal else nal


def _read_ue(data: bytes, bit: int) -> tuple[int, int]:
    """One Exp-Golomb code from `data` at bit offset `bit`: (value, next bit offset)."""

    def get(i: int) -> int:
        if i >= len(data) * 8:
            raise ValueError("truncated H.264 header")
        return (data[i >> 3] >> (7 - (i & 7))) & 1

    zeros = 0
    while get(bit) == 0:
        zeros += 1
        bit += 1
        if zeros > 31:
            raise ValueError("bad Exp-Golomb code")
    bit += 1
    value = 0
    for _ in range(zeros):
        value = (value << 1) | get(bit)
        bit += 1
    return (1 << zeros) - 1 + value, bit


def _sps_id(sps: bytes) -> int:
    return _read_ue(_unescape(sps), 32)[0]  # after nal header, profile_idc, constraint flags, level_idc


def _pps_id(pps: bytes) -> int:
    return _read_ue(_unescape(pps), 8)[0]


@attrs.frozen
class _Avcc:
    """The parts of an AVCDecoderConfigurationRecord that matter here."""

    nal_length: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    ext: bytes  # the High-profile tail (chroma format, bit depths, SPS extensions), if any

    @classmethod
    def parse(cls, data: bytes) -> _Avcc:
        if len(data) < 7 or data[0] != 1:
            raise ValueError("not an avcC record (parameter sets are not in the sample entry)")
        pos = 6
        sps, pps = [], []
        for _ in range(data[5] & 0x1F):
            size = int.from_bytes(data[pos:pos + 2], "big")
            sps.append(bytes(data[pos + 2:pos + 2 + size]))
            pos += 2 + size
        count = data[pos]
        pos += 1
        for _ in range(count):
            size = int.from_bytes(data[pos:pos + 2], "big")
            pps.append(bytes(data[pos + 2:pos + 2 + size]))
            pos += 2 + size
        if not sps or not pps or pos > len(data):
            raise ValueError("avcC record without SPS/PPS")
        return cls(nal_length=(data[4] & 3) + 1, sps=tuple(sps), pps=tuple(pps), ext=bytes(data[pos:]))

    def sets(self) -> dict[tuple[int, int], bytes]:
        """{(nal type, id): NAL} for every parameter set in the record."""
        out = {(_NAL_SPS, _sps_id(s)): s for s in self.sps}
        out.update({(_NAL_PPS, _pps_id(p)): p for p in self.pps})
        return out


def _build_avcc(sets: dict[tuple[int, int], bytes], ext: bytes) -> bytes:
    """An avcC listing every SPS and PPS in `sets` (each keeps its own id), 4-byte NAL lengths."""
    sps = [nal for (kind, _), nal in sorted(sets.items()) if kind == _NAL_SPS]
    pps = [nal for (kind, _), nal in sorted(sets.items()) if kind == _NAL_PPS]
    profile = sps[0][1]
    compat = 0xFF
    for s in sps:
        compat &= s[2]
    level = max(s[3] for s in sps)
    out = bytearray([1, profile, compat, level, 0xFC | (_OUT_NAL_LENGTH - 1), 0xE0 | len(sps)])
    for nal in sps:
        out += len(nal).to_bytes(2, "big") + nal
    out.append(len(pps))
    for nal in pps:
        out += len(nal).to_bytes(2, "big") + nal
    if profile in (100, 110, 122, 144):
        # chroma_format_idc, bit depths, no SPS extensions; only 8-bit 4:2:0 gets this far.
        out += ext[:3] + b"\x00" if len(ext) >= 4 else b"\xfd\xf8\xf8\x00"
    return bytes(out)


def _nal_units(data: bytes, nal_length: int) -> Iterator[bytes]:
    pos = 0
    while pos + nal_length <= len(data):
        size = int.from_bytes(data[pos:pos + nal_length], "big")
        pos += nal_length
        yield data[pos:pos + size]
        pos += size


def _is_idr(data: bytes, nal_length: int) -> bool:
    return any(nal and nal[0] & 0x1F == _NAL_IDR for nal in _nal_units(data, nal_length))


def _relength(data: bytes, nal_length: int) -> bytes:
    """Packet data with NAL length fields rewritten to the output's 4 bytes."""
    return b"".join(len(nal).to_bytes(_OUT_NAL_LENGTH, "big") + nal for nal in _nal_units(data, nal_length))


# --------------------------------------------------------------------------------------------------
# Probing.


@attrs.frozen
class _Source:
    """What smart cut needs to know about one source file."""

    path: Path
    width: int
    height: int
    pix_fmt: str
    profile: str
    level: int
    time_base: Fraction
    rate: Fraction
    sar: Fraction | None
    rotation: float
    start_pts: int
    reorder: int
    avcc: _Avcc
    audio_rate: int | None
    audio_layout: str | None

    @property
    def frame_ticks(self) -> Fraction:
        """One frame's duration in time-base ticks (not always an integer: mkv uses 1 ms)."""
        return 1 / (self.rate * self.time_base)


class _Unsuitable(Exception):
    """A source smart cut cannot take; the message is the reason."""


def _probe(path: Path) -> _Source:
    """Probe once per file content: `incompatibility` and `smart_cut` both ask, and the frame decode is not free at 4K."""
    st = path.stat()
    return _probe_cached(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _probe_cached(path: Path, size: int, mtime_ns: int) -> _Source:
    import av

    name = path.name
    try:
        container = av.open(ffmpeg_path(path))
    except (OSError, av.FFmpegError) as exc:
        raise _Unsuitable(f"{name} cannot be read ({exc})") from None
    with container:
        if not any(part in _CONTAINERS for part in container.format.name.split(",")):
            raise _Unsuitable(f"{name} is a {container.format.name} file, not MP4/MOV/MKV")
        if not container.streams.video:
            raise _Unsuitable(f"{name} has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx.name != "h264":
            raise _Unsuitable(f"{name} is {ctx.name} video, not H.264")
        if ctx.pix_fmt not in _PIX_FMTS:
            raise _Unsuitable(f"{name} is {ctx.pix_fmt}; smart cut handles 8-bit 4:2:0 H.264 only")
        if ctx.profile not in _X264_PROFILES:
            raise _Unsuitable(f"{name} uses the H.264 {ctx.profile} profile, which smart cut does not re-encode")
        if ctx.field_order not in (0, 1):  # unknown, progressive
            raise _Unsuitable(f"{name} is interlaced")
        try:
            avcc = _Avcc.parse(bytes(ctx.extradata or b""))
            avcc.sets()
        except ValueError as exc:
            raise _Unsuitable(f"{name}: {exc}") from None
        rate, avg = stream.base_rate, stream.average_rate
        if not rate or not avg or abs(avg / rate - 1) > Fraction(1, 500):
            raise _Unsuitable(f"{name} has a variable frame rate")
        rotation = 0.0
        try:
            for frame in container.decode(stream):  # display rotation reaches PyAV only on frames
                rotation = float(frame.rotation or 0.0)
                break
        except av.FFmpegError as exc:
            raise _Unsuitable(f"{name} cannot be decoded ({exc})") from None
        audio = container.streams.audio[0].codec_context if container.streams.audio else None
        reorder = int(getattr(ctx, "reorder_depth", 0) or 0)
        return _Source(path=path, width=ctx.width, height=ctx.height, pix_fmt=ctx.pix_fmt, profile=ctx.profile,
                       level=int(ctx.level or 0), time_base=Fraction(stream.time_base), rate=Fraction(rate),
                       sar=Fraction(ctx.sample_aspect_ratio) if ctx.sample_aspect_ratio else None,
                       rotation=rotation, start_pts=int(stream.start_time or 0), reorder=reorder, avcc=avcc,
                       audio_rate=audio.sample_rate if audio else None,
                       audio_layout=audio.layout.name if audio else None)


# Opening a file for its packets only: the probe has read the codec's facts already, and a full open decodes
# frames to find them again (~70 ms each for 4K H.264, three times per smart cut). Packets, timestamps, the
# index for seeking and the avcC come from the container's header whatever the probe size.
_DEMUX_ONLY = {"probesize": "32"}


def _open_demux(path: Path) -> InputContainer:
    import av

    return av.open(ffmpeg_path(path), options=_DEMUX_ONLY)


def _probe_all(pieces: Sequence[Piece]) -> dict[Path, _Source]:
    sources: dict[Path, _Source] = {}
    for piece in pieces:
        if piece.path not in sources:
            sources[piece.path] = _probe(piece.path)
    return sources


def _mismatch(a: _Source, b: _Source) -> str | None:
    checks = [
        ("size", f"{b.width}x{b.height}", f"{a.width}x{a.height}"),
        ("pixel format", b.pix_fmt, a.pix_fmt),
        ("profile", _X264_PROFILES[b.profile], _X264_PROFILES[a.profile]),
        ("frame rate", f"{float(b.rate):g} fps", f"{float(a.rate):g} fps"),
        ("time base", str(b.time_base), str(a.time_base)),
        ("pixel aspect ratio", str(b.sar or 1), str(a.sar or 1)),
        ("rotation", f"rotated {b.rotation:g}°", f"rotated {a.rotation:g}°"),
    ]
    for what, theirs, ours in checks:
        if theirs != ours:
            return f"{b.path.name} is {theirs}, {a.path.name} is {ours} ({what} differs)"
    return None


def incompatibility(pieces: Sequence[Piece], *, audio: bool) -> str | None:
    """None if smart cut can do this job; else a short reason ("b.mp4 is 1280x720, a.mp4 is 1920x1080").

    Copying only works when every copied frame and every re-encoded frame can live in one H.264 track:
    same codec, size, pixel format, profile, frame rate, time base, pixel aspect and rotation, constant
    frame rate. Audio is re-encoded, so any codec will do, but it must exist when asked for.
    """
    return _examine(pieces, audio=audio)[0]


def _examine(pieces: Sequence[Piece], *, audio: bool) -> tuple[str | None, dict[Path, _Source]]:
    if not pieces:
        return "nothing to cut", {}
    try:
        sources = _probe_all(pieces)
    except _Unsuitable as exc:
        return str(exc), {}
    first = sources[pieces[0].path]
    for src in sources.values():
        if reason := _mismatch(first, src):
            return reason, sources
        if audio and src.audio_rate is None:
            return f"{src.path.name} has no audio stream", sources
    return None, sources


# --------------------------------------------------------------------------------------------------
# Planning: where each piece can be copied and where it must be re-encoded.


@attrs.frozen
class _Pkt:
    pts: int
    idr: bool


@attrs.frozen
class _Encode:
    """Re-encode these source frames (display order, source pts) into `out`."""

    src: _Source
    frames: tuple[int, ...]
    seek_pts: int  # a keyframe at or before frames[0]: where decoding starts
    out: Path


@attrs.frozen
class _Copy:
    """Stream-copy source packets in decode order from the IDR at `first_pts` up to the first one shown at or after `end_pts`.

    The planner has checked that those packets are exactly the frames with first_pts <= pts < end_pts.
    """

    src: _Source
    first_pts: int
    end_pts: int
    frames: int


@attrs.frozen
class _PiecePlan:
    first_pts: int
    last_pts: int
    parts: tuple[_Encode | _Copy, ...]

    @property
    def frames(self) -> int:
        return sum(len(p.frames) if isinstance(p, _Encode) else p.frames for p in self.parts)


def _bounds(src: _Source, piece: Piece) -> tuple[Fraction, Fraction]:
    """Piece ends in ticks, half a frame before the frame boundaries they snap to: lo <= pts < hi."""
    half = src.frame_ticks / 2
    to_ticks = 1 / src.time_base
    return (src.start_pts + Fraction(piece.start) * to_ticks - half, src.start_pts + Fraction(piece.end) * to_ticks - half)


def _scan(container: InputContainer, stream: VideoStream, src: _Source, target: Fraction, hi: Fraction, *,
          idr_from: Fraction | None = None) -> tuple[list[_Pkt], bool]:
    """Packets in decode order from a keyframe shown at or before `target` until every frame before `hi` is read.

    With `idr_from`, stops early (inclusive) at the first IDR shown at or after it: every frame shown
    before an IDR is decoded before it. Returns (packets, hit end of file). The seek backs off further
    when the demuxer lands on a keyframe shown after `target` (MP4 seeks by dts; B-frames delay pts).
    """
    back = 0
    while True:
        seek_to = math.floor(target) - back
        container.seek(max(seek_to, src.start_pts), stream=stream, backward=True)
        packets: list[_Pkt] = []
        eof = True
        skipped = 0
        for pkt in container.demux(stream):
            if not pkt.size:
                continue
            if pkt.pts is None:
                raise RenderError(f"{src.path.name} has video packets without timestamps; smart cut cannot place them")
            if not packets and not pkt.is_keyframe:
                skipped += 1
                continue
            if pkt.dts is not None and pkt.dts >= hi:  # every later packet is shown at or after hi
                eof = False
                break
            idr = pkt.is_keyframe and _is_idr(bytes(pkt), src.avcc.nal_length)
            packets.append(_Pkt(pts=int(pkt.pts), idr=idr))
            if idr and idr_from is not None and pkt.pts >= idr_from:
                eof = False
                break
        if not packets and skipped:
            raise RenderError(f"{src.path.name} marks no keyframe at or before {float((target - src.start_pts) * src.time_base):.3f} s, "
                              "so smart cut cannot start decoding there")
        if not packets or packets[0].pts <= target or seek_to <= src.start_pts:
            return packets, eof
        back = max(2 * back, math.ceil(src.frame_ticks * 30))


def _reorder_depth(pts: Sequence[int]) -> int:
    """How many frames a decoder must hold back: the most earlier-decoded frames shown after any one frame."""
    return max((sum(1 for q in pts[max(0, i - 16):i] if q > p) for i, p in enumerate(pts)), default=0)


def _plan_piece(container: InputContainer, stream: VideoStream, src: _Source, piece: Piece, *, copy_ok: bool, tmp: Path,
                n: int) -> tuple[_PiecePlan, int]:
    """Split one piece into re-encoded and copied parts; returns the plan and the reorder depth seen."""
    lo, hi = _bounds(src, piece)
    ticks = src.frame_ticks
    head, eof = _scan(container, stream, src, lo, hi, idr_from=lo if copy_ok else None)
    where = f"{src.path.name}: piece {piece.start:g}–{piece.end:g} s"
    if not head:
        raise RenderError(f"{where} starts after the end of the video")
    depth = _reorder_depth([p.pts for p in head])
    idr = head[-1] if head[-1].idr and copy_ok and lo <= head[-1].pts < hi else None
    if idr is None:  # no IDR inside the piece: re-encode it whole
        frames = sorted(p.pts for p in head if lo <= p.pts < hi)
        _check_end(src, where, head, eof, lo, hi)
        if not frames:
            raise RenderError(f"{where} selects no frames (pieces snap to whole frames)")
        enc = _Encode(src=src, frames=tuple(frames), seek_pts=head[0].pts, out=tmp / f"enc{n:03d}.mp4")
        return _PiecePlan(first_pts=frames[0], last_pts=frames[-1], parts=(enc,)), depth

    parts: list[_Encode | _Copy] = []
    head_frames = sorted(p.pts for p in head if lo <= p.pts < idr.pts)
    if head_frames:
        parts.append(_Encode(src=src, frames=tuple(head_frames), seek_pts=head[0].pts, out=tmp / f"enc{n:03d}a.mp4"))

    # The tail starts at the last IDR in the piece. From there copy the longest decode-order run whose
    # frames are exactly the next ones in display order and all before hi; re-encode what is left.
    tail, eof = _scan(container, stream, src, hi - 1, hi)
    last = next((i for i in range(len(tail) - 1, -1, -1) if tail[i].idr and idr.pts <= tail[i].pts < hi), None)
    if last is None:  # landed on a non-IDR keyframe after our IDR: read on from the IDR instead
        tail, eof = _scan(container, stream, src, Fraction(idr.pts), hi)
        last = max(i for i, p in enumerate(tail) if p.idr and idr.pts <= p.pts < hi)
    _check_end(src, where, tail, eof, lo, hi)
    tail = tail[last:]
    depth = max(depth, _reorder_depth([p.pts for p in tail]))
    later = [math.inf] * (len(tail) + 1)  # later[i]: the earliest pts among tail[i:]
    for i in range(len(tail) - 1, -1, -1):
        later[i] = min(later[i + 1], tail[i].pts)
    cut, shown = 0, -math.inf
    for i, pkt in enumerate(tail):
        shown = max(shown, pkt.pts)
        if shown < hi and shown < later[i + 1]:
            cut = i + 1
    rest = sorted(p.pts for p in tail[cut:] if p.pts < hi)
    end_pts = min((p.pts for p in tail[cut:]), default=math.ceil(hi))
    copied = round((tail[0].pts - idr.pts) / ticks) + cut
    parts.append(_Copy(src=src, first_pts=idr.pts, end_pts=end_pts, frames=copied))
    if rest:
        parts.append(_Encode(src=src, frames=tuple(rest), seek_pts=tail[0].pts, out=tmp / f"enc{n:03d}b.mp4"))
    last_pts = rest[-1] if rest else max(p.pts for p in tail[:cut])
    return _PiecePlan(first_pts=head_frames[0] if head_frames else idr.pts, last_pts=last_pts, parts=tuple(parts)), depth


def _check_end(src: _Source, where: str, packets: Sequence[_Pkt], eof: bool, lo: Fraction, hi: Fraction) -> None:
    """Raise a clear error when the piece asks for frames after the source's last one."""
    end = max(p.pts for p in packets) + src.frame_ticks
    if eof and end < hi:
        length = float((end - src.start_pts) * src.time_base)
        how = "starts after the video's end" if lo >= end - src.frame_ticks / 2 else "ends after the video's last frame"
        raise RenderError(f"{where} {how} (the video is {length:.3f} s long); shorten the piece or check the source")


# --------------------------------------------------------------------------------------------------
# Doing it.


def _validate(pieces: Sequence[Piece]) -> None:
    if not pieces:
        raise ValueError("smart_cut needs at least one piece")
    for piece in pieces:
        if not (math.isfinite(piece.start) and math.isfinite(piece.end)) or piece.start < 0 or piece.end <= piece.start:
            raise ValueError(f"bad piece {piece.path.name} {piece.start}–{piece.end}: need 0 <= start < end")


def _choose_sets(sources: dict[Path, _Source]) -> tuple[set[Path], int]:
    """Which sources can be copied, and a parameter-set id none of them uses, for x264.

    All copied sources share one avcC, so a source whose SPS/PPS reuse an id with different bytes
    cannot be copied; its pieces are re-encoded whole.
    """
    union: dict[tuple[int, int], bytes] = {}
    copyable: set[Path] = set()
    for path, src in sources.items():
        sets = src.avcc.sets()
        if all(union.get(key, nal) == nal for key, nal in sets.items()):
            union.update(sets)
            copyable.add(path)
    used = {ident for _, ident in union}
    free = next((i for i in range(1, 32) if i not in used), None)
    if free is None:  # 31 ids taken: never seen, but re-encoding everything is still correct
        return set(), 0
    return copyable, free


def _encode(job: _Encode, *, sps_id: int, level: int, crf: int, preset: str, bframes: int, seek: bool,
            on_progress: ProgressCallback | None) -> _Encoded:
    """Re-encode exactly `job.frames`, with x264 headers under id `sps_id` that match every other re-encode."""
    src = job.src
    ticks, tb = src.frame_ticks, src.time_base
    # Timestamps stay the source's (-copyts), decoding starts at the keyframe (or the file's start when
    # `seek` is off), and the trim keeps the frames by timestamp with half a frame to spare either side,
    # so rounding cannot move a cut.
    start = float((job.frames[0] - ticks / 2) * tb)
    end = float((job.frames[-1] + ticks / 2) * tb)
    args = ["-copyts", "-noaccurate_seek", "-noautorotate"]
    if seek:
        args += ["-seek_timestamp", "1", "-ss", f"{float(job.seek_pts * tb):.6f}"]
    args += ["-i", ffmpeg_path(src.path), "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", f"trim=start={start:.6f}:end={end:.6f},setpts=PTS-STARTPTS",
            "-fps_mode", "passthrough", "-enc_time_base:v", f"{src.rate.denominator}/{src.rate.numerator}",
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-profile:v", _X264_PROFILES[src.profile],
            "-pix_fmt", src.pix_fmt, "-bf", str(bframes), "-x264-params", f"sps-id={sps_id}:stitchable=1"]
    if level > 0:
        args += ["-level:v", str(level)]
    args += ["-f", "mp4", "-y", str(job.out)]
    run_ffmpeg(args, what=f"smart cut re-encode of {src.path.name}", on_progress=on_progress)
    return _read_encode(job)


@attrs.frozen
class _Encoded:
    avcc: _Avcc
    pts: tuple[int, ...]  # of its packets, in decode order


def _read_encode(job: _Encode) -> _Encoded:
    """The re-encode's avcC and timestamps."""
    import av

    with av.open(str(job.out)) as container:
        stream = container.streams.video[0]
        avcc = _Avcc.parse(bytes(stream.codec_context.extradata or b""))
        pts = tuple(int(p.pts) for p in container.demux(stream) if p.size and p.pts is not None)
    return _Encoded(avcc=avcc, pts=pts)


def smart_cut(pieces: Sequence[Piece], output: Path, *, audio: bool = True, crf: int = 18, preset: str = "veryfast",
              audio_bitrate: str = "192k", on_progress: ProgressCallback | None = None,
              work_root: Path | None = None) -> SmartCutReport:
    """Write an MP4 (+faststart) at `output` (the caller gives a temporary path and renames it; you just write `output`).

    Raises ValueError for malformed pieces or for a job `incompatibility` rejects (check it first),
    RenderError when a piece lies outside its source or FFmpeg fails. Intermediate files live in a
    work directory under `work_root` (default: beside `output`) and are removed whatever happens; so is
    `output` on failure. A kill -9 leaves that directory behind, locked by nobody: `media.workdir.reap`
    removes it (the local engine does at its start and before each smart cut).
    Progress: `seconds` and `frame` count output video finished (re-encoded parts first, then copied
    ones); one final snapshot has done=True.
    """
    pieces = list(pieces)
    _validate(pieces)
    output = Path(output)
    reason, sources = _examine(pieces, audio=audio)
    if reason:
        raise ValueError(f"smart cut cannot do this job: {reason}")
    output.parent.mkdir(parents=True, exist_ok=True)
    ok = False
    try:
        with work_dir(work_root or output.parent, "smartcut") as tmp:
            report = _smart_cut(pieces, sources, output, tmp, audio=audio, crf=crf, preset=preset, audio_bitrate=audio_bitrate,
                                on_progress=on_progress)
        ok = True
        return report
    finally:
        if not ok:
            with contextlib.suppress(OSError):
                output.unlink()


def _smart_cut(pieces: list[Piece], sources: dict[Path, _Source], output: Path, tmp: Path, *, audio: bool, crf: int,
               preset: str, audio_bitrate: str, on_progress: ProgressCallback | None) -> SmartCutReport:
    copyable, sps_id = _choose_sets(sources)
    first = sources[pieces[0].path]
    plans: list[_PiecePlan] = []
    depth = max(src.reorder for src in sources.values())
    for n, piece in enumerate(pieces):
        src = sources[piece.path]
        with _open_demux(src.path) as container:
            plan, seen = _plan_piece(container, container.streams.video[0], src, piece, copy_ok=src.path in copyable,
                                     tmp=tmp, n=n)
        plans.append(plan)
        depth = max(depth, seen)
    # The audio only needs the plan: encode it on the other core while the video is cut and assembled.
    sound = _Background(_audio_args(pieces, plans, sources, first, audio_bitrate, tmp / "audio.m4a")) if audio else None
    try:
        return _cut_video(pieces, sources, plans, depth, output, tmp, sound, sps_id=sps_id, crf=crf, preset=preset,
                          on_progress=on_progress)
    finally:
        if sound is not None:
            sound.stop()


def _cut_video(pieces: list[Piece], sources: dict[Path, _Source], plans: list[_PiecePlan], depth: int, output: Path, tmp: Path,
               sound: _Background | None, *, sps_id: int, crf: int, preset: str,
               on_progress: ProgressCallback | None) -> SmartCutReport:
    import av

    first = sources[pieces[0].path]
    ticks = first.frame_ticks
    frame_s = float(ticks * first.time_base)
    encodes = [p for plan in plans for p in plan.parts if isinstance(p, _Encode)]
    total = sum(plan.frames for plan in plans)
    reencoded = sum(len(e.frames) for e in encodes)
    finished = 0

    def tell(frames: int, fps: float = 0.0, speed: float = 0.0) -> None:
        if on_progress is not None:
            frames = min(frames, total)
            on_progress(Progress(seconds=frames * frame_s, fps=fps, speed=speed, frame=frames))

    # 1. Re-encode the partial GOPs, keeping the source's decoder delay (B-frames or not) and the highest
    #    level, so that every re-encode has the same SPS/PPS bytes and no frame waits longer than before.
    bframes = 0 if depth == 0 or _X264_PROFILES[first.profile] == "baseline" else (1 if depth == 1 else 3)
    level = max(src.level for src in sources.values())
    encoded: dict[Path, _Encoded] = {}
    enc_sets: dict[tuple[int, int], bytes] = {}
    for job in encodes:
        def relay(p: Progress, base: int = finished, cap: int = len(job.frames)) -> None:
            tell(base + min(p.frame, cap), p.fps, p.speed)

        encode = functools.partial(_encode, job, sps_id=sps_id, level=level, crf=crf, preset=preset, bframes=bframes,
                                   on_progress=relay)
        result = encode(seek=True)
        if len(result.pts) != len(job.frames):  # the seek landed after the keyframe: decode from the start
            result = encode(seek=False)
        if len(result.pts) != len(job.frames):
            raise RenderError(f"smart cut re-encoded {len(result.pts)} frames of {job.src.path.name} where "
                              f"{len(job.frames)} were wanted; this is a nemoflow bug, please report it")
        encoded[job.out] = result
        sets = result.avcc.sets()
        if {ident for _, ident in sets} != {sps_id} or any(enc_sets.get(k, v) != v for k, v in sets.items()):
            raise RenderError("smart cut's re-encoded parts came out with different H.264 headers; "
                              "this is a nemoflow bug, please report it")
        enc_sets.update(sets)
        depth = max(depth, _reorder_depth(result.pts))
        finished += len(job.frames)
        tell(finished)

    # 2. Assemble the video track: one avcC holding every parameter set used, each under its own id;
    #    timestamps continuous, dts shifted by the largest decoder delay so they never pass pts.
    sets = dict(enc_sets)
    for path in {p.src.path for plan in plans for p in plan.parts if isinstance(p, _Copy)}:
        sets.update(sources[path].avcc.sets())
    video = tmp / "video.mp4"
    with _open_demux(first.path) as template, av.open(str(video), "w", format="mp4") as out:
        stream = out.add_stream_from_template(template.streams.video[0])
        stream.codec_context.extradata = _build_avcc(sets, first.avcc.ext)
        stream.time_base = first.time_base
        writer = _Writer(out, stream, first.time_base, shift=math.ceil(depth * ticks), duration=round(ticks))
        base = 0
        for plan in plans:
            index = 0  # decode order within the piece
            for part in plan.parts:
                if isinstance(part, _Encode):
                    index = _paste(part, encoded[part.out], writer, base - plan.first_pts, base, index, ticks)
                else:
                    index = _copy(part, writer, base - plan.first_pts, base, index,
                                  on_frames=lambda k, done=finished: tell(done + k))
                    finished += part.frames
                    tell(finished)
            base += plan.last_pts - plan.first_pts + round(ticks)
    if writer.count != total:
        raise RenderError(f"smart cut wrote {writer.count} frames where {total} were wanted; this is a nemoflow bug, please report it")

    # 3. Final mux: copy that track and the audio encoded meanwhile, moov up front.
    args = ["-copyts"]
    if first.rotation:
        args += ["-display_rotation:v:0", f"{first.rotation:g}"]
    args += ["-i", str(video)]
    if sound is not None:
        sound.wait()
        args += ["-i", str(sound.output), "-map", "0:v:0", "-map", "1:a:0"]
    else:
        args += ["-map", "0:v:0"]
    args += ["-c", "copy", "-movflags", "+faststart", "-f", "mp4", "-y", str(output)]
    run_ffmpeg(args, what="smart cut final mux")
    if on_progress is not None:
        on_progress(Progress(seconds=total * frame_s, fps=0.0, speed=0.0, frame=total, done=True))
    return SmartCutReport(copied_seconds=(total - reencoded) * frame_s, reencoded_seconds=reencoded * frame_s,
                          segments=sum(len(plan.parts) for plan in plans))


class _Background:
    """An FFmpeg run on another thread (the audio encode), which can be waited for or killed."""

    def __init__(self, args: list[str]) -> None:
        self.output = Path(args[-1])
        self.proc: subprocess.Popen | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(args,), daemon=True)
        self.thread.start()

    def _run(self, args: list[str]) -> None:
        try:
            run_ffmpeg(args, what="smart cut audio", on_start=self._started)
        except BaseException as exc:
            self.error = exc

    def _started(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    def wait(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Kill the encode if it is still running (failure or Ctrl-C on the main thread)."""
        if self.thread.is_alive() and self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self.thread.join()


def _audio_args(pieces: Sequence[Piece], plans: Sequence[_PiecePlan], sources: dict[Path, _Source], first: _Source,
                bitrate: str, output: Path) -> list[str]:
    """Inputs and filters that cut each piece's audio to exactly its video's time range and join them.

    Each input is opened a second before the piece (seeking is not sample-exact) with timestamps kept;
    the audio is shifted so the piece's first video frame is at 0, padded or trimmed at the front to
    start exactly there, and padded or trimmed at the end to exactly the piece's video duration.
    """
    rate = first.audio_rate or 48000
    # with tracks chosen, the output is stereo (docs/engine.md "Audio tracks and channels"); else the first source's layout
    layout = "stereo" if any(p.audio_stream is not None for p in pieces) else first.audio_layout or "stereo"
    args: list[str] = ["-copyts"]  # the filters below shift by the sources' own timestamps
    chains = []
    for k, (piece, plan) in enumerate(zip(pieces, plans, strict=True)):
        src = sources[piece.path]
        t0 = float(plan.first_pts * src.time_base)
        length = plan.frames / src.rate
        seek = max(0.0, t0 - 1.0)
        args += ["-seek_timestamp", "1", "-ss", f"{seek:.6f}", "-t", f"{t0 - seek + float(length) + 1.0:.6f}", "-i", ffmpeg_path(src.path)]
        stream = f"{k}:{piece.audio_stream}" if piece.audio_stream is not None else f"{k}:a:0"  # exactly one track
        to_stereo = "".join(f + "," for f in piece.audio_filters)
        chains.append(f"[{stream}]{to_stereo}asetpts=PTS-{t0:.6f}/TB,aresample={rate}:async=1:min_hard_comp=0:first_pts=0,"
                      f"aformat=sample_fmts=fltp:channel_layouts={layout},apad,atrim=end_sample={round(length * rate)}[a{k}]")
    joined = "".join(f"[a{k}]" for k in range(len(pieces)))
    chains.append(f"{joined}concat=n={len(pieces)}:v=0:a=1[aout]")
    # AAC's "fast" coder halves the encode (it is the cut's critical path); at 192k the loss is inaudible.
    return [*args, "-filter_complex", ";".join(chains), "-map", "[aout]", "-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate,
            "-f", "mp4", "-y", str(output)]


class _Writer:
    """Muxes packets into the assembled track; dts strictly increasing and never after pts (rounding fix-ups only)."""

    def __init__(self, out: OutputContainer, stream: VideoStream, time_base: Fraction, *, shift: int, duration: int) -> None:
        self.out, self.stream, self.time_base = out, stream, time_base
        self.shift, self.duration = shift, duration
        self.last_dts: int | None = None
        self.count = 0

    def write(self, data: bytes, *, pts: int, dts: int, key: bool) -> None:
        import av

        dts = min(dts - self.shift, pts)
        if self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1
        if dts > pts:
            raise RenderError("smart cut could not order the video's frames; this is a nemoflow bug, please report it")
        packet = av.Packet(data)
        packet.pts, packet.dts, packet.duration = pts, dts, self.duration
        packet.is_keyframe = key
        packet.time_base = self.time_base
        packet.stream = self.stream
        self.out.mux(packet)
        self.last_dts = dts
        self.count += 1


def _paste(part: _Encode, result: _Encoded, writer: _Writer, offset: int, base: int, index: int, ticks: Fraction) -> int:
    """Mux one re-encoded run, each frame at its source frame's timestamp; returns the decode index after it."""
    import av

    shown = {pts: k for k, pts in enumerate(sorted(result.pts))}
    with av.open(str(part.out)) as container:
        for pkt in container.demux(container.streams.video[0]):
            if pkt.size and pkt.pts is not None:
                writer.write(bytes(pkt), pts=offset + part.frames[shown[int(pkt.pts)]], dts=base + round(index * ticks),
                             key=pkt.is_keyframe)
                index += 1
    return index


def _copy(part: _Copy, writer: _Writer, offset: int, base: int, index: int, *, on_frames: Callable[[int], None]) -> int:
    """Stream-copy one run of source packets (pts moved by `offset`); returns the decode index after it."""
    src = part.src
    ticks = src.frame_ticks
    copied = 0
    with _open_demux(src.path) as container:
        stream = container.streams.video[0]
        packets = _packets_from(container, stream, src, part.first_pts)
        for pkt in packets:
            if not pkt.size or pkt.pts is None:
                continue
            if pkt.pts >= part.end_pts:
                break
            if pkt.pts < part.first_pts:
                raise RenderError(f"{src.path.name}: the frame at {float(pkt.pts * src.time_base):.3f} s refers back past "
                                  "the keyframe smart cut copies from; this is a nemoflow bug, please report it")
            data = bytes(pkt)
            if src.avcc.nal_length != _OUT_NAL_LENGTH:
                data = _relength(data, src.avcc.nal_length)
            writer.write(data, pts=offset + int(pkt.pts), dts=base + round(index * ticks), key=pkt.is_keyframe)
            index += 1
            copied += 1
            if copied % 300 == 0:
                on_frames(copied)
    if copied != part.frames:
        raise RenderError(f"smart cut copied {copied} frames of {src.path.name} where {part.frames} were expected "
                          "(is its frame rate really constant?)")
    return index


def _packets_from(container: InputContainer, stream: VideoStream, src: _Source, pts: int) -> Iterator[Packet]:
    """Demuxed packets starting with the keyframe shown at `pts`."""
    back = 0
    while True:
        container.seek(max(pts - back, src.start_pts), stream=stream, backward=True)
        packets = container.demux(stream)
        for pkt in packets:
            if pkt.pts == pts and pkt.is_keyframe:
                yield pkt
                yield from packets
                return
            if pkt.pts is not None and pkt.is_keyframe and pkt.pts > pts:
                break
        if pts - back <= src.start_pts:
            raise RenderError(f"smart cut lost the keyframe of {src.path.name} at {float(pts * src.time_base):.3f} s")
        back = max(2 * back, math.ceil(src.frame_ticks * 30))
