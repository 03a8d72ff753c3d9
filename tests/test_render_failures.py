"""When a render cannot happen or is stopped: one clear paragraph, a non-zero exit, and no half-written file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mediagen import make_video

RECIPE = """nemo 1
media a = "{src}"
edit cut {{
  video a
  grade warm
}}
export out = cut {{
  size 320x180
  save "out/final.mp4"
}}
"""


def nemoflow(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nemoflow.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and ".partial" in p.name]


def test_ffmpeg_failure_is_reported_with_its_stderr_and_leaves_nothing(tmp_path):
    src = make_video(tmp_path / "a.mp4", duration=1)
    fake = tmp_path / "fake-ffmpeg"
    fake.write_text("#!/bin/sh\necho 'banner noise' >&2\necho '[libx264 @ 0x1] Error: the encoder exploded' >&2\nexit 1\n")
    fake.chmod(0o755)
    (tmp_path / "r.nemo").write_text(RECIPE.format(src=src))
    result = nemoflow("run", str(tmp_path / "r.nemo"), env={"NEMOFLOW_FFMPEG": str(fake)})
    assert result.returncode == 1
    assert "FFmpeg failed while rendering export.out (exit code 1)" in result.stderr
    assert "the encoder exploded" in result.stderr and "banner noise" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "final.mp4").exists() and not leftovers(tmp_path)


def test_unusable_ffmpeg_setting_is_a_user_error(tmp_path):
    src = make_video(tmp_path / "a.mp4", duration=1)
    (tmp_path / "r.nemo").write_text(RECIPE.format(src=src))
    result = nemoflow("run", str(tmp_path / "r.nemo"), env={"NEMOFLOW_FFMPEG": str(tmp_path / "nope")})
    assert result.returncode == 2
    assert "is not an executable file" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_kills_ffmpeg_and_leaves_no_partial_file(tmp_path):
    text = ("nemo 1\nmedia a = pattern mandelbrot duration 60s size 1080p fps 30\n"
            "edit cut {\n  video a\n}\nexport out = cut {\n  size 1080p\n  save \"out/final.mp4\"\n}\n")
    (tmp_path / "r.nemo").write_text(text)
    proc = subprocess.Popen([sys.executable, "-m", "nemoflow.cli", "run", str(tmp_path / "r.nemo")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not leftovers(tmp_path) or not any(p.stat().st_size for p in leftovers(tmp_path)):
        assert time.monotonic() < deadline, "the render never started writing"
        time.sleep(0.05)
    children = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "final.mp4").exists()
    assert not leftovers(tmp_path)
    time.sleep(0.2)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists() and "ffmpeg" in _cmdline(pid)]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_corrupt_media_fails_before_any_render(tmp_path):
    good = make_video(tmp_path / "good.mp4", duration=1)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = (f'nemo 1\nmedia good = "{good}"\nmedia bad = "{bad}"\nedit cut {{\n  video good\n  video bad\n}}\n'
            'export out = cut {\n  size 320x180\n  save "out/final.mp4"\n}\n')
    (tmp_path / "r.nemo").write_text(text)
    before = bad.read_bytes()
    result = nemoflow("run", str(tmp_path / "r.nemo"))
    assert result.returncode == 2
    assert str(bad) in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert bad.read_bytes() == before  # source media is never modified


def test_an_ask_the_local_engine_cannot_map_says_what_to_do(tmp_path):
    src = make_video(tmp_path / "a.mp4", duration=1)
    text = (f'nemo 1\nmedia a = "{src}"\nedit cut {{\n  video a\n}}\nask polish = cut "color grade and make it pop"\n'
            'export out = polish {\n  save "out.mp4"\n}\n')
    (tmp_path / "r.nemo").write_text(text)
    result = nemoflow("run", str(tmp_path / "r.nemo"))
    assert result.returncode == 2
    assert "r.nemo:6:35" in result.stderr and "“make it pop”" in result.stderr and "nemo engine" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out.mp4").exists()
