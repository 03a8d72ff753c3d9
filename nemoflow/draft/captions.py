"""Captions in a Draft: TEXT-track segments whose `m["caption"]` says how they are shown (burned in or soft).

A cue is a text segment like a title's, so every Draft operation (trim, speed, splice/concat, an ask's ripple cuts)
moves and cuts it with the picture it was put over, with no caption-specific code in draft/ops.py. What makes it a
caption is `m["caption"]` (schemas/draft.schema.json `caption`): the mode, the look keywords the recipe gave, and
the cue's number and file for messages. The engines draw caption segments themselves (media/captions.py), never as
titles.

Time base: a `captions` clause times its cues on the timeline so far, where the clause stands (as `stabilize`),
from `from` (default 0s). A cue that starts at or after the end of the timeline so far is dropped, and one that runs
past it is cut there; each is said in `m["caption_notes"]` of the Draft (caption_notes), since a subtitle file
longer than its edit is common (captions of a whole talk over one trimmed excerpt) and not an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from ..errors import DraftError
from .model import TEXT, Draft, Segment

BURN, SOFT = "burn", "soft"
NOTES = "caption_notes"
MAX_NOTES = 20  # a 2-hour file over a 1-minute edit: the first few dropped cues, then a count


@attrs.frozen
class CaptionStyle:
    """The look keywords a `captions` clause gave (None: not given, the engine's caption default applies).

    Same encodings as a title's m["style"] (draft/build.py): colours `#rrggbb[aa]`, extents {"pct": n} or {"px": n},
    a font as a family name or an absolute file path; `outline` is {"px": n, "color": "#rrggbb"} (colour optional)."""

    font: str | None = None
    size: float | None = None
    color: str | None = None
    outline: dict[str, Any] | None = None
    box: str | None = None
    at: str | None = None
    x: dict[str, float] | None = None
    y: dict[str, float] | None = None
    wrap: dict[str, float] | None = None
    align: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}

    @classmethod
    def from_json(cls, data: Any) -> CaptionStyle:
        data = data if isinstance(data, dict) else {}
        return cls(**{f.name: data.get(f.name) for f in attrs.fields(cls)})


@attrs.frozen
class Caption:
    """What `m["caption"]` holds: how a caption segment is shown; its text is the segment's `m["text"]`."""

    mode: str = attrs.field(default=BURN, validator=attrs.validators.in_((BURN, SOFT)))
    style: CaptionStyle = attrs.field(factory=CaptionStyle)
    cue: int | None = None  # 1-based number of the cue in its file or inline list
    source: str | None = None  # the file as the recipe wrote it, or "inline"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "style": self.style.to_json()}
        if self.cue is not None:
            out["cue"] = self.cue
        if self.source is not None:
            out["source"] = self.source
        return out


@attrs.frozen
class TimedText:
    """A cue to place: ms from the captions' own 0, and its text."""

    start: int
    end: int
    text: str


def caption_of(seg: Segment) -> Caption | None:
    """The caption a segment is, or None for a title/text (or a malformed m["caption"], which the schema refuses)."""
    cap = seg.m.get("caption")
    if not isinstance(cap, dict):
        return None
    mode = cap.get("mode") if cap.get("mode") in (BURN, SOFT) else BURN
    cue = cap.get("cue") if isinstance(cap.get("cue"), int) else None
    source = cap.get("source") if isinstance(cap.get("source"), str) else None
    return Caption(mode, CaptionStyle.from_json(cap.get("style")), cue, source)


def add_captions(draft: Draft, cues: Iterable[TimedText], caption: Caption, *, offset: int = 0) -> Draft:
    """Put cues on the text track, from `offset` ms of the timeline so far; cues outside it are dropped or cut there,
    and said in the Draft's caption notes. Every cue outside: an error (the clause stands before its clips)."""
    end = draft.d
    segs: list[Segment] = []
    notes: list[str] = []
    dropped = 0
    source = caption.source or "captions"
    placed = 0
    for n, cue in enumerate(cues, 1):
        st, to = offset + cue.start, offset + cue.end
        if st >= end:
            dropped += 1
            if len(notes) < MAX_NOTES:
                notes.append(f"{source}: cue {n} ({_s(st)}–{_s(to)}) starts after the timeline so far ({_s(end)}): left out")
            continue
        if to > end:
            notes.append(f"{source}: cue {n} ({_s(st)}–{_s(to)}) runs past the end of the timeline so far ({_s(end)}): "
                         f"cut at {_s(end)}")
            to = end
        placed += 1
        m = {"text": cue.text, "style": {"role": "caption"}, "caption": attrs.evolve(caption, cue=n).to_json()}
        segs.append(Segment(st=st, d=to - st, m=m))
    if not placed:
        raise DraftError(f"every cue of {source} starts at or after the end of the timeline so far ({_s(end)}); put "
                         "`captions` after the clips they caption" + (f", or lower `from {_s(offset)}`" if offset else ""))
    if dropped > MAX_NOTES:
        notes.append(f"{source}: {dropped - MAX_NOTES} more cues start after the timeline so far: left out")
    draft = draft.with_segments(TEXT, [*draft.segments(TEXT), *segs])
    if notes:
        draft = draft.with_m(**{NOTES: [*draft.m.get(NOTES, []), *notes]})
    return draft


def caption_notes(draft: Draft) -> list[str]:
    """What building the Draft's captions left out or cut (for an engine to say at export, as transition notes)."""
    notes = draft.m.get(NOTES)
    return [str(n) for n in notes] if isinstance(notes, list) else []


def caption_segments(draft: Draft) -> list[Segment]:
    return [s for s in draft.segments(TEXT) if caption_of(s) is not None]


def _s(ms: int) -> str:
    return f"{ms / 1000:g}s"
