"""Find FFmpeg, run it without a shell, follow its progress, write outputs atomically.

The binary comes from the imageio-ffmpeg wheel, so `pip install` is all a
machine needs; `NEMOFLOW_FFMPEG` or `[local] ffmpeg` in the config file point
at another build. Every output is written to a hidden temporary file beside
the destination and renamed only when FFmpeg succeeded, so a failure or
Ctrl-C never leaves a half-written file where a finished one is expected.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import attrs

from ..config import setting
from ..errors import ConfigError, RenderError


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


@cache
def ffmpeg_version() -> str:
    """`n9.0.2-…` style version string of the binary in use (part of cache keys later)."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True, check=False).stdout
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


def run_ffmpeg(args: Sequence[str], *, what: str, on_progress: ProgressCallback | None = None,
               on_start: Callable[[subprocess.Popen], None] | None = None, run_scoped: bool = True) -> None:
    """Run `ffmpeg ARGS`; raise RenderError with the telling stderr lines if it fails.

    `what` names the job for the error message ("export.final"). The process is
    killed if this thread is interrupted (Ctrl-C) or anything else goes wrong;
    `on_start` hands the process to a caller that runs this in another thread
    and must be able to kill it. `run_scoped=False` keeps the process out of the
    run's registry, so a run's cancel never touches it (the fake service's renders).
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1", *args]
    tail: deque[str] = deque(maxlen=200)
    if run_scoped and _stopped.is_set():
        raise RenderError(f"not starting FFmpeg for {what}: the run is being cancelled")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", bufsize=1)
    if run_scoped:
        with _live_lock:
            _live.add(proc)
    if run_scoped and _stopped.is_set():  # stop_all() ran between the check above and the add
        proc.kill()
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
