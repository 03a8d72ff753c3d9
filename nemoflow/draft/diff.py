"""Drafts compared: what differs (for verification), what changed (in words), a JSON diff, a one-line summary.

Both engines report edits with these: the nemo engine after the service
changed its session's timeline, the local engine after it carried out an
`ask`. A draft matches an expected one when every field expected is there
with the same value, whatever else was added (the service adds fields of its
own). Summaries follow the service's wording: "Timeline (3 tracks): 1. Video … 2. BGM … 3. Title …".
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from .model import AUDIO, TEXT, VIDEO, Draft, Segment, Track

# Keys nemoflow derives itself (and the service may recompute): never a reason for a mismatch.
_DERIVED = {"d", "v"}


def mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` lacks or changes something `expected` has (extra keys in `actual` are fine)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key, value in expected.items():
            if not path and key in _DERIVED:
                continue
            where = f"{path}/{key}" if path else key
            if key not in actual:
                found.append(f"{where}: missing (expected {_short(value)})")
            else:
                found += mismatches(value, actual[key], where)
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path or '(root)'}: {len(actual)} items, expected {len(expected)}"]
        return [m for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for m in mismatches(e, a, f"{path}/{i}")]
    if _number(expected) and _number(actual):
        ok = abs(expected - actual) <= 1e-6
    else:
        ok = expected == actual and type(expected) is type(actual)
    return [] if ok else [f"{path or '(root)'}: {_short(actual)}, expected {_short(expected)}"]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_timeline(expected: Draft, actual: Draft) -> bool:
    return not mismatches(expected.to_json(), actual.to_json())


def core(draft: Draft) -> dict[str, Any]:
    """The draft without fields nemoflow does not know (for diffs people read)."""
    tracks = tuple(Track(tr.tt, tuple(Segment(s.st, s.d, s.m, s.tr) for s in tr.sg), tr.m) for tr in draft.t)
    return Draft(tracks, draft.m).to_json()


def unified_diff(before: Draft, after: Draft, *, before_name: str = "before", after_name: str = "after", limit: int = 60) -> str:
    a = json.dumps(core(before), indent=1, ensure_ascii=False, sort_keys=True).splitlines()
    b = json.dumps(core(after), indent=1, ensure_ascii=False, sort_keys=True).splitlines()
    lines = list(difflib.unified_diff(a, b, before_name, after_name, lineterm="", n=2))
    if len(lines) > limit:
        lines = [*lines[:limit], f"… {len(lines) - limit} more diff lines"]
    return "\n".join(lines)


def changes(before: Draft, after: Draft) -> list[str]:
    """What an edit did, in words: per track, clips added or removed, length, effects, texts."""
    out: list[str] = []
    if before.d != after.d:
        out.append(f"length {before.d / 1000:.1f}s → {after.d / 1000:.1f}s")
    kinds = sorted({tr.tt for tr in before.t} | {tr.tt for tr in after.t})
    for tt in kinds:
        old, new = before.segments(tt), after.segments(tt)
        label = _track_label(after.track(tt) or before.track(tt))
        if not old and new:
            out.append(f"added a {label} track: " + "; ".join(_segment(after, tt, s) for s in new))
            continue
        if old and not new:
            out.append(f"removed the {label} track")
            continue
        if len(old) != len(new):
            out.append(f"{label}: {len(old)} → {len(new)} segment{'s' if len(new) != 1 else ''}")
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            what = f"{label} {i + 1}"
            if (a.st, a.d) != (b.st, b.d):
                out.append(f"{what}: {_span(a)} → {_span(b)}")
            fx_a, fx_b = a.m.get("fx", []), b.m.get("fx", [])
            for fx in fx_b:
                if fx not in fx_a:
                    out.append(f"{what}: added {_effect(fx)}")
            for fx in fx_a:
                if fx not in fx_b:
                    out.append(f"{what}: removed {_effect(fx)}")
            for key in sorted(set(a.m) | set(b.m)):
                if key not in ("fx", "src") and a.m.get(key) != b.m.get(key):
                    out.append(f"{what}: {key} {_short(a.m.get(key))} → {_short(b.m.get(key))}")
        for b in new[len(old):]:
            out.append(f"{label}: added {_segment(after, tt, b)}")
    if not out and not same_timeline(before, after):
        out.append("changed: " + "; ".join(mismatches(core(before), core(after))[:3]))
    return out


def summary(draft: Draft) -> str:
    """'Timeline (3 tracks): 1. Video city 0–10s 2. BGM lofi 0–10s at 35% 3. Title "Urban Dreams" 0–3s'."""
    tracks = [tr for tr in draft.t if tr.sg]
    if not tracks:
        return "Timeline (empty)"
    parts = []
    for i, tr in enumerate(tracks, 1):
        items = ", ".join(_segment(draft, tr.tt, s) for s in tr.sg[:4]) + (f", … {len(tr.sg) - 4} more" if len(tr.sg) > 4 else "")
        parts.append(f"{i}. {_track_label(tr)} {items}")
    return f"Timeline ({len(tracks)} track{'s' if len(tracks) != 1 else ''}, {draft.d / 1000:.1f}s): " + " ".join(parts)


def _track_label(track: Track | None) -> str:
    if track is None:
        return "track"
    if track.tt == VIDEO and track.m.get("layer"):
        return f"Layer {track.m['layer']}"  # an overlay over the main picture (draft/layers.py)
    if track.tt == VIDEO:
        return "Video"
    if track.tt == AUDIO:
        return "BGM" if any(s.m.get("bed") or s.m.get("loop") for s in track.sg) or track.m.get("name") == "Music" else "Audio"
    if track.tt == TEXT:
        return "Title" if track.sg and all((s.m.get("style") or {}).get("role") == "title" for s in track.sg) else "Text"
    return str(track.m.get("name") or f"track {track.tt}")


def _segment(draft: Draft, tt: int, seg: Segment) -> str:
    if tt == TEXT:
        head = json.dumps(seg.m.get("text", ""), ensure_ascii=False)
    else:
        src = str(seg.m.get("src", "?"))
        head = src.split(".", 1)[1] if src.startswith("media.") else str(draft.media.get(src, {}).get("name") or src)
    text = f"{head} {_span(seg)}"
    volume = seg.m.get("volume")
    if tt == AUDIO and volume is not None and abs(float(volume) - 100) > 1e-6:
        text += f" at {float(volume):g}%"
    return text


def _span(seg: Segment) -> str:
    return f"{seg.st / 1000:g}–{seg.end / 1000:g}s"


def _effect(fx: dict[str, Any]) -> str:
    kind = fx.get("type", "effect")
    detail = fx.get("preset") or fx.get("dir") or ""
    amount = f" {fx['amount']:g}%" if isinstance(fx.get("amount"), (int, float)) else ""
    return f"{kind} {detail}{amount}".strip()


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
