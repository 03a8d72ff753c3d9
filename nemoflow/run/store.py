"""The cache store: one directory per finished step key, holding its record and its output files.

    .nemoflow/
      .gitignore  CACHEDIR.TAG      keep the cache out of git and backups
      digests.json                  content digests, memoized (plan/digests.py)
      store/ab/abcdef…/record.json  a finished step: its result, outputs and their digests
      store/ab/abcdef…/0.mp4        its output, hard-linked (or copied) from where it was saved
      recipes/<name>-<hash>/        per recipe: lock, last.json (last keys), journal/

A record is written last, atomically: a step whose record exists finished.
Outputs are kept so that switching a param back, or deleting an output by
hand, restores the file instead of rendering it again; `nemoflow clean`
drops what no current key references.

Everything read back from here is untrusted (a CI cache, another machine, a
hand edit): each file must match schemas/state.schema.json (core/untrusted.py)
or it is a cache miss with a warning. A record's output is only ever put back
at the path the *recipe* names for that step, and only if the record names
that same path; a store object is read only from the record's own folder,
never through a symbolic link.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..core.hashing import sha256_file
from ..core.untrusted import load
from ..plan.digests import DigestMemo
from ..plan.keys import Component, components_from
from ..plan.planner import LastRun, OutputCheck

_KEY = re.compile(r"[0-9a-f]{64}")
RECORD = "record.json"
COMPONENTS = "components.json"
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# nemoflow's cache (https://bford.info/cachedir/)\n"


def write_json(path: Path, data: Any) -> None:
    """Write JSON beside its destination and rename, so readers never see half a file."""
    write_text(path, json.dumps(data, indent=1, ensure_ascii=False))


def write_text(path: Path, text: str) -> None:
    """Write a temporary file beside `path` and rename it into place: `path` is whole or untouched, even on a full disk.

    The temporary name is unique per call (threads of one run may write the same file); it is removed if anything fails.
    """
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any | None:
    """Any JSON file nemoflow wrote (bounded, never raising); what it holds is unchecked: prefer `load` with a definition."""
    from ..core.untrusted import parse, read_bytes

    try:
        raw = read_bytes(path)
        return None if raw is None else parse(raw)
    except ValueError:
        return None


Warn = Callable[[str], None]


class StateDir:
    """`.nemoflow/` beside the recipe (or where configured): paths and one-time setup."""

    def __init__(self, root: Path, recipe: Path) -> None:
        self.root = root
        stem = recipe.stem or "recipe"
        digest = hashlib.sha256(str(recipe.resolve()).encode()).hexdigest()[:8]
        self.recipe_dir = root / "recipes" / f"{stem}-{digest}"
        self.journal_dir = self.recipe_dir / "journal"
        self.last_file = self.recipe_dir / "last.json"
        self.lock_file = self.recipe_dir / "lock"
        self.digests_file = root / "digests.json"
        self.warnings: list[str] = []  # what was ignored as damaged, in order, each once
        self.on_warning: Warn | None = None  # where warnings go as they happen (a run's events); else they wait in `warnings`
        self._warn_lock = threading.Lock()
        self.store = Store(root / "store", warn=self.warn)

    def warn(self, text: str) -> None:
        """Say once that something in the state directory was ignored (and what that costs)."""
        with self._warn_lock:
            if text in self.warnings:
                return
            self.warnings.append(text)
            sink = self.on_warning
        if sink is not None:
            sink(text)

    def read_last(self, path: Path | None = None) -> dict[str, Any] | None:
        """last.json (this recipe's unless `path`), validated; a damaged one is ignored with a warning."""
        path = path or self.last_file
        found = load(path, "last")
        if found.problem is not None:
            self.warn(f"ignored {path} ({found.problem}); plans say less about why steps run")
        return found.data

    def exists(self) -> bool:
        return self.root.is_dir()

    def create(self) -> None:
        self.recipe_dir.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            write_text(ignore, "# nemoflow's cache and run state; safe to delete\n*\n")  # whole or absent, even on a full disk
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            write_text(tag, _TAG)

    def other_recipes_keys(self) -> set[str]:
        """Keys that other recipes sharing this state dir used last: `clean` keeps them."""
        keys: set[str] = set()
        for last in (self.root / "recipes").glob("*/last.json"):
            if last == self.last_file:
                continue
            data = self.read_last(last) or {"steps": {}}
            keys.update(v["key"] for v in data["steps"].values())
        return keys


class NotCached(Exception):
    """A finished step's outputs could not be kept in the store (disk full, read-only, …): the outputs are fine, the step is not cached.

    Whatever the store had written for it is removed again; `record` is the record that would have been kept.
    """

    def __init__(self, record: dict[str, Any], error: OSError, state_dir: Path) -> None:
        super().__init__(str(error))
        self.record = record
        self.error = error
        self.state_dir = state_dir

    def advice(self) -> str:
        """One warning for people: what happened, that the output is complete, what the next run does, what to do."""
        code = self.error.errno
        why = self.error.strerror or str(self.error)
        if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            what, fix = f"the state directory {self.state_dir} is full ({why})", "free space there"
        elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
            what, fix = f"the state directory {self.state_dir} is not writable ({why})", "make it writable"
        else:
            what, fix = f"writing into the state directory {self.state_dir} failed ({why})", "check that directory"
        return (f"not cached: {what}; the output is complete, and the next run renders this step again. "
                f"To cache it, {fix}, or use --state-dir DIR")


@attrs.frozen
class Expected:
    """What the recipe says a key's record must be: the step it belongs to, its kind, and the files it saves."""

    step: str
    kind: str
    outputs: tuple[Path, ...]  # absolute: where the recipe saves them (an export's `save`); nothing else is ever written


class Store:
    """Records and outputs by key."""

    def __init__(self, root: Path, *, warn: Warn | None = None) -> None:
        self.root = root
        self._warn: Warn = warn or (lambda text: None)
        self._warned: set[Path] = set()
        self._warned_lock = threading.Lock()

    def warn(self, path: Path, text: str) -> None:
        """One warning per damaged file, however many times (and by whom) it is read."""
        with self._warned_lock:
            if path in self._warned:
                return
            self._warned.add(path)
        self._warn(text)

    def dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str, expected: Expected | None = None, base: Path | None = None) -> dict[str, Any] | None:
        """The record of `key` if there is one and it is sound; a damaged or foreign one is a miss, with a warning.

        Sound: it matches schemas/state.schema.json#/$defs/record and names `key`; given `expected` (and the recipe's
        folder `base`), it is also of that step's kind and its outputs are exactly the recipe's paths for it.
        """
        if not _KEY.fullmatch(key or ""):
            return None
        path = self.dir(key) / RECORD
        found = load(path, "record")
        for_step = f" for {expected.step}" if expected is not None else ""
        if found.problem is not None:
            self.warn(path, f"ignored the cache record {path}{for_step} ({found.problem}); it is not used, the step runs again")
            return None
        record = found.data
        if record is None:
            return None
        problem = None
        if record["key"] != key:
            problem = "it names another key"
        elif expected is not None and record["kind"] != expected.kind:
            problem = f"it is the record of a {record['kind']} step, not a {expected.kind} step"
        elif expected is not None and base is not None:
            wanted = [_relative(p, base) for p in expected.outputs]
            named = [os.path.normpath(out["path"]) for out in record["outputs"]]
            if named != wanted:
                problem = (f"it names the output{'s' if len(named) != 1 else ''} {', '.join(map(repr, named)) or 'none'}, "
                           f"but the recipe saves {expected.step} to {', '.join(map(repr, wanted)) or 'no file'}")
        if problem is not None:
            self.warn(path, f"ignored the cache record {path}{for_step} ({problem}); it is not used, the step runs again")
            return None
        return record

    def _object(self, key: str, name: str) -> Path | None:
        """A record's stored copy, if it is a regular file in the record's own folder (no link, nothing outside the store)."""
        where = self.dir(key)
        obj = where / name
        try:
            st = os.lstat(obj)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or Path(name).name != name:
            return None
        root = os.path.realpath(self.root)
        if os.path.commonpath([root, os.path.realpath(obj)]) != root:
            return None
        return obj

    def components(self, key: str) -> tuple[Component, ...] | None:
        """The components a key was made of (kept for `explain`), if the store still has them and they read back whole."""
        if not _KEY.fullmatch(key or ""):
            return None
        for name, definition in ((RECORD, "record"), (COMPONENTS, "components")):
            path = self.dir(key) / name
            loaded = load(path, definition)
            if loaded.problem is not None:
                self.warn(path, f"ignored {path} ({loaded.problem}); `explain` says less about what changed")
                continue
            data = loaded.data
            comps = data.get("components") if name == RECORD and isinstance(data, dict) else data
            found = components_from(comps) if comps is not None else None
            if found is not None:
                return found
        return None

    def note_components(self, key: str, components: list[dict[str, Any]]) -> None:
        """Written when a step starts, so a step that fails or is killed can still be explained next time."""
        path = self.dir(key) / COMPONENTS
        if not load(path, "components").ok:  # absent, or damaged: (re)written
            write_json(path, components)

    def put(self, key: str, record: dict[str, Any], outputs: list[Path], base: Path, digests: DigestMemo) -> dict[str, Any]:
        """Keep `outputs` (hard links where possible), then commit the record; returns the record written.

        Each object appears whole under its name or not at all, and the record only once every object is in place.
        If the state directory cannot take them (full, read-only, …), what this call wrote is removed again and
        NotCached says why: the outputs themselves are complete and untouched.
        """
        kept = []
        for i, path in enumerate(outputs):
            digest = sha256_file(path)
            digests.remember(path, digest, own=True)
            kept.append({"path": os.path.relpath(path, base), "sha256": digest, "size": path.stat().st_size,
                         "object": f"{i}{path.suffix}"})
        record = {**record, "key": key, "outputs": kept}
        where = self.dir(key)
        placed: list[Path] = []
        try:
            where.mkdir(parents=True, exist_ok=True)
            for path, out in zip(outputs, kept, strict=True):
                _link_or_copy(path, where / out["object"])
                placed.append(where / out["object"])
            write_json(where / RECORD, record)
        except OSError as exc:
            for obj in placed:
                with contextlib.suppress(OSError):
                    obj.unlink()
            with contextlib.suppress(OSError):
                where.rmdir()  # only if nothing else is there
            raise NotCached(record, exc, self.root.parent) from exc
        for path, out in zip(outputs, kept, strict=True):  # linking moved each output's ctime: remember it as it is now
            digests.remember(path, out["sha256"], own=True)
        return record

    def check_outputs(self, record: dict[str, Any], dests: Sequence[Path], base: Path, digests: DigestMemo) -> OutputCheck:
        """Are a record's outputs in place (at `dests`, the recipe's paths) and unchanged? If not, can the store put them back?"""
        if len(dests) != len(record["outputs"]):
            return OutputCheck(False, "the cache record does not match the recipe")
        for out, dest in zip(record["outputs"], dests, strict=True):
            digest = digests.digest(dest)
            if digest == out["sha256"]:
                continue
            reason = "output missing" if digest is None else "output modified"
            obj = self._object(record["key"], out["object"])
            restorable = obj is not None and digests.digest(obj) == out["sha256"]  # a hard link edited in place is damaged too
            return OutputCheck(False, f"{reason}: {_relative(dest, base)}", restorable)
        return OutputCheck(True)

    def restore(self, record: dict[str, Any], dests: Sequence[Path], digests: DigestMemo) -> bool:
        """Put a record's outputs back from the store at `dests`, the paths the recipe names (never a path from the record).

        Each copy is verified by digest first; False if one is damaged, missing or not a plain file of the store.
        """
        if len(dests) != len(record["outputs"]):
            return False
        for out, dest in zip(record["outputs"], dests, strict=True):
            obj = self._object(record["key"], out["object"])
            if obj is None or sha256_file(obj) != out["sha256"]:
                return False
            if digests.digest(dest) == out["sha256"]:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.stem}.restore{dest.suffix}")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            _link_or_copy(obj, tmp)
            os.replace(tmp, dest)
            digests.remember(dest, out["sha256"], own=True)
        return True

    def keys(self) -> list[str]:
        """Keys with a folder in the store: only names a key can have, in the shard a key goes in (nothing else is touched)."""
        if not self.root.is_dir():
            return []
        return [d.name for shard in self.root.iterdir() if shard.is_dir() and not shard.is_symlink()
                for d in shard.iterdir() if _KEY.fullmatch(d.name) and d.name[:2] == shard.name and d.is_dir()]

    def size(self, key: str) -> int:
        if not self.dir(key).is_dir():
            return 0
        return sum(f.stat().st_size for f in self.dir(key).iterdir() if f.is_file())

    def remove(self, key: str) -> None:
        shutil.rmtree(self.dir(key), ignore_errors=True)
        with contextlib.suppress(OSError):
            self.dir(key).parent.rmdir()


def _relative(path: Path, base: Path) -> str:
    """`path` as a record names it: relative to the recipe's folder, normalized."""
    try:
        return os.path.normpath(os.path.relpath(path, base))
    except ValueError:  # another drive (Windows)
        return str(path)


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link costs no space; across file systems (or where links are refused) copy instead.

    Either way under a temporary name, renamed to `dst` when complete: a full disk or a kill mid-copy never leaves a
    short file named as the finished one, and the temporary is removed if the copy fails.
    """
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    finally:  # gone after the rename; still there if anything failed, or if `dst` already was this very file (rename(2))
        with contextlib.suppress(OSError):
            tmp.unlink()


class StoreHistory:
    """The planner's view of the state directory (plan/planner.History): records, outputs, components, last runs.

    `expected` says, for a current key, which step of the recipe it is and where that step saves its files: records
    are checked against it, and outputs are checked and restored only there.
    """

    def __init__(self, store: Store, base: Path, digests: DigestMemo, last: dict[str, LastRun],
                 expected: Callable[[str], Expected | None] = lambda key: None) -> None:
        self.store = store
        self.base = base
        self.digests = digests
        self._last = last
        self.expected = expected

    def record(self, key: str) -> dict[str, Any] | None:
        return self.store.get(key, self.expected(key), self.base)

    def _dests(self, record: dict[str, Any]) -> tuple[Path, ...]:
        found = self.expected(record["key"])
        return found.outputs if found is not None else ()

    def check_outputs(self, record: dict[str, Any]) -> OutputCheck:
        return self.store.check_outputs(record, self._dests(record), self.base, self.digests)

    def restore(self, record: dict[str, Any]) -> bool:
        """Put a record's outputs back where the recipe saves them."""
        return self.store.restore(record, self._dests(record), self.digests)

    def components(self, key: str) -> tuple[Component, ...] | None:
        return self.store.components(key)

    def last(self, step_id: str) -> LastRun | None:
        return self._last.get(step_id)
