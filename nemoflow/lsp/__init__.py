"""`nemoflow lsp`: a language server for .nemo recipes over stdio, built on pygls (docs/editors.md)."""
