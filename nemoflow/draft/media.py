"""A media entry: what a Draft's media table says about one source (`m.media[step id]`).

Engines describe media (probed files, generators, uploads) with it and the
Draft builder places it; the Draft itself stores its JSON form, since the
Draft is JSON by design. Reading one back from a Draft, from the cache or
from a service checks every field's type, so a wrong value is an error here
and not a KeyError in a filter graph.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import DraftError


class MediaKind(enum.StrEnum):
    VIDEO = "video"
    IMAGE = "image"
    AUDIO = "audio"


@attrs.frozen
class AudioTrack:
    """One audio stream of a file, as an editor lists it: a clip plays one track (docs/engine.md "Audio tracks")."""

    index: int  # the stream's index in the file (FFmpeg's `-i FILE` … `[0:INDEX]`), not its place among the tracks
    codec: str
    sample_rate: int
    channels: int
    layout: str  # FFmpeg's name: "mono", "stereo", "5.1(side)", …; "" when the file does not say
    default: bool = False  # the container marks it as the track to play
    language: str | None = None  # as tagged (ISO 639-2, "fra")
    title: str | None = None

    def describe(self, *, default: bool = True) -> str:
        """`stereo, "Commentary" (fra), default`: how messages name the track (`default=False`: without the flag)."""
        parts = [self.layout or f"{self.channels} channels"]
        if self.title:
            parts.append(f'"{self.title}"' + (f" ({self.language})" if self.language else ""))
        elif self.language:
            parts.append(self.language)
        if self.default and default:
            parts.append("default")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: Any, where: str) -> AudioTrack:
        if not isinstance(data, Mapping):
            raise DraftError(f"{where} is not an object")
        values: dict[str, Any] = {}
        for field in attrs.fields(cls):
            value = data.get(field.name)
            if value is None:
                if field.default is attrs.NOTHING:
                    raise DraftError(f"{where}: `{field.name}` is missing")
                continue
            types, words = _TRACK_TYPES[field.name]
            if not isinstance(value, types) or (isinstance(value, bool) and types is not bool):
                raise DraftError(f"{where}: `{field.name}` is {value!r}, which is not {words}")
            values[field.name] = value
        return cls(**values)


_TRACK_TYPES: dict[str, tuple[type, str]] = {
    "index": (int, "a stream index"), "codec": (str, "text"), "sample_rate": (int, "a whole number of hertz"),
    "channels": (int, "a whole number of channels"), "layout": (str, "text"), "default": (bool, "true or false"),
    "language": (str, "text"), "title": (str, "text"),
}


@attrs.frozen
class MediaEntry:
    """Facts about a source; exactly how it is reached is one of `path` (a file here), `gen` (an FFmpeg generator) or `url`."""

    kind: MediaKind
    audio: bool = False  # has a sound track
    d: int | None = None  # length in ms (None for stills)
    w: int | None = None
    h: int | None = None
    fps: float | None = None  # a variable rate's fastest (docs/engine.md "Frame timing")
    vfr: bool | None = None
    fps_min: float | None = None  # variable rate only: the slowest rate the probe sampled
    fps_avg: float | None = None  # variable rate only: the average rate
    pix_fmt: str | None = None
    codec: str | None = None
    rotation: int | None = None  # clockwise degrees the picture must turn
    v_start: float | None = None  # ms from the file's start to its first frame when the picture starts late (MPEG-TS)
    path: str | None = None
    gen: Mapping[str, Any] | None = attrs.field(default=None, eq=attrs.cmp_using(eq=lambda a, b: a == b))
    url: str | None = None
    name: str | None = None  # the upload's name
    sha256: str | None = None  # what was uploaded (or "url:…" for a URL handed over)
    tracks: tuple[AudioTrack, ...] | None = None  # a file's audio streams in file order (None: a generator, or an old Draft)

    @property
    def is_still(self) -> bool:
        return self.kind == MediaKind.IMAGE

    @property
    def track_count(self) -> int:
        """How many audio tracks a clip may choose from (a generator has one when it makes sound)."""
        return len(self.tracks) if self.tracks is not None else int(self.audio)

    def audio_track(self, number: int | None) -> AudioTrack | None:
        """Track `number` (1 = the first in the file), or without one the default: the first the container marks
        default, else the first. None when the facts are not known (a generator, an old Draft) or there is no sound."""
        if not self.tracks:
            return None
        if number is not None:
            return self.tracks[number - 1] if 1 <= number <= len(self.tracks) else None
        return next((t for t in self.tracks if t.default), self.tracks[0])

    def to_json(self) -> dict[str, Any]:
        """The Draft's form: set fields only."""
        out: dict[str, Any] = {}
        for field in attrs.fields(MediaEntry):
            value = getattr(self, field.name)
            if value is None:
                continue
            if field.name == "tracks":
                value = [t.to_json() for t in value]
            out[field.name] = dict(value) if field.name == "gen" else str(value) if field.name == "kind" else value
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "a media entry") -> MediaEntry:
        """Read an entry from JSON that came from outside this process (the cache, a Draft, a service), checking types."""
        if isinstance(data, MediaEntry):
            return data
        if not isinstance(data, Mapping):
            raise DraftError(f"{where} is not an object")
        try:
            kind = MediaKind(data.get("kind"))
        except ValueError:
            raise DraftError(f"{where}: `kind` is {data.get('kind')!r}, not one of video, image, audio") from None
        values: dict[str, Any] = {"kind": kind}
        for name, types in _FIELD_TYPES.items():
            value = data.get(name)
            if value is None:
                continue
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
                raise DraftError(f"{where}: `{name}` is {value!r}, which is not {_TYPE_WORDS[name]}")
            values[name] = value
        tracks = data.get("tracks")
        if tracks is not None:
            if not isinstance(tracks, list):
                raise DraftError(f"{where}: `tracks` is {tracks!r}, which is not a list of audio tracks")
            values["tracks"] = tuple(AudioTrack.from_json(t, f"{where}: `tracks` item {i + 1}") for i, t in enumerate(tracks))
        return cls(**values)

    def evolve(self, **changes: Any) -> MediaEntry:
        return attrs.evolve(self, **changes)


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "audio": bool, "d": int, "w": int, "h": int, "fps": (int, float), "vfr": bool, "pix_fmt": str, "codec": str,
    "fps_min": (int, float), "fps_avg": (int, float), "v_start": (int, float),
    "rotation": int, "path": str, "gen": Mapping, "url": str, "name": str, "sha256": str,
}
_TYPE_WORDS = {"audio": "true or false", "vfr": "true or false", "d": "whole milliseconds", "w": "a whole number of pixels",
               "h": "a whole number of pixels", "fps": "a number", "rotation": "a whole number of degrees", "gen": "an object",
               "fps_min": "a number", "fps_avg": "a number", "v_start": "a number of milliseconds"}
_TYPE_WORDS = {name: _TYPE_WORDS.get(name, "text") for name in _FIELD_TYPES}


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)
