"""Content digests of files, memoized by path, size, mtime and inode.

Cache keys use what a file holds, not when it was touched (git does not keep
mtimes), but hashing a 4K source on every run would cost seconds. So a
digest is reused while the file's (size, mtime, inode) are unchanged. As in
git's "racily clean" rule, a digest taken less than two seconds after the
file's last change is not trusted later: an edit within the same mtime tick
could otherwise go unseen.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from ..core.hashing import sha256_file

FORMAT = 1
_RACY_NS = 2_000_000_000


class DigestMemo:
    """path → sha256, kept in one JSON file; `save()` merges with what other runs wrote meanwhile."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self._lock = threading.Lock()
        self._entries: dict[str, list] = {}
        self._dirty: dict[str, list] = {}
        self.hashed: list[str] = []  # paths hashed this run (for reports and tests)
        if file is not None:
            self._entries = _read(file)

    def digest(self, path: Path) -> str | None:
        """The file's sha256, or None if it does not exist."""
        key = str(path)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        sig = [st.st_size, st.st_mtime_ns, st.st_ino]
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[:3] == sig and entry[3] - st.st_mtime_ns > _RACY_NS:
            return entry[4]
        hashed_at = time.time_ns()
        digest = sha256_file(path)
        with self._lock:
            self._entries[key] = self._dirty[key] = [*sig, hashed_at, digest]
            self.hashed.append(key)
        return digest

    def remember(self, path: Path, digest: str, *, own: bool = False) -> None:
        """Record a digest computed elsewhere.

        `own`: a file this run just finished writing and renamed into place, so
        no other writer can share its mtime tick; its digest is trusted at once
        (otherwise the next run would hash every fresh 4K output again).
        """
        st = os.stat(path)
        hashed_at = st.st_mtime_ns + _RACY_NS + 1 if own else time.time_ns()
        with self._lock:
            self._entries[str(path)] = self._dirty[str(path)] = [st.st_size, st.st_mtime_ns, st.st_ino, hashed_at, digest]

    def lookup(self, key: str) -> object | None:
        """A memoized non-file value (e.g. an FFmpeg binary's version), by an opaque key."""
        with self._lock:
            entry = self._entries.get(key)
        return entry[4] if entry else None

    def store(self, key: str, value: object) -> None:
        with self._lock:
            self._entries[key] = self._dirty[key] = [0, 0, 0, 0, value]

    def save(self) -> None:
        if self.file is None or not self._dirty:
            return
        with self._lock:
            dirty, self._dirty = self._dirty, {}
        merged = _read(self.file)
        merged.update(dirty)
        # drop entries for files that are gone, so the memo does not grow forever
        merged = {k: v for k, v in merged.items() if not os.path.isabs(k) or os.path.exists(k)}
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "files": merged}, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, self.file)


def _read(file: Path) -> dict[str, list]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
        return {}
    return {k: v for k, v in data["files"].items() if isinstance(v, list) and len(v) == 5}
