"""Before anything renders: every export this run will write goes to an allowed, writable place, and replaces only what
nemoflow wrote itself.

    allowed    under the recipe's folder, or an output root, or anywhere with --allow-outside (core/outputs.py);
               checked again here with links resolved now, since `check` may have run before a folder became a link
    writable   the destination is not a folder or a device, its folder is a folder (or can be made) and takes a new file
    nemoflow's an existing file is replaced only if its content is an output the store recorded for that path, or it is
               what an unfinished run of that export left there (killed after writing it, or finished but not cached);
               anything else needs --overwrite

Every problem is found and reported at once, as one user error (exit 2), before any step runs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..core.model import ExportSpec, Recipe, Step, StepKind
from ..core.outputs import OutputPolicy
from ..errors import NemoflowError
from ..plan.digests import DigestMemo
from ..plan.planner import LastRun, Plan, Status
from .store import Store


class DestinationError(NemoflowError):
    """Exports that may not, or cannot, be written where the recipe says: found before anything ran."""

    exit_code = 2


Ours = Callable[[str, Path], bool]  # (step id, existing file) → did nemoflow write what is there?


def check_destinations(recipe: Recipe, plan: Plan, *, base: Path, policy: OutputPolicy, overwrite: bool, ours: Ours) -> None:
    """Raise DestinationError naming every export of `plan` that would write (run or restore) somewhere it must not."""
    problems: list[str] = []
    probed: dict[Path, str | None] = {}
    for planned in plan.steps.values():
        if planned.kind != StepKind.EXPORT or planned.status not in (Status.RUN, Status.RESTORE):
            continue
        step: Step[ExportSpec] = recipe.steps[planned.id]
        dest = step.spec.path
        where = f"{step.span}: {step.id}"
        if not policy.allows(dest, base):
            problems.append(f"{where} saves to {os.path.realpath(dest)}, outside the recipe's folder ({base}); allow it with "
                            "--allow-outside, or name a folder holding it as `output_root` under [run] in your config file "
                            "(NEMOFLOW_OUTPUT_ROOT)")
            continue
        why = unwritable(dest, probed)
        if why is not None:
            problems.append(f"{where}: {why}")
        elif not overwrite and os.path.lexists(dest) and not ours(step.id, dest):
            problems.append(f"{where}: {_shown(dest, base)} exists and nemoflow did not write it (or no longer has a record "
                            "of writing it); pass --overwrite to replace it, or move it away, or save elsewhere")
    if problems:
        head = "nothing was run: " + (f"{len(problems)} exports cannot be written" if len(problems) > 1 else "an export cannot be written")
        raise DestinationError(head + "\n  " + "\n  ".join(problems))


def unwritable(path: Path, probed: dict[Path, str | None] | None = None) -> str | None:
    """Why a file cannot be created (or replaced) at `path`, in words; None if it can.

    The folder is tried for real (a temporary file made and removed), which is the one test that holds for permissions,
    read-only mounts and special file systems alike; `probed` remembers folders already tried.
    """
    if path.is_dir():
        return f"{path} is a folder; give a file name (inside it, or elsewhere)"
    if path.exists() and not path.is_file():
        return f"{path} is a device, pipe or socket, not a file"
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.exists():
        return f"{folder} is a symbolic link to nothing, so {path} cannot be made"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder, so {path} cannot be made"
    probed = {} if probed is None else probed
    if folder not in probed:
        probed[folder] = _try_writing(folder)
    why = probed[folder]
    return None if why is None else f"cannot write {path}: the folder {folder} is not writable ({why})"


def _try_writing(folder: Path) -> str | None:
    try:
        fd, name = tempfile.mkstemp(prefix=".nemoflow-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def _shown(path: Path, base: Path) -> str:
    return os.path.relpath(path, base) if base in path.parents else str(path)


class OwnOutputs:
    """Which existing files at export paths nemoflow wrote, from what the state directory knows.

    A file is nemoflow's if its content (size, then sha256) is an output the store recorded for that path, or if the
    last run of its export was killed while running it, or finished it without caching it (a full state disk): what
    is there is what that run wrote or found already allowed. Records are read as the untrusted files they are.
    """

    def __init__(self, store: Store, base: Path, digests: DigestMemo, last: dict[str, LastRun], plan: Plan) -> None:
        self.store = store
        self.base = base
        self.digests = digests
        self.last = last
        self.plan = plan
        self._index: dict[str, set[tuple[str, int]]] | None = None

    def __call__(self, step_id: str, path: Path) -> bool:
        last = self.last.get(step_id)
        if last is not None and (last.status == "interrupted" or (last.status == "ok" and self.store.get(last.key) is None)):
            return True
        rel = os.path.relpath(path, self.base)
        try:
            size = path.stat().st_size
        except OSError:
            return False
        planned = self.plan.steps.get(step_id)
        nearby = [planned.record if planned is not None else None, self.store.get(last.key) if last is not None else None]
        known = {o for record in nearby for o in _outputs(record, rel)}
        if not any(s == size for _, s in known):
            known |= self._everything().get(rel, set())
        if not any(s == size for _, s in known):
            return False  # no hashing of a big file that cannot match
        return self.digests.digest(path) in {sha for sha, s in known if s == size}

    def _everything(self) -> dict[str, set[tuple[str, int]]]:
        """path → (sha256, size) of every output every record in the store holds (read once, only when needed)."""
        if self._index is None:
            self._index = {}
            for key in self.store.keys():
                for out in _entries(self.store.get(key)):
                    self._index.setdefault(out[0], set()).add(out[1:])
        return self._index


def _outputs(record: dict[str, Any] | None, rel: str) -> Iterator[tuple[str, int]]:
    for path, sha, size in _entries(record):
        if path == rel:
            yield sha, size


def _entries(record: dict[str, Any] | None) -> Iterator[tuple[str, str, int]]:
    outputs = record.get("outputs") if isinstance(record, dict) else None
    for out in outputs if isinstance(outputs, list) else ():
        if (isinstance(out, dict) and isinstance(out.get("path"), str) and isinstance(out.get("sha256"), str)
                and isinstance(out.get("size"), int) and not isinstance(out.get("size"), bool)):
            yield os.path.normpath(out["path"]), out["sha256"], out["size"]
