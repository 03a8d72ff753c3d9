"""The CLI as users and CI see it: exit codes, streams, JSON, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
from conftest import CORPUS, EXAMPLES, ROOT

from nemoflow import __version__

SCHEMA = json.loads((ROOT / "schemas" / "diagnostics.schema.json").read_text())


def nemoflow(*args: str, cwd=None):
    """The installed console script's code path, in a real subprocess."""
    return subprocess.run([sys.executable, "-m", "nemoflow.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_version_and_help():
    assert nemoflow("--version").stdout.strip() == f"nemoflow {__version__}"
    out = nemoflow("--help").stdout
    for command in ("check", "fmt", "graph", "run"):
        assert command in out


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.nemo")), ids=lambda p: p.stem)
def test_examples_check(example, cli):
    result = cli("check", str(example))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().endswith("steps)")
    assert result.stderr == ""


def test_check_json_is_valid_against_the_schema(cli):
    files = [str(EXAMPLES / "urban_dreams.nemo"), str(CORPUS / "bad" / "several_semantic.nemo"),
             str(CORPUS / "bad" / "cycle.nemo")]
    result = cli("check", "--json", *files)
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    ok, semantic, cycle = data["files"]
    assert ok["ok"] and ok["steps"] == 5
    assert [d["range"]["start"] for d in semantic["diagnostics"]][:2] == [{"line": 6, "column": 9}, {"line": 7, "column": 15}]
    assert semantic["diagnostics"][0]["help"] == "did you mean `city`?"
    assert len(cycle["diagnostics"][0]["related"]) == 2


def test_graph_formats(cli):
    path = str(EXAMPLES / "urban_dreams.nemo")
    dot = cli("graph", "--format", "dot", path).stdout
    assert dot.startswith("digraph nemoflow {") and '"edit.cut" -> "export.final";' in dot
    mermaid = cli("graph", "-f", "mermaid", path).stdout
    assert mermaid.startswith("flowchart LR") and "-->" in mermaid
    data = json.loads(cli("graph", "-f", "json", path).stdout)
    assert [n["id"] for n in data["nodes"]] == ["media.city", "media.lofi", "edit.cut", "export.final", "expect.final"]
    assert {"from": "export.final", "to": "expect.final"} in data["edges"]
    text = cli("graph", path).stdout
    assert "export.final" in text and "<- edit.cut" in text
    bad = cli("graph", "-f", "svg", path)
    assert bad.exit_code == 2 and "unknown graph format `svg`" in bad.stderr


def test_set_overrides_reach_the_plan(cli):
    path = str(EXAMPLES / "urban_dreams.nemo")
    data = json.loads(cli("graph", "-f", "json", "--set", "size=1080p", path).stdout)
    final = next(n for n in data["nodes"] if n["id"] == "export.final")
    assert final["spec"]["settings"]["size"] == {"kind": "resolution", "width": 1920, "height": 1080}
    bad = cli("check", "--set", "size=loud", path)
    assert bad.exit_code == 2
    assert "--set size:1:1: error: `loud` is not a valid value for param `size`" in bad.stderr
    malformed = cli("check", "--set", "size", path)
    assert malformed.exit_code == 2 and "--set takes NAME=VALUE" in malformed.stderr


def test_run_dry_run_lists_steps_in_order(cli):
    result = cli("run", "--dry-run", str(EXAMPLES / "urban_dreams.nemo"))
    assert result.exit_code == 0
    lines = [ln.split()[1] for ln in result.stdout.splitlines() if ln.split()[0] in ("run", "cached")]
    assert lines == ["media.city", "media.lofi", "edit.cut", "export.final", "expect.final"]


@pytest.mark.parametrize("args", [
    ("check", "does/not/exist.nemo"),
    ("check", str(ROOT / "examples")),
    ("graph", str(CORPUS / "bad" / "cycle.nemo")),
    ("run", str(CORPUS / "bad" / "non_utf8.nemo")),
    ("fmt", str(CORPUS / "bad" / "empty.nemo")),
])
def test_user_errors_exit_2_without_traceback(args):
    result = nemoflow(*args)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert ": error: " in result.stderr


def test_params_file_errors_are_user_errors(tmp_path, cli):
    params = tmp_path / "p.toml"
    params.write_text("size = [unclosed\n")
    result = cli("check", "--params", str(params), str(EXAMPLES / "urban_dreams.nemo"))
    assert result.exit_code == 2
    assert "is not valid TOML" in result.stderr
