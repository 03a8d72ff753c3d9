"""Cache keys: what a step's result depends on, named part by part.

A key is the SHA-256 of a step's *components*: its kind, each of its
parameters (one component per setting or clause, so `explain` can say
"param size changed"), the keys of its inputs, the content digests of the
files it reads, the engine's identity (nemoflow and FFmpeg versions) and the
cache format. Keys are computed before anything runs, from the recipe alone,
so `plan` knows exactly what will run. Paths are made relative to the recipe,
so moving a checkout does not invalidate its cache; line numbers are left
out, so moving a block does not either.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..core.diagnostics import Span
from ..core.model import CheckKind, MediaSource, Recipe, Step, StepKind, StepRef
from ..core.values import VALUE_TYPES
from .digests import DigestMemo

CACHE_FORMAT = 1


class Part(enum.StrEnum):
    """What a key component stands for; `explain` words a change by it."""

    KIND = "kind"  # the step's kind
    FIELD = "field"  # a field of the step's spec (an ask's instruction, an export's path, …)
    CLAUSE = "clause"  # one clause of an edit, numbered
    CHECK = "check"  # one assertion of an expect, numbered
    PARAM = "param"  # one export setting or generator option
    INPUT = "input"  # the key of a step this one reads
    FILE = "file"  # the content digest of a file it reads
    IDENTITY = "identity"  # the engine and what it renders with
    FORMAT = "format"  # the cache format


@attrs.frozen
class Component:
    """One thing a key depends on: what it is (`part`, `label`, `index`) and its canonical value (JSON text or a digest)."""

    part: Part
    label: str  # the clause's verb, the setting's name, the input's step id, the file's relative path, the identity's name
    value: str
    index: int | None = None  # clauses and checks: their number in the block

    @property
    def name(self) -> str:
        """The component's name inside the hashed blob ("clause 3 video", "param size", "ffmpeg")."""
        if self.part in (Part.CLAUSE, Part.CHECK):
            return f"{self.part} {self.index} {self.label}"
        if self.part in (Part.PARAM, Part.INPUT, Part.FILE):
            return f"{self.part} {self.label}"
        return self.label

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"part": str(self.part), "label": self.label, "value": self.value}
        if self.index is not None:
            out["index"] = self.index
        return out

    @classmethod
    def from_json(cls, data: Any) -> Component | None:
        """Read back from a store record (untrusted): None unless every field has its type."""
        if not isinstance(data, dict) or not isinstance(data.get("label"), str) or not isinstance(data.get("value"), str):
            return None
        index = data.get("index")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            return None
        try:
            part = Part(data.get("part"))
        except ValueError:
            return None
        return cls(part, data["label"], data["value"], index)

    @classmethod
    def from_legacy(cls, name: str, value: str) -> Component:
        """A component as caches of nemoflow 0.1.0 kept it (name → value): read for `explain` of results made then."""
        head, _, rest = name.partition(" ")
        if head in (Part.CLAUSE, Part.CHECK):
            number, _, label = rest.partition(" ")
            if number.isdigit():
                return cls(Part(head), label, value, int(number))
        if head in (Part.PARAM, Part.INPUT, Part.FILE) and rest:
            return cls(Part(head), rest, value)
        if name == "kind":
            return cls(Part.KIND, name, value)
        if name == "format":
            return cls(Part.FORMAT, name, value)
        return cls(Part.IDENTITY if name in _LEGACY_IDENTITY else Part.FIELD, name, value)


_LEGACY_IDENTITY = ("engine", "ffmpeg", "interpreter")


def components_from(data: Any) -> tuple[Component, ...] | None:
    """Components as a store keeps them (a list of objects; a name → value table from 0.1.0), or None if unreadable."""
    if isinstance(data, list):
        parts = [Component.from_json(item) for item in data]
        return None if any(p is None for p in parts) else tuple(p for p in parts if p is not None)
    if isinstance(data, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        return tuple(Component.from_legacy(k, v) for k, v in data.items())
    return None


@attrs.frozen
class StepKey:
    key: str
    components: tuple[Component, ...]
    files: tuple[Path, ...] = ()  # the files whose digests are FILE components, as read (the runner checks them after the step)

    @property
    def short(self) -> str:
        return self.key[:12]

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.components]


def _hashed(components: tuple[Component, ...]) -> str:
    blob = json.dumps({c.name: c.value for c in components}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def compute_keys(recipe: Recipe, order: list[str], digests: DigestMemo, identity: dict[str, str],
                 step_identity: Callable[[Step], dict[str, str]] | None = None) -> dict[str, StepKey]:
    """Every step's key, in dependency order (`order` must list inputs first).

    `identity` names the engine for every step; `step_identity` adds what only
    some steps depend on (the `ask` interpreter's revision), so a change there
    re-runs those steps and not every render.
    """
    base = recipe.path.resolve().parent
    keys: dict[str, StepKey] = {}
    for sid in order:
        step = recipe.steps[sid]
        comps: list[Component] = [Component(Part.KIND, "kind", str(step.kind))]
        comps += _spec_components(step, base)
        comps += [Component(Part.INPUT, dep, keys[dep].key) for dep in step.inputs if dep in keys]
        files = _files_read(step, base)
        for label, path in files:
            comps.append(Component(Part.FILE, label, digests.digest(path) or "missing"))
        for label, path in _goldens(step, base):  # in the key but not claimed: --update-golden rewrites them as the step runs
            comps.append(Component(Part.FILE, label, digests.digest(path) or "missing"))
        comps += [Component(Part.IDENTITY, name, value) for name, value in identity.items()]
        if step_identity is not None:
            comps += [Component(Part.IDENTITY, name, value) for name, value in step_identity(step).items()]
        comps.append(Component(Part.FORMAT, "format", str(CACHE_FORMAT)))
        unique = tuple({c.name: c for c in comps}.values())  # a later component of the same name wins, as in a dict
        keys[sid] = StepKey(_hashed(unique), unique, tuple(dict.fromkeys(path for _, path in files)))
    return keys


def files_claimed(keys: Mapping[str, StepKey], recipe: Recipe, sid: str) -> list[Path]:
    """Every file whose digest `sid`'s key stands for, its own and its inputs' down to the sources.

    A step's result may depend on any of them (an export reads the media its edit names), so all must still be
    as they were digested when it finishes, or its result is not what its key says.
    """
    seen: set[str] = set()
    stack = [sid]
    out: dict[Path, None] = {}
    while stack:
        current = stack.pop()
        if current in seen or current not in keys:
            continue
        seen.add(current)
        out.update(dict.fromkeys(keys[current].files))
        stack.extend(recipe.steps[current].inputs)
    return list(out)


def _rel(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return str(path)


def _canon(value: Any, base: Path) -> Any:
    """A JSON-able, location-independent form of a checked value."""
    if isinstance(value, Path):
        return _rel(value, base)
    if isinstance(value, StepRef):
        return value.id
    if isinstance(value, (list, tuple)):
        return [_canon(v, base) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _canon(v, base) for k, v in value.items()}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if attrs.has(type(value)):
        return {"type": type(value).__name__, **{k: _canon(v, base) for k, v in attrs.asdict(value, recurse=False).items()}}
    return str(value)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _spec_components(step: Step, base: Path) -> list[Component]:
    spec = step.spec
    out: list[Component] = []
    for field in attrs.fields(type(spec)):
        value = getattr(spec, field.name)
        if isinstance(value, Span):  # where something was written: moving it changes nothing
            continue
        if field.name == "ops":  # edit clauses: one component each, numbered, without their line
            out += [Component(Part.CLAUSE, op.verb, _text(_canon(op.args, base)), i) for i, op in enumerate(value, 1)]
        elif field.name == "checks":
            out += [Component(Part.CHECK, check.subject, _text([check.op, _canon(check.value, base)]), i)
                    for i, check in enumerate(value, 1)]
        elif field.name in ("settings", "options"):
            out += [Component(Part.PARAM, name, _text(_canon(v, base))) for name, v in value.items()]
        elif value is not None:
            out.append(Component(Part.FIELD, field.name, _text(_canon(value, base))))
    return out


def _files_read(step: Step, base: Path) -> list[tuple[str, Path]]:
    """Files whose content a step depends on: a media file, LUTs and font files named by clauses."""
    found: list[tuple[str, Path]] = []
    spec = step.spec
    if step.kind == StepKind.MEDIA and spec.source == MediaSource.FILE and spec.path is not None:
        found.append((_rel(spec.path, base), spec.path))
    if step.kind == StepKind.EDIT:
        for op in spec.ops:
            for value in op.args.values():
                for path in _paths_in(value, base):
                    found.append((_rel(path, base), path))
    return found


def _goldens(step: Step, base: Path) -> list[tuple[str, Path]]:
    """The golden pictures an expect compares frames with (`frame at 5s looks like "golden/5s.png" …`)."""
    if step.kind != StepKind.EXPECT:
        return []
    return [(_rel(c.value.golden, base), c.value.golden) for c in step.spec.checks if c.kind == CheckKind.LOOKS_LIKE]


def _paths_in(value: Any, base: Path) -> list[Path]:
    if isinstance(value, Path):
        return [value]
    if isinstance(value, str) and value.lower().endswith((".ttf", ".otf", ".ttc", ".cube")):
        candidate = Path(value).expanduser()
        candidate = candidate if candidate.is_absolute() else base / candidate
        return [candidate] if candidate.is_file() else []
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in _paths_in(v, base)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _paths_in(v, base)]
    return []


def describe_change(old: str, new: str) -> str:
    """Only what differs: `text "Urban Dreams" → "Urban Nights"` rather than two whole clauses."""
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return f"{describe_value(old)} → {describe_value(new)}"
    if isinstance(a, dict) and isinstance(b, dict) and "type" not in a and "type" not in b:
        parts = []
        for k in dict.fromkeys([*a, *b]):
            if a.get(k) != b.get(k):
                before = "(none)" if a.get(k) is None else _show(a[k])
                after = "(none)" if b.get(k) is None else _show(b[k])
                parts.append(f"{k} {before} → {after}")
        return "; ".join(parts)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) == 2 and isinstance(a[0], str):  # a check: [op, value]
        return f"{a[0]} {_show(a[1])} → {b[0]} {_show(b[1])}"
    return f"{describe_value(old)} → {describe_value(new)}"


def describe_value(text: str, limit: int = 70) -> str:
    """A component's value for people: literals as written (`1080p`→`1920x1080`), long JSON shortened."""
    try:
        value = json.loads(text)
    except ValueError:
        return text[:12] if len(text) == 64 else text[:limit]
    shown = _show(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        kind = VALUE_TYPES.get(value.get("type", ""))
        if kind is not None:  # a typed value in its canonical form: shown as the language writes it
            try:
                return str(kind(**{k: v for k, v in value.items() if k != "type"}))
            except (TypeError, ValueError):
                pass
        return "{" + ", ".join(f"{k} {_show(v)}" for k, v in value.items() if v is not None and k != "type") + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if " " in value or not value else value
    return json.dumps(value)
