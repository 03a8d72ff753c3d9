"""A cache you can trust (issue 15, items 1-3): "cached" means "made from these very inputs", and `.nemoflow/` is untrusted.

1. a source changed while a step ran is never recorded as that step's result;
2. font files (like every file a recipe names) resolve against the recipe, not the current directory;
3. whatever the state directory holds (records, last.json, journals, digests.json, components.json, the lock) is
   validated before use; a damaged or hostile file is a cache miss with a warning, never a crash, and never a write
   outside the paths the recipe names.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from mediagen import make_video
from runnerkit import events, finished, make_project, nf, plan

from nemoflow.core.hashing import sha256_file
from nemoflow.core.model import StepKind
from nemoflow.lang.check import check_file
from nemoflow.plan.digests import DigestMemo
from nemoflow.run import steps as steps_module
from nemoflow.run.workspace import Workspace

TWO_EXPORTS = """nemo 1

media clip = "clip.mp4"

edit cut {
  video clip from 0s to 1s
}

export a = cut {
  size 320x180
  quality draft
  save "out/a.mp4"
}

export b = cut {
  size 320x180
  quality draft
  save "out/b.mp4"
}
"""


def statuses(recipe: Path, *args: str) -> dict[str, str]:
    return {sid: s["status"] for sid, s in plan(recipe, *args).items()}


def notes(result) -> list[str]:
    return [e["message"] for e in events(result) if e["event"] == "note"]


def _old(path: Path) -> None:
    then = time.time() - 3600
    os.utime(path, (then, then))


# -- 1. a source changed during a run ------------------------------------------------------------------------------

def _swap_while(monkeypatch, step_id: str, clip: Path) -> None:
    """While `step_id` runs, the clip is replaced by another one, then the original put back (same inode, size, mtime)."""
    real = steps_module.KINDS[StepKind.EXPORT]

    def swapping(steps, step):
        if step.id != step_id:
            return real(steps, step)
        aside = clip.with_name("clip.orig.mp4")
        os.replace(clip, aside)
        make_video(clip, size=(320, 180), duration=2.0, pattern="smptebars", tone=880)
        try:
            return real(steps, step)
        finally:
            os.replace(aside, clip)

    monkeypatch.setitem(steps_module.KINDS, StepKind.EXPORT, swapping)


@pytest.mark.slow
def test_a_source_swapped_and_restored_during_a_render_is_not_cached(tmp_path, monkeypatch):
    recipe = make_project(tmp_path / "p", TWO_EXPORTS)
    clip = recipe.parent / "clip.mp4"
    before = os.stat(clip)
    _swap_while(monkeypatch, "export.b", clip)
    swapped = nf("run", recipe, "--json", "-j", "1")
    after = os.stat(clip)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert swapped.exit_code == 2, swapped.output
    assert finished(swapped)["export.a"] == "ok"  # finished before the swap: what it read is what its key says
    assert finished(swapped)["export.b"] == "failed"
    assert "clip.mp4 changed while export.b was rendering; its result was not cached; run again" in swapped.stderr
    assert not (recipe.parent / "out" / "b.mp4").exists()  # a file showing the swapped-in clip is not left where b goes
    monkeypatch.undo()

    assert statuses(recipe)["export.b"] == "run"  # not "cached": the next run renders it again
    again = nf("run", recipe, "--json")
    assert again.exit_code == 0, again.output
    assert finished(again)["export.b"] == "ok" and finished(again)["export.a"] == "cached"
    out = recipe.parent / "out"
    assert sha256_file(out / "b.mp4") == sha256_file(out / "a.mp4")  # the same edit, the same settings: the same bytes
    assert set(statuses(recipe).values()) == {"cached"}


@pytest.mark.slow
def test_a_forced_rerun_whose_source_changed_keeps_the_earlier_result(tmp_path, monkeypatch):
    recipe = make_project(tmp_path / "p", TWO_EXPORTS)
    assert nf("run", recipe).exit_code == 0
    good = sha256_file(recipe.parent / "out" / "b.mp4")
    _swap_while(monkeypatch, "export.b", recipe.parent / "clip.mp4")
    forced = nf("run", recipe, "--json", "--force", "export.b")
    assert forced.exit_code == 2 and finished(forced)["export.b"] == "failed"
    monkeypatch.undo()
    assert statuses(recipe)["export.b"] == "restore"  # the record of the good render is still the key's result
    assert nf("run", recipe).exit_code == 0
    assert sha256_file(recipe.parent / "out" / "b.mp4") == good


def test_the_after_check_sees_a_swap_that_keeps_size_mtime_and_inode(tmp_path):
    src = tmp_path / "clip.bin"
    src.write_bytes(b"A" * 1000)
    _old(src)
    memo = DigestMemo(None)
    memo.digest(src)
    assert memo.changed([src]) == []
    aside = tmp_path / "aside.bin"
    os.replace(src, aside)
    src.write_bytes(b"B" * 1000)
    os.replace(aside, src)  # the original is back: same inode, size, mtime and content; only its ctime moved
    assert memo.changed([src]) == [src]


def test_the_after_check_reads_a_file_changed_too_recently_for_its_times_to_tell(tmp_path, monkeypatch):
    src = tmp_path / "fresh.bin"
    src.write_bytes(b"A" * 100)  # written just now: a later change could fall in the same timestamp tick
    memo = DigestMemo(None)
    memo.digest(src)
    st = os.stat(src)
    src.write_bytes(b"B" * 100)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    import nemoflow.plan.digests as digests_module

    real_stat = os.stat
    monkeypatch.setattr(digests_module.os, "stat", lambda p, *a, **k: st if Path(p) == src else real_stat(p, *a, **k))
    assert memo.changed([src]) == [src]  # every time stamp as before, but the bytes are not


def test_the_digest_memo_is_not_fooled_by_content_edited_with_its_mtime_put_back(tmp_path):
    src = tmp_path / "clip.bin"
    src.write_bytes(b"A" * 1000)
    _old(src)
    st = os.stat(src)
    memo_file = tmp_path / "digests.json"
    first = DigestMemo(memo_file)
    old_digest = first.digest(src)
    first.save()
    with open(src, "r+b") as fh:  # edited in place: same inode and size
        fh.write(b"B" * 1000)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the mtime put back, as `touch -r` or a restore tool would
    assert DigestMemo(memo_file).digest(src) == sha256_file(src) != old_digest


# -- 2. relative font paths ----------------------------------------------------------------------------------------

FONT_RECIPE = """nemo 1

media bars = pattern testsrc duration 2s size 320x180 fps 30

edit cut {
  video bars for 1s
  title "Hi" font "fonts/f.ttf" from 0s to 1s
}

export a = cut {
  size 320x180
  quality draft
  save "out/a.mp4"
}
"""


def _fonts() -> tuple[Path, Path]:
    from nemoflow.engines.local.text import bundled_font

    return bundled_font(True), bundled_font(False)


def _font_project(root: Path, font: Path) -> Path:
    (root / "fonts").mkdir(parents=True)
    shutil.copy(font, root / "fonts" / "f.ttf")
    recipe = root / "r.nemo"
    recipe.write_text(FONT_RECIPE, encoding="utf-8")
    return recipe


def test_a_relative_font_is_the_recipes_whatever_the_current_directory(tmp_path, monkeypatch):
    bold, regular = _fonts()
    recipe = _font_project(tmp_path / "p", bold)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "fonts").mkdir(parents=True)
    shutil.copy(regular, elsewhere / "fonts" / "f.ttf")  # a different font at the same relative path from the cwd
    monkeypatch.chdir(elsewhere)
    ws = Workspace(check_file(recipe))
    files = {c.label: c.value for c in ws.keys()["edit.cut"].components if c.part == "file"}
    assert files == {"fonts/f.ttf": sha256_file(recipe.parent / "fonts" / "f.ttf")}  # the key hashes the recipe's font
    with ws.reading() as steps:
        draft = steps.draft("edit.cut")
    fonts = [seg["m"]["style"].get("font") for track in draft.to_json()["t"] if track["tt"] == 7 for seg in track["sg"]]
    assert fonts == [str((recipe.parent / "fonts" / "f.ttf").resolve())]  # and the Draft names that very file


@pytest.mark.slow
def test_a_run_from_another_directory_draws_the_recipes_font(tmp_path, monkeypatch):
    bold, regular = _fonts()
    here = _font_project(tmp_path / "here", bold)
    assert nf("run", here).exit_code == 0  # run from the recipe's own folder's parent: the reference render
    recipe = _font_project(tmp_path / "p", bold)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "fonts").mkdir(parents=True)
    shutil.copy(regular, elsewhere / "fonts" / "f.ttf")
    monkeypatch.chdir(elsewhere)
    result = nf("run", recipe)
    assert result.exit_code == 0, result.output
    assert sha256_file(recipe.parent / "out" / "a.mp4") == sha256_file(here.parent / "out" / "a.mp4")


def test_a_missing_font_file_is_a_check_error_at_the_clause(tmp_path):
    recipe = tmp_path / "r.nemo"
    recipe.write_text(FONT_RECIPE, encoding="utf-8")
    result = nf("check", recipe)
    assert result.exit_code == 2
    assert "font file not found: fonts/f.ttf" in result.stderr and "r.nemo:7:" in result.stderr
    assert str(tmp_path / "fonts" / "f.ttf") in result.stderr


def test_a_font_in_an_included_file_is_relative_to_that_file(tmp_path):
    bold, _ = _fonts()
    (tmp_path / "brand" / "fonts").mkdir(parents=True)
    shutil.copy(bold, tmp_path / "brand" / "fonts" / "f.ttf")
    (tmp_path / "brand" / "brand.nemo").write_text(
        'nemo 1\nmedia bars = pattern testsrc duration 2s size 320x180 fps 30\n'
        'edit branded {\n  video bars for 1s\n  title "Hi" font "fonts/f.ttf"\n}\n', encoding="utf-8")
    recipe = tmp_path / "r.nemo"
    recipe.write_text('nemo 1\ninclude "brand/brand.nemo"\nexport a = branded {\n  save "out/a.mp4"\n}\n', encoding="utf-8")
    ws = Workspace(check_file(recipe))
    files = {c.label: c.value for c in ws.keys()["edit.branded"].components if c.part == "file"}
    assert files == {"brand/fonts/f.ttf": sha256_file(bold)}


def test_the_local_engine_never_opens_a_font_relative_to_the_current_directory(tmp_path, monkeypatch):
    from nemoflow.engines.local.text import drawtext
    from nemoflow.errors import NemoflowError

    bold, _ = _fonts()
    (tmp_path / "fonts").mkdir()
    shutil.copy(bold, tmp_path / "fonts" / "f.ttf")
    monkeypatch.chdir(tmp_path)
    segment = {"st": 0, "d": 1000, "m": {"text": "Hi", "style": {"font": "fonts/f.ttf"}}}
    with pytest.raises(NemoflowError, match="absolute"):
        drawtext(segment, 180)


# -- 3. a tampered or damaged state directory ----------------------------------------------------------------------

@pytest.fixture
def ran(tmp_path):
    """A project two folders down (so `../../` from it is still inside tmp_path), run once."""
    recipe = make_project(tmp_path / "a" / "p")
    first = nf("run", recipe)
    assert first.exit_code == 0, first.output
    return recipe


def _state(recipe: Path) -> Path:
    return recipe.parent / ".nemoflow"


def _record_of(recipe: Path, sid: str) -> Path:
    for path in (_state(recipe) / "store").glob("*/*/record.json"):
        if json.loads(path.read_text())["step"] == sid:
            return path
    raise AssertionError(f"no record for {sid}")


def _nothing_outside(tmp_path: Path, recipe: Path) -> None:
    project = recipe.parent
    for path in tmp_path.rglob("*"):
        assert project in path.parents or path in (project, project.parent) or "nemoflow-config" in str(path), path
    assert not list(tmp_path.parent.glob("PWNED*"))


@pytest.mark.slow
def test_a_record_pointing_outside_the_project_writes_nothing_there(ran, tmp_path):
    record_file = _record_of(ran, "export.a")
    record = json.loads(record_file.read_text())
    payload = b"#!/bin/sh\necho pwned\n"
    obj = record_file.parent / record["outputs"][0]["object"]
    obj.unlink()  # the stored copy is a hard link to out/a.mp4: replace it, do not write through it
    obj.write_bytes(payload)
    record["outputs"][0].update(path="../../PWNED.sh", sha256=sha256_file(obj), size=len(payload))
    record_file.write_text(json.dumps(record))
    (ran.parent / "out" / "a.mp4").unlink()  # so that the run wants to put it back

    result = nf("run", ran, "--json")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "PWNED.sh").exists()
    _nothing_outside(tmp_path, ran)
    assert finished(result)["export.a"] == "ok"  # rendered again, to the recipe's path
    out = ran.parent / "out" / "a.mp4"
    assert out.read_bytes()[:len(payload)] != payload
    assert any("record.json" in n and "export.a" in n for n in notes(result)), notes(result)
    assert set(statuses(ran).values()) == {"cached"}


@pytest.mark.slow
def test_a_record_whose_object_points_outside_the_store_is_not_restored(ran, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    record_file = _record_of(ran, "export.a")
    record = json.loads(record_file.read_text())
    rel = os.path.relpath(secret, record_file.parent)
    record["outputs"][0].update(object=rel, sha256=sha256_file(secret), size=secret.stat().st_size)
    record_file.write_text(json.dumps(record))
    out = ran.parent / "out" / "a.mp4"
    out.unlink()
    result = nf("run", ran, "--json")
    assert result.exit_code == 0, result.output
    assert finished(result)["export.a"] == "ok"
    assert b"top secret" not in out.read_bytes()


@pytest.mark.slow
def test_a_store_object_that_is_a_symlink_is_not_restored(ran, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    record_file = _record_of(ran, "export.a")
    record = json.loads(record_file.read_text())
    obj = record_file.parent / record["outputs"][0]["object"]
    obj.unlink()
    obj.symlink_to(secret)
    record["outputs"][0].update(sha256=sha256_file(secret), size=secret.stat().st_size)
    record_file.write_text(json.dumps(record))
    out = ran.parent / "out" / "a.mp4"
    out.unlink()
    result = nf("run", ran, "--json")
    assert result.exit_code == 0, result.output
    assert b"top secret" not in out.read_bytes()


BAD_JSON = {
    "torn": '{"key": "',
    "list": "[1, 2, 3]",
    "number": "12",
    "wrong types": None,  # filled per file
    "deep": "[" * 100_000 + "]" * 100_000,
    "not utf-8": b"\xff\xfe{",
}


def _write(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(value, bytes):
        path.write_bytes(value)
    else:
        path.write_text(value if isinstance(value, str) else json.dumps(value))


WRONG_TYPES = {
    "record": lambda rec: {**rec, "outputs": {"path": 5}},
    "record-path-number": lambda rec: {**rec, "outputs": [{**rec["outputs"][0], "path": 5}]} if rec["outputs"] else {**rec, "result": []},
    "record-checks": lambda rec: {**rec, "result": {"checks": [{"step": "x", "ok": "yes"}]}},
    "last": lambda _: {"format": 1, "steps": {"export.a": {"key": 5, "status": ["ok"]}}},
    "digests": lambda _: {"format": 2, "files": {"/x": ["a", "b", "c", "d", "e", 5]}},
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in BAD_JSON if k != "wrong types"])
def test_damaged_state_files_are_cache_misses_never_crashes(ran, kind):
    state = _state(ran)
    targets = [_record_of(ran, "export.a"), _record_of(ran, "expect.a"), state / "digests.json",
               *state.glob("recipes/*/last.json")]
    for path in targets:
        _write(path, BAD_JSON[kind])
    assert nf("plan", ran).exit_code in (0, 1)
    result = nf("run", ran, "--json", "--overwrite")  # with its record gone, out/a.mp4 is no longer known as nemoflow's
    assert result.exit_code == 0, result.output
    assert finished(result)["export.a"] == "ok" and finished(result)["expect.a"] == "ok"
    assert set(statuses(ran).values()) == {"cached"}


@pytest.mark.slow
def test_wrong_type_state_files_are_ignored_with_a_warning(ran):
    state = _state(ran)
    for sid in ("export.a", "media.clip", "expect.a"):
        path = _record_of(ran, sid)
        record = json.loads(path.read_text())
        key = "record-checks" if sid == "expect.a" else "record-path-number" if sid == "export.a" else "record"
        _write(path, WRONG_TYPES[key](record))
    (last,) = state.glob("recipes/*/last.json")
    _write(last, WRONG_TYPES["last"](None))
    _write(state / "digests.json", WRONG_TYPES["digests"](None))
    planned = nf("plan", ran)
    assert planned.exit_code == 0, planned.output
    for name in ("record.json", "last.json", "digests.json"):
        assert f"warning: ignored {ran.parent}" in planned.stderr and name in planned.stderr
    result = nf("run", ran, "--json", "--overwrite")
    assert result.exit_code == 0, result.output
    assert {finished(result)[s] for s in ("export.a", "media.clip", "expect.a")} == {"ok"}
    said = " ".join(notes(result))
    assert "record.json" in said and "last.json" in said  # (plan rewrote digests.json whole)
    assert set(statuses(ran).values()) == {"cached"}


@pytest.mark.slow
def test_a_hostile_journal_is_read_without_crashing(ran):
    (journal_dir,) = _state(ran).glob("recipes/*/journal")
    lines = [
        json.dumps({"event": "run-started", "run": ["x"], "pid": "me", "t": 5}),
        json.dumps([1, 2]),
        "12",
        json.dumps({"event": "step-started", "step": ["export.a"], "key": {"k": 1}}),
        json.dumps({"event": "step-finished", "step": {"a": 1}, "status": 3}),
        json.dumps({"event": "step-started", "step": "export.b", "key": "0" * 64, "t": "2024-01-01T00:00:00"}),
        '{"event": "step-fin',
    ]
    (journal_dir / "zzzz-hostile.jsonl").write_text("\n".join(lines))  # sorts last: the journal of a "killed" run
    result = nf("run", ran, "--json")
    assert result.exit_code == 0, result.output
    assert any("killed" in n for n in notes(result))
    assert any("journal" in n and "zzzz-hostile.jsonl" in n for n in notes(result)), notes(result)


def test_damaged_components_do_not_break_explain(ran):
    for path in (_state(ran) / "store").glob("*/*/record.json"):
        record = json.loads(path.read_text())
        _write(path, {**record, "components": [{"part": "file", "label": 5}]})
        _write(path.with_name("components.json"), "[" * 50_000)
    result = nf("explain", ran, "export.a", "--set", "headline=Bye")
    assert result.exit_code == 0, result.output


def test_a_lock_info_of_the_wrong_type_is_ignored(ran):
    (recipe_state,) = _state(ran).glob("recipes/*")
    _write(recipe_state / "lock.json", [1, 2, 3])  # the trace of a dead run, but not what nemoflow writes
    result = nf("run", ran)
    assert result.exit_code == 0, result.output


def test_a_held_lock_with_a_wrong_type_lock_info_is_still_a_clear_error(ran):
    import fcntl

    (recipe_state,) = _state(ran).glob("recipes/*")
    _write(recipe_state / "lock.json", [1, 2, 3])
    with open(recipe_state / "lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run holds it
        result = nf("run", ran)
    assert result.exit_code == 2
    assert "another nemoflow run is using this recipe's state (process ? on ?" in result.stderr


def test_a_lock_path_that_is_a_directory_is_a_clear_error(ran):
    (recipe_state,) = _state(ran).glob("recipes/*")
    lock = recipe_state / "lock"
    if lock.exists():
        lock.unlink()
    lock.mkdir()
    result = nf("run", ran)
    assert result.exit_code == 2, result.output
    assert str(lock) in result.stderr and "is a directory" in result.stderr and "remove it" in result.stderr


def test_the_state_schema_is_a_valid_schema_and_fits_what_nemoflow_writes(ran):
    import jsonschema

    from nemoflow.core.untrusted import problem
    from nemoflow.resources import resource_path

    schema = json.loads(resource_path("schemas/state.schema.json").read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)
    state = _state(ran)
    written = {"record": list((state / "store").glob("*/*/record.json")),
               "components": list((state / "store").glob("*/*/components.json")),
               "last": list(state.glob("recipes/*/last.json")), "digests": [state / "digests.json"]}
    assert all(written.values()), written
    for definition, paths in written.items():
        for path in paths:
            assert problem(json.loads(path.read_text()), definition) is None, path
    for path in state.glob("recipes/*/journal/*.jsonl"):
        for line in path.read_text().splitlines():
            assert problem(json.loads(line), "journal-event") is None, line
