"""Content digests of files, memoized by path and stat signature (size, mtime, inode, ctime).

Cache keys use what a file holds, not when it was touched (git does not keep
mtimes), but hashing a 4K source on every run would cost seconds. So a
digest is reused while the file's (size, mtime, inode, ctime) are unchanged.
ctime is in the signature because nobody can set it: an edit whose mtime was
put back (`touch -r`, a restore tool), or a file moved away and back, still
moves it (git compares it too, unless core.trustctime is off). As in git's
"racily clean" rule, a digest taken less than two seconds after the file's
mtime is not trusted later: an edit within the same timestamp tick could
otherwise go unseen.

Within a run, the first look at each file is kept as its *witness*: the
signature the key's digest was taken under. After a step ran, `changed()`
compares every file its key claims against its witness, so a source replaced
while the step read it (even if put back since) is never cached as the
file the key names (run/workspace.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from ..core.hashing import sha256_file
from ..core.untrusted import load

FORMAT = 2  # 2: ctime joined the signature
_RACY_NS = 2_000_000_000


@attrs.frozen
class Witness:
    """How a file looked when its digest was taken (or found in the memo) this run."""

    signature: tuple[int, ...] | None  # (size, mtime_ns, inode, ctime_ns, device); None: the file did not exist
    digest: str | None
    racy: bool  # changed less than _RACY_NS before it was looked at: equal times may hide a change, so read it again


def _signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_dev)


class DigestMemo:
    """path → sha256, kept in one JSON file; `save()` merges with what other runs wrote meanwhile."""

    def __init__(self, file: Path | None, *, warn: Callable[[str], None] | None = None) -> None:
        self.file = file
        self.warn = warn or (lambda text: None)
        self._lock = threading.Lock()
        self._entries: dict[str, list] = {}
        self._dirty: dict[str, list] = {}
        self._witnesses: dict[str, Witness] = {}
        self.hashed: list[str] = []  # paths hashed this run (for reports and tests)
        if file is not None:
            self._entries = _read(file, self.warn)

    def digest(self, path: Path) -> str | None:
        """The file's sha256, or None if it does not exist."""
        key = str(path)
        looked_at = time.time_ns()
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._witness(key, Witness(None, None, False))
            return None
        sig = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
        changed_at = max(st.st_mtime_ns, st.st_ctime_ns)
        racy = looked_at - changed_at < _RACY_NS
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[:4] == sig and entry[4] - st.st_mtime_ns > _RACY_NS:  # git's racy rule: on mtime
            self._witness(key, Witness(_signature(st), entry[5], racy))
            return entry[5]
        digest = sha256_file(path)
        with self._lock:
            self._entries[key] = self._dirty[key] = [*sig, looked_at, digest]
            self.hashed.append(key)
        self._witness(key, Witness(_signature(st), digest, racy))
        return digest

    def _witness(self, key: str, witness: Witness) -> None:
        """Keep the first look of the run: the one the keys were computed from."""
        with self._lock:
            self._witnesses.setdefault(key, witness)

    def changed(self, paths: Iterable[Path]) -> list[Path]:
        """Files that are not as they were when this run first took their digest: moved, replaced, written, even if put back.

        A stat per file; a file whose witness was racy (changed within two seconds of that first look, where equal
        times prove nothing) is also read again and compared by content. Paths never digested this run are skipped.
        """
        out = []
        for path in paths:
            with self._lock:
                witness = self._witnesses.get(str(path))
            if witness is None:
                continue
            try:
                now: tuple[int, ...] | None = _signature(os.stat(path))
            except (FileNotFoundError, NotADirectoryError):
                now = None
            if now != witness.signature:
                out.append(path)
            elif witness.racy and now is not None and sha256_file(path) != witness.digest:
                out.append(path)
        return out

    def remember(self, path: Path, digest: str, *, own: bool = False) -> None:
        """Record a digest computed elsewhere.

        `own`: a file this run just finished writing and renamed into place, so
        no other writer can share its mtime tick; its digest is trusted at once
        (otherwise the next run would hash every fresh 4K output again).
        """
        st = os.stat(path)
        hashed_at = st.st_mtime_ns + _RACY_NS + 1 if own else time.time_ns()
        with self._lock:
            self._entries[str(path)] = self._dirty[str(path)] = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns,
                                                                 hashed_at, digest]

    def lookup(self, key: str) -> object | None:
        """A memoized non-file value (e.g. an FFmpeg binary's version), by an opaque key."""
        with self._lock:
            entry = self._entries.get(key)
        return entry[5] if entry else None

    def store(self, key: str, value: str) -> None:
        with self._lock:
            self._entries[key] = self._dirty[key] = [0, 0, 0, 0, 0, value]

    def save(self) -> None:
        if self.file is None or not self._dirty:
            return
        with self._lock:
            dirty, self._dirty = self._dirty, {}
        merged = _read(self.file, lambda text: None)  # already said when this run began, if it was damaged then
        merged.update(dirty)
        # drop entries for files that are gone, so the memo does not grow forever
        merged = {k: v for k, v in merged.items() if not os.path.isabs(k) or os.path.exists(k)}
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"format": FORMAT, "files": merged}, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.file)
        except BaseException:  # a full disk: no half-written temporary left behind
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def _read(file: Path, warn: Callable[[str], None]) -> dict[str, list]:
    """digests.json, validated (schemas/state.schema.json#/$defs/digests); a damaged or foreign one is ignored: files are hashed again."""
    found = load(file, "digests")
    if found.problem is not None and not found.problem.startswith("format:"):  # another version's memo: just not used
        warn(f"ignored the digest memo {file} ({found.problem}); files are hashed again")
        return {}
    return dict(found.data["files"]) if found.data is not None else {}
