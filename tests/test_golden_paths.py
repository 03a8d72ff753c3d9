"""Golden pictures are files `--update-golden` writes, so their paths follow the output rule (under the recipe's
folder unless allowed), and no golden name, empty included, crashes the checker."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nemoflow.cli import app

RECIPE = ('nemo 1\nmedia m = pattern bars duration 2s\nedit e {\n  video m\n}\nexport x = e {\n  size 320x180\n'
          '  save "o.mp4"\n}\nexpect x {\n  frame at 1s looks like %s ssim >= 0.9\n}\n')


def _check(tmp_path, golden: str, *args: str):
    (tmp_path / "r.nemo").write_text(RECIPE % golden, encoding="utf-8")
    return CliRunner().invoke(app, ["check", str(tmp_path / "r.nemo"), *args])


@pytest.mark.parametrize("golden", ['"../g.png"', '"/tmp/elsewhere/g.png"', '"~/g.png"'])
def test_a_golden_outside_the_recipe_folder_is_refused_at_its_place(tmp_path, golden):
    result = _check(tmp_path, golden)
    assert result.exit_code == 2
    assert "r.nemo:11:26" in result.output and "outside the recipe's folder" in result.output
    assert "--allow-outside" in result.output


def test_allow_outside_lets_a_golden_live_elsewhere(tmp_path):
    assert _check(tmp_path, '"../g.png"', "--allow-outside").exit_code == 0


@pytest.mark.parametrize("golden", ['""', '"golden/"', '"."'])
def test_a_golden_without_a_file_name_is_a_diagnostic(tmp_path, golden):
    result = _check(tmp_path, golden)
    assert result.exit_code == 2, result.output
    assert "must be a .png file" in result.output


def test_a_golden_under_the_recipe_folder_checks(tmp_path):
    assert _check(tmp_path, '"golden/1s.png"').exit_code == 0
