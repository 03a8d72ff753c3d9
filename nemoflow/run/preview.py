"""`nemoflow preview`: one export rendered small and fast into the state directory, once or on every change.

A preview is an ordinary run of a rewritten recipe: the chosen export saves into the preview folder of the state
directory, on the local engine, with the engine option `proxy=LINES` (what that means is the engine's:
engines/local/proxy.py). It has a state directory of its own (`<state>/preview/`), so its lock, journal and records
never touch those of full runs: a preview may run beside `nemoflow run`, and `plan`/`explain` never see it. Media,
edits and source proxies are cached as usual, so a re-render after an edit does only the export.

`watch` keeps doing that: it waits (watchfiles) for a change to the recipe, its includes or any file the export
reads, lets the burst of writes settle (debounced), renders again, and reports each outcome (errors included)
without stopping.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..core.diagnostics import RecipeError, render_all
from ..core.model import Recipe, Step, StepKind
from ..core.outputs import OutputPolicy
from ..errors import NemoflowError
from .events import Sink
from .store import StateDir

DEFAULT_LINES = 480
PREVIEW_FOLDER = "preview"  # under the state root: the previews' own state directory
SETTLE_MS = 300  # a change is acted on once the files have been quiet this long (watchfiles' `step`)
MAX_SETTLE_MS = 10_000
GROUP_MS = 3000  # ... or after this long, if they keep changing (watchfiles' `debounce`)
POLL_MS = 1000  # the watched files are also stat'ed this often: a change a file-system event missed is still seen


class PreviewError(NemoflowError):
    """The recipe has no export of that name, or several and none was named."""

    exit_code = 2


@attrs.frozen
class PreviewRequest:
    """What to preview, and how: the recipe file and export as the user named them."""

    recipe: Path
    export: str | None = None  # an export's name, label (`final[a]`) or id; None: the recipe's only export
    sets: Mapping[str, str] = attrs.field(factory=dict)  # --set NAME=VALUE
    params: Path | None = None
    state_dir: Path | None = None  # the full runs' state root (the preview's is its `preview/` folder)
    lines: int = DEFAULT_LINES
    cache: Path | None = None  # the shared cache directory (default: config.cache_dir())


@attrs.frozen
class Preview:
    """One attempt's outcome, as the CLI shows it."""

    status: str  # "rendered" | "cached" (nothing changed since the last preview) | "failed"
    seconds: float
    export: str | None = None  # the export's id, once the recipe was read
    path: Path | None = None  # the preview file (set when it exists and is current)
    error: str | None = None  # what went wrong, as a person reads it (diagnostics rendered with their source lines)
    exit_code: int = 0
    notes: tuple[str, ...] = ()  # the recipe's warnings and what the render said (notes, warnings)
    watched: tuple[Path, ...] = ()  # the files it depends on: the recipe, its includes, media, LUTs, fonts

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def preview_root(state_dir: Path | None, recipe: Path) -> Path:
    """The previews' state directory: `preview/` inside the state root full runs use."""
    from .engines import state_root

    return state_root(state_dir, recipe.resolve().parent) / PREVIEW_FOLDER


Loader = Callable[[PreviewRequest], Recipe]
"""Reads and checks the request's recipe, raising RecipeError (the CLI's: the runner does not read recipes itself)."""


def preview_once(request: PreviewRequest, load: Loader, sinks: Sequence[Sink] = ()) -> Preview:
    """Check the recipe and render the export's preview (or find it current); user errors come back as a failed Preview."""
    started = time.monotonic()
    recipe_path = request.recipe.resolve()
    try:
        recipe = load(request)
    except RecipeError as err:
        return Preview("failed", time.monotonic() - started, error=render_all(err.diagnostics, err.sources), exit_code=2,
                       watched=(recipe_path,))
    except NemoflowError as err:
        return Preview("failed", time.monotonic() - started, error=str(err), exit_code=err.exit_code, watched=(recipe_path,))
    warnings = (render_all(recipe.warnings, recipe.sources),) if recipe.warnings else ()
    watched = tuple(dict.fromkeys(p.resolve() for p in (recipe_path, *recipe.files)))
    try:
        step = choose_export(recipe, request.export)
        return _render(request, recipe, step, sinks, started, warnings, watched)
    except NemoflowError as err:
        return Preview("failed", time.monotonic() - started, error=str(err), exit_code=err.exit_code, notes=warnings,
                       watched=watched)


def choose_export(recipe: Recipe, name: str | None) -> Step:
    """The export a preview renders: the one named (by name, `name[item]` or id), else the recipe's only one."""
    exports = recipe.by_kind(StepKind.EXPORT)
    if not exports:
        raise PreviewError(f"{recipe.path} has no export to preview")
    if name is None:
        if len(exports) == 1:
            return exports[0]
        raise PreviewError(f"{recipe.path} has {len(exports)} exports; name the one to preview: "
                           + ", ".join(s.label for s in exports[:8]) + (" …" if len(exports) > 8 else ""))
    wanted = name.removeprefix("export.")
    for field in ("label", "name"):
        found = [s for s in exports if getattr(s, field) == wanted]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise PreviewError(f"`{name}` names {len(found)} exports; name one: " + ", ".join(s.label for s in found[:8]))
    raise PreviewError(f"{recipe.path} has no export `{name}`; its exports are: " + ", ".join(s.label for s in exports[:8]))


def preview_path(root: Path, recipe: Path, step: Step) -> Path:
    """Where a preview of `step` is written: `<preview state>/out/<recipe>-<hash>/<label>.mp4`."""
    folder = StateDir(root, recipe).recipe_dir.name
    return root / "out" / folder / (re.sub(r"[^A-Za-z0-9_.=+-]+", "_", step.label).strip("._") + ".mp4")


def _render(request: PreviewRequest, recipe: Recipe, step: Step, sinks: Sequence[Sink], started: float,
            warnings: tuple[str, ...], watched: tuple[Path, ...]) -> Preview:
    from ..plan.keys import files_claimed
    from .workspace import RunOptions, Workspace

    root = preview_root(request.state_dir, request.recipe)
    dest = preview_path(root, recipe.path, step)
    moved = attrs.evolve(recipe, steps={**recipe.steps, step.id: attrs.evolve(step, spec=attrs.evolve(step.spec, path=dest))})
    options = RunOptions(targets=(step.id,), state_dir=root, engine="local", engine_options={"proxy": str(request.lines)},
                         outputs=OutputPolicy(roots=(dest.parent,)), overwrite=True)  # the preview folder is nemoflow's own
    ws = Workspace(moved, options, cache=request.cache)
    said: list[str] = []
    status: dict[str, str] = {}

    def listen(event: dict[str, Any]) -> None:
        if event.get("event") == "step-message" and event.get("kind") in ("note", "warning"):
            said.append(f"{event.get('kind')}: {event.get('text')}")
        elif event.get("event") == "step-finished" and event.get("step") == step.id:
            status["export"] = str(event.get("status"))

    result = ws.run([listen, *sinks])
    try:
        watched = tuple(dict.fromkeys([*watched, *(p.resolve() for p in files_claimed(ws.keys(), moved, step.id))]))
    except NemoflowError:
        pass
    seconds = time.monotonic() - started
    notes = (*warnings, *said)
    if result.status != "ok" or status.get("export") not in ("ok", "cached", "restored"):
        why = "\n".join(f"{sid}: {message}" for sid, message in result.errors) or f"the preview of {step.id} was not made"
        return Preview("failed", seconds, step.id, None, why, result.exit_code or 1, notes, watched)
    if status["export"] == "ok":  # earlier previews go: a --watch session of a hundred saves keeps one file, not a hundred
        with contextlib.suppress(OSError, NemoflowError):
            _drop_older(ws)
    return Preview("rendered" if status["export"] == "ok" else "cached", seconds, step.id, dest, None, 0, notes, watched)


def _drop_older(ws: Any) -> None:
    """`clean` of the preview state without reading what it removes: every store entry no current key of the recipe
    (nor the last run of another recipe sharing it) uses goes (`Workspace.clean` reads and checks each record, to
    report it: a tenth of a second per preview)."""
    keep = {k.key for k in ws.keys().values()} | ws.state.other_recipes_keys()
    for key in ws.state.store.keys():
        if key not in keep:
            ws.state.store.remove(key)


# ---------------------------------------------------------------- watching


Signature = tuple[int, int, int, int] | None  # size, mtime, inode, ctime (None: missing)


def signatures(paths: Iterable[Path]) -> dict[Path, Signature]:
    """What a file looks like now, cheaply: a rewrite, a replacement by rename, or a removal changes it."""
    out: dict[Path, Signature] = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out[path] = None
            continue
        out[path] = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    return out


def watch(request: PreviewRequest, load: Loader, show: Callable[[Preview], None], *, stop: threading.Event | None = None,
          settle_ms: int = SETTLE_MS, sinks: Callable[[], Sequence[Sink]] = tuple,
          waiting: Callable[[tuple[Path, ...]], None] | None = None) -> None:
    """Preview now, then again after every change to what the preview depends on, until `stop` is set (or Ctrl-C).

    Each outcome goes to `show`, failures included: a broken recipe is shown and the loop waits for the next save.
    A change made while a render runs is seen when it ends (the files are compared with how they were when it
    started), so the last edit is always previewed.
    """
    stop = stop or threading.Event()
    watched: tuple[Path, ...] = (request.recipe.resolve(),)
    while not stop.is_set():
        before = signatures(watched)
        try:
            result = preview_once(request, load, sinks())
        except Exception as exc:  # a bug in nemoflow: said, and the loop goes on (the next save may not meet it)
            result = Preview("failed", 0.0, error=f"internal error (a bug in nemoflow, not in your recipe): "
                                                  f"{type(exc).__name__}: {exc}", exit_code=70, watched=watched)
        # after a failure (a recipe that does not check may name no files) what the last good one used stays watched
        watched = result.watched if result.ok else tuple(dict.fromkeys([*result.watched, *watched]))
        show(attrs.evolve(result, watched=watched))
        base = {**signatures(watched), **{p: s for p, s in before.items() if p in watched}}
        if waiting is not None:
            waiting(watched)
        if not _wait_for_change(watched, base, stop, settle_ms):
            return


def _wait_for_change(watched: tuple[Path, ...], base: dict[Path, Signature], stop: threading.Event, settle_ms: int) -> bool:
    """Block until a watched file differs from `base` (True) or `stop` is set (False).

    watchfiles watches the files' folders (not the files: an editor that saves by renaming a new file over the old
    one would end a watch on the file itself), and only events on the watched files count; they are grouped until
    the files have been quiet for `settle_ms`.
    """
    import watchfiles

    if signatures(watched) != base:  # changed while the last render ran
        return True
    wanted = {str(p) for p in watched}
    folders = sorted({str(p.parent) for p in watched if p.parent.is_dir()})
    if not folders:  # nothing to watch (every folder gone): look again now and then
        return _poll(watched, base, stop)
    try:
        for _changes in watchfiles.watch(*folders, watch_filter=lambda change, path: path in wanted, step=settle_ms,
                                         debounce=max(GROUP_MS, settle_ms), stop_event=stop, recursive=False,
                                         rust_timeout=POLL_MS, yield_on_timeout=True, raise_interrupt=True):
            if stop.is_set():
                return False
            if signatures(watched) != base:
                return True
    except (OSError, RuntimeError):  # a folder went away as the watch began (watchfiles' errors are RuntimeErrors)
        return _poll(watched, base, stop)
    return False


def _poll(watched: tuple[Path, ...], base: dict[Path, Signature], stop: threading.Event) -> bool:
    """`_wait_for_change` without file-system events: the files are stat'ed every POLL_MS."""
    while not stop.wait(POLL_MS / 1000):
        if signatures(watched) != base:
            return True
    return False
