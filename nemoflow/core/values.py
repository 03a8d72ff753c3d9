"""Typed values with units: what a checked recipe holds and every layer passes around.

Units are part of the language, so a value knows its kind: `2s` is a
Duration, `35%` a Percent, `4k` a Resolution. Reading them from source text
is the language's job (lang/literals.py); showing them is units.py's.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from . import units


@attrs.frozen
class Duration:
    seconds: float

    @property
    def ms(self) -> float:
        return self.seconds * 1000.0

    def __str__(self) -> str:
        return units.duration(self.seconds)


@attrs.frozen
class Percent:
    value: float  # 35% -> 35.0

    @property
    def fraction(self) -> float:
        return self.value / 100.0

    def __str__(self) -> str:
        return units.percent(self.value)


@attrs.frozen
class Resolution:
    width: int
    height: int

    def __str__(self) -> str:
        return units.resolution(self.width, self.height)


@attrs.frozen
class Aspect:
    num: float
    den: float

    @property
    def ratio(self) -> float:
        return self.num / self.den

    def __str__(self) -> str:
        return units.aspect(self.num, self.den)


@attrs.frozen
class Color:
    r: int
    g: int
    b: int
    a: int = 255

    def hex(self) -> str:
        return units.color(self.r, self.g, self.b, self.a)

    def __str__(self) -> str:
        return self.hex()


@attrs.frozen
class FileSize:
    bytes: int

    def __str__(self) -> str:
        return units.filesize(self.bytes)


@attrs.frozen
class Bitrate:
    bps: int

    def __str__(self) -> str:
        return units.bitrate(self.bps)


@attrs.frozen
class Frequency:
    hz: float

    def __str__(self) -> str:
        return units.frequency(self.hz)


@attrs.frozen
class Fps:
    value: float

    def __str__(self) -> str:
        return units.fps(self.value)


@attrs.frozen
class Factor:
    value: float  # 2x -> 2.0

    def __str__(self) -> str:
        return units.factor(self.value)


@attrs.frozen
class Pixels:
    value: float

    def __str__(self) -> str:
        return units.pixels(self.value)


@attrs.frozen
class Decibels:
    value: float

    def __str__(self) -> str:
        return units.decibels(self.value)


@attrs.frozen
class Loudness:
    """Integrated programme loudness (EBU R128 / ITU-R BS.1770), in LUFS: `-14 LUFS` (`LKFS` is the same scale)."""

    lufs: float

    def __str__(self) -> str:
        return units.loudness(self.lufs)


@attrs.frozen
class TruePeak:
    """A true-peak level (the 4x-oversampled peak of BS.1770), in dB relative to full scale: `-1 dBTP`."""

    dbtp: float

    def __str__(self) -> str:
        return units.true_peak(self.dbtp)


# Human names for each kind, used in "expected a duration, got a percentage".
KIND_NAMES = {
    "number": "a number",
    "duration": "a duration like `2s`",
    "percent": "a percentage like `35%`",
    "resolution": "a resolution like `1080p` or `3840x2160`",
    "aspect": "an aspect ratio like `9:16`",
    "color": "a color like `#ffcc00` or `white`",
    "string": "a string",
    "bool": "`true` or `false`",
    "filesize": "a file size like `50MB`",
    "bitrate": "a bitrate like `8Mbps`",
    "frequency": "a frequency like `440hz`",
    "fps": "a frame rate like `30fps`",
    "factor": "a factor like `2x`",
    "pixels": "a size in pixels like `48px`",
    "decibels": "a level in decibels like `-6dB`",
    "loudness": "a loudness like `-14 LUFS`",
    "truepeak": "a true-peak level like `-1 dBTP`",
    "list": "a list like `[\"a\", \"b\"]`",
}

NAMED_RESOLUTIONS = {
    "8k": Resolution(7680, 4320),
    "4k": Resolution(3840, 2160),
    "uhd": Resolution(3840, 2160),
    "2160p": Resolution(3840, 2160),
    "1440p": Resolution(2560, 1440),
    "2k": Resolution(2560, 1440),
    "1080p": Resolution(1920, 1080),
    "720p": Resolution(1280, 720),
    "540p": Resolution(960, 540),
    "480p": Resolution(854, 480),
    "360p": Resolution(640, 360),
    "240p": Resolution(426, 240),
}

NAMED_COLORS = {
    "black": Color(0, 0, 0),
    "white": Color(255, 255, 255),
    "red": Color(255, 0, 0),
    "green": Color(0, 128, 0),
    "lime": Color(0, 255, 0),
    "blue": Color(0, 0, 255),
    "yellow": Color(255, 255, 0),
    "cyan": Color(0, 255, 255),
    "magenta": Color(255, 0, 255),
    "orange": Color(255, 165, 0),
    "purple": Color(128, 0, 128),
    "pink": Color(255, 192, 203),
    "gray": Color(128, 128, 128),
    "grey": Color(128, 128, 128),
    "navy": Color(0, 0, 128),
    "teal": Color(0, 128, 128),
    "transparent": Color(0, 0, 0, 0),
}

VALUE_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    Duration, Percent, Resolution, Aspect, Color, FileSize, Bitrate, Frequency, Fps, Factor, Pixels, Decibels,
    Loudness, TruePeak)}
"""Every value class by name: how a canonical form (`{"type": "Duration", "seconds": 2}`) is read back."""


def kind_of(value) -> str:
    """The language-level kind name of a typed value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    return {
        Duration: "duration", Percent: "percent", Resolution: "resolution", Aspect: "aspect",
        Color: "color", FileSize: "filesize", Bitrate: "bitrate", Frequency: "frequency",
        Fps: "fps", Factor: "factor", Pixels: "pixels", Decibels: "decibels", Loudness: "loudness", TruePeak: "truepeak",
    }.get(type(value), "value")


def to_json(value):
    """A JSON-friendly form of a typed value, for `graph --format json` and plans."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    if attrs.has(type(value)):
        out = {"kind": kind_of(value)} if kind_of(value) != "value" else {"kind": type(value).__name__.lower()}
        out.update({k: to_json(v) for k, v in attrs.asdict(value, recurse=False).items()})
        return out
    return str(value)
