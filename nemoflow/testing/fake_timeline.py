"""The fake service's timelines: one internal form, and the shapes its state drafts take under each reading of the contract.

The contract fixes only `t`, `tt`, `sg`, `d` and `m`; how a segment names its
media, where its start and level live and which other fields appear are the
service's. The fake keeps every timeline internally as a nemoflow Draft whose
media table is keyed by upload id (so the local engine can render it), and
shows it in its state in the shape `Quirks.media_naming` and
`Quirks.extra_fields` choose:

- `url`: a segment's `m.src` is the upload's URL (the shape another
  independently written fake used);
- `id`: `m.material_id` is the upload id, the start is `start`, the level is
  `vol` as a factor (0.35), and the frame is `m.resolution` + `m.fps`;
- `table`: a media table `m.media` under the service's own keys (`mat_1`…),
  each naming the upload's id, URL and name; `m.src` is the key.

Reading a draft back (a state, or a render POST's body, whichever shape the
client sent) resolves media by any reference the service would know: a media
table key, an upload id, URL or name.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from ..draft.model import AUDIO, TEXT, VIDEO
from .fake_files import Upload, file_id

NAMINGS = ("url", "id", "table")
EXTRAS = ("top", "everywhere")
EDITOR = "fake-nemo 1.0"



class Library:
    """The service's uploads, found by any reference to them: id, URL (of this service) or name."""

    def __init__(self, base: str, uploads: Mapping[str, Upload]) -> None:
        self.base = base
        self.uploads = uploads

    def url(self, upload: Upload) -> str:
        return upload.url(self.base)

    def find(self, ref: str) -> Upload | None:
        if ref in self.uploads:
            return self.uploads[ref]
        ids = file_id(self.base, ref)
        if ids is not None:
            found = self.uploads.get(ids[0])
            return found if found is not None and found.name == ids[1] else None
        return next((u for u in self.uploads.values() if u.name == ref), None)


class Unresolved(Exception):
    """A draft names media the service does not have (its text is what the service answers)."""


def blank(session_id: str, naming: str, extras: str) -> dict[str, Any]:
    """A new session's empty timeline, in the service's shape."""
    return to_service({"v": 1, "d": 0, "m": {}, "t": []}, naming=naming, extras=extras, session_id=session_id, rev=0,
                      library=Library("", {}))


# ---- the service's shape --------------------------------------------------------------------------------

def to_service(internal: dict[str, Any], *, naming: str, extras: str, session_id: str, rev: int, library: Library) -> dict[str, Any]:
    """The internal Draft JSON (media keyed by upload id) as the state shows it."""
    m_in = internal.get("m") or {}
    table: dict[str, dict[str, Any]] = {}
    keys: dict[str, str] = {}
    m_out: dict[str, Any] = {}
    canvas = m_in.get("canvas")
    if isinstance(canvas, dict):
        if naming == "id":
            m_out["resolution"], m_out["fps"] = f"{canvas['w']}x{canvas['h']}", canvas["fps"]
        else:
            m_out["canvas"] = dict(canvas)
    tracks = []
    for t_i, track in enumerate(internal.get("t") or []):
        segs = []
        for s_i, seg in enumerate(track.get("sg") or []):
            m = copy.deepcopy(seg.get("m") or {})
            src = m.pop("src", None)
            out: dict[str, Any] = {"d": seg["d"]}
            if src is not None:
                up = library.find(src)
                if up is None:
                    raise Unresolved(f"media {src} is not an upload of this service")
                if naming == "url":
                    m = {"src": library.url(up), **m}
                elif naming == "id":
                    m = {"material_id": up.id, **m}
                else:
                    key = keys.setdefault(up.id, f"mat_{len(keys) + 1}")
                    table[key] = {"id": up.id, "url": library.url(up), "name": up.name, "type": up.kind}
                    m = {"src": key, **m}
            if naming == "id":
                out["start"] = seg.get("st", 0)
                if "volume" in m:
                    m["vol"] = round(float(m.pop("volume")) / 100, 4)
            else:
                out["st"] = seg.get("st", 0)
            out["m"] = m
            if seg.get("tr"):
                out["tr"] = dict(seg["tr"])
            if extras == "everywhere":
                out["uid"] = f"sg_{t_i}_{s_i}_{rev}"
                m["x_ai"] = {"confidence": 0.93, "model": "fake"}
            segs.append(out)
        new_track: dict[str, Any] = {"tt": track["tt"], "sg": segs}
        if track.get("m"):
            new_track["m"] = dict(track["m"])
        if extras == "everywhere":
            new_track["locked"] = False
            new_track["x_track"] = {"id": f"trk_{t_i}"}
        tracks.append(new_track)
    if table:
        m_out["media"] = table
    if extras == "everywhere":
        m_out["x_editor"] = {"name": EDITOR, "layout": "default"}
    d = internal.get("d")
    return {"v": 1, "d": d if isinstance(d, int) else _length(internal), "m": m_out, "t": tracks,
            "rev": rev, "x_internal": {"session": session_id, "rev": rev, "editor": EDITOR}}


def _length(internal: dict[str, Any]) -> int:
    """Where the main (first) video track ends: overlays on further video tracks never lengthen a timeline."""
    main = next((t for t in internal.get("t") or [] if t.get("tt") == VIDEO), None)
    ends = [s.get("st", 0) + s.get("d", 0) for s in (main or {}).get("sg") or []]
    return max(ends or [0])


# ---- back to the internal form ----------------------------------------------------------------------------

def to_internal(raw: Any, library: Library) -> dict[str, Any]:
    """Any draft the service may be handed (its own shapes, or nemoflow's Draft): the internal Draft JSON.

    Raises Unresolved when a video or audio segment names no media the service has.
    """
    if not isinstance(raw, dict):
        raise Unresolved("the draft is not a JSON object")
    m_raw = raw.get("m") if isinstance(raw.get("m"), dict) else {}
    table = m_raw.get("media") if isinstance(m_raw.get("media"), dict) else {}
    media: dict[str, dict[str, Any]] = {}
    tracks = []
    for t_i, track in enumerate(raw.get("t") or []):
        if not isinstance(track, dict) or track.get("tt") not in (VIDEO, AUDIO, TEXT):
            continue
        segs, at = [], 0
        for s_i, seg in enumerate(track.get("sg") or []):
            if not isinstance(seg, dict) or not isinstance(seg.get("d"), (int, float)):
                raise Unresolved(f"t/{t_i}/sg/{s_i} has no duration `d`")
            m = {k: copy.deepcopy(v) for k, v in (seg.get("m") or {}).items() if not str(k).startswith("x_")}
            start = seg.get("st", seg.get("start"))
            st = int(start) if isinstance(start, (int, float)) else at
            if track["tt"] in (VIDEO, AUDIO):
                up = _resolve(seg, table, library)
                if up is None:
                    raise Unresolved(f"t/{t_i}/sg/{s_i} names no media this service has (by upload id, URL, name or media table)")
                media[up.id] = {**up.entry, "url": library.url(up)}
                m.pop("material_id", None)
                m["src"] = up.id
            if "vol" in m and "volume" not in m:
                m["volume"] = round(float(m.pop("vol")) * 100, 4)
            out: dict[str, Any] = {"st": st, "d": int(seg["d"]), "m": m}
            if isinstance(seg.get("tr"), dict):
                out["tr"] = dict(seg["tr"])
            segs.append(out)
            at = st + int(seg["d"])
        tracks.append({"tt": track["tt"], "sg": segs, **({"m": dict(track["m"])} if isinstance(track.get("m"), dict) else {})})
    m_out: dict[str, Any] = {"media": media}
    canvas = _canvas(m_raw)
    if canvas is not None:
        m_out["canvas"] = canvas
    for key in ("name", "next_tr"):
        if key in m_raw:
            m_out[key] = copy.deepcopy(m_raw[key])
    out = {"v": 1, "m": m_out, "t": tracks}
    out["d"] = _length(out)
    return out


def _canvas(m: dict[str, Any]) -> dict[str, Any] | None:
    canvas = m.get("canvas")
    if isinstance(canvas, dict) and all(isinstance(canvas.get(k), (int, float)) for k in ("w", "h", "fps")):
        return {"w": int(canvas["w"]), "h": int(canvas["h"]), "fps": float(canvas["fps"])}
    res = m.get("resolution")
    if isinstance(res, str) and "x" in res:
        w, _, h = res.partition("x")
        if w.isdigit() and h.isdigit():
            return {"w": int(w), "h": int(h), "fps": float(m.get("fps") or 30.0)}
    return None


def _resolve(seg: dict[str, Any], table: dict[str, Any], library: Library) -> Upload | None:
    for value in _strings(seg):
        entry = table.get(value)
        if isinstance(entry, dict):
            for ref in _strings(entry):
                found = library.find(ref)
                if found is not None:
                    return found
        found = library.find(value)
        if found is not None:
            return found
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
