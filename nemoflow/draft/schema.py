"""Validate Drafts against schemas/draft.schema.json at every boundary.

Boundaries: after an edit compiles, before an engine renders, and when a
draft is read from outside (a file, the cloud service). A draft that fails is
a DraftError naming where it came from and the first problems, with their
JSON paths, instead of a KeyError deep inside an engine.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from typing import Any

from ..errors import DraftError
from ..resources import resource_path
from .model import Draft

_building = threading.Lock()


def validator(name: str = "draft.schema.json"):
    """The validator of schemas/NAME, built once per process (threads may ask at the same moment; building costs ~0.1 s)."""
    with _building:
        return _build_validator(name)


@cache
def _build_validator(name: str):
    import jsonschema

    schema = json.loads(resource_path(f"schemas/{name}").read_text(encoding="utf-8"))
    # The schema ships with nemoflow and is checked against its metaschema by the tests
    # (test_render_perf_paths.py), not here: that check cost ~0.1 s of every run's start.
    return jsonschema.validators.validator_for(schema)(schema)


def schema_problems(data: Any, name: str) -> list[str]:
    """Every violation of schemas/NAME as `path: message`."""
    found = []
    for err in sorted(validator(name).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = "/".join(str(p) for p in err.absolute_path) or "(root)"
        found.append(f"{path}: {err.message}")
    return found


def problems(data: Any) -> list[str]:
    """Every violation of nemoflow's own Draft schema, plus references the schema cannot express."""
    found = schema_problems(data, "draft.schema.json")
    if found or not isinstance(data, dict):
        return found
    media = (data.get("m") or {}).get("media") or {}
    for ti, track in enumerate(data.get("t", [])):
        for si, seg in enumerate(track.get("sg", [])):
            src = (seg.get("m") or {}).get("src")
            if src is not None and src not in media:
                found.append(f"t/{ti}/sg/{si}/m/src: `{src}` is not in the draft's media table (m.media)")
    return found


def validate(data: Any, where: str) -> None:
    """Raise DraftError if `data` is not a valid draft; `where` says which boundary (for the message)."""
    found = problems(data)
    if found:
        shown = "\n".join("    " + p for p in found[:6])
        more = f"\n    … and {len(found) - 6} more" if len(found) > 6 else ""
        raise DraftError(f"invalid draft {where}:\n{shown}{more}\n"
                         "The draft must match schemas/draft.schema.json. If nemoflow built it, this is a nemoflow bug: please report it.")


def load_draft(data: Any, where: str) -> Draft:
    """Validate JSON from outside and build the model; unknown fields are kept."""
    validate(data, where)
    return Draft.from_json(data)


def checked(draft: Draft, where: str) -> Draft:
    """Validate a draft built in-process (after compiling, before rendering) and return it."""
    validate(draft.to_json(), where)
    return draft
