"""Two-pass stabilization (vid.stab) set for the footage: steady the shake without zooming in or tilting.

vid.stab's defaults suit none of what users shoot: its optimal static zoom (`optzoom=1`, or the L1 path
optimizer's zoom budget) enlarges the *whole* clip by the worst frame's shift (~15% for a hand shake, steady
parts included), and it corrects rotation it thinks it sees even when the shake only translates (a visible tilt
on patterned scenes). Here: Gaussian path smoothing over half a second, no zoom (`optzoom=0`), borders that a
correction uncovers filled from the previous frames (`crop=keep`), rotation corrected only when the measured
motion turns, and `from`/`to` confine the whole thing to a span so the rest of the clip is the untouched source
(docs/engine.md "Stills and stabilization").
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

from ...media.escape import filter_value, lavfi_number

SMOOTHING_SECONDS = 0.5  # frames each side of the low-pass on the camera path: half a second's, whatever the rate
TURN_DEGREES = 0.3  # a median per-frame rotation below this over the moving frames is measurement noise, not a turn
_LM = re.compile(r"\(LM (-?\d+) (-?\d+) (-?\d+) (-?\d+) \d+ [\d.]+ [\d.]+\)")


def detect_filter(stab: dict[str, Any], trf: Path) -> str:
    """Pass 1: measure the motion (ASCII, so `turns` can read it back)."""
    shakiness = max(1, min(10, round(stab.get("strength", 50) / 10)))
    return f"vidstabdetect=shakiness={shakiness}:accuracy=15:fileformat=ascii:result={filter_value(str(trf))}"


def transform_filter(stab: dict[str, Any], trf: Path, fps: float) -> str:
    """Pass 2: smooth the camera path and move each frame onto it; no zoom, and no rotation unless the camera turns."""
    smoothing = int(stab.get("smoothing") or max(1, round(fps * SMOOTHING_SECONDS)))
    rotation = "" if turns(trf) else ":maxangle=0"
    return (f"vidstabtransform=input={filter_value(str(trf))}:smoothing={smoothing}:optalgo=gauss:optzoom=0:crop=keep"
            f"{rotation}:interpol=bicubic")


def window(stab: dict[str, Any], seek_ms: float) -> tuple[float, float | None] | None:
    """The stabilized part of a clip's input, in seconds from where the input is opened; None for all of it."""
    if "src_from" not in stab and "src_to" not in stab:
        return None
    start = max(0.0, (stab.get("src_from", 0) - seek_ms) / 1000)
    end = (stab["src_to"] - seek_ms) / 1000 if "src_to" in stab else None
    return start, end


def span_filters(start: float, end: float | None) -> list[str]:
    """Keep the frames of [start, end) of a stream and restart their clock (detection and transform see the same)."""
    trim = f"trim=start={lavfi_number(start)}" + (f":end={lavfi_number(end)}" if end is not None else "")
    return [trim, "setpts=PTS-STARTPTS"]


def turns(trf: Path) -> bool:
    """Whether the measured motion rotates: per frame, the median rotation of the local motions about the frame's
    centre once the frame's median translation is taken out (robust to fields that matched the wrong bar of a
    repeating pattern), then the median of that over the frames that move at all."""
    try:
        text = trf.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # not readable: leave vid.stab its default
    angles = []
    for line in text.splitlines():
        fields = [tuple(map(float, m)) for m in _LM.findall(line)]
        if len(fields) < 4:
            continue
        dx, dy, x, y = (list(c) for c in zip(*fields, strict=True))
        if not any(dx) and not any(dy):
            continue  # a steady frame says nothing about turning
        mx, my = statistics.fmean(x), statistics.fmean(y)
        tx, ty = statistics.median(dx), statistics.median(dy)
        reach = max((xi - mx) ** 2 + (yi - my) ** 2 for xi, yi in zip(x, y, strict=True)) ** 0.5
        per_field = []
        for dxi, dyi, xi, yi in zip(dx, dy, x, y, strict=True):
            rx, ry, r2 = xi - mx, yi - my, (xi - mx) ** 2 + (yi - my) ** 2
            if r2 > (0.1 * reach) ** 2:
                per_field.append((-(dxi - tx) * ry + (dyi - ty) * rx) / r2)
        if per_field:
            angles.append(abs(statistics.median(per_field)))
    if not angles:
        return False
    return statistics.median(angles) * 180 / 3.141592653589793 >= TURN_DEGREES
