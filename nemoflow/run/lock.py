"""One run at a time per recipe: an OS file lock, plus who holds it.

The lock itself is `filelock`'s (flock on POSIX, LockFileEx on Windows), so
the kernel releases it when its holder dies, even by kill -9. Beside it,
`lock.json` says who took it (pid, host, start, command line): while the
lock is held that answers "who is running?"; found with the lock free, it is
the trace of a run that died, and is reported and cleared. `lock.json` is
read as untrusted (schemas/state.schema.json#/$defs/lock-info): anything else
is treated as unknown. A lock path that is not a file (a folder someone made,
a device) is a user error naming it, not a crash.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..core.untrusted import load
from ..errors import NemoflowError
from .store import write_json


class LockedError(NemoflowError):
    """Another run holds the recipe's lock."""

    exit_code = 2


class LockPathError(NemoflowError):
    """The lock's path (or its lock.json) is taken by something that is not a file."""

    exit_code = 2


def _holder(info_file: Path) -> dict:
    """Who holds or held the lock, as lock.json says; {} if it is missing or not what nemoflow writes."""
    return load(info_file, "lock-info").data or {}


def _not_a_file(path: Path) -> str | None:
    """Why `path` cannot be a lock file nemoflow writes (None if it is a file, or nothing yet)."""
    if path.is_symlink() and not path.exists():
        return None  # a dangling link is replaced like a missing file
    if path.is_dir():
        return "is a directory"
    if path.exists() and not path.is_file():
        return "is not a regular file (a device, pipe or socket)"
    return None


class RunLock:
    def __init__(self, lock_file: Path, *, say: Callable[[str], None]) -> None:
        import filelock

        self.info_file = lock_file.with_suffix(".json")
        self.say = say
        self._lock = filelock.FileLock(str(lock_file), timeout=0)

    def __enter__(self) -> RunLock:
        import filelock

        self.info_file.parent.mkdir(parents=True, exist_ok=True)
        for path in (Path(self._lock.lock_file), self.info_file):
            why = _not_a_file(path)
            if why is not None:
                raise LockPathError(f"{path} {why}, but nemoflow keeps this recipe's run lock there; remove it "
                                    f"(`rm -r {path}` if it holds nothing you need) and run again, or put the state "
                                    "elsewhere with --state-dir DIR or NEMOFLOW_STATE_DIR")
        try:
            self._lock.acquire()
        except filelock.Timeout:
            holder = _holder(self.info_file)
            who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, started {holder.get('started', '?')}"
            raise LockedError(f"another nemoflow run is using this recipe's state ({who}; lock {self.info_file.parent}). "
                              "Wait for it to finish, or stop it; two runs at once would overwrite each other's outputs."
                              ) from None
        stale = _holder(self.info_file)
        if stale and stale.get("pid") != os.getpid():
            alive = stale.get("host") == socket.gethostname() and _alive(stale.get("pid"))
            how = "which is no longer running" if not alive else "which no longer holds it"
            self.say(f"cleared a stale lock left by nemoflow process {stale.get('pid')} (started {stale.get('started', '?')}), "
                     f"{how}")
        try:
            write_json(self.info_file, {"pid": os.getpid(), "host": socket.gethostname(),
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv[1:]})
        except OSError:  # a full or read-only state directory: give the lock back, the caller reports it
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.info_file.unlink()
        self._lock.release()


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
