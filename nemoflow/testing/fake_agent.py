"""The fake NemoVideo agent: what a plain-language message does to a session's timeline, what it answers, and its SSE events.

It reads English the way a person would from the sentence alone; it does not
import nemoflow's instruction table, so a wording change on the client that a
reader could not follow shows up as a failed check. Two families of message:

- specific edits, one operation each ("Clear the timeline…", "Add the clip
  “city.mp4” (upload upl_1) at the end of the video track: 2 s to 12 s of the
  source.", "Color grade clip 1 with the “warm” look at 60%.", "Add the title
  “Hi” from 0 s to 3 s.", "Set the background music to “lofi.m4a” (upload
  upl_2) at 35%.");
- loose requests ("color grade it", "title 'Urban Dreams' for 3 seconds",
  "cut the black frames", "music at 35%", "fade out 1s", "trim to 5 seconds",
  "mute", "竖屏，导出720p").

It works on the internal form (fake_timeline.py: a Draft keyed by upload id).
Replies talk as if the user had a visual editor, on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs

from ..draft import ops
from ..draft.model import AUDIO, TEXT, VIDEO, Draft, Segment, Track
from ..engines.nemo import contract
from ..errors import NemoflowError
from .fake_files import Upload

AUTHOR = contract.APP_NAME
NOTHING = "Sorry, I could not find anything to change."
CLOSINGS = ("Done! Click Export to render your video.", "Open the timeline preview to check it.")
GRADE = {"type": "grade", "preset": "film", "amount": 60}
TITLE_MS = 3000

_Q = r"[“\"']([^”\"']*)[”\"']"  # a quoted name or text
_NUM = r"(\d+(?:\.\d+)?)"


@attrs.frozen
class Reply:
    """The outcome of one message: the new timeline (None: unchanged), the text for the user, the tool call made."""

    draft: dict[str, Any] | None
    text: str
    call: str
    args: dict[str, Any]

    @property
    def changed(self) -> bool:
        return self.draft is not None


LAYER_READINGS = ("track", "main", "none")
"""How the agent may take "Add … as an overlay on video layer N": a new video track over the main picture (the
contract's tracks, and the seed's "composites video layers"), the clip appended to the main video track (a misreading),
or not at all ("I could not do that")."""
UNKNOWABLE = ("kenburns", "stretch", "ease", "style", "tempo")
"""Issue 17's words the agent may not know: a whole instruction (a Ken Burns zoom, a stretch fit) is then answered
"could not"; a modifier (a transition's easing, text style words, a sound's tempo) is left out of what it does."""


@attrs.frozen
class Context:
    """What the agent can see besides the timeline: the session's uploads, a test for black footage, a seeded choice,
    and how it reads the words the contract does not settle (Quirks.layer_reading, Quirks.unknown_words)."""

    uploads: list[Upload]
    is_black: Callable[[Upload], bool]
    pick: Callable[[int], int]
    layers: str = "track"
    unknown: frozenset[str] = frozenset()

    def knows(self, word: str) -> bool:
        return word not in self.unknown


def respond(message: str, current: dict[str, Any], ctx: Context) -> Reply:
    """What the agent does with `message` on the session's timeline (internal form)."""
    draft = Draft.from_json(current)
    done: list[str] = []
    try:
        for sentence in _sentences(message):
            draft = _specific(sentence, draft, ctx, done)
        if not done:
            draft = _loose(message, draft, ctx, done)
    except (NemoflowError, LookupError, ValueError) as exc:
        return Reply(None, f"I could not do that: {exc}. The timeline is unchanged.", "edit_timeline",
                     {"instruction": message[:200], "operations": 0})
    if not done:
        return Reply(None, NOTHING, "edit_timeline", {"instruction": message[:200], "operations": 0})
    summary = "; ".join(done)
    text = f"{summary[0].upper()}{summary[1:]}. {CLOSINGS[ctx.pick(len(CLOSINGS))]}"
    return Reply(ops.normalize(draft).to_json(), text, "edit_timeline", {"instruction": message[:200], "operations": len(done)})


def _sentences(message: str) -> list[str]:
    """Sentences, split at a full stop that ends one (not inside a quoted name or a number)."""
    out, current, quoted = [], "", False
    for i, ch in enumerate(message):
        current += ch
        if ch in "“”\"":
            quoted = ch == "“" or (ch == '"' and not quoted)
        if ch == "." and not quoted and (i + 1 == len(message) or message[i + 1] in " \n"):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out


# ---- specific edits ---------------------------------------------------------------------------------------

def _upload(sentence: str, ctx: Context) -> Upload:
    ref = re.search(r"\(upload ([\w.\-]+)\)", sentence)
    if ref:
        found = next((u for u in ctx.uploads if u.id == ref.group(1)), None)
        if found is not None:
            return found
    name = re.search(_Q, sentence)
    if name:
        found = next((u for u in ctx.uploads if u.name == name.group(1)), None)
        if found is not None:
            return found
    raise LookupError("that file is not among this session's uploads")


def _entry(up: Upload) -> dict[str, Any]:
    return {**up.entry, "url": f"upload:{up.id}"}


def _clip_n(sentence: str, draft: Draft) -> int:
    n = int(re.search(r"\bclip (\d+)", sentence, re.I).group(1))  # type: ignore[union-attr]
    if not 1 <= n <= len(draft.segments(VIDEO)):
        raise LookupError(f"there is no clip {n} on the video track")
    return n - 1


def _ms(text: str) -> int:
    return round(float(text) * 1000)


def _specific(sentence: str, draft: Draft, ctx: Context, done: list[str]) -> Draft:
    s = sentence.strip()
    low = s.lower()
    if re.match(r"clear the timeline\b", low):
        done.append("cleared the timeline")
        return attrs.evolve(draft, t=())
    m = re.match(r"set the frame to (\d+)\s*x\s*(\d+)(?: at " + _NUM + r" ?fps)?", low)
    if m:
        fps = float(m.group(3)) if m.group(3) else (draft.canvas or {}).get("fps", 30.0)
        done.append(f"set the frame to {m.group(1)}x{m.group(2)}")
        return draft.with_m(canvas={"w": int(m.group(1)), "h": int(m.group(2)), "fps": fps})
    if re.match(r"add the (clip|image) .* as an overlay\b", low, re.S):
        return _add_overlay(s, draft, ctx, done)
    if re.match(r"add the (clip|still image)\b", low):
        return _add_clip(s, draft, ctx, done)
    m = re.match(r"slowly zoom clip (\d+) from " + _NUM + "% to " + _NUM + r"%(?:, panning (left|right|up|down))?", s, re.I)
    if m:
        if not ctx.knows("kenburns"):
            raise ValueError("I cannot animate a zoom on a clip")
        effect = {"type": "kenburns", "from": float(m.group(2)), "to": float(m.group(3)),
                  **({"pan": m.group(4).lower()} if m.group(4) else {})}
        done.append(f"added a slow zoom to clip {m.group(1)}")
        return ops.set_clip_effect(draft, _clip_n(s, draft), effect)
    m = re.match(r"colou?r grade clip (\d+) with the " + _Q + r" look(?: at " + _NUM + "%)?", s, re.I)
    if m:
        effect = {"type": "grade", "preset": m.group(2), "amount": float(m.group(3) or 100)}
        done.append(f"graded clip {m.group(1)} with {m.group(2)}")
        return ops.set_clip_effect(draft, _clip_n(s, draft), effect)
    m = re.match(r"adjust clip (\d+):(.*)", s, re.I)
    if m:
        effect: dict[str, Any] = {"type": "adjust"}
        for key, value in re.findall(r"(brightness|contrast|saturation|gamma) (-?\d+(?:\.\d+)?)", m.group(2)):
            effect[key] = float(value)
        if len(effect) == 1:
            raise ValueError("no brightness, contrast, saturation or gamma given")
        done.append(f"adjusted clip {m.group(1)}")
        return ops.set_clip_effect(draft, _clip_n(s, draft), effect)
    m = re.match(r"stabili[sz]e clip (\d+)(?: at " + _NUM + "%)?", s, re.I)
    if m:
        effect = {"type": "stabilize", **({"strength": float(m.group(2))} if m.group(2) else {})}
        done.append(f"stabilized clip {m.group(1)}")
        return ops.set_clip_effect(draft, _clip_n(s, draft), effect)
    m = re.match(r"blur clip (\d+) at " + _NUM + "%", s, re.I)
    if m:
        done.append(f"blurred clip {m.group(1)}")
        return ops.set_clip_effect(draft, _clip_n(s, draft), {"type": "blur", "strength": float(m.group(2))})
    m = re.match(r"fade clip (\d+) (in|out)\b.*? over " + _NUM + " ?s", s, re.I)
    if m:
        done.append(f"faded clip {m.group(1)} {m.group(2)}")
        return ops.set_clip_effect(draft, _clip_n(s, draft), {"type": "fade", "dir": m.group(2).lower(), "d": _ms(m.group(3))})
    m = re.match(r"fit clip (\d+) to the frame by (cropping|stretching|padding(?: with (#[0-9a-f]{6,8}|\w+))?|a blurred background)",
                 s, re.I)
    if m:
        i = _clip_n(s, draft)
        how = m.group(2).lower()
        if how == "stretching" and not ctx.knows("stretch"):
            raise ValueError("I can crop, pad or blur a clip to the frame, not stretch it")
        changes: dict[str, Any] = {"fit": {"cropping": "crop", "stretching": "stretch"}.get(how) or ("blur" if "blur" in how else "pad")}
        if m.group(3):
            changes["pad"] = m.group(3)
        video = list(draft.segments(VIDEO))
        video[i] = video[i].with_m(**changes)
        done.append(f"fitted clip {m.group(1)}")
        return draft.with_segments(VIDEO, video)
    m = re.match(r"add the (title|text) " + _Q + r" from " + _NUM + r" ?s to " + _NUM + r" ?s(.*)", s, re.I | re.S)
    if m:
        return _add_text(m, draft, done, ctx)
    if re.match(r"set the background music to\b", low):
        return _set_music(s, draft, ctx, done)
    if re.match(r"add the sound\b", low):
        return _add_sound(s, draft, ctx, done)
    return draft


def _add_clip(s: str, draft: Draft, ctx: Context, done: list[str]) -> Draft:
    up = _upload(s, ctx)
    speed = float(m.group(1)) if (m := re.search(r"played at " + _NUM + "x", s)) else 1.0
    volume = float(m.group(1)) if (m := re.search(r"own sound at " + _NUM + "%", s)) else 100.0
    tr = re.search(r"entering with an? (\w+) transition of " + _NUM + r" ?s(?:, eased (in and out|in|out))?", s)
    if tr:
        ease = {"in and out": "in-out", "in": "in", "out": "out"}.get(tr.group(3) or "") if ctx.knows("ease") else None
        draft = ops.set_transition(draft, tr.group(1), _ms(tr.group(2)), ease)
    if re.match(r"add the still image", s, re.I):
        shown = re.search(r"shown for " + _NUM + " ?s", s)
        if not shown:
            raise ValueError("say how long the still is shown")
        draft = ops.add_clip(draft, up.id, _entry(up), d_ms=_ms(shown.group(1)), still=True, volume=volume)
        done.append(f"added the still {up.name}")
        return draft
    window = re.search(_NUM + " ?s to " + _NUM + " ?s of the source", s)
    a, b = (_ms(window.group(1)), _ms(window.group(2))) if window else (0, up.duration or 0)
    draft = ops.add_clip(draft, up.id, _entry(up), in_ms=a, d_ms=round((b - a) / speed), speed=speed, volume=volume)
    done.append(f"added the clip {up.name}")
    return draft


_EXTENT = r"(\d+(?:\.\d+)?% of the frame (?:width|height)|\d+(?:\.\d+)? px)"
_TEXT_STYLES = (("style", r"in the [“\"](box|bar|news)[”\"] style"), ("bar", r"on an? (#[0-9a-fA-F]{6,8}) band"),
                ("wrap", r"wrapped to " + _EXTENT + " wide"), ("x", r"placed " + _EXTENT + " from the left"),
                ("y", _EXTENT + " from the top"), ("align", r"aligned (left|center|right)"),
                ("animate", r"with each line entering by [“\"]([a-z\-]+)[”\"]"), ("stagger", r"one line every " + _NUM + " ?s"))


def _extent(words: str) -> dict[str, float]:
    """"12% of the frame width" → {"pct": 12.0}; "240 px" → {"px": 240.0}."""
    number = float(re.match(_NUM, words).group(1))  # type: ignore[union-attr]
    return {"pct": number} if "%" in words else {"px": number}


def _add_text(m: re.Match[str], draft: Draft, done: list[str], ctx: Context) -> Draft:
    rest = m.group(5)
    style: dict[str, Any] = {"role": m.group(1).lower()}
    for key, pattern in (("at", r"\bat the ([a-z\-]+)"), ("color", r"\bin (#[0-9a-fA-F]{6,8})\b"), ("size", _NUM + " px high"),
                         ("font", r"in the font " + _Q), ("fade", r"fading in and out over " + _NUM + " ?s"),
                         ("box", r"on an? (#[0-9a-fA-F]{6,8}) box"), *(_TEXT_STYLES if ctx.knows("style") else ())):
        found = re.search(pattern, rest)
        if found:
            value = found.group(1)
            style[key] = (float(value) if key == "size" else _ms(value) if key in ("fade", "stagger")
                          else _extent(value) if key in ("wrap", "x", "y") else value)
    st, end = _ms(m.group(3)), _ms(m.group(4))
    done.append(f'added the {m.group(1).lower()} "{m.group(2)}"')
    return ops.add_text(draft, m.group(2), style, st=st, d=max(end - st, 1))


def _sound_extras(s: str, unknown: frozenset[str] = frozenset()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m := re.search(r"fading in over " + _NUM + " ?s", s):
        out["fade_in"] = _ms(m.group(1))
    if m := re.search(r"fading out over " + _NUM + " ?s", s):
        out["fade_out"] = _ms(m.group(1))
    if re.search(r"\blooped\b", s):
        out["loop"] = True
    if m := re.search(r"lowered to " + _NUM + "%", s):
        out["duck"] = float(m.group(1))
    if (m := re.search(r"played " + _NUM + r"x as fast with its pitch kept", s)) and "tempo" not in unknown:
        out["tempo"] = float(m.group(1))
    return out


def _add_overlay(s: str, draft: Draft, ctx: Context, done: list[str]) -> Draft:
    """An overlay, as Context.layers reads it: a layer over the main picture, a clip appended to it, or nothing."""
    from ..draft.layers import add_overlay

    if ctx.layers == "none":
        raise ValueError("I can only place clips one after another on the video track")
    up = _upload(s, ctx)
    span = re.search(r"from " + _NUM + r" ?s to " + _NUM + r" ?s", s)
    if not span:
        raise ValueError("say when the overlay shows")
    st, end = _ms(span.group(1)), _ms(span.group(2))
    if ctx.layers == "main":
        done.append(f"added {up.name} to the video")
        return ops.add_clip(draft, up.id, _entry(up), d_ms=end - st, still=up.kind == "image")
    look: dict[str, Any] = {}
    box, _, moving = s.partition(", moving ")
    if m := re.search(r", at the ([a-z\-]+)", box):
        look["at"] = m.group(1)
    if m := re.search(r"its ([a-z\-]+) point " + _EXTENT + " from the left and " + _EXTENT + " from the top", box):
        look["x"], look["y"] = _extent(m.group(2)), _extent(m.group(3))
        if m.group(1) != "top-left":
            look["origin"] = m.group(1)
    if m := re.search(r", (cropped to fill|fitted inside|stretched to) that box", box):
        look["fit"] = {"cropped to fill": "crop", "fitted inside": "pad", "stretched to": "stretch"}[m.group(1)]
    if m := re.search(r", " + _EXTENT + " wide", box):
        look["w"] = _extent(m.group(1))
    if m := re.search(r", " + _EXTENT + " high", box):
        look["h"] = _extent(m.group(1))
    if m := re.search(r"at " + _NUM + "% opacity", box):
        look["opacity"] = float(m.group(1))
    if m := re.search(r"with a " + _NUM + r" px (#[0-9a-fA-F]{3,8}|\w+) border", box):
        look["border"] = {"w": float(m.group(1)), "c": m.group(2)}
    if m := re.search(r"fading in over " + _NUM + r" ?s and out over " + _NUM + " ?s", box):
        look["fade"] = {k: _ms(v) for k, v in (("in", m.group(1)), ("out", m.group(2))) if float(v) > 0}
    if m := re.search(r"its own sound at " + _NUM + "%", box):
        look["volume"] = float(m.group(1))
    skip = re.search(r"starting " + _NUM + r" ?s into it", box)
    if moving:
        motion: dict[str, Any] = {}
        if m := re.search(r"point to " + _EXTENT + " from the left and " + _EXTENT + " from the top", moving):
            motion["x"], motion["y"] = _extent(m.group(1)), _extent(m.group(2))
        elif m := re.search(r"^to the ([a-z\-]+)", moving):
            motion["at"] = m.group(1)
        if m := re.search(r"to " + _EXTENT + " wide", moving):
            motion["w"] = _extent(m.group(1))
        when = re.search(r"between " + _NUM + r" ?s and " + _NUM + r" ?s, (eased in and out|eased in|eased out|at an even pace)",
                         moving)
        if not when:
            raise ValueError("say when the overlay moves, and how")
        motion.update(t0=_ms(when.group(1)) - st, t1=_ms(when.group(2)) - st,
                      ease={"eased in and out": "in-out", "eased in": "in", "eased out": "out"}.get(when.group(3), "linear"))
        look["motion"] = motion
    done.append(f"put {up.name} over the picture")
    return add_overlay(draft, up.id, _entry(up), st=st, d=end - st, in_ms=_ms(skip.group(1)) if skip else 0, look=look)


def _set_music(s: str, draft: Draft, ctx: Context, done: list[str]) -> Draft:
    up = _upload(s, ctx)
    level = re.search(r"\) at " + _NUM + "%", s)
    start = re.search(r"from " + _NUM + " ?s into it", s)
    draft = draft.with_segments(AUDIO, [x for x in draft.segments(AUDIO) if not x.m.get("bed")])
    draft = ops.add_sound(draft, up.id, _entry(up), in_ms=_ms(start.group(1)) if start else 0, bed=True,
                          volume=float(level.group(1)) if level else 100.0, **_sound_extras(s, ctx.unknown))
    done.append(f"set the music to {up.name}")
    return draft


def _add_sound(s: str, draft: Draft, ctx: Context, done: list[str]) -> Draft:
    up = _upload(s, ctx)
    m = re.search(r"at " + _NUM + r" ?s on the timeline, " + _NUM + r" ?s long from " + _NUM + r" ?s of the source, at " + _NUM + "%", s)
    if not m:
        raise ValueError("say where the sound goes, how long, from where in the file, and how loud")
    draft = ops.add_sound(draft, up.id, _entry(up), st=_ms(m.group(1)), d=_ms(m.group(2)), in_ms=_ms(m.group(3)),
                          volume=float(m.group(4)), **_sound_extras(s, ctx.unknown))
    done.append(f"added the sound {up.name}")
    return draft


# ---- loose requests ------------------------------------------------------------------------------------------

_GRADE = re.compile(r"\bgrad(e|ed|ing)\b|调色", re.I)
_TITLE = re.compile(r"""\btitle\s*(?:"([^"]*)"|'([^']*)'|“([^”]*)”)(?:\s+for\s+(\d+(?:\.\d+)?)\s*(?:s\b|sec|second))?""", re.I)
_TRIM = re.compile(r"\b(?:trim|cut|shorten)\b(?:\s+(?:it|the video|this))?\s+(?:down\s+)?to\s+(\d+(?:\.\d+)?)\s*(?:s\b|secs?\b|seconds?\b)"
                   r"|\bmake it\s+(\d+(?:\.\d+)?)\s*(?:s\b|secs?\b|seconds?\b)|(\d+(?:\.\d+)?)\s*秒", re.I)
_MUTE = re.compile(r"\bmute\b|\bremove (?:the )?(?:background )?music\b|静音", re.I)
_BLACK = re.compile(r"\b(?:cut|remove|drop)\b[^,.]{0,20}\bblack\b|去(?:掉)?黑(?:屏|帧)", re.I)
_MUSIC_LEVEL = re.compile(r"\bmusic\b[^,.]{0,15}?\b(?:at|to)\s+(\d+(?:\.\d+)?)\s*%", re.I)
_FADE_OUT = re.compile(r"\bfade\s*out\s+(\d+(?:\.\d+)?)\s*s\b", re.I)
_VERTICAL = re.compile(r"\bvertical\b|\bportrait\b|竖屏", re.I)
_EXPORT_P = re.compile(r"(\d{3,4})p\b", re.I)


def _loose(message: str, draft: Draft, ctx: Context, done: list[str]) -> Draft:
    if _BLACK.search(message) and draft.segments(VIDEO):
        keep = [s for s in draft.segments(VIDEO) if not _black(s, ctx)]
        if keep and len(keep) < len(draft.segments(VIDEO)):
            cut = len(draft.segments(VIDEO)) - len(keep)
            at, moved = 0, []
            for seg in keep:
                moved.append(attrs.evolve(seg, st=at, tr=None if not moved else seg.tr))
                at += seg.d
            draft = draft.with_segments(VIDEO, moved)
            done.append(f"removed {cut} black clip{'s' if cut > 1 else ''}")
    trim = _TRIM.search(message)
    if trim:
        ms = round(float(next(g for g in trim.groups() if g)) * 1000)
        if 0 < ms < draft.d:
            draft = ops.normalize(ops.trim(draft, 0, ms))
            done.append(f"trimmed the video to {ms / 1000:g} seconds")
    if _MUTE.search(message) and draft.track(AUDIO) is not None:
        draft = attrs.evolve(draft, t=tuple(tr for tr in draft.t if tr.tt != AUDIO))
        done.append("removed the music")
    level = _MUSIC_LEVEL.search(message)
    if level and any(s.m.get("bed") for s in draft.segments(AUDIO)):
        draft = ops.set_music(draft, volume=float(level.group(1)))
        done.append(f"set the music to {level.group(1)}%")
    if _GRADE.search(message) and draft.segments(VIDEO):
        draft = ops.add_effect(draft, GRADE)
        done.append(f"applied a film color grade to {len(draft.segments(VIDEO))} clip(s)")
    title = _TITLE.search(message)
    if title:
        text = next(g for g in title.groups()[:3] if g is not None)
        length = round(float(title.group(4)) * 1000) if title.group(4) else TITLE_MS
        draft = _add_title(draft, text, length)
        done.append(f'added the title "{text}"')
    fade = _FADE_OUT.search(message)
    if fade and draft.segments(VIDEO):
        draft = ops.fade(draft, "out", round(float(fade.group(1)) * 1000))
        done.append(f"faded out over {fade.group(1)}s")
    if _VERTICAL.search(message) and draft.segments(VIDEO):
        draft = ops.reframe(draft, 9, 16, "blur")
        done.append("made it vertical (9:16)")
    export = _EXPORT_P.search(message)
    if export and draft.canvas:
        short = int(export.group(1))
        canvas = draft.canvas
        ratio = max(canvas["w"], canvas["h"]) / min(canvas["w"], canvas["h"])
        ratio = 16 / 9 if abs(ratio - 16 / 9) < 0.02 else ratio  # a reframed 9:16 is 16:9 give or take a pixel or two
        long = ops.even(short * ratio)
        w, h = (short, long) if canvas["w"] < canvas["h"] else (long, short)
        draft = draft.with_m(canvas={**canvas, "w": w, "h": h})
        done.append(f"set the export size to {export.group(1)}p")
    return draft


def _black(seg: Segment, ctx: Context) -> bool:
    up = next((u for u in ctx.uploads if u.id == seg.m.get("src")), None)
    return up is not None and up.kind == "video" and ctx.is_black(up)


def _add_title(draft: Draft, text: str, length: int) -> Draft:
    seg = Segment(st=0, d=length, m={"text": text, "style": {"role": "title"}})
    if draft.track(TEXT) is not None:
        return draft.with_segments(TEXT, [*draft.segments(TEXT), seg])
    order = {VIDEO: 0, AUDIO: 1, TEXT: 2}
    tracks = sorted([*draft.t, Track(TEXT, (seg,), {"name": "Title"})], key=lambda tr: order.get(tr.tt, 3))
    return attrs.evolve(draft, t=tuple(tracks))


# ---- SSE events ------------------------------------------------------------------------------

def event(parts: list[dict[str, Any]], *, partial: bool, n: int) -> dict[str, Any]:
    """One agent event (with a field clients do not know, `invocation_id`)."""
    return {"author": AUTHOR, "partial": partial, "content": {"role": "model", "parts": parts}, "invocation_id": f"inv_{n:06d}"}


def call_events(reply: Reply, rev: int, n: int) -> list[dict[str, Any]]:
    """The tool call and its response, which stay internal to the client."""
    response = {"status": "ok" if reply.changed else "unchanged", "changed": reply.changed, "rev": rev}
    return [event([{"functionCall": {"name": reply.call, "args": reply.args}}], partial=False, n=n),
            event([{"functionResponse": {"name": reply.call, "response": response}}], partial=False, n=n)]


def text_events(text: str, n: int) -> list[dict[str, Any]]:
    """Partial chunks of the text (about three), then the whole text as the final, non-partial event."""
    words = text.split(" ")
    step = max(1, -(-len(words) // 3))
    chunks = [" ".join(words[i:i + step]) + (" " if i + step < len(words) else "") for i in range(0, len(words), step)]
    return [*(event([{"text": c}], partial=True, n=n) for c in chunks), event([{"text": text}], partial=False, n=n)]
