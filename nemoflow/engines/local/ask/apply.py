"""Intents → Draft operations, in the order said, with a line for people about each.

Intents that need to see the footage (cuts of shaky, black, frozen or silent
spans; the automatic grade) ask `analyse` for each clip's source window and
map what it found onto the timeline: a clip's source time s plays at
st + (s − in) / speed. Everything else is one operation from draft/ops.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ....draft import ops
from ....draft.model import VIDEO, Draft, Segment
from ....errors import DraftError
from ..grade import PRESETS, Eq, adjust_eq
from . import footage
from .analysis import Analysis
from .describe import describe
from .intents import Intent

# (clip index, media id, media entry, in-point ms, source length ms) → the analysis of that source window
Analyse = Callable[[int, str, dict[str, Any], int, int], Analysis]

# Between two cuts, less than this is cut too: a flash of a few frames is worse than the loss.
MIN_KEEP_MS = 300
WHAT = {"shaky": "shaky", "black": "black", "frozen": "frozen", "silence": "silent"}
FINDERS = {"shaky": footage.shaky_spans, "black": footage.black_spans, "frozen": footage.frozen_spans,
           "silence": footage.silent_spans}


@attrs.frozen
class Outcome:
    """The edited draft and what was done, one readable line per intent."""

    draft: Draft
    did: tuple[str, ...]


def carry_out(draft: Draft, intents: list[Intent], analyse: Analyse) -> Outcome:
    """Apply every intent in order; a DraftError names the intent (its words) that could not be carried out."""
    did: list[str] = []
    for intent in intents:
        try:
            draft, line = _apply(draft, intent, analyse)
        except DraftError as err:
            raise DraftError(f"“{intent.text}” ({describe(intent)}): {err}") from None
        did.append(line)
    return Outcome(ops.normalize(draft), tuple(did))


def _apply(draft: Draft, intent: Intent, analyse: Analyse) -> tuple[Draft, str]:
    a, kind = intent.args, intent.kind
    if kind == "cut":
        return _cut(draft, a["what"], analyse)
    if kind == "grade":
        if a.get("look", "auto") == "auto":
            return _auto_grade(draft, analyse)
        amount = float(a.get("amount", 100.0))
        return ops.add_effect(draft, {"type": "grade", "preset": a["look"], "amount": amount}), \
            f"graded every clip “{a['look']}” at {amount:g}%"
    if kind == "stabilize":
        effect: dict[str, Any] = {"type": "stabilize"}
        if a.get("strength") is not None:
            effect["strength"] = float(a["strength"])
        return ops.add_effect(draft, effect), f"stabilized {_count(draft.segments(VIDEO), 'clip')} (two-pass vid.stab at export)"
    if kind == "reframe":
        before = draft.canvas or ops.DEFAULT_CANVAS
        out = ops.reframe(draft, a["num"], a["den"], a.get("mode", "crop"))
        after, mode = out.canvas, a.get("mode", "crop")
        return out, f"reframed to {a['num']:g}:{a['den']:g} ({mode}): {before['w']}x{before['h']} → {after['w']}x{after['h']}"
    if kind == "title":
        length = min(round(float(a.get("seconds", 3.0)) * 1000), draft.d)
        st = max(draft.d - length, 0) if a.get("at") == "end" else 0
        out = ops.add_text(draft, a["text"], {"role": "title"}, st=st, d=length)
        return out, f"title “{a['text']}” {st / 1000:g}–{(st + length) / 1000:g}s"
    if kind == "music":
        if a.get("remove"):
            return ops.set_music(draft, remove=True), "removed the music"
        if a.get("fade_out") is not None:
            return ops.set_music(draft, fade_out=round(float(a["fade_out"]) * 1000)), f"music fades out over its last {a['fade_out']:g}s"
        return ops.set_music(draft, volume=float(a["volume"])), f"music at {a['volume']:g}%"
    if kind == "mute":
        return ops.set_volume(draft, 0.0), f"muted the sound of {_count(draft.segments(VIDEO), 'clip')}"
    if kind == "speed":
        factor = float(a["factor"])
        out = ops.change_speed(draft, factor)
        return out, f"speed ×{factor:g}: {_len(draft)} → {_len(out)}"
    if kind == "length":
        want = round(float(a["seconds"]) * 1000)
        if want >= draft.d:
            raise DraftError(f"the timeline is {_len(draft)}, not longer than {want / 1000:g}s: this can only shorten it "
                             "(to lengthen it, slow it down: “slow down 0.5x”)")
        return ops.trim(draft, 0, want), f"kept the first {want / 1000:g}s (cut {(draft.d - want) / 1000:.1f}s from the end)"
    if kind == "fade":
        d = round(float(a.get("seconds", 1.0)) * 1000)
        return ops.fade(draft, a["dir"], d), f"fade {a['dir']} over {d / 1000:g}s"
    if kind == "export":
        return _export(draft, a)
    raise DraftError(f"no operation for the intent {kind!r}")  # unreachable: the builders make only known kinds


def _export(draft: Draft, a: dict[str, Any]) -> tuple[Draft, str]:
    hint = {k: v for k, v in (("long_edge", a.get("long_edge")), ("quality", a.get("quality"))) if v is not None}
    if not hint:
        return draft, "export: the recipe's export steps write the file"
    parts = []
    if "long_edge" in hint:
        parts.append(f"{hint['long_edge']} px on the long edge")
    if "quality" in hint:
        parts.append(f"{hint['quality']} quality")
    out = draft.with_m(output={**draft.m.get("output", {}), **hint})
    return out, "export at " + ", ".join(parts) + " (where an export block does not set its own size or quality)"


# -- what needs the footage ---------------------------------------------------------------------------------
def _clip_analysis(draft: Draft, i: int, seg: Segment, analyse: Analyse) -> Analysis | None:
    """The analysis of what clip i shows (its source window), or None for a still."""
    entry = draft.media[seg.m["src"]]
    if seg.m.get("still") or entry.get("kind") != "video":
        return None
    speed = float(seg.m.get("speed", 1.0))
    length = round(seg.d * speed)
    if entry.get("d") is not None:
        length = min(length, int(entry["d"]) - int(seg.m.get("in", 0)))
    return analyse(i, seg.m["src"], entry, int(seg.m.get("in", 0)), max(length, 1))


def _cut(draft: Draft, what: str, analyse: Analyse) -> tuple[Draft, str]:
    """Find `what` in every clip's footage and cut it out of the timeline."""
    found: list[tuple[int, int, int]] = []  # (timeline a, b, clip number)
    looked = 0
    for i, seg in enumerate(draft.segments(VIDEO)):
        an = _clip_analysis(draft, i, seg, analyse)
        if an is None or (what == "silence" and (not an.has_audio or float(seg.m.get("volume", 100.0)) <= 0)):
            continue
        looked += 1
        speed = float(seg.m.get("speed", 1.0))
        for a, b in FINDERS[what](an):
            ta, tb = seg.st + round(a * 1000 / speed), min(seg.st + round(b * 1000 / speed), seg.end)
            if tb > ta:
                found.append((ta, tb, i + 1))
    label = WHAT[what]
    if not looked:
        reason = "no clip has sound of its own" if what == "silence" else "the timeline has only stills"
        raise DraftError(f"there is nothing to look for {label} spans in: {reason}")
    if not found:
        return draft, f"looked for {label} spans in {_count(range(looked), 'clip')}: none found, nothing cut"
    spans = _with_small_gaps_closed([(a, b) for a, b, _ in found], draft.d)
    out = ops.cut_spans(draft, spans)
    where = "; ".join(f"{a / 1000:.2f}–{b / 1000:.2f}s" for a, b in spans[:8]) + (f"; … {len(spans) - 8} more" if len(spans) > 8 else "")
    removed = sum(b - a for a, b in spans)
    return out, f"cut {_count(spans, f'{label} span')} ({removed / 1000:.2f}s: {where}); {_len(draft)} → {_len(out)}"


def _with_small_gaps_closed(spans: list[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    """Merge spans closer than MIN_KEEP_MS, and reach the timeline's edges when nearly there."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a - merged[-1][1] < MIN_KEEP_MS:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    if merged and merged[0][0] < MIN_KEEP_MS:
        merged[0] = (0, merged[0][1])
    if merged and total - merged[-1][1] < MIN_KEEP_MS:
        merged[-1] = (merged[-1][0], total)
    return merged


def _auto_grade(draft: Draft, analyse: Analyse) -> tuple[Draft, str]:
    """Measure each clip and correct it toward neutral on its own (clips from different cameras differ)."""
    notes = []
    for i, seg in enumerate(draft.segments(VIDEO)):
        an = _clip_analysis(draft, i, seg, analyse)
        if an is None:
            notes.append(f"clip {i + 1}: a still, left as is")
            continue
        prior, lut = _look(seg)
        effect = footage.auto_grade(an, prior)
        caveat = " (measured without its LUT)" if lut else ""
        if effect is None:
            notes.append(f"clip {i + 1}: already neutral{caveat}")
            continue
        draft = ops.set_clip_effect(draft, i, effect)
        notes.append(f"clip {i + 1}: " + ", ".join(_adjustment(effect)) + caveat)
    return draft, "color grade (measured): " + "; ".join(notes)


def _look(seg: Segment) -> tuple[tuple[float, float, float], bool]:
    """The clip's colour work so far as (contrast, brightness, saturation) of one eq, and whether a LUT is among it.

    The grade is measured on the source and judged as it will look with these
    (a recipe that flattened a clip with `adjust` gets it corrected back); a
    LUT's effect cannot be predicted from the numbers, so it is left out.
    """
    look, lut = Eq(), False
    for e in seg.m.get("fx", []):
        if e.get("type") == "grade" and "preset" in e:
            look = look.then(PRESETS[e["preset"]].scaled(e.get("amount", 100.0) / 100.0))
        elif e.get("type") == "adjust":
            look = look.then(adjust_eq(e))
        elif e.get("type") == "grade":
            lut = True
    return (look.contrast, look.brightness, look.saturation), lut


def _adjustment(effect: dict[str, Any]) -> list[str]:
    parts = []
    for key, unit, neutral in (("contrast", "%", 100.0), ("saturation", "%", 100.0), ("brightness", "", 0.0), ("gamma", "", 1.0)):
        value = effect.get(key)
        if value is not None and abs(value - neutral) > 1e-6:
            parts.append(f"{key} {value:+g}" if key == "brightness" else f"{key} {value:g}{unit}")
    return parts or ["no change"]


def _count(items: Any, noun: str) -> str:
    n = len(items)
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _len(draft: Draft) -> str:
    return f"{draft.d / 1000:.1f}s"
