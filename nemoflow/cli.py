"""The `nemoflow` command: parse arguments, call the library, print.

Heavy modules (lark, networkx, the checker) are imported inside commands so
that `nemoflow --help` starts fast. Exit codes: 0 ok; 1 a step or an expect
check failed (or `fmt --check` found changes); 2 user error; 70 internal
error; 130 interrupted. `plan --detailed-exitcode` uses 0 nothing to do, 2
changes, 1 error, as terraform does.
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
    from .core.diagnostics import render_all

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
    from .core.diagnostics import RecipeError
    from .lang.check import check_file

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
    from .core.diagnostics import RecipeError
    from .lang.check import check_file

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

    from .core.diagnostics import RecipeError
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


TargetsArgument = typer.Argument(None, help="Steps to run, with what they need (e.g. export.final); default: all.", show_default=False)
ForceOption = typer.Option(None, "--force", metavar="STEP", help="Run this step even if cached (repeatable; globs like 'export.*').")
EngineOption = typer.Option(None, "--engine", "-e", metavar="NAME", help="local (FFmpeg on this machine) or nemo (the NemoVideo "
                            "cloud); default: NEMOFLOW_ENGINE, the recipe's `engine` statement, else local.")
ApiUrlOption = typer.Option(None, "--api-url", metavar="URL", help="The nemo engine's API address (default: NEMO_API_URL, "
                            "`[nemo] api_url` in the config file, else the public service).")
StateDirOption = typer.Option(None, "--state-dir", metavar="DIR", help="Where the cache, journal and lock live (default: .nemoflow/ "
                              "beside the recipe; NEMOFLOW_STATE_DIR).")


def _workspace(recipe, *, targets=None, force=None, jobs=None, cpus=None, keep_going=False, state_dir=None, engine=None, api_url=None):
    from .errors import NemoflowError
    from .run.runner import RunOptions, Workspace

    if jobs is not None and jobs < 1:
        _fail(f"-j takes a number of steps at a time, 1 or more; got {jobs}")
    if cpus is not None and cpus < 1:
        _fail(f"--cpus takes a number of cores, 1 or more; got {cpus}")
    options = RunOptions(targets=tuple(targets or ()), force=tuple(force or ()), jobs=jobs, cpus=cpus, keep_going=keep_going,
                         state_dir=state_dir.resolve() if state_dir else None, engine=engine, api_url=api_url)
    try:
        return Workspace(recipe, options)
    except NemoflowError as err:
        _fail(str(err), err.exit_code)


@app.command()
def run(
    file: Path = typer.Argument(..., help="Recipe file."),
    targets: Optional[list[str]] = TargetsArgument,
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Steps at a time (default: twice the cores; renders of 1080p "
                                       "and up still take every core, one at a time, unless --cpus says otherwise)."),
    cpus: Optional[int] = typer.Option(None, "--cpus", help="Cores the renders may share (default: this machine's)."),
    force: Optional[list[str]] = ForceOption,
    keep_going: bool = typer.Option(False, "--keep-going", "-k", help="After a failure, go on with steps that do not need it."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show the plan (what would run, and why) and stop."),
    as_json: bool = typer.Option(False, "--json", help="Print events as JSON lines on stdout (schemas/events.schema.json)."),
    junit: Optional[Path] = typer.Option(None, "--junit", metavar="FILE", help="Write a JUnit XML report (each expect "
                                         "assertion is a test case)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list steps that were cached or did not render."),
    state_dir: Optional[Path] = StateDirOption,
    engine: Optional[str] = EngineOption,
    api_url: Optional[str] = ApiUrlOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Run a recipe: plan against the cache, render what changed (in parallel), run the expect checks."""
    import contextlib

    from .errors import NemoflowError

    recipe = _load(file, sets, params)
    ws = _workspace(recipe, targets=targets, force=force, jobs=jobs, cpus=cpus, keep_going=keep_going, state_dir=state_dir,
                    engine=engine, api_url=api_url)
    if dry_run:
        _print_plan(ws, as_json=as_json, detailed=False)
        return
    from .run.display import RunDisplay
    from .run.events import JsonLines
    from .run.junit import JUnitReport

    display = RunDisplay(verbose=verbose, live=False if as_json else None)
    report = JUnitReport(recipe) if junit else None
    sinks = [JsonLines()] if as_json else [display]
    if report is not None:
        sinks.append(report)
    previous_handler = _terminate_as_interrupt()
    try:
        with display if not as_json else contextlib.nullcontext():
            result = ws.run(sinks)
    except NemoflowError as err:
        _fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        typer.echo("nemoflow: interrupted; FFmpeg was stopped, no partial output was kept, and finished steps are cached",
                   err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        if previous_handler is not None:
            import signal

            signal.signal(signal.SIGTERM, previous_handler)
        if report is not None and junit is not None:
            report.write(junit)
    for sid, message in result.errors:
        typer.echo(_color(f"nemoflow: error: {sid}: {message}"), err=True)
    typer.echo(_run_summary(result), err=True)
    raise typer.Exit(result.exit_code)


def _run_summary(result) -> str:
    parts = []
    ran = result.count("ok")
    for count, word in ((ran, "ran"), (result.count("restored"), "restored"), (result.count("cached"), "cached"),
                        (result.count("failed"), "failed"), (result.count("blocked"), "blocked"),
                        (result.count("cancelled"), "cancelled")):
        if count:
            parts.append(f"{count} {word}")
    checks = result.checks
    passed = sum(c["ok"] for c in checks)
    head = "nothing to do: " if not ran and not result.count("restored") and result.status == "ok" else ""
    text = head + (", ".join(parts) or "no steps")
    if checks:
        text += f"; {passed}/{len(checks)} checks passed"
    return text + f" in {result.seconds:.1f}s"


def _terminate_as_interrupt():
    """SIGTERM (a CI job cancelled, `kill`) stops a run as cleanly as Ctrl-C: FFmpeg killed, no partial files.

    Returns the handler it replaced, for the caller to put back.
    """
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        return None


def _print_plan(ws, *, as_json: bool, detailed: bool) -> None:
    from .errors import NemoflowError

    try:
        plan = ws.plan()
    except NemoflowError as err:
        _fail(str(err), err.exit_code)
    ws.save_memo()
    counts = {s: plan.count(s) for s in ("run", "restore", "cached", "blocked", "error")}
    if as_json:
        typer.echo(json.dumps({"v": 1, "recipe": str(ws.recipe.path), "state_dir": str(ws.state.root), "changes": plan.changes,
                               "counts": counts, "steps": [p.to_json() for p in plan.steps.values()]}, indent=2))
    else:
        width = max((len(s) for s in plan.steps), default=0)
        for p in plan.steps.values():
            why = "" if p.status == "cached" else "  " + "; ".join(p.reasons)
            typer.echo(f"  {p.status:<8} {p.id:<{width}}{why}".rstrip())
        summary = ", ".join(f"{n} {'to ' + w if w in ('run', 'restore') else w}" for w, n in counts.items() if n)
        typer.echo(("nothing to do: " if not plan.changes and not plan.errors else "") + (summary or "no steps"))
    if plan.errors:
        raise typer.Exit(EXIT_CHANGES)
    if detailed and plan.changes:
        raise typer.Exit(EXIT_USER)


@app.command()
def plan(
    file: Path = typer.Argument(..., help="Recipe file."),
    targets: Optional[list[str]] = TargetsArgument,
    force: Optional[list[str]] = ForceOption,
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    detailed_exitcode: bool = typer.Option(False, "--detailed-exitcode", help="Exit 0 if there is nothing to do, 2 if steps "
                                           "would run, 1 on error (like terraform plan)."),
    state_dir: Optional[Path] = StateDirOption,
    engine: Optional[str] = EngineOption,
    api_url: Optional[str] = ApiUrlOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Show what `run` would do, step by step: run, restore, cached or blocked, and why. Changes nothing."""
    recipe = _load(file, sets, params)
    _print_plan(_workspace(recipe, targets=targets, force=force, state_dir=state_dir, engine=engine, api_url=api_url), as_json=as_json,
                detailed=detailed_exitcode)


@app.command()
def explain(
    file: Path = typer.Argument(..., help="Recipe file."),
    step: str = typer.Argument(..., help="The step to explain, e.g. export.final."),
    as_json: bool = typer.Option(False, "--json", help="Print the explanation as JSON."),
    state_dir: Optional[Path] = StateDirOption,
    engine: Optional[str] = EngineOption,
    api_url: Optional[str] = ApiUrlOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Say why a step runs or is cached: which part of its cache key changed since it last ran, down to the cause."""
    from .errors import NemoflowError

    recipe = _load(file, sets, params)
    ws = _workspace(recipe, state_dir=state_dir, engine=engine, api_url=api_url)
    try:
        info = ws.explain(step)
    except NemoflowError as err:
        _fail(str(err), err.exit_code)
    if as_json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    verb = {"run": "will run", "restore": "will be restored from the cache", "cached": "is cached (nothing to do)",
            "blocked": "is blocked", "error": "cannot run"}[info["status"]]
    typer.echo(f"{info['step']} {verb}: {'; '.join(info['reasons'])}")
    typer.echo(f"  key now:   {info['key'][:16]}")
    last = info["last"]
    if last is None:
        typer.echo("  it has not run before with this state directory")
        return
    typer.echo(f"  last run:  {last.get('run') or '?'}: {last.get('status')}, key {str(last.get('key'))[:16]}")
    if not info["changes"]:
        same = last.get("key") == info["key"]
        typer.echo("  nothing it depends on has changed" if same else "  the last key's parts are no longer in the cache")
        return
    typer.echo("  changed since then:")

    def show(changes, depth):
        for c in changes:
            typer.echo("    " + "  " * depth + c["reason"] + (", because:" if c.get("because") else ""))
            show(c.get("because") or [], depth + 1)

    show(info["changes"], 0)


@app.command()
def clean(
    file: Path = typer.Argument(..., help="Recipe file."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="List what would be removed; remove nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print what was (or would be) removed as JSON."),
    state_dir: Optional[Path] = StateDirOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Remove cached results that no current step key uses (outputs you saved are never touched)."""
    from .errors import NemoflowError
    from .run.lock import RunLock

    recipe = _load(file, sets, params)
    ws = _workspace(recipe, state_dir=state_dir)
    try:
        if dry_run or not ws.state.exists():
            report = ws.clean(dry_run=True) if ws.state.exists() else {"removed": [], "bytes": 0, "dry_run": dry_run}
        else:
            with RunLock(ws.state.lock_file, say=lambda text: typer.echo(f"note: {text}", err=True)):
                report = ws.clean(dry_run=False)
    except NemoflowError as err:
        _fail(str(err), err.exit_code)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    for item in report["removed"]:
        typer.echo(f"  {verb} {item['key'][:16]}  {item.get('step') or '(unfinished)'}  {item['bytes'] / 1e6:.1f} MB")
    n = len(report["removed"])
    typer.echo(f"{verb} {n} cached result{'s' if n != 1 else ''} ({report['bytes'] / 1e6:.1f} MB)")


@app.command()
def draft(
    file: Path = typer.Argument(..., help="Recipe file."),
    step: Optional[str] = typer.Option(None, "--step", help="Only this step's draft (an edit, ask or export id, e.g. export.final)."),
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Print each export's Draft (the timeline JSON an engine renders), after probing its media."""
    from .core.graph import topological_order
    from .errors import NemoflowError

    recipe = _load(file, sets, params)
    from .engines.local.engine import LocalEngine

    engine = LocalEngine(recipe)
    wanted = [sid for sid in topological_order(recipe) if recipe.steps[sid].kind == "export"]
    if step is not None:
        if step not in recipe.steps or recipe.steps[step].kind not in ("edit", "ask", "export", "media"):
            _fail(f"`{step}` is not an edit, ask, media or export step of {file}; steps: {', '.join(recipe.steps)}")
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


from .cli_nemo import register as _register_cloud_commands  # noqa: E402  (commands defined after the app)

_register_cloud_commands(app)


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
