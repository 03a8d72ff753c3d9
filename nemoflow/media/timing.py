"""Frame timing shared by every FFmpeg graph: exact rates, and where cuts land on the frame grid.

The rule (docs/engine.md "Frame timing"): a clip starts on the source frame
nearest its in-point (a tie goes to the earlier frame), picture and sound both
from that frame's instant; every cut on the timeline lands on the output frame
boundary nearest it (a half frame rounds up), so a clip of d seconds at r fps
starting at 0 has exactly round(d x r) frames and the sound is cut at the same
instants as the picture.
"""

from __future__ import annotations

import math
from fractions import Fraction


def exact_rate(fps: float) -> Fraction:
    """A rate as the fraction FFmpeg uses: 29.97 is NTSC's 30000/1001 (also 23.976, 59.94), others as written."""
    ntsc = round(fps * 1.001)
    if ntsc % 6 == 0 and abs(fps - ntsc * 1000 / 1001) < 0.006 and abs(fps - ntsc) > 0.01:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def rate_text(fps: float) -> str:
    """The exact rate for a filter option (`30000/1001`, `25`)."""
    rate = exact_rate(fps)
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def frame_index(ms: float, rate: Fraction) -> int:
    """The output frame boundary nearest `ms` (a half frame rounds up): every cut lands on the output's frame grid."""
    return math.floor(Fraction(ms) * rate / 1000 + Fraction(1, 2))


def first_source_frame(in_ms: float, rate: Fraction) -> int:
    """The source frame nearest the in-point (a tie goes to the earlier frame, as in smart cut)."""
    return math.ceil(Fraction(in_ms) * rate / 1000 - Fraction(1, 2))
