"""Work directories for intermediate files that a `kill -9` cannot leak for ever.

A work directory is made under a parent folder (the local engine uses the output's folder), is named
`.nemoflow-<what>.<random>`, and is locked (flock on the directory itself) for as long as its owner holds it.
The kernel drops that lock when the owner dies, however it dies, so `reap(parent)` can tell a killed run's
leftovers from a directory some living run (this one or another process) is using: it removes exactly the
directories of nemoflow's naming whose lock it can take. No pid files, no guessing from ages.

Without `fcntl` (Windows) directories are still removed when their owner finishes, but a killed run's stay.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

PREFIX = ".nemoflow-"  # hidden: it sits beside outputs while they render


@contextlib.contextmanager
def work_dir(parent: Path, what: str) -> Iterator[Path]:
    """A fresh locked directory `parent/.nemoflow-<what>.<random>`, removed with its contents when the block ends."""
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{what}.", dir=parent))
        fd = _lock(path)
        if fd is not None:
            break
        # a concurrent reap saw it before we locked it and removed it: make another
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)  # while still locked, so no reap races us
        if fd >= 0:
            os.close(fd)


def _lock(path: Path) -> int | None:
    """Lock the directory just made; None if it vanished first (a reap took it for a dead one's)."""
    if fcntl is None:
        return -1
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def reap(parent: Path) -> int:
    """Remove the work directories under `parent` that no living process holds; returns how many were removed."""
    if fcntl is None or not parent.is_dir():
        return 0
    removed = 0
    for path in parent.glob(f"{PREFIX}*"):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:  # not a directory, a symbolic link, or already gone
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its owner is alive
            os.close(fd)
            continue
        try:
            if os.path.samestat(os.fstat(fd), os.lstat(path)):
                shutil.rmtree(path, ignore_errors=True)
                removed += not path.exists()
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed
