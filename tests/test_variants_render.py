"""examples/variants/ rendered for real with the local engine: one film per row, then one edited cell re-renders
exactly that row (counted from the run journal), and `plan` says which row changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nemoflow.cli import app
from nemoflow.media.probe import probe
from nemoflow.report.facts import journal_run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "variants"

pytestmark = pytest.mark.slow


def _started(project: Path) -> list[str]:
    journal = next((project / ".nemoflow" / "recipes").glob("*/journal"))
    return [e["step"] for e in journal_run(journal) if e["event"] == "step-started"]


def test_one_render_per_row_and_one_cell_one_render(tmp_path):
    project = tmp_path / "variants"
    shutil.copytree(EXAMPLE, project)
    recipe = project / "products.nemo"
    runner = CliRunner()
    first = runner.invoke(app, ["run", str(recipe)])
    assert first.exit_code == 0, first.output
    assert sorted(s for s in _started(project) if s.startswith("export.")) == \
        ["export.square[cap-31]", "export.square[hat-07]", "export.square[mug-12]"]
    lengths = {sku: probe(project / "out" / "variants" / f"{sku}.mp4").duration for sku in ("mug-12", "hat-07", "cap-31")}
    assert lengths == pytest.approx({"mug-12": 2.0, "hat-07": 2.5, "cap-31": 1.5}, abs=0.05)  # each row's `length` cell
    untouched = (project / "out" / "variants" / "mug-12.mp4").stat().st_mtime_ns

    table = project / "products.csv"
    table.write_text(table.read_text(encoding="utf-8").replace("Wool hat", "Red wool hat"), encoding="utf-8")
    plan = runner.invoke(app, ["plan", str(recipe)])
    assert plan.exit_code == 0, plan.output
    assert "rows (products.csv, `row`): 1 changed (hat-07: headline), 2 cached" in plan.output
    second = runner.invoke(app, ["run", str(recipe)])
    assert second.exit_code == 0, second.output
    rendered = [s for s in _started(project) if s.startswith("export.")]
    assert rendered == ["export.square[hat-07]"]
    assert (project / "out" / "variants" / "mug-12.mp4").stat().st_mtime_ns == untouched
