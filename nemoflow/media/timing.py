"""Frame timing shared by every FFmpeg graph: exact rates, and where cuts land on the frame grid.

The rule (docs/engine.md "Frame timing"): a clip starts on the source frame
nearest its in-point (a tie goes to the earlier frame), picture and sound both
from that frame's instant; every cut on the timeline lands on the output frame
boundary nearest it (a half frame rounds up), so a clip of d seconds at r fps
starting at 0 has exactly round(d x r) frames and the sound is cut at the same
instants as the picture.
"""

from __future__ import annotations

# the frame rules live in core (draft/slice.py uses them too); re-exported here for the engines and the toolkit
from ..core.frames import exact_rate as exact_rate
from ..core.frames import first_source_frame as first_source_frame
from ..core.frames import frame_index as frame_index


def rate_text(fps: float) -> str:
    """The exact rate for a filter option (`30000/1001`, `25`)."""
    rate = exact_rate(fps)
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"
