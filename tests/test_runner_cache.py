"""The content-hash cache: a hit and a miss for each key component, plan, explain, clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from mediagen import make_video
from runnerkit import events, finished, make_project, nf, plan

from nemoflow.core.hashing import sha256_file
from nemoflow.media.probe import probe

ALL = {"media.clip", "media.bars", "edit.cut", "edit.other", "export.a", "expect.a", "export.b"}


@pytest.fixture
def project(tmp_path):
    recipe = make_project(tmp_path / "p")
    first = nf("run", recipe, "--json")
    assert first.exit_code == 0, first.output
    assert set(finished(first).values()) == {"ok"} and set(finished(first)) == ALL
    return recipe


def statuses(recipe, *args) -> dict[str, str]:
    return {sid: s["status"] for sid, s in plan(recipe, *args).items()}


def test_unchanged_rerun_renders_nothing_and_trusts_nothing_it_did_not_check(project):
    out = project.parent / "out" / "a.mp4"
    before = out.stat().st_mtime_ns
    again = nf("run", project, "--json")
    assert again.exit_code == 0
    assert finished(again) == dict.fromkeys(ALL, "cached")
    assert out.stat().st_mtime_ns == before
    checks = [e for e in events(again) if e["event"] == "check"]
    assert len(checks) == 2 and all(c["ok"] and c["cached"] for c in checks)  # cached checks are still reported
    text = nf("run", project)
    assert "nothing to do: 7 cached; 2/2 checks passed" in text.stderr


def test_touching_a_file_without_changing_it_reruns_nothing(project):
    clip = project.parent / "clip.mp4"
    os.utime(clip, (time.time() - 60, time.time() - 60))
    assert set(statuses(project).values()) == {"cached"}


def test_changed_media_content_reruns_only_what_reads_it(project):
    make_video(project.parent / "clip.mp4", size=(320, 180), duration=2.0, tone=880)  # same name and size class, new content
    p = plan(project)
    assert p["media.clip"]["status"] == "run"
    assert p["media.clip"]["reasons"] == ["media clip.mp4 content changed"]
    assert p["edit.cut"]["reasons"] == ["input media.clip changed"]
    assert {s for s, v in p.items() if v["status"] == "run"} == {"media.clip", "edit.cut", "export.a", "expect.a"}
    assert {s for s, v in p.items() if v["status"] == "cached"} == {"media.bars", "edit.other", "export.b"}


def test_a_param_change_reruns_the_export_not_the_edit(project):
    p = plan(project, "--set", "size=160x90")
    assert p["export.a"]["status"] == "run" and p["export.a"]["reasons"] == ["param size changed: 320x180 → 160x90"]
    assert p["expect.a"]["status"] == "run"
    assert p["edit.cut"]["status"] == "cached" and p["export.b"]["status"] == "cached"


def test_changing_one_title_reruns_only_the_steps_downstream(project):
    result = nf("run", project, "--json", "--set", "headline=Bye")
    assert finished(result) == {"media.clip": "cached", "media.bars": "cached", "edit.cut": "ok", "edit.other": "cached",
                                "export.a": "ok", "expect.a": "ok", "export.b": "cached"}
    p = plan(project)  # and back: the first title's results are still in the cache
    assert p["edit.cut"]["status"] == "cached" and p["export.a"]["status"] == "restore"


def test_title_change_reason_names_the_clause_and_what_differs(project):
    p = plan(project, "--set", "headline=Bye")
    assert p["edit.cut"]["reasons"] == ['clause 2 (`title`) changed: text Hello → Bye']


def test_engine_revision_is_part_of_every_key(project, monkeypatch):
    from nemoflow.engines.local import engine

    monkeypatch.setattr(engine, "ENGINE_REVISION", engine.ENGINE_REVISION + 1)
    p = plan(project)
    assert {v["status"] for v in p.values()} == {"run"}
    assert any(r.startswith("engine changed: local") for r in p["media.bars"]["reasons"])


def test_cache_format_is_part_of_every_key(project, monkeypatch):
    from nemoflow.plan import keys

    monkeypatch.setattr(keys, "CACHE_FORMAT", keys.CACHE_FORMAT + 1)
    p = plan(project)
    assert all(v["status"] == "run" and "nemoflow's cache format changed" in v["reasons"] for v in p.values())


def test_another_ffmpeg_build_reruns_everything(project, tmp_path):
    from nemoflow.media.ffmpeg import ffmpeg_exe

    fake = tmp_path / "ffmpeg-fake"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do if [ "$a" = "-version" ]; then echo "ffmpeg version n99.0-test"; exit 0; fi; done\n'
                    f'exec "{ffmpeg_exe()}" "$@"\n')
    fake.chmod(0o755)
    env = {**os.environ, "NEMOFLOW_FFMPEG": str(fake)}
    out = subprocess.run([sys.executable, "-m", "nemoflow.cli", "plan", str(project), "--json"], capture_output=True, text=True,
                         env=env, check=False)
    steps = {s["step"]: s for s in json.loads(out.stdout)["steps"]}
    assert all(s["status"] == "run" for s in steps.values())
    assert any("FFmpeg changed:" in r and "n99.0-test" in r for r in steps["export.b"]["reasons"])


def test_a_deleted_output_is_restored_and_a_modified_one_rebuilt(project):
    out_a, out_b = project.parent / "out" / "a.mp4", project.parent / "out" / "b.mp4"
    digest_b = sha256_file(out_b)
    out_a.unlink()
    with open(out_b, "r+b") as fh:  # in place, as an editor might
        fh.seek(100)
        fh.write(b"\0" * 64)
    p = plan(project)
    assert p["export.a"]["status"] == "restore" and p["export.a"]["reasons"][0].startswith("output missing: out/a.mp4")
    assert p["export.b"]["status"] == "run" and p["export.b"]["reasons"] == ["output modified: out/b.mp4"]
    refused = nf("run", project, "--json")  # edited by hand, it is no longer nemoflow's output: kept (tests/test_output_policy.py)
    assert refused.exit_code == 2 and "out/b.mp4" in refused.stderr and "--overwrite" in refused.stderr
    result = nf("run", project, "--json", "--overwrite")
    assert result.exit_code == 0
    assert finished(result)["export.a"] == "restored" and finished(result)["export.b"] == "ok"
    assert probe(out_a).duration == pytest.approx(1.0, abs=0.05)
    assert sha256_file(out_b) == digest_b  # rendering is deterministic: the same bytes again
    assert set(statuses(project).values()) == {"cached"}


def test_a_moved_checkout_keeps_its_cache(project, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(project.parent, moved)
    assert set(statuses(moved / "r.nemo").values()) == {"cached"}


def test_digests_are_memoized_by_size_mtime_inode(project):
    from nemoflow.lang.check import check_file
    from nemoflow.run.workspace import Workspace

    ws = Workspace(check_file(project, {}, None, display=str(project)))
    ws.plan()
    hashed = {os.path.basename(p) for p in ws.digests.hashed}
    assert "clip.mp4" not in hashed  # known from the first run; big sources are not re-read
    assert not {"a.mp4", "b.mp4"} & hashed  # nor the outputs it just wrote
    os.utime(project.parent / "clip.mp4", (time.time() - 30, time.time() - 30))
    ws2 = Workspace(check_file(project, {}, None, display=str(project)))
    ws2.plan()
    assert "clip.mp4" in {os.path.basename(p) for p in ws2.digests.hashed}  # touched: read again, found unchanged


def test_explain_walks_to_the_root_cause(project):
    result = nf("explain", project, "export.a", "--set", "headline=Bye")
    assert result.exit_code == 0, result.output
    assert "export.a will run: input edit.cut changed" in result.stdout
    assert "input edit.cut changed, because:" in result.stdout
    assert "clause 2 (`title`) changed: text Hello → Bye" in result.stdout
    data = json.loads(nf("explain", project, "export.a", "--json", "--set", "headline=Bye").stdout)
    assert data["status"] == "run" and data["last"]["status"] == "ok"
    (change,) = data["changes"]
    assert change["component"] == "input edit.cut" and change["because"][0]["component"] == "clause 2 title"
    same = nf("explain", project, "export.b")
    assert "export.b is cached (nothing to do)" in same.stdout and "nothing it depends on has changed" in same.stdout


def test_explain_unknown_step_suggests(project):
    result = nf("explain", project, "export.aa")
    assert result.exit_code == 2
    assert "no step `export.aa`" in result.stderr and "did you mean `export.a`?" in result.stderr


def test_plan_detailed_exitcode(tmp_path):
    recipe = make_project(tmp_path / "q")
    assert nf("plan", recipe, "--detailed-exitcode").exit_code == 2
    assert nf("plan", recipe).exit_code == 0
    assert nf("run", recipe).exit_code == 0
    quiet = nf("plan", recipe, "--detailed-exitcode")
    assert quiet.exit_code == 0 and "nothing to do: 7 cached" in quiet.stdout
    assert not (tmp_path / "q" / ".nemoflow" / "recipes" / "x").exists()
    bad = recipe.read_text() + '\nask polish = cut "make it pop"\nexport p = polish {\n  save "out/p.mp4"\n}\n'
    recipe.write_text(bad)
    broken = nf("plan", recipe, "--detailed-exitcode")
    assert broken.exit_code == 1
    assert "error    ask.polish" in broken.stdout and "blocked  export.p" in broken.stdout


def test_dry_run_is_the_plan_and_changes_nothing(tmp_path):
    recipe = make_project(tmp_path / "d")
    result = nf("run", recipe, "--dry-run")
    assert result.exit_code == 0
    assert "  run      export.a    not run before" in result.stdout
    assert not (tmp_path / "d" / "out").exists() and not (tmp_path / "d" / ".nemoflow").exists()


def test_clean_removes_only_what_no_current_key_uses(project):
    assert nf("run", project, "--set", "headline=Bye").exit_code == 0  # old edit.cut/export.a/expect.a results are now unused
    dry = nf("clean", project, "--dry-run", "--set", "headline=Bye", "--json")
    removed = {r["step"] for r in json.loads(dry.stdout)["removed"]}
    assert removed == {"edit.cut", "export.a", "expect.a"}
    assert statuses(project)["export.a"] == "restore"  # dry run removed nothing
    done = nf("clean", project, "--set", "headline=Bye")
    assert done.exit_code == 0 and "removed 3 cached results" in done.stdout
    assert set(statuses(project, "--set", "headline=Bye").values()) == {"cached"}
    assert statuses(project)["export.a"] == "run"
    assert (project.parent / "out" / "b.mp4").exists()  # outputs in place are never touched
