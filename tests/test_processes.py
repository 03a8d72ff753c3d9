"""Child processes die with nemoflow, and a killed run's work directories do not outlive the next run (issue 15, item 5).

The kill tests are real: a `nemoflow run` (or a small Python program using run_ffmpeg from a worker thread, as the
runner does) is started, its FFmpeg found among its children in /proc, the parent killed with SIGKILL, and the FFmpeg
polled until it is gone. No test measures time: the deadlines are only there so that a failure cannot hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mediagen import make_video

from nemoflow.media import workdir

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")

DEADLINE = 60.0  # seconds a poll may wait before the test fails (never reached when things work)

# A render far longer than any deadline here: if its FFmpeg survived the kill, it would still be encoding.
LONG = textwrap.dedent("""\
    nemo 1
    media a = pattern mandelbrot duration 1200s size 320x180 fps 30
    edit cut {
      video a
    }
    export slow = cut {
      size 320x180
      save "out/slow.mp4"
    }
    """)

# Plain cuts of an H.264 file at its own size and rate: the export goes through the smart cut.
CUT = textwrap.dedent("""\
    nemo 1
    media clip = "clip.mp4"
    edit cut {
      video clip from 0.5s to 119.5s
    }
    export e = cut {
      size 320x180
      save "out/e.mp4"
    }
    """)


# -- /proc ---------------------------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0")).decode(errors="replace").split("\0")
    except OSError:
        return []


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan may stay a zombie until init reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for_child(parent: subprocess.Popen, wanted) -> int:
    """The pid of the first child of `parent` whose command line satisfies `wanted`."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        assert parent.poll() is None, f"the parent ended (exit {parent.returncode}) before starting the child"
        for child in _children(parent.pid):
            if wanted(_cmdline(child)):
                return child
        time.sleep(0.01)
    raise AssertionError("the child never started")


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + DEADLINE
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _kill_and_check(parent: subprocess.Popen, child: int) -> None:
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=DEADLINE)
    try:
        assert _gone(child), f"FFmpeg {child} outlived the kill -9 of its parent: {' '.join(_cmdline(child))[:200]}"
    finally:
        if _running(child):
            os.kill(child, signal.SIGKILL)


def _is_ffmpeg(cmd: list[str]) -> bool:
    return bool(cmd) and "ffmpeg" in Path(cmd[0]).name and "-progress" in cmd


# -- FFmpeg dies with its parent ---------------------------------------------------------------------------------

def test_ffmpeg_started_on_a_worker_thread_dies_with_the_process(tmp_path):
    """The runner starts FFmpeg on pool threads; the parent-death signal must still fire when the process is killed."""
    program = tmp_path / "worker.py"
    program.write_text(textwrap.dedent("""\
        from concurrent.futures import ThreadPoolExecutor
        from nemoflow.media.ffmpeg import run_ffmpeg

        args = ["-f", "lavfi", "-i", "mandelbrot=s=320x180:r=30", "-t", "3600", "-f", "null", "-"]
        with ThreadPoolExecutor(2) as pool:
            pool.submit(run_ffmpeg, args, what="test").result()
        """), encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = _wait_for_child(parent, _is_ffmpeg)
    _kill_and_check(parent, child)


def test_a_thread_that_ends_after_its_ffmpeg_leaves_the_others_running(tmp_path):
    """PDEATHSIG is tied to the forking thread: one short job on another thread ending must not kill a long one."""
    program = tmp_path / "two.py"
    program.write_text(textwrap.dedent("""\
        import threading
        from nemoflow.media.ffmpeg import run_ffmpeg

        short = threading.Thread(target=run_ffmpeg, args=(["-f", "lavfi", "-i", "color=s=16x16", "-t", "0.1", "-f", "null", "-"],),
                                 kwargs={"what": "short"})
        short.start()
        short.join()
        print("short done", flush=True)
        run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x36:r=30", "-t", "2", "-f", "null", "-"], what="long")
        print("long done", flush=True)
        """), encoding="utf-8")
    done = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["short done", "long done"]


@pytest.mark.slow
@pytest.mark.parametrize("split", ["--no-split", "--split"])
def test_kill_9_of_a_run_kills_its_render(tmp_path, split):
    """`kill -9` of `nemoflow run` mid-render: its FFmpeg must die with it, not encode 20 minutes of video to the end;
    in one piece or in segments (a 20-minute export is split unless told not to be)."""
    recipe = tmp_path / "r.nemo"
    recipe.write_text(LONG, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, "-m", "nemoflow", "run", str(recipe), "--json", split], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = _wait_for_child(parent, lambda cmd: _is_ffmpeg(cmd) and (split == "--split" or any(".partial" in a for a in cmd)))
    _kill_and_check(parent, child)


# -- work directories ----------------------------------------------------------------------------------------------

def test_a_live_work_dir_is_kept_and_a_dead_ones_is_reaped(tmp_path):
    """Reaping takes the directory's lock: held by a living owner it is skipped; once the owner is gone it is removed."""
    with workdir.work_dir(tmp_path, "test") as live:
        (live / "data").write_bytes(b"x" * 1000)
        assert workdir.reap(tmp_path) == 0
        assert live.is_dir()
    assert not live.exists()
    dead = tmp_path / f"{workdir.PREFIX}smartcut.abcd1234"  # what a killed run leaves: nobody holds its lock
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "video.mp4").write_bytes(b"x" * 1000)
    other = tmp_path / "somebody-elses"
    other.mkdir()
    assert workdir.reap(tmp_path) == 1
    assert not dead.exists() and other.is_dir()


def test_a_work_dir_held_by_another_process_is_not_reaped(tmp_path):
    program = tmp_path / "hold.py"
    area = tmp_path / "area"
    program.write_text(textwrap.dedent(f"""\
        import sys
        from pathlib import Path
        from nemoflow.media import workdir

        with workdir.work_dir(Path({str(area)!r}), "held") as path:
            print(path, flush=True)
            sys.stdin.read()
        """), encoding="utf-8")
    holder = subprocess.Popen([sys.executable, str(program)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        held = Path(holder.stdout.readline().strip())
        assert held.is_dir()
        assert workdir.reap(area) == 0 and held.is_dir()
        os.kill(holder.pid, signal.SIGKILL)  # a killed owner: the kernel drops its lock, the directory stays behind
        holder.wait(timeout=DEADLINE)
        assert held.is_dir()
        assert workdir.reap(area) == 1 and not held.exists()
    finally:
        if holder.poll() is None:
            holder.kill()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", duration=120.0, gop=30)


def _project(tmp_path: Path, clip: Path) -> Path:
    (tmp_path / "clip.mp4").write_bytes(clip.read_bytes())
    recipe = tmp_path / "r.nemo"
    recipe.write_text(CUT, encoding="utf-8")
    return recipe


@pytest.mark.slow
def test_a_stale_smart_cut_dir_is_removed_by_the_next_run(tmp_path, clip):
    """Work directories a killed run left beside the output (today's, and the unlocked ones of earlier versions) go."""
    recipe = _project(tmp_path, clip)
    stale = tmp_path / "out" / f"{workdir.PREFIX}smartcut.k1ll3d00"
    stale.mkdir(parents=True)
    (stale / "video.mp4").write_bytes(b"\0" * 100_000)
    legacy = tmp_path / "out" / "..e.q7x2ab9c.partial.smartcut.3kd9slx0"  # where nemoflow put them before issue 15
    legacy.mkdir(parents=True)
    (legacy / "audio.m4a").write_bytes(b"\0" * 1000)
    done = subprocess.run([sys.executable, "-m", "nemoflow", "run", str(recipe), "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "smart cut: copied" in done.stdout  # the export really went through the smart cut
    assert not stale.exists() and not legacy.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["e.mp4"]


@pytest.mark.slow
def test_kill_9_during_a_smart_cut_leaves_nothing_in_the_output_folder_after_the_next_run(tmp_path, clip):
    recipe = _project(tmp_path, clip)
    work = str(tmp_path / "out" / f"{workdir.PREFIX}smartcut.")
    parent = subprocess.Popen([sys.executable, "-m", "nemoflow", "run", str(recipe), "--json"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = _wait_for_child(parent, lambda cmd: _is_ffmpeg(cmd) and any(a.startswith(work) for a in cmd))
    _kill_and_check(parent, child)
    assert [p.name for p in (tmp_path / "out").iterdir() if p.is_dir()] != []  # what the kill left
    done = subprocess.run([sys.executable, "-m", "nemoflow", "run", str(recipe), "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["e.mp4"]


@pytest.mark.slow
def test_a_run_whose_exports_are_all_cached_still_reaps_their_folders(tmp_path, clip):
    """The next run may not render that export again (cached, or the recipe changed): the engine's start reaps."""
    recipe = _project(tmp_path, clip)
    first = subprocess.run([sys.executable, "-m", "nemoflow", "run", str(recipe)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    stale = tmp_path / "out" / f"{workdir.PREFIX}render.d3adb33f"
    (stale / "fonts").mkdir(parents=True)
    again = subprocess.run([sys.executable, "-m", "nemoflow", "run", str(recipe)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0 and "nothing to do" in again.stderr + again.stdout, again.stderr
    assert not stale.exists()
