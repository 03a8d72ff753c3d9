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
from ..errors import ConfigError, MediaError
from .probe import MediaInfo, av_errors, check_file, human_bytes, inspect_container, open_media

DEFAULT_MAX_BYTES = 500_000_000  # the cloud service's limit: 500 MB, decimal as everywhere in nemoflow's messages

SUPPORTED_TYPES = MEDIA_TYPES
EXPECTED_KINDS = ("video", "image", "audio")

# Same units as the recipe language's file sizes: kB/MB/GB are decimal, KiB/MiB/GiB binary.
_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12,
               "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")

_HEAD_BYTES = 4096


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
    return _sniff(head)


def sniff_head(head: bytes) -> str | None:
    """The type of a file whose first 4 KiB are `head` (as sniff)."""
    return _sniff(head)


def _sniff(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        return _iso_brand(head[8:12])
    first_box = int.from_bytes(head[:4], "big")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot") and (first_box in (0, 1) or first_box >= 8):
        return "mov"  # QuickTime from before ftyp existed
    if head[:4] in (b"RIFF", b"RF64", b"BW64"):
        return {b"AVI ": "avi", b"WAVE": "wav", b"WEBP": "webp"}.get(head[8:12])
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _ebml_doctype(head)
    if head[:3] == b"\xff\xd8\xff":
        return "jpg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:3] == b"ID3":
        return _after_id3(head)
    return _audio_frame(head)


def _iso_brand(brand: bytes) -> str | None:
    if brand == b"qt  ":
        return "mov"
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "m4a"
    if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis", b"crx "):
        return None  # HEIF/AVIF stills and camera raw share the box format but are not supported
    return "mp4"  # isom, iso2.., mp41, mp42, avc1, dash, M4V, 3gp…: all MP4 as far as FFmpeg is concerned


def _ebml_doctype(head: bytes) -> str | None:
    """Matroska and WebM share EBML; the DocType element (0x4282) near the start tells them apart."""
    at = head.find(b"\x42\x82", 4, 64)
    size = _vint(head, at + 2) if at >= 0 else None
    if size is None:
        return None
    length, width, _ = size
    doctype = head[at + 2 + width: at + 2 + width + length].rstrip(b"\0")
    return {b"webm": "webm", b"matroska": "mkv"}.get(doctype)


def _id3_size(head: bytes) -> int:
    """Bytes taken by a leading ID3v2 tag (sync-safe size, plus header and optional footer)."""
    size = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
    return size + 10 if len(head) > 5 and head[5] & 0x10 else size


def _after_id3(head: bytes) -> str:
    """An ID3v2 tag heads MP3 files and, rarely, raw AAC: look at the first frame after it."""
    return _audio_frame(head[_id3_size(head):]) or "mp3"


def _audio_frame(head: bytes) -> str | None:
    if len(head) < 4 or head[0] != 0xFF:
        return None
    b1, b2 = head[1], head[2]
    if b1 & 0xF6 == 0xF0:
        return "aac"  # ADTS: 12-bit sync, layer 00
    layer, version = (b1 >> 1) & 3, (b1 >> 3) & 3
    if b1 & 0xE0 == 0xE0 and layer != 0 and version != 1 and b2 >> 4 != 15 and (b2 >> 2) & 3 != 3:
        return "mp3"
    return None


def looks_like(head: bytes) -> str | None:
    """A guess at what an unsupported file is, so the error can say "this is a PDF" instead of "invalid data"."""
    signatures = [
        (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or an Office document)"), (b"\x1f\x8b", "a gzip archive"),
        (b"Rar!", "a RAR archive"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"fLaC", "FLAC audio"), (b"OggS", "an Ogg file"),
        (b"BM", "a BMP image"), (b"II*\0", "a TIFF image"), (b"MM\0*", "a TIFF image"), (b"\x7fELF", "a program"),
        (b"MZ", "a Windows program"), (b"\0\0\1\xba", "an MPEG program stream (.mpg/.vob)"), (b"FORM", "an AIFF or IFF file"),
        (b"8BPS", "a Photoshop document"), (b"\0\0\1\0", "an icon file"), (b"FLV", "a Flash video (.flv)"),
    ]
    for magic, name in signatures:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        return "a HEIC/AVIF image or another ISO media file nemoflow does not take"
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47:
        return "an MPEG transport stream (.ts/.mts)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith(("<!doctype html", "<html")):
        return "an HTML web page (a download that saved the page instead of the file?)"
    if stripped.startswith(("<?xml", "<svg")):
        return "an XML or SVG document"
    if stripped.startswith(("{", "[")):
        return "JSON text"
    if all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "plain text"
    return None


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
    kind = _sniff(head)
    if kind is None:
        guess = looks_like(head)
        seems = f"it looks like {guess}" if guess else "its content is not a known media format"
        raise MediaError(f"{path} is not a supported media file ({seems}); nemoflow takes {', '.join(SUPPORTED_TYPES)}, judged "
                         "by content, not by the file name; convert it first (for example `ffmpeg -i INPUT output.mp4`)")
    problem, settled = _structure_problem(path, kind, head, size)
    if problem:
        raise MediaError(f"{path} is incomplete: {problem}; this usually means an interrupted download, copy, export or "
                         "recording; copy or export it again from the original")
    with open_media(path) as container:
        info = inspect_container(container, path, size)
        problem = None if settled else _ends_early(container, info)
    if problem:
        raise MediaError(f"{path} is incomplete: {problem}; this usually means an interrupted download, copy, export or "
                         "recording; copy or export it again from the original")
    if expect is not None:
        _check_use(info, expect)
    return info


def _structure_problem(path: Path, kind: str, head: bytes, size: int) -> tuple[str | None, bool]:
    """Exact truncation tests from the container's own size fields: (problem, settled).

    `settled` means the verdict is final and the heuristic tail check is skipped:
    either a size field answered exactly (a tail check could mistake a long last
    frame for missing data), or the declared duration is only FFmpeg's estimate.
    AVI is never settled: an OpenDML file over 1 GiB continues past its first RIFF.
    """
    if kind in ("mp4", "mov", "m4a"):
        return _iso_problem(path, size), True
    if head[:4] == b"RIFF" and len(head) >= 12:
        declared = int.from_bytes(head[4:8], "little") + 8
        if declared in (8, 0xFFFFFFFF + 8):  # written by a streaming muxer that could not go back
            return None, False
        if declared > size:
            return f"its RIFF header says {declared:,} bytes but the file has only {size:,}", True
        return None, kind != "avi"
    if kind in ("mkv", "webm"):
        return _ebml_problem(head, size)
    if kind == "aac":
        return None, True  # raw ADTS declares no length: FFmpeg's duration is a bitrate estimate, nothing to hold it to
    if kind == "mp3":
        return None, not _mp3_counts_frames(path, head)
    return None, False


def _mp3_counts_frames(path: Path, head: bytes) -> bool:
    """A Xing/Info/VBRI header gives the real length; without one FFmpeg guesses it from the first frame's bitrate."""
    start = _id3_size(head) if head[:3] == b"ID3" else 0
    with path.open("rb") as fh:
        fh.seek(start)
        frame = fh.read(256)
    return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))


def _vint(data: bytes, at: int) -> tuple[int, int, bool] | None:
    """An EBML variable-length integer at `at`: (value, width, all value bits set, i.e. "unknown size")."""
    if at >= len(data) or not data[at]:
        return None
    width = 9 - data[at].bit_length()
    if at + width > len(data):
        return None
    mask = (1 << (7 * width)) - 1
    value = int.from_bytes(data[at: at + width], "big") & mask
    return value, width, value == mask


def _ebml_problem(head: bytes, size: int) -> tuple[str | None, bool]:
    """Matroska/WebM: the Segment element declares its size; unknown-size (live) segments give no verdict."""
    header = _vint(head, 4)
    if header is None:
        return None, False
    seg_at = 4 + header[1] + header[0]
    if head[seg_at: seg_at + 4] != b"\x18\x53\x80\x67":
        return None, False
    seg = _vint(head, seg_at + 4)
    if seg is None or seg[2]:
        return None, False
    declared = seg_at + 4 + seg[1] + seg[0]
    if declared > size:
        return f"its Matroska header says {declared:,} bytes but the file has only {size:,}", True
    return None, True


_BOX_TYPE = re.compile(rb"[\x20-\x7e\xa9]{4}")  # printable, or © (0xA9) as in QuickTime tags


def _iso_problem(path: Path, size: int) -> str | None:
    """Walk the top-level MP4/MOV boxes: one that runs past the end, or no `moov` (the index), means a cut-off file."""
    seen: set[bytes] = set()
    offset = 0
    with path.open("rb") as fh:
        for _ in range(100_000):
            if offset >= size:
                break
            fh.seek(offset)
            header = fh.read(16)
            if len(header) < 8:
                return f"it ends inside an MP4 box header at byte {offset:,}"
            box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
            if not _BOX_TYPE.fullmatch(box_type):
                return None  # not a box boundary (trailing junk): let FFmpeg judge
            if box_size == 1:
                if len(header) < 16:
                    return f"it ends inside an MP4 box header at byte {offset:,}"
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8:
                return None
            name = box_type.decode("latin-1")
            if offset + box_size > size:
                missing = offset + box_size - size
                what = "the media data (`mdat`)" if name == "mdat" else f"the `{name}` box"
                tail = "" if b"moov" in seen else " and the index (`moov` box) is missing"
                return f"{what} is cut off, {human_bytes(missing)} short of what the file declares{tail}"
            seen.add(box_type)
            offset += box_size
    if b"moov" not in seen and b"moof" not in seen:
        return "it has no MP4 index (`moov` box), which the recorder or exporter writes last"
    return None


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
