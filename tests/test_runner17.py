"""Issue 17, runner items: a check never passes on an output this run failed to produce; one unterminated string
is one syntax error.

The failing export is real: FFmpeg is a wrapper that answers `-version` (so the cache keys do not move) and fails
every render into a hidden partial file, as a full or broken encoder would, while probing still works.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from conftest import ROOT
from runnerkit import events, finished, make_project, nf, plan

from nemoflow.media.ffmpeg import ffmpeg_exe


@pytest.fixture
def broken_renders(tmp_path, monkeypatch):
    """Call it to make FFmpeg fail every render (not probes, not `-version`) from then on in this test."""
    real = ffmpeg_exe()

    def use() -> None:
        wrapper = tmp_path / "bin" / "ffmpeg"
        wrapper.parent.mkdir(exist_ok=True)
        wrapper.write_text("#!/bin/sh\n"
                           'for a in "$@"; do case "$a" in *.partial*) echo "Conversion failed! (test: encoder broken)" >&2; '
                           "exit 1;; esac; done\n"
                           f"exec '{real}' \"$@\"\n", encoding="utf-8")
        wrapper.chmod(0o755)
        monkeypatch.setenv("NEMOFLOW_FFMPEG", str(wrapper))
        ffmpeg_exe.cache_clear()

    yield use
    ffmpeg_exe.cache_clear()


def _checks(result) -> list[dict]:
    return [e for e in events(result) if e["event"] == "check"]


def _run_finished(result) -> dict:
    return next(e for e in events(result) if e["event"] == "run-finished")


# -- 1. a failed export still reported passing checks --------------------------------------------------------------

def test_a_forced_export_that_fails_does_not_report_its_cached_checks_as_passing(tmp_path, broken_renders):
    recipe = make_project(tmp_path / "p")
    first = nf("run", recipe, "--json")
    assert first.exit_code == 0, first.output
    assert len([c for c in _checks(first) if c["ok"]]) == 2
    broken_renders()
    result = nf("run", recipe, "--json", "--force", "export.a", "--junit", tmp_path / "junit.xml")
    assert result.exit_code != 0
    status = finished(result)
    assert status["export.a"] == "failed"
    assert status["expect.a"] == "blocked"  # not "cached": its export did not produce this run's file
    assert _checks(result) == []
    ended = next(e for e in events(result) if e["event"] == "step-finished" and e["step"] == "expect.a")
    assert "export.a failed" in ended["error"] and "not checked" in ended["error"]
    assert _run_finished(result)["checks"] == {"passed": 0, "failed": 0, "not_run": 2}
    cases = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite").findall("testcase")
    assert len(cases) == 2 and all(c.find("skipped") is not None for c in cases)
    assert all("export.a failed" in c.find("skipped").get("message") for c in cases)
    journal = sorted((recipe.parent / ".nemoflow" / "recipes").glob("*/journal/*.jsonl"))[-1]
    logged = [json.loads(line) for line in journal.read_text().splitlines()]
    schema = json.loads((ROOT / "schemas" / "events.schema.json").read_text())
    for event in [*events(result), *logged]:
        jsonschema.validate(event, schema)
    assert not any(e["event"] == "check" for e in logged)  # the journal tells the same story
    assert any(e["event"] == "step-finished" and e["step"] == "expect.a" and e["status"] == "blocked" for e in logged)


def test_the_terminal_says_the_checks_were_not_run_and_never_ok_cached(tmp_path, broken_renders):
    recipe = make_project(tmp_path / "p")
    assert nf("run", recipe).exit_code == 0
    broken_renders()
    result = nf("run", recipe, "--force", "export.a")
    assert result.exit_code != 0
    assert "(cached)" not in result.stderr and "checks passed" in result.stderr
    assert "0/2 checks passed (2 not run)" in result.stderr, result.stderr
    assert "not checked expect.a: export.a failed" in result.stderr, result.stderr


def test_keep_going_also_leaves_the_checks_of_a_failed_export_unrun(tmp_path, broken_renders):
    recipe = make_project(tmp_path / "p")
    assert nf("run", recipe).exit_code == 0
    broken_renders()
    result = nf("run", recipe, "--json", "--keep-going", "--force", "export.*")
    status = finished(result)
    assert status["export.a"] == "failed" and status["export.b"] == "failed" and status["expect.a"] == "blocked"
    assert _checks(result) == [] and _run_finished(result)["checks"]["not_run"] == 2


def test_a_forced_export_that_renders_has_its_checks_run_on_the_new_file(tmp_path):
    recipe = make_project(tmp_path / "p")
    assert nf("run", recipe).exit_code == 0
    planned = plan(recipe, "--force", "export.a")
    assert planned["export.a"]["status"] == "run"
    assert planned["expect.a"]["status"] == "run"
    assert planned["expect.a"]["reasons"] == ["export.a renders again in this run: its checks run on the new file"]
    result = nf("run", recipe, "--json", "--force", "export.a")
    assert result.exit_code == 0, result.output
    assert finished(result)["expect.a"] == "ok"
    checks = _checks(result)
    assert len(checks) == 2 and all(c["ok"] and not c["cached"] for c in checks)
    order = [(e["event"], e.get("step")) for e in events(result) if e["event"] in ("check", "step-finished")]
    assert order.index(("step-finished", "export.a")) < order.index(("check", "expect.a"))
    again = nf("run", recipe, "--json")  # and then everything is cached again, the checks with it
    assert set(finished(again).values()) == {"cached"}
    assert len(_checks(again)) == 2 and all(c["cached"] for c in _checks(again))


def test_a_restored_export_reports_its_cached_checks_after_the_restore(tmp_path):
    recipe = make_project(tmp_path / "p")
    assert nf("run", recipe).exit_code == 0
    (recipe.parent / "out" / "a.mp4").unlink()
    result = nf("run", recipe, "--json")
    assert result.exit_code == 0, result.output
    assert finished(result)["export.a"] == "restored" and finished(result)["expect.a"] == "cached"
    order = [(e["event"], e.get("step")) for e in events(result) if e["event"] in ("check", "step-finished")]
    assert order.index(("step-finished", "export.a")) < order.index(("check", "expect.a"))
    assert all(c["cached"] and c["ok"] for c in _checks(result)) and len(_checks(result)) == 2


def test_an_export_that_failed_to_restore_and_to_render_leaves_its_checks_unrun(tmp_path, broken_renders, monkeypatch):
    recipe = make_project(tmp_path / "p")
    assert nf("run", recipe).exit_code == 0
    (recipe.parent / "out" / "a.mp4").unlink()
    from nemoflow.run.store import StoreHistory

    monkeypatch.setattr(StoreHistory, "restore", lambda self, record: False)  # the cached copy turned out unusable
    broken_renders()
    result = nf("run", recipe, "--json")
    assert finished(result)["export.a"] == "failed" and finished(result)["expect.a"] == "blocked"
    assert _checks(result) == []


# -- 2. one unterminated string, one error -----------------------------------------------------------------------

HEAD = 'nemo 1\n\nmedia clip = pattern testsrc duration 2s size 320x180 fps 30\n\n'  # lines 1-4
TAIL = '\nexport a = cut {\n  size 320x180\n  save "out/a.mp4"\n}\n'


def _errors(tmp_path, text: str) -> list[str]:
    """The `file:line:col: error: message` lines `nemoflow check` prints for this recipe."""
    path = tmp_path / "s.nemo"
    path.write_text(text, encoding="utf-8")
    result = nf("check", path)
    assert result.exit_code == 2, result.output
    return [line for line in result.stderr.splitlines() if ": error: " in line]


def test_an_unclosed_long_string_is_one_error_at_its_start(tmp_path):
    """The port's case: an `ask` whose \"\"\" is never closed. Every line after it is inside the string to the lexer;
    it used to give one error two columns late, then `unknown statement` for each line of the instruction."""
    text = HEAD + ('edit cut {\n  video clip for 1s\n}\n\n'  # 5-7
                   'ask better = cut """\n'  # 9
                   'make it warmer\nand cut the silences\nthen add a title\n') + TAIL
    path = tmp_path / "s.nemo"
    path.write_text(text, encoding="utf-8")
    result = nf("check", path)
    assert [ln for ln in result.stderr.splitlines() if ": error: " in ln] == [f"{path}:9:18: error: unterminated string"]
    assert '9 | ask better = cut """' in result.stderr and '"""' in result.stderr.split("help:")[1]
    assert "1 error" in result.stderr


def test_errors_after_an_unclosed_long_string_are_still_found(tmp_path):
    text = HEAD + ('edit cut {\n  video clip for 1s\n  title """Line one\n  and line two\n  text "World" from 0s to 1s\n}\n'
                   '\nexprt b = cut {\n  save "out/b.mp4"\n}\n')
    assert _errors(tmp_path, text) == [f"{tmp_path / 's.nemo'}:7:9: error: unterminated string",
                                       f"{tmp_path / 's.nemo'}:12:1: error: unknown statement `exprt`"]


def test_a_string_continued_on_the_next_line_is_one_error(tmp_path):
    """A title written over two lines with plain quotes: the second line's quote closes nothing."""
    text = HEAD + 'edit cut {\n  video clip for 1s\n  title "Line one\nand the second" from 0s to 1s\n  text "x" at top\n}\n' + TAIL
    assert _errors(tmp_path, text) == [f"{tmp_path / 's.nemo'}:7:9: error: unterminated string"]


def test_an_unterminated_string_before_a_block_brace_blanks_the_block(tmp_path):
    text = 'nemo 1\n\nfor clip in glob("clips/*.mp4) {\n  edit cut {\n    video clip for 1s\n  }\n}\n'
    assert _errors(tmp_path, text) == [f"{tmp_path / 's.nemo'}:3:18: error: unterminated string"]


def test_independent_unterminated_strings_are_each_reported(tmp_path):
    """Two lines each missing their closing quote, with a good line between: two errors, both real."""
    text = HEAD + 'edit cut {\n  video clip for 1s\n  title "One from 0s to 1s\n  text "Two" from 0s\n  text "Three at top\n}\n'
    assert _errors(tmp_path, text) == [f"{tmp_path / 's.nemo'}:7:9: error: unterminated string",
                                       f"{tmp_path / 's.nemo'}:9:8: error: unterminated string"]


def test_a_missing_quote_that_hides_a_block_brace_gives_no_follow_on_error(tmp_path):
    """`["warm, "cool"] {`: the error is at `cool`, and the block the line opens is skipped with it (no stray `}`)."""
    text = 'nemo 1\n\nfor look in ["warm, "cool"] {\n  edit cut {\n    video clip for 1s\n  }\n}\n'
    assert _errors(tmp_path, text) == [f"{tmp_path / 's.nemo'}:3:22: error: unexpected name `cool`"]
