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

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ..core.diagnostics import Span
from ..core.model import Recipe, Step, StepRef
from .digests import DigestMemo

CACHE_FORMAT = 1


@attrs.frozen
class StepKey:
    key: str
    components: dict[str, str]  # name → canonical value (JSON text or a digest)

    @property
    def short(self) -> str:
        return self.key[:12]


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
        comps: dict[str, str] = {"kind": step.kind}
        comps.update(_spec_components(step, base))
        for dep in step.inputs:
            if dep in keys:
                comps[f"input {dep}"] = keys[dep].key
        for label, path in _files_read(step, base):
            digest = digests.digest(path)
            comps[f"file {label}"] = digest or "missing"
        comps.update(identity)
        if step_identity is not None:
            comps.update(step_identity(step))
        comps["format"] = str(CACHE_FORMAT)
        blob = json.dumps(comps, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        keys[sid] = StepKey(hashlib.sha256(blob.encode()).hexdigest(), comps)
    return keys


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


def _spec_components(step: Step, base: Path) -> dict[str, str]:
    spec = step.spec
    out: dict[str, str] = {}
    for field in attrs.fields(type(spec)):
        value = getattr(spec, field.name)
        if isinstance(value, Span):  # where something was written: moving it changes nothing
            continue
        if field.name == "ops":  # edit clauses: one component each, numbered, without their line
            for i, op in enumerate(value, 1):
                out[f"clause {i} {op.verb}"] = _text(_canon(op.args, base))
        elif field.name == "checks":
            for i, check in enumerate(value, 1):
                out[f"check {i} {check.subject}"] = _text([check.op, _canon(check.value, base)])
        elif field.name in ("settings", "options"):
            for name, v in value.items():
                out[f"param {name}"] = _text(_canon(v, base))
        elif value is not None:
            out[field.name] = _text(_canon(value, base))
    return out


def _files_read(step: Step, base: Path) -> list[tuple[str, Path]]:
    """Files whose content a step depends on: a media file, LUTs and font files named by clauses."""
    found: list[tuple[str, Path]] = []
    spec = step.spec
    if step.kind == "media" and spec.source == "file" and spec.path is not None:
        found.append((_rel(spec.path, base), spec.path))
    if step.kind == "edit":
        for op in spec.ops:
            for value in op.args.values():
                for path in _paths_in(value, base):
                    found.append((_rel(path, base), path))
    return found


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


_UNITS = {"Duration": lambda v: f"{v['seconds']:g}s", "Percent": lambda v: f"{v['value']:g}%",
          "Resolution": lambda v: f"{v['width']}x{v['height']}", "Fps": lambda v: f"{v['value']:g}fps",
          "Factor": lambda v: f"{v['value']:g}x", "Pixels": lambda v: f"{v['value']:g}px",
          "Frequency": lambda v: f"{v['hz']:g}hz", "Decibels": lambda v: f"{v['value']:g}dB",
          "Bitrate": lambda v: f"{v['bps']}bps", "FileSize": lambda v: f"{v['bytes']}B",
          "Aspect": lambda v: f"{v['num']:g}:{v['den']:g}"}


def _show(value: Any) -> str:
    if isinstance(value, dict):
        fmt = _UNITS.get(value.get("type", ""))
        if fmt is not None:
            try:
                return fmt(value)
            except (KeyError, TypeError, ValueError):
                pass
        if value.get("type") == "Color":
            a = value.get("a", 255)
            return f"#{value['r']:02x}{value['g']:02x}{value['b']:02x}" + ("" if a == 255 else f"{a:02x}")
        return "{" + ", ".join(f"{k} {_show(v)}" for k, v in value.items() if v is not None and k != "type") + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if " " in value or not value else value
    return json.dumps(value)
