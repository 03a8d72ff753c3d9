"""The corpus of broken recipes: each one's exact message, exit code 2, no traceback.

Expected output lives beside each recipe in `NAME.expected`. To regenerate
after an intended wording change: NEMOFLOW_UPDATE_SNAPSHOTS=1 pytest tests/test_bad_input.py,
then review the diff.
"""

from __future__ import annotations

import os
import random
import re

import pytest
from conftest import CORPUS

BAD = CORPUS / "bad"
CASES = sorted(p for p in BAD.glob("*.nemo") if p.name != "include_cycle_b.nemo")
HEADLINE = re.compile(r"^[\w./-]+\.nemo:\d+:\d+: error: \S", re.M)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_exact_message(path, cli, monkeypatch):
    monkeypatch.chdir(BAD)
    result = cli("check", path.name)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert HEADLINE.search(result.stderr), result.stderr
    expected = path.with_suffix(".expected")
    if os.environ.get("NEMOFLOW_UPDATE_SNAPSHOTS"):
        expected.write_text(result.stderr, encoding="utf-8")
    assert result.stderr == expected.read_text(encoding="utf-8")


def test_every_error_has_a_caret_under_its_line(cli, monkeypatch):
    monkeypatch.chdir(BAD)
    for path in CASES:
        err = cli("check", path.name).stderr
        blocks = [b for b in err.split("\n\n") if HEADLINE.match(b)]
        for block in blocks:
            lines = block.splitlines()
            if path.name != "empty.nemo":
                assert re.match(r"^ \d+ \| ", lines[1]), block
                assert re.match(r"^ +\| *\^+$", lines[2].replace("\t", " ")), block


@pytest.mark.parametrize("seed", [1, 2])
def test_one_megabyte_of_garbage(tmp_path, cli, seed):
    rng = random.Random(seed)
    path = tmp_path / "garbage.nemo"
    if seed == 1:
        path.write_bytes(bytes(rng.getrandbits(8) for _ in range(1 << 20)))
    else:  # printable garbage with newlines: gets past the UTF-8 check
        alphabet = "abc{}[]()=\"#$:;%0123456789 \n\t"
        path.write_text("".join(rng.choice(alphabet) for _ in range(1 << 20)))
    result = cli("check", str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert HEADLINE.search(result.stderr.replace(str(tmp_path) + "/", ""))
    assert len(result.stderr) < 20_000  # bounded, however big the input


def test_several_syntax_errors_reported_together(cli, monkeypatch):
    monkeypatch.chdir(BAD)
    err = cli("check", "several_errors.nemo").stderr
    assert err.count(": error: ") == 3
    assert err.rstrip().endswith("3 errors")


def test_include_cycle_reported_from_either_end(cli, monkeypatch):
    monkeypatch.chdir(BAD)
    err = cli("check", "include_cycle_b.nemo").stderr
    assert "include cycle: include_cycle_b.nemo → include_cycle_a.nemo → include_cycle_b.nemo" in err
