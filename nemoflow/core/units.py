"""How quantities are shown to people: one formatter for literals, plans and measured facts.

A value the user wrote is shown the way it is written (`2s`, `500ms`,
`8Mbps`); a fact measured from a file is shown rounded to `places` decimals
in a fixed unit (`10.000s`, `5.97MB`), so a CI log lines up.
"""

from __future__ import annotations


def number(value: float, places: int | None = None) -> str:
    """`30`, `29.97` (shortest form), or exactly `places` decimals.

    Large whole values keep their digits (`36000000`, not `3.6e+07`): a duration of 10,000 hours reads as one.
    """
    if places is not None:
        return f"{value:.{places}f}"
    text = f"{value:g}"
    return f"{value:.15g}" if "e" in text and abs(value) >= 1 else text


def trimmed(value: float, places: int) -> str:
    """`places` decimals without trailing zeros: 30.000 → `30`, 29.970 → `29.97`."""
    return f"{value:.{places}f}".rstrip("0").rstrip(".")


def duration(seconds: float, places: int | None = None) -> str:
    if places is None and seconds != int(seconds) and seconds < 1:
        return f"{seconds * 1000:g}ms"
    return number(seconds, places) + "s"


def percent(value: float) -> str:
    return f"{value:g}%"


def resolution(width: int, height: int) -> str:
    return f"{width}x{height}"


def aspect(num: float, den: float) -> str:
    return f"{num:g}:{den:g}"


def color(r: int, g: int, b: int, a: int = 255) -> str:
    base = f"#{r:02x}{g:02x}{b:02x}"
    return base if a == 255 else base + f"{a:02x}"


def filesize(n_bytes: float, places: int | None = None) -> str:
    """Decimal units as the language reads them (kB, MB, GB); measured sizes always in MB."""
    if places is not None:
        return f"{n_bytes / 1e6:.{places}f}MB"
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n_bytes >= size:
            return f"{n_bytes / size:g}{unit}"
    return f"{n_bytes:g}B"


def human_bytes(n: int) -> str:
    """`1.5 MB`: decimal units (10^6 bytes a MB), the one unit of every size nemoflow prints, the service's limit included."""
    if n < 1000:
        return f"{n} B"
    value = n / 1000
    for unit in ("kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            break
        value /= 1000
    return f"{value:.1f} {unit}"


def bitrate(bps: float, places: int | None = None) -> str:
    """`8Mbps`, `192kbps`; measured rates always in kbps."""
    if places is not None:
        return f"{bps / 1e3:.{places}f}kbps"
    if bps >= 10**6:
        return f"{bps / 10**6:g}Mbps"
    return f"{bps / 10**3:g}kbps"


def frequency(hz: float) -> str:
    return f"{hz:g}hz"


def fps(value: float) -> str:
    return f"{value:g}fps"


def factor(value: float) -> str:
    return f"{value:g}x"


def pixels(value: float) -> str:
    return f"{value:g}px"


def decibels(value: float) -> str:
    return f"{value:g}dB"


def loudness(lufs: float, places: int | None = None) -> str:
    """`-14 LUFS`: the unit apart, as loudness is written in delivery specs (and as the language reads it)."""
    return (number(lufs, places) if places is not None else f"{lufs:g}") + " LUFS"


def true_peak(dbtp: float, places: int | None = None) -> str:
    """`-1 dBTP`."""
    return (number(dbtp, places) if places is not None else f"{dbtp:g}") + " dBTP"
