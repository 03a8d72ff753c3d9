"""Values and clauses as recipe text: what `nemoflow import` writes, in the forms the parser reads back exactly."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "$": "\\$"}


def string(text: str) -> str:
    """A string literal holding exactly `text`."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def seconds(ms: float) -> str:
    """A duration that reads back as the same whole milliseconds: `2s`, `2.002s`, `0.042s`."""
    ms = round(ms)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms / 1000:.3f}".rstrip("0") + "s"


def number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def percent(value: float) -> str:
    return number(value) + "%"


def path_text(path: Path, recipe_dir: Path) -> str:
    """A path as the recipe should name it: relative to the recipe's folder, with forward slashes."""
    try:
        rel = os.path.relpath(path, recipe_dir)
    except ValueError:  # another drive
        rel = str(path)
    return string(rel.replace(os.sep, "/"))


# Words the grammar reads as keywords or verbs: a media named so would not parse as a name in every place.
RESERVED = frozenset("""nemo param media edit ask export expect for in from to at with include glob engine true false
video image concat transition grade adjust stabilize blur overlay pip title text music audio volume mute reframe speed
trim fade loudness kenburns pattern color gradient tone silence duration size fps format codec quality save track
weight loop duck all""".split())


class Names:
    """Unique recipe names for media: from what the source calls it, made a valid, unreserved identifier."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def fresh(self, wanted: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", wanted).strip("_") or "clip"
        if not _IDENT.fullmatch(base):
            base = "m_" + base
        if base in RESERVED:
            base += "_clip"
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name


def generator(gen: dict[str, Any], d_ms: int | None) -> str | None:
    """The media clause's right side for a generated source (media/entries.py generated_entry, backwards)."""
    kind = gen.get("name")
    duration = f"duration {seconds(d_ms or 0)}"
    picture = f"size {gen.get('w')}x{gen.get('h')} fps {number(float(gen.get('fps', 30)))}" if "w" in gen else ""
    if kind == "pattern":
        tone = f" tone {number(float(gen['tone']))}hz" if "tone" in gen else ""
        return f"pattern {gen.get('kind', 'testsrc')} {duration} {picture}{tone}"
    if kind == "color":
        return f"color {gen['color']} {duration} {picture}"
    if kind == "gradient":
        angle = f" angle {number(float(gen['angle']))}" if gen.get("kind") == "linear" and "angle" in gen else ""
        return f"gradient {gen.get('kind', 'linear')} {' '.join(gen['colors'])}{angle} {duration} {picture}"
    volume = f" volume {percent(float(gen['volume']))}" if "volume" in gen else ""
    if kind == "tone":
        return f"tone {number(float(gen['tone']))}hz {duration}{volume}"
    if kind == "silence":
        return f"silence {duration}"
    return None


_EFFECT_KEYS = {"grade": {"type", "amount", "preset", "lut"}, "adjust": {"type", "brightness", "contrast", "saturation", "gamma"},
                "blur": {"type", "strength"}, "kenburns": {"type", "from", "to", "pan"}, "fade": {"type", "dir", "d"},
                "stabilize": {"type", "strength", "smoothing"}}
PER_CLIP = frozenset({"kenburns", "fade"})
"""Effects whose clause reaches only the last clip so far (`fade in`: the first), not every clip so far."""


def effect(fx: dict[str, Any], recipe_dir: Path) -> str | None:
    """The clause that puts `fx` (a Draft effect) on clips, or None when no clause says exactly it."""
    kind = fx.get("type")
    if kind not in _EFFECT_KEYS or not set(fx) <= _EFFECT_KEYS[kind]:
        return None
    if kind == "grade":
        look = string(str(fx["preset"])) if "preset" in fx else path_text(Path(str(fx.get("lut"))), recipe_dir)
        return f"grade {look} {percent(float(fx.get('amount', 100.0)))}"
    if kind == "adjust":
        parts = [f"{k} {percent(float(fx[k]))}" for k in ("brightness", "contrast", "saturation") if k in fx]
        parts += [f"gamma {number(float(fx['gamma']))}"] if "gamma" in fx else []
        return "adjust " + " ".join(parts)
    if kind == "blur":
        return f"blur {percent(float(fx['strength']))}" if "strength" in fx else "blur"
    if kind == "kenburns":
        pan = f" pan {fx['pan']}" if "pan" in fx else ""
        return f"kenburns from {percent(float(fx['from']))} to {percent(float(fx['to']))}{pan}"
    if kind == "fade":
        return f"fade {fx['dir']} {seconds(int(fx['d']))}"
    parts = [f"strength {percent(float(fx['strength']))}"] if "strength" in fx else []
    parts += [f"smoothing {int(fx['smoothing'])}"] if "smoothing" in fx else []
    return " ".join(["stabilize", *parts])


_TEXT_STYLE = ("at", "size", "color", "font", "fade", "box", "style", "bar", "align", "animate", "stagger", "wrap", "x", "y")


def _extent(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"pct"}:
        return percent(float(value["pct"]))
    if isinstance(value, dict) and set(value) == {"px"}:
        return number(float(value["px"])) + "px"
    return None


def text(m: dict[str, Any], st: int, d: int, recipe_dir: Path) -> str | None:
    """The `title`/`text` clause of a Draft text segment, or None when its style holds something no clause says."""
    style = dict(m.get("style") or {})
    role = style.pop("role", "text")
    if role not in ("title", "text") or not set(style) <= set(_TEXT_STYLE) or not isinstance(m.get("text"), str):
        return None
    parts = [role, string(m["text"]), f"from {seconds(st)}"]
    if not m.get("to_end"):
        parts.append(f"to {seconds(st + d)}")
    for key in _TEXT_STYLE:
        if key not in style:
            continue
        value = style[key]
        if key in ("x", "y", "wrap"):
            shown = _extent(value)
            if shown is None:
                return None
        elif key in ("fade", "stagger"):
            shown = seconds(int(value))
        elif key == "size":
            shown = number(float(value)) + "px"
        elif key == "font":
            shown = path_text(Path(value), recipe_dir) if os.path.isabs(str(value)) else string(str(value))
        else:
            shown = str(value)
        parts.append(f"{key} {shown}")
    return " ".join(parts)


_LAYER_KEYS = {"src", "in", "speed", "still", "volume", "to_end", "at", "x", "y", "w", "h", "origin", "fit", "opacity",
               "fade", "border", "motion"}


def overlay(name: str, m: dict[str, Any], st: int, d: int) -> str | None:
    """The `overlay` clause of a Draft layer segment (a `pip` is its defaults written out), or None when its look
    holds something no clause says."""
    if not set(m) <= _LAYER_KEYS:
        return None
    parts = [f"overlay {name} from {seconds(st)}"]
    if not m.get("to_end"):
        parts.append(f"to {seconds(st + d)}")
    if m.get("in") and not m.get("still"):
        parts.append(f"skip {seconds(int(m['in']))}")
    for key, word in (("at", "at"), ("x", "x"), ("y", "y"), ("w", "width"), ("h", "height"), ("origin", "origin"),
                      ("fit", "fit")):
        if key not in m:
            continue
        shown = _extent(m[key]) if key in ("x", "y", "w", "h") else str(m[key])
        if shown is None:
            return None
        parts.append(f"{word} {shown}")
    if "opacity" in m:
        parts.append(f"opacity {percent(float(m['opacity']))}")
    fade = m.get("fade")
    if fade:
        if not isinstance(fade, dict) or fade.get("in") != fade.get("out"):
            return None
        parts.append(f"fade {seconds(int(fade['in']))}")
    if float(m.get("volume", 0.0)):
        parts.append(f"volume {percent(float(m['volume']))}")
    border = m.get("border")
    if border:
        parts.append(f"border {number(float(border['w']))}px {border['c']}")
    motion = m.get("motion")
    if motion:
        for key, word in (("at", "move"), ("x", "move-x"), ("y", "move-y"), ("w", "scale")):
            if key in motion:
                shown = str(motion[key]) if key == "at" else _extent(motion[key])
                if shown is None:
                    return None
                parts.append(f"{word} {shown}")
        parts.append(f"ease {motion.get('ease', 'linear')}")
    return " ".join(parts)
