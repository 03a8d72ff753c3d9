"""Where frames fall: exact rates and the frame-grid rules of docs/engine.md "Frame timing".

In core so that the Draft's own functions (draft/slice.py) and the media toolkit (media/timing.py) share one copy.
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


def frame_index(ms: float, rate: Fraction) -> int:
    """The output frame boundary nearest `ms` (a half frame rounds up): every cut lands on the output's frame grid."""
    return math.floor(Fraction(ms) * rate / 1000 + Fraction(1, 2))


def first_source_frame(in_ms: float, rate: Fraction) -> int:
    """The source frame nearest the in-point (a tie goes to the earlier frame, as in smart cut)."""
    return math.ceil(Fraction(in_ms) * rate / 1000 - Fraction(1, 2))
