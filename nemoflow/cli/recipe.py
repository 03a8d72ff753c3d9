"""The recipe commands: check, fmt, graph, probe, run, plan, explain, clean, draft."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from .common import (
    EXIT_CHANGES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USER,
    AllowOutsideOption,
    ApiUrlOption,
    EngineOption,
    ExecutorOption,
    ForceOption,
    ParamsOption,
    SetOption,
    StateDirOption,
    TargetsArgument,
    app,
    color,
    fail,
    load_recipe,
    output_policy,
    overrides,
    report,
    terminate_as_interrupt,
    workspace,
)
from .report import ReportOption, check_report_option, write_run_report


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="Recipe files to check."),
    as_json: bool = typer.Option(False, "--json", help="Print diagnostics as JSON (for editors and CI)."),
    engine: Optional[str] = EngineOption,
    allow_outside: bool = AllowOutsideOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Parse and check recipes: syntax, names, types, units, the DAG, where exports go, and what the engine can run."""
    from ..core.diagnostics import RecipeError, sort_key
    from ..errors import NemoflowError
    from ..lang.check import check_file
    from ..run.engines import engine_diagnostics

    values = overrides(sets)
    outputs = output_policy(allow_outside)
    results = []
    failed = False
    for file in files:
        try:
            recipe = check_file(file, values, params, display=str(file), outputs=outputs)
            found = engine_diagnostics(recipe, engine)
            diags = sorted(found, key=sort_key) if found else list(recipe.warnings)
            sources, steps = recipe.sources, len(recipe.steps)
        except RecipeError as err:
            diags, sources, steps = list(err.diagnostics), err.sources, None
        except NemoflowError as err:  # an unknown --engine or NEMOFLOW_ENGINE
            fail(str(err), err.exit_code)
        errors = sum(d.is_error for d in diags)
        failed |= errors > 0
        results.append({"file": str(file), "ok": errors == 0, "steps": steps if not errors else None,
                        "diagnostics": [d.to_json() for d in diags]})
        if not as_json:
            report(diags, sources)
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

    from ..core.diagnostics import RecipeError
    from ..lang.fmt import format_source
    from ..lang.parser import read_source

    changed = 0
    broken = False
    for file in files:
        try:
            text = read_source(file, str(file))
            new = format_source(text, str(file))
        except RecipeError as err:
            report(err.diagnostics, err.sources)
            broken = True
            continue
        if new == text:
            continue
        changed += 1
        if check_only:
            diff = difflib.unified_diff(text.splitlines(True), new.splitlines(True), f"{file}", f"{file} (formatted)")
            sys.stdout.writelines(diff)
        else:
            try:
                _write_atomic(file, new)
            except OSError as exc:
                typer.echo(color(f"nemoflow: error: cannot write {file} ({exc.strerror or exc}); it is unchanged. "
                                 "Make it (and its folder) writable, or use `fmt --check` to see the changes"), err=True)
                broken = True
                continue
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
    from ..plan.render import FORMATS, render_graph

    if fmt not in FORMATS:
        fail(f"unknown graph format `{fmt}`; choose one of: {', '.join(FORMATS)}")
    recipe = load_recipe(file, sets, params)
    typer.echo(render_graph(recipe, fmt))


@app.command()
def probe(
    files: list[Path] = typer.Argument(..., help="Media files to inspect."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (one object per file)."),
) -> None:
    """Show what nemoflow sees in media files, and whether they are usable: kind, size, codecs, rotation, frame rate."""
    from ..errors import NemoflowError
    from ..media.probe import describe
    from ..media.validate import validate_media

    infos = []
    for file in files:
        try:
            info = validate_media(file)
        except NemoflowError as err:
            fail(str(err), err.exit_code)
        if as_json:
            infos.append(info.to_json())
        else:
            typer.echo(describe(info))
    if as_json:
        typer.echo(json.dumps(infos, indent=2))


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
    junit: Optional[Path] = typer.Option(None, "--junit", metavar="FILE", dir_okay=False, help="Write a JUnit XML report "
                                         "(each expect assertion is a test case); pictures of failed checks go in FILE's folder, "
                                         "under STEM-artifacts/."),
    update_golden: bool = typer.Option(False, "--update-golden", help="Write (or rewrite) the golden pictures of "
                                       "`frame at … looks like` checks from this render, instead of comparing with them."),
    allow_outside: bool = AllowOutsideOption,
    overwrite: bool = typer.Option(False, "--overwrite", help="Let exports replace existing files that nemoflow did not write "
                                   "(default: such a file stops the run before anything renders)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list steps that were cached or did not render."),
    state_dir: Optional[Path] = StateDirOption,
    engine: Optional[str] = EngineOption,
    api_url: Optional[str] = ApiUrlOption,
    executor: Optional[str] = ExecutorOption,
    report_dir: Optional[Path] = ReportOption,
    split: Optional[bool] = typer.Option(None, "--split/--no-split", help="Render long exports in segments, each cached, so a "
                                         "change re-renders only the segments it touches (default: exports over 60 s; "
                                         "`[local] split` = auto, on or off in the config file; docs/split.md)."),
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Run a recipe: plan against the cache, render what changed (in parallel), run the expect checks.

    Exports are saved only under the recipe's folder, or under an `output_root` set under [run] in the config file
    (NEMOFLOW_OUTPUT_ROOT), unless --allow-outside; an existing file nemoflow did not write is never replaced, unless
    --overwrite. Either problem stops the run before anything renders (exit 2).
    """
    import contextlib

    from ..errors import NemoflowError

    outputs = output_policy(allow_outside)
    recipe = load_recipe(file, sets, params, outputs)
    ws = workspace(recipe, targets=targets, force=force, jobs=jobs, cpus=cpus, keep_going=keep_going, state_dir=state_dir,
                    engine=engine, api_url=api_url, outputs=outputs, overwrite=overwrite, split=split, executor=executor)
    if junit is not None and not dry_run:
        from ..run.destinations import unwritable

        why = unwritable(junit)
        if why is not None:
            fail(f"--junit {junit}: {why}; give a file path in a folder you can write")
    if report_dir is not None and dry_run:
        fail("--report needs a run; drop --dry-run (`nemoflow report FILE` reports the last run)")
    check_report_option(report_dir)
    from ..run.expect import ExpectOptions

    # failure pictures: beside the JUnit report a CI job keeps, else in the recipe's state folder
    artifacts = junit.parent / f"{junit.stem}-artifacts" if junit is not None else ws.state.recipe_dir / "reports"
    ws.options.expect = ExpectOptions(update_golden=update_golden, artifacts=artifacts.absolute())
    if dry_run:
        _print_plan(ws, as_json=as_json, detailed=False)
        return
    from ..report.facts import EventLog, read_events
    from ..run.display import RunDisplay
    from ..run.events import JsonLines
    from ..run.junit import JUnitReport

    display = RunDisplay(verbose=verbose, live=False if as_json else None)
    report = JUnitReport(recipe) if junit else None
    sinks = [JsonLines()] if as_json else [display]
    if report is not None:
        sinks.append(report)
    log = EventLog()  # the run's events, for --report
    if report_dir is not None:
        sinks.append(log)
    previous_handler = terminate_as_interrupt()
    junit_failed = False
    try:
        with display if not as_json else contextlib.nullcontext():
            result = ws.run(sinks)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        typer.echo(f"nemoflow: interrupted; {ws.engine.interrupted}; finished steps are cached", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        if previous_handler is not None:
            import signal

            signal.signal(signal.SIGTERM, previous_handler)
        if report is not None and junit is not None:
            junit_failed = _write_junit(report, junit)
    for sid, message in result.errors:
        typer.echo(color(f"nemoflow: error: {sid}: {message}"), err=True)
    typer.echo(_run_summary(result), err=True)
    report_failed = report_dir is not None and write_run_report(ws, read_events(log.events), report_dir)
    raise typer.Exit(result.exit_code or (EXIT_USER if junit_failed or report_failed else 0))


def _write_junit(report, path: Path) -> bool:
    """Write the JUnit report; a place that cannot take it is said in one line (True), never a crash mid-cleanup."""
    try:
        report.write(path)
    except OSError as exc:
        typer.echo(color(f"nemoflow: error: --junit {path}: cannot write the report ({exc.strerror or exc}); "
                         "give a file path in a folder you can write"), err=True)
        return True
    return False


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
    if checks or result.not_run:  # checks that never ran count against "all passed"
        text += f"; {passed}/{len(checks) + result.not_run} checks passed" + (f" ({result.not_run} not run)" if result.not_run else "")
    return text + f" in {result.seconds:.1f}s"


def _print_plan(ws, *, as_json: bool, detailed: bool) -> None:
    from ..errors import NemoflowError
    from ..plan.rows import row_lines, row_summaries

    try:
        plan = ws.plan()
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    ws.save_memo()
    _say_state_warnings(ws)
    counts = {s: plan.count(s) for s in ("run", "restore", "cached", "blocked", "error")}
    if as_json:
        rows = {"rows": [r.to_json() for r in row_summaries(ws.recipe, plan.steps.values())]} if ws.recipe.tables else {}
        typer.echo(json.dumps({"v": 1, "recipe": str(ws.recipe.path), "state_dir": str(ws.state.root), "changes": plan.changes,
                               "counts": counts, "steps": [p.to_json() for p in plan.steps.values()], **rows}, indent=2))
    else:
        width = max((len(s) for s in plan.steps), default=0)
        for p in plan.steps.values():
            why = "" if p.status == "cached" else "  " + "; ".join(p.texts)
            typer.echo(f"  {p.status:<8} {p.id:<{width}}{why}".rstrip())
        summary = ", ".join(f"{n} {'to ' + w if w in ('run', 'restore') else w}" for w, n in counts.items() if n)
        typer.echo(("nothing to do: " if not plan.changes and not plan.errors else "") + (summary or "no steps"))
        for line in row_lines(ws.recipe, plan.steps.values()):  # table loops (docs/variants.md)
            typer.echo(line)
    if plan.errors:
        raise typer.Exit(EXIT_CHANGES)
    if detailed and plan.changes:
        raise typer.Exit(EXIT_USER)


def _say_state_warnings(ws) -> None:
    """What was ignored in the state directory as damaged (a cache miss each), on stderr."""
    for text in ws.state.warnings:
        typer.echo(color(f"nemoflow: warning: {text}"), err=True)


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
    allow_outside: bool = AllowOutsideOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Show what `run` would do, step by step: run, restore, cached or blocked, and why. Changes nothing."""
    recipe = load_recipe(file, sets, params, output_policy(allow_outside))
    _print_plan(workspace(recipe, targets=targets, force=force, state_dir=state_dir, engine=engine, api_url=api_url), as_json=as_json,
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
    from ..errors import NemoflowError

    recipe = load_recipe(file, sets, params)
    ws = workspace(recipe, state_dir=state_dir, engine=engine, api_url=api_url)
    try:
        info = ws.explain(step)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    _say_state_warnings(ws)
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
    from ..errors import NemoflowError
    from ..run.lock import RunLock

    recipe = load_recipe(file, sets, params)
    ws = workspace(recipe, state_dir=state_dir)
    try:
        if dry_run or not ws.state.exists():
            report = ws.clean(dry_run=True) if ws.state.exists() else {"removed": [], "bytes": 0, "dry_run": dry_run}
        else:
            with RunLock(ws.state.lock_file, say=lambda text: typer.echo(f"note: {text}", err=True)):
                report = ws.clean(dry_run=False)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
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
    state_dir: Optional[Path] = StateDirOption,
    engine: Optional[str] = EngineOption,
    api_url: Optional[str] = ApiUrlOption,
    sets: Optional[list[str]] = SetOption,
    params: Optional[Path] = ParamsOption,
) -> None:
    """Print each export's Draft (the timeline JSON an engine renders), from the cache where a step ran before."""
    from ..core.model import StepKind
    from ..errors import NemoflowError

    recipe = load_recipe(file, sets, params)
    ws = workspace(recipe, state_dir=state_dir, engine=engine, api_url=api_url)
    wanted = [sid for sid in ws.order if recipe.steps[sid].kind == StepKind.EXPORT]
    if step is not None:
        if step not in recipe.steps or recipe.steps[step].kind == StepKind.EXPECT:
            fail(f"`{step}` is not an edit, ask, media or export step of {file}; steps: {', '.join(recipe.steps)}")
        wanted = [step]
    out = {}
    try:
        with ws.reading() as steps:
            for sid in wanted:
                if recipe.steps[sid].kind == StepKind.EXPORT:
                    made, o = steps.export_draft(recipe.steps[sid])
                    out[sid] = {"draft": made.to_json(), "output": {"width": o.width, "height": o.height, "fps": o.fps,
                                                                     "format": o.container, "codec": o.codec, "quality": o.quality,
                                                                     "crf": o.crf, "audio": o.audio}}
                else:
                    out[sid] = {"draft": steps.draft(sid).to_json()}
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
