"""Milliseconds (the Draft's unit) to frames (an NLE's) and back, on the export's frame grid.

A Draft time becomes the output frame the local engine would cut at (core/frames.py), so a cut lands on the frame it
renders at; a frame becomes the millisecond nearest its start, which the engine maps back to the same frame
(half a millisecond is far under half a frame at any rate up to 240 fps).
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from ..core.frames import exact_rate, frame_index


@attrs.frozen
class Grid:
    """One frame rate, exact (29.97 is 30000/1001)."""

    rate: Fraction

    @classmethod
    def of(cls, fps: float) -> Grid:
        return cls(exact_rate(fps))

    @property
    def fps(self) -> float:
        """The rate as OTIO and its adapters hold it (a float; FCP XML writes 24000/1001 as timebase 24, ntsc)."""
        return float(self.rate)

    def frame(self, ms: float) -> int:
        return frame_index(ms, self.rate)

    def ms(self, frame: float) -> int:
        """The whole millisecond nearest the start of `frame` (a half rounds up)."""
        exact = Fraction(frame).limit_denominator(1_000_000) * 1000 / self.rate
        return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))
