"""Fault injection for the runner: kill -9 at chosen points of random recipes, full disks, read-only places, sources
swapped mid-run. After each, the next run must produce outputs byte-identical to a clean run's and leave no stray file.

Disk-full and read-only faults are made three ways, each test saying which and skipping with the reason when its
way is unavailable: a real tmpfs or a read-only bind mount (root with mount rights, as in this project's containers),
chmod (not root), RLIMIT_FSIZE (writes past it fail with EFBIG, in a child process and the FFmpeg it starts) and, always,
in-process wrappers around the calls nemoflow writes with, raising the errno a full or read-only disk would.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import faultkit as fk
import pytest
from runnerkit import events, finished, nf

from nemoflow.core.model import StepKind
from nemoflow.media.ffmpeg import ffmpeg_exe
from nemoflow.plan.digests import DigestMemo
from nemoflow.run import steps as steps_mod
from nemoflow.run.lock import RunLock
from nemoflow.run.store import NotCached, StateDir, Store

TRIALS = fk.shapes(random.Random(fk.SEED), 20)

TWO = fk.Shape((("e0", "titled", "mp4", True), ("e1", "graded", "mp4", False)))
LONG = ("nemo 1\nmedia a = pattern mandelbrot duration 60s size 320x180 fps 30\nedit cut {\n  video a\n}\n"
        'export slow = cut {\n  size 320x180\n  save "out/slow.mp4"\n}\n')


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    return fk.make_sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="module")
def refs(tmp_path_factory, sources) -> fk.References:
    return fk.References(tmp_path_factory.mktemp("clean"), sources)


# -- ways to make a place full or read-only -------------------------------------------------------------------

def _mount(*args: str) -> str | None:
    """Run mount(8); the reason it cannot, or None."""
    if os.geteuid() != 0:
        return "mounting needs root"
    if shutil.which("mount") is None:
        return "no mount(8) on this machine"
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    return None if done.returncode == 0 else f"mount {' '.join(args)} refused: {done.stderr.strip()}"


@pytest.fixture
def mounts():
    """Mount tmpfs or read-only binds for one test; unmounted after it. `tmpfs(dir, size)` and `read_only(dir)` skip if refused."""
    made: list[Path] = []

    class Mounts:
        def tmpfs(self, where: Path, size: str) -> None:
            where.mkdir(parents=True, exist_ok=True)
            why = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
            if why:
                pytest.skip(f"no small tmpfs to fill: {why}")
            made.append(where)

        def resize(self, where: Path, size: str) -> None:
            assert _mount("-o", f"remount,size={size}", str(where)) is None

        def read_only(self, where: Path) -> None:
            """Make `where` read-only: chmod 0o555 when not root, else a read-only bind mount of itself."""
            if os.geteuid() != 0:
                os.chmod(where, 0o555)
                made.append(where)
                return
            why = _mount("--bind", str(where), str(where))
            if why:
                pytest.skip(f"root ignores chmod, and no read-only bind mount: {why}")
            made.append(where)
            why = _mount("-o", "remount,bind,ro", str(where))
            if why:
                pytest.skip(f"root ignores chmod, and no read-only bind mount: {why}")

    yield Mounts()
    for where in reversed(made):
        if os.geteuid() != 0:
            os.chmod(where, 0o755)
        else:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _under(path: object, root: Path) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(root.resolve())  # type: ignore[arg-type]
    except (TypeError, ValueError, OSError):
        return False


def _fd_under(fd: int, root: Path) -> bool:
    try:
        return _under(os.readlink(f"/proc/self/fd/{fd}"), root)
    except OSError:
        return False


class _FullFile:
    """A file on a full disk: the first write keeps half its data, then every write fails with ENOSPC."""

    def __init__(self, fh, err: int) -> None:
        self._fh = fh
        self._err = err

    def write(self, data):
        self._fh.write(data[: len(data) // 2])
        self._fh.flush()
        raise OSError(self._err, os.strerror(self._err))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def __getattr__(self, name):
        return getattr(self._fh, name)


def disk_full(monkeypatch, root: Path, err: int = errno.ENOSPC) -> None:
    """In-process: every write under `root` fails with `err` after half its data, as on a full disk.

    Links are refused as across file systems (EXDEV), so outputs are copied in; a copy writes half and fails.
    """
    real_open, real_io_open, real_fdopen, real_link, real_copyfile = builtins.open, io.open, os.fdopen, os.link, shutil.copyfile

    def link(src, dst, *a, **k):
        if _under(dst, root):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), dst)
        return real_link(src, dst, *a, **k)

    def copyfile(src, dst, *a, **k):
        if not _under(dst, root):
            return real_copyfile(src, dst, *a, **k)
        data = Path(src).read_bytes()
        with real_open(dst, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(err, os.strerror(err), dst)

    def opener(real):
        def open_(file, mode="r", *a, **k):
            fh = real(file, mode, *a, **k)
            writing = any(c in mode for c in "wax+")
            if writing and (_under(file, root) if not isinstance(file, int) else _fd_under(file, root)):
                return _FullFile(fh, err)
            return fh
        return open_

    def fdopen(fd, mode="r", *a, **k):
        fh = real_fdopen(fd, mode, *a, **k)
        return _FullFile(fh, err) if any(c in mode for c in "wax+") and _fd_under(fd, root) else fh

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(shutil, "copyfile", copyfile)
    monkeypatch.setattr(builtins, "open", opener(real_open))
    monkeypatch.setattr(io, "open", opener(real_io_open))
    monkeypatch.setattr(os, "fdopen", fdopen)


def read_only(monkeypatch, root: Path, err: int = errno.EROFS) -> None:
    """In-process: nothing under `root` can be created, opened for writing, linked, renamed or removed (EROFS)."""
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    real = {name: getattr(os, name) for name in ("open", "mkdir", "link", "replace", "rename", "unlink")}
    real_open, real_io_open = builtins.open, io.open

    def refuse(path):
        raise OSError(err, os.strerror(err), os.fsdecode(path))

    def os_open(path, flags, *a, **k):
        if flags & writes and _under(path, root):
            refuse(path)
        return real["open"](path, flags, *a, **k)

    def mkdir(path, *a, **k):
        if _under(path, root):
            if os.path.exists(path):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fsdecode(path))
            refuse(path)
        return real["mkdir"](path, *a, **k)

    def two(name):
        def call(src, dst, *a, **k):
            if _under(dst, root) or (name != "link" and _under(src, root)):
                refuse(dst)
            return real[name](src, dst, *a, **k)
        return call

    def unlink(path, *a, **k):
        if _under(path, root):
            refuse(path)
        return real["unlink"](path, *a, **k)

    def opener(real_fn):
        def open_(file, mode="r", *a, **k):
            if not isinstance(file, int) and any(c in mode for c in "wax+") and _under(file, root):
                refuse(file)
            return real_fn(file, mode, *a, **k)
        return open_

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    for name in ("link", "replace", "rename"):
        monkeypatch.setattr(os, name, two(name))
    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(builtins, "open", opener(real_open))
    monkeypatch.setattr(io, "open", opener(real_io_open))


def _fsize_limit(limit: int):
    """preexec_fn: files this process and its children write stop at `limit` bytes; writes past it fail with EFBIG."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # kept across exec: FFmpeg gets EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _messages(result) -> list[dict]:
    return [e for e in events(result) if e["event"] in ("note", "step-message")]


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and "a bug in nemoflow" not in text, text


# -- the store on its own ---------------------------------------------------------------------------------------

def _one_output(tmp_path: Path) -> tuple[Store, Path]:
    out = tmp_path / "out" / "a.mp4"
    out.parent.mkdir()
    out.write_bytes(os.urandom(64 * 1024))
    return Store(tmp_path / "state" / "store"), out


class _Memo:
    def remember(self, path, digest, own=False):
        pass


def _store_leftovers(store: Store) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def test_a_full_state_disk_while_copying_into_the_store_leaves_no_object_and_no_tmp_file(tmp_path, monkeypatch):
    """The issue's case: the copy into the store ran out of space; a truncated object used to stay, looking cached."""
    store, out = _one_output(tmp_path)
    disk_full(monkeypatch, store.root)
    with pytest.raises(NotCached) as caught:
        store.put("ab" * 32, {"step": "export.a"}, [out], tmp_path, _Memo())
    monkeypatch.undo()
    assert caught.value.error.errno == errno.ENOSPC
    assert store.get("ab" * 32) is None
    assert _store_leftovers(store) == []
    assert caught.value.record["outputs"][0]["path"] == "out/a.mp4"  # what the step made, for its events


def test_a_full_state_disk_while_writing_the_record_leaves_no_object_and_no_tmp_file(tmp_path, monkeypatch):
    store, out = _one_output(tmp_path)
    real_link = os.link
    disk_full(monkeypatch, store.root)
    monkeypatch.setattr(os, "link", real_link)  # the object is a hard link (no space needed); the record does not fit
    with pytest.raises(NotCached):
        store.put("cd" * 32, {"step": "export.a"}, [out], tmp_path, _Memo())
    monkeypatch.undo()
    assert store.get("cd" * 32) is None
    assert _store_leftovers(store) == []
    assert out.stat().st_nlink == 1  # its store link went with the record that could not be written


def test_store_objects_appear_whole_under_their_name_or_not_at_all(tmp_path, monkeypatch):
    """An object is written under a temporary name and renamed: a kill mid-copy leaves no short file named as the object."""
    store, out = _one_output(tmp_path)
    seen: list[str] = []
    real_copyfile = shutil.copyfile

    def copyfile(src, dst, *a, **k):
        seen.append(Path(dst).name)
        return real_copyfile(src, dst, *a, **k)

    monkeypatch.setattr(os, "link", lambda src, dst, *a, **k: (_ for _ in ()).throw(OSError(errno.EXDEV, "cross-device")))
    monkeypatch.setattr(shutil, "copyfile", copyfile)
    record = store.put("ef" * 32, {"step": "export.a"}, [out], tmp_path, _Memo())
    monkeypatch.undo()
    assert seen and all(name != record["outputs"][0]["object"] for name in seen), seen
    assert (store.dir("ef" * 32) / record["outputs"][0]["object"]).read_bytes() == out.read_bytes()
    assert _store_leftovers(store) == [f"ef/{'ef' * 32}/0.mp4", f"ef/{'ef' * 32}/record.json"]


# -- a whole run with a full or read-only state directory -------------------------------------------------------

def _recipe(root: Path, shape: fk.Shape, sources: Path) -> Path:
    return fk.project(root, shape, sources)


@pytest.mark.slow
def test_a_full_state_disk_keeps_finished_outputs_and_warns_and_the_next_run_renders_them_again(tmp_path, monkeypatch, sources, refs):
    """In-process injection (always runs): every write into the store fails as on a full disk."""
    recipe = _recipe(tmp_path / "p", TWO, sources)
    state = tmp_path / "p" / ".nemoflow"
    disk_full(monkeypatch, state / "store")
    result = nf("run", recipe, "--json")
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    _no_traceback(result.output)
    assert set(finished(result).values()) == {"ok"}
    warnings = [m for m in _messages(result) if m.get("kind") == "warning"]
    assert warnings and all(str(state) in m["text"] and "full" in m["text"] and "--state-dir" in m["text"] for m in warnings)
    assert fk.digests(tmp_path / "p", TWO.outputs()) == refs.of(TWO)
    assert fk.strays(tmp_path / "p", TWO.outputs()) == []
    again = nf("run", recipe, "--json")
    assert again.exit_code == 0, again.output
    assert finished(again)["export.e0"] == "ok"  # rendered again: it was never cached
    assert fk.digests(tmp_path / "p", TWO.outputs()) == refs.of(TWO)
    assert fk.strays(tmp_path / "p", TWO.outputs()) == []
    assert set(finished(nf("run", recipe, "--json")).values()) == {"cached"}


@pytest.mark.parametrize("existing", [False, True], ids=["new-state-dir", "existing-state-dir"])
def test_a_state_disk_full_from_the_start_stops_before_rendering_with_what_to_do(tmp_path, monkeypatch, sources, existing):
    """A new state directory fails at its first file; an existing one at the lock's note (the lock itself needs no space)."""
    recipe = _recipe(tmp_path / "p", TWO, sources)
    state = tmp_path / "p" / ".nemoflow"
    state.mkdir()
    if existing:
        StateDir(state, recipe).create()
    disk_full(monkeypatch, state)
    result = nf("run", recipe)
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    _no_traceback(result.output)
    assert str(state) in result.stderr and "No space left on device" in result.stderr and "--state-dir" in result.stderr
    assert "free space there" in result.stderr
    assert not (tmp_path / "p" / "out").exists()
    assert fk.strays(tmp_path / "p", TWO.outputs()) == []
    assert not (state / ".gitignore").exists() or (state / ".gitignore").read_text().endswith("*\n")  # whole or absent
    if existing:
        with RunLock(StateDir(state, recipe).lock_file, say=print):  # given back: this process can take it again
            pass


@pytest.mark.slow
def test_a_journal_that_cannot_be_written_does_not_fail_the_run(tmp_path, monkeypatch, sources, refs):
    recipe = _recipe(tmp_path / "p", TWO, sources)
    journal = StateDir(tmp_path / "p" / ".nemoflow", recipe).journal_dir
    journal.mkdir(parents=True)
    disk_full(monkeypatch, journal)
    result = nf("run", recipe, "--json")
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    _no_traceback(result.output)
    assert any("journal" in m.get("message", m.get("text", "")) for m in _messages(result))
    assert fk.digests(tmp_path / "p", TWO.outputs()) == refs.of(TWO)
    assert fk.strays(tmp_path / "p", TWO.outputs()) == []


@pytest.mark.slow
def test_a_real_full_state_disk_keeps_finished_outputs(tmp_path, mounts, sources, refs):
    """A real tmpfs too small for the outputs' copies (the project is on another file system, so no hard links)."""
    recipe = _recipe(tmp_path / "p", TWO, sources)
    state = tmp_path / "state"
    mounts.tmpfs(state, "96k")
    result = fk.run(recipe, "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    _no_traceback(result.stderr)
    warnings = [e["text"] for e in map(json.loads, result.stdout.splitlines()) if e.get("kind") == "warning"]
    assert any(f"the state directory {state} is full" in w for w in warnings), result.stdout
    assert fk.digests(tmp_path / "p", TWO.outputs()) == refs.of(TWO)
    assert fk.strays(tmp_path / "p", TWO.outputs(), state) == []
    mounts.resize(state, "8m")
    again = fk.run(recipe, "--state-dir", str(state))
    assert again.returncode == 0, again.stderr
    assert fk.digests(tmp_path / "p", TWO.outputs()) == refs.of(TWO)
    assert fk.strays(tmp_path / "p", TWO.outputs(), state) == []


@pytest.mark.parametrize("existing", [False, True], ids=["new-state-dir", "existing-state-dir"])
def test_a_read_only_state_dir_is_a_clear_error_before_rendering_injected(tmp_path, monkeypatch, sources, existing):
    recipe = _recipe(tmp_path / "p", TWO, sources)
    state = tmp_path / "p" / ".nemoflow"
    state.mkdir()
    if existing:
        StateDir(state, recipe).create()
    read_only(monkeypatch, state)
    result = nf("run", recipe)
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    _no_traceback(result.output)
    assert str(state) in result.stderr and "Read-only file system" in result.stderr and "--state-dir" in result.stderr
    assert not (tmp_path / "p" / "out").exists()


@pytest.mark.slow
def test_a_read_only_state_dir_is_a_clear_error_before_rendering(tmp_path, mounts, sources):
    recipe = _recipe(tmp_path / "p", TWO, sources)
    assert fk.run(recipe).returncode == 0
    (tmp_path / "p" / "out" / "e0.mp4").unlink()
    state = tmp_path / "p" / ".nemoflow"
    mounts.read_only(state)
    result = fk.run(recipe)
    assert result.returncode == 2, result.stderr
    _no_traceback(result.stderr)
    assert str(state) in result.stderr and "--state-dir" in result.stderr
    assert not (tmp_path / "p" / "out" / "e0.mp4").exists()
    assert fk.strays(tmp_path / "p", TWO.outputs()) == []


# -- a full or read-only destination ---------------------------------------------------------------------------------

def _no_partials(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if ".partial" in p.name or ".smartcut." in p.name]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["rlimit", "wrapper"])
def test_a_file_size_limit_at_the_destination_is_a_clear_error_naming_the_path(how, tmp_path, sources, refs):
    """Always available. rlimit: RLIMIT_FSIZE on the run (Python restores SIGXFSZ for the FFmpeg it starts, so the kernel
    kills FFmpeg past the limit); wrapper: NEMOFLOW_FFMPEG is a shell script ignoring SIGXFSZ, so FFmpeg's writes fail
    with EFBIG ("File too large"), as on a full disk."""
    recipe = _recipe(tmp_path / "p", TWO, sources)
    if how == "rlimit":
        result = fk.run(recipe, "-j", "1", preexec=_fsize_limit(16 * 1024))
    else:
        wrapper = tmp_path / "ffmpeg"
        wrapper.write_text(f"#!/bin/sh\ntrap '' XFSZ\nulimit -f 32\nexec '{ffmpeg_exe()}' \"$@\"\n", encoding="utf-8")
        wrapper.chmod(0o755)
        result = fk.run(recipe, "-j", "1", env={"NEMOFLOW_FFMPEG": str(wrapper)})
    assert result.returncode == 2, result.stderr
    _no_traceback(result.stderr)
    named = re.search(r"(out/e[01]\.mp4) is too large to write there", result.stderr)
    assert named, result.stderr
    assert ("File too large" if how == "wrapper" else "SIGXFSZ") in result.stderr
    assert not (tmp_path / "p" / named.group(1)).exists()
    assert _no_partials(tmp_path / "p") == []
    again = fk.run(recipe)
    assert again.returncode == 0, again.stderr
    assert fk.digests(tmp_path / "p", TWO.outputs()) == refs.of(TWO)
    assert fk.strays(tmp_path / "p", TWO.outputs()) == []


@pytest.mark.slow
def test_a_full_destination_disk_says_no_space_left_on_it(tmp_path, mounts, sources, refs):
    recipe = _recipe(tmp_path / "p", TWO, sources)
    out = tmp_path / "p" / "out"
    mounts.tmpfs(out, "48k")
    result = fk.run(recipe)
    assert result.returncode == 2, result.stderr
    _no_traceback(result.stderr)
    named = re.search(rf"no space left on the device holding {re.escape(str(out))}: (\S+) could not be written", result.stderr)
    assert named, result.stderr
    assert not Path(named.group(1)).exists() and _no_partials(tmp_path / "p") == []
    mounts.resize(out, "8m")
    again = fk.run(recipe)
    assert again.returncode == 0, again.stderr
    assert fk.digests(tmp_path / "p", TWO.outputs()) == refs.of(TWO)
    assert fk.strays(tmp_path / "p", TWO.outputs()) == []


def test_a_read_only_destination_is_a_clear_error_injected(tmp_path, monkeypatch, sources):
    recipe = _recipe(tmp_path / "p", TWO, sources)
    out = tmp_path / "p" / "out"
    out.mkdir()
    read_only(monkeypatch, out)
    result = nf("run", recipe)
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    _no_traceback(result.output)
    assert re.search(r"out/e[01]\.mp4", result.stderr) and "Read-only file system" in result.stderr, result.stderr
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_a_read_only_destination_is_a_clear_error(tmp_path, mounts, sources):
    recipe = _recipe(tmp_path / "p", TWO, sources)
    out = tmp_path / "p" / "out"
    out.mkdir()
    mounts.read_only(out)
    result = fk.run(recipe)
    assert result.returncode == 2, result.stderr
    _no_traceback(result.stderr)
    assert re.search(r"out/e[01]\.mp4", result.stderr) and "not writable" in result.stderr, result.stderr
    assert list(out.iterdir()) == []


# -- sources swapped mid-run -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_source_swapped_while_rendering_is_rendered_again_next_run(tmp_path, monkeypatch, sources, refs):
    """clip.mp4 is replaced by another clip while export.e0 renders, and put back (a copy, same bytes) right after.

    Deterministic: the swap wraps that one render. The next run must not call its output cached.
    """
    recipe = _recipe(tmp_path / "p", TWO, sources)
    clip = tmp_path / "p" / "clip.mp4"
    original = clip.read_bytes()
    swapped = fk.swapping(steps_mod.KINDS[StepKind.EXPORT], "export.e0", clip, sources / "swap.mp4", sources / "clip.mp4", tmp_path)
    monkeypatch.setitem(steps_mod.KINDS, StepKind.EXPORT, swapped)
    first = nf("run", recipe, "--json", "-j", "1")
    monkeypatch.undo()
    assert clip.read_bytes() == original
    assert first.exit_code in (0, 1, 2), first.output
    if first.exit_code == 0:  # the swap was seen by the render (else this test tests nothing)
        assert fk.digests(tmp_path / "p", ["out/e0.mp4"]) != {"out/e0.mp4": refs.of(TWO)["out/e0.mp4"]}
    again = nf("run", recipe, "--json")
    assert again.exit_code == 0, again.output
    assert finished(again)["export.e0"] == "ok", "the output made from the swapped-in clip was taken as cached"
    assert fk.digests(tmp_path / "p", TWO.outputs()) == refs.of(TWO)
    assert fk.strays(tmp_path / "p", TWO.outputs()) == []


# -- kill -9 ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("number", range(len(TRIALS)), ids=lambda n: f"trial{n}")
def test_kill_9_then_the_next_run_equals_a_clean_run(number, tmp_path, sources, refs):
    shape, point = TRIALS[number]
    trial = fk.kill_trial(number, shape, point, tmp_path, sources, refs)
    assert trial.next_exit == 0, trial.next_stderr
    assert trial.identical, f"outputs differ from a clean run's after {point.label()}:\n{shape.text()}"
    assert trial.strays == (), trial.strays
    assert trial.survivors == (), f"FFmpeg still running after the kill: {trial.survivors}"


@pytest.mark.slow
def test_kill_9_mid_render_leaves_no_ffmpeg_running(tmp_path):
    """A 60 s render killed at its second progress report (FFmpeg's own): its FFmpeg must die with the run, not finish the encode."""
    recipe = tmp_path / "r.nemo"
    recipe.write_text(LONG, encoding="utf-8")
    killed = fk.run_and_kill(recipe, fk.KillPoint("step-progress", "export.slow", 2, 0.0))
    fk.reap(killed.survivors)
    assert killed.reached and killed.running >= 1, killed  # FFmpeg was rendering when the run was killed
    assert killed.survivors == (), f"FFmpeg outlived the kill -9 of its run: {killed.survivors}"


def test_the_trials_cover_every_kill_event_and_shape():
    """The seeded trials reach every kind of kill point, every edit and both containers (so the seed is not a weak one)."""
    assert {p.event for _, p in TRIALS} == set(fk.KILL_EVENTS)
    assert {e for s, _ in TRIALS for _, e, _, _ in s.exports} == set(fk.EDITS)
    assert {f for s, _ in TRIALS for _, _, f, _ in s.exports} == set(fk.FORMATS)
    assert json.dumps([s.text() for s, _ in TRIALS]) == json.dumps([s.text() for s, _ in fk.shapes(random.Random(fk.SEED), 20)])


def test_the_digest_memo_leaves_no_temporary_file_on_a_full_disk(tmp_path, monkeypatch):
    memo = DigestMemo(tmp_path / "state" / "digests.json")
    (tmp_path / "state").mkdir()
    memo.store("k", "v")
    disk_full(monkeypatch, tmp_path / "state")
    with pytest.raises(OSError):
        memo.save()
    monkeypatch.undo()
    assert list((tmp_path / "state").iterdir()) == []


def test_the_run_after_a_kill_removes_the_temporary_files_the_killed_run_left_in_the_state_dir(tmp_path):
    """Killed between writing a temporary file and renaming it: this recipe's own, the killed steps' store entries,
    the digest memo's (named with the killed pid); another process's temporary file is not touched."""
    recipe = tmp_path / "r.nemo"
    recipe.write_text("nemo 1\nmedia bars = pattern bars duration 1s size 320x180 fps 30\n", encoding="utf-8")
    state = StateDir(tmp_path / ".nemoflow", recipe)
    state.create()
    key, pid, run = "ab" * 32, 999_999_999, "20000101T000000000Z-999999999"
    state.journal_dir.mkdir(parents=True)
    lines = [{"v": 1, "event": "run-started", "t": "2000-01-01T00:00:00Z", "run": run, "pid": pid},
             {"v": 1, "event": "step-started", "t": "2000-01-01T00:00:01Z", "run": run, "step": "export.gone", "key": key}]
    (state.journal_dir / f"{run}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    left = [state.store.dir(key) / f".0.mp4.{pid}-0a1b2c3d.tmp", state.store.dir(key) / ".record.json.x1y2z3.tmp",
            state.recipe_dir / ".last.json.q9w8e7.tmp", state.root / f".digests.json.{pid}.tmp"]
    other = state.root / ".digests.json.1.tmp"
    for path in [*left, other]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    result = nf("run", recipe, "--json")
    assert result.exit_code == 0, result.output
    assert any("was killed" in e.get("message", "") for e in events(result))
    assert [p for p in left if p.exists()] == []
    assert other.exists()
