"""Media steps → media entries: probed files, or generated sources described exactly.

An entry holds what the timeline and an engine need (kind, length, size,
rate, audio, pixel format, rotation), so no later stage probes again.
"""

from __future__ import annotations

from typing import Any

from ..core.model import MediaSource, MediaSpec, Step
from ..core.signatures import GRADIENT_ANGLE
from ..core.values import Color, Duration, Fps, Frequency, Percent, Resolution
from ..draft.media import MediaEntry, MediaKind
from ..errors import MediaError
from .probe import MediaInfo

DEFAULT_SIZE = (1920, 1080)
LATE_START_MS = 1.0  # a picture starting later than this after the file's start is recorded (MediaEntry.v_start)


def generated_entry(spec: MediaSpec) -> MediaEntry:
    """A generator's entry: its facts are known without running anything."""
    o = spec.options
    duration: Duration = o["duration"]
    gen: dict[str, Any] = {"name": spec.generator}
    d = round(duration.seconds * 1000)
    if spec.generator in ("pattern", "color", "gradient"):
        size: Resolution | None = o.get("size")
        w, h = (size.width, size.height) if size else DEFAULT_SIZE
        fps = o.get("fps")
        rate = float(fps.value if isinstance(fps, Fps) else fps) if fps is not None else 30.0
        gen.update(w=w, h=h, fps=rate)
        if spec.generator == "color":
            color: Color = o["color"]
            gen["color"] = color.hex()
        elif spec.generator == "gradient":
            kind = o.get("kind") or "linear"
            gen.update(kind=kind, colors=[c.hex() for c in o["colors"]])
            if kind == "linear":
                angle = o.get("angle")
                gen["angle"] = float(angle) if angle is not None else GRADIENT_ANGLE
        else:
            gen["kind"] = o.get("kind") or "testsrc"
        tone: Frequency | None = o.get("tone")
        if tone is not None:
            gen["tone"] = tone.hz
        return MediaEntry(MediaKind.VIDEO, audio=tone is not None, d=d, w=w, h=h, fps=rate, pix_fmt="yuv420p", gen=gen)
    if spec.generator == "tone":
        gen["tone"] = o["frequency"].hz
    volume = o.get("volume")
    if isinstance(volume, Percent):
        gen["volume"] = volume.value
    return MediaEntry(MediaKind.AUDIO, audio=True, d=d, gen=gen)


def file_entry(info: MediaInfo) -> MediaEntry:
    """A probed file's entry."""
    d = round(info.duration * 1000) if info.duration is not None and info.kind != "image" else None
    v = info.video
    tracks = info.tracks or None
    if v is None:
        return MediaEntry(MediaKind(info.kind), audio=info.audio is not None, d=d, path=str(info.path), tracks=tracks)
    rates = {"fps_min": round(v.fps_min, 3), "fps_avg": round(v.fps_avg, 3)} if v.vfr and v.fps_min else {}  # for the VFR note
    if v.start * 1000 > LATE_START_MS:  # the picture starts after the sound: the graph holds its first frame till then
        rates["v_start"] = round(v.start * 1000, 3)
    if d is not None and v.duration:  # a whole clip ends with its last frame, though its sound may run on (AAC in MKV)
        d = min(d, round(v.duration * 1000))
    return MediaEntry(MediaKind(info.kind), audio=info.audio is not None, d=d, w=v.width, h=v.height, fps=round(float(v.fps), 3),
                      vfr=bool(v.vfr), pix_fmt=v.pix_fmt, codec=v.codec, rotation=v.rotation, path=str(info.path), tracks=tracks,
                      **rates)


def media_entry(step: Step[MediaSpec], *, max_bytes: int | None = None) -> MediaEntry:
    """Validate and describe one media step on this machine (MediaError for anything unusable, naming the recipe line)."""
    spec = step.spec
    if spec.source == MediaSource.GENERATED:
        return generated_entry(spec)
    if spec.source == MediaSource.URL or spec.path is None:
        raise MediaError(f"{step.span}: media `{step.name}` is a URL ({spec.url}); it has no file on this machine to describe. "
                         "Download it and give its path, or run with the nemo engine.")
    from .validate import validate_media

    return file_entry(validate_media(spec.path, max_bytes=max_bytes))
