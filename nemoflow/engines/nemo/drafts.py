"""Drafts as the service holds them: read from a session's state and validated against schemas/."""

from __future__ import annotations

from typing import Any

from ...draft.model import Draft
from ...draft.schema import load_draft


def read_state_draft(state: dict[str, Any], where: str) -> Draft:
    """The state's draft, validated against schemas/ (a DraftError names the session and the JSON paths)."""
    raw = state.get("draft")
    if raw is None:
        raw = {"t": []}
    return load_draft(raw, where)
