"""Typed literal values and the rules that read them from source text.

Units are part of the language, so a value knows its kind: `2s` is a
Duration, `35%` a Percent, `4k` a Resolution. A wrong unit is caught when the
recipe is checked, not when FFmpeg runs.
"""

from __future__ import annotations

import re

import attrs

from .diagnostics import did_you_mean


class LiteralError(ValueError):
    """A literal that cannot be read; offset is where in its text the problem is."""

    def __init__(self, message: str, help: str | None = None, offset: int = 0, length: int = 0):
        super().__init__(message)
        self.message = message
        self.help = help
        self.offset = offset
        self.length = length


@attrs.frozen
class Duration:
    seconds: float

    @property
    def ms(self) -> float:
        return self.seconds * 1000.0

    def __str__(self) -> str:
        s = self.seconds
        if s != int(s) and s < 1:
            return f"{s * 1000:g}ms"
        return f"{s:g}s"


@attrs.frozen
class Percent:
    value: float  # 35% -> 35.0

    @property
    def fraction(self) -> float:
        return self.value / 100.0

    def __str__(self) -> str:
        return f"{self.value:g}%"


@attrs.frozen
class Resolution:
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@attrs.frozen
class Aspect:
    num: float
    den: float

    @property
    def ratio(self) -> float:
        return self.num / self.den

    def __str__(self) -> str:
        return f"{self.num:g}:{self.den:g}"


@attrs.frozen
class Color:
    r: int
    g: int
    b: int
    a: int = 255

    def hex(self) -> str:
        base = f"#{self.r:02x}{self.g:02x}{self.b:02x}"
        return base if self.a == 255 else base + f"{self.a:02x}"

    def __str__(self) -> str:
        return self.hex()


@attrs.frozen
class FileSize:
    bytes: int

    def __str__(self) -> str:
        for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
            if self.bytes >= size:
                return f"{self.bytes / size:g}{unit}"
        return f"{self.bytes}B"


@attrs.frozen
class Bitrate:
    bps: int

    def __str__(self) -> str:
        if self.bps >= 10**6:
            return f"{self.bps / 10**6:g}Mbps"
        return f"{self.bps / 10**3:g}kbps"


@attrs.frozen
class Frequency:
    hz: float

    def __str__(self) -> str:
        return f"{self.hz:g}hz"


@attrs.frozen
class Fps:
    value: float

    def __str__(self) -> str:
        return f"{self.value:g}fps"


@attrs.frozen
class Factor:
    value: float  # 2x -> 2.0

    def __str__(self) -> str:
        return f"{self.value:g}x"


@attrs.frozen
class Pixels:
    value: float

    def __str__(self) -> str:
        return f"{self.value:g}px"


@attrs.frozen
class Decibels:
    value: float

    def __str__(self) -> str:
        return f"{self.value:g}dB"


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

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_FILESIZES = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_BITRATES = {"bps": 1, "kbps": 10**3, "mbps": 10**6, "gbps": 10**9}
_QUANTITY = re.compile(r"([+-]?\d+(?:\.\d+)?)(.*)", re.S)

# Units a user may write, for "did you mean" on a misspelt one.
KNOWN_UNITS = (
    "ms", "s", "m", "h", "%", "x", "k", "p", "fps", "hz", "khz", "px", "dB",
    "B", "kB", "MB", "GB", "KiB", "MiB", "GiB", "kbps", "Mbps",
)
_UNIT_HINTS = {
    "sec": "s", "secs": "s", "second": "s", "seconds": "s", "min": "m", "mins": "m",
    "minute": "m", "minutes": "m", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "msec": "ms", "msecs": "ms", "pct": "%", "percent": "%", "f": "fps", "hertz": "hz",
}


def _number(text: str) -> float | int:
    return float(text) if "." in text else int(text)


def read_quantity(text: str):
    """Classify `2s`, `35%`, `4k`, `1920x1080`, `2x`, `30fps`, … into a typed value."""
    m = _QUANTITY.fullmatch(text)
    if not m:  # pragma: no cover - the lexer only hands over quantities
        raise LiteralError(f"`{text}` is not a number")
    num_text, unit = m.group(1), m.group(2)
    num = _number(num_text)
    if not unit:
        return num
    lower = unit.lower()
    if unit == "%":
        return Percent(float(num))
    if _DURATION_PART.fullmatch(text.lstrip("+-")) or _is_compound_duration(text):
        return _duration(text)
    if lower in ("k", "p") or (num_text + lower) in NAMED_RESOLUTIONS:
        key = num_text + lower
        if key in NAMED_RESOLUTIONS:
            return NAMED_RESOLUTIONS[key]
        raise LiteralError(
            f"unknown resolution `{text}`",
            help="named resolutions are " + ", ".join(f"`{k}`" for k in NAMED_RESOLUTIONS),
        )
    if lower.startswith("x") and lower[1:].isdigit():
        w, h = int(num_text.lstrip("+")), int(lower[1:])
        if w <= 0 or h <= 0 or "." in num_text or num_text.startswith(("+", "-")):
            raise LiteralError(f"`{text}` is not a valid resolution", help="write it as WIDTHxHEIGHT, e.g. `1920x1080`")
        return Resolution(w, h)
    if lower == "x":
        return Factor(float(num))
    if lower == "fps":
        return Fps(float(num))
    if lower == "hz":
        return Frequency(float(num))
    if lower == "khz":
        return Frequency(float(num) * 1000)
    if lower == "px":
        return Pixels(float(num))
    if lower == "db":
        return Decibels(float(num))
    if lower in _BITRATES:
        return Bitrate(round(float(num) * _BITRATES[lower]))
    if lower in _FILESIZES:
        if lower == "b" and unit != "B":
            raise LiteralError(f"unknown unit `{unit}` in `{text}`", help=f"did you mean `{num_text}B` (bytes)?")
        return FileSize(round(float(num) * _FILESIZES[lower]))
    hint = _UNIT_HINTS.get(lower) or did_you_mean(unit, KNOWN_UNITS)
    return_help = f"did you mean `{num_text}{hint}`?" if hint else (
        "units are ms s m h (durations), % , x (factor), k p (resolutions), fps, hz, px, dB, MB GB (sizes), kbps Mbps"
    )
    raise LiteralError(f"unknown unit `{unit}` in `{text}`", help=return_help, offset=len(num_text), length=len(unit))


def _is_compound_duration(text: str) -> bool:
    return bool(re.fullmatch(r"(\d+(?:\.\d+)?(ms|h|m|s))+", text))


def _duration(text: str) -> Duration:
    if text.startswith(("+", "-")):
        raise LiteralError(f"a duration cannot be negative: `{text}`")
    total = 0.0
    order = {"h": 0, "m": 1, "s": 2, "ms": 3}
    last = -1
    for part in _DURATION_PART.finditer(text):
        unit = part.group(2)
        if order[unit] <= last:
            raise LiteralError(
                f"`{text}` mixes duration units out of order",
                help="write hours, then minutes, then seconds, e.g. `1h2m30s` or `1m30s`",
            )
        last = order[unit]
        total += float(part.group(1)) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return Duration(total)


def read_timecode(text: str) -> Duration:
    """`HH:MM:SS(.fff)`; minutes and seconds must be below 60."""
    hours, minutes, seconds = text.split(":")
    if int(minutes) >= 60 or float(seconds) >= 60:
        raise LiteralError(f"`{text}` is not a valid timecode", help="minutes and seconds go from 00 to 59")
    return Duration(int(hours) * 3600 + int(minutes) * 60 + float(seconds))


def read_ratio(text: str) -> Aspect:
    num, den = (float(p) for p in text.split(":"))
    if num <= 0 or den <= 0:
        raise LiteralError(f"`{text}` is not a valid aspect ratio", help="both sides must be positive, e.g. `9:16`")
    return Aspect(num, den)


def read_color(text: str) -> Color:
    digits = text[1:]
    if len(digits) in (3, 4):
        digits = "".join(ch * 2 for ch in digits)
    if len(digits) not in (6, 8):
        raise LiteralError(f"`{text}` is not a color", help="write `#rgb`, `#rrggbb` or `#rrggbbaa`")
    vals = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
    return Color(*vals)


@attrs.frozen
class Interpolation:
    """`${name}` or `${name.stem}` inside a string; offset is within the string's source text."""

    name: str
    attr: str | None
    offset: int
    length: int


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "$": "$", "0": "\0"}
_INTERP = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_-]*)(?:\.([A-Za-z_]+))?\s*\}")


def read_string(text: str) -> tuple[tuple[str | Interpolation, ...], str]:
    """Unescape a string literal into text parts and `${…}` interpolations.

    Returns the parts and the plain text (interpolations shown as written).
    Offsets in errors are relative to the literal's first character.
    """
    quote = 3 if text.startswith('"""') else 1
    body = text[quote:-quote]
    parts: list[str | Interpolation] = []
    buf: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body):
                raise LiteralError("a string cannot end with a lone `\\`", help="write `\\\\` for a backslash", offset=quote + i, length=1)
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                buf.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u":
                m = re.match(r"u\{([0-9A-Fa-f]{1,6})\}|u([0-9A-Fa-f]{4})", body[i + 1 :])
                if m:
                    code = int(m.group(1) or m.group(2), 16)
                    if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                        buf.append(chr(code))
                        i += 1 + m.end()
                        continue
                raise LiteralError(
                    "bad unicode escape in string",
                    help="write `\\u{1F3AC}` or `\\u00e9`",
                    offset=quote + i,
                    length=2,
                )
            if nxt == "\n":  # line continuation inside a long string
                i += 2
                continue
            raise LiteralError(
                f"unknown escape `\\{nxt}` in string",
                help="known escapes are \\\" \\\\ \\n \\t \\r \\$ \\u{…}; write `\\\\` for a backslash",
                offset=quote + i,
                length=2,
            )
        if ch == "$" and body.startswith("${", i):
            m = _INTERP.match(body, i)
            if not m:
                raise LiteralError(
                    "bad `${…}` in string",
                    help="write `${name}` or `${name.stem}`, or `\\$` for a literal dollar sign",
                    offset=quote + i,
                    length=2,
                )
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Interpolation(m.group(1), m.group(2), quote + i, m.end() - i))
            i = m.end()
            continue
        buf.append(ch)
        i += 1
    if buf or not parts:
        parts.append("".join(buf))
    plain = "".join(p if isinstance(p, str) else "${" + p.name + (f".{p.attr}" if p.attr else "") + "}" for p in parts)
    return tuple(parts), plain


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
        Fps: "fps", Factor: "factor", Pixels: "pixels", Decibels: "decibels",
    }.get(type(value), "value")


def to_json(value):
    """A JSON-friendly form of a typed value, for `graph --format json` and plans."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if attrs.has(type(value)):
        out = {"kind": kind_of(value)} if kind_of(value) != "value" else {"kind": type(value).__name__.lower()}
        out.update({k: to_json(v) for k, v in attrs.asdict(value, recurse=False).items()})
        return out
    return str(value)
