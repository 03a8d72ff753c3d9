"""What every command shares: the app, exit codes, printing diagnostics and errors, loading a recipe, options.

Heavy modules (lark, networkx, the checker) are imported inside functions so
that `nemoflow --help` starts fast. Exit codes: 0 ok; 1 a step or an expect
check failed (or `fmt --check` found changes); 2 user error; 70 internal
error; 130 interrupted. `plan --detailed-exitcode` uses 0 nothing to do, 2
changes, 1 error, as terraform does.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer

from .. import __version__

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


def color(text: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        return text
    text = re.sub(r"^(.*?: )(error)(:)", lambda m: m.group(1) + typer.style(m.group(2), fg="red", bold=True) + m.group(3),
                  text, flags=re.M)
    return re.sub(r"^(.*?: )(warning)(:)", lambda m: m.group(1) + typer.style(m.group(2), fg="yellow", bold=True) + m.group(3),
                  text, flags=re.M)


def report(diagnostics, sources) -> None:
    from ..core.diagnostics import render_all

    if diagnostics:
        typer.echo(color(render_all(diagnostics, sources)), err=True)


def fail(message: str, code: int = EXIT_USER) -> NoReturn:
    typer.echo(color(f"nemoflow: error: {message}"), err=True)
    raise typer.Exit(code)


def overrides(pairs: Optional[list[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            fail(f"--set takes NAME=VALUE, got `{pair}` (for example: --set size=1080p)")
        out[name] = value
    return out


def output_policy(allow_outside: bool):
    """Where exports may go: under the recipe's folder, under the configured output roots, or anywhere (exit 2 on a bad setting)."""
    from ..config import output_roots
    from ..core.outputs import OutputPolicy
    from ..errors import ConfigError

    try:
        return OutputPolicy(roots=output_roots(), anywhere=allow_outside)
    except ConfigError as err:
        fail(str(err), err.exit_code)


def load_recipe(file: Path, sets: Optional[list[str]], params: Optional[Path], outputs=None):
    """Check a recipe, print its warnings; exit 2 with every diagnostic on error.

    `outputs`: where its exports may be saved (an OutputPolicy); commands that write none pass None and are not held to it.
    """
    from ..core.diagnostics import RecipeError
    from ..core.outputs import OutputPolicy
    from ..lang.check import check_file

    try:
        recipe = check_file(file, overrides(sets), params, display=str(file), outputs=outputs or OutputPolicy(anywhere=True))
    except RecipeError as err:
        report(err.diagnostics, err.sources)
        raise typer.Exit(EXIT_USER) from None
    report(recipe.warnings, recipe.sources)
    return recipe


TargetsArgument = typer.Argument(None, help="Steps to run, with what they need (e.g. export.final); default: all.", show_default=False)
ForceOption = typer.Option(None, "--force", metavar="STEP", help="Run this step even if cached (repeatable; globs like 'export.*').")
EngineOption = typer.Option(None, "--engine", "-e", metavar="NAME", help="local (FFmpeg on this machine) or nemo (the NemoVideo "
                            "cloud); default: NEMOFLOW_ENGINE, the recipe's `engine` statement, else local.")
ApiUrlOption = typer.Option(None, "--api-url", metavar="URL", help="The nemo engine's API address (default: NEMO_API_URL, "
                            "`[nemo] api_url` in the config file, else the public service).")
AllowOutsideOption = typer.Option(False, "--allow-outside", help="Let exports be saved outside the recipe's folder (by "
                                  "`..`, absolute or `~` paths, or links leading out); default: only under it, or under "
                                  "`[run] output_root` in the config file (NEMOFLOW_OUTPUT_ROOT).")
StateDirOption = typer.Option(None, "--state-dir", metavar="DIR", help="Where the cache, journal and lock live (default: .nemoflow/ "
                              "beside the recipe; NEMOFLOW_STATE_DIR).")


ExecutorOption = typer.Option(None, "--executor", "-x", metavar="NAME", help="Where steps run: local (a thread pool here, the "
                              "default) or a Dask cluster, dask://HOST:PORT (pip install 'nemoflow[dask]'; every worker must see "
                              "the files at the same paths: docs/cluster.md); default: NEMOFLOW_EXECUTOR, `[run] executor`, "
                              "else local.")


def workspace(recipe, *, targets=None, force=None, jobs=None, cpus=None, keep_going=False, state_dir=None, engine=None, api_url=None,
              outputs=None, overwrite=False, split=None, executor=None):
    """The recipe's workspace with these options (exit 2 on a bad option or an unusable engine setting)."""
    from ..errors import NemoflowError
    from ..run.workspace import RunOptions, Workspace

    if jobs is not None and jobs < 1:
        fail(f"-j takes a number of steps at a time, 1 or more; got {jobs}")
    if cpus is not None and cpus < 1:
        fail(f"--cpus takes a number of cores, 1 or more; got {cpus}")
    from ..run.executors import choose

    try:
        chosen = choose(executor)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    options = RunOptions(targets=tuple(targets or ()), force=tuple(force or ()), jobs=jobs, cpus=cpus, keep_going=keep_going,
                         state_dir=state_dir.resolve() if state_dir else None, engine=engine,
                         engine_options={**({"api_url": api_url} if api_url else {}),
                                         **({"split": "on" if split else "off"} if split is not None else {})},
                         overwrite=overwrite, executor=chosen)
    if outputs is not None:
        options.outputs = outputs
    try:
        return Workspace(recipe, options)
    except NemoflowError as err:
        fail(str(err), err.exit_code)


def terminate_as_interrupt():
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
