"""The engine interface: a third engine written only against engines/base.py runs recipes through the same runner.

The null engine (tests/null_engine/) renders black pictures of the right size
and length. Registering it is one call; everything else — keys, cache,
plan, expect, the CLI — comes from the runner's step-kind table.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import av
import pytest
from runnerkit import events, finished, make_project, nf

from nemoflow.core import engines
from nemoflow.core.model import StepKind
from nemoflow.media.probe import probe
from nemoflow.run.steps import KINDS

RECIPE = """nemo 1

media clip = "clip.mp4"
media bars = pattern bars duration 3s size 320x180 fps 25 tone 440hz

edit cut {
  video clip from 0.5s to 1.5s
  video bars for 1.5s
  title "Hello" from 0s to 1s
}

ask polish = cut "make it warmer please"

export a = polish {
  size 320x180
  save "out/a.mp4"
}

expect a {
  duration ~= 2.5s
  size == 320x180
  has audio
}
"""


@pytest.fixture
def null_engine():
    engines.register("null", "null_engine.engine:NullEngine", "black frames, for tests")
    yield "null"
    engines.unregister("null")


def test_every_step_kind_has_a_handler():
    assert set(KINDS) == set(StepKind)


def test_a_registered_engine_runs_a_recipe_through_the_runner(tmp_path, null_engine):
    recipe = make_project(tmp_path / "p", RECIPE)
    result = nf("run", recipe, "--engine", "null", "--json")
    assert result.exit_code == 0, result.output
    evs = events(result)
    assert next(e for e in evs if e["event"] == "run-started")["engine"] == "null"
    assert set(finished(result).values()) == {"ok"}
    checks = [e for e in evs if e["event"] == "check"]
    assert len(checks) == 3 and all(c["ok"] for c in checks)
    notes = [e["text"] for e in evs if e["event"] == "step-message"]
    assert any("leaves the timeline as it is" in t for t in notes)  # the ask went to the null engine, not the local one
    out = recipe.parent / "out" / "a.mp4"
    info = probe(out)
    assert (info.video.width, info.video.height) == (320, 180) and abs(info.duration - 2.5) < 0.1
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="gray")
    assert frame.mean() < 20  # black: the null engine drew it, the title of the local filter graph is not there
    again = nf("run", recipe, "--engine", "null", "--json")
    assert again.exit_code == 0 and set(finished(again).values()) == {"cached"}
    local = json.loads(nf("plan", recipe, "--json").stdout)  # another engine, other keys: nothing of the null run is reused
    assert {s["status"] for s in local["steps"]} == {"run"}


def test_the_recipe_can_name_a_registered_engine(tmp_path, null_engine):
    recipe = make_project(tmp_path / "p", RECIPE.replace("nemo 1\n", "nemo 1\nengine null\n"))
    result = nf("check", recipe)
    assert result.exit_code == 0, result.output
    assert nf("check", recipe.parent / "missing.nemo").exit_code == 2


def test_an_engine_folder_needs_nothing_but_the_interface_and_the_parts_below_it():
    allowed = ("nemoflow.engines.base", "nemoflow.media", "nemoflow.draft", "nemoflow.core", "nemoflow.errors")
    folder = Path(__file__).parent / "null_engine"
    for file in folder.glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nemoflow"):
                assert node.module.startswith(allowed), f"{file.name} imports {node.module}"
