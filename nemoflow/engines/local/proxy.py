"""Proxy renders for `nemoflow preview`: the same Draft and graph, a small fast output, and small copies of big sources.

The runner only passes the engine option `proxy=LINES` (run/preview.py); what it means is here. An export rendered
with it is written at LINES lines (at most the export's own size) with x264's fastest settings, and every large
video source is first copied once at that height (a *source proxy*, cached by content in the cache directory), so a
4K clip is decoded at 4K once, not on every re-render. Keys differ from full renders (a `proxy` identity component,
and the preview's own output path), so the two caches never mix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from ...draft.media import MediaEntry, MediaKind
from ...draft.model import Draft
from ...draft.ops import even
from ...draft.output import Output
from ...errors import ConfigError, RenderError
from ...media.ffmpeg import atomic_output, ffmpeg_path, ffmpeg_version, run_ffmpeg
from ..base import Message, Reporter, ffmpeg_progress

PROXY_REVISION = 2  # in preview keys and source-proxy names: bump when a proxy would be made differently
OPTION = "proxy"  # the engine option: lines of the preview picture
MIN_LINES, MAX_LINES = 90, 2160
SOURCE_FACTOR = 1.5  # a source gets a proxy only if it is at least this much taller than the preview
WHOLE_FILE_S = 120.0  # a source proxy copies the whole file: only when the file is this short, or ...
USED_FACTOR = 3.0  # ... at most this many times longer than the part of it the edit uses
MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"})  # what the proxy's MP4 takes as it is


@attrs.frozen
class Proxy:
    """A preview's picture size, from the engine option `proxy` (lines)."""

    lines: int

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Proxy | None:
        raw = options.get(OPTION)
        if raw is None or raw == "":
            return None
        try:
            lines = int(str(raw).removesuffix("p"))
        except ValueError:
            lines = 0
        if not MIN_LINES <= lines <= MAX_LINES:
            raise ConfigError(f"a preview's height must be a number of lines from {MIN_LINES} to {MAX_LINES} (e.g. 480); "
                              f"got {raw!r}")
        return cls(lines)

    def identity(self) -> dict[str, str]:
        """The key component of a preview render: a full render and a preview never share a cache entry."""
        return {"proxy": f"{self.lines} lines r{PROXY_REVISION}"}

    def output(self, out: Output) -> Output:
        """The export's output at these lines (never larger), H.264 in MP4 at x264's fastest settings (bare ultrafast:
        media/encode.py's `preview` quality, CRF 26).

        Rate, sound and master volume are the export's own, so the preview plays as the export will; an animated
        picture or a WebM export previews as an MP4 (any player shows it)."""
        height = even(min(self.lines, out.height))
        width = even(out.width * height / out.height)
        return attrs.evolve(out, width=width, height=height, container="mp4", codec="h264", quality="preview", crf=None,
                            bitrate=None, audio="aac" if out.has_audio else "none")


def proxied(draft: Draft, proxy: Proxy, cache_dir: Path, report: Reporter, *, what: str,
            digest_of: Callable[[Path], str | None]) -> Draft:
    """`draft` with each large video source replaced by its proxy (made now when not cached).

    The entry keeps its own size (`w`, `h`): sizes the graph derives from the source's own size (a layer shown at
    its natural size) stay as they are, and the proxy's frames, of the same aspect, are scaled to them. Sources
    whose timing or streams a plain copy might not keep (rotated, late-starting picture, sound MP4 cannot carry, a
    long file of which the edit uses little) are read as they are: slower, never wrong.
    """
    used = _used_ms(draft)
    media = dict(draft.media)
    changed = False
    for media_id in sorted(media):
        entry = draft.media_entry(media_id)
        if not _worth_a_proxy(entry, proxy, used.get(media_id, 0)):
            continue
        assert entry.path is not None
        try:
            path = source_proxy(Path(entry.path), entry, proxy, cache_dir, report, what=what, digest=digest_of(Path(entry.path)))
        except (RenderError, OSError) as err:  # not copyable this way, or no room in the cache: read the file itself
            report.message(Message.WARNING, f"no proxy of {Path(entry.path).name} ({err}); the preview reads the file itself")
            continue
        tracks = tuple(attrs.evolve(t, index=i + 1) for i, t in enumerate(entry.tracks or ()))  # video first, then the sound
        media[media_id] = attrs.evolve(entry, path=str(path), codec="h264", pix_fmt="yuv420p",
                                       tracks=tracks if entry.tracks is not None else None).to_json()
        changed = True
    return draft.with_m(media=media) if changed else draft


def _used_ms(draft: Draft) -> dict[str, float]:
    """Milliseconds of each source the edit reads (every track, at its speed)."""
    used: dict[str, float] = {}
    for track in draft.t:
        for seg in track.sg:
            src = seg.m.get("src")
            if isinstance(src, str):
                used[src] = used.get(src, 0.0) + seg.d * float(seg.m.get("speed", 1.0))
    return used


def _worth_a_proxy(entry: MediaEntry, proxy: Proxy, used_ms: float) -> bool:
    if entry.kind != MediaKind.VIDEO or entry.path is None or not entry.h or not entry.w or not entry.d:
        return False
    if entry.h < proxy.lines * SOURCE_FACTOR or entry.rotation or entry.v_start:
        return False
    if entry.audio and (entry.tracks is None or any(t.codec not in MP4_AUDIO for t in entry.tracks)):
        return False
    return entry.d <= max(WHOLE_FILE_S * 1000, USED_FACTOR * used_ms)


def source_proxy(src: Path, entry: MediaEntry, proxy: Proxy, cache_dir: Path, report: Reporter, *, what: str,
                 digest: str | None) -> Path:
    """The source's proxy in `cache_dir/proxies/`, made once per content: its first picture stream at the preview's
    height (every frame kept at its own time, a keyframe a second for quick seeking), then its sound streams copied
    in file order."""
    st = src.stat()
    content = f"sha256:{digest}" if digest else f"{src.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    name = hashlib.sha256(f"{PROXY_REVISION}|{proxy.lines}|{content}|{ffmpeg_version()}".encode()).hexdigest()[:24]
    dest = cache_dir / "proxies" / f"{name}.mp4"
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    gop = max(1, round(float(entry.fps or 30)))
    phase = f"preview: a {proxy.lines}-line copy of {src.name}"
    report.message(Message.NOTE, f"making a {proxy.lines}-line proxy of {src.name} (once: later previews reuse it)")
    with atomic_output(dest) as tmp:
        args = ["-nostdin", "-i", ffmpeg_path(src), "-map", "0:v:0", *(["-map", "0:a"] if entry.audio else ["-an"]),
                "-vf", f"scale=-2:{proxy.lines}", "-fps_mode", "passthrough",
                "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-g", str(gop), "-pix_fmt", "yuv420p",
                "-c:a", "copy", "-f", "mp4", "-y", str(tmp)]
        run_ffmpeg(args, what=f"{what} ({phase})", on_progress=ffmpeg_progress(report, (entry.d or 0) / 1000, phase))
    return dest
