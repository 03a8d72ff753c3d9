"""The `nemoflow` command: parse arguments, call the library, print.

Heavy modules (lark, networkx, the checker) are imported inside commands so
that `nemoflow --help` starts fast. Exit codes: 0 ok, 1 `fmt --check` found
changes or a run could not render, 2 user error, 70 internal error, 130
interrupted.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer

from . import __version__

EXIT_OK, EXIT_CHANGES, EXIT_USER, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130

app = typer.Typer(
    name="nemoflow",
    help="Version-controlled video edits: a .nemo recipe in, a finished MP4 out.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

SetOption = typer.Option(None, "--set", "-s", metavar="NAME=VALUE", help="Override a param (repeatable).")
ParamsOption = typer.Option(None, "--params", metavar="FILE", help="Read param values from a TOML or JSON file.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nemoflow {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Version-controlled video edits: a .nemo recipe in, a finished MP4 out."""


def _color(text: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        return text
    text = re.sub(r"^(.*?: )(error)(:)", lambda m: m.group(1) + typer.style(m.group(2), fg="red", bold=True) + m.group(3),
                  text, flags=re.M)
    return re.sub(r"^(.*?: )(warning)(:)", lambda m: m.group(1) + typer.style(m.group(2), fg="yellow", bold=True) + m.group(3),
                  text, flags=re.M)


def _report(diagnostics, sources) -> None:
    from .lang.diagnostics import render_all

    if diagnostics:
        typer.echo(_color(render_all(diagnostics, sources)), err=True)


def _fail(message: str, code: int = EXIT_USER) -> NoReturn:
    typer.echo(_color(f"nemoflow: error: {message}"), err=True)
    raise typer.Exit(code)


def _overrides(pairs: Optional[list[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            _fail(f"--set takes NAME=VALUE, got `{pair}` (for example: --set size=1080p)")
        out[name] = value
    return out


def _load(file: Path, sets: Optional[list[str]], params: Optional[Path]):
    """Check a recipe, print its warnings; exit 2 with every diagnostic on error."""
    from .lang.check import check_file
    from .lang.diagnostics import RecipeError

    try:
        recipe = check_file(file, _overrides(sets), params, display=str(file))
    except RecipeError as err:
        _report(err.diagnostics, err.sources)
        raise typer.Exit(EXIT_USER) from None
    _report(recipe.warnings, recipe.sources)
    return recipe


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="Recipe files to check."),
    as_json: bool = typer.Option(False, "--json", help="Print diagnostics as JSON (for editors and CI)."),
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Parse and check recipes: syntax, names, types, units, the DAG."""
    from .lang.check import check_file
    from .lang.diagnostics import RecipeError

    overrides = _overrides(sets)
    results = []
    failed = False
    for file in files:
        try:
            recipe = check_file(file, overrides, params, display=str(file))
            diags, sources, steps = list(recipe.warnings), recipe.sources, len(recipe.steps)
        except RecipeError as err:
            diags, sources, steps = list(err.diagnostics), err.sources, None
        errors = sum(d.is_error for d in diags)
        failed |= errors > 0
        results.append({"file": str(file), "ok": errors == 0, "steps": steps,
                        "diagnostics": [d.to_json() for d in diags]})
        if not as_json:
            _report(diags, sources)
            if not errors:
                typer.echo(f"{file}: ok ({steps} steps)")
    if as_json:
        typer.echo(json.dumps({"version": 1, "ok": not failed, "files": results}, indent=2))
    raise typer.Exit(EXIT_USER if failed else EXIT_OK)


@app.command()
def fmt(
    files: list[Path] = typer.Argument(..., help="Recipe files to format in place."),
    check_only: bool = typer.Option(False, "--check", help="Change nothing; show a diff and exit 1 if a file is not formatted."),
) -> None:
    """Rewrite recipes in the one canonical layout (comments kept)."""
    import difflib

    from .lang.diagnostics import RecipeError
    from .lang.fmt import format_source
    from .lang.parser import read_source

    changed = 0
    broken = False
    for file in files:
        try:
            text = read_source(file, str(file))
            new = format_source(text, str(file))
        except RecipeError as err:
            _report(err.diagnostics, err.sources)
            broken = True
            continue
        if new == text:
            continue
        changed += 1
        if check_only:
            diff = difflib.unified_diff(text.splitlines(True), new.splitlines(True), f"{file}", f"{file} (formatted)")
            sys.stdout.writelines(diff)
        else:
            _write_atomic(file, new)
            typer.echo(f"formatted {file}")
    if broken:
        raise typer.Exit(EXIT_USER)
    if check_only and changed:
        typer.echo(f"{changed} file{'s' if changed != 1 else ''} would be reformatted", err=True)
        raise typer.Exit(EXIT_CHANGES)


def _write_atomic(path: Path, text: str) -> None:
    """Write beside the target and rename, so an interrupted fmt never truncates a recipe."""
    import tempfile

    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@app.command()
def graph(
    file: Path = typer.Argument(..., help="Recipe file."),
    fmt: str = typer.Option("text", "--format", "-f", help="text, dot, mermaid or json."),
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Print the recipe's step graph."""
    from .plan.render import FORMATS, render_graph

    if fmt not in FORMATS:
        _fail(f"unknown graph format `{fmt}`; choose one of: {', '.join(FORMATS)}")
    recipe = _load(file, sets, params)
    typer.echo(render_graph(recipe, fmt))


@app.command()
def probe(
    files: list[Path] = typer.Argument(..., help="Media files to inspect."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (one object per file)."),
) -> None:
    """Show what nemoflow sees in media files, and whether they are usable: kind, size, codecs, rotation, frame rate."""
    from .engines.local.media import validate_media
    from .engines.local.probe import describe
    from .errors import NemoflowError

    infos = []
    for file in files:
        try:
            info = validate_media(file)
        except NemoflowError as err:
            _fail(str(err), err.exit_code)
        if as_json:
            infos.append(info.to_json())
        else:
            typer.echo(describe(info))
    if as_json:
        typer.echo(json.dumps(infos, indent=2))


@app.command()
def run(
    file: Path = typer.Argument(..., help="Recipe file."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show what would run, in order, and stop."),
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Check a recipe, render its exports on this machine, and run its expect checks."""
    from .plan.dag import topological_order

    recipe = _load(file, sets, params)
    if not dry_run:
        _run_engine(recipe)
        return
    order = topological_order(recipe)
    width = max((len(s) for s in order), default=0)
    for sid in order:
        step = recipe.steps[sid]
        detail = ""
        if step.kind == "export":
            detail = os.path.relpath(step.spec.path)
        elif step.inputs:
            detail = "<- " + ", ".join(step.inputs)
        typer.echo(f"  would run  {sid:<{width}}  {detail}".rstrip())
    typer.echo(f"{len(order)} steps")


def _run_engine(recipe) -> None:
    """Render with the local engine; user-facing failures become one paragraph and an exit code."""
    from .errors import NemoflowError
    from .run.display import RenderDisplay
    from .run.sequential import run_local

    try:
        with RenderDisplay() as display:
            summary = run_local(recipe, on_progress=display.update, say=display.line)
    except NemoflowError as err:
        _fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        typer.echo("nemoflow: interrupted; FFmpeg was stopped and no partial output was kept", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    failed = summary.failed_checks
    exports = len(summary.exports)
    typer.echo(f"{exports} export{'s' if exports != 1 else ''} rendered, {len(summary.checks) - len(failed)}/{len(summary.checks)} "
               f"checks passed in {summary.seconds:.1f}s", err=True)
    if failed:
        raise typer.Exit(EXIT_CHANGES)


@app.command()
def draft(
    file: Path = typer.Argument(..., help="Recipe file."),
    step: Optional[str] = typer.Option(None, "--step", help="Only this step's draft (an edit or export id, e.g. export.final)."),
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Print each export's Draft (the timeline JSON an engine renders), after probing its media."""
    from .errors import NemoflowError
    from .plan.dag import topological_order

    recipe = _load(file, sets, params)
    from .engines.local.engine import LocalEngine

    engine = LocalEngine(recipe)
    wanted = [sid for sid in topological_order(recipe) if recipe.steps[sid].kind == "export"]
    if step is not None:
        if step not in recipe.steps or recipe.steps[step].kind not in ("edit", "export", "media"):
            _fail(f"`{step}` is not an edit, media or export step of {file}; steps: {', '.join(recipe.steps)}")
        wanted = [step]
    out = {}
    try:
        for sid in wanted:
            s = recipe.steps[sid]
            if s.kind == "export":
                d, o = engine.export_draft(s)
                out[sid] = {"draft": d.to_json(), "output": {"width": o.width, "height": o.height, "fps": o.fps, "format": o.container,
                                                              "codec": o.codec, "quality": o.quality, "crf": o.crf, "audio": o.audio}}
            else:
                out[sid] = {"draft": engine.draft(sid).to_json()}
    except NemoflowError as err:
        _fail(str(err), err.exit_code)
    typer.echo(json.dumps(out, indent=2, ensure_ascii=False))


def entry() -> None:
    """Console-script entry: no Python traceback for anything a user can cause."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("nemoflow: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:
        if os.environ.get("NEMOFLOW_DEBUG"):
            raise
        typer.echo(f"nemoflow: internal error (a bug in nemoflow, not in your recipe): {type(exc).__name__}: {exc}\n"
                   "run again with NEMOFLOW_DEBUG=1 for the traceback, and please report it", err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    entry()
