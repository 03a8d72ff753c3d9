"""nemoflow timeline: a picture of a Draft as an editor's timeline, and a contact sheet of an output (docs/timeline.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .common import ApiUrlOption, EngineOption, ParamsOption, SetOption, StateDirOption, app, fail, load_recipe, workspace

RECIPE_SUFFIXES = (".nemo",)
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".ts", ".mts", ".mxf")


@app.command()
def timeline(
    file: Path = typer.Argument(..., help="Recipe file (with --sheet, also a video file)."),
    step: Optional[str] = typer.Argument(None, help="The step to draw: an edit, ask, media or export (`edit.cut`, or just "
                                         "`cut` when the name is unique); default: the first export.", show_default=False),
    output: Path = typer.Option(..., "--output", "-o", metavar="PNG", help="The picture to write (.png)."),
    sheet: bool = typer.Option(False, "--sheet", help="A contact sheet of the export's rendered file instead: frames in a "
                               "grid, each with its time."),
    frames: int = typer.Option(12, "--frames", "-n", help="--sheet: how many frames."),
    columns: int = typer.Option(4, "--columns", help="--sheet: frames per row."),
    width: int = typer.Option(1600, "--width", "-w", help="Picture width in pixels."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a file at -o that nemoflow did not write."),
    state_dir: Optional[Path] = StateDirOption,
    engine: Optional[str] = EngineOption,
    api_url: Optional[str] = ApiUrlOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Draw a step's Draft as an editor's timeline (tracks, thumbnails at cuts, titles, waveforms, a ruler) as a PNG."""
    from ..errors import NemoflowError
    from ..pictures.png import check_destination
    from ..pictures.sheet import check_sheet, contact_sheet
    from ..pictures.timeline import check_width, timeline_picture

    started = time.monotonic()
    try:
        check_destination(output, overwrite=overwrite)
        if sheet:
            check_sheet(frames=frames, columns=columns, width=width)
        else:
            check_width(width)
        if sheet and file.suffix.lower() not in RECIPE_SUFFIXES:
            if step is not None:
                fail(f"{file} is a video, not a recipe: --sheet of a video takes no step")
            what = contact_sheet(file, output, frames=frames, columns=columns, width=width, overwrite=overwrite)
        else:
            if not sheet and file.suffix.lower() in VIDEO_SUFFIXES:
                fail(f"{file} is a video, not a recipe: a timeline is drawn from a recipe's step; for frames of a video "
                     "add --sheet")
            recipe = load_recipe(file, sets, params)
            sid = _step_id(recipe, step, file, exports_only=sheet)
            if sheet:
                video = recipe.steps[sid].spec.path
                if not video.is_file():
                    fail(f"{sid} has not been rendered: {video} does not exist; run `nemoflow run {file} {sid}` first")
                what = contact_sheet(video, output, frames=frames, columns=columns, width=width, overwrite=overwrite)
            else:
                what = timeline_picture(_draft(recipe, sid, state_dir, engine, api_url), output, width=width, overwrite=overwrite)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    typer.echo(f"wrote {what} in {time.monotonic() - started:.1f}s", err=True)
    typer.echo(str(what))


def _step_id(recipe, step: Optional[str], file: Path, *, exports_only: bool) -> str:
    """The step asked for, by id or by a name unique among the steps that have a timeline; default: the first export."""
    from ..core.model import StepKind

    kinds = (StepKind.EXPORT,) if exports_only else (StepKind.EDIT, StepKind.ASK, StepKind.MEDIA, StepKind.EXPORT)
    allowed = [sid for sid, s in recipe.steps.items() if s.kind in kinds]
    if step is None:
        exports = [sid for sid in allowed if recipe.steps[sid].kind == StepKind.EXPORT]
        if not exports:
            fail(f"{file} has no export; name the step to draw: {', '.join(allowed) or '(none)'}")
        return exports[0]
    if step in allowed:
        return step
    named = [sid for sid in allowed if sid.split(".", 1)[-1] == step]
    if len(named) == 1:
        return named[0]
    which = "export" if exports_only else "edit, ask, media or export step"
    if len(named) > 1:
        fail(f"`{step}` names several steps of {file} ({', '.join(named)}); give the whole id")
    fail(f"`{step}` is not an {which} of {file}; choose one of: {', '.join(allowed) or '(none)'}")


def _draft(recipe, sid: str, state_dir, engine, api_url):
    """The step's Draft, from the cache where it ran before (as `nemoflow draft` reads it); only nemoflow's own kind."""
    from ..core.model import StepKind
    from ..draft.media import MediaKind
    from ..draft.model import AUDIO, Draft, Segment, Track

    ws = workspace(recipe, state_dir=state_dir, engine=engine, api_url=api_url)
    with ws.reading() as steps:
        step = recipe.steps[sid]
        if step.kind == StepKind.MEDIA and steps.media(sid).kind == MediaKind.AUDIO:  # a sound alone: one audio track
            entry = steps.media(sid)
            made = Draft(t=(Track(AUDIO, (Segment(0, entry.d or 0, {"src": sid}),), {"name": "Audio"}),),
                         m={"name": sid, "media": {sid: entry.to_json()}})
        else:
            made = steps.export_draft(step)[0] if step.kind == StepKind.EXPORT else steps.draft(sid)
    if not isinstance(made, Draft):
        fail(f"{sid}'s timeline is the {ws.engine.name} engine's own, not a nemoflow Draft, so it cannot be drawn; draw the "
             "step before its `ask`, or run it on the local engine")
    return made
