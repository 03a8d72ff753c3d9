"""Where outputs may go and what they may replace (issue 15, item 4), includes that are not recipes, CLI file arguments.

A recipe is shared in git, so it may write only under its own folder unless the person running it says otherwise
(`--allow-outside`, `[run] output_root`); an existing file nemoflow did not write is never replaced without
`--overwrite`; unusable destinations are exit-2 errors before anything renders.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from runnerkit import events, finished, nf

from nemoflow.core.diagnostics import RecipeError
from nemoflow.core.hashing import sha256_file
from nemoflow.lang.check import check_file
from nemoflow.run.workspace import Workspace

RECIPE = """nemo 1
media bars = pattern testsrc duration 1s size 160x90 fps 10
edit cut {{
  video bars
  title "{title}" from 0s to 1s
}}
export final = cut {{
  size 160x90
  quality draft
  save "{save}"
}}
"""


def project(root: Path, save: str = "out/final.mp4", title: str = "Hi") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    recipe = root / "r.nemo"
    recipe.write_text(RECIPE.format(save=save, title=title), encoding="utf-8")
    return recipe


def save_position(recipe: Path) -> str:
    """`FILE:LINE:COL` of the save path's string, as diagnostics give it."""
    for number, line in enumerate(recipe.read_text().splitlines(), 1):
        if line.strip().startswith("save "):
            return f"{recipe}:{number}:{line.index('save') + 6}"
    raise AssertionError("no save")


def codes_of(recipe: Path, *args: str) -> list[str]:
    """The diagnostic codes `check --json` gives."""
    import json

    result = nf("check", recipe, "--json", *args)
    return [d["code"] for f in json.loads(result.stdout)["files"] for d in f["diagnostics"]]


def started(result) -> set[str]:
    return {e["step"] for e in events(result) if e["event"] == "step-started"}


# ---- A. outputs stay under the recipe's folder ------------------------------------------------------------------

def _outside_cases(tmp_path: Path, monkeypatch) -> dict[str, tuple[str, Path]]:
    """save text → where it would land, each outside the project folder tmp_path/p."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "p").mkdir()
    os.symlink(elsewhere, tmp_path / "p" / "linked")
    return {
        "parent": ("../x.mp4", tmp_path / "x.mp4"),
        "absolute": (str(elsewhere / "abs.mp4"), elsewhere / "abs.mp4"),
        "home": ("~/x.mp4", home / "x.mp4"),
        "symlink": ("linked/x.mp4", elsewhere / "x.mp4"),
    }


@pytest.mark.parametrize("case", ["parent", "absolute", "home", "symlink"])
def test_a_save_outside_the_recipe_folder_is_refused_at_check_and_run(tmp_path, monkeypatch, case):
    save, lands = _outside_cases(tmp_path, monkeypatch)[case]
    recipe = project(tmp_path / "p", save)
    for command in ("check", "run", "plan"):
        result = nf(command, recipe)
        assert result.exit_code == 2, (command, result.output)
        text = result.stderr
        assert save_position(recipe) in text
        assert str(lands) in text
        assert "--allow-outside" in text and "output_root" in text
        assert "Traceback" not in text
    assert codes_of(recipe) == ["E332"]
    assert not lands.exists()
    assert not (tmp_path / "p" / ".nemoflow").exists()  # refused before a run even started


def test_an_absolute_save_inside_the_folder_is_still_refused_as_machine_specific(tmp_path):
    recipe = project(tmp_path / "p", str(tmp_path / "p" / "out" / "final.mp4"))
    result = nf("check", recipe)
    assert result.exit_code == 2 and codes_of(recipe) == ["E332"]
    assert 'save "out/final.mp4"' in result.stderr  # the portable way to write it


def test_allow_outside_lets_run_write_there(tmp_path):
    recipe = project(tmp_path / "p", "../x.mp4")
    assert nf("check", recipe, "--allow-outside").exit_code == 0
    result = nf("run", recipe, "--allow-outside")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.mp4").stat().st_size > 0


@pytest.mark.parametrize("how", ["config", "env"])
def test_output_root_lets_outputs_go_under_it(tmp_path, monkeypatch, how):
    renders = tmp_path / "renders"
    recipe = project(tmp_path / "p", str(renders / "final.mp4"))
    if how == "config":
        Path(os.environ["NEMOFLOW_CONFIG"]).write_text(f'[run]\noutput_root = "{renders}"\n', encoding="utf-8")
    else:
        monkeypatch.setenv("NEMOFLOW_OUTPUT_ROOT", str(renders))
    result = nf("run", recipe)
    assert result.exit_code == 0, result.output
    assert (renders / "final.mp4").is_file()
    beside = project(tmp_path / "q", str(tmp_path / "other" / "final.mp4"))  # the root allows that folder, no other
    assert nf("check", beside).exit_code == 2


def test_output_root_relative_to_the_recipe(tmp_path):
    Path(os.environ["NEMOFLOW_CONFIG"]).write_text('[run]\noutput_root = "../renders"\n', encoding="utf-8")
    recipe = project(tmp_path / "p", "../renders/final.mp4")
    assert nf("check", recipe).exit_code == 0


def test_a_bad_output_root_setting_is_a_config_error(tmp_path):
    Path(os.environ["NEMOFLOW_CONFIG"]).write_text("[run]\noutput_root = 3\n", encoding="utf-8")
    result = nf("check", project(tmp_path / "p"))
    assert result.exit_code == 2 and "output_root" in result.stderr


def test_a_symlink_made_after_check_is_caught_before_rendering(tmp_path):
    """The runner checks again at run start: a library caller, or a folder swapped for a link since `check`."""
    recipe = project(tmp_path / "p")
    checked = check_file(recipe)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "p" / "out")
    ws = Workspace(checked)
    with pytest.raises(Exception) as caught:
        ws.run([])
    assert getattr(caught.value, "exit_code", None) == 2
    assert str(elsewhere / "final.mp4") in str(caught.value) and "--allow-outside" in str(caught.value)
    assert "r.nemo:" in str(caught.value)
    assert list(elsewhere.iterdir()) == []


# ---- A. nothing nemoflow did not write is replaced --------------------------------------------------------------

def test_an_existing_file_nemoflow_did_not_write_is_never_replaced(tmp_path):
    recipe = project(tmp_path / "p", "precious/wedding.mp4")
    wedding = tmp_path / "p" / "precious" / "wedding.mp4"
    wedding.parent.mkdir()
    wedding.write_bytes(b"the only copy" * 1000)
    result = nf("run", recipe, "--json")
    assert result.exit_code == 2
    assert "precious/wedding.mp4" in result.stderr and "--overwrite" in result.stderr
    assert wedding.read_bytes() == b"the only copy" * 1000
    assert not started(result)  # refused before anything rendered
    assert [p.name for p in wedding.parent.iterdir()] == ["wedding.mp4"]
    replaced = nf("run", recipe, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert wedding.read_bytes()[:4] != b"the "


def test_nemoflow_replaces_what_it_wrote_itself(tmp_path):
    recipe = project(tmp_path / "p")
    out = tmp_path / "p" / "out" / "final.mp4"
    assert nf("run", recipe).exit_code == 0
    first = sha256_file(out)
    recipe.write_text(RECIPE.format(save="out/final.mp4", title="Bye"), encoding="utf-8")
    again = nf("run", recipe, "--json")
    assert again.exit_code == 0 and finished(again)["export.final"] == "ok"
    assert sha256_file(out) != first
    recipe.write_text(RECIPE.format(save="out/final.mp4", title="Hi"), encoding="utf-8")
    back = nf("run", recipe, "--json")  # an earlier output of this path, put back from the cache
    assert back.exit_code == 0 and finished(back)["export.final"] == "restored"
    assert sha256_file(out) == first


def test_an_output_edited_by_hand_is_kept_unless_overwrite(tmp_path):
    recipe = project(tmp_path / "p")
    out = tmp_path / "p" / "out" / "final.mp4"
    assert nf("run", recipe).exit_code == 0
    with open(out, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\0" * 64)
    edited = sha256_file(out)
    refused = nf("run", recipe)
    assert refused.exit_code == 2 and "out/final.mp4" in refused.stderr and "--overwrite" in refused.stderr
    assert sha256_file(out) == edited
    assert nf("run", recipe, "--overwrite").exit_code == 0
    assert sha256_file(out) != edited


def test_after_the_state_is_deleted_existing_outputs_need_overwrite(tmp_path):
    import shutil

    recipe = project(tmp_path / "p")
    assert nf("run", recipe).exit_code == 0
    shutil.rmtree(tmp_path / "p" / ".nemoflow")
    result = nf("run", recipe)
    assert result.exit_code == 2 and "--overwrite" in result.stderr
    assert nf("run", recipe, "--overwrite").exit_code == 0


def test_a_run_killed_after_writing_its_output_may_replace_it_next_time(tmp_path):
    """The killed run's journal says it was writing that export: what is at its path is nemoflow's."""
    import json
    import shutil

    recipe = project(tmp_path / "p")
    assert nf("run", recipe).exit_code == 0
    state = tmp_path / "p" / ".nemoflow"
    key = json.loads(next((state / "store").glob("*/*/record.json")).read_text())["key"]
    shutil.rmtree(state / "store")  # as if the kill came after the rename, before the record
    (journal,) = (state / "recipes").glob("*/journal")
    for old in journal.iterdir():
        old.unlink()
    run = "20000101T000000-dead"
    (journal / f"{run}.jsonl").write_text(
        json.dumps({"event": "run-started", "run": run, "pid": 1, "t": "2000-01-01T00:00:00"}) + "\n"
        + json.dumps({"event": "step-started", "run": run, "step": "export.final", "key": key, "t": "2000-01-01T00:00:01"})
        + "\n", encoding="utf-8")
    assert (tmp_path / "p" / "out" / "final.mp4").exists()
    result = nf("run", recipe, "--json")
    assert result.exit_code == 0, result.output
    assert finished(result)["export.final"] == "ok"


# ---- A. destinations that cannot be written ---------------------------------------------------------------------

def test_proc_is_refused_cleanly(tmp_path):
    recipe = project(tmp_path / "p", "/proc/self/x.mp4")
    result = nf("run", recipe, "--allow-outside", "--json")
    assert result.exit_code == 2, result.output
    assert "/proc/" in result.stderr and "internal error" not in result.stderr
    assert not started(result)


def test_a_parent_that_is_a_file_is_refused_before_rendering(tmp_path):
    recipe = project(tmp_path / "p", "notes/final.mp4")
    (tmp_path / "p" / "notes").write_text("a file, not a folder")
    result = nf("run", recipe, "--json")
    assert result.exit_code == 2, result.output
    assert "notes" in result.stderr and "not a folder" in result.stderr and "internal error" not in result.stderr
    assert not started(result)


def test_a_destination_that_is_a_folder_is_refused(tmp_path):
    recipe = project(tmp_path / "p")
    (tmp_path / "p" / "out" / "final.mp4").mkdir(parents=True)
    result = nf("run", recipe)
    assert result.exit_code == 2 and "directory" in result.stderr


def test_a_destination_that_becomes_a_folder_after_check_is_refused_before_rendering(tmp_path):
    recipe = project(tmp_path / "p")
    checked = check_file(recipe)
    (tmp_path / "p" / "out" / "final.mp4").mkdir(parents=True)
    with pytest.raises(Exception) as caught:
        Workspace(checked).run([])
    assert getattr(caught.value, "exit_code", None) == 2 and "folder" in str(caught.value)


@contextlib.contextmanager
def read_only_folder(path: Path):
    """`path` (made if missing, contents kept) as a folder this process cannot write: chmod for ordinary users; for root,
    who may write anywhere, a read-only bind mount of the folder onto itself."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    bound = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, check=False)
    if bound.returncode != 0:
        pytest.skip("running as root and cannot mount a read-only folder here")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True, check=False).returncode != 0:
            pytest.skip("running as root and cannot remount a folder read-only here")
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_a_read_only_output_folder_is_refused_before_rendering(tmp_path):
    recipe = project(tmp_path / "p")
    with read_only_folder(tmp_path / "p" / "out"):
        result = nf("run", recipe, "--json")
    assert result.exit_code == 2, result.output
    assert "out" in result.stderr and "cannot write" in result.stderr and "internal error" not in result.stderr
    assert not started(result)


def test_fmt_of_a_recipe_in_a_read_only_folder_is_a_user_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    recipe = folder / "r.nemo"
    recipe.write_text("nemo 1\nmedia   bars = pattern bars duration 1s\n", encoding="utf-8")
    with read_only_folder(folder):
        result = nf("fmt", recipe)
        assert result.exit_code == 2, result.output
        assert str(recipe) in result.stderr and "cannot write" in result.stderr
        assert list(folder.iterdir()) == [recipe]


# ---- B. includes that are not recipes ---------------------------------------------------------------------------

def _include(tmp_path: Path, what: str) -> Path:
    recipe = tmp_path / "r.nemo"
    recipe.write_text(f'nemo 1\ninclude "{what}"\nmedia bars = pattern bars duration 1s\n', encoding="utf-8")
    return recipe


@pytest.mark.parametrize("content", [b"root:x:0:0:SECRET-LINE:/root:/bin/bash\nmore SECRET-LINE\n",
                                     b"\xff\xfeSECRET-LINE binary \x00\x01",
                                     b"# a comment\nSECRET-LINE = 1\n"], ids=["text", "binary", "commented"])
def test_including_a_file_that_is_not_a_recipe_never_shows_its_content(tmp_path, content):
    (tmp_path / "passwd").write_bytes(content)
    recipe = _include(tmp_path, "passwd")
    result = nf("check", recipe)
    assert result.exit_code == 2
    assert "SECRET-LINE" not in result.output
    assert "not a nemoflow recipe" in result.stderr and "r.nemo:2:9" in result.stderr
    as_json = nf("check", recipe, "--json")
    assert "SECRET-LINE" not in as_json.output and codes_of(recipe) == ["E209"]


def test_including_etc_passwd_shows_none_of_it(tmp_path):
    if not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd")
    first = Path("/etc/passwd").read_text().splitlines()[0]
    recipe = _include(tmp_path, "/etc/passwd")
    result = nf("check", recipe)
    assert result.exit_code == 2 and first not in result.output and codes_of(recipe) == ["E209"]


def test_including_a_device_says_it_is_not_a_recipe(tmp_path):
    recipe = _include(tmp_path, "/dev/zero")
    result = nf("check", recipe)
    assert result.exit_code == 2 and codes_of(recipe) == ["E209"] and "did you mean" not in result.stderr


def test_including_a_directory_says_so(tmp_path):
    (tmp_path / "sub").mkdir()
    recipe = _include(tmp_path, "sub")
    result = nf("check", recipe)
    assert result.exit_code == 2 and codes_of(recipe) == ["E208"]
    assert "sub is a directory" in result.stderr and "did you mean" not in result.stderr


def test_an_included_recipe_with_a_syntax_error_is_still_quoted(tmp_path):
    (tmp_path / "part.nemo").write_text('nemo 1\nmedia a = "a.mp4" ;\n', encoding="utf-8")
    result = nf("check", _include(tmp_path, "part.nemo"))
    assert result.exit_code == 2 and 'media a = "a.mp4" ;' in result.stderr


def test_the_include_error_codes_have_honest_examples():
    from nemoflow.core import codes

    assert codes.INCLUDE_IS_DIRECTORY.id == "E208" and codes.INCLUDE_NOT_RECIPE.id == "E209"
    assert codes.SAVE_OUTSIDE.id == "E332"


# ---- C. CLI file arguments --------------------------------------------------------------------------------------

def test_junit_given_a_folder_is_a_user_error_before_running(tmp_path):
    recipe = project(tmp_path / "p")
    (tmp_path / "reports").mkdir()
    result = nf("run", recipe, "--junit", tmp_path / "reports", "--json")
    assert result.exit_code == 2, result.output
    assert "--junit" in result.stderr and "Traceback" not in result.stderr
    assert not started(result)


@pytest.mark.parametrize("where", ["file-parent", "proc"])
def test_junit_in_a_place_that_cannot_be_written_is_a_user_error(tmp_path, where):
    recipe = project(tmp_path / "p")
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "report.xml" if where == "file-parent" else Path("/proc/self/report.xml")
    result = nf("run", recipe, "--junit", target, "--json")
    assert result.exit_code == 2, result.output
    assert "--junit" in result.stderr and "internal error" not in result.stderr
    assert not started(result)


def test_junit_into_a_new_folder_still_works(tmp_path):
    recipe = project(tmp_path / "p")
    result = nf("run", recipe, "--junit", tmp_path / "reports" / "deep" / "n.xml")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "deep" / "n.xml").read_text().startswith("<?xml")


def test_a_junit_report_that_cannot_be_written_after_the_run_is_a_user_error(tmp_path):
    """Checked before the run, but the place can still change: the write itself fails as one line, exit 2, no temporary left."""
    recipe = project(tmp_path / "p")
    report = tmp_path / "n.xml"
    (tmp_path / f".n.xml.{os.getpid()}.tmp").mkdir()  # where the report's temporary would go (in-process: same pid)
    result = nf("run", recipe, "--junit", report)
    assert result.exit_code == 2, result.output
    assert "cannot write the report" in result.stderr and "internal error" not in result.stderr
    assert not report.exists()


def test_cli_errors_for_file_arguments_in_a_real_process(tmp_path):
    recipe = project(tmp_path / "p")
    (tmp_path / "reports").mkdir()
    out = subprocess.run([sys.executable, "-m", "nemoflow.cli", "run", str(recipe), "--junit", str(tmp_path / "reports")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "internal error" not in out.stderr


# ---- docs ----------------------------------------------------------------------------------------------------------

def test_run_help_tells_where_outputs_go():
    text = nf("run", "--help").stdout
    assert "--allow-outside" in text and "--overwrite" in text and "output_root" in text


def test_check_recipe_error_is_a_recipe_error_for_library_callers(tmp_path):
    with pytest.raises(RecipeError) as caught:
        check_file(project(tmp_path / "p", "../x.mp4"))
    assert [d.code for d in caught.value.diagnostics] == ["E332"]
