"""The Draft: the timeline JSON that every step and engine exchanges.

Field names follow the NemoVideo service (`t` tracks, `tt` track type, `sg`
segments, `d` duration in ms, `m` metadata); nemoflow's own fields (`st`
start, `tr` transition, and the keys inside `m`) are fixed by
schemas/draft.schema.json. Keys nemoflow does not know are kept in `extra`
and written back untouched, because the service may add fields at any time.
Everything is frozen: operations build new Drafts (see ops.py).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs

from .media import MediaEntry

VIDEO, AUDIO, TEXT = 0, 1, 7
TRACK_NAMES = {VIDEO: "Video", AUDIO: "Audio", TEXT: "Text"}
FORMAT_VERSION = 1


def _frozen_dict(value: dict | None) -> dict:
    return copy.deepcopy(value) if value else {}


@attrs.frozen
class Segment:
    """One item on a track: `st` start and `d` length on the timeline (ms), `m` what it plays."""

    st: int
    d: int
    m: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)
    tr: dict[str, Any] | None = None  # transition from the previous segment: {"type": "crossfade", "d": 500}
    extra: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)

    @property
    def end(self) -> int:
        return self.st + self.d

    def with_m(self, **changes: Any) -> Segment:
        return attrs.evolve(self, m={**self.m, **changes})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.extra, "st": self.st, "d": self.d, "m": copy.deepcopy(self.m)}
        if self.tr is not None:
            out["tr"] = dict(self.tr)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Segment:
        known = {"st", "d", "m", "tr"}
        return cls(st=int(data.get("st", 0)), d=int(data["d"]), m=data.get("m") or {}, tr=data.get("tr"),
                   extra={k: v for k, v in data.items() if k not in known})


@attrs.frozen
class Track:
    """A track: `tt` 0 video, 1 audio, 7 text; segments in timeline order."""

    tt: int
    sg: tuple[Segment, ...] = ()
    m: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)
    extra: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)

    @property
    def end(self) -> int:
        return max((s.end for s in self.sg), default=0)

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "tt": self.tt, "m": copy.deepcopy(self.m), "sg": [s.to_json() for s in self.sg]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Track:
        known = {"tt", "sg", "m"}
        return cls(tt=int(data["tt"]), sg=tuple(Segment.from_json(s) for s in data.get("sg", [])), m=data.get("m") or {},
                   extra={k: v for k, v in data.items() if k not in known})


@attrs.frozen
class Draft:
    """A timeline: tracks plus `m` (canvas, the media table, the draft's name)."""

    t: tuple[Track, ...] = ()
    m: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)
    extra: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)

    @property
    def d(self) -> int:
        """Timeline length in ms: where the main (first) video track ends (layers, text and audio never extend it)."""
        main = self.track(VIDEO)
        return main.end if main is not None else max((tr.end for tr in self.t), default=0)

    def track(self, tt: int) -> Track | None:
        """The first track of type `tt`: for VIDEO the main picture (further video tracks are layers: draft/layers.py)."""
        return next((tr for tr in self.t if tr.tt == tt), None)

    def segments(self, tt: int) -> tuple[Segment, ...]:
        track = self.track(tt)
        return track.sg if track else ()

    def with_segments(self, tt: int, segments: tuple[Segment, ...] | list[Segment]) -> Draft:
        """A copy whose track `tt` holds `segments` (the track is created in 0, 1, 7 order if missing)."""
        segments = tuple(segments)
        tracks = list(self.t)
        for i, tr in enumerate(tracks):
            if tr.tt == tt:
                tracks[i] = attrs.evolve(tr, sg=segments)
                break
        else:
            tracks.append(Track(tt, segments, {"name": TRACK_NAMES.get(tt, str(tt))}))
            order = {VIDEO: 0, AUDIO: 1, TEXT: 2}
            tracks.sort(key=lambda tr: order.get(tr.tt, 3))
        return attrs.evolve(self, t=tuple(tracks))

    def with_m(self, **changes: Any) -> Draft:
        return attrs.evolve(self, m={**self.m, **changes})

    @property
    def media(self) -> dict[str, dict[str, Any]]:
        return self.m.get("media", {})

    def media_entry(self, media_id: str) -> MediaEntry:
        """One entry of the media table, typed (a DraftError if it is not a valid entry)."""
        return MediaEntry.from_json(self.media.get(media_id), f"the draft's media `{media_id}`")

    @property
    def canvas(self) -> dict[str, Any] | None:
        return self.m.get("canvas")

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "v": FORMAT_VERSION, "d": self.d, "m": copy.deepcopy(self.m), "t": [tr.to_json() for tr in self.t]}

    def dumps(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        """Build from JSON already validated against the schema (see schema.load_draft)."""
        known = {"v", "d", "t", "m"}
        return cls(t=tuple(Track.from_json(tr) for tr in data.get("t", [])), m=data.get("m") or {},
                   extra={k: v for k, v in data.items() if k not in known})
