"""Write a run's report folder: index.html beside copies of every file it shows, so it opens anywhere with no network.

The folder is made beside its destination under a hidden name and renamed into place when complete, so a reader never
sees half a report. A destination that holds anything nemoflow did not write (no `.nemoflow-report` marker) is refused,
as an export refuses to replace a file it did not write.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import attrs

from .. import __version__
from ..core.model import Recipe, StepKind
from ..draft.model import Draft
from ..errors import NemoflowError
from ..run.workspace import Workspace
from .facts import CheckFacts, RunFacts
from .page import CheckView, ExportView, PageInput, render_page
from .plan_svg import plan_svg

MARKER = ".nemoflow-report"  # a folder with this file was written by nemoflow and may be replaced by the next report
PLAYABLE = {".mp4": "video/mp4", ".mov": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm",
            ".mkv": "video/x-matroska"}
PICTURES = {".gif": "image/gif", ".webp": "image/webp"}  # animated exports are shown as pictures, not played


class ReportError(NemoflowError):
    """A report folder that cannot be written where asked."""

    exit_code = 2


@attrs.frozen
class Written:
    index: Path
    seconds: float
    exports: int
    pictures: int  # posters, timelines and failure pictures in the report


def check_report_dir(dest: Path) -> None:
    """Refuse a destination the report may not take (before a run, so a bad `--report` costs no render)."""
    shown = str(dest)
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise ReportError(f"report folder {shown}: it exists and is not a folder; give a folder for the report")
    if dest.is_dir():
        try:
            has_files = any(dest.iterdir())
        except OSError as exc:
            raise ReportError(f"report folder {shown}: cannot read the folder ({exc.strerror or exc})") from None
        if has_files and not (dest / MARKER).is_file():
            raise ReportError(f"report folder {shown}: the folder holds files nemoflow did not write, and a report replaces the "
                              "whole folder; give a new or empty folder (or one an earlier report made)")
    existing = dest.absolute().parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ReportError(f"report folder {shown}: cannot create it in {existing} (not a writable folder); give a folder you can write")


def write_report(ws: Workspace, facts: RunFacts, dest: Path) -> Written:
    """Write the report of `facts` (a run of `ws`'s recipe) into the folder `dest`, replacing an earlier report there."""
    started = time.monotonic()
    check_report_dir(dest)
    dest = dest.absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        os.chmod(work, 0o777 & ~_umask())
        exports = _exports(ws, facts, work)
        checks = _checks(facts, work)
        pictures = sum(bool(e.poster) + bool(e.timeline) for e in exports) + sum(len(c.pictures) for c in checks)
        html = render_page(PageInput(
            facts=facts, recipe=_shown(ws.recipe.path, Path.cwd()), plan=plan_svg(ws.recipe, facts), exports=tuple(exports),
            checks=tuple(checks), generated=datetime.now(UTC), version=__version__))
        (work / "index.html").write_text(html, encoding="utf-8")
        (work / MARKER).write_text(json.dumps({"format": 1, "run": facts.run_id, "recipe": str(ws.recipe.path)}) + "\n",
                                   encoding="utf-8")
        _swap(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Written(dest / "index.html", time.monotonic() - started, len(exports), pictures)


def _exports(ws: Workspace, facts: RunFacts, work: Path) -> list[ExportView]:
    """Each export of the run: its file copied for the player, its poster frame, its timeline picture."""
    from ..pictures.sheet import poster_frame
    from ..pictures.timeline import timeline_picture

    recipe: Recipe = ws.recipe
    wanted = [s for s in facts.of_kind(str(StepKind.EXPORT)) if s.id in recipe.steps]
    if not wanted:
        return []
    views = []
    taken: set[str] = set()
    with _reading(ws) as steps:
        for fact in wanted:
            step = recipe.steps[fact.id]
            output = fact.outputs[0] if fact.outputs else (ws.base / step.spec.path)
            stem = _unique(_safe(step.label), taken)
            missing: list[str] = []
            media = poster = timeline = None
            kind = PLAYABLE.get(output.suffix.lower()) or PICTURES.get(output.suffix.lower(), "")
            if fact.status in ("ok", "cached", "restored") and output.is_file():
                media = f"media/{stem}{output.suffix.lower()}"
                _copy(output, work / media)
                if kind.startswith("video/"):
                    poster = _picture(lambda d, m=work / media: poster_frame(m, d), work, f"posters/{stem}.png", "poster frame", missing)
            elif fact.status in ("ok", "cached", "restored"):
                missing.append(f"{_shown(output, ws.base)} is no longer there: run the recipe again to see it")
            else:
                missing.append(f"not rendered in this run ({fact.status or 'unfinished'})" + (f": {fact.error}" if fact.error else ""))
            if steps is None:
                missing.append("no timeline picture: the recipe's timelines could not be read")
            else:
                try:
                    draft, _ = steps.export_draft(step)
                except NemoflowError as err:
                    draft = None
                    missing.append(f"no timeline picture: {str(err).splitlines()[0]}")
                if isinstance(draft, Draft):
                    timeline = _picture(lambda d, dr=draft: timeline_picture(dr, d), work, f"timelines/{stem}.png",
                                        "timeline picture", missing)
                elif draft is not None:
                    missing.append(f"no timeline picture: the {ws.engine.name} engine keeps this timeline itself")
            views.append(ExportView(step=fact.id, status=fact.status, output=_shown(output, ws.base), summary=fact.summary,
                                    seconds=fact.seconds, media=media, media_type=kind, poster=poster, timeline=timeline,
                                    missing=tuple(missing)))
    return views


@contextlib.contextmanager
def _reading(ws: Workspace):
    """The workspace's steps for reading Drafts from the cache; None if the engine cannot even start."""
    try:
        manager = ws.reading()
        steps = manager.__enter__()
    except NemoflowError:
        yield None
        return
    try:
        yield steps
    finally:
        manager.__exit__(None, None, None)


def _picture(make, work: Path, name: str, what: str, missing: list[str]) -> str | None:
    """Make one picture for the page; a failure is said on the page instead of failing the report."""
    dest = work / name
    dest.parent.mkdir(exist_ok=True)
    try:
        make(dest)
    except NemoflowError as err:
        missing.append(f"no {what}: {str(err).splitlines()[0]}")
        return None
    return name if dest.is_file() else None


def _checks(facts: RunFacts, work: Path) -> list[CheckView]:
    """Every check, with copies of the pictures a failed one saved (the frame judged, the golden, the first black frame)."""
    views = []
    for n, check in enumerate(facts.checks, 1):
        pictures = []
        missing = []
        for picture in check.artifacts:
            if picture.is_file():
                name = f"checks/{n:03d}-{_safe(picture.name)}"
                _copy(picture, work / name)
                pictures.append((name, _caption(picture)))
            else:
                missing.append(f"{picture.name} is no longer there")
        views.append(CheckView(check=check, pictures=tuple(pictures), missing=tuple(missing)))
    return views


def _caption(picture: Path) -> str:
    stem = picture.stem
    for end, words in (("-actual", "the frame judged"), ("-golden", "the golden picture"), ("-first-black", "the first black frame"),
                       ("-first-frozen", "the first frozen frame")):
        if stem.endswith(end):
            return words
    return picture.name


def _copy(src: Path, dest: Path) -> None:
    """A hard link where the file system allows (no space; outputs are replaced by rename, never rewritten), else a copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _swap(work: Path, dest: Path) -> None:
    """Put the finished folder in place of the earlier report (or the empty folder)."""
    check_report_dir(dest)  # again: something may have been put there while the pictures were made
    if dest.is_dir() and any(dest.iterdir()):
        old = dest.parent / f".{dest.name}.old-{os.getpid()}"
        os.rename(dest, old)
        os.rename(work, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(work, dest)


def _unique(name: str, taken: set[str]) -> str:
    found, n = name, 1
    while found in taken:
        n += 1
        found = f"{name}-{n}"
    taken.add(found)
    return found


def _safe(name: str) -> str:
    """A file name that needs no quoting in a URL and fits any file system."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".-")
    return cleaned[:80] or "file"


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["MARKER", "CheckFacts", "ReportError", "Written", "check_report_dir", "write_report"]
