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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..core.hashing import sha256_file
from ..plan.digests import DigestMemo
from ..plan.keys import Component, components_from
from ..plan.planner import LastRun, OutputCheck

_KEY = re.compile(r"[0-9a-f]{64}")
RECORD = "record.json"
COMPONENTS = "components.json"
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# nemoflow's cache (https://bford.info/cachedir/)\n"


def write_json(path: Path, data: Any) -> None:
    """Write JSON beside its destination and rename, so readers never see half a file.

    The temporary name is unique per call (threads of one run may write the same file).
    """
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=1, ensure_ascii=False))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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
        self.store = Store(root / "store")

    def exists(self) -> bool:
        return self.root.is_dir()

    def create(self) -> None:
        self.recipe_dir.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# nemoflow's cache and run state; safe to delete\n*\n", encoding="utf-8")
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text(_TAG, encoding="utf-8")

    def other_recipes_keys(self) -> set[str]:
        """Keys that other recipes sharing this state dir used last: `clean` keeps them."""
        keys: set[str] = set()
        for last in (self.root / "recipes").glob("*/last.json"):
            if last == self.last_file:
                continue
            data = read_json(last) or {}
            keys.update(v.get("key", "") for v in data.get("steps", {}).values() if isinstance(v, dict))
        return keys


class Store:
    """Records and outputs by key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> dict[str, Any] | None:
        record = read_json(self.dir(key) / RECORD)
        return record if isinstance(record, dict) and record.get("key") == key else None

    def components(self, key: str) -> tuple[Component, ...] | None:
        """The components a key was made of (kept for `explain`), if the store still has them and they read back whole."""
        if not _KEY.fullmatch(key or ""):
            return None
        for name in (RECORD, COMPONENTS):
            data = read_json(self.dir(key) / name)
            comps = data.get("components") if name == RECORD and isinstance(data, dict) else data
            found = components_from(comps) if comps is not None else None
            if found is not None:
                return found
        return None

    def note_components(self, key: str, components: list[dict[str, Any]]) -> None:
        """Written when a step starts, so a step that fails or is killed can still be explained next time."""
        path = self.dir(key) / COMPONENTS
        if not path.exists():
            write_json(path, components)

    def put(self, key: str, record: dict[str, Any], outputs: list[Path], base: Path, digests: DigestMemo) -> dict[str, Any]:
        """Keep `outputs` (hard links where possible) and commit the record; returns the record written."""
        where = self.dir(key)
        where.mkdir(parents=True, exist_ok=True)
        kept = []
        for i, path in enumerate(outputs):
            digest = sha256_file(path)
            digests.remember(path, digest, own=True)
            obj = where / f"{i}{path.suffix}"
            _link_or_copy(path, obj)
            kept.append({"path": os.path.relpath(path, base), "sha256": digest, "size": path.stat().st_size, "object": obj.name})
        record = {**record, "key": key, "outputs": kept}
        write_json(where / RECORD, record)
        return record

    def check_outputs(self, record: dict[str, Any], base: Path, digests: DigestMemo) -> OutputCheck:
        """Are a record's outputs in place and unchanged? If not, can the store put them back?"""
        for out in record.get("outputs", []):
            digest = digests.digest(base / out["path"])
            if digest == out["sha256"]:
                continue
            reason = "output missing" if digest is None else "output modified"
            obj = self.dir(record["key"]) / out["object"]
            restorable = digests.digest(obj) == out["sha256"]  # a hard link edited in place is damaged too
            return OutputCheck(False, f"{reason}: {out['path']}", restorable)
        return OutputCheck(True)

    def restore(self, record: dict[str, Any], base: Path, digests: DigestMemo) -> bool:
        """Put a record's outputs back from the store (verified by digest); False if the store copy is damaged."""
        for out in record.get("outputs", []):
            dest = base / out["path"]
            obj = self.dir(record["key"]) / out["object"]
            if not obj.is_file() or sha256_file(obj) != out["sha256"]:
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
        if not self.root.is_dir():
            return []
        return [d.name for shard in self.root.iterdir() if shard.is_dir() for d in shard.iterdir() if d.is_dir()]

    def size(self, key: str) -> int:
        if not self.dir(key).is_dir():
            return 0
        return sum(f.stat().st_size for f in self.dir(key).iterdir() if f.is_file())

    def remove(self, key: str) -> None:
        shutil.rmtree(self.dir(key), ignore_errors=True)
        with contextlib.suppress(OSError):
            self.dir(key).parent.rmdir()


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link costs no space; across file systems (or where links are refused) copy instead."""
    with contextlib.suppress(FileNotFoundError):
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class StoreHistory:
    """The planner's view of the state directory (plan/planner.History): records, outputs, components, last runs."""

    def __init__(self, store: Store, base: Path, digests: DigestMemo, last: dict[str, LastRun]) -> None:
        self.store = store
        self.base = base
        self.digests = digests
        self._last = last

    def record(self, key: str) -> dict[str, Any] | None:
        return self.store.get(key)

    def check_outputs(self, record: dict[str, Any]) -> OutputCheck:
        return self.store.check_outputs(record, self.base, self.digests)

    def components(self, key: str) -> tuple[Component, ...] | None:
        return self.store.components(key)

    def last(self, step_id: str) -> LastRun | None:
        return self._last.get(step_id)
