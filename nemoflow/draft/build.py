"""Compile a checked recipe's edit steps into Drafts, one pure operation per clause.

The caller supplies the media table (entries with probed lengths and sizes:
the engine's job) and the Drafts of steps already built, so this module
stays free of FFmpeg and of the grammar. Errors point at the clause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.model import EditSpec, Op, Step, StepRef
from ..core.values import Color, Decibels, Duration, Factor, Percent
from ..errors import DraftError
from . import ops
from .media import MediaEntry, MediaKind
from .model import Draft
from .schema import checked

MediaLookup = Mapping[str, MediaEntry]
DraftLookup = Callable[[str], Draft]


def ms(value: Duration | None, default: int | None = None) -> int | None:
    return default if value is None else round(value.seconds * 1000)


def percent(value: Percent | Decibels | None, default: float = 100.0) -> float:
    """Volume as a percentage of the original level; decibels are converted (−6 dB ≈ 50%)."""
    if value is None:
        return default
    if isinstance(value, Decibels):
        return round(100.0 * 10 ** (value.value / 20), 3)
    return float(value.value)


def factor(value: Factor | Percent | None) -> float:
    if value is None:
        return 1.0
    return value.value / 100.0 if isinstance(value, Percent) else float(value.value)


def color_hex(value: Color | None) -> str | None:
    if value is None:
        return None
    alpha = f"{value.a:02x}" if value.a != 255 else ""
    return f"#{value.r:02x}{value.g:02x}{value.b:02x}{alpha}"


def media_clip_draft(media_id: str, entry: MediaEntry) -> Draft:
    """A draft holding one whole media file: what an export of a media step renders."""
    if entry.kind == MediaKind.AUDIO:
        raise DraftError(f"`{media_id}` holds only audio; an export needs video (use it with `music` in an edit)")
    if entry.kind == MediaKind.IMAGE:
        return ops.add_clip(Draft(m={"name": media_id}), media_id, entry, d_ms=5000, still=True)
    return ops.add_clip(Draft(m={"name": media_id}), media_id, entry)


def build_edit(step: Step, media: MediaLookup, draft_of: DraftLookup) -> Draft:
    """Apply the edit's clauses in order to its base draft (or an empty one) and validate the result."""
    spec: EditSpec = step.spec
    draft = draft_of(spec.base.id) if spec.base else Draft()
    draft = draft.with_m(name=step.id)
    for op in spec.ops:
        try:
            draft = apply(draft, op, media, draft_of)
        except DraftError as err:
            raise DraftError(f"{op.span}: in {step.id}, `{op.verb}`: {err}") from None
    if draft.m.get("next_tr"):
        last = next(op for op in reversed(spec.ops) if op.verb == "transition")
        raise DraftError(f"{last.span}: in {step.id}, the `transition` has no clip after it; "
                         "add a `video` after it or remove it")
    if not draft.segments(0):
        raise DraftError(f"{step.span}: edit `{step.name}` puts no video on the timeline; "
                         "add a `video`, `image` or `concat` clause")
    return checked(ops.normalize(draft), f"built from {step.id}")


def _source(ref: StepRef, media: MediaLookup, draft_of: DraftLookup) -> tuple[str, MediaEntry | None, Draft | None]:
    if ref.id in media:
        return ref.id, media[ref.id], None
    return ref.id, None, draft_of(ref.id)


def apply(draft: Draft, op: Op, media: MediaLookup, draft_of: DraftLookup) -> Draft:
    """One clause → one operation."""
    a = op.args
    verb = op.verb
    if verb == "video":
        src, entry, other = _source(a["source"], media, draft_of)
        in_ms = ms(a.get("from"), 0)
        speed = factor(a.get("speed"))
        volume = 0.0 if a.get("mute") else percent(a.get("volume"))
        length = _length(a, in_ms, speed)
        if other is not None:
            out_ms = None if length is None else in_ms + round(length * speed)
            return ops.splice(draft, other, in_ms=in_ms, out_ms=out_ms, speed=speed,
                              volume=volume if ("volume" in a or a.get("mute")) else None)
        if entry.kind == MediaKind.AUDIO:
            raise DraftError(f"`{src}` holds only audio; use `music {src}` or `audio {src}`")
        if entry.kind == MediaKind.IMAGE:
            raise DraftError(f"`{src}` is a still image; use `image {src} for 3s`")
        if entry.d is not None and in_ms >= entry.d:
            raise DraftError(f"the in-point {in_ms / 1000:g}s is past the end of `{src}` ({entry.d / 1000:g}s long)")
        if length is not None and entry.d is not None and in_ms + length * speed > entry.d + 1:
            raise DraftError(f"the clip runs to {(in_ms + length * speed) / 1000:g}s but `{src}` is only {entry.d / 1000:g}s long")
        return ops.add_clip(draft, src, entry, in_ms=in_ms, d_ms=length, speed=speed, volume=volume)
    if verb == "image":
        src, entry, _ = _source(a["source"], media, draft_of)
        if entry is None or entry.kind != MediaKind.IMAGE:
            raise DraftError(f"`{src}` is not a still image; use `video {src}`")
        return ops.add_clip(draft, src, entry, d_ms=ms(a["for"]), still=True, fit=a.get("fit"))
    if verb == "concat":
        for ref in a["sources"]:
            src, entry, other = _source(ref, media, draft_of)
            if other is not None:
                draft = ops.splice(draft, other)
            elif entry.kind == MediaKind.IMAGE:
                draft = ops.add_clip(draft, src, entry, d_ms=5000, still=True)
            elif entry.kind == MediaKind.AUDIO:
                raise DraftError(f"`{src}` holds only audio and cannot be concatenated as a clip")
            else:
                draft = ops.add_clip(draft, src, entry)
        return draft
    if verb == "transition":
        return ops.set_transition(draft, a["kind"], ms(a.get("duration"), 500))
    if verb == "grade":
        look = a["look"]
        effect: dict[str, Any] = {"type": "grade", "amount": float(a["amount"].value) if a.get("amount") else 100.0}
        if "lut" in look:
            effect["lut"] = str(look["lut"])
        else:
            effect["preset"] = look["preset"]
        return ops.add_effect(draft, effect)
    if verb == "adjust":
        effect = {"type": "adjust"}
        for key in ("brightness", "contrast", "saturation"):
            if a.get(key) is not None:
                effect[key] = float(a[key].value)
        if a.get("gamma") is not None:
            effect["gamma"] = float(a["gamma"])
        return ops.add_effect(draft, effect)
    if verb == "stabilize":
        effect = {"type": "stabilize"}
        if a.get("strength") is not None:
            effect["strength"] = float(a["strength"].value)
        if a.get("smoothing") is not None:
            effect["smoothing"] = int(a["smoothing"])
        return ops.add_effect(draft, effect)
    if verb in ("title", "text"):
        style = {"role": verb, "at": a.get("at"), "color": color_hex(a.get("color")), "font": a.get("font"),
                 "fade": ms(a.get("fade")), "box": color_hex(a.get("box"))}
        size = a.get("size")
        if size is not None:
            style["size"] = float(getattr(size, "value", size))
        st = ms(a.get("from"), 0)
        to = ms(a.get("to"))
        if to is None and verb == "title":
            to = st + 3000
        if to is not None and to <= st:
            raise DraftError(f"the text would end ({to / 1000:g}s) before it starts ({st / 1000:g}s)")
        return ops.add_text(draft, a["text"], style, st=st, d=None if to is None else to - st)
    if verb == "music":
        src, entry, _ = _source(a["source"], media, draft_of)
        if entry is None:
            raise DraftError(f"`{src}` is an edit, not a media; music plays a media file or generated sound")
        return ops.add_sound(draft, src, entry, in_ms=ms(a.get("from"), 0), volume=percent(a.get("volume")),
                             fade_in=ms(a.get("fade in"), 0), fade_out=ms(a.get("fade out"), 0), loop=bool(a.get("loop")),
                             bed=True, duck=float(a["duck"].value) if a.get("duck") is not None else None)
    if verb == "audio":
        src, entry, _ = _source(a["source"], media, draft_of)
        if entry is None:
            raise DraftError(f"`{src}` is an edit, not a media; `audio` plays a media file or generated sound")
        in_ms = ms(a.get("from"), 0)
        to = ms(a.get("to"))
        return ops.add_sound(draft, src, entry, st=ms(a.get("at"), 0), in_ms=in_ms, d=None if to is None else to - in_ms,
                             volume=percent(a.get("volume")), fade_in=ms(a.get("fade in"), 0), fade_out=ms(a.get("fade out"), 0))
    if verb == "volume":
        return ops.set_volume(draft, percent(a["level"]))
    if verb == "mute":
        return ops.set_volume(draft, 0.0)
    if verb == "reframe":
        aspect = a["aspect"]
        return ops.reframe(draft, aspect.num, aspect.den, a.get("mode") or "crop", color_hex(a.get("color")))
    if verb == "speed":
        return ops.change_speed(draft, factor(a["factor"]))
    if verb == "trim":
        return ops.trim(draft, ms(a.get("from"), 0), ms(a.get("to")))
    if verb == "fade":
        return ops.fade(draft, a["direction"], ms(a["duration"]))
    raise DraftError(f"the local engine has no operation for `{verb}`")  # unreachable: the checker knows every verb


def _length(a: dict[str, Any], in_ms: int, speed: float) -> int | None:
    """Timeline length of a clip from `to` (an out-point in the source) or `for` (a length on the timeline)."""
    if a.get("for") is not None:
        return ms(a["for"])
    if a.get("to") is not None:
        return round((ms(a["to"]) - in_ms) / speed)
    return None
