"""nemoflow lsp: the language server for .nemo recipes, over stdio (docs/editors.md)."""

from __future__ import annotations

import typer

from .common import app


@app.command()
def lsp(
    stdio: bool = typer.Option(True, "--stdio", help="Talk LSP over stdin/stdout (the only transport; editors pass it)."),
) -> None:
    """Run the language server for .nemo recipes (diagnostics, completion, hover, rename, format) over stdio."""
    from ..lsp.server import main

    main()
