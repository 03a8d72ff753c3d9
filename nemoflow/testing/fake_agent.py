"""The fake NemoVideo agent: what a message does to a session's draft, what it answers, and its SSE events.

Two kinds of message: an apply-draft message (contract.APPLY_DRAFT_MARKER) replaces
the draft after schema validation; anything else goes through a tiny deterministic
interpreter (grade, title "X", trim to N seconds, mute), whose drafts are always
schema-valid. Replies talk as if the user had a visual editor, on purpose.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import attrs

from ..draft import ops
from ..draft.model import AUDIO, TEXT, VIDEO, Draft, Segment, Track
from ..draft.schema import problems
from ..engines.nemo import contract

AUTHOR = contract.APP_NAME
APPLIED = "Timeline updated. Preview in timeline, then click Export when you are ready."
NOTHING = "Sorry, I could not find anything to change."
CLOSINGS = ("Done! Click Export to render your video.", "Open the timeline preview to check it.")
GRADE = {"type": "grade", "preset": "film", "amount": 60}
TITLE_MS = 3000

_GRADE = re.compile(r"\bgrad(e|ed|ing)\b|调色", re.I)
_TITLE = re.compile(r"""\btitle\s*(?:"([^"]*)"|'([^']*)'|“([^”]*)”)""", re.I)
_TRIM = re.compile(r"\b(?:trim|cut|shorten)\b(?:\s+(?:it|the video|this))?\s+(?:down\s+)?to\s+(\d+(?:\.\d+)?)\s*(?:s\b|secs?\b|seconds?\b)"
                   r"|\bmake it\s+(\d+(?:\.\d+)?)\s*(?:s\b|secs?\b|seconds?\b)|(\d+(?:\.\d+)?)\s*秒", re.I)
_MUTE = re.compile(r"\bmute\b|\bremove (?:the )?(?:background )?music\b|静音", re.I)


@attrs.frozen
class Reply:
    """The outcome of one message: the new draft (None: unchanged), the text for the user, the tool call made."""

    draft: dict[str, Any] | None
    text: str
    call: str
    args: dict[str, Any]

    @property
    def changed(self) -> bool:
        return self.draft is not None


def respond(message: str, current: dict[str, Any], pick: Callable[[int], int]) -> Reply:
    """What the agent does with `message` on the session's `current` draft; `pick(n)` is the seeded choice in range(n)."""
    raw = contract.applied_draft(message)
    if raw is not None:
        return _apply(raw)
    return _interpret(message, current, pick)


def _apply(raw: str) -> Reply:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return Reply(None, f"I could not apply that draft: it is not valid JSON ({exc}). The timeline is unchanged.",
                     "apply_draft", {"valid": False})
    found = problems(data)
    if found:
        listed = "; ".join(found[:5])
        return Reply(None, f"I could not apply that draft, it does not match the timeline format: {listed}. The timeline is unchanged.",
                     "apply_draft", {"valid": False, "problems": len(found)})
    return Reply(copy.deepcopy(data), APPLIED, "apply_draft", {"valid": True, "tracks": len(data.get("t", []))})


def _interpret(message: str, current: dict[str, Any], pick: Callable[[int], int]) -> Reply:
    draft = Draft.from_json(current)
    done: list[str] = []
    trim = _TRIM.search(message)
    if trim:
        ms = round(float(next(g for g in trim.groups() if g)) * 1000)
        if 0 < ms < draft.d:
            draft = ops.normalize(ops.trim(draft, 0, ms))
            done.append(f"trimmed the video to {ms / 1000:g} seconds")
    if _MUTE.search(message) and draft.track(AUDIO) is not None:
        draft = attrs.evolve(draft, t=tuple(tr for tr in draft.t if tr.tt != AUDIO))
        done.append("removed the music")
    if _GRADE.search(message) and draft.segments(VIDEO):
        draft = ops.add_effect(draft, GRADE)
        done.append(f"applied a film color grade to {len(draft.segments(VIDEO))} clip(s)")
    title = _TITLE.search(message)
    if title:
        text = next(g for g in title.groups() if g is not None)
        draft = _add_title(draft, text)
        done.append(f'added the title "{text}"')
    if not done:
        return Reply(None, NOTHING, "edit_timeline", {"instruction": message[:200], "operations": 0})
    new = draft.to_json()
    found = problems(new)
    if found:  # the interpreter's own bug: say so rather than store an invalid draft
        return Reply(None, f"Something went wrong on our side ({found[0]}). The timeline is unchanged.", "edit_timeline",
                     {"instruction": message[:200], "operations": 0})
    summary = "; ".join(done)
    text = f"{summary[0].upper()}{summary[1:]}. {CLOSINGS[pick(len(CLOSINGS))]}"
    return Reply(new, text, "edit_timeline", {"instruction": message[:200], "operations": len(done)})


def _add_title(draft: Draft, text: str) -> Draft:
    seg = Segment(st=0, d=TITLE_MS, m={"text": text, "style": {"role": "title"}})
    if draft.track(TEXT) is not None:
        return draft.with_segments(TEXT, [*draft.segments(TEXT), seg])
    order = {VIDEO: 0, AUDIO: 1, TEXT: 2}
    tracks = sorted([*draft.t, Track(TEXT, (seg,), {"name": "Title"})], key=lambda tr: order.get(tr.tt, 3))
    return attrs.evolve(draft, t=tuple(tracks))


# ---- SSE events ------------------------------------------------------------------------------

def event(parts: list[dict[str, Any]], *, partial: bool, n: int) -> dict[str, Any]:
    """One agent event (with a field clients do not know, `invocation_id`)."""
    return {"author": AUTHOR, "partial": partial, "content": {"role": "model", "parts": parts}, "invocation_id": f"inv_{n:06d}"}


def call_events(reply: Reply, rev: int, n: int) -> list[dict[str, Any]]:
    """The tool call and its response, which stay internal to the client."""
    response = {"status": "ok" if reply.changed else "unchanged", "changed": reply.changed, "rev": rev}
    return [event([{"functionCall": {"name": reply.call, "args": reply.args}}], partial=False, n=n),
            event([{"functionResponse": {"name": reply.call, "response": response}}], partial=False, n=n)]


def text_events(text: str, n: int) -> list[dict[str, Any]]:
    """Partial chunks of the text (about three), then the whole text as the final, non-partial event."""
    words = text.split(" ")
    step = max(1, -(-len(words) // 3))
    chunks = [" ".join(words[i:i + step]) + (" " if i + step < len(words) else "") for i in range(0, len(words), step)]
    return [*(event([{"text": c}], partial=True, n=n) for c in chunks), event([{"text": text}], partial=False, n=n)]


def stamp(draft: dict[str, Any], rev: int, new_id: Callable[[], str]) -> dict[str, Any]:
    """The service's own fields added to a stored draft: `rev`, a `uid` per segment, `locked` per track (kept if present)."""
    out = copy.deepcopy(draft)
    out["rev"] = rev
    for track in out.get("t", []):
        track.setdefault("locked", False)
        for seg in track.get("sg", []):
            seg.setdefault("uid", new_id())
    return out
