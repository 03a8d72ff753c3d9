"""`python -m nemoflow.lsp`: the language server without the command line's start-up (typer and every command)."""

from .server import main

main()
