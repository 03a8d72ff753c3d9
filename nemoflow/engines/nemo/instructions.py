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

from ...draft.layers import layer_tracks, map_layers
from ...draft.mix import gain, heaviest
from ...draft.model import AUDIO, TEXT, VIDEO, Draft, Segment
from .drafts import Names, Seg, ServiceDraft, Upload, media_of, text_of, volume_of

WORDS = {
    "clear": "Clear the timeline: remove every clip, text and sound from it.",
    "frame": "Set the frame to {w}x{h} at {fps} fps.",
    "clip": "Add the clip “{name}” (upload {upload}) at the end of the video track: {start} to {end} of the source{extra}.",
    "still": "Add the still image “{name}” (upload {upload}) at the end of the video track, shown for {length}{extra}.",
    "speed": ", played at {speed}x",
    "own volume": ", its own sound at {volume}%",
    "transition": ", entering with a {kind} transition of {length}{ease}",
    "grade": "Color grade clip {n} with the “{preset}” look at {amount}%.",
    "adjust": "Adjust clip {n}: {settings}.",
    "stabilize": "Stabilize clip {n}{strength}{span}.",
    "stabilize span": ", only from {start} to {end} of its source, leaving the rest as it is",
    "blur": "Blur clip {n} at {strength}%.",
    "fade": "Fade clip {n} {direction} over {length}.",
    "fit": "Fit clip {n} to the frame by {how}.",
    "kenburns": "Slowly zoom clip {n} from {start}% to {end}%{pan} over its whole length (a Ken Burns move).",
    "overlay": "Add the {what} “{name}” (upload {upload}) as an overlay on video layer {layer}, over the main picture, from "
               "{start} to {end}{look}.",
    "title": "Add the title “{text}” from {start} to {end}{style}.",
    "text": "Add the text “{text}” from {start} to {end}{style}.",
    "music": "Set the background music to “{name}” (upload {upload}) at {volume}%{extra}.",
    "sound": "Add the sound “{name}” (upload {upload}) at {at} on the timeline, {length} long from {start} of the source, "
             "at {volume}%{extra}.",
}
FIT = {"crop": "cropping", "pad": "padding with {color}", "blur": "a blurred background",
       "stretch": "stretching it, ignoring its aspect ratio"}
FADE = {"in": "in from black", "out": "out to black"}
LAYER_FIT = {"crop": "cropped to fill that box", "pad": "fitted inside that box", "stretch": "stretched to that box"}
EASE = {"in": "eased in", "out": "eased out", "in-out": "eased in and out", "linear": "at an even pace"}
_STYLE = (("at", " at the {}"), ("color", " in {}"), ("size", " {:g} px high"), ("font", " in the font “{}”"),
          ("fade", " fading in and out over {}"), ("box", " on a {} box"), ("style", " in the “{}” style"),
          ("bar", " on a {} band"), ("wrap", " wrapped to {} wide"), ("x", " placed {} from the left"),
          ("y", " {} from the top"), ("align", " aligned {}"), ("animate", " with each line entering by “{}”"),
          ("stagger", " one line every {}"))
_MS_STYLE = ("fade", "stagger")  # style values in ms, said in seconds

Check = Callable[[ServiceDraft, ServiceDraft, Names], list[str]]  # (state before, state after, names) → problems


@attrs.frozen
class Instruction:
    text: str
    check: Check


def seconds(ms: float) -> str:
    return f"{ms / 1000:g} s"


def levelled(draft: Draft, master: float = 100.0) -> Draft:
    """The Draft with relative mix weights, and a master level (an export's `volume`), worked into plain levels.

    A level is what the contract's example shows ("BGM … at 35%"); `weight` (draft/mix.py) and the master level are
    nemoflow's, so every clip, sound and overlay is sent at the gain they give it, and no weight is left. The mix is
    linear (fixed gains, no limiter), so a master level applied to every input equals one applied after the mix.
    A Draft with neither comes back as it is.
    """
    sounding = [*draft.segments(VIDEO), *draft.segments(AUDIO)]
    if not any("weight" in seg.m for seg in sounding) and abs(master - 100.0) < 1e-9:
        return draft
    top = heaviest(draft)

    def level(seg: Segment) -> Segment:
        m = {k: v for k, v in seg.m.items() if k != "weight"}
        m["volume"] = round(gain(seg, top) * master, 4)
        return Segment(seg.st, seg.d, m, seg.tr, seg.extra)

    def overlay(seg: Segment) -> Segment:
        return seg.with_m(volume=round(float(seg.m.get("volume", 0.0)) * master / 100.0, 4)) if seg.m.get("volume") else seg

    out = draft
    for tt in (VIDEO, AUDIO):
        if out.segments(tt):
            out = out.with_segments(tt, [level(seg) for seg in draft.segments(tt)])
    if layer_tracks(out):
        out = map_layers(out, lambda seg: [overlay(seg)])
    return out


def main_clips(state: ServiceDraft) -> list[Seg]:
    """The clips of the main picture: the first video track's (further video tracks are overlays)."""
    return next((list(t.segments) for t in state.tracks() if t.tt == VIDEO), [])


def layer_clips(state: ServiceDraft) -> list[Seg]:
    """What plays over the main picture: the segments of every video track after the first."""
    return [s for t in [t for t in state.tracks() if t.tt == VIDEO][1:] for s in t.segments]


def _layered(draft: Draft) -> list[tuple[int, Segment]]:
    """Each overlay segment with its layer number (1 = just over the main picture), in drawing order."""
    return [(n, seg) for n, track in enumerate(layer_tracks(draft), 1) for seg in track.sg]


def _num(value: float) -> str:
    return f"{value:g}"


def tolerance(draft: Draft) -> float:
    """A frame of the Draft's rate, and a millisecond of rounding: how close a duration must come back."""
    fps = float((draft.canvas or {}).get("fps") or 30.0)
    return 1000.0 / fps + 1.0


def plan(target: Draft, uploads: dict[str, Upload]) -> list[Instruction]:
    """What to say, in order, to turn a cleared timeline into `target` (uploads: the target's media ids → their uploads)."""
    target = levelled(target)
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
    for layer, seg in _layered(target):
        up = uploads[seg.m["src"]]
        out.append(Instruction(_overlay(layer, seg, up), _overlay_check(seg, up, tol)))
    for seg in target.segments(TEXT):
        out.append(Instruction(_text(seg), _text_check(seg, tol)))
    for seg in target.segments(AUDIO):
        up = uploads[seg.m["src"]]
        out.append(Instruction(_sound(seg, up), _sound_check(seg, up, tol)))
    return out


def problems(state: ServiceDraft, target: Draft, uploads: dict[str, Upload], names: Names) -> list[str]:
    """Where the session's state differs from `target` beyond the tolerances: the whole-timeline check after the last step."""
    target = levelled(target)
    tol = tolerance(target)
    found: list[str] = []
    video, want = main_clips(state), target.segments(VIDEO)
    if len(video) != len(want):
        found.append(f"the video track has {len(video)} clips, expected {len(want)}")
    for n, exp in enumerate(want[: len(video)], 1):
        found += _clip_check(n, uploads[exp.m["src"]], exp.d, tol)(state, state, names)
    for seg in target.segments(TEXT):
        found += _text_check(seg, tol)(state, state, names)
    for seg in target.segments(AUDIO):
        found += _sound_check(seg, uploads[seg.m["src"]], tol)(state, state, names)
    for _, seg in _layered(target):
        found += _overlay_check(seg, uploads[seg.m["src"]], tol)(state, state, names)
    for tt, what in ((TEXT, "texts"), (AUDIO, "sounds")):  # each expected one is there; nothing else may be
        have, expected = len(state.segments(tt)), len(target.segments(tt))
        if have != expected:
            found.append(f"the state has {have} {what}, expected {expected}")
    have, expected = len(layer_clips(state)), len(_layered(target))
    if have != expected:
        found.append(f"the state has {have} overlay{'s' if have != 1 else ''} over the main picture, expected {expected}")
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
        ease = f", {EASE[seg.tr['ease']]}" if seg.tr.get("ease") else ""
        extra += WORDS["transition"].format(kind=seg.tr["type"], length=seconds(seg.tr["d"]), ease=ease)
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
    if kind == "kenburns":
        pan = f", panning {fx['pan']}" if fx.get("pan") else ""
        return WORDS["kenburns"].format(n=n, start=_num(fx["from"]), end=_num(fx["to"]), pan=pan)
    return None  # a LUT never gets here: the engine refuses local files before anything is sent


def _extent(value: dict, of: str) -> str:
    """A place or size as the Draft keeps it ({"pct": 12} or {"px": 240}), in words."""
    return f"{_num(value['pct'])}% of the {of}" if "pct" in value else f"{_num(value['px'])} px"


def _style_value(key: str, value):
    if key in _MS_STYLE:
        return seconds(value)
    if isinstance(value, dict):  # wrap, x: of the frame's width; y: of its height
        return _extent(value, "frame height" if key == "y" else "frame width")
    return value


def _text(seg: Segment) -> str:
    style = seg.m.get("style") or {}
    words = "".join(template.format(_style_value(key, style[key])) for key, template in _STYLE if style.get(key) is not None)
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
    if m.get("tempo") is not None and abs(float(m["tempo"]) - 1) > 1e-9:
        extra += f", played {_num(float(m['tempo']))}x as fast with its pitch kept"
    volume = _num(float(m.get("volume", 100.0)))
    if m.get("bed"):
        start = f", from {seconds(m['in'])} into it" if m.get("in") else ""
        return WORDS["music"].format(name=up.upload_name, upload=up.upload_id, volume=volume, extra=start + extra)
    return WORDS["sound"].format(name=up.upload_name, upload=up.upload_id, at=seconds(seg.st), length=seconds(seg.d),
                                 start=seconds(m.get("in", 0)), volume=volume, extra=extra)


def _overlay(layer: int, seg: Segment, up: Upload) -> str:
    """An overlay in words: what, which layer, when, then its box, look, sound and motion as the Draft says them."""
    m = seg.m
    look = ""
    point = m.get("origin", "top-left")  # the point of the overlay that x/y place
    if "x" in m or "y" in m:
        look += f", its {point} point {_extent(m.get('x', {'pct': 0}), 'frame width')} from the left and " \
                f"{_extent(m.get('y', {'pct': 0}), 'frame height')} from the top"
    elif m.get("at"):
        look += f", at the {m['at']}"
    if "w" in m:
        look += f", {_extent(m['w'], 'frame width')} wide"
    if "h" in m:
        look += f", {_extent(m['h'], 'frame height')} high"
    if m.get("fit"):
        look += f", {LAYER_FIT[m['fit']]}"
    if m.get("opacity") is not None and float(m["opacity"]) < 100:
        look += f", at {_num(float(m['opacity']))}% opacity"
    fade = m.get("fade") or {}
    if fade.get("in") or fade.get("out"):
        look += f", fading in over {seconds(fade.get('in', 0))} and out over {seconds(fade.get('out', 0))}"
    if m.get("border") and float(m["border"].get("w", 0)) > 0:
        look += f", with a {_num(float(m['border']['w']))} px {m['border']['c']} border"
    if not m.get("still") and int(m.get("in", 0)):
        look += f", starting {seconds(m['in'])} into it"
    if float(m.get("volume", 0.0)) > 0:
        look += f", its own sound at {_num(float(m['volume']))}%"
    motion = m.get("motion")
    if motion:
        to = []
        if "x" in motion or "y" in motion:
            to.append(f"its {point} point to {_extent(motion.get('x', {'pct': 0}), 'frame width')} from the left and "
                      f"{_extent(motion.get('y', {'pct': 0}), 'frame height')} from the top")
        elif motion.get("at"):
            to.append(f"to the {motion['at']}")
        if "w" in motion:
            to.append(f"to {_extent(motion['w'], 'frame width')} wide")
        look += (f", moving {' and '.join(to)} between {seconds(seg.st + motion['t0'])} and {seconds(seg.st + motion['t1'])}"
                 f", {EASE[motion.get('ease', 'linear')]}")
    what = "image" if m.get("still") else "clip"
    return WORDS["overlay"].format(what=what, name=up.upload_name, upload=up.upload_id, layer=layer, start=seconds(seg.st),
                                   end=seconds(seg.end), look=look)


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
        video = main_clips(after)
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
        a, b = main_clips(before), main_clips(after)
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


def _overlay_check(exp: Segment, up: Upload, tol: float) -> Check:
    """The upload plays over the main picture (on a video track after the first) at the time asked, within tolerance."""

    def check(before: ServiceDraft, after: ServiceDraft, names: Names) -> list[str]:
        ours = [s for s in layer_clips(after) if (m := media_of(after, s, names)) is not None and m.media == up.media]
        if not ours:
            def on_main(state: ServiceDraft) -> int:
                return sum((m := media_of(state, s, names)) is not None and m.media == up.media for s in main_clips(state))

            return [f"no overlay of {up.name} over the main picture" + (" (it was put on the main video track instead)"
                                                                        if on_main(after) > on_main(before) else "")]
        if not any(abs(s.st - exp.st) <= tol and abs(s.d - exp.d) <= tol for s in ours):
            s = ours[0]
            return [f"the overlay of {up.name} is on {seconds(s.st)}–{seconds(s.end)}, expected {seconds(exp.st)}–{seconds(exp.end)}"]
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
