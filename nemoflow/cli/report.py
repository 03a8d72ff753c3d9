"""nemoflow report: a self-contained HTML page of a run: the plan, each export's poster, timeline and player, the
expect results and the timings (docs/report.md). `nemoflow run FILE --report DIR` writes the same page as a run ends."""

from __future__ import annotations

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
    workspace,
)

ReportOption = typer.Option(None, "--report", metavar="DIR", help="Write an HTML report of the run into DIR as it ends, "
                            "failed or not: the plan, each export's poster frame, player and timeline, the checks with "
                            "the frames that failed, the timings; self-contained (docs/report.md). DIR must be new, "
                            "empty or an earlier report.")


@app.command("report")
def report_command(
    file: Path = typer.Argument(..., help="Recipe file."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="DIR", help="The report's folder (new, empty or an "
                                          "earlier report; default: html-report/ in the recipe's state folder)."),
    run_id: Optional[str] = typer.Option(None, "--run", metavar="ID", help="Report this run of the journal (an id, or its "
                                         "start such as 20261205T1230); default: the last run."),
    state_dir: Optional[Path] = StateDirOption,
    engine: Optional[str] = EngineOption,
    api_url: Optional[str] = ApiUrlOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Write an HTML report of the recipe's last run (from its journal): open DIR/index.html in a browser."""
    from ..errors import NemoflowError
    from ..report.facts import journal_run, read_events

    recipe = load_recipe(file, sets, params)
    ws = workspace(recipe, state_dir=state_dir, engine=engine, api_url=api_url)
    try:
        facts = read_events(journal_run(ws.state.journal_dir, run_id, warn=_warn))
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    if engine is None and facts.engine and facts.engine != ws.engine.name:  # read its Drafts as the run made them
        ws = workspace(recipe, state_dir=state_dir, engine=facts.engine, api_url=api_url)
    if write_run_report(ws, facts, output if output is not None else ws.state.recipe_dir / "html-report", err=False):
        raise typer.Exit(EXIT_USER)


def check_report_option(dest: Optional[Path]) -> None:
    """`run --report DIR`: refuse an unusable folder before anything renders (exit 2)."""
    if dest is None:
        return
    from ..report.build import ReportError, check_report_dir

    try:
        check_report_dir(dest)
    except ReportError as err:
        fail(str(err), err.exit_code)


def write_run_report(ws, facts, dest: Path, *, err: bool = True) -> bool:
    """Write the report and say where; True if it could not be written (said in one line, never a traceback)."""
    from ..errors import NemoflowError
    from ..report.build import write_report

    try:
        written = write_report(ws, facts, dest)
    except NemoflowError as exc:
        typer.echo(color(f"nemoflow: error: {exc}"), err=True)
        return True
    except OSError as exc:
        typer.echo(color(f"nemoflow: error: report folder {dest}: cannot write the report ({exc.strerror or exc}); give a folder "
                         "you can write"), err=True)
        return True
    typer.echo(f"report: {written.index}  ({written.exports} export{'s' if written.exports != 1 else ''}, {written.pictures} "
               f"picture{'s' if written.pictures != 1 else ''}; {written.seconds:.1f}s)", err=err)
    return False


def _warn(text: str) -> None:
    typer.echo(color(f"nemoflow: warning: {text}"), err=True)
