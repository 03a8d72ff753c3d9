"""Units are part of the language: each literal reads into a typed value, or explains itself."""

from __future__ import annotations

import pytest

from nemoflow.core.values import Aspect, Bitrate, Color, Decibels, Duration, Factor, FileSize, Fps, Frequency, Percent, Pixels, Resolution
from nemoflow.lang.literals import LiteralError, read_color, read_quantity, read_ratio, read_string, read_timecode


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("2s", 2), ("1.5s", 1.5), ("1m30s", 90), ("1h2m3.5s", 3723.5), ("2m", 120), ("1h", 3600),
])
def test_durations(text, seconds):
    assert read_quantity(text) == Duration(seconds)


def test_timecode():
    assert read_timecode("00:01:02.5") == Duration(62.5)
    assert read_timecode("1:00:00") == Duration(3600)
    with pytest.raises(LiteralError, match="not a valid timecode"):
        read_timecode("00:61:00")


@pytest.mark.parametrize(("text", "value"), [
    ("35%", Percent(35)), ("-10%", Percent(-10)), ("4k", Resolution(3840, 2160)), ("1080p", Resolution(1920, 1080)),
    ("720p", Resolution(1280, 720)), ("3840x2160", Resolution(3840, 2160)), ("1080x1920", Resolution(1080, 1920)),
    ("2x", Factor(2)), ("0.5x", Factor(0.5)), ("30fps", Fps(30)), ("29.97fps", Fps(29.97)), ("440hz", Frequency(440)),
    ("44.1khz", Frequency(44100)), ("48px", Pixels(48)), ("-6dB", Decibels(-6)), ("50MB", FileSize(50_000_000)),
    ("1GiB", FileSize(2**30)), ("8Mbps", Bitrate(8_000_000)), ("192kbps", Bitrate(192_000)), ("42", 42), ("1.25", 1.25),
])
def test_quantities(text, value):
    assert read_quantity(text) == value


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("10sec", "unknown unit `sec` in `10sec`", "did you mean `10s`?"),
    ("3mins", "unknown unit `mins`", "did you mean `3m`?"),
    ("5pct", "unknown unit `pct`", "did you mean `5%`?"),
    ("3k", "unknown resolution `3k`", "named resolutions"),
    ("30s1m", "mixes duration units out of order", "hours, then minutes"),
    ("-2s", "cannot be negative", None),
    ("0x1080", "not a valid resolution", "WIDTHxHEIGHT"),
])
def test_bad_quantities_explain_themselves(text, message, hint):
    with pytest.raises(LiteralError) as info:
        read_quantity(text)
    assert message in info.value.message
    if hint:
        assert hint in (info.value.help or "")


def test_unknown_unit_points_at_the_unit():
    with pytest.raises(LiteralError) as info:
        read_quantity("10sec")
    assert (info.value.offset, info.value.length) == (2, 3)


def test_ratio_and_colors():
    assert read_ratio("9:16") == Aspect(9, 16)
    assert read_ratio("2.39:1").ratio == pytest.approx(2.39)
    with pytest.raises(LiteralError):
        read_ratio("0:1")
    assert read_color("#fff") == Color(255, 255, 255)
    assert read_color("#ffcc0080") == Color(255, 204, 0, 128)
    with pytest.raises(LiteralError, match="not a color"):
        read_color("#12345")


def test_strings_unescape_and_interpolate():
    parts, plain = read_string(r'"a \"b\" \\ \n \u{1F3AC} \$x ${clip.stem}!"')
    assert parts[0] == 'a "b" \\ \n 🎬 $x '
    assert parts[1].name == "clip" and parts[1].attr == "stem"
    assert parts[2] == "!"
    assert plain.endswith("${clip.stem}!")


@pytest.mark.parametrize(("text", "message", "offset"), [
    (r'"bad \q"', "unknown escape `\\q`", 5),
    (r'"x ${ nope"', "bad `${…}`", 3),
    (r'"\u{110000}"', "bad unicode escape", 1),
])
def test_bad_strings(text, message, offset):
    with pytest.raises(LiteralError) as info:
        read_string(text)
    assert message in info.value.message
    assert info.value.offset == offset
