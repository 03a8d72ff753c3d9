"""Ken Burns: a slow zoom and pan over one clip, drawn with sub-pixel precision.

FFmpeg's `zoompan` crops at whole pixels and scales whole-pixel windows, so a slow zoom or pan steps by a pixel
now and then: the picture jitters. Here the view is a rectangle in the clip's (already fitted) frame whose corners
move smoothly, frame by frame, and `perspective` resamples it to the frame: it maps each output pixel to its source
position in 1/256 pixel steps and interpolates, so content moves at an even sub-pixel speed (tests/test_motion.py
measures it). The view is axis-aligned and keeps the frame's aspect, so the warp is a pure zoom and shift.

The motion runs over the clip as it is on the final timeline: its first frame at `from`, its last at `to`, whatever
trims or speed changes made it that long (a transition's overlap is part of the clip, so the motion continues
through it).
"""

from __future__ import annotations

from typing import Any

from ...media.escape import lavfi_number

# where the view's left (or top) edge sits in the room the zoom leaves, at the clip's start and end: 0 = at the
# picture's left (top) edge, 1 = at its right (bottom) edge, 0.5 = centred
_TRAVEL = {"right": ((0.0, 1.0), (0.5, 0.5)), "left": ((1.0, 0.0), (0.5, 0.5)),
           "down": ((0.5, 0.5), (0.0, 1.0)), "up": ((0.5, 0.5), (1.0, 0.0))}
_CENTRED = ((0.5, 0.5), (0.5, 0.5))


def kenburns_effect(effects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The clip's Ken Burns effect, if it has one (ops.kenburns keeps at most one per clip)."""
    return next((e for e in effects if e.get("type") == "kenburns"), None)


def kenburns_filters(effect: dict[str, Any], frames: int) -> list[str]:
    """The filters that draw `effect` over a clip of `frames` frames at the output size (after the fit and a still's
    loop, so a still is decoded and scaled once and only the view moves).

    At frame n (t = n / (frames - 1)) the zoom is z = from + (to - from) t; the view is W/z x H/z, its left edge at
    px(t) x (W - W/z), where px runs linearly as `pan` says (`_TRAVEL`), and likewise for the top edge.
    """
    low, high = float(effect["from"]) / 100, float(effect["to"]) / 100
    (x_start, x_end), (y_start, y_end) = _TRAVEL.get(effect.get("pan") or "", _CENTRED)
    still = abs(high - low) < 1e-9 and x_start == x_end and y_start == y_end
    if still and abs(low - 1) < 1e-9:
        return []  # `from 100% to 100%`: nothing moves or changes
    # `in` counts the frames this filter has taken, from 1; a whole-number ratio, exact over any length
    t = "0" if frames <= 1 else f"((in-1)/{frames - 1})"

    def lerp(a: float, b: float) -> str:
        return lavfi_number(a) if abs(b - a) < 1e-12 else f"({lavfi_number(a)}+{lavfi_number(b - a)}*{t})"

    zoom = lerp(low, high)
    view_w, view_h = f"(W/{zoom})", f"(H/{zoom})"
    left = f"({lerp(x_start, x_end)}*(W-{view_w}))"
    top = f"({lerp(y_start, y_end)}*(H-{view_h}))"
    right, bottom = f"({left}+{view_w})", f"({top}+{view_h})"
    corners = {"x0": left, "y0": top, "x1": right, "y1": top, "x2": left, "y2": bottom, "x3": right, "y3": bottom}
    # `sense=source`: the corners are where the output's corners come from in the picture
    options = ":".join(f"{k}='{v}'" for k, v in corners.items())
    return [f"perspective={options}:interpolation=linear:sense=source:eval={'init' if still else 'frame'}"]
