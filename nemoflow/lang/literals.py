"""Reading literal values from source text: `2s`, `35%`, `4k`, `#ffcc00`, strings with `${…}`.

The values themselves (Duration, Percent, …) live in core/values.py; this
module is the language's half: the rules that read them, and the errors a
misspelt unit or a bad escape gives.
"""

from __future__ import annotations

import re

import attrs

from ..core import codes, limits
from ..core.diagnostics import did_you_mean
from ..core.values import (
    NAMED_RESOLUTIONS,
    Aspect,
    Bitrate,
    Color,
    Decibels,
    Duration,
    Factor,
    FileSize,
    Fps,
    Frequency,
    Loudness,
    Percent,
    Pixels,
    Resolution,
    TruePeak,
)


class LiteralError(ValueError):
    """A literal that cannot be read; offset is where in its text the problem is, code what kind of problem."""

    def __init__(self, message: str, help: str | None = None, offset: int = 0, length: int = 0,
                 code: codes.Code = codes.BAD_LITERAL):
        super().__init__(message)
        self.message = message
        self.help = help
        self.offset = offset
        self.length = length
        self.code = code


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
    "B", "kB", "MB", "GB", "KiB", "MiB", "GiB", "kbps", "Mbps", "LUFS", "LKFS", "dBTP",
)
_UNIT_HINTS = {
    "sec": "s", "secs": "s", "second": "s", "seconds": "s", "min": "m", "mins": "m",
    "minute": "m", "minutes": "m", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "msec": "ms", "msecs": "ms", "pct": "%", "percent": "%", "f": "fps", "hertz": "hz",
    "lu": "LUFS", "lufs-i": "LUFS", "dbfs": "dBTP", "tp": "dBTP", "dbt": "dBTP", "dbp": "dBTP",
}
_LOUDNESS_UNITS = ("lufs", "lkfs")  # the same scale: EBU's name and the ITU/ATSC one


def _number(text: str) -> float | int:
    return float(text) if "." in text else int(text)


# A run of digits that is not a fraction's, with its leading zeros apart: the whole part of a number.
_WHOLE_DIGITS = re.compile(r"(?<![.\d])0*([1-9]\d*)")


def _not_too_large(text: str) -> None:
    """Refuse a number with more whole digits than a float holds exactly, before Python converts it.

    309 digits made float() overflow (OverflowError in nine places), 4,300 made int() refuse; 15 is the
    most a float keeps exact, far above any length, size or rate a recipe means.
    """
    most = limits.NUMBER_DIGITS.value()
    for m in _WHOLE_DIGITS.finditer(text):
        if len(m.group(1)) > most:
            shown = text if len(text) <= 40 else text[:37] + "…"
            raise LiteralError(
                f"`{shown}` is too large: a number has at most {most} digits before the decimal point",
                help=f"{limits.NUMBER_DIGITS.how_to_raise()}; write a smaller value, or a larger unit (`3h` rather than `10800s`)",
                offset=m.start(1), length=len(m.group(1)), code=codes.NUMBER_TOO_LARGE,
            )


def read_quantity(text: str):
    """Classify `2s`, `35%`, `4k`, `1920x1080`, `2x`, `30fps`, … into a typed value."""
    _not_too_large(text)
    m = _QUANTITY.fullmatch(text)
    if not m:  # pragma: no cover - the lexer only hands over quantities
        raise LiteralError(f"`{text}` is not a number")
    num_text, unit = m.group(1), m.group(2).lstrip(" \t")  # `-14 LUFS`: the loudness units may stand apart
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
        if "." in num_text or num_text.startswith(("+", "-")) or int(num_text) <= 0 or int(lower[1:]) <= 0:
            raise LiteralError(f"`{text}` is not a valid resolution",
                               help="write it as WIDTHxHEIGHT in whole pixels, e.g. `1920x1080`")
        return Resolution(int(num_text), int(lower[1:]))
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
    if lower in _LOUDNESS_UNITS:
        return Loudness(float(num))
    if lower == "dbtp":
        return TruePeak(float(num))
    if lower in _BITRATES:
        return Bitrate(round(float(num) * _BITRATES[lower]))
    if lower in _FILESIZES:
        if lower == "b" and unit != "B":
            raise LiteralError(f"unknown unit `{unit}` in `{text}`", help=f"did you mean `{num_text}B` (bytes)?")
        return FileSize(round(float(num) * _FILESIZES[lower]))
    hint = _UNIT_HINTS.get(lower) or did_you_mean(unit, KNOWN_UNITS)
    return_help = f"did you mean `{num_text}{hint}`?" if hint else (
        "units are ms s m h (durations), % , x (factor), k p (resolutions), fps, hz, px, dB, MB GB (sizes), kbps Mbps, "
        "LUFS (loudness), dBTP (true peak)"
    )
    raise LiteralError(f"unknown unit `{unit}` in `{text}`", help=return_help, offset=len(text) - len(unit), length=len(unit))


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
    _not_too_large(text)
    hours, minutes, seconds = text.split(":")
    if int(minutes) >= 60 or float(seconds) >= 60:
        raise LiteralError(f"`{text}` is not a valid timecode", help="minutes and seconds go from 00 to 59")
    return Duration(int(hours) * 3600 + int(minutes) * 60 + float(seconds))


def read_ratio(text: str) -> Aspect:
    _not_too_large(text)
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


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "$": "$"}
_INTERP = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_-]*)(?:\.([A-Za-z_][A-Za-z0-9_-]*))?\s*\}")  # `.field` or a table column
_UNICODE = re.compile(r"u\{([0-9A-Fa-f]{1,6})\}|u([0-9A-Fa-f]{4})")
# Where plain text stops: an escape, a `${`, and in a long string a CR (CRLF line ends count as one LF).
_SPECIAL = re.compile(r"[\\$]")
_SPECIAL_LONG = re.compile(r"[\\$\r]")


def _nul(offset: int, length: int) -> LiteralError:
    return LiteralError(
        "a string cannot hold a NUL character (U+0000)",
        help="no file name, title or FFmpeg argument can contain it; remove the escape",
        offset=offset, length=length, code=codes.NUL_IN_STRING,
    )


def read_string(text: str) -> tuple[tuple[str | Interpolation, ...], str]:
    """Unescape a string literal into text parts and `${…}` interpolations.

    Returns the parts and the plain text (interpolations shown as written).
    Offsets in errors are relative to the literal's first character. Runs of
    plain text are copied whole (one regex search per escape), so the work is
    linear in the literal's length however many escapes it holds. In a
    triple-quoted string a CRLF line end is one newline, as in a file saved on Windows.
    """
    quote = 3 if text.startswith('"""') else 1
    body = text[quote:-quote]
    special = _SPECIAL_LONG if quote == 3 else _SPECIAL
    parts: list[str | Interpolation] = []
    buf: list[str] = []
    i, n = 0, len(body)
    while i < n:
        m = special.search(body, i)
        if m is None:
            buf.append(body[i:])
            break
        j = m.start()
        if j > i:
            buf.append(body[i:j])
        ch = body[j]
        if ch == "\r":
            i = j + 1
            if not body.startswith("\r\n", j):
                buf.append("\r")
            continue
        if ch == "$":
            if not body.startswith("${", j):
                buf.append("$")
                i = j + 1
                continue
            im = _INTERP.match(body, j)
            if not im:
                raise LiteralError(
                    "bad `${…}` in string",
                    help="write `${name}` or `${name.stem}`, or `\\$` for a literal dollar sign",
                    offset=quote + j,
                    length=2,
                )
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Interpolation(im.group(1), im.group(2), quote + j, im.end() - j))
            i = im.end()
            continue
        if j + 1 >= n:
            raise LiteralError("a string cannot end with a lone `\\`", help="write `\\\\` for a backslash", offset=quote + j, length=1)
        nxt = body[j + 1]
        if nxt in _ESCAPES:
            buf.append(_ESCAPES[nxt])
            i = j + 2
            continue
        if nxt == "0":
            raise _nul(quote + j, 2)
        if nxt == "u":
            um = _UNICODE.match(body, j + 1)
            if um:
                code = int(um.group(1) or um.group(2), 16)
                if code == 0:
                    raise _nul(quote + j, um.end() - j)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    buf.append(chr(code))
                    i = um.end()
                    continue
            raise LiteralError(
                "bad unicode escape in string",
                help="write `\\u{1F3AC}` or `\\u00e9`",
                offset=quote + j,
                length=2,
            )
        if nxt == "\n":  # line continuation inside a long string
            i = j + 2
            continue
        if nxt == "\r" and body.startswith("\n", j + 2):
            i = j + 3
            continue
        raise LiteralError(
            f"unknown escape `\\{nxt}` in string",
            help="known escapes are \\\" \\\\ \\n \\t \\r \\$ \\u{…}; write `\\\\` for a backslash",
            offset=quote + j,
            length=2,
        )
    if buf or not parts:
        parts.append("".join(buf))
    plain = "".join(p if isinstance(p, str) else "${" + p.name + (f".{p.attr}" if p.attr else "") + "}" for p in parts)
    return tuple(parts), plain
