"""Property tests: whatever the input, only nemoflow's own errors come out."""

from __future__ import annotations

from pathlib import Path

from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nemoflow.core.diagnostics import RecipeError, Sources, render_all
from nemoflow.lang.check import check_source
from nemoflow.lang.fmt import format_source
from nemoflow.lang.parser import parse_module

SEEDS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.nemo"))]
TOKENS = ["{", "}", "=", "[", "]", "(", ")", '"', "#", "$", ":", ",", "\n", " ", "media", "edit", "export", "for",
          "in", "glob", "video", "from", "to", "2s", "35%", "4k", "9:16", "#fff", "x", "cut", "${x}", "\\", "expect",
          "has", "<=", "include", '"a.nemo"', "param", "nemo 1", "ask", "1m30s", "00:00:01", "[a]", "\t", "é", "\x00"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def survive(text: str) -> None:
    """Checking must end in a Recipe or a RecipeError whose diagnostics render."""
    try:
        check_source(text, base_dir=Path(EXAMPLES))
    except RecipeError as err:
        assert err.diagnostics
        assert render_all(err.diagnostics, err.sources or Sources())


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(text):
    survive(text)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_random_token_soup(tokens):
    survive("nemo 1\n" + " ".join(tokens))


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "swap_lines", "duplicate"]))
        if kind == "delete":
            end = min(len(text), pos + draw(st.integers(1, 12)))
            text = text[:pos] + text[end:]
        elif kind == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        elif kind == "swap_lines":
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
    return text


@SETTINGS
@given(mutated())
def test_mutated_examples(text):
    survive(text)
    try:
        parse_module(text, "m.nemo")
    except RecipeError:
        return
    once = format_source(text)
    assert format_source(once) == once
