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
from ..core.signatures import EDIT_OPS, KENBURNS_ZOOM, Signature
from ..core.subtitles import InlineCaptions, SubtitleError, read_subtitles
from ..core.values import Color, Decibels, Duration, Factor, Percent, Pixels
from ..errors import DraftError
from . import captions, layers, mix, ops
from .media import MediaEntry, MediaKind
from .model import AUDIO, VIDEO, Draft
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
    for n, op in enumerate(spec.ops):
        try:
            draft = apply(draft, op, media, draft_of)
        except DraftError as err:
            raise DraftError(f"{op.span}: in {step.id}, `{op.verb}`: {err}") from None
        if op.verb == "audio":
            draft = _tag_last_sound(draft, n)
    draft = _placed_sounds_inside(draft, spec, step)
    if draft.m.get("next_tr"):
        last = next(op for op in reversed(spec.ops) if op.verb == "transition")
        raise DraftError(f"{last.span}: in {step.id}, the `transition` has no clip after it; "
                         "add a `video` after it or remove it")
    if not draft.segments(0):
        raise DraftError(f"{step.span}: edit `{step.name}` puts no video on the timeline; "
                         "add a `video`, `image` or `concat` clause")
    _not_too_long(draft, step)
    return checked(ops.normalize(draft), f"built from {step.id}")


_CLAUSE = "_clause"
"""Build-time only: the index of the `audio` clause that placed a sound, so that a sound the final timeline does not
reach is reported at its clause (_placed_sounds_inside). Removed before the Draft leaves build_edit."""


def _tag_last_sound(draft: Draft, n: int) -> Draft:
    sounds = list(draft.segments(AUDIO))
    sounds[-1] = sounds[-1].with_m(**{_CLAUSE: n})
    return draft.with_segments(AUDIO, sounds)


def _placed_sounds_inside(draft: Draft, spec: EditSpec, step: Step) -> Draft:
    """An `audio` placed at or after the end of the finished timeline is an error with the numbers, at its clause.

    Judged once the edit is complete, because a later clip may extend the timeline to reach the sound; a sound a
    later `trim` or `cut` removed is gone on purpose and is not reported. Untags the sounds.
    """
    if not draft.track(AUDIO):
        return draft
    total = draft.d
    for seg in draft.segments(AUDIO):
        n = seg.m.get(_CLAUSE)
        if n is not None and seg.st >= total:
            op = spec.ops[n]
            at = ms(op.args.duration("at"), 0) or 0
            where = f"`at {at / 1000:g}s` places it" if at == seg.st else f"it starts at {seg.st / 1000:g}s"
            raise DraftError(f"{op.span}: in {step.id}, `audio`: {where}, but the finished timeline is only "
                             f"{total / 1000:g}s long, so it would never play; place it before {total / 1000:g}s, or "
                             "add the clips it belongs with before it")
    return draft.with_segments(AUDIO, [attrs.evolve(s, m={k: v for k, v in s.m.items() if k != _CLAUSE})
                                       for s in draft.segments(AUDIO)])


def _in_point_inside(src: str, entry: MediaEntry, in_ms: int) -> None:
    """A sound's `from` must leave something of its file to play (the same rule as a clip's in-point)."""
    if entry.d is not None and in_ms >= entry.d:
        raise DraftError(f"the in-point {in_ms / 1000:g}s is past the end of `{src.removeprefix('media.')}` "
                         f"({entry.d / 1000:g}s long), so "
                         f"nothing of it would play; give a `from` under {entry.d / 1000:g}s")


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


def _weigh_clips(draft: Draft, a: Args, first: int) -> Draft:
    """`video … weight N` (the clips it added) and `volume … weight N` (every clip so far): their own sound's weight
    in the mix (draft/mix.py)."""
    weight = a.number("weight")
    return draft if weight is None else mix.set_clip_weight(draft, weight, first)


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
             "fade": ms(a.duration("fade")), "box": color_hex(a.color("box")),
             "style": a.text("style"), "bar": color_hex(a.color("bar")), "align": a.text("align"),
             "animate": a.text("animate"), "stagger": ms(a.duration("stagger")),
             "wrap": _extent(a.get("wrap")), "x": _extent(a.get("x")), "y": _extent(a.get("y"))}
    size = a.number("size")
    if size is not None:
        style["size"] = size
    for key in ("x", "y", "wrap"):
        if style[key] is not None and style[key].get("pct", 0) > 100:
            raise DraftError(f"`{key} {a[key]}` is more than the whole frame; a percentage of the frame is 0% to 100%, "
                             "or give pixels (`40px`)")
    st = ms(a.duration("from"), 0)
    to = ms(a.duration("to"))
    if to is None and verb == "title":
        to = st + 3000
    if to is not None and to <= st:
        raise DraftError(f"the text would end ({to / 1000:g}s) before it starts ({st / 1000:g}s)")
    return ops.add_text(draft, a["text"], style, st=st, d=None if to is None else to - st)


def _captions(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    """`captions "talk.srt"` / `captions [[0s, 2s, "Hi"], …]`: caption segments on the timeline so far (draft/captions.py)."""
    outline = a.get("outline")
    px, line_color = outline if isinstance(outline, tuple) else (outline, None)
    style = captions.CaptionStyle(
        font=font_value(a), size=a.number("size"), color=color_hex(a.color("color")), box=color_hex(a.color("box")),
        outline=None if px is None else {k: v for k, v in (("px", float(px.value)), ("color", color_hex(line_color))) if v is not None},
        at=a.text("at"), x=_extent(a.get("x")), y=_extent(a.get("y")), wrap=_extent(a.get("wrap")), align=a.text("align"))
    for key in ("x", "y", "wrap"):
        if (getattr(style, key) or {}).get("pct", 0) > 100:
            raise DraftError(f"`{key} {a[key]}` is more than the whole frame; a percentage of the frame is 0% to 100%")
    source = a["source"]
    if isinstance(source, InlineCaptions):
        cues = [captions.TimedText(line.start, line.end, line.text) for line in source.lines]
        name = "inline captions"
    else:
        path = Path(source)
        name = path.name
        try:
            subs = read_subtitles(path, str(path))
        except SubtitleError as err:  # changed since `check` read it
            raise DraftError(str(err)) from None
        cues = [captions.TimedText(c.start, c.end, c.text) for c in subs.cues]
    mode = captions.SOFT if a.flag("soft") else captions.BURN
    return captions.add_captions(draft, cues, captions.Caption(mode, style, source=name), offset=ms(a.duration("from"), 0))


def _extent(value: Percent | Pixels | None) -> dict[str, float] | None:
    """A text's `wrap`, `x` or `y` as the Draft keeps it: {"pct": 80} of the frame, or {"px": 600}."""
    if value is None:
        return None
    return {"pct": float(value.value)} if isinstance(value, Percent) else {"px": float(value.value)}


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


def _overlay(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    """`overlay` / `pip`: a new layer over the picture (draft/layers.py); `pip` starts from its own defaults."""
    src, entry, _ = sources.of(a.ref("source"))
    if entry is None:
        raise DraftError(f"`{src}` is an edit; `{verb}` shows a media (an image or a video): export the edit and "
                         "declare the file as a media to overlay it")
    look: dict[str, Any] = dict(layers.PIP_DEFAULTS) if verb == "pip" else {}
    box = {"at": a.text("at"), "x": _extent(a.get("x")), "y": _extent(a.get("y")), "w": _extent(a.get("width")),
           "h": _extent(a.get("height"))}
    if verb == "pip" and (box["x"] or box["y"]) and not box["at"]:
        look.pop("at")  # explicit x/y place it; `at`'s default would only fill the other axis
    if box["h"] and not box["w"]:
        look.pop("w", None)  # a height alone keeps the aspect, as for `overlay`
    look.update({k: v for k, v in box.items() if v is not None})
    for key in ("origin", "fit"):
        if key in a:
            look[key] = a.text(key)
    if "opacity" in a:
        look["opacity"] = float(a.percent("opacity").value)
    if "fade" in a:
        look["fade"] = {"in": ms(a.duration("fade")), "out": ms(a.duration("fade"))}
    if "volume" in a:
        look["volume"] = percent(a.level("volume"))
    border = a.get("border")
    if border is not None:
        width, color = border if isinstance(border, tuple) else (border, None)
        look["border"] = {"w": float(width.value), "c": color_hex(color) or "#ffffff"}
        if not look["border"]["w"]:
            look.pop("border")
    motion = {"at": a.text("move"), "x": _extent(a.get("move-x")), "y": _extent(a.get("move-y")), "w": _extent(a.get("scale"))}
    motion = {k: v for k, v in motion.items() if v is not None}
    if motion:
        motion["ease"] = a.text("ease") or "linear"
        look["motion"] = motion  # an `ease` alone is refused by the checker (E350)
    st = ms(a.duration("from"), 0)
    to = ms(a.duration("to"))
    return layers.add_overlay(draft, src, entry, st=st, d=None if to is None else to - st, in_ms=ms(a.duration("skip"), 0),
                              look=look)


def _music(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    src, entry, _ = sources.of(a.ref("source"))
    if entry is None:
        raise DraftError(f"`{src}` is an edit, not a media; music plays a media file or generated sound")
    duck = a.percent("duck")
    _in_point_inside(src, entry, ms(a.duration("from"), 0))
    return ops.add_sound(draft, src, entry, in_ms=ms(a.duration("from"), 0), volume=percent(a.level("volume")),
                         fade_in=ms(a.duration("fade in"), 0), fade_out=ms(a.duration("fade out"), 0), loop=a.flag("loop"),
                         bed=True, duck=float(duck.value) if duck is not None else None, track=_track(a),
                         weight=a.number("weight"))


def _audio(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    src, entry, _ = sources.of(a.ref("source"))
    if entry is None:
        raise DraftError(f"`{src}` is an edit, not a media; `audio` plays a media file or generated sound")
    in_ms = ms(a.duration("from"), 0)
    _in_point_inside(src, entry, in_ms)
    to = ms(a.duration("to"))
    st, d, tempo = ms(a.duration("at"), 0), None if to is None else to - in_ms, None
    if a.text("fit"):
        st, d, tempo = _fitted(draft, a.text("fit"), src, entry, in_ms, d)
    return ops.add_sound(draft, src, entry, st=st, in_ms=in_ms, d=d,
                         volume=percent(a.level("volume")), fade_in=ms(a.duration("fade in"), 0),
                         fade_out=ms(a.duration("fade out"), 0), track=_track(a), weight=a.number("weight"), tempo=tempo)


TEMPO_RANGE = (0.5, 100.0)
"""How far `audio … fit stretch` may change a sound's tempo (editly's range; FFmpeg's atempo goes 0.5x-100x per
instance): outside it the sound would be unrecognisable, so the clause is refused with the numbers."""


def _fitted(draft: Draft, fit: str, src: str, entry: MediaEntry, in_ms: int, d: int | None) -> tuple[int, int, float | None]:
    """`audio … fit cut|stretch`: start, length on the timeline and tempo of a sound placed with the last clip so far.

    `cut` plays it from the clip's first frame and stops at the clip's end (a shorter sound simply ends); `stretch`
    changes its tempo (pitch kept) so that the part played, `from`..`to` or to the file's end, spans the clip exactly.
    """
    video = draft.segments(VIDEO)
    if not video:
        raise DraftError(f"`fit {fit}` places the sound with the last clip so far, and there is none; put this line "
                         "after the `video` or `image` it belongs with")
    clip = video[-1]
    name = src.removeprefix("media.")
    available = d if d is not None else (entry.d - in_ms if entry.d is not None else None)
    if available is None or available <= 0:
        raise DraftError(f"`{name}` has no length to fit to the clip")
    if fit == "cut":
        return clip.st, min(available, clip.d), None
    tempo = available / clip.d
    lo, hi = TEMPO_RANGE
    if not lo <= tempo <= hi:
        raise DraftError(f"stretching {available / 1000:g}s of `{name}` over the {clip.d / 1000:g}s clip would play it "
                         f"at {tempo:.3g}x, outside {lo:g}x-{hi:g}x; use `fit cut`, or choose a part with `from`/`to` "
                         f"between {clip.d * lo / 1000:g}s and {clip.d * hi / 1000:g}s long")
    return clip.st, clip.d, round(tempo, 6)


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


def _kenburns(draft: Draft, a: Args, sources: _Sources, verb: str) -> Draft:
    """A zoom/pan on the last clip so far (`all`: every clip so far); the zooms are always written, so the Draft
    says exactly what is drawn (an engine needs no defaults of its own)."""
    given = effect_of(EDIT_OPS[verb], a)
    effect = {"type": verb, "from": given.get("from", KENBURNS_ZOOM[0]), "to": given.get("to", KENBURNS_ZOOM[1])}
    if "pan" in given:
        effect["pan"] = given["pan"]
    return ops.kenburns(draft, effect, every=a.flag("all"))


_BUILDERS: dict[str, Callable[[Draft, Args, _Sources, str], Draft]] = {
    "video": lambda d, a, s, v: _weigh_clips(_video(d, a, s, v), a, len(d.segments(VIDEO))),
    "image": _image,
    "concat": _concat,
    "transition": lambda d, a, s, v: ops.set_transition(d, a["kind"], ms(a.duration("duration"), 500), a.get("ease")),
    "grade": _grade,
    "title": _text,
    "text": _text,
    "captions": _captions,
    "music": _music,
    "audio": _audio,
    "volume": lambda d, a, s, v: _weigh_clips(ops.set_volume(d, percent(a.level("level"))), a, 0),
    "mute": lambda d, a, s, v: ops.set_volume(d, 0.0),
    "reframe": _reframe,
    "speed": lambda d, a, s, v: ops.change_speed(d, factor(a.factor("factor"))),
    "stabilize": _stabilize,
    "kenburns": _kenburns,
    "trim": lambda d, a, s, v: ops.trim(d, ms(a.duration("from"), 0), ms(a.duration("to"))),
    "fade": lambda d, a, s, v: ops.fade(d, a["direction"], ms(a.duration("duration"))),
    "loudness": _loudness,
    "overlay": _overlay,
    "pip": _overlay,
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
