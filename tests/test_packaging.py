"""The wheel carries the grammar and schemas, and the package finds them there."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    (path,) = out.glob("nemoflow-*.whl")
    return path


def test_wheel_ships_grammar_and_schemas(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nemoflow/grammar/nemo.lark" in names
    assert "nemoflow/schemas/diagnostics.schema.json" in names
    assert "nemoflow/schemas/state.schema.json" in names  # the state dir is validated against it
    assert "nemoflow/fonts/DejaVuSans.charset" in names  # which titles drawtext can draw, which need libass
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_parses_without_the_source_tree(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = ("import nemoflow.resources as r, sys; p = r.resource_path('grammar/nemo.lark'); "
            "assert str(p).startswith(sys.argv[1]), p; "
            "from nemoflow.lang.parser import parse_module; parse_module('nemo 1\\n', 'x.nemo'); print('ok')")
    result = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                            cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == "ok", result.stderr
