"""Find FFmpeg, run it without a shell, follow its progress, write outputs atomically.

The binary comes from the imageio-ffmpeg wheel, so `pip install` is all a
machine needs; `NEMOFLOW_FFMPEG` or `[local] ffmpeg` in the config file point
at another build. Every output is written to a hidden temporary file beside
the destination and renamed only when FFmpeg succeeded, so a failure or
Ctrl-C never leaves a half-written file where a finished one is expected.

On Linux every FFmpeg dies with nemoflow however nemoflow dies (kill -9
included): each is started with a parent-death signal, see `_dies_with_us`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import attrs

from ..config import setting
from ..errors import ConfigError, MediaError, RenderError


@cache
def ffmpeg_exe() -> str:
    """The FFmpeg binary to run: NEMOFLOW_FFMPEG, the config file, or the wheel's own."""
    chosen = setting("local", "ffmpeg", env="NEMOFLOW_FFMPEG")
    if chosen:
        path = shutil.which(str(chosen)) or str(chosen)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise ConfigError(f"the FFmpeg chosen by NEMOFLOW_FFMPEG or the config file, `{chosen}`, is not an executable file; "
                              "unset it to use the FFmpeg that comes with nemoflow")
        return path
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise ConfigError(f"no FFmpeg binary found ({exc}); reinstall nemoflow (pip install --force-reinstall imageio-ffmpeg) "
                          "or set NEMOFLOW_FFMPEG to an FFmpeg executable") from None


def ffmpeg_path(path: str | os.PathLike[str]) -> str:
    """A file name as FFmpeg (or PyAV) must be given it to open exactly that file.

    FFmpeg reads `take:2.mp4` as protocol `take` and fails ("protocol not found"); the `file:` prefix names the
    file protocol outright, so a colon, a leading `-` (never read as an option after `-i`, nor as an output
    option) or any other character in the name is taken literally. `%` is literal for every demuxer nemoflow
    opens files with (image2 runs with `-pattern_type none`).
    """
    return "file:" + os.fspath(path)


@cache
def ffmpeg_version() -> str:
    """`n9.0.2-…` style version string of the binary in use (part of cache keys later)."""
    proc = start_ffmpeg(["-version"], what="asking FFmpeg its version", run_scoped=False, stdout=subprocess.PIPE)
    try:
        out, _ = proc.communicate()
    finally:
        finish_ffmpeg(proc)
    match = re.match(r"ffmpeg version (\S+)", out)
    return match.group(1) if match else "unknown"


def ffmpeg_identity(memo) -> str:
    """The FFmpeg build in use, for cache keys; memoised by the binary's path, size and mtime.

    `memo` has `lookup(key)` and `store(key, value)` (the runner's digest memo),
    so an unchanged re-run starts no FFmpeg process at all.
    """
    exe = ffmpeg_exe()
    st = os.stat(exe)
    key = f"ffmpeg-version:{exe}:{st.st_size}:{st.st_mtime_ns}"
    version = memo.lookup(key)
    if not isinstance(version, str):
        version = ffmpeg_version()
        memo.store(key, version)
    return version


@attrs.frozen
class Progress:
    """One snapshot of `-progress` output."""

    seconds: float  # output time reached
    fps: float
    speed: float  # × realtime
    frame: int
    done: bool = False


ProgressCallback = Callable[[Progress], None]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent (nothing is loaded between fork and exec), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def _dies_with_us() -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel SIGKILL the child when its parent dies (Linux's PR_SET_PDEATHSIG).

    FFmpeg ignores SIGPIPE, so without this a `kill -9` of nemoflow leaves it encoding to the end. The signal
    fires when the *thread* that forked the child ends, not only the process: every caller here waits for its
    child in the thread that started it (run_ffmpeg kills and reaps it even when interrupted), so that thread
    outlives the child. The child also checks that the parent did not die before the signal was armed.
    Off Linux there is no such signal and this is None: a killed nemoflow's FFmpeg then runs to the end of its job.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:  # runs in the child between fork and exec: a system call or two, nothing that takes a lock
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(137)

    return arm

# Every FFmpeg this process started and has not reaped: the runner kills them all
# on Ctrl-C or a failure elsewhere, whichever thread started them.
_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()
_stopped = threading.Event()


def stop_all() -> None:
    """Kill every running FFmpeg, and refuse to start new ones (the run is being cancelled)."""
    _stopped.set()
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        with contextlib.suppress(OSError):
            proc.kill()


def allow_start() -> None:
    """Undo `stop_all` (a new run in the same process, e.g. in tests)."""
    _stopped.clear()

# Lines of stderr worth showing when FFmpeg fails: errors, not banner noise.
_ERROR_LINE = re.compile(r"error|invalid|no such|not found|unable|cannot|could not|failed|unknown|does not|too|unsupported|"
                         r"mismatch|denied", re.I)


def _relevant(stderr_lines: Sequence[str], limit: int = 8) -> str:
    lines = [ln.rstrip() for ln in stderr_lines if ln.strip()]
    hits = [ln for ln in lines if _ERROR_LINE.search(ln)]
    chosen = (hits or lines)[-limit:]
    return "\n".join("    " + ln[:300] for ln in chosen)


def start_ffmpeg(args: Sequence[str], *, what: str, run_scoped: bool = True, stdout: int = subprocess.DEVNULL,
                 bufsize: int = -1) -> subprocess.Popen:
    """Start `ffmpeg -hide_banner -nostdin -nostats ARGS` the one way every FFmpeg nemoflow runs is started.

    It dies with nemoflow (`_dies_with_us`) and, `run_scoped`, is in the run's registry, so `stop_all` (Ctrl-C, a
    cancel) kills it; after `stop_all` nothing starts. stderr is a text pipe. The caller waits for it in this thread
    and must `finish_ffmpeg` it, also when interrupted.
    """
    held = next((arg for arg in args if "\0" in arg), None)
    if held is not None:  # no file name or argument can hold one; Popen would raise ValueError ("a bug", exit 70)
        raise MediaError(f"{what}: a file name or text given to FFmpeg contains a NUL character (U+0000), which no file "
                         f"name or FFmpeg argument can hold: {held.replace(chr(0), '<NUL>')[:120]!r}; remove it from the recipe")
    if run_scoped and _stopped.is_set():
        raise RenderError(f"not starting FFmpeg for {what}: the run is being cancelled")
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True,
                            errors="replace", bufsize=bufsize, preexec_fn=_dies_with_us())
    if run_scoped:
        with _live_lock:
            _live.add(proc)
    if run_scoped and _stopped.is_set():  # stop_all() ran between the check above and the add
        proc.kill()
    return proc


def finish_ffmpeg(proc: subprocess.Popen) -> None:
    """Kill `proc` if it still runs, reap it and drop it from the registry."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    with _live_lock:
        _live.discard(proc)


@attrs.frozen
class Captured:
    """What an FFmpeg run reported: its exit code and everything it wrote to stderr."""

    returncode: int
    stderr: str


def capture_ffmpeg(args: Sequence[str], *, what: str, timeout: float | None = None) -> Captured:
    """Run `ffmpeg ARGS` (its log level included) to the end for what it logs: measuring filters (ebur128, the
    detectors, ssim) report on stderr. Started by `start_ffmpeg`, so Ctrl-C and a cancel stop it like a render;
    stopped so, it raises RenderError. `timeout` (s) raises subprocess.TimeoutExpired once the process is killed."""
    proc = start_ffmpeg(args, what=what)
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        finish_ffmpeg(proc)
    if proc.returncode != 0 and _stopped.is_set():
        raise RenderError(f"FFmpeg was stopped while {what}: the run was cancelled")
    return Captured(proc.returncode, err)


def run_ffmpeg(args: Sequence[str], *, what: str, on_progress: ProgressCallback | None = None,
               on_start: Callable[[subprocess.Popen], None] | None = None, run_scoped: bool = True) -> None:
    """Run `ffmpeg ARGS`; raise RenderError with the telling stderr lines if it fails.

    `what` names the job for the error message ("export.final"). The process is
    killed if this thread is interrupted (Ctrl-C) or anything else goes wrong;
    `on_start` hands the process to a caller that runs this in another thread
    and must be able to kill it. `run_scoped=False` keeps the process out of the
    run's registry, so a run's cancel never touches it (the fake service's renders).
    """
    tail: deque[str] = deque(maxlen=200)
    proc = start_ffmpeg(["-loglevel", "error", "-progress", "pipe:1", *args], what=what, run_scoped=run_scoped,
                        stdout=subprocess.PIPE, bufsize=1)
    if on_start is not None:
        on_start(proc)
    reader = threading.Thread(target=lambda: tail.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        fields: dict[str, str] = {}
        for line in proc.stdout:  # type: ignore[union-attr]
            key, _, value = line.strip().partition("=")
            fields[key] = value
            if key == "progress" and on_progress is not None:
                on_progress(_snapshot(fields))
        proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join(timeout=5)
        with _live_lock:
            _live.discard(proc)
    if proc.returncode != 0:
        if run_scoped and _stopped.is_set():
            raise RenderError(f"FFmpeg was stopped while rendering {what}: the run was cancelled")
        raise RenderError(f"FFmpeg failed while rendering {what} (exit code {proc.returncode}):\n{_relevant(tail)}\n"
                          "If the message names a source file, check that file; otherwise this is likely a nemoflow bug: "
                          "run again with NEMOFLOW_DEBUG=1 to see the FFmpeg command, and please report it.")


def _snapshot(fields: dict[str, str]) -> Progress:
    def num(key: str) -> float:
        try:
            return float(fields.get(key, "0").rstrip("x") or 0)
        except ValueError:
            return 0.0

    us = num("out_time_us") if fields.get("out_time_us", "N/A") != "N/A" else 0.0
    return Progress(seconds=max(us, 0) / 1e6, fps=num("fps"), speed=num("speed"), frame=int(num("frame")),
                    done=fields.get("progress") == "end")


@contextlib.contextmanager
def atomic_output(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; rename it to `dest` only if the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".partial{dest.suffix}", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RenderError(f"FFmpeg reported success but wrote nothing for {dest}; nothing was saved")
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
