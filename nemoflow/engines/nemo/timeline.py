"""Timelines in the service's sessions: an edit's Draft put into its session, an `ask` sent and its effect read back.

The service's state is the truth: after every message the session's draft
is read and compared with what was meant, so a silent close or a dropped
stream is noticed, and what an instruction changed is said in words.
"""

from __future__ import annotations

import json

from ...core.model import AskSpec, EditSpec, Recipe, Step, StepKind
from ...draft.diff import changes, mismatches, same_timeline, summary, unified_diff
from ...draft.model import TEXT, VIDEO, Draft
from ...errors import DraftError, NemoflowError
from ..base import Message, Reporter
from . import contract
from .drafts import read_state_draft
from .errors import SessionLost, StreamDropped
from .service import Service
from .sessions import Sessions
from .sse import Reply, send_message
from .uploads import Uploads

_LOST = ("dropped", "unsent", "timeout")  # stream endings after which the message may not have been taken


class Timelines:
    def __init__(self, service: Service, sessions: Sessions, uploads: Uploads, recipe: Recipe) -> None:
        self.service = service
        self.sessions = sessions
        self.uploads = uploads
        self.recipe = recipe

    def state(self, sid: str) -> Draft:
        return read_state_draft(self.service.client.state(sid), f"read from session {sid} (the service's timeline state)")

    def _send(self, sid: str, text: str, report: Reporter) -> Reply:
        return send_message(self.service.client, sid, text, on_event=lambda kind, t: report.message(Message(kind), t))

    def _apply(self, sid: str, expected: Draft, report: Reporter) -> tuple[Draft, Reply]:
        reply = self._send(sid, contract.apply_draft_message(json.dumps(expected.to_json(), ensure_ascii=False, separators=(",", ":"))),
                           report)
        return self.state(sid), reply

    def push(self, step: Step[EditSpec], expected: Draft, report: Reporter) -> Draft:
        """Send a structured edit to the step's session; the session's state must then hold exactly that draft."""
        portable(expected, step)
        slot = self.sessions.slot_of(step.id)
        for attempt in range(3):
            sid = self.sessions.get(slot)
            try:
                target = self.uploads.for_session(expected, sid, report)
                actual, reply = self._apply(sid, target, report)
            except SessionLost:
                self.sessions.replace(slot, sid, report)
                continue
            problems = mismatches(target.to_json(), actual.to_json())
            if not problems:
                return actual
            if reply.ending in _LOST and attempt < 2:
                report.message(Message.NOTE, f"the message stream {_ending(reply)} before the draft arrived; sending it again")
                continue
            shown = "\n".join("    " + p for p in problems[:8])
            raise DraftError(f"{step.span}: the NemoVideo session {sid} did not take {step.id}'s timeline as "
                             f"sent ({len(problems)} difference{'s' if len(problems) != 1 else ''}):\n{shown}\n"
                             f"{unified_diff(target, actual, before_name='sent', after_name='session state')}\n"
                             "The service may have changed how it applies drafts (see engines/nemo/contract.py), or the edit uses "
                             "something it does not support; run it on the local engine (--engine local) meanwhile.")
        raise StreamDropped(f"{step.id}: the session {sid} lost its timeline three times in a row; run again")

    def ask(self, step: Step[AskSpec], base: Draft, report: Reporter) -> tuple[Draft, str]:
        """Bring the base onto the session, send the instruction, read what changed; (the new draft, what changed in words)."""
        slot = self.sessions.slot_of(step.id)
        for attempt in range(3):
            sid = self.sessions.get(slot)
            try:
                target = self.uploads.for_session(base, sid, report)
                before = self.state(sid)
                if mismatches(target.to_json(), before.to_json()):
                    before, _ = self._apply(sid, target, report)
                reply = self._send(sid, step.spec.instruction, report)
                after = self.state(sid)
                if reply.ending in _LOST and same_timeline(before, after):
                    self.service.stop.wait(min(self.service.settings.poll_interval, 5.0))  # the backend may still be applying it
                    after = self.state(sid)
            except SessionLost:
                self.sessions.replace(slot, sid, report)
                continue
            if not (same_timeline(before, after) and same_timeline(after, before)):
                done = changes(before, after)
                for line in done:
                    report.message(Message.NOTE, line)
                self._act(step, reply, after, report)
                return after, "; ".join(done)
            if reply.ending in _LOST and attempt < 2:
                report.message(Message.NOTE, f"the message stream {_ending(reply)} and the timeline is unchanged; sending the "
                                             "instruction again")
                continue
            said = " ".join(reply.texts)[:300] or "nothing (the stream closed without a reply)"
            raise NemoflowError(f"{step.span}: `ask {step.name}` changed nothing: the session's timeline is the same as before the "
                                f"instruction {step.spec.instruction!r}. The service said: {said}. Rephrase the instruction, or "
                                "write the edit as clauses in an `edit` block.")
        raise StreamDropped(f"{step.span}: `ask {step.name}`: the message stream dropped three times with no change; run again")

    def _act(self, step: Step, reply: Reply, after: Draft, report: Reporter) -> None:
        """GUI phrasing is an instruction to the client: export → the export steps; preview/open → summarise the state."""
        for action in reply.actions:
            if action == "preview":
                report.message(Message.ACTION, f"preview: {summary(after)}")
            elif action == "export":
                exports = [s.id for s in self.recipe.by_kind(StepKind.EXPORT) if s.spec.base.id == step.id]
                report.message(Message.ACTION, f"export: done by {', '.join(exports)}" if exports else
                               f"export: no export step renders {step.id} yet; add `export NAME = {step.name} {{ … }}` to render it")


def portable(draft: Draft, step: Step) -> None:
    """Local files a draft would point at (LUTs, font files) cannot reach the service."""
    import os

    for seg in draft.segments(VIDEO):
        for fx in seg.m.get("fx", []):
            if fx.get("lut"):
                raise DraftError(f"{step.span}: {step.id} grades with the LUT file {fx['lut']}, which the nemo "
                                 "engine cannot send (the service takes media uploads only); use a preset grade, or run on the "
                                 "local engine")
    for seg in draft.segments(TEXT):
        font = (seg.m.get("style") or {}).get("font", "")
        if isinstance(font, str) and (os.sep in font or font.lower().endswith((".ttf", ".otf"))):
            raise DraftError(f"{step.span}: {step.id} uses the font file {font}, which the nemo engine "
                             "cannot send; use a font family name, or run on the local engine")


def _ending(reply: Reply) -> str:
    return {"dropped": "dropped", "unsent": "could not be sent", "timeout": "timed out"}.get(reply.ending, "ended")
