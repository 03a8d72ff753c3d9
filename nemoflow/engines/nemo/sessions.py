"""Which service session holds which timeline, and getting a new one when the service has lost it (code 1002).

One session per timeline: an edit and the asks that continue it share one;
an independent branch gets its own. Sessions are remembered in the ledger,
so a re-run uses the same ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from ...core.graph import topological_order
from ...core.model import Recipe, StepKind
from ..base import Message, Reporter
from .errors import SessionLost
from .service import Service

T = TypeVar("T")


def timeline_slots(recipe: Recipe) -> dict[str, str]:
    """Which session each edit/ask uses: a step continues its base's session unless a sibling already did."""
    slots: dict[str, str] = {}
    claimed: set[str] = set()
    for sid in topological_order(recipe):
        step = recipe.steps[sid]
        if step.kind not in (StepKind.EDIT, StepKind.ASK):
            continue
        base = step.spec.base.id if step.spec.base else None
        if base in slots and base not in claimed:
            slots[sid] = slots[base]
            claimed.add(base)
        else:
            slots[sid] = sid
    return slots


class Sessions:
    def __init__(self, service: Service, recipe: Recipe) -> None:
        self.service = service
        self.recipe = recipe
        self.slots = timeline_slots(recipe)
        self.main_slot = next(iter(self.slots.values()), "main")

    def slot_of(self, step_id: str) -> str:
        return self.slots.get(step_id, self.main_slot)

    def get(self, slot: str) -> str:
        """The slot's session, created on first use."""
        with self.service.keyed(f"session:{slot}"):
            sid = self.service.ledger.session(slot)
            if sid is None:
                sid = self.service.client.create_session()
                self.service.ledger.set_session(slot, sid)
                self._remember_last(sid)
            return sid

    def replace(self, slot: str, lost: str, report: Reporter) -> str:
        """After 1002: a new session for the slot (once, however many threads noticed), uploads redone on demand."""
        with self.service.keyed(f"session:{slot}"):
            current = self.service.ledger.session(slot)
            if current and current != lost:
                return current
            sid = self.service.client.create_session()
            self.service.ledger.set_session(slot, sid)
            self._remember_last(sid)
        report.message(Message.NOTE, f"session {lost} no longer exists on the service (code 1002); continuing in a new session "
                                     f"{sid}, re-uploading by URL what it needs")
        return sid

    def within(self, slot: str, report: Reporter, work: Callable[[str], T]) -> T:
        """`work(session id)`, once more in a new session if the service lost the first."""
        sid = self.get(slot)
        try:
            return work(sid)
        except SessionLost:
            return work(self.replace(slot, sid, report))

    def _remember_last(self, sid: str) -> None:
        from .credentials import credentials_path

        path = credentials_path().parent / "last-session.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"api": self.service.settings.api_url, "session": sid, "recipe": str(self.recipe.path)}))
        except OSError:
            pass  # only a convenience for `nemoflow state`
