"""nemoflow preview [--watch]: a proxy-quality render of an export, re-rendered as the recipe or its media change (docs/preview.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer

from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    ParamsOption,
    SetOption,
    StateDirOption,
    app,
    color,
    fail,
    overrides,
    terminate_as_interrupt,
)


@app.command()
def preview(
    file: Path = typer.Argument(..., help="Recipe file."),
    export: Optional[str] = typer.Argument(None, help="The export to preview, by name (default: the recipe's only export).",
                                           show_default=False),
    watch: bool = typer.Option(False, "--watch", "-w", help="Keep watching the recipe, its includes and every file the export "
                               "reads; render again after each change, and show errors without stopping (Ctrl-C to stop)."),
    height: int = typer.Option(480, "--height", metavar="LINES", help="Lines of the preview picture (never more than the "
                               "export's own)."),
    debounce: int = typer.Option(300, "--debounce", metavar="MS", help="With --watch: render once the files have been quiet "
                                 "this long (an editor's save is often several writes)."),
    state_dir: Optional[Path] = StateDirOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Render an export at proxy quality (480 lines, fastest settings) into the state directory and print its path.

    Same recipe, same filter graph as `nemoflow run`, on this machine; large sources are copied once at the preview's
    size and reused. The export's own file is not touched. Exit 0 with the path on stdout; 2 on a recipe error; 1 when
    the render failed. With --watch, every render prints its path again (stdout) and its status or error (stderr).
    """
    from ..engines.local.proxy import MAX_LINES, MIN_LINES
    from ..run.preview import MAX_SETTLE_MS, PreviewRequest

    if not MIN_LINES <= height <= MAX_LINES:
        fail(f"--height takes the preview's lines, from {MIN_LINES} to {MAX_LINES} (e.g. 480); got {height}")
    if not 0 <= debounce <= MAX_SETTLE_MS:
        fail(f"--debounce takes milliseconds, from 0 to {MAX_SETTLE_MS}; got {debounce}")
    request = PreviewRequest(file, export, overrides(sets), params, state_dir.resolve() if state_dir else None, height)

    previous = terminate_as_interrupt()  # SIGTERM stops a preview as Ctrl-C does: FFmpeg killed, no partial file
    try:
        if watch:
            _watch(request, debounce)
        else:
            _once(request)
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def _once(request) -> None:
    from ..run.preview import preview_once

    display = _Display()
    try:
        result = preview_once(request, load_for_preview, display.sinks)
    except KeyboardInterrupt:
        display.stop()
        typer.echo("nemoflow: interrupted; FFmpeg was stopped, and no partial preview was kept", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        display.stop()
    _show(result, stamp=False)
    raise typer.Exit(result.exit_code)


def _watch(request, debounce: int) -> None:
    from ..run.preview import watch

    display = _Display()

    def show(result) -> None:
        _show(result, stamp=True)

    def waiting(paths) -> None:
        typer.echo(f"watching {len(paths)} file{'s' if len(paths) != 1 else ''} for changes (Ctrl-C to stop)", err=True)

    try:
        watch(request, load_for_preview, show, settle_ms=max(1, debounce), sinks=lambda: display.sinks, waiting=waiting)
    except KeyboardInterrupt:
        display.stop()
        typer.echo("nemoflow: stopped watching", err=True)
    raise typer.Exit(EXIT_OK)


def load_for_preview(request):
    """The request's recipe, checked (RecipeError on errors). Its exports' own `save` paths are not written by a
    preview, so they are not held to the output rules here."""
    from ..core.outputs import OutputPolicy
    from ..lang.check import check_file

    return check_file(request.recipe, dict(request.sets), request.params, display=str(request.recipe),
                      outputs=OutputPolicy(anywhere=True))


def _show(result, *, stamp: bool) -> None:
    """The outcome: notes and errors on stderr, the preview's path alone on stdout (for `mpv "$(nemoflow preview …)"`)."""
    when = time.strftime("%H:%M:%S ") if stamp else ""
    for note in result.notes:
        typer.echo(color(note), err=True)
    if result.ok:
        verb = "rendered" if result.status == "rendered" else "up to date"
        typer.echo(f"{when}preview of {result.export}: {verb} in {result.seconds:.1f}s", err=True)
        typer.echo(str(result.path))
        sys.stdout.flush()
    else:
        error = result.error or "the preview was not made"
        several = "\n" in error  # diagnostics with their source lines, as `check` prints them
        if stamp:
            head = f"{when}preview failed" + (f" ({result.export})" if result.export else "")
            typer.echo(color(f"{head}:{chr(10) if several else ' '}{error}"), err=True)
            typer.echo(f"{when}(a preview made before stays as it was; save a fix to try again)", err=True)
        else:
            typer.echo(color(error if several else f"nemoflow: error: {error}"), err=True)


class _Display:
    """Live progress of the render on a terminal, shown only while a render runs (what this command prints, the
    path on stdout above all, is printed after it, never through the live display); nothing at all in logs and
    pipes, where rich is not even imported."""

    def __init__(self) -> None:
        self.live = None
        if not sys.stderr.isatty():
            return
        from ..run.display import RunDisplay

        class PreviewDisplay(RunDisplay):
            def _on_run_started(self, e: dict[str, Any]) -> None:
                self.progress.start()

            def _on_step_finished(self, e: dict[str, Any]) -> None:
                task = self.tasks.pop(e["step"], None)
                if task is not None:
                    self.progress.remove_task(task)

            def _on_step_message(self, e: dict[str, Any]) -> None:
                return  # said once the preview is done (Preview.notes)

            def _on_run_finished(self, e: dict[str, Any]) -> None:
                self.progress.stop()

        self.live = PreviewDisplay()

    @property
    def sinks(self) -> list:
        return [self.live] if self.live is not None else []

    def stop(self) -> None:
        if self.live is not None:
            self.live.progress.stop()
