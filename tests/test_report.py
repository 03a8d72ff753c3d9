"""The HTML report of a run (`run --report DIR`, `nemoflow report FILE`): what the page shows, read back from its files.

One small run (320x180, 3.5 s, a title, music, a failing `no black frames` check) serves the module; each test reads
the report it wrote, or writes another from the journal.
"""

from __future__ import annotations

import filecmp
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reportkit import Page, nf, private_config, write_recipe

from nemoflow.report.facts import read_events
from nemoflow.report.page import CheckView, PageInput, render_page
from nemoflow.report.plan_svg import plan_svg

STEPS = ["media.bars", "media.dark", "media.hum", "edit.cut", "export.final", "expect.final"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    recipe = write_recipe(root / "project")
    with private_config(root):
        result = nf("run", str(recipe), "--report", str(root / "report"))
        yield root, recipe, result


def _page(folder: Path) -> Page:
    return Page((folder / "index.html").read_text(encoding="utf-8"))


def test_run_report_shows_the_export_its_pictures_and_the_failed_frame(project):
    root, recipe, result = project
    assert result.exit_code == 1, result.output  # the black-frame check fails: the run fails, the report is still written
    assert "report: " in result.stderr and "index.html" in result.stderr
    folder = root / "report"
    page = _page(folder)
    assert json.loads((folder / ".nemoflow-report").read_text())["format"] == 1

    # the player plays a copy of the output itself
    (video,) = page.find("video", data_step="export.final")
    (source,) = page.find("source")
    assert source["type"] == "video/mp4"
    assert filecmp.cmp(folder / source["src"], recipe.parent / "out" / "final.mp4", shallow=False)
    # its poster frame and the timeline picture are real PNGs of the right shapes
    poster = Image.open(folder / video["poster"])
    assert poster.format == "PNG" and poster.size == (320, 180)
    (timeline,) = page.find("img", data_step="export.final")
    picture = Image.open(folder / timeline["src"])
    assert picture.format == "PNG" and picture.width == 1600 and picture.height > 40

    # the failed check, with the first black frame it saved: a black picture
    checks = [cells for kind, cells in page.rows if kind.startswith("checks:check")]
    assert [c[0] for c in checks] == ["✓ ok", "✓ ok", "✗ failed"]
    assert checks[2][2].startswith("no black frames")
    pictures = [kind for kind, _ in page.rows if kind == "checks:pictures"]
    assert len(pictures) == 1
    (black,) = [a for a in page.find("img") if a["src"].startswith("checks/")]
    frame = np.asarray(Image.open(folder / black["src"]).convert("L"), dtype=float)
    assert frame.shape == (180, 320) and frame.mean() < 20
    assert black["alt"] == "the first black frame"


def test_the_plan_is_an_svg_of_every_step_coloured_by_how_it_ended(project):
    root, _, _ = project
    page = _page(root / "report")
    svg = ET.fromstring(page.svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = {g.get("data-step"): g.get("class") for g in svg.iterfind(".//s:g[@data-step]", ns)}
    assert set(groups) == set(STEPS)
    assert groups["export.final"] == "step status-ok"
    assert groups["expect.final"] == "step status-failed"
    assert len(svg.findall(".//s:path[@class='edge']", ns)) == 5  # bars, dark, hum → cut → final → expect


def test_timings_list_every_step_and_the_page_needs_nothing_outside_its_folder(project):
    root, _, _ = project
    folder = root / "report"
    page = _page(folder)
    timed = [cells for kind, cells in page.rows if kind.startswith("timings:")]
    assert sorted(c[0] for c in timed) == sorted(STEPS)
    export = next(c for c in timed if c[0] == "export.final")
    assert export[1].startswith("ran") and float(export[2].split()[0]) > 0
    for url in page.links():
        if url.startswith(("#", "data:")):
            continue
        assert "://" not in url and not url.startswith("/"), url
        assert (folder / url).resolve().is_relative_to(folder.resolve()) and (folder / url).is_file(), url


def test_nemoflow_report_reads_the_last_run_from_the_journal(project, tmp_path):
    root, recipe, _ = project
    with private_config(root):
        again = nf("run", str(recipe), "--report", str(root / "report"))  # nothing changed: all cached, same folder replaced
        assert again.exit_code == 1, again.output
        page = _page(root / "report")
        assert [c[1] for k, c in page.rows if k.startswith("timings:") and c[0] == "export.final"] == ["cached"]
        assert page.find("video", data_step="export.final")  # a cached export still plays
        made = nf("report", str(recipe), "-o", str(tmp_path / "later"))
    assert made.exit_code == 0, made.output
    later = (tmp_path / "later" / "index.html").read_text(encoding="utf-8")
    run_id = json.loads((root / "report" / ".nemoflow-report").read_text())["run"]
    assert run_id in later and run_id == json.loads((tmp_path / "later" / ".nemoflow-report").read_text())["run"]
    with private_config(root):
        first_run = nf("report", str(recipe), "--run", _first_run(recipe))  # an earlier run, into the default folder
        unknown = nf("report", str(recipe), "--run", "19990101T")
    assert first_run.exit_code == 0, first_run.output
    index = Path(first_run.stdout.split("report: ", 1)[1].split()[0])
    assert index.parent.name == "html-report" and ".nemoflow" in index.parts
    assert json.loads((index.parent / ".nemoflow-report").read_text())["run"] == _first_run(recipe) != run_id
    assert unknown.exit_code == 2 and "no run `19990101T`" in unknown.stderr


def _first_run(recipe: Path) -> str:
    (journal,) = {p.parent for p in (recipe.parent / ".nemoflow").rglob("journal/*.jsonl")}
    return sorted(journal.glob("*.jsonl"))[0].stem


def test_a_folder_nemoflow_did_not_write_is_refused_before_anything_renders(tmp_path):
    recipe = write_recipe(tmp_path / "p")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with private_config(tmp_path):
        refused = nf("run", str(recipe), "--report", str(mine))
        assert refused.exit_code == 2 and "nemoflow did not write" in refused.stderr
        assert not (recipe.parent / "out").exists() and (mine / "notes.txt").read_text() == "keep me"
        assert nf("run", str(recipe), "--report", str(mine / "notes.txt")).exit_code == 2
        dry = nf("run", str(recipe), "--dry-run", "--report", str(tmp_path / "r"))
        assert dry.exit_code == 2 and "--report needs a run" in dry.stderr
        none = nf("report", str(recipe))
        assert none.exit_code == 2 and "no run recorded" in none.stderr and "Traceback" not in none.output


def test_what_a_recipe_or_run_says_is_escaped(tmp_path):
    recipe = write_recipe(tmp_path)
    from nemoflow.lang.check import check_file

    checked = check_file(recipe, {}, None)
    facts = read_events([
        {"event": "run-started", "run": "R1", "recipe": str(recipe), "engine": "local", "t": "2026-12-05T12:00:00.000Z"},
        {"event": "step-finished", "step": "export.final", "kind": "export", "status": "failed", "seconds": 1.0,
         "t": "2026-12-05T12:00:01.000Z", "error": "<script>alert(1)</script>"},
        {"event": "check", "step": "expect.final", "target": "export.final", "check": "a <b>", "ok": False, "expected": "&",
         "actual": "\"x\"", "line": 3, "cached": False},
        {"event": "run-finished", "status": "failed", "exit_code": 1, "seconds": 2.0, "checks": {"passed": 0, "failed": 1}}])
    html = render_page(PageInput(facts, "r<1>.nemo", plan_svg(checked, facts), (), tuple(CheckView(c) for c in facts.checks),
                                 datetime.now(UTC), "0"))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a &lt;b&gt;" in html and "r&lt;1&gt;.nemo" in html
    page = Page(html)
    assert [c[0] for k, c in page.rows if k.startswith("checks:check")] == ["✗ failed"]
    ET.fromstring(page.svg)  # still well-formed


def test_an_animated_export_is_a_picture_and_a_deleted_output_is_said_in_its_place(tmp_path):
    recipe = write_recipe(tmp_path / "p")
    recipe.write_text(recipe.read_text(encoding="utf-8").replace('expect final {', 'export anim = cut {\n  size 160x90\n'
                                                                  '  save "out/anim.gif"\n}\n\nexpect final {'), encoding="utf-8")
    with private_config(tmp_path):
        assert nf("run", str(recipe)).exit_code == 1  # the black-frame check fails, as in the module's run
        (recipe.parent / "out" / "final.mp4").unlink()
        made = nf("report", str(recipe), "-o", str(tmp_path / "r"))
    assert made.exit_code == 0, made.output
    page = _page(tmp_path / "r")
    assert not page.find("video")  # the MP4 is gone: no player, and the page says why
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "out/final.mp4 is no longer there: run the recipe again to see it" in html
    assert len(page.find("img", data_step="export.final")) == 1  # its timeline is still drawn, from the cached Draft
    (gif,) = [a for a in page.find("img") if a["src"].endswith(".gif")]
    shown = Image.open(tmp_path / "r" / gif["src"])
    assert shown.format == "GIF" and shown.size == (160, 90) and shown.n_frames > 10
    assert filecmp.cmp(tmp_path / "r" / gif["src"], recipe.parent / "out" / "anim.gif", shallow=False)


def test_a_killed_run_is_reported_as_unfinished(tmp_path):
    recipe = write_recipe(tmp_path)
    from nemoflow.lang.check import check_file

    facts = read_events([  # a journal cut short: the export started, nothing ended
        {"event": "run-started", "run": "R2", "recipe": str(recipe), "engine": "local", "t": "2026-12-05T12:00:00.000Z"},
        {"event": "plan", "step": "export.final", "kind": "export", "status": "run", "reasons": ["not run before"]},
        {"event": "step-started", "step": "export.final", "kind": "export", "t": "2026-12-05T12:00:00.500Z"}])
    html = render_page(PageInput(facts, "r.nemo", plan_svg(check_file(recipe, {}, None), facts), (), (), datetime.now(UTC), "0"))
    assert "The run did not finish" in html
    page = Page(html)
    assert [c[:2] for k, c in page.rows if k.startswith("timings:")] == [["export.final", "did not finish"]]
    groups = {g.get("data-step"): g.get("class") for g in ET.fromstring(page.svg).iter("{http://www.w3.org/2000/svg}g")}
    assert groups["export.final"] == "step status-unfinished" and groups["edit.cut"] == "step status-absent"
