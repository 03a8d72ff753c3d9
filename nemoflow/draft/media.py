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
class MediaEntry:
    """Facts about a source; exactly how it is reached is one of `path` (a file here), `gen` (an FFmpeg generator) or `url`."""

    kind: MediaKind
    audio: bool = False  # has a sound track
    d: int | None = None  # length in ms (None for stills)
    w: int | None = None
    h: int | None = None
    fps: float | None = None
    vfr: bool | None = None
    pix_fmt: str | None = None
    codec: str | None = None
    rotation: int | None = None  # clockwise degrees the picture must turn
    path: str | None = None
    gen: Mapping[str, Any] | None = attrs.field(default=None, eq=attrs.cmp_using(eq=lambda a, b: a == b))
    url: str | None = None
    name: str | None = None  # the upload's name
    sha256: str | None = None  # what was uploaded (or "url:…" for a URL handed over)

    @property
    def is_still(self) -> bool:
        return self.kind == MediaKind.IMAGE

    def to_json(self) -> dict[str, Any]:
        """The Draft's form: set fields only."""
        out: dict[str, Any] = {}
        for field in attrs.fields(MediaEntry):
            value = getattr(self, field.name)
            if value is None:
                continue
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
        return cls(**values)

    def evolve(self, **changes: Any) -> MediaEntry:
        return attrs.evolve(self, **changes)


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "audio": bool, "d": int, "w": int, "h": int, "fps": (int, float), "vfr": bool, "pix_fmt": str, "codec": str,
    "rotation": int, "path": str, "gen": Mapping, "url": str, "name": str, "sha256": str,
}
_TYPE_WORDS = {"audio": "true or false", "vfr": "true or false", "d": "whole milliseconds", "w": "a whole number of pixels",
               "h": "a whole number of pixels", "fps": "a number", "rotation": "a whole number of degrees", "gen": "an object"}
_TYPE_WORDS = {name: _TYPE_WORDS.get(name, "text") for name in _FIELD_TYPES}


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)
