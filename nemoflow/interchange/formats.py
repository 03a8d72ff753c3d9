"""The file formats a cut is written in and read from, each through OTIO's own adapter (no writer of ours).

| format    | adapter (package)                      | suffix     | media paths          |
| otio      | otio_json (opentimelineio)             | .otio      | relative to the file |
| fcpxml    | fcpx_xml (otio-fcpx-xml-adapter)       | .fcpxml    | file:// URLs         |
| fcp7xml   | fcp_xml (otio-fcp-adapter)             | .xml       | file:// URLs         |
| edl       | cmx_3600 (otio-cmx3600-adapter)        | .edl       | file:// URLs         |
| kdenlive  | kdenlive (otio-kdenlive-adapter)       | .kdenlive  | file:// URLs         |
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import attrs

from ..core.frames import exact_rate
from . import INSTALL_HINT, InterchangeError, otio


@attrs.frozen
class Format:
    name: str
    adapter: str
    suffix: str
    package: str

    @property
    def relative_paths(self) -> bool:
        """OTIO's own JSON keeps paths relative to the file, so a folder of cut + footage moves as one; NLE formats
        need absolute file URLs to find the media."""
        return self.name == "otio"


FORMATS = {f.name: f for f in (
    Format("otio", "otio_json", ".otio", "opentimelineio"),
    Format("fcpxml", "fcpx_xml", ".fcpxml", "otio-fcpx-xml-adapter"),
    Format("fcp7xml", "fcp_xml", ".xml", "otio-fcp-adapter"),
    Format("edl", "cmx_3600", ".edl", "otio-cmx3600-adapter"),
    Format("kdenlive", "kdenlive", ".kdenlive", "otio-kdenlive-adapter"),
)}


def choose(path: Path, name: str | None) -> Format:
    """The format asked for, else the one the file's suffix names."""
    if name is not None:
        if name not in FORMATS:
            raise InterchangeError(f"--format {name}: not a format nemoflow writes; one of {', '.join(FORMATS)}")
        return FORMATS[name]
    for f in FORMATS.values():
        if path.suffix.lower() == f.suffix:
            return f
    raise InterchangeError(f"{path}: cannot tell the format from `{path.suffix or 'no suffix'}`; name the file "
                           f"{', '.join('*' + f.suffix for f in FORMATS.values())} or give --format "
                           f"({', '.join(FORMATS)})")


def _adapter(fmt: Format) -> None:
    o = otio()
    if fmt.adapter not in o.adapters.available_adapter_names():
        raise InterchangeError(f"OTIO's `{fmt.adapter}` adapter for {fmt.name} is not installed ({fmt.package}): "
                               f"{INSTALL_HINT}")


def write(timeline, dest: Path, fmt: Format) -> None:
    """Serialise with the format's adapter, then write beside `dest` and rename: never a half-written cut."""
    o = otio()
    _adapter(fmt)
    try:
        with _quiet():
            text = o.adapters.write_to_string(timeline, adapter_name=fmt.adapter)
    except Exception as exc:  # the adapters raise their own types (NotSupportedError, ValueError, KeyError…)
        raise InterchangeError(f"the {fmt.name} adapter cannot write this cut: {type(exc).__name__}: {exc}") from None
    write_text_atomic(dest, text)


def read(path: Path, fmt: Format, *, fps: float | None = None):
    """The file's timeline, as its adapter reads it (an EDL does not say its rate: `fps`, else 24 as CMX assumes)."""
    o = otio()
    _adapter(fmt)
    if not path.is_file():
        raise InterchangeError(f"{path}: no such file")
    kwargs = {"rate": float(exact_rate(fps or 24))} if fmt.name == "edl" else {}
    try:
        with _quiet():
            result = o.adapters.read_from_file(str(path), adapter_name=fmt.adapter, **kwargs)
    except Exception as exc:
        raise InterchangeError(f"{path}: the {fmt.name} adapter cannot read it: {type(exc).__name__}: {exc}") from None
    if isinstance(result, o.schema.SerializableCollection):
        timelines = [t for t in result.find_children(descended_from_type=o.schema.Timeline)] or \
            [t for t in result if isinstance(t, o.schema.Timeline)]
        if len(timelines) != 1:
            raise InterchangeError(f"{path} holds {len(timelines)} timelines; nemoflow imports one (export one sequence)")
        result = timelines[0]
    if not isinstance(result, o.schema.Timeline):
        raise InterchangeError(f"{path} holds a {type(result).__name__}, not a timeline")
    return result


@contextlib.contextmanager
def _quiet():
    """The kdenlive adapter prints a banner on stdout (it is deprecated upstream); nemoflow's output stays its own."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


NTSC = {24000 / 1001: "1001/24000s", 30000 / 1001: "1001/30000s", 60000 / 1001: "1001/60000s"}


def _fcpx_ntsc() -> None:
    """The fcpx_xml adapter looks a rate up in a table keyed 23.98, 29.97, 59.94 (after truncating it to an int
    first), so an exact NTSC rate finds no frameDuration and the adapter crashes (OpenTimelineIO issue #903). The
    exact rates are added to its table: then every time it writes is a whole number of 1001/30000 s frames."""
    table = otio().adapters.from_name("fcpx_xml").module().FRAMERATE_FRAMEDURATION  # the module as the plugin system loaded it
    for rate, duration in NTSC.items():
        table.setdefault(rate, duration)


def prepare(timeline, fmt: Format) -> list[str]:
    """Fit a timeline to what the format's adapter writes (in place); a warning for each thing it drops."""
    o = otio()
    warnings: list[str] = []
    video = [t for t in timeline.tracks if t.kind == o.schema.TrackKind.Video]
    audio = [t for t in timeline.tracks if t.kind == o.schema.TrackKind.Audio]
    rate = timeline.global_start_time.rate if timeline.global_start_time is not None else 24.0
    if fmt.name != "otio":
        warnings += _files_only(o, timeline)
    if fmt.name == "fcpxml":
        _fcpx_ntsc()
    if fmt.name in ("fcpxml", "edl"):
        _markers_onto_clips(o, timeline, video[0] if video else None)
    if fmt.name in ("edl", "fcp7xml", "fcpxml") and not o.opentime.RationalTime.is_valid_timecode_rate(rate):
        raise InterchangeError(f"{fmt.name} counts in SMPTE timecode, which has no {rate:g} fps (23.976, 24, 25, 29.97, "
                               "30, 48, 50, 59.94, 60); give the export one of those rates (`fps 25`), or write .otio "
                               "or .kdenlive")
    if fmt.name == "edl":
        for track in video[1:] + audio[2:]:
            warnings.append(f"edl: an EDL holds one picture track and two sound tracks; track {track.name} is left out")
            del timeline.tracks[list(timeline.tracks).index(track)]
        if abs(rate * 1.001 - round(rate * 1.001)) < 1e-6 and round(rate) != rate and round(rate) % 30 == 0:
            if any(c.markers for c in timeline.find_clips()):
                warnings.append("edl: titles are written as LOC lines with drop-frame timecode, which OTIO's EDL reader "
                                "skips: an NLE sees them, `nemoflow import` does not")
            for clip in timeline.find_clips():
                warps = [fx for fx in clip.effects if isinstance(fx, o.schema.LinearTimeWarp)]
                for fx in warps:
                    clip.effects.remove(fx)
                    warnings.append(f"edl: `{clip.name}` plays at {fx.time_scalar:g}x, but OTIO's EDL reader cannot read "
                                    "the M2 (speed) line it writes with drop-frame timecode; the clip is written at 1x")
    if fmt.name in ("fcpxml", "fcp7xml"):
        for clip in timeline.find_clips():
            for fx in [fx for fx in clip.effects if isinstance(fx, o.schema.LinearTimeWarp)]:
                warnings.append(f"{fmt.name}: the adapter writes no speed change; `{clip.name}` at {fx.time_scalar:g}x "
                                "is written at 1x (same length on the timeline)")
    if fmt.name in ("kdenlive", "fcpxml"):
        n = sum(1 for t in timeline.tracks for i in t if isinstance(i, o.schema.Transition))
        if n:
            warnings.append(f"{fmt.name}: the adapter writes no transitions; {n} become{'s' if n == 1 else ''} "
                            f"{'a cut' if n == 1 else 'cuts'} at the start of the overlap")
    if fmt.name == "edl":
        for clip in timeline.find_clips():  # named by their files, which is what an EDL's reader can find again
            if isinstance(clip.media_reference, o.schema.ExternalReference):
                clip.name = Path(urlparse(clip.media_reference.target_url).path).name
    return warnings


def _files_only(o, timeline) -> list[str]:
    """An NLE opens files: a clip of generated media (a pattern, a colour) or of a web address becomes a gap of its
    length, so every later cut stays where it was."""
    warnings = []
    for track in timeline.tracks:
        for i, item in enumerate(list(track)):
            if isinstance(item, o.schema.Clip) and not isinstance(item.media_reference, o.schema.ExternalReference):
                gap = o.schema.Gap(source_range=o.opentime.TimeRange(item.source_range.start_time - item.source_range.start_time,
                                                                     item.source_range.duration))
                del track[i]
                track.insert(i, gap)
                warnings.append(f"`{item.name}` is not a file an NLE can open (generated or remote media); it is written "
                                "as a gap of its length (use --format otio to keep it)")
        for i, item in reversed(list(enumerate(track))):  # a transition needs a clip on both sides in every NLE format
            if isinstance(item, o.schema.Transition):
                before, after = (track[i - 1] if i else None), (track[i + 1] if i + 1 < len(track) else None)
                if not isinstance(before, o.schema.Clip) or not isinstance(after, o.schema.Clip):
                    del track[i]  # a transition takes no track time: the clips stay where they were
                    if isinstance(after, o.schema.Clip):
                        warnings.append(f"the transition into `{after.name}` has no clip before it in this format; "
                                        "written as a cut")
    return warnings


def _markers_onto_clips(o, timeline, track) -> None:
    """fcpxml and EDL keep only markers on clips: each timeline marker moves onto the picture clip under its start
    (in the clip's own time, as OTIO places clip markers)."""
    if track is None:
        return
    for marker in list(timeline.tracks.markers):
        start = marker.marked_range.start_time
        for clip in track.find_clips():
            where = clip.range_in_parent()
            if where.start_time <= start < where.end_time_exclusive():
                local = clip.source_range.start_time + (start - where.start_time)
                moved = o.schema.Marker(name=marker.name, marked_range=o.opentime.TimeRange(local, marker.marked_range.duration),
                                        color=marker.color, metadata=marker.metadata)
                clip.markers.append(moved)
                del timeline.tracks.markers[list(timeline.tracks.markers).index(marker)]
                break


def file_url(path: Path) -> str:
    return path.resolve().as_uri()


def url_path(url: str, base: Path) -> Path | None:
    """A target_url as a path: a file:// URL, an absolute path, or one relative to `base` (the cut's folder)."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http:… (a single letter is a Windows drive)
        return None
    p = Path(url)
    return p if p.is_absolute() else base / p


def write_text_atomic(dest: Path, text: str) -> None:
    """Beside the target, then renamed: an interrupted write leaves no half cut or recipe under its name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
