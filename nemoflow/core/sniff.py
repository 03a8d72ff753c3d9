"""What a file holds, from its first bytes and its container's own size fields: no decoding, no FFmpeg.

Shared by `nemoflow check` (which must stay fast and cannot load PyAV) and by media/validate.py before it
probes: a text file renamed `.mp4`, an empty file, an MP4 cut off before its index are told apart here by
reading the first 4 KiB and, for MP4/MOV, the few bytes of each top-level box header. The type is judged by
content, not by the file name.
"""

from __future__ import annotations

import os
import re
import stat
from functools import lru_cache
from pathlib import Path

import attrs

from .signatures import kind_of_type
from .units import human_bytes

HEAD_BYTES = 4096


def media_type(head: bytes) -> str | None:
    """The media type (one of MEDIA_TYPES) of a file whose first bytes (up to 4 KiB) are `head`, or None."""
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
    return _transport_stream(head) or _audio_frame(head) or _svg(head)


_SVG_ROOT = re.compile(rb"<svg[\s>/]")
_XML_PROLOGUE = re.compile(rb"\A(?:\s|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*", re.S)


def _svg(head: bytes) -> str | None:
    """An SVG drawing: its root element `<svg` first, after an optional BOM, XML declaration, comments and doctype
    (a text file only mentioning `<svg` further down is not one)."""
    text = head[3:] if head[:3] == b"\xef\xbb\xbf" else head
    start = _XML_PROLOGUE.match(text)
    return "svg" if _SVG_ROOT.match(text, start.end() if start else 0) else None


def _transport_stream(head: bytes) -> str | None:
    """MPEG-TS: the sync byte 0x47 at the start of every 188-byte packet; M2TS puts a 4-byte timecode before each
    (192 bytes). Three packets in a row in step, or as many as a short head holds (at least two), decide it."""
    for kind, packet, offset in (("ts", 188, 0), ("m2ts", 192, 4)):
        count = min(3, (len(head) - offset - 1) // packet + 1)
        if count >= 2 and all(head[offset + i * packet] == 0x47 for i in range(count)):
            return kind
    return None


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


def structure_problem(path: Path, kind: str, head: bytes, size: int) -> tuple[str | None, bool]:
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


_NAMES = {"mp4": "an MP4 video", "mov": "a QuickTime movie", "m4a": "M4A audio", "avi": "an AVI video",
          "webm": "a WebM video", "mkv": "a Matroska video", "ts": "an MPEG transport stream", "m2ts": "an M2TS transport stream",
          "jpg": "a JPEG image", "png": "a PNG image", "gif": "a GIF image", "webp": "a WebP image", "mp3": "MP3 audio",
          "wav": "WAV audio", "aac": "raw AAC audio", "svg": "an SVG drawing"}


def describe_type(kind: str) -> str:
    """`a PNG image`: a media type in words."""
    return _NAMES.get(kind, kind)


def misnamed(path: Path, kind: str) -> bool:
    """True when the name promises another kind of media (video, image, audio) than the content: a PNG named `.mp4`.

    Another container of the same kind (an MP4 named `.mov`, a JPEG named `.png`) is no surprise to anything, nor is
    an ISO media file of either kind (`.m4a` or `.mp4`): the brand says little about what the tracks hold."""
    iso = {"mp4", "mov", "m4a"}
    ext = path.suffix.lower().lstrip(".")
    return kind_of_type(ext) != kind_of_type(kind) and not (ext in iso and kind in iso)


@attrs.frozen
class Sniffed:
    """A file as its first bytes and size fields show it: its type, or why nothing could use it and what to do."""

    type: str | None  # one of MEDIA_TYPES, judged by content
    problem: str | None = None  # "it is empty (0 bytes)", …; None when nothing cheap finds fault
    fix: str | None = None  # what to do about the problem

    @property
    def kind(self) -> str | None:
        """"video", "image" or "audio" when the content says so for certain, else None: a GIF may be animated,
        and an MP4, Matroska or transport stream may hold sound alone."""
        if self.type in ("jpg", "png", "webp", "svg"):
            return "image"
        if self.type in ("mp3", "wav", "aac"):
            return "audio"
        return None


def sniff_file(path: Path) -> Sniffed:
    """What `path` holds, from at most its first 4 KiB and its top-level box or element headers (`nemoflow check`)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):  # opening a FIFO would wait for a writer: never read one
        return Sniffed(None, "it is not a regular file (a device, pipe or socket)", "save the media to a file and use that")
    return _sniff_file(os.fspath(path), st.st_size, st.st_mtime_ns)


_AGAIN = "this usually means an interrupted download, copy, export or recording; copy or export it again from the original"


@lru_cache(maxsize=256)
def _sniff_file(path: str, size: int, mtime_ns: int) -> Sniffed:
    if size == 0:
        return Sniffed(None, "it is empty (0 bytes)", "this usually means an interrupted download, copy or export; "
                                                      "copy or export it again")
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        return Sniffed(None, f"it cannot be read ({exc.strerror or exc})", "check its permissions, or copy it again")
    kind = media_type(head)
    if kind is None:
        return Sniffed(None, f"it is not a supported media file ({not_media(head)})",
                       "point the recipe at a video, image or audio file, or convert this one first "
                       "(for example `ffmpeg -i INPUT output.mp4`)")
    problem, _ = structure_problem(Path(path), kind, head, size)
    if problem:
        return Sniffed(kind, f"it is incomplete: {problem}", _AGAIN)
    return Sniffed(kind)


def not_media(head: bytes) -> str:
    """`it looks like plain text`: what an unsupported file seems to be, for a message."""
    guess = looks_like(head)
    return f"it looks like {guess}" if guess else "its content is not a known media format"
