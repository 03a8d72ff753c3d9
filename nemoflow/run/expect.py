"""Evaluate `expect` blocks against a rendered file, by probing it.

Each check reports expected vs actual, so a failing CI job says what was
wrong without anyone opening the video.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import attrs

from ..core import units
from ..core.model import Check, CheckOp
from ..core.values import Aspect, Bitrate, Duration, FileSize, Fps, Pixels, Resolution

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@attrs.frozen
class CheckResult:
    check: Check
    ok: bool
    actual: str
    expected: str


def _facts(path: Path) -> dict[str, Any]:
    from ..media.probe import probe  # PyAV loads only when a file is checked

    info = probe(path)
    v, a = info.video, info.audio
    facts: dict[str, Any] = {
        "duration": info.duration or 0.0,
        "file size": path.stat().st_size,
        "bitrate": info.bit_rate or (path.stat().st_size * 8 / info.duration if info.duration else 0),
        "has audio": a is not None,
        "has video": v is not None,
        "audio codec": a.codec if a else None,
    }
    if v is not None:
        facts.update({"size": (v.width, v.height), "width": v.width, "height": v.height, "fps": v.fps, "codec": v.codec,
                      "frames": v.frames, "aspect": v.width / v.height})
    return facts


def _number(value: Any) -> float:
    for kind, attr in ((Duration, "seconds"), (FileSize, "bytes"), (Bitrate, "bps"), (Fps, "value"), (Pixels, "value")):
        if isinstance(value, kind):
            return float(getattr(value, attr))
    return float(value)


def _show(subject: str, value: Any) -> str:
    """A measured fact, rounded in a fixed unit so a CI log lines up (core/units.py)."""
    if value is None:
        return "nothing"
    shown = {"duration": lambda: units.duration(value, places=3), "size": lambda: units.resolution(*value),
             "file size": lambda: units.filesize(value, places=2), "bitrate": lambda: units.bitrate(value, places=0),
             "fps": lambda: units.trimmed(value, 3), "aspect": lambda: units.number(value, 4)}.get(subject)
    return shown() if shown is not None else str(value)


def evaluate(path: Path, checks: tuple[Check, ...], *, fps_hint: float = 30.0) -> list[CheckResult]:
    """Every check against the file at `path` (which must exist)."""
    facts = _facts(path)
    results = []
    for check in checks:
        if check.op in (CheckOp.HAS, CheckOp.HAS_NO):
            present = bool(facts[f"has {check.subject}"])
            ok = present if check.op == CheckOp.HAS else not present
            results.append(CheckResult(check, ok, f"{check.subject} {'present' if present else 'absent'}", check.text))
            continue
        actual = facts.get(check.subject)
        if check.subject == "size":
            want = (check.value.width, check.value.height) if isinstance(check.value, Resolution) else check.value
            ok = _OPS[check.op](actual, want)
        elif check.subject == "aspect":
            want_ratio = check.value.ratio if isinstance(check.value, Aspect) else float(check.value)
            ok = (actual is not None and abs(actual - want_ratio) < 0.01) == (check.op == CheckOp.EQ)
        elif check.subject in ("codec", "audio codec"):
            ok = _OPS[check.op](actual, check.value)
        elif actual is None:
            ok = False
        elif check.op == CheckOp.ABOUT:
            want = _number(check.value)
            # about equal: a frame or 1% for durations, 1% otherwise
            tol = max(1.0 / (facts.get("fps") or fps_hint), 0.01 * want) if check.subject == "duration" else 0.01 * abs(want)
            ok = abs(float(actual) - want) <= tol + 1e-9
        else:
            ok = _OPS[check.op](float(actual), _number(check.value))
        results.append(CheckResult(check, ok, _show(check.subject, actual), check.text))
    return results
