"""The layers of ../shared/DESIGN.md hold: import-linter checks the contracts in pyproject.toml on every test run.

Its output is printed on failure, naming the import that broke a contract
(e.g. `nemoflow.engines.nemo.contract -> nemoflow.engines.local.engine`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import ROOT


def test_the_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))  # the test extra installs it
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in proc.stdout


def test_the_layers_cover_every_package():
    """A new top-level package must be given a place in the layers, or the contract would say nothing about it."""
    layers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]["layers"]
    named = {part.strip().split(".")[1] for layer in layers for part in layer.replace(":", "|").split("|")}
    packages = {p.name for p in (ROOT / "nemoflow").iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in (ROOT / "nemoflow").glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert packages | modules <= named | {"engines"}, sorted((packages | modules) - named)
