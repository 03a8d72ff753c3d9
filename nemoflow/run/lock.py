"""One run at a time per recipe: an OS file lock, plus who holds it.

The lock itself is `filelock`'s (flock on POSIX, LockFileEx on Windows), so
the kernel releases it when its holder dies, even by kill -9. Beside it,
`lock.json` says who took it (pid, host, start, command line): while the
lock is held that answers "who is running?"; found with the lock free, it is
the trace of a run that died, and is reported and cleared.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import NemoflowError
from .store import read_json, write_json


class LockedError(NemoflowError):
    """Another run holds the recipe's lock."""

    exit_code = 2


class RunLock:
    def __init__(self, lock_file: Path, *, say: Callable[[str], None]) -> None:
        import filelock

        self.info_file = lock_file.with_suffix(".json")
        self.say = say
        self._lock = filelock.FileLock(str(lock_file), timeout=0)

    def __enter__(self) -> RunLock:
        import filelock

        self.info_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            holder = read_json(self.info_file) or {}
            who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, started {holder.get('started', '?')}"
            raise LockedError(f"another nemoflow run is using this recipe's state ({who}; lock {self.info_file.parent}). "
                              "Wait for it to finish, or stop it; two runs at once would overwrite each other's outputs."
                              ) from None
        stale = read_json(self.info_file)
        if isinstance(stale, dict) and stale.get("pid") != os.getpid():
            alive = stale.get("host") == socket.gethostname() and _alive(stale.get("pid"))
            how = "which is no longer running" if not alive else "which no longer holds it"
            self.say(f"cleared a stale lock left by nemoflow process {stale.get('pid')} (started {stale.get('started', '?')}), "
                     f"{how}")
        write_json(self.info_file, {"pid": os.getpid(), "host": socket.gethostname(),
                                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv[1:]})
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
