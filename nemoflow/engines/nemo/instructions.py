"""Plain, specific instructions that bring a session's timeline to a Draft nemoflow built, each with its check.

The contract has no endpoint that sets a timeline; the page says edits are
made by messages to the agent. So before an `ask` continues an `edit`, the
session is told, one operation at a time, what the edit's Draft holds ("Add
the clip “city.mp4” (upload upl_1) at the end of the video track: 2 s to
12 s of the source.", "Add the title “Urban Dreams” from 0 s to 3 s.", "Set
the background music to “lofi.m4a” … at 35%."), and after each one the
session's state is read and checked with tolerances (durations to a frame,
the track set, texts, volumes, which upload a segment plays). The wording is
this table, in one place.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ...draft.model import AUDIO, TEXT, VIDEO, Draft, Segment
from .drafts import Names, ServiceDraft, Upload, media_of, text_of, volume_of

WORDS = {
    "clear": "Clear the timeline: remove every clip, text and sound from it.",
    "frame": "Set the frame to {w}x{h} at {fps} fps.",
    "clip": "Add the clip “{name}” (upload {upload}) at the end of the video track: {start} to {end} of the source{extra}.",
    "still": "Add the still image “{name}” (upload {upload}) at the end of the video track, shown for {length}{extra}.",
    "speed": ", played at {speed}x",
    "own volume": ", its own sound at {volume}%",
    "transition": ", entering with a {kind} transition of {length}",
    "grade": "Color grade clip {n} with the “{preset}” look at {amount}%.",
    "adjust": "Adjust clip {n}: {settings}.",
    "stabilize": "Stabilize clip {n}{strength}{span}.",
    "stabilize span": ", only from {start} to {end} of its source, leaving the rest as it is",
    "blur": "Blur clip {n} at {strength}%.",
    "fade": "Fade clip {n} {direction} over {length}.",
    "fit": "Fit clip {n} to the frame by {how}.",
    "title": "Add the title “{text}” from {start} to {end}{style}.",
    "text": "Add the text “{text}” from {start} to {end}{style}.",
    "music": "Set the background music to “{name}” (upload {upload}) at {volume}%{extra}.",
    "sound": "Add the sound “{name}” (upload {upload}) at {at} on the timeline, {length} long from {start} of the source, "
             "at {volume}%{extra}.",
}
FIT = {"crop": "cropping", "pad": "padding with {color}", "blur": "a blurred background"}
FADE = {"in": "in from black", "out": "out to black"}
_STYLE = (("at", " at the {}"), ("color", " in {}"), ("size", " {:g} px high"), ("font", " in the font “{}”"),
          ("fade", " fading in and out over {}"), ("box", " on a {} box"))

Check = Callable[[ServiceDraft, ServiceDraft, Names], list[str]]  # (state before, state after, names) → problems


@attrs.frozen
class Instruction:
    text: str
    check: Check


def seconds(ms: float) -> str:
    return f"{ms / 1000:g} s"


def _num(value: float) -> str:
    return f"{value:g}"


def tolerance(draft: Draft) -> float:
    """A frame of the Draft's rate, and a millisecond of rounding: how close a duration must come back."""
    fps = float((draft.canvas or {}).get("fps") or 30.0)
    return 1000.0 / fps + 1.0


def plan(target: Draft, uploads: dict[str, Upload]) -> list[Instruction]:
    """What to say, in order, to turn a cleared timeline into `target` (uploads: the target's media ids → their uploads)."""
    tol = tolerance(target)
    out = [Instruction(WORDS["clear"], _cleared)]
    canvas = target.canvas
    if canvas:
        out.append(Instruction(WORDS["frame"].format(w=canvas["w"], h=canvas["h"], fps=_num(float(canvas["fps"]))), _frame(canvas)))
    for n, seg in enumerate(target.segments(VIDEO), 1):
        up = uploads[seg.m["src"]]
        out.append(Instruction(_clip(seg, up), _clip_check(n, up, seg.d, tol)))
        for fx in seg.m.get("fx", []):
            words = _effect(n, fx)
            if words:
                out.append(Instruction(words, _changed_clip(n)))
        if seg.m.get("fit") and (seg.m["fit"] != "pad" or seg.m.get("pad")):
            how = FIT[seg.m["fit"]].format(color=seg.m.get("pad") or "black")
            out.append(Instruction(WORDS["fit"].format(n=n, how=how), _changed_clip(n)))
    for seg in target.segments(TEXT):
        out.append(Instruction(_text(seg), _text_check(seg, tol)))
    for seg in target.segments(AUDIO):
        up = uploads[seg.m["src"]]
        out.append(Instruction(_sound(seg, up), _sound_check(seg, up, tol)))
    return out


def problems(state: ServiceDraft, target: Draft, uploads: dict[str, Upload], names: Names) -> list[str]:
    """Where the session's state differs from `target` beyond the tolerances: the whole-timeline check after the last step."""
    tol = tolerance(target)
    found: list[str] = []
    video, want = state.segments(VIDEO), target.segments(VIDEO)
    if len(video) != len(want):
        found.append(f"the video track has {len(video)} clips, expected {len(want)}")
    for n, exp in enumerate(want[: len(video)], 1):
        found += _clip_check(n, uploads[exp.m["src"]], exp.d, tol)(state, state, names)
    for seg in target.segments(TEXT):
        found += _text_check(seg, tol)(state, state, names)
    for seg in target.segments(AUDIO):
        found += _sound_check(seg, uploads[seg.m["src"]], tol)(state, state, names)
    for tt, what in ((TEXT, "texts"), (AUDIO, "sounds")):  # each expected one is there; nothing else may be
        have, expected = len(state.segments(tt)), len(target.segments(tt))
        if have != expected:
            found.append(f"the state has {have} {what}, expected {expected}")
    wanted = {tt for tt in (VIDEO, AUDIO, TEXT) if target.segments(tt)}
    extra = {t.tt for t in state.tracks() if t.segments} - wanted
    if extra:
        found.append(f"the state has segments on track type{'s' if len(extra) > 1 else ''} {sorted(extra)}, which the edit does not")
    return found


# ---- words ------------------------------------------------------------------------------------------------

def _clip(seg: Segment, up: Upload) -> str:
    m = seg.m
    extra = ""
    speed = float(m.get("speed", 1.0))
    if abs(speed - 1) > 1e-9:
        extra += WORDS["speed"].format(speed=_num(speed))
    volume = float(m.get("volume", 100.0))
    if abs(volume - 100) > 1e-6:
        extra += WORDS["own volume"].format(volume=_num(volume))
    if seg.tr:
        extra += WORDS["transition"].format(kind=seg.tr["type"], length=seconds(seg.tr["d"]))
    if m.get("still"):
        return WORDS["still"].format(name=up.upload_name, upload=up.upload_id, length=seconds(seg.d), extra=extra)
    start = int(m.get("in", 0))
    return WORDS["clip"].format(name=up.upload_name, upload=up.upload_id, start=seconds(start), end=seconds(start + seg.d * speed),
                                extra=extra)


def _effect(n: int, fx: dict) -> str | None:
    kind = fx.get("type")
    if kind == "grade" and fx.get("preset"):
        return WORDS["grade"].format(n=n, preset=fx["preset"], amount=_num(fx.get("amount", 100.0)))
    if kind == "adjust":
        settings = [f"{key} {_num(fx[key])}%" for key in ("brightness", "contrast", "saturation") if key in fx]
        settings += [f"gamma {_num(fx['gamma'])}"] if "gamma" in fx else []
        return WORDS["adjust"].format(n=n, settings=", ".join(settings))
    if kind == "stabilize":
        span = ""
        if "src_from" in fx or "src_to" in fx:  # a part of the clip (draft/ops.py `stabilize`), in source time
            span = WORDS["stabilize span"].format(start=seconds(fx.get("src_from", 0)),
                                                  end=seconds(fx["src_to"]) if "src_to" in fx else "the end")
        return WORDS["stabilize"].format(n=n, strength=f" at {_num(fx['strength'])}%" if "strength" in fx else "", span=span)
    if kind == "blur":
        return WORDS["blur"].format(n=n, strength=_num(fx.get("strength", 50.0)))
    if kind == "fade":
        return WORDS["fade"].format(n=n, direction=FADE[fx["dir"]], length=seconds(fx["d"]))
    return None  # a LUT never gets here: the engine refuses local files before anything is sent


def _text(seg: Segment) -> str:
    style = seg.m.get("style") or {}
    words = "".join(template.format(seconds(style[key]) if key == "fade" else style[key])
                    for key, template in _STYLE if style.get(key) is not None)
    kind = "title" if style.get("role") == "title" else "text"
    return WORDS[kind].format(text=seg.m.get("text", ""), start=seconds(seg.st), end=seconds(seg.end), style=words)


def _sound(seg: Segment, up: Upload) -> str:
    m = seg.m
    extra = ""
    if m.get("fade_in"):
        extra += f", fading in over {seconds(m['fade_in'])}"
    if m.get("fade_out"):
        extra += f", fading out over {seconds(m['fade_out'])}"
    if m.get("loop"):
        extra += ", looped"
    if m.get("duck") is not None:
        extra += f", lowered to {_num(m['duck'])}% under the clips' own sound"
    volume = _num(float(m.get("volume", 100.0)))
    if m.get("bed"):
        start = f", from {seconds(m['in'])} into it" if m.get("in") else ""
        return WORDS["music"].format(name=up.upload_name, upload=up.upload_id, volume=volume, extra=start + extra)
    return WORDS["sound"].format(name=up.upload_name, upload=up.upload_id, at=seconds(seg.st), length=seconds(seg.d),
                                 start=seconds(m.get("in", 0)), volume=volume, extra=extra)


# ---- checks -------------------------------------------------------------------------------------------------

def _cleared(before: ServiceDraft, after: ServiceDraft, names: Names) -> list[str]:
    left = sum(len(t.segments) for t in after.tracks())
    return [f"the timeline still has {left} segment{'s' if left != 1 else ''}"] if left else []


def _frame(canvas: dict) -> Check:
    def check(before: ServiceDraft, after: ServiceDraft, names: Names) -> list[str]:
        got = after.canvas
        if got is None:
            return []  # the service does not report a frame: the export sends the size it wants anyway
        if (int(got["w"]), int(got["h"])) != (int(canvas["w"]), int(canvas["h"])):
            return [f"the frame is {got['w']}x{got['h']}, expected {canvas['w']}x{canvas['h']}"]
        return []

    return check


def _clip_check(n: int, up: Upload, d: int, tol: float) -> Check:
    def check(before: ServiceDraft, after: ServiceDraft, names: Names) -> list[str]:
        video = after.segments(VIDEO)
        if len(video) < n:
            return [f"clip {n} is missing: the video track has {len(video)} clip{'s' if len(video) != 1 else ''}"]
        seg = video[n - 1]
        found: list[str] = []
        played = media_of(after, seg, names)
        if played is None or played.media != up.media:
            found.append(f"clip {n} plays {played.name if played else 'media nemoflow did not upload'}, expected {up.name}")
        if abs(seg.d - d) > tol:
            found.append(f"clip {n} lasts {seconds(seg.d)}, expected {seconds(d)}")
        return found

    return check


def _changed_clip(n: int) -> Check:
    def check(before: ServiceDraft, after: ServiceDraft, names: Names) -> list[str]:
        a, b = before.segments(VIDEO), after.segments(VIDEO)
        if len(b) < n:
            return [f"clip {n} is gone"]
        if len(a) >= n and a[n - 1].raw == b[n - 1].raw:
            return [f"clip {n} did not change"]
        if len(a) != len(b) or any(abs(x.d - y.d) > 1 for x, y in zip(a, b, strict=False)):
            return ["the clips' number or lengths changed too"]
        return []

    return check


def _text_check(exp: Segment, tol: float) -> Check:
    want = str(exp.m.get("text", ""))

    def check(before: ServiceDraft, after: ServiceDraft, names: Names) -> list[str]:
        same = [s for s in after.segments(TEXT) if text_of(s) == want]
        if not same:
            return [f"no text “{want}” on the timeline"]
        if not any(abs(s.st - exp.st) <= tol and abs(s.d - exp.d) <= tol for s in same):
            s = same[0]
            return [f"the text “{want}” is on {seconds(s.st)}–{seconds(s.end)}, expected {seconds(exp.st)}–{seconds(exp.end)}"]
        return []

    return check


def _sound_check(exp: Segment, up: Upload, tol: float) -> Check:
    volume = float(exp.m.get("volume", 100.0))

    def check(before: ServiceDraft, after: ServiceDraft, names: Names) -> list[str]:
        ours = [s for s in after.segments(AUDIO) if (m := media_of(after, s, names)) is not None and m.media == up.media]
        if not ours:
            return [f"no sound from {up.name} on the timeline"]
        if not exp.m.get("bed") and not any(abs(s.st - exp.st) <= tol for s in ours):
            return [f"{up.name} starts at {seconds(ours[0].st)}, expected {seconds(exp.st)}"]
        levels = [v for s in ours if (v := volume_of(s)) is not None]
        if levels and not any(abs(v - volume) <= 0.5 for v in levels):
            return [f"{up.name} plays at {levels[0]:g}%, expected {volume:g}%"]
        return []

    return check
