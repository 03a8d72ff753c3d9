"""The diagnostic code registry: one meaning per code, honest examples, docs that cannot go stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nemoflow.core import codes
from nemoflow.core.codes import CODES, Code
from nemoflow.core.diagnostics import RecipeError
from nemoflow.lang.check import check_file
from nemoflow.run.engines import engine_diagnostics

ROOT = Path(__file__).resolve().parent.parent
LANG = ROOT / "nemoflow" / "lang"
CODE_LITERAL = re.compile(r"""["'][EW]\d{3}["']""")


def test_ids_unique_and_every_constant_in_the_table():
    constants = {name: value for name, value in vars(codes).items() if isinstance(value, Code)}
    public = {name: value for name, value in constants.items() if not name.startswith("_")}
    assert constants == public, "a Code bound to a private name is missing from the table"
    ids = [c.id for c in public.values()]
    assert len(ids) == len(set(ids))
    assert set(CODES) == set(ids)
    for name, code in public.items():
        assert CODES[code.id] is code
        assert codes.NAMES[code.id] == name
        assert code.title and code.title == code.title.strip()
        assert (code.example is not None) or code.words, f"{code.id} has no example"
        assert code.severity == ("warning" if code.id.startswith("W") else "error")


def test_only_what_no_small_recipe_can_show_is_described_in_words():
    in_words = {c.id for c in CODES.values() if c.example is None}
    # file-level problems, a parser function the checker wraps, two loop limits no small recipe reaches,
    # and the resource limits (core/limits.py) whose examples are megabytes, millions of steps or a whole file system
    assert in_words == {"E001", "E002", "E003", "E005", "E006", "E110", "E226", "E233", "E340", "E342", "E344", "E346",
                        "E347", "E348", "E349"}


def test_engine_codes_registered():
    for cid in ("E401", "E402", "E403", "E404", "E405"):
        assert CODES[cid].found_by == "engine"
        assert CODES[cid].example


def test_a_code_is_e_or_w_and_three_digits():
    with pytest.raises(ValueError):
        Code("X12", "bad")


def test_no_code_literal_in_the_language_front_end():
    offenders = []
    for path in sorted(LANG.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CODE_LITERAL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "use the constants of nemoflow.core.codes:\n" + "\n".join(offenders)


def _produced(code: Code, folder: Path, *, engine: bool = False) -> list[tuple[str, str]]:
    for name, text in code.files:
        path = folder / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    recipe = folder / "recipe.nemo"
    recipe.write_text(code.example, encoding="utf-8")
    params = folder / code.params_file if code.params_file else None
    try:
        checked = check_file(recipe, dict(code.sets), params, display="recipe.nemo")
        diags = engine_diagnostics(checked) if engine else checked.warnings
    except RecipeError as err:
        diags = err.diagnostics
    return [(d.code, d.severity) for d in diags]


CHECKED = [c for c in CODES.values() if c.example is not None and c.found_by != "engine"]


@pytest.mark.parametrize("code", CHECKED, ids=lambda c: c.id)
def test_example_produces_its_code(code, tmp_path):
    assert set(_produced(code, tmp_path)) == {(code.id, code.severity)}


ENGINE = [c for c in CODES.values() if c.example is not None and c.found_by == "engine"]


@pytest.mark.parametrize("code", ENGINE, ids=lambda c: c.id)
def test_engine_example_produces_its_code(code, tmp_path):
    """What `nemoflow check` reports for the engine the example runs on (the local one unless it says `engine nemo`)."""
    assert set(_produced(code, tmp_path, engine=True)) == {(code.id, code.severity)}


def test_errors_md_is_generated():
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == codes.markdown()
