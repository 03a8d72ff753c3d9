"""Clip effects other than colour, as FFmpeg filters: one entry per Draft effect type.

A clip effect of the signature table (`effect=True`) reaches the Draft as
`{"type": verb, …}` without code of its own (draft/build.py); this table is
where the local engine learns to draw it. Effects are drawn after the
colour work, in YUV, at the output size. Colour (`grade`, `adjust`) is
grade.py's, `stabilize` needs a first pass (engine.py), `fade` is timed by
the graph (graph.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...draft.output import Output
from ...media.escape import lavfi_number

DRAWN_ELSEWHERE = ("grade", "adjust", "stabilize", "fade")


def _blur(effect: dict[str, Any], out: Output) -> list[str]:
    """Gaussian blur scaled to the frame: the same look at 720p and at 4K (sigma 2% of the height at 100%)."""
    sigma = max(0.5, effect.get("strength", 50.0) / 100 * out.height / 50)
    return [f"gblur=sigma={lavfi_number(sigma)}"]


FILTERS: dict[str, Callable[[dict[str, Any], Output], list[str]]] = {
    "blur": _blur,
}


def effect_filters(effects: list[dict[str, Any]], out: Output) -> list[str]:
    """The filters of a clip's effects that this table draws, in the order the clauses were written."""
    return [f for e in effects if e.get("type") in FILTERS for f in FILTERS[e["type"]](e, out)]
