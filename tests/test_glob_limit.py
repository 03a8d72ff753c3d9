"""A `**` glob over a huge tree is a diagnostic, found in bounded time, not a walk of the whole file system."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _check(recipe: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "nemoflow", "check", str(recipe)], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def _tree(root: Path, folders: int) -> None:
    for i in range(folders):
        (root / "footage" / f"day{i // 10}" / f"take{i % 10}").mkdir(parents=True, exist_ok=True)
    (root / "footage" / "day0" / "take0" / "a.mp4").write_bytes(b"")


def test_a_glob_over_more_folders_than_the_limit_is_refused_with_where_and_how(tmp_path: Path) -> None:
    _tree(tmp_path, 60)
    recipe = tmp_path / "r.nemo"
    recipe.write_text('nemo 1\nfor clip in glob("footage/**/*.mp4") {\n  edit e = clip {\n    mute\n  }\n}\n')
    done = _check(recipe, NEMOFLOW_MAX_GLOB_FOLDERS="30")
    assert done.returncode == 2, done.stderr
    assert "would search more than 30 folders" in done.stderr
    assert "r.nemo:2:" in done.stderr and "NEMOFLOW_MAX_GLOB_FOLDERS" in done.stderr


def test_the_same_glob_within_the_limit_expands(tmp_path: Path) -> None:
    _tree(tmp_path, 60)
    recipe = tmp_path / "r.nemo"
    recipe.write_text('nemo 1\nfor clip in glob("footage/**/*.mp4") {\n  edit e = clip {\n    mute\n  }\n}\n')
    done = _check(recipe, NEMOFLOW_MAX_GLOB_FOLDERS="100")
    assert "would search" not in done.stderr
    assert "matched no files" not in done.stderr


def test_a_glob_of_the_whole_file_system_stops_at_the_default_limit(tmp_path: Path) -> None:
    """The case that took over 30 s: `/**` stops at the limit (here 2,000; any machine has more folders under /)."""
    recipe = tmp_path / "r.nemo"
    recipe.write_text('nemo 1\nfor clip in glob("/**/*.nemo-nothing") {\n  edit e = clip {\n    mute\n  }\n}\n')
    done = _check(recipe, NEMOFLOW_MAX_GLOB_FOLDERS="2000")
    assert done.returncode == 2
    assert "would search more than 2,000 folders under /" in done.stderr, done.stderr
