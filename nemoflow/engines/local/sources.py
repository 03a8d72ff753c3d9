"""Media steps → Draft media entries: probed files, or generated sources described exactly.

An entry holds what the timeline and the graph need (kind, length, size, rate,
audio, pixel format, rotation), so no later stage probes again.
"""

from __future__ import annotations

from typing import Any

from ...core.model import MediaSpec, Step
from ...core.values import Duration, Fps, Frequency, Percent, Resolution
from ...draft.build import color_hex
from ...errors import MediaError

DEFAULT_SIZE = (1920, 1080)


def generated_entry(spec: MediaSpec) -> dict[str, Any]:
    """A generator's entry: its facts are known without running anything."""
    o = spec.options
    duration: Duration = o["duration"]
    gen: dict[str, Any] = {"name": spec.generator}
    entry: dict[str, Any] = {"gen": gen, "d": round(duration.seconds * 1000)}
    if spec.generator in ("pattern", "color"):
        size: Resolution | None = o.get("size")
        w, h = (size.width, size.height) if size else DEFAULT_SIZE
        fps = o.get("fps")
        rate = float(fps.value if isinstance(fps, Fps) else fps) if fps is not None else 30.0
        gen.update(w=w, h=h, fps=rate)
        if spec.generator == "color":
            gen["color"] = color_hex(o["color"])
        else:
            gen["kind"] = o.get("kind") or "testsrc"
        tone: Frequency | None = o.get("tone")
        if tone is not None:
            gen["tone"] = tone.hz
        entry.update(kind="video", w=w, h=h, fps=rate, pix_fmt="yuv420p", audio=tone is not None)
    else:
        if spec.generator == "tone":
            gen["tone"] = o["frequency"].hz
        volume = o.get("volume")
        if isinstance(volume, Percent):
            gen["volume"] = volume.value
        entry.update(kind="audio", audio=True)
    return entry


def file_entry(info) -> dict[str, Any]:
    """A probed file's entry (info: probe.MediaInfo)."""
    entry: dict[str, Any] = {"kind": info.kind, "path": str(info.path), "audio": info.audio is not None}
    if info.duration is not None and info.kind != "image":
        entry["d"] = round(info.duration * 1000)
    v = info.video
    if v is not None:
        entry.update(w=v.width, h=v.height, fps=round(float(v.fps), 3), vfr=bool(v.vfr), pix_fmt=v.pix_fmt, codec=v.codec,
                     rotation=v.rotation)
    return entry


def media_entry(step: Step, *, max_bytes: int | None = None) -> dict[str, Any]:
    """Validate and describe one media step (MediaError for anything unusable, naming the recipe line)."""
    spec: MediaSpec = step.spec
    if spec.source == "generated":
        return generated_entry(spec)
    if spec.source == "url":
        raise MediaError(f"{step.span.file}:{step.span.line}: media `{step.name}` is a URL ({spec.url}); the local engine renders "
                         "files on this machine only. Download it and give its path, or run with the nemo engine.")
    from .media import validate_media

    info = validate_media(spec.path, max_bytes=max_bytes)
    return file_entry(info)
