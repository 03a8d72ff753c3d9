"""Crashers found by the fuzz campaign (benchmarks/fuzz_campaign.py), minimised: each must end in a Recipe or a diagnostic.

One input per distinct crash (exception type + innermost nemoflow frame), shrunk
by the campaign's ddmin and written compactly here. Whatever the input, `check`
must give a Recipe or a RecipeError whose diagnostics render (`survive`, as in
test_fuzz.py), and a recipe that parses must format to text that formats to itself.
"""

from __future__ import annotations

import pytest
from test_fuzz import survive

from nemoflow.core.diagnostics import RecipeError
from nemoflow.lang.fmt import format_source

LONG_NAME = "x" * 300  # one path component over the 255-byte NAME_MAX: os.stat raises ENAMETOOLONG

CRASHERS = [
    # OSError [Errno 36] File name too long, from Path.is_file() in lang/check/includes.py load_includes
    pytest.param(f'nemo 1\ninclude "{LONG_NAME}.nemo"\n', id="include-name-too-long"),
    # OSError [Errno 36], from Path.is_dir() in lang/check/resolve.py _media_file_checks
    pytest.param(f'nemo 1\nmedia clip = "{LONG_NAME}.mp4"\n', id="media-name-too-long"),
    # OSError [Errno 36], from Path.is_dir() in lang/check/resolve.py _export_rules
    pytest.param(f'nemo 1\nedit e {{\n  video bars\n}}\nexport f = e {{\n  save "{LONG_NAME}.mp4"\n}}\n', id="save-name-too-long"),
    # OverflowError: int too large to convert to float, lang/literals.py read_quantity
    pytest.param("nemo 1\nedit t {\n  " + "9" * 309 + "B\n}\n", id="309-digit-filesize"),
    # OverflowError: (34, 'Numerical result out of range'), 10 ** (dB / 20) in lang/check/coerce.py _magnitude
    pytest.param("nemo 1\nmedia a = tone 440hz duration 1s volume 7000dB\n", id="7000-decibels"),
    # ValueError: Exceeds the limit (4300 digits) for integer string conversion, lang/literals.py _number
    pytest.param("nemo 1\nmedia c = " + "9" * 4301 + "\n", id="4301-digit-number"),
    # ValueError from a fractional width, lang/literals.py read_quantity (the `1.5x1080` class)
    pytest.param("nemo 1\nmedia y = 0.0x1\n", id="fractional-resolution"),
    # RecursionError in lang/parser.py (the syntax-tree builder's list items)
    pytest.param("nemo 1\nedit t {\n  video " + "[" * 1000 + '"a"' + "]" * 1000 + "\n}\n", id="1000-deep-list"),
    # RecursionError in lang/fmt.py _item: 400-deep lists parse, then the formatter recurses
    pytest.param("nemo 1\nparam p = " + "[" * 400 + "1" + "]" * 400 + "\n", id="400-deep-list-format"),
]


def formats(text: str) -> None:
    """A recipe that parses formats to text that formats to itself."""
    try:
        once = format_source(text)
    except RecipeError:
        return
    assert format_source(once) == once


@pytest.mark.parametrize("text", CRASHERS)
def test_crasher_survives(text):
    survive(text)
    formats(text)
