"""nemoflow otio and nemoflow import: a cut to and from OpenTimelineIO and the NLE formats its adapters write (docs/otio.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from .common import (
    EXIT_USER,
    ApiUrlOption,
    EngineOption,
    ParamsOption,
    SetOption,
    StateDirOption,
    app,
    color,
    fail,
    load_recipe,
    report,
    workspace,
)

OverwriteOption = typer.Option(False, "--overwrite", help="Replace the file if it exists (by default an existing file is left "
                               "alone and nothing is written).")


def _interchange():
    """The interchange package, after making sure OpenTimelineIO is there (exit 2 saying what to install)."""
    from .. import interchange
    from ..errors import NemoflowError

    try:
        interchange.otio()
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    return interchange


def _free(dest: Path, overwrite: bool) -> None:
    if dest.is_dir():
        fail(f"{dest} is a folder; give a file name with -o")
    if dest.exists() and not overwrite:
        fail(f"{dest} exists and nemoflow did not just write it; nothing was written. Choose another name, or pass "
             "--overwrite to replace it")


@app.command("otio")
def otio_command(
    file: Path = typer.Argument(..., help="Recipe file."),
    export: Optional[str] = typer.Argument(None, help="The export whose cut to write (`final` or `export.final`); "
                                           "default: the recipe's only export."),
    output: Path = typer.Option(..., "--output", "-o", help="The cut to write: cut.otio, cut.fcpxml, cut.xml (FCP 7), "
                                "cut.edl, cut.kdenlive."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="otio, fcpxml, fcp7xml, edl or kdenlive "
                                         "(default: from the file's suffix)."),
    overwrite: bool = OverwriteOption,
    state_dir: Optional[Path] = StateDirOption,
    engine: Optional[str] = EngineOption,
    api_url: Optional[str] = ApiUrlOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Write an export's timeline as an OpenTimelineIO cut (or FCP XML, EDL, Kdenlive) for finishing in an NLE."""
    interchange = _interchange()
    from ..core.model import StepKind
    from ..draft.model import Draft
    from ..errors import NemoflowError
    from ..interchange import formats
    from ..interchange.to_otio import ExportInfo, draft_to_timeline

    try:
        fmt = formats.choose(output, format)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    _free(output, overwrite)
    recipe = load_recipe(file, sets, params)
    exports = [sid for sid, s in recipe.steps.items() if s.kind == StepKind.EXPORT]
    if export is None:
        if len(exports) != 1:
            fail(f"{file} has {len(exports)} exports ({', '.join(exports) or 'none'}); name the one to write")
        sid = exports[0]
    else:
        sid = export if export.startswith("export.") else f"export.{export}"
        if sid not in exports:
            fail(f"`{export}` is not an export of {file}; exports: {', '.join(exports) or 'none'}")
    ws = workspace(recipe, state_dir=state_dir, engine=engine, api_url=api_url)
    dest_dir = output.resolve().parent

    def locate(entry) -> str:
        path = Path(entry.path)
        return os.path.relpath(path, dest_dir).replace(os.sep, "/") if fmt.relative_paths else formats.file_url(path)

    try:
        with ws.reading() as steps:
            draft, out = steps.export_draft(recipe.steps[sid])
        if not isinstance(draft, Draft):
            fail(f"{sid} renders a timeline kept by the {engine or 'nemo'} service (an `ask`), not a nemoflow Draft; "
                 "write the cut of an export of an edit")
        info = ExportInfo(name=recipe.steps[sid].name, width=out.width, height=out.height, fps=out.fps)
        timeline = draft_to_timeline(draft, info, locate)
        written = _census(interchange.otio(), timeline)
        dropped = formats.prepare(timeline, fmt)
        formats.write(timeline, output, fmt)
        back = formats.read(output, fmt, fps=out.fps)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    for warning in dropped:
        typer.echo(color(f"nemoflow: warning: {warning}"), err=True)
    read = _census(interchange.otio(), back)
    typer.echo(f"wrote {output} ({fmt.name} at {out.fps:g} fps: {written}; read back by OTIO's {fmt.adapter} adapter: {read})")


def _census(o, timeline) -> str:
    """`3 picture clips, 1 transition, 2 sounds, 2 markers`: what a timeline holds, to compare written and read back."""
    video = [t for t in timeline.tracks if t.kind == o.schema.TrackKind.Video]
    audio = [t for t in timeline.tracks if t.kind == o.schema.TrackKind.Audio]
    counts = {
        "picture clip": sum(1 for i in video[0] if isinstance(i, o.schema.Clip)) if video else 0,
        "transition": sum(1 for t in video for i in t if isinstance(i, o.schema.Transition)),
        "sound": sum(1 for t in audio for i in t if isinstance(i, o.schema.Clip)),
        "marker": len(timeline.tracks.markers) + sum(len(t.markers) + sum(len(getattr(i, "markers", [])) for i in t)
                                                     for t in timeline.tracks),
    }
    return ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for word, n in counts.items())


@app.command("import")
def import_command(
    cut: Path = typer.Argument(..., help="A cut: .otio, .fcpxml, .xml (FCP 7), .edl, .kdenlive."),
    output: Path = typer.Option(..., "--output", "-o", help="The recipe to write (e.g. recipe.nemo)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="otio, fcpxml, fcp7xml, edl or kdenlive "
                                         "(default: from the file's suffix)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="The cut's frame rate, for an EDL (which does not say it; "
                                        "default 24), or to override the file's."),
    overwrite: bool = OverwriteOption,
) -> None:
    """Turn a cut made in an NLE (or by `nemoflow otio`) into a formatted recipe; warns about what it cannot say."""
    _interchange()
    from ..core.diagnostics import RecipeError
    from ..errors import NemoflowError
    from ..interchange import formats
    from ..interchange.to_recipe import timeline_to_recipe
    from ..lang.check import check_file

    if fps is not None and not 1 <= fps <= 240:
        fail(f"--fps takes a frame rate from 1 to 240; got {fps:g}")
    try:
        fmt = formats.choose(cut, format)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    if output.suffix != ".nemo":
        fail(f"-o {output}: a recipe's name ends in .nemo")
    _free(output, overwrite)
    try:
        timeline = formats.read(cut, fmt, fps=fps)
        made = timeline_to_recipe(timeline, cut=cut, recipe=output, fps=fps)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    if fmt.name == "fcpxml" and round(timeline.duration().rate) in (23, 29, 59) and timeline.duration().rate % 1 == 0:
        typer.echo(color("nemoflow: warning: OTIO's fcpxml reader truncates 23.976/29.97/59.94 fps to 23/29/59 "
                         "(OpenTimelineIO issue #903): cuts may be a frame off; fcp7xml or otio keep them exact"), err=True)
    if fmt.name == "edl" and fps is None:
        typer.echo(color("nemoflow: warning: an EDL does not say its frame rate; read at 24 fps (give --fps 29.97 for "
                         "another)"), err=True)
    for warning in made.warnings:
        typer.echo(color(f"nemoflow: warning: {warning}"), err=True)
    try:
        formats.write_text_atomic(output, made.text)
    except OSError as exc:
        fail(f"cannot write {output} ({exc.strerror or exc})")
    try:
        checked = check_file(output, {}, None, display=str(output))
    except RecipeError as err:
        report(err.diagnostics, err.sources)
        typer.echo(color(f"nemoflow: error: wrote {output}, but it does not check (above); fix the media paths or "
                         "clauses named, then `nemoflow check` it"), err=True)
        raise typer.Exit(EXIT_USER) from None
    report(checked.warnings, checked.sources)
    n = len(made.warnings)
    typer.echo(f"wrote {output} from {cut} ({fmt.name}; {n} warning{'s' if n != 1 else ''})")
