"""Completion of `$row.` and `${row.`: the columns of the table a `for row in table("…")` loop reads."""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp

from ..core import limits
from ..lang.tables import TableError, TableTooLarge, read_table
from .index import Index

_CELL = re.compile(r"\$\{?([A-Za-z_][\w-]*)\.([\w-]*)$")
_TABLE = re.compile(r'\btable\(\s*"([^"\\$]+)"\s*\)')


def column_items(text: str, line: int, column: int, index: Index, folder: Path) -> list[lsp.CompletionItem] | None:
    """Columns after `$NAME.` where NAME is a table loop's variable; None when the cursor is not there."""
    lines = text.split("\n")
    m = _CELL.search(lines[line][:column] if line < len(lines) else "")
    if m is None:
        return None
    for sym in index.names("loop"):
        found = _TABLE.search(sym.detail) if sym.name == m.group(1) else None
        if found is None:
            continue
        try:
            table = read_table(folder / found.group(1), found.group(1), limits.TABLE_ROWS.value())
        except (OSError, TableError, TableTooLarge):
            return []
        first = table.rows[0].cells if table.rows else {}
        return [lsp.CompletionItem(label=c, kind=lsp.CompletionItemKind.Field, detail=f"{found.group(1)} column",
                                   documentation=f"first row: {first[c].text}" if c in first else None)
                for c in table.columns]
    return None
