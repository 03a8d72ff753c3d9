"""What a Draft's transitions say to the user: the ones shortened to half the shorter of their two clips.

The cap itself is ops.entering (as editly: a transition longer than that swallowed whole clips and started several at
the same second, issue 17). It keeps the written length in `tr.asked`, so any engine can say what was written and
what is used, with the clips' lengths, whenever it renders the Draft.
"""

from __future__ import annotations

import itertools

from .model import VIDEO, Draft


def _s(ms: int) -> str:
    return f"{ms / 1000:g}s"


def transition_notes(draft: Draft) -> list[str]:
    """One line per transition that runs shorter than written, with the numbers (clips counted from 1)."""
    notes = []
    video = draft.segments(VIDEO)
    for n, (prev, seg) in enumerate(itertools.pairwise(video), 1):
        tr = seg.tr
        if not tr or int(tr.get("asked", 0)) <= int(tr["d"]):
            continue
        notes.append(f"`transition {tr['type']} {_s(int(tr['asked']))}` between clip {n} ({_s(prev.d)}) and clip {n + 1} "
                     f"({_s(seg.d)}) was shortened to {_s(int(tr['d']))}: a transition takes at most half the shorter "
                     "of its two clips, so that neither is swallowed")
    return notes
