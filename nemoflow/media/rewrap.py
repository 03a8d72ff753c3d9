"""MPEG transport streams rewrapped (stream copy) into Matroska before FFmpeg seeks in them.

A transport stream has no index: FFmpeg seeks in it by bisecting on packet
timestamps and lands on whatever packet is there, usually not a keyframe, so
the decoder's first picture is the *next* keyframe (an in-point at 0.5 s
starts at 1.0 s; one after the last keyframe gives no picture at all). Copied
into Matroska, the same packets get a cue index: seeks land on keyframes and
decoding reaches the exact in-point. Nothing is re-encoded (LPCM of Blu-ray
kind, which Matroska cannot hold, becomes plain 24-bit PCM, losslessly), the
timestamps are kept (so `-ss` means the same in both), and so are the stream
indices of the picture and sound (subtitle and data streams, which Matroska
may not hold, are left out: a camera writes them after the sound). The copy
is cached by the file's path, size, modification time and the FFmpeg build,
so a re-run does not copy again; a clip read from its start needs no copy.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..config import cache_dir
from ..core.sniff import sniff_file
from ..errors import RenderError
from .ffmpeg import atomic_output, ffmpeg_path, ffmpeg_version, run_ffmpeg

TRANSPORT_TYPES = ("ts", "m2ts")


def is_transport_stream(path: str | os.PathLike[str]) -> bool:
    """Judged by content (the 0x47 sync bytes), not by the name; cached on the file's size and mtime."""
    try:
        return sniff_file(Path(path)).type in TRANSPORT_TYPES
    except OSError:
        return False


def seekable_path(path: str | os.PathLike[str]) -> str:
    """`path`, or for a transport stream its indexed Matroska copy (written once, in the cache directory)."""
    if not is_transport_stream(path):
        return os.fspath(path)
    st = os.stat(path)
    ident = f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{ffmpeg_version()}"
    dest = cache_dir() / "rewrapped" / f"{hashlib.sha256(ident.encode()).hexdigest()[:24]}.mkv"
    if dest.is_file():
        return os.fspath(dest)
    name = Path(path).name
    base = ["-i", ffmpeg_path(path), "-map", "0", "-sn", "-dn", "-c", "copy"]  # in the file's order: indices kept
    with atomic_output(dest) as tmp:
        try:
            run_ffmpeg([*base, "-f", "matroska", "-y", ffmpeg_path(tmp)], what=f"indexing the transport stream {name}")
        except RenderError:  # Blu-ray/DVD LPCM: Matroska takes it as plain PCM
            run_ffmpeg([*base, "-c:a", "pcm_s24le", "-f", "matroska", "-y", ffmpeg_path(tmp)],
                       what=f"indexing the transport stream {name}")
    return os.fspath(dest)
