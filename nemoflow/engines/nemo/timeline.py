"""Timelines in the service's sessions: an `ask` sent to a session that holds its base, and its effect read back.

No message format is invented: a session is brought to an edit's Draft with
the plain instructions of instructions.py, each checked against the state,
and a session that should hold an earlier ask's result but does not (a new,
replaced or since-changed session) gets the chain asked again from the edit
it started from. The service's state is the truth: what an ask returns is the
session's draft, every field kept.
"""

from __future__ import annotations

import hashlib
import json

from ...core.model import AskSpec, Recipe, Step, StepKind
from ...draft.diff import summary as draft_summary
from ...draft.model import Draft
from ...errors import DraftError, NemoflowError
from ..base import EngineContext, Message, Reporter
from . import instructions
from .drafts import Names, ServiceDraft, changes, read_state_draft, summary
from .errors import SessionLost, StreamDropped
from .service import Service
from .sessions import Sessions
from .sse import Reply, send_message
from .uploads import Uploads

_LOST = ("dropped", "unsent", "timeout")  # stream endings after which the message may not have been taken


class Timelines:
    def __init__(self, service: Service, sessions: Sessions, uploads: Uploads, context: EngineContext) -> None:
        self.service = service
        self.sessions = sessions
        self.uploads = uploads
        self.context = context
        self.recipe: Recipe = context.recipe

    def state(self, sid: str) -> ServiceDraft:
        return read_state_draft(self.service.client.state(sid), f"read from session {sid} (the service's timeline state)")

    def _send(self, sid: str, text: str, report: Reporter) -> Reply:
        return send_message(self.service.client, sid, text, on_event=lambda kind, t: report.message(Message(kind), t))

    def _settled(self, sid: str, reply: Reply, before: ServiceDraft) -> ServiceDraft:
        """The state after a message; after a dropped stream with no change yet, read once more after a short wait."""
        after = self.state(sid)
        if reply.ending in _LOST and after.timeline_json() == before.timeline_json():
            self.service.stop.wait(min(self.service.settings.poll_interval, 5.0))  # the backend may still be applying it
            after = self.state(sid)
        return after

    # -- an ask ----------------------------------------------------------------------------------------------
    def ask(self, step: Step[AskSpec], base: Draft | ServiceDraft, report: Reporter) -> tuple[ServiceDraft, str, Names]:
        """Bring the session to the base, send the instruction, read what changed: the service's draft, the change in words,
        and the session's media names (to summarise it)."""
        slot = self.sessions.slot_of(step.id)
        for attempt in range(3):
            sid = self.sessions.get(slot)
            try:
                before = self._arrive(step, base, sid, report)
                reply = self._send(sid, step.spec.instruction, report)
                after = self._settled(sid, reply, before)
            except SessionLost:
                self.sessions.replace(slot, sid, report)
                continue
            if before.timeline_json() != after.timeline_json():
                names = self.uploads.names(sid)
                done = changes(before, after, names)
                for line in done:
                    report.message(Message.NOTE, line)
                self._act(step, reply, after, sid, report)
                return after, "; ".join(done), names
            if reply.ending in _LOST and attempt < 2:
                report.message(Message.NOTE, f"the message stream {_ending(reply)} and the timeline is unchanged; sending the "
                                             "instruction again")
                continue
            said = " ".join(reply.texts)[:300] or "nothing (the stream closed without a reply)"
            raise NemoflowError(f"{step.span}: `ask {step.name}` changed nothing: the session's timeline is the same as before the "
                                f"instruction {step.spec.instruction!r}. The service said: {said}. Rephrase the instruction, or "
                                "write the edit as clauses in an `edit` block.")
        raise StreamDropped(f"{step.span}: `ask {step.name}`: the message stream dropped three times with no change; run again")

    def _arrive(self, step: Step[AskSpec], base: Draft | ServiceDraft, sid: str, report: Reporter) -> ServiceDraft:
        """The session `sid` holding the ask's base: as it is, by instructions (an edit's Draft), or by asking the chain again."""
        if isinstance(base, Draft):
            return self.build(base, sid, report, f"{step.span}: `ask {step.name}`")
        state = self.state(sid)
        if state.timeline_json() == base.timeline_json():
            return state
        return self._replay(step.spec.base.id, sid, report)

    def _replay(self, ask_id: str, sid: str, report: Reporter) -> ServiceDraft:
        """Bring `sid` to the edit the chain of asks ending at `ask_id` starts from, then ask each of them again, in order."""
        chain, root = [], ask_id
        while self.recipe.steps[root].kind == StepKind.ASK:
            chain.append(self.recipe.steps[root])
            root = self.recipe.steps[root].spec.base.id
        chain.reverse()
        report.message(Message.NOTE, f"session {sid} does not hold the timeline {ask_id} left (a new or replaced session, or a "
                                     f"later ask changed it): bringing it to {root} and asking {', '.join(s.id for s in chain)} "
                                     "again; the service's answers may differ from the cached ones")
        root_draft = self.context.draft_of(root)
        if not isinstance(root_draft, Draft):
            raise NemoflowError(f"{chain[0].span}: {root} has no timeline nemoflow can describe to the service")
        state = self.build(root_draft, sid, report, f"{chain[0].span}: replaying the chain to {ask_id}")
        for ask in chain:
            for _ in range(3):  # as in `ask`: a message that may not have been taken, with no change seen, is sent again
                reply = self._send(sid, ask.spec.instruction, report)
                after = self._settled(sid, reply, state)
                if reply.ending not in _LOST or after.timeline_json() != state.timeline_json():
                    break
            state = after
        return state

    # -- bringing a session to an edit's Draft -------------------------------------------------------------------
    def build(self, target: Draft, sid: str, report: Reporter, where: str) -> ServiceDraft:
        """Instruct session `sid` until its timeline is `target` (checked after each instruction and at the end)."""
        _, ups = self.uploads.for_session(target, sid, report)
        names = self.uploads.names(sid)
        state = self.state(sid)
        wanted = {"draft": _digest(json.dumps(target.to_json(), sort_keys=True)), "state": _digest(state.timeline_json())}
        if self.service.ledger.built(sid) == wanted:
            return state  # exactly the state nemoflow read back after building this edit: nothing said since
        steps = instructions.plan(target, ups)
        if not any(t.segments for t in state.tracks()):
            steps = steps[1:]  # nothing to clear
        report.message(Message.NOTE, f"bringing session {sid} to {target.m.get('name', 'the edit')} in {len(steps)} instruction"
                                     f"{'s' if len(steps) != 1 else ''}")
        for step in steps:
            state = self._carry_out(step, sid, names, report, where, target)
        left = instructions.problems(state, target, ups, names)
        if left:
            raise DraftError(self._mismatch(where, sid, "after the last instruction", left, state, target, names))
        self.service.ledger.set_built(sid, wanted["draft"], _digest(state.timeline_json()))
        return state

    def _carry_out(self, ins: instructions.Instruction, sid: str, names: Names, report: Reporter, where: str,
                   target: Draft) -> ServiceDraft:
        before = self.state(sid)
        for attempt in range(3):
            reply = self._send(sid, ins.text, report)
            after = self._settled(sid, reply, before)
            found = ins.check(before, after, names)
            if not found:
                return after
            if reply.ending in _LOST and after.timeline_json() == before.timeline_json() and attempt < 2:
                report.message(Message.NOTE, f"the message stream {_ending(reply)} before “{ins.text}” took; sending it again")
                continue
            said = " ".join(reply.texts)[:200] or "nothing"
            raise DraftError(self._mismatch(where, sid, f"after “{ins.text}” (it said: {said})", found, after, target, names))
        raise StreamDropped(f"{where}: the message stream dropped three times while sending “{ins.text}”; run again")

    def _mismatch(self, where: str, sid: str, when: str, found: list[str], state: ServiceDraft, target: Draft, names: Names) -> str:
        shown = "\n".join("    " + p for p in found[:8])
        return (f"{where}: the NemoVideo session {sid} does not hold the edit's timeline {when}:\n{shown}\n"
                f"  the edit:    {draft_summary(target)}\n  the session: {summary(state, names)}\n"
                "The service may read these instructions differently (the wording is engines/nemo/instructions.py); "
                "run this step on the local engine (--engine local) meanwhile.")

    def _act(self, step: Step, reply: Reply, after: ServiceDraft, sid: str, report: Reporter) -> None:
        """GUI phrasing is an instruction to the client: export → the export steps; preview/open → summarise the state."""
        for action in reply.actions:
            if action == "preview":
                report.message(Message.ACTION, f"preview: {summary(after, self.uploads.names(sid))}")
            elif action == "export":
                exports = [s.id for s in self.recipe.by_kind(StepKind.EXPORT) if s.spec.base.id == step.id]
                report.message(Message.ACTION, f"export: done by {', '.join(exports)}" if exports else
                               f"export: no export step renders {step.id} yet; add `export NAME = {step.name} {{ … }}` to render it")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ending(reply: Reply) -> str:
    return {"dropped": "dropped", "unsent": "could not be sent", "timeout": "timed out"}.get(reply.ending, "ended")
