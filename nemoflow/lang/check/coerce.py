"""Value coercion: an item read as the type a slot wants, or a diagnostic saying why it does not fit.

Covers enums (one word of a list), looks (a preset or a .cube LUT), bounds
(`volume 900%`) and the general mismatch message with a unit hint
(`volume 35` → "add a unit: `35%`").
"""

from __future__ import annotations

import math
import os
from typing import Any

from ...core import codes, limits
from ...core import signatures as sig
from ...core.diagnostics import did_you_mean, suggestion
from ...core.values import (
    NAMED_COLORS,
    Decibels,
    Duration,
    Factor,
    Fps,
    Loudness,
    Percent,
    Pixels,
    Resolution,
    TruePeak,
    kind_of,
)
from .. import ast
from . import cells
from .refs import reference
from .state import FAIL, Instance, State
from .text import describe, describe_item, expected_text, unit_hint
from .values import param_value, string_value

FRAME_PRESETS = {"vertical": Resolution(1080, 1920), "square": Resolution(1080, 1080), "landscape": Resolution(1920, 1080)}


FONT_FILES = (".ttf", ".otf", ".ttc")


def coerce(st: State, item, spec, inst: Instance, slot: sig.Slot, what: str):
    """Read an item as a value of slot type `spec`, reporting why it does not fit."""
    value = _coerce(st, item, spec, inst, slot, what)
    if slot.name == "font" and isinstance(value, str) and value.lower().endswith(FONT_FILES):
        return _font_file(st, item, value, inst)
    return value


def _font_file(st: State, item, name: str, inst: Instance):
    """A `font` naming a file: resolved here, against the folder of the file that says it (as LUTs and media are),
    so the key, `check` and the engine all mean the same file whatever the current directory; it must exist."""
    path = (inst.base_dir / os.path.expanduser(name)).resolve()
    if not os.path.isfile(path):  # os.path, not Path: a name over NAME_MAX is "no such file", not an OSError
        st.error(item.span, f"font file not found: {name}", codes.FONT_NOT_FOUND,
                 help=f"looked for {path}; give a .ttf/.otf/.ttc file relative to this recipe, a font family name, "
                      "or leave `font` out for the bundled DejaVu Sans")
        return FAIL
    return path


def _coerce(st: State, item, spec, inst: Instance, slot: sig.Slot, what: str):
    if spec == "captions":  # a subtitle file or an inline list (lang/check/captions.py)
        from .captions import captions_source

        return captions_source(st, item, inst, slot, what)
    if isinstance(item, ast.Var) and cells.is_cell(item) and spec not in ("media", "draft", "source"):
        return _cell(st, item, spec, inst, slot, what)
    if isinstance(spec, tuple):
        return _enum(st, item, spec, inst, what)
    if spec in ("media", "draft", "source"):
        return reference(st, item, spec, inst, what, slot.many)
    if spec == "look":
        return _look(st, item, inst, what)
    if spec == "path":
        if isinstance(item, ast.StringLit):
            s = string_value(st, item, inst.env)
            return FAIL if s is None else s
        if isinstance(item, ast.Var):
            v = param_value(st, item, inst.env)
            if v is FAIL or isinstance(v, str):
                return v
        return _mismatch(st, item, "a path in quotes", what, inst)
    kinds = spec.split("|")
    if isinstance(item, ast.Word):
        if "color" in kinds and item.name in NAMED_COLORS:
            return NAMED_COLORS[item.name]
        if "frame" in kinds and item.name in FRAME_PRESETS:
            return FRAME_PRESETS[item.name]
        if "string" in kinds:
            st.error(item.span, f"{what} takes text in quotes", codes.TEXT_NEEDS_QUOTES, help=f'write `"{item.name}"`')
            return FAIL
        if "color" in kinds:
            st.error(item.span, f"unknown color `{item.name}`", codes.UNKNOWN_COLOR,
                     help=suggestion(item.name, NAMED_COLORS) or "write a hex color like `#ffcc00`")
            return FAIL
        if "frame" in kinds:
            best = did_you_mean(item.name, FRAME_PRESETS)
            st.error(item.span, f"unknown size `{item.name}`", codes.UNKNOWN_SIZE,
                     help=f"did you mean `{best}`?" if best else "write `1080p`, `3840x2160`, `vertical` or `square`")
            return FAIL
        return _mismatch(st, item, expected_text(kinds), what, inst)
    if isinstance(item, ast.Var):
        value = param_value(st, item, inst.env)
    elif isinstance(item, ast.StringLit):
        if "string" not in kinds:
            return _mismatch(st, item, expected_text(kinds), what, inst)
        s = string_value(st, item, inst.env)
        return FAIL if s is None else s
    elif isinstance(item, ast.ListLit):
        return _mismatch(st, item, expected_text(kinds), what, inst)
    else:
        value = item.value
        if value is None:
            return FAIL
    if value is FAIL:
        return FAIL
    for kind in kinds:
        if fits_kind(value, kind):
            return _bounded(st, value, slot, item, what)
    return _mismatch(st, item, expected_text(kinds), what, inst, value)


def _cell(st: State, var: ast.Var, spec, inst: Instance, slot: sig.Slot, what: str):
    """`$row.column`: the cell read as this slot wants it, and checked as if written here; what goes wrong is
    reported at the cell (docs/variants.md)."""
    kinds = ("string",) if isinstance(spec, tuple) or spec == "look" else (("path",) if spec == "path" else tuple(spec.split("|")))
    before = len(st.diags)
    item = cells.item_for(st, var, inst.env, kinds)
    if item is FAIL:
        return FAIL
    value = _coerce(st, item, spec, inst, slot, what)
    cells.note_use(st, before, item.span, var.span)
    return value


def _bounded(st: State, value, slot: sig.Slot, item, what: str):
    """A value within its slot's bounds (compared in the slot's natural unit), or FAIL."""
    if isinstance(value, Duration) and value.seconds > st.max_duration:
        shown = item.text if isinstance(item, ast.Literal) else str(value)
        st.error(item.span, f"{what} {shown} is longer than the limit of {limits.DURATION.shown(st.max_duration)}", codes.DURATION_TOO_LONG,
                 help=f"so that a typo cannot start a render that runs for days; {limits.DURATION.how_to_raise()}")
        return FAIL
    if slot.min is None and slot.max is None:
        if isinstance(value, Duration) and value.seconds <= 0 and slot.name in ("duration", "for", "fade", "fade in", "fade out"):
            st.error(item.span, f"{what} must be longer than 0s", codes.NOT_POSITIVE_DURATION)
            return FAIL
        return value
    mag = _magnitude(value, slot)
    if mag is None:
        return value
    lo, hi = slot.min, slot.max
    if (lo is not None and mag < lo) or (hi is not None and mag > hi) or (isinstance(mag, float) and math.isnan(mag)):
        unit = "x" if slot.type == "factor|percent" else ("%" if "percent" in str(slot.type) else
                                                          _LEVEL_UNITS.get(str(slot.type), ""))
        st.error(item.span, f"{what} {value} is out of range", codes.OUT_OF_RANGE,
                 help=f"use a value from {lo:g}{unit} to {hi:g}{unit}")
        return FAIL
    return value


def _mismatch(st: State, item, expected: str, what: str, inst: Instance, value: Any = FAIL):
    if isinstance(item, ast.Var) and value is not FAIL:
        got = f"`${item.name}`, which is {describe(value)}"
    else:
        got = describe_item(item) if isinstance(item, ast.Literal) or value is FAIL else describe(value)
    st.error(item.span, f"{what} takes {expected}, got {got}", codes.TYPE_MISMATCH,
             help=unit_hint(expected, value))
    return FAIL


def _enum(st: State, item, choices: tuple[str, ...], inst: Instance, what: str):
    """One word of `choices`, written bare, quoted, or held by a param."""
    word = None
    if isinstance(item, ast.Word) and not item.index:
        word = item.name
    elif isinstance(item, ast.StringLit) and item.is_plain:
        word = item.value
    elif isinstance(item, ast.Var):
        v = param_value(st, item, inst.env)
        if v is FAIL:
            return FAIL
        word = v if isinstance(v, str) else None
    if word is None:
        st.error(item.span, f"{what} takes one of: {', '.join(choices)}", codes.NOT_A_CHOICE, help=None)
        return FAIL
    if word not in choices:
        st.error(item.span, f"{what} does not take `{word}`", codes.UNKNOWN_CHOICE,
                 expected=tuple(f"`{c}`" for c in choices), help=suggestion(word, choices))
        return FAIL
    return word


def _look(st: State, item, inst: Instance, what: str):
    """A grade look: a preset name, or a .cube LUT file that must exist."""
    if isinstance(item, ast.Word) and not item.index:
        name = item.name
    elif isinstance(item, (ast.StringLit, ast.Var)):
        name = string_value(st, item, inst.env) if isinstance(item, ast.StringLit) else param_value(st, item, inst.env)
        if name is None or name is FAIL:
            return FAIL
        if not isinstance(name, str):
            return _mismatch(st, item, "a look name or a .cube file", what, inst)
    else:
        return _mismatch(st, item, "a look name or a .cube file", what, inst)
    if name.lower().endswith(".cube"):
        path = (inst.base_dir / name).resolve()
        if not os.path.isfile(path):
            st.error(item.span, f"LUT file not found: {name}", codes.LUT_NOT_FOUND, help=f"looked for {path}")
            return FAIL
        return {"lut": path}
    if name not in sig.GRADE_PRESETS:
        st.error(item.span, f"unknown look `{name}`", codes.UNKNOWN_LOOK, expected=tuple(f"`{p}`" for p in sig.GRADE_PRESETS),
                 help=suggestion(name, sig.GRADE_PRESETS) or "or give a .cube LUT file: `grade \"looks/film.cube\"`")
        return FAIL
    return {"preset": name}


def fits_kind(value, kind: str) -> bool:
    """Whether a value is of a kind (`int` is a whole number, `path` a string): no diagnostics."""
    actual = kind_of(value)
    if kind == actual:
        return True
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return actual == "number"
    if kind == "path":
        return actual == "string"
    return False


_LEVEL_UNITS = {"loudness": " LUFS", "truepeak": " dBTP"}


def _magnitude(value, slot: sig.Slot) -> float | None:
    if isinstance(value, Duration):
        return value.seconds
    if isinstance(value, Percent):
        return value.value / 100 if slot.type == "factor|percent" else value.value
    if isinstance(value, Decibels):  # as a percentage; 7000dB is 10^352 %, past any float: just "too loud"
        return math.inf if value.value > 6000 else 100 * 10 ** (value.value / 20)
    if isinstance(value, (Factor, Pixels, Fps)):
        return value.value
    if isinstance(value, Loudness):
        return value.lufs
    if isinstance(value, TruePeak):
        return value.dbtp
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
