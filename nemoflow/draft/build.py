"""Compile a checked recipe's edit steps into Drafts, one pure operation per clause.

The caller supplies the media table (entries with probed lengths and sizes:
the engine's job) and the Drafts of steps already built, so this module
stays free of FFmpeg and of the grammar. Errors point at the clause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..core import limits
from ..core.model import Args, EditSpec, Op, Step, StepRef
from ..core.signatures import EDIT_OPS, Signature
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
    _not_too_long(draft, step)
    return checked(ops.normalize(draft), f"built from {step.id}")


def _not_too_long(draft: Draft, step: Step) -> None:
    """A timeline longer than limits.DURATION is refused before anything renders it.

    The checker bounds every duration the recipe writes; this bounds what they add up to once the sources'
    real lengths are known (a 20-hour file slowed to `speed 0.05x` is 400 hours).
    """
    most = limits.DURATION.value()
    if draft.d > most * 1000:
        raise DraftError(f"{step.span}: edit `{step.name}` makes a timeline of {Duration(draft.d / 1000)}, longer than the "
                         f"limit of {limits.DURATION.shown()}; shorten it, or {limits.DURATION.how_to_raise()}")


@attrs.frozen
class _Sources:
    """What a clause may name: media entries (probed by the engine) and the Drafts of other steps."""

    media: MediaLookup
    draft_of: DraftLookup

    def of(self, ref: StepRef) -> tuple[str, MediaEntry | None, Draft | None]:
        if ref.id in self.media:
            return ref.id, self.media[ref.id], None
        return ref.id, None, self.draft_of(ref.id)


def apply(draft: Draft, op: Op, media: MediaLookup, draft_of: DraftLookup) -> Draft:
    """One clause → one operation: the verb's own builder, or, for a clip effect of the signature table, a generic one."""
    builder = _BUILDERS.get(op.verb)
    if builder is not None:
        return builder(draft, op.args, _Sources(media, draft_of), op.verb)
    signature = EDIT_OPS.get(op.verb)
    if signature is not None and signature.effect:
        return ops.add_effect(draft, effect_of(signature, op.args))
    raise DraftError(f"no Draft operation for `{op.verb}`")  # unreachable: the checker knows every verb


def effect_of(signature: Signature, a: Args) -> dict[str, Any]:
    """A clip effect as the Draft keeps it: `{"type": verb, slot: plain value, …}`, slots in the table's order."""
    effect: dict[str, Any] = {"type": signature.verb}
    for slot in (*signature.positional, *signature.keywords):
        value = a.get(slot.name)
        if value is None:
            continue
        if isinstance(value, Duration):
            plain: Any = ms(value)
        elif isinstance(value, Color):
            plain = color_hex(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            plain = int(value) if slot.type == "int" else float(value)
        elif hasattr(value, "value"):  # Percent, Factor, Pixels, Fps, Decibels: the number as written
            plain = float(value.value)
        else:
            plain = value
        effect[slot.name.replace(" ", "_")] = plain
    return effect


def _video(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    src, entry, other = sources.of(a.ref("source"))
    in_ms = ms(a.duration("from"), 0)
    speed = factor(a.factor("speed"))
    volume = 0.0 if a.flag("mute") else percent(a.level("volume"))
    length = _length(a, in_ms, speed)
    track = _track(a)
    if other is not None:
        if track is not None:
            raise DraftError(f"`{src}` is an edit, whose clips already chose their sound; `track` chooses an audio track "
                             "of a media file: remove it here, or put it on the `video` clause in that edit")
        out_ms = None if length is None else in_ms + round(length * speed)
        return ops.splice(draft, other, in_ms=in_ms, out_ms=out_ms, speed=speed,
                          volume=volume if ("volume" in a or a.flag("mute")) else None)
    assert entry is not None
    if entry.kind == MediaKind.AUDIO:
        raise DraftError(f"`{src}` holds only audio; use `music {src}` or `audio {src}`")
    if entry.kind == MediaKind.IMAGE:
        raise DraftError(f"`{src}` is a still image; use `image {src} for 3s`")
    if entry.d is not None and in_ms >= entry.d:
        raise DraftError(f"the in-point {in_ms / 1000:g}s is past the end of `{src}` ({entry.d / 1000:g}s long)")
    if length is not None and entry.d is not None and in_ms + length * speed > entry.d + 1:
        raise DraftError(f"the clip runs to {(in_ms + length * speed) / 1000:g}s but `{src}` is only {entry.d / 1000:g}s long")
    return ops.add_clip(draft, src, entry, in_ms=in_ms, d_ms=length, speed=speed, volume=volume, track=track)


def _track(a: Args) -> int | None:
    """The clause's `track N` (checked against the media by ops.checked_track)."""
    track = a.get("track")
    return None if track is None else int(track)


def _image(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    src, entry, _ = sources.of(a.ref("source"))
    if entry is None or entry.kind != MediaKind.IMAGE:
        raise DraftError(f"`{src}` is not a still image; use `video {src}`")
    return ops.add_clip(draft, src, entry, d_ms=ms(a.duration("for")), still=True, fit=a.text("fit"))


def _concat(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    for ref in a.refs("sources"):
        src, entry, other = sources.of(ref)
        if other is not None:
            draft = ops.splice(draft, other)
        elif entry is not None and entry.kind == MediaKind.IMAGE:
            draft = ops.add_clip(draft, src, entry, d_ms=5000, still=True)
        elif entry is not None and entry.kind == MediaKind.AUDIO:
            raise DraftError(f"`{src}` holds only audio and cannot be concatenated as a clip")
        else:
            draft = ops.add_clip(draft, src, entry)
    return draft


def _grade(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    look = a["look"]
    amount = a.percent("amount")
    effect: dict[str, Any] = {"type": "grade", "amount": float(amount.value) if amount else 100.0}
    if "lut" in look:
        effect["lut"] = str(look["lut"])
    else:
        effect["preset"] = look["preset"]
    return ops.add_effect(draft, effect)


def _text(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    style = {"role": verb, "at": a.text("at"), "color": color_hex(a.color("color")), "font": font_value(a),
             "fade": ms(a.duration("fade")), "box": color_hex(a.color("box"))}
    size = a.number("size")
    if size is not None:
        style["size"] = size
    st = ms(a.duration("from"), 0)
    to = ms(a.duration("to"))
    if to is None and verb == "title":
        to = st + 3000
    if to is not None and to <= st:
        raise DraftError(f"the text would end ({to / 1000:g}s) before it starts ({st / 1000:g}s)")
    return ops.add_text(draft, a["text"], style, st=st, d=None if to is None else to - st)


def font_value(a: Args) -> str | None:
    """A text's `font` as the Draft keeps it: a family name, or a font file's absolute path.

    The checker resolved a file against the recipe (lang/check/coerce.py), so the Draft, the cache key and the
    engine name the same file whatever the current directory.
    """
    font = a.get("font")
    if font is None or isinstance(font, str):
        return font
    if isinstance(font, Path) and font.is_absolute():
        return str(font)
    raise TypeError(f"argument `font` is {font!r}, expected a family name or an absolute path")


def _music(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    src, entry, _ = sources.of(a.ref("source"))
    if entry is None:
        raise DraftError(f"`{src}` is an edit, not a media; music plays a media file or generated sound")
    duck = a.percent("duck")
    return ops.add_sound(draft, src, entry, in_ms=ms(a.duration("from"), 0), volume=percent(a.level("volume")),
                         fade_in=ms(a.duration("fade in"), 0), fade_out=ms(a.duration("fade out"), 0), loop=a.flag("loop"),
                         bed=True, duck=float(duck.value) if duck is not None else None, track=_track(a))


def _audio(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    src, entry, _ = sources.of(a.ref("source"))
    if entry is None:
        raise DraftError(f"`{src}` is an edit, not a media; `audio` plays a media file or generated sound")
    in_ms = ms(a.duration("from"), 0)
    to = ms(a.duration("to"))
    return ops.add_sound(draft, src, entry, st=ms(a.duration("at"), 0), in_ms=in_ms, d=None if to is None else to - in_ms,
                         volume=percent(a.level("volume")), fade_in=ms(a.duration("fade in"), 0),
                         fade_out=ms(a.duration("fade out"), 0), track=_track(a))


def _loudness(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    """The programme's loudness target: kept on the draft and applied at export to the whole mix (whatever the
    clause's place among the others), two-pass (engines/local/export.py)."""
    target, peak = a["target"], a.get("peak")
    return draft.with_m(loudness={"i": float(target.lufs), "tp": float(peak.dbtp) if peak is not None else -1.0})


def _reframe(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    aspect = a["aspect"]
    return ops.reframe(draft, aspect.num, aspect.den, a.text("mode") or "crop", color_hex(a.color("color")))


def _stabilize(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    effect = effect_of(EDIT_OPS[verb], a)
    span = effect.pop("from", None), effect.pop("to", None)  # timeline points: ops.stabilize turns them into source times
    return ops.stabilize(draft, effect, *span)


_BUILDERS: dict[str, Callable[[Draft, Args, _Sources, str], Draft]] = {
    "video": _video,
    "image": _image,
    "concat": _concat,
    "transition": lambda d, a, s, v: ops.set_transition(d, a["kind"], ms(a.duration("duration"), 500)),
    "grade": _grade,
    "title": _text,
    "text": _text,
    "music": _music,
    "audio": _audio,
    "volume": lambda d, a, s, v: ops.set_volume(d, percent(a.level("level"))),
    "mute": lambda d, a, s, v: ops.set_volume(d, 0.0),
    "reframe": _reframe,
    "speed": lambda d, a, s, v: ops.change_speed(d, factor(a.factor("factor"))),
    "stabilize": _stabilize,
    "trim": lambda d, a, s, v: ops.trim(d, ms(a.duration("from"), 0), ms(a.duration("to"))),
    "fade": lambda d, a, s, v: ops.fade(d, a["direction"], ms(a.duration("duration"))),
    "loudness": _loudness,
}
"""Verbs whose clause means more than a clip effect; the others with `effect=True` in the table are built by effect_of."""


def _length(a: Args, in_ms: int, speed: float) -> int | None:
    """Timeline length of a clip from `to` (an out-point in the source) or `for` (a length on the timeline)."""
    if a.duration("for") is not None:
        return ms(a.duration("for"))
    out = a.duration("to")
    if out is not None:
        return round((ms(out) - in_ms) / speed)
    return None
