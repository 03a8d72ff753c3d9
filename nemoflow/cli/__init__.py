"""The `nemoflow` command: parse arguments, call the library, print. One module per group of commands."""

from __future__ import annotations

import os
import sys

import typer

from . import cloud, interchange, lsp, preview, recipe, report, timeline  # noqa: F401  (each registers its commands on the app)
from .common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, app


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


__all__ = ["app", "entry"]
