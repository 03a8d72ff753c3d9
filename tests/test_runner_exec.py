"""Running recipes for real: parallelism (seen in the journal), targets, --force, --keep-going, expect and
JUnit, JSON events against their schema, the lock, and resuming after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from runnerkit import RECIPE, events, finished, journal_events, make_project, nf

from nemoflow.media.probe import probe

ROOT = Path(__file__).resolve().parent.parent


def _t(event: dict) -> datetime:
    return datetime.fromisoformat(event["t"].replace("Z", "+00:00"))


def _intervals(journal: list[dict]) -> dict[str, tuple[datetime, datetime]]:
    start = {e["step"]: _t(e) for e in journal if e["event"] == "step-started"}
    end = {e["step"]: _t(e) for e in journal if e["event"] == "step-finished" and e["step"] in start}
    return {s: (start[s], end[s]) for s in start}


def test_independent_exports_run_at_once_with_j2_and_one_by_one_with_j1(tmp_path):
    recipe = make_project(tmp_path / "par")
    assert nf("run", recipe, "-j", "2").exit_code == 0
    spans = _intervals(journal_events(recipe.parent)[-1])
    (a0, a1), (b0, b1) = spans["export.a"], spans["export.b"]
    assert a0 < b1 and b0 < a1, spans  # the two renders overlapped
    assert nf("run", recipe, "-j", "1", "--force", "export.*").exit_code == 0
    spans = _intervals(journal_events(recipe.parent)[-1])
    assert set(spans) == {"export.a", "export.b", "expect.a"}  # forced: only those ran, and the checks on the new file
    (a0, a1), (b0, b1) = spans["export.a"], spans["export.b"]
    assert a1 <= b0 or b1 <= a0


def test_heavy_exports_take_every_core(tmp_path):
    recipe = make_project(tmp_path / "heavy", RECIPE.replace("size 320x180\n  quality draft", "size 1080p\n  quality draft"))
    result = nf("run", recipe, "-j", "4", "--json", "export.b")
    started = [e for e in events(result) if e["event"] == "step-started" and e["step"] == "export.b"]
    assert started[0]["resource"] == "cpu" and started[0]["demand"] == (os.cpu_count() or 1)


def test_targets_run_what_they_need_and_the_checks_on_them(tmp_path):
    recipe = make_project(tmp_path / "tg")
    only_b = nf("run", recipe, "--json", "export.b")
    assert only_b.exit_code == 0
    assert finished(only_b) == {"media.bars": "ok", "edit.other": "ok", "export.b": "ok"}
    assert not (recipe.parent / "out" / "a.mp4").exists()
    by_name = nf("run", recipe, "--json", "a")  # a bare name: export.a, and the expect block that checks it
    assert set(finished(by_name)) == {"media.clip", "edit.cut", "export.a", "expect.a"}
    wrong = nf("run", recipe, "export.c")
    assert wrong.exit_code == 2 and "no step `export.c`" in wrong.stderr and "did you mean" in wrong.stderr


def test_force_reruns_a_cached_step(tmp_path):
    recipe = make_project(tmp_path / "f")
    assert nf("run", recipe).exit_code == 0
    again = nf("run", recipe, "--json", "--force", "export.b")
    assert finished(again)["export.b"] == "ok" and finished(again)["export.a"] == "cached"
    plan = [e for e in events(again) if e["event"] == "plan" and e["step"] == "export.b"]
    assert plan[0]["reasons"] == ["forced with --force"]
    assert nf("run", recipe, "--force", "nope").exit_code == 2


FAILING = RECIPE.replace("duration ~= 1s", "duration ~= 5s")


def test_a_failing_expect_fails_the_run_with_expected_and_actual(tmp_path):
    recipe = make_project(tmp_path / "e", FAILING)
    result = nf("run", recipe, "--json", "-j", "1", "--junit", tmp_path / "report.xml")
    assert result.exit_code == 1
    checks = [e for e in events(result) if e["event"] == "check"]
    bad = [c for c in checks if not c["ok"]]
    assert len(checks) == 2 and len(bad) == 1
    assert bad[0]["expected"] == "duration ~= 5s" and bad[0]["actual"].startswith("1.0") and bad[0]["line"] == 25
    assert finished(result)["expect.a"] == "failed"
    assert finished(result)["export.b"] == "cancelled"  # without --keep-going the run stops at the first failure
    text = nf("run", recipe)  # not cached: a failed expect runs again, and says why
    assert text.exit_code == 1
    assert "FAIL expect.a: duration ~= 5s  (actual: 1.0" in text.stderr and "nemoflow: error: expect.a: 1 of 2 checks failed" in text.stderr


def test_keep_going_finishes_independent_work(tmp_path):
    recipe = make_project(tmp_path / "k", FAILING)
    result = nf("run", recipe, "--json", "-j", "1", "--keep-going")
    assert result.exit_code == 1
    assert finished(result)["expect.a"] == "failed" and finished(result)["export.b"] == "ok"
    assert (recipe.parent / "out" / "b.mp4").exists()


def test_junit_report_has_a_case_per_assertion(tmp_path):
    recipe = make_project(tmp_path / "j", FAILING)
    report = tmp_path / "junit.xml"
    nf("run", recipe, "--junit", report, "--keep-going")
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    expect_suite, steps_suite = root.findall("testsuite")
    cases = expect_suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("expect.a", "duration ~= 5s"), ("expect.a", "has audio")]
    failure = cases[0].find("failure")
    assert failure is not None and "expected duration ~= 5s, actual 1.0" in failure.get("message")
    assert cases[1].find("failure") is None and cases[0].get("line") == "25"
    assert expect_suite.get("tests") == "2" and expect_suite.get("failures") == "1"
    step_cases = {c.get("name"): c for c in steps_suite.findall("testcase")}
    assert set(step_cases) == {"media.clip", "media.bars", "edit.cut", "edit.other", "export.a", "expect.a", "export.b"}
    assert step_cases["expect.a"].find("error") is not None and step_cases["export.b"].find("error") is None


def test_junit_skips_assertions_whose_export_failed(tmp_path):
    recipe = make_project(tmp_path / "js")
    # looks like a transport stream to `check` (sync bytes), but FFmpeg finds nothing in it:
    # media.clip fails → export.a blocked → expect.a blocked
    (recipe.parent / "clip.mp4").write_bytes((b"G" + b"." * 187) * 100)
    report = tmp_path / "junit.xml"
    result = nf("run", recipe, "--junit", report, "--keep-going")
    assert result.exit_code == 2  # unusable media is the user's to fix
    cases = ET.parse(report).getroot().find("testsuite").findall("testcase")
    assert len(cases) == 2 and all(c.find("skipped") is not None for c in cases)


def test_json_events_follow_their_schema(tmp_path):
    schema = json.loads((ROOT / "schemas" / "events.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    recipe = make_project(tmp_path / "s", FAILING)
    runs = [nf("run", recipe, "--json", "--keep-going"), nf("run", recipe, "--json", "--keep-going")]
    seen = set()
    for result in runs:
        evs = events(result)
        assert evs[0]["event"] == "run-started" and evs[-1]["event"] == "run-finished"
        assert evs[-1]["status"] == "failed" and evs[-1]["exit_code"] == 1
        for e in evs:
            validator.validate(e)
            seen.add(e["event"])
    assert {"run-started", "plan", "step-started", "step-finished", "check", "run-finished"} <= seen
    for journal in journal_events(recipe.parent):  # the journal speaks the same language
        for e in journal:
            validator.validate(e)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**evs[-1], "status": "fine"})


def test_a_stale_lock_is_cleared_with_a_message(tmp_path):
    recipe = make_project(tmp_path / "l")
    assert nf("run", recipe, "export.b").exit_code == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (info,) = (recipe.parent / ".nemoflow" / "recipes").glob("*/")
    (info / "lock.json").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "started": "earlier"}))
    result = nf("run", recipe, "export.b")
    assert result.exit_code == 0
    assert f"cleared a stale lock left by nemoflow process {dead.pid} (started earlier), which is no longer running" in result.stderr
    assert not (info / "lock.json").exists()  # released at the end of the run


def test_a_live_lock_stops_a_second_run(tmp_path):
    recipe = make_project(tmp_path / "ll")
    assert nf("run", recipe, "export.b").exit_code == 0
    (info,) = (recipe.parent / ".nemoflow" / "recipes").glob("*/")
    holder = subprocess.Popen([sys.executable, "-c", f"""
import filelock, json, os, sys, time
lock = filelock.FileLock({str(info / "lock")!r}, timeout=0)
lock.acquire()
open({str(info / "lock.json")!r}, "w").write(json.dumps({{"pid": os.getpid(), "host": "here", "started": "now"}}))
print("held", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = nf("run", recipe)
        assert result.exit_code == 2
        assert f"another nemoflow run is using this recipe's state (process {holder.pid} on here, started now" in result.stderr
        assert not (recipe.parent / "out" / "a.mp4").exists()
    finally:
        holder.kill()
        holder.wait()
    assert nf("run", recipe).exit_code == 0  # the holder died: its lock died with it


def _cli(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "nemoflow.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False, **kw)


def test_an_unchanged_rerun_starts_no_ffmpeg(tmp_path):
    from nemoflow.media.ffmpeg import ffmpeg_exe

    log = tmp_path / "ffmpeg.log"
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{ffmpeg_exe()}" "$@"\n')
    wrapper.chmod(0o755)
    recipe = make_project(tmp_path / "z")
    env = {"NEMOFLOW_FFMPEG": str(wrapper)}
    assert _cli("run", recipe, env=env).returncode == 0
    first = log.read_text().splitlines()
    assert len(first) >= 3  # -version once, then the two renders
    again = _cli("run", recipe, env=env)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert log.read_text().splitlines() == first


SLOW = """nemo 1

media small = pattern testsrc duration 1s size 160x90 fps 30
media big = pattern testsrc duration 20s size 1280x720 fps 30 tone 440hz

edit s {
  video small for 1s
}

edit b {
  video big for 20s
}

export first = s {
  size 160x90
  save "out/first.mp4"
}

export second = b {
  size 1280x720
  save "out/second.mp4"
}
"""


def _start(recipe: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nemoflow.cli", "run", str(recipe), "-j", "1", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_render(proc: subprocess.Popen, step: str) -> list[dict]:
    seen = []
    for line in proc.stdout:
        event = json.loads(line)
        seen.append(event)
        if event["event"] == "step-progress" and event["step"] == step and event["seconds"] > 0:
            return seen
    raise AssertionError(f"the run ended before {step} rendered: {seen[-3:]}")


def test_resume_after_kill_9_mid_render(tmp_path):
    recipe = make_project(tmp_path / "k9", SLOW)
    proc = _start(recipe)
    try:
        seen = _wait_for_render(proc, "export.second")
        assert {"step": "export.first", "status": "ok"}.items() <= next(
            e for e in seen if e["event"] == "step-finished" and e["step"] == "export.first").items()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    out = recipe.parent / "out"
    assert not (out / "second.mp4").exists()
    time.sleep(1.0)  # the orphaned FFmpeg dies on its next progress write (SIGPIPE)
    resumed = _cli("run", recipe, "-j", "1", "--json")
    assert resumed.returncode == 0, resumed.stderr
    evs = [json.loads(line) for line in resumed.stdout.splitlines()]
    notes = [e["message"] for e in evs if e["event"] == "note"]
    assert any("was killed while running export.second" in n and "removed 1 partial file" in n for n in notes), notes
    assert evs[0]["event"] == "run-started" and evs[0]["resumed_from"] is not None
    assert any(n.startswith("cleared a stale lock left by nemoflow process") for n in notes)
    status = {e["step"]: e["status"] for e in evs if e["event"] == "step-finished"}
    assert status["export.first"] == "cached" and status["export.second"] == "ok"
    assert sorted(p.name for p in out.iterdir()) == ["first.mp4", "second.mp4"]  # no partial file left anywhere
    assert probe(out / "second.mp4").duration == pytest.approx(20.0, abs=0.05)
    explain = _cli("explain", recipe, "export.second")
    assert "last run:" in explain.stdout and ": ok," in explain.stdout


def test_sigterm_stops_cleanly(tmp_path):
    recipe = make_project(tmp_path / "term", SLOW)
    proc = _start(recipe)
    try:
        _wait_for_render(proc, "export.second")
        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()
        assert proc.wait(timeout=20) == 130
    finally:
        proc.kill()
    last = json.loads(rest.strip().splitlines()[-1])
    assert last["event"] == "run-finished" and last["status"] == "interrupted" and last["exit_code"] == 130
    assert sorted(p.name for p in (recipe.parent / "out").iterdir()) == ["first.mp4"]
    again = nf("plan", recipe, "--json")
    steps = {s["step"]: s for s in json.loads(again.stdout)["steps"]}
    assert steps["export.first"]["status"] == "cached" and steps["export.second"]["reasons"] == ["did not finish in the last run"]


def test_an_unwritable_state_directory_is_a_clear_error(tmp_path):
    recipe = make_project(tmp_path / "ro")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = nf("run", recipe, "--state-dir", blocker / "state")
    assert result.exit_code == 2
    assert "cannot write nemoflow's state directory" in result.stderr and "--state-dir" in result.stderr
    assert not (recipe.parent / "out").exists()


TWINS = """nemo 1

for i in ["a", "b"] {
  media src = tone 440hz duration 1s
  media pic = pattern testsrc duration 1s size 160x90 fps 30
  edit e {
    video pic for 1s
    music src
  }
  export x = e {
    size 160x90
    save "out/${i}.mp4"
  }
}
"""


def test_steps_with_equal_keys_in_parallel_run_once(tmp_path):
    for attempt in range(3):  # the race this guards against showed up about half the time
        recipe = make_project(tmp_path / f"twins{attempt}", TWINS)
        result = nf("run", recipe, "-j", "4", "--json")
        assert result.exit_code == 0, result.output
        status = finished(result)
        assert sorted(status[f"media.src[{i}]"] for i in "ab") == ["cached", "ok"]
        assert status["export.x[a]"] == status["export.x[b]"] == "ok"


def test_fanout_ids_keep_their_brackets_in_the_summary(tmp_path):
    recipe = make_project(tmp_path / "br", TWINS)
    result = nf("run", recipe, "-v")
    assert "export.x[a]" in result.stderr and "media.pic[b]" in result.stderr
    table = result.stderr[result.stderr.index("step "):]
    assert "export.x[a]" in table and "export.x[b]" in table
