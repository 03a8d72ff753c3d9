"""`nemoflow fmt`: one canonical layout, comments kept, idempotent, meaning unchanged."""

from __future__ import annotations

import attrs
import pytest
from conftest import CORPUS, EXAMPLES

from nemoflow.core.diagnostics import Span
from nemoflow.lang.fmt import format_source
from nemoflow.lang.parser import parse_module

MESSY = '''# header comment
nemo   1
param size:resolution=4k    # the size
media city=pattern   duration 20s  size 4k


# a comment before the edit
edit cut   {

    video city  from 2s to 12s   # trailing
  # own line inside

    grade "teal-orange"   70%
      }
for x in [
  "a",   # first
  "b",
] {
  export e = cut {
  save "out/${x}.mp4"
  }
}
# at the end
'''

CANONICAL = '''# header comment
nemo 1
param size: resolution = 4k  # the size
media city = pattern duration 20s size 4k

# a comment before the edit
edit cut {
  video city from 2s to 12s  # trailing
  # own line inside

  grade "teal-orange" 70%
}
for x in ["a", "b"] {  # first
  export e = cut {
    save "out/${x}.mp4"
  }
}
# at the end
'''


def shape(node):
    """The syntax tree without positions: what formatting must not change."""
    if isinstance(node, tuple):
        return tuple(shape(n) for n in node)
    if attrs.has(type(node)):
        skip = ("span", "close", "comments", "file")
        fields = [f.name for f in attrs.fields(type(node)) if f.name not in skip]
        return (type(node).__name__, tuple(shape(getattr(node, f)) for f in fields if not isinstance(getattr(node, f), Span)))
    return node


def test_canonical_layout():
    assert format_source(MESSY) == CANONICAL


def test_idempotent_and_meaning_kept():
    once = format_source(MESSY)
    assert format_source(once) == once
    assert shape(parse_module(once, "x").statements) == shape(parse_module(MESSY, "x").statements)


def recipes():
    files = sorted(EXAMPLES.rglob("*.nemo")) + sorted((CORPUS / "bad").glob("*.nemo"))
    return [f for f in files if f.read_bytes().strip()]


@pytest.mark.parametrize("path", recipes(), ids=lambda p: p.name)
def test_every_parseable_recipe_is_stable(path):
    try:
        text = path.read_text(encoding="utf-8")
        module = parse_module(text, path.name)
    except Exception:
        pytest.skip("does not parse")
    once = format_source(text)
    assert format_source(once) == once
    assert shape(parse_module(once, path.name).statements) == shape(module.statements)
    assert [c.text for c in parse_module(once, path.name).comments] == [c.text for c in module.comments]


def test_examples_are_formatted():
    for path in EXAMPLES.rglob("*.nemo"):
        text = path.read_text(encoding="utf-8")
        assert format_source(text) == text, path


def test_cli_fmt_check_and_write(tmp_path, cli):
    path = tmp_path / "r.nemo"
    path.write_text(MESSY)
    result = cli("fmt", "--check", str(path))
    assert result.exit_code == 1
    assert "+nemo 1" in result.stdout and "-nemo   1" in result.stdout
    assert "1 file would be reformatted" in result.stderr
    assert path.read_text() == MESSY
    assert cli("fmt", str(path)).exit_code == 0
    assert path.read_text() == CANONICAL
    assert cli("fmt", "--check", str(path)).exit_code == 0


def test_cli_fmt_refuses_broken_recipes(tmp_path, cli):
    path = tmp_path / "r.nemo"
    path.write_text("nemo 1\nedit cut {\n")
    result = cli("fmt", str(path))
    assert result.exit_code == 2
    assert "this block is never closed" in result.stderr
    assert path.read_text() == "nemo 1\nedit cut {\n"


def test_engine_statement_is_formatted_in_place():
    messy = ("nemo 1\n# pick the engine\nengine    nemo   # trailing\n\n\n"
             "media bars = pattern duration 2s\nfor x in [1] {\n   engine local\n}\n")
    canonical = ("nemo 1\n# pick the engine\nengine nemo  # trailing\n\n"
                 "media bars = pattern duration 2s\nfor x in [1] {\n  engine local\n}\n")
    assert format_source(messy) == canonical
    assert format_source(canonical) == canonical
    assert shape(parse_module(canonical, "x").statements) == shape(parse_module(messy, "x").statements)
