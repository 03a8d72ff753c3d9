"""Drafts as the service holds them: read with only what the contract states, kept exactly as they came.

The contract names `t` (tracks), `tt` (0 video, 1 audio, 7 text), `sg`
(segments), `d` (ms) and `m` (metadata). How a segment names its media, its
in-point, its text or its volume is the service's and may be anything, so a
`ServiceDraft` is validated by the tolerant schemas/service-draft.schema.json
(never by nemoflow's own), keeps every field, and is sent back untouched when
it is rendered. Reading it is lenient: a segment's media is whichever of the
upload's answers (id, URL, name) appears among its values; one that matches
nothing is opaque service media — summarised, compared and rendered, never an
error.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from ...draft.schema import schema_problems
from ...errors import DraftError

VIDEO, AUDIO, TEXT = 0, 1, 7
SCHEMA = "service-draft.schema.json"
START_KEYS = ("st", "start")  # where a segment's place on the timeline (ms) may be; absent: right after the one before


@attrs.frozen
class Upload:
    """What the service answered for one upload, and which recipe media it is (`media`: the step id; `name`: how to show it)."""

    media: str
    name: str
    refs: frozenset[str]  # the upload's id, URL and name: whichever the service's draft uses
    upload_id: str = ""
    upload_name: str = ""

    @classmethod
    def of(cls, media: str, name: str, info: Mapping[str, Any]) -> Upload:
        refs = {str(info[k]) for k in ("id", "url", "name") if isinstance(info.get(k), (str, int)) and str(info[k])}
        return cls(media, name, frozenset(refs), str(info.get("id") or ""), str(info.get("name") or name))


class Names:
    """Recipe media by the service's references to them (a session's uploads)."""

    def __init__(self, uploads: Iterable[Upload] = ()) -> None:
        self.uploads = list(uploads)
        self._by_ref = {ref: u for u in self.uploads for ref in u.refs}

    def match(self, values: Iterable[str]) -> Upload | None:
        return next((self._by_ref[v] for v in values if v in self._by_ref), None)


@attrs.frozen
class Seg:
    """One segment, read leniently: its place on the timeline (computed when the service does not say), its `m`, its JSON."""

    index: int
    st: int
    d: int
    m: Mapping[str, Any]
    raw: Mapping[str, Any]

    @property
    def end(self) -> int:
        return self.st + self.d


@attrs.frozen
class TrackView:
    tt: int
    segments: tuple[Seg, ...]
    m: Mapping[str, Any]


class ServiceDraft:
    """A timeline the service authored (or may hold): its JSON, and lenient views of it."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = copy.deepcopy(dict(raw))

    @classmethod
    def load(cls, data: Any, where: str) -> ServiceDraft:
        """Validate against the tolerant schema (a DraftError names `where` and the JSON paths) and keep every field."""
        data = {"t": []} if data is None else data
        found = schema_problems(data, SCHEMA)
        if found:
            shown = "\n".join("    " + p for p in found[:6])
            raise DraftError(f"the timeline {where} is not one the NemoVideo contract describes (t, tt, sg, d, m):\n{shown}\n"
                             "The service may have changed its draft format; see docs/nemo.md")
        return cls(data)

    def to_json(self) -> dict[str, Any]:
        return copy.deepcopy(self._raw)

    @property
    def m(self) -> Mapping[str, Any]:
        m = self._raw.get("m")
        return m if isinstance(m, dict) else {}

    @property
    def canvas(self) -> dict[str, Any] | None:
        """The frame, if the draft says it in a shape nemoflow can read: `m.canvas` {w, h, fps}, `m.resolution` "WxH" (with
        `m.fps`), or `m.width`/`m.height`; None otherwise (the service's frame is then unknown)."""
        m = self.m
        canvas = m.get("canvas")
        if isinstance(canvas, dict) and all(_number(canvas.get(k)) for k in ("w", "h")):
            return {"w": int(canvas["w"]), "h": int(canvas["h"]), "fps": float(canvas["fps"]) if _number(canvas.get("fps")) else 30.0}
        size = m.get("resolution")
        w, h = (size.lower().partition("x")[::2] if isinstance(size, str) else (m.get("width"), m.get("height")))
        try:
            w, h = int(w), int(h)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        if w <= 0 or h <= 0:
            return None
        return {"w": w, "h": h, "fps": float(m["fps"]) if _number(m.get("fps")) else 30.0}

    def with_canvas(self, w: int, h: int, fps: float) -> ServiceDraft:
        """The only field nemoflow adds to a service draft: the size and rate an export asks for (contract.py: ASSUMED)."""
        raw = self.to_json()
        m = raw.get("m") if isinstance(raw.get("m"), dict) else {}
        raw["m"] = {**m, "canvas": {**(m.get("canvas") if isinstance(m.get("canvas"), dict) else {}), "w": w, "h": h, "fps": fps}}
        return ServiceDraft(raw)

    def tracks(self) -> list[TrackView]:
        out = []
        for track in self._raw.get("t") or []:
            if not isinstance(track, dict) or not isinstance(track.get("tt"), int):
                continue
            segs, at = [], 0
            for i, seg in enumerate(track.get("sg") or []):
                if not isinstance(seg, dict):
                    continue
                d = round(seg["d"]) if isinstance(seg.get("d"), (int, float)) else 0
                start = next((seg[k] for k in START_KEYS if isinstance(seg.get(k), (int, float)) and not isinstance(seg[k], bool)), None)
                st = round(start) if start is not None else at
                segs.append(Seg(i, st, d, seg["m"] if isinstance(seg.get("m"), dict) else {}, seg))
                at = st + d
            out.append(TrackView(track["tt"], tuple(segs), track["m"] if isinstance(track.get("m"), dict) else {}))
        return out

    def segments(self, tt: int) -> list[Seg]:
        return [s for track in self.tracks() if track.tt == tt for s in track.segments]

    @property
    def d(self) -> int:
        if isinstance(self._raw.get("d"), (int, float)):
            return round(self._raw["d"])
        video = [s.end for s in self.segments(VIDEO)]
        return max(video or [s.end for t in self.tracks() for s in t.segments] or [0])

    def strings(self, seg: Seg) -> list[str]:
        """Every string a segment holds (its `m` and its own fields, nested), and the media-table entry a key of it names."""
        found = list(_strings(seg.raw))
        table = self.m.get("media")
        if isinstance(table, dict):
            for value in list(found):
                entry = table.get(value)
                if isinstance(entry, dict):
                    found += list(_strings(entry))
        return found

    def other_fields(self) -> list[str]:
        """Fields beyond the contract's (t, d, m) at the top and in `m`: what `nemoflow state` lists as other fields."""
        top = [k for k in self._raw if k not in ("t", "d", "m")]
        return top + [f"m.{k}" for k in self.m if k not in ("canvas", "media", "name")]

    def timeline_json(self) -> str:
        """The tracks alone, canonical: two states with the same tracks hold the same timeline (whatever `rev` says)."""
        return json.dumps(self._raw.get("t") or [], sort_keys=True, ensure_ascii=False)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def read_state_draft(state: Mapping[str, Any], where: str) -> ServiceDraft:
    """The state's draft, checked against the tolerant schema only."""
    return ServiceDraft.load(state.get("draft"), where)


def names_from_state(state: Mapping[str, Any]) -> Names:
    """Media named by the state itself (its `video_infos`), for `nemoflow state` when no recipe says what they are."""
    infos = state.get("video_infos") if isinstance(state.get("video_infos"), list) else []
    return Names(Upload.of(str(i.get("name") or i.get("id")), str(i.get("name") or i.get("id")), i) for i in infos
                 if isinstance(i, dict) and (i.get("name") or i.get("id")))


# ---- reading a segment -----------------------------------------------------------------------------------

def media_of(draft: ServiceDraft, seg: Seg, names: Names) -> Upload | None:
    return names.match(draft.strings(seg))


def text_of(seg: Seg) -> str | None:
    text = seg.m.get("text")
    if isinstance(text, str):
        return text
    strings = [s for s in _strings(seg.m) if s.strip()]
    return max(strings, key=len) if strings else None


def volume_of(seg: Seg) -> float | None:
    """The segment's level in percent, if it says one (a key with "vol" in it; a value ≤ 4 is read as a factor)."""
    for key, value in seg.m.items():
        if "vol" in key.lower() and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) * 100 if value <= 4 else float(value)
    return None


def label(track: TrackView) -> str:
    if track.tt == VIDEO:
        return "Video"
    if track.tt == AUDIO:
        music = any(s.m.get("bed") or s.m.get("loop") for s in track.segments) or track.m.get("name") == "Music"
        return "BGM" if music else "Audio"
    if track.tt == TEXT:
        roles = [s.m.get("style", {}).get("role") if isinstance(s.m.get("style"), dict) else None for s in track.segments]
        return "Title" if roles and all(r == "title" for r in roles) else "Text"
    name = track.m.get("name")
    return str(name) if isinstance(name, str) else f"track {track.tt}"


def describe(draft: ServiceDraft, track: TrackView, seg: Seg, names: Names) -> str:
    if track.tt == TEXT:
        head = json.dumps(text_of(seg) or "", ensure_ascii=False)
    else:
        found = media_of(draft, seg, names)
        head = found.name if found is not None else str(seg.m.get("name") or "service media")
    text = f"{head} {seg.st / 1000:g}–{seg.end / 1000:g}s"
    volume = volume_of(seg)
    if track.tt == AUDIO and volume is not None and abs(volume - 100) > 1e-6:
        text += f" at {volume:g}%"
    return text


def summary(draft: ServiceDraft, names: Names) -> str:
    """'Timeline (3 tracks, 2.0s): 1. Video clip 0–2s 2. BGM tone 0–2s at 35% 3. Title "Hello" 0–1s'."""
    tracks = [t for t in draft.tracks() if t.segments]
    if not tracks:
        return "Timeline (empty)"
    parts = []
    for i, track in enumerate(tracks, 1):
        items = ", ".join(describe(draft, track, s, names) for s in track.segments[:4])
        more = f", … {len(track.segments) - 4} more" if len(track.segments) > 4 else ""
        parts.append(f"{i}. {label(track)} {items}{more}")
    return f"Timeline ({len(tracks)} track{'s' if len(tracks) != 1 else ''}, {draft.d / 1000:.1f}s): " + " ".join(parts)


def changes(before: ServiceDraft, after: ServiceDraft, names: Names) -> list[str]:
    """What a message did to the timeline, in words: length, segments added or removed, and which fields of each changed."""
    out: list[str] = []
    if before.d != after.d:
        out.append(f"length {before.d / 1000:.1f}s → {after.d / 1000:.1f}s")
    old_tracks = {t.tt: t for t in before.tracks()}
    new_tracks = {t.tt: t for t in after.tracks()}
    for tt in sorted(set(old_tracks) | set(new_tracks)):
        old, new = old_tracks.get(tt), new_tracks.get(tt)
        track = new or old
        assert track is not None
        name = label(track)
        a, b = (old.segments if old else ()), (new.segments if new else ())
        if not a and b:
            out.append(f"added a {name} track: " + "; ".join(describe(after, track, s, names) for s in b))
            continue
        if a and not b:
            out.append(f"removed the {name} track")
            continue
        if len(a) != len(b):
            out.append(f"{name}: {len(a)} → {len(b)} segment{'s' if len(b) != 1 else ''}")
        for x, y in zip(a, b, strict=False):
            what = f"{name} {x.index + 1}"
            if (x.st, x.d) != (y.st, y.d):
                out.append(f"{what}: {x.st / 1000:g}–{x.end / 1000:g}s → {y.st / 1000:g}–{y.end / 1000:g}s")
            for key in sorted(set(x.m) | set(y.m)):
                old_v, new_v = x.m.get(key), y.m.get(key)
                if old_v == new_v:
                    continue
                if _typed_items(old_v) and _typed_items(new_v):  # effects and the like: say which items came and went
                    out += [f"{what}: added {_item(i)}" for i in new_v or [] if i not in (old_v or [])]
                    out += [f"{what}: removed {_item(i)}" for i in old_v or [] if i not in (new_v or [])]
                else:
                    out.append(f"{what}: {key} {_short(old_v)} → {_short(new_v)}")
        for y in b[len(a):]:
            out.append(f"{name}: added {describe(after, track, y, names)}")
    if not out and before.timeline_json() != after.timeline_json():
        out.append("the timeline changed in fields nemoflow does not read")
    return out


def _typed_items(value: Any) -> bool:
    """None, or a list of objects each with a `type` (how effects read in a draft, nemoflow's or, likely, the service's)."""
    return value is None or (isinstance(value, list) and all(isinstance(i, dict) and "type" in i for i in value))


def _item(item: dict[str, Any]) -> str:
    detail = item.get("preset") or item.get("dir") or ""
    amount = f" {item['amount']:g}%" if isinstance(item.get("amount"), (int, float)) else ""
    return f"{item.get('type')} {detail}{amount}".replace("  ", " ").strip()


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else "(none)"
    return text if len(text) <= limit else text[: limit - 1] + "…"
