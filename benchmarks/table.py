"""The results table the benchmarks print: rich when it is installed (it comes with typer), plain text otherwise."""

from __future__ import annotations

from collections.abc import Sequence

STYLES = {"PASS": "[green]PASS[/]", "FAIL": "[red]FAIL[/]", "n/a": "[red]n/a[/]"}


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[str] = (),
                width: int = 120) -> None:
    """The last column is a verdict (PASS/FAIL/n/a), coloured on a terminal; `width` applies when piped to a file."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        widths = [max(len(str(r[i])) for r in (headers, *rows)) for i in range(len(headers))]
        for row in (headers, *rows):
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return
    table = Table(title=title)
    for h in headers:
        table.add_column(h, justify="right" if h in right else "left")
    for row in rows:
        table.add_row(*row[:-1], STYLES.get(row[-1], row[-1]))
    console = Console()
    if not console.is_terminal:
        console = Console(width=width)  # piped to a file: no wrapping at 80 columns
    console.print(table)
