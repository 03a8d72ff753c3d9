"""The fake NemoVideo service's storage: request bodies streamed to disk, multipart parts, stored files, byte ranges.

Nothing here holds a whole request body in memory: bodies are pumped to a
temporary file in 1 MiB pieces, and multipart parts are located in that file
by a block-wise scan, so a 400 MB upload costs 400 MB of disk and a few MiB
of RAM. (mmap was tried: its touched pages count as the server's resident
memory, which would mislead a benchmark that watches it.)
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit

import attrs

from ..engines.nemo import contract

CHUNK = 1 << 20
# Multipart framing around the file part: a body this much over the file-size limit is still read, then the
# file part itself is measured; a Content-Length beyond limit + slack is refused before reading a byte.
MULTIPART_SLACK = 64 * 1024
FIELD_LIMIT = 64 * 1024  # a non-file form field (the `url` field) is at most this long


class TooLarge(Exception):
    """The body passed the limit while it was being read."""


class BadBody(Exception):
    """The body is not what its headers announce (bad chunked framing, no multipart boundary, early EOF)."""


def pump(rfile: BinaryIO, sink: Callable[[bytes], Any] | None, *, length: int | None, chunked: bool, limit: int) -> int:
    """Read a request body (Content-Length or chunked) in ≤1 MiB pieces into `sink` (None: discard); return its size."""
    total = 0

    def take(n: int) -> None:
        nonlocal total
        while n > 0:
            piece = rfile.read(min(n, CHUNK))
            if not piece:
                raise BadBody("the connection closed before the end of the request body")
            total += len(piece)
            if total > limit:
                raise TooLarge
            if sink is not None:
                sink(piece)
            n -= len(piece)

    if not chunked:
        take(length or 0)
        return total
    while True:
        line = rfile.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadBody(f"bad chunk size line {line[:40]!r}") from None
        if size == 0:
            while rfile.readline(1024).strip():  # trailer fields, up to the empty line
                pass
            return total
        take(size)
        if rfile.read(2) != b"\r\n":
            raise BadBody("a chunk does not end with CRLF")


def header_param(value: str, param: str) -> str | None:
    """A parameter of a structured header (`boundary` of Content-Type, `name`/`filename` of Content-Disposition)."""
    msg = email.message.Message()
    msg["x"] = value
    got = msg.get_param(param, header="x")
    if isinstance(got, tuple):  # RFC 2231 encoded
        got = email.utils.collapse_rfc2231_value(got)
    return str(got) if got is not None else None


@attrs.frozen
class Part:
    """One multipart part: its form name, its filename (file parts only) and where its bytes lie in the body file."""

    name: str | None
    filename: str | None
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


class Multipart:
    """A multipart/form-data body stored in a file (`with Multipart(path, ctype) as form:`).

    The file is scanned for boundaries in 1 MiB blocks and parts are copied out by
    seeking, so memory stays flat whatever the size of the body.
    """

    def __init__(self, path: Path, content_type: str) -> None:
        boundary = header_param(content_type, "boundary")
        if not boundary:
            raise BadBody("multipart/form-data without a boundary")
        self.needle = b"\r\n--" + boundary.encode("latin-1")
        self.path = path
        self._fh: BinaryIO | None = None
        self.parts: list[Part] = []

    def __enter__(self) -> Multipart:
        self._fh = open(self.path, "rb")  # closed in __exit__
        self.parts = self._scan()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()

    def _read(self, at: int, n: int) -> bytes:
        assert self._fh is not None
        self._fh.seek(at)
        return self._fh.read(n)

    def _delimiters(self) -> list[int]:
        """File offsets where CRLF--boundary starts (-2 for a boundary at the very start, which has no CRLF)."""
        assert self._fh is not None
        self._fh.seek(0)
        keep = len(self.needle) - 1
        buf, base, found = b"\r\n", -2, []
        while True:
            block = self._fh.read(CHUNK)
            buf += block
            at = buf.find(self.needle)
            while at >= 0:
                found.append(base + at)
                at = buf.find(self.needle, at + 1)
            if not block:
                return found
            cut = max(0, len(buf) - keep)
            base, buf = base + cut, buf[cut:]

    def _scan(self) -> list[Part]:
        marks = self._delimiters()
        parts = []
        for here, following in itertools.pairwise(marks):
            after = here + len(self.needle)
            head = self._read(after, 16 * 1024)
            if head.startswith(b"--"):
                break
            line_end = head.find(b"\r\n")
            if line_end < 0:
                raise BadBody("a multipart boundary line does not end")
            if head[line_end + 2:line_end + 4] == b"\r\n":  # a part with no headers
                block, body = b"", line_end + 4
            else:
                end = head.find(b"\r\n\r\n", line_end)
                if end < 0:
                    raise BadBody("a multipart part's headers do not end within 16 KiB")
                block, body = head[line_end + 2:end], end + 4
            headers = email.message.Message()
            for line in block.decode("utf-8", "replace").split("\r\n"):
                key, sep, value = line.partition(":")
                if sep:
                    headers[key.strip()] = value.strip()
            disposition = headers.get("Content-Disposition", "")
            parts.append(Part(header_param(disposition, "name"), header_param(disposition, "filename"), after + body, following))
        return parts

    def field(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)

    def text(self, part: Part) -> str:
        return self._read(part.start, min(part.size, FIELD_LIMIT)).decode("utf-8", "replace").strip()

    def copy(self, part: Part, dest: Path) -> None:
        assert self._fh is not None
        self._fh.seek(part.start)
        left = part.size
        with open(dest, "wb") as out:
            while left > 0:
                block = self._fh.read(min(CHUNK, left))
                if not block:
                    raise BadBody("the multipart body ends inside a part")
                out.write(block)
                left -= len(block)


# ---- stored files ------------------------------------------------------------------------

def safe_name(raw: str | None, default: str = "file") -> str:
    """A file name safe on disk and in a URL path segment: the last path component, odd characters replaced."""
    base = re.split(r"[\\/]", raw or "")[-1]
    name = re.sub(r"[^\w.\-]", "_", base).lstrip(".")[:120]
    return name or default


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def supported(name: str) -> bool:
    return extension(name) in contract.SUPPORTED_TYPES


@attrs.define
class Upload:
    """A file the fake stores and serves at /files/<id>/<name>: an upload, or a render's output."""

    id: str
    name: str
    path: Path
    size: int
    kind: str  # video | image | audio
    duration: int | None  # ms; None for images
    width: int | None  # None for audio
    height: int | None
    entry: dict[str, Any]  # the media facts a Draft's media table holds (kind, d, w, h, fps, audio, pix_fmt, …), without path
    session_id: str | None = None

    def url(self, base: str) -> str:
        return f"{base}/files/{self.id}/{quote(self.name)}"

    def data(self, base: str) -> dict[str, Any]:
        """The upload's `data` (contract.UPLOAD_FIELDS), plus fields a client does not know."""
        return {"id": self.id, "url": self.url(base), "name": self.name, "duration": self.duration, "width": self.width,
                "height": self.height, "kind": self.kind, "size": self.size, "storage_class": "fake-standard"}


def file_id(base: str, url: str) -> tuple[str, str] | None:
    """(id, name) of a URL this fake serves (base/files/<id>/<name>), else None."""
    ours, theirs = urlsplit(base), urlsplit(url)
    if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
        return None
    parts = theirs.path.split("/")
    if len(parts) != 4 or parts[1] != "files":
        return None
    return parts[2], unquote(parts[3])


def probe_upload(path: Path) -> dict[str, Any]:
    """Upload fields of a stored file, probed with PyAV (MediaError if it is not media FFmpeg can read)."""
    from ..media.entries import file_entry
    from ..media.probe import probe

    info = probe(path)
    entry = file_entry(info).evolve(path=None).to_json()
    video = info.video if info.kind != "audio" else None
    return {"kind": info.kind, "duration": entry.get("d"), "width": video.width if video else None,
            "height": video.height if video else None, "entry": entry}


def place(src: Path, dest: Path) -> None:
    """Put a copy of `src` at `dest`: a hard link when the file system allows, else a copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single `Range: bytes=…` request; None to send the whole file.

    Raises ValueError when the range cannot be satisfied (answer 416). Several ranges are
    answered with the whole file, which HTTP allows.
    """
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or not (m.group(1) or m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(0, size - n), size - 1
    a = int(first)
    b = min(int(last), size - 1) if last else size - 1
    if a >= size or b < a:
        raise ValueError("range outside the file")
    return a, b


@contextlib.contextmanager
def temp_body(root: Path, name: str) -> Iterator[Path]:
    """A temporary file for one request body, removed afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
