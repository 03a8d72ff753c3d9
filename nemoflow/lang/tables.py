"""Data tables for `for row in table("shots.csv")`: rows of text cells, each cell with its file:line:column.

A cell stays text here; it is read as a value (`2.5s`, `35%`, `1080p`, a color) only where the recipe uses it
(nemoflow/lang/check/cells.py), so an error can point at the cell in the data file. CSV (a sheet's export, the
common case), JSON (an array of objects), JSON Lines and TOML (`[[rows]]`) are read; other suffixes are refused.
"""

from __future__ import annotations

import bisect
import datetime
import json
import re
import tomllib
from pathlib import Path

import attrs

from ..core.diagnostics import Span

SUFFIXES = (".csv", ".json", ".jsonl", ".toml")


class TableError(ValueError):
    """A table that cannot be read, at `span` (the data file's line and column)."""

    def __init__(self, message: str, span: Span, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.help = help


@attrs.frozen
class Cell:
    """One cell as written (numbers and booleans in JSON/TOML are given back as their text), and where."""

    text: str
    span: Span


@attrs.frozen
class Row:
    """One row: its cells by column name, and the span of the whole row (for a row-level error)."""

    cells: dict[str, Cell] = attrs.field(eq=False)
    span: Span
    number: int  # 1-based, data rows only
    columns: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)  # the table's (shared, not copied)


@attrs.frozen
class Table:
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    file: str
    text: str = attrs.field(default="", repr=False, eq=False)  # for quoting lines in diagnostics


def read_table(path: Path, shown: str, most_rows: int, most_bytes: int = 50_000_000) -> Table:
    """Read a table; `shown` is the name its spans carry; more than `most_rows` rows stops reading (TableTooLarge),
    a file over `most_bytes` is not read at all (a check finishes in seconds whatever the recipe points at)."""
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if size > most_bytes:
        raise TableError(f"{path.name} is {size:,} bytes; a table may hold at most {most_bytes:,}",
                         Span.point(shown, 1, 1), help="split the table")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise TableError(f"{path.name} is not UTF-8 text", Span.point(shown, 1, 1),
                         help="save the sheet as CSV UTF-8") from err
    if suffix == ".csv":
        table = _csv(text, shown, most_rows)
    elif suffix == ".jsonl":
        table = _jsonl(text, shown, most_rows)
    elif suffix == ".json":
        table = _json(text, shown, most_rows)
    elif suffix == ".toml":
        table = _toml(text, shown, most_rows)
    else:
        raise TableError(f"cannot read a table from a `{suffix or path.name}` file", Span.point(shown, 1, 1),
                         help="tables are .csv, .json (an array of objects), .jsonl or .toml ([[rows]])")
    return attrs.evolve(table, text=text)


class TableTooLarge(Exception):
    """More rows than the limit: reading stopped there."""


# ---- CSV ---------------------------------------------------------------------------------------------------------

def _csv_records(text: str, file: str):
    """RFC 4180 records as lists of (text, line, column) fields; quoted fields may hold commas, quotes and newlines."""
    i, n = 0, len(text)
    line, col = 1, 1
    record: list[tuple[str, int, int]] = []
    while i < n or record:
        start_line, start_col = line, col
        if i < n and text[i] == '"':
            i += 1
            col += 1
            out = []
            while True:
                if i >= n:
                    raise TableError("a quoted cell is never closed", Span.point(file, start_line, start_col),
                                     help='close it with `"` (a quote inside a cell is written `""`)')
                ch = text[i]
                if ch == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        out.append('"')
                        i += 2
                        col += 2
                        continue
                    i += 1
                    col += 1
                    break
                out.append(ch)
                i += 1
                if ch == "\n":
                    line, col = line + 1, 1
                else:
                    col += 1
            value = "".join(out)
            if i < n and text[i] not in ",\r\n":
                raise TableError("text after a quoted cell", Span.point(file, line, col),
                                 help='put the whole cell in quotes, writing a quote inside it as `""`')
        else:
            j = i
            while j < n and text[j] not in ",\r\n":
                j += 1
            value = text[i:j]
            col += j - i
            i = j
        record.append((value, start_line, start_col))
        if i < n and text[i] == ",":
            i += 1
            col += 1
            continue
        if i < n and text[i] == "\r":
            i += 1
        if i < n and text[i] == "\n":
            i += 1
        line, col = line + 1, 1
        if not (len(record) == 1 and record[0][0] == ""):  # blank lines are skipped
            yield record
        record = []
        if i >= n:
            break


def _csv(text: str, file: str, most_rows: int) -> Table:
    records = _csv_records(text, file)
    header = next(records, None)
    if header is None:
        return Table((), (), file)
    columns = _columns([(name.strip(), Span(file, ln, c, ln, c + max(len(name), 1))) for name, ln, c in header], file)
    rows = []
    for record in records:
        if len(rows) >= most_rows:
            raise TableTooLarge()
        first = record[0]
        if len(record) != len(columns):
            raise TableError(f"this row has {len(record)} cells; the header names {len(columns)} columns",
                             Span.point(file, first[1], first[2]),
                             help="every row needs one cell per column (an empty cell is written as nothing between commas)")
        cells = {name: Cell(value, Span(file, ln, c, ln, c + max(len(value), 1)))
                 for name, (value, ln, c) in zip(columns, record, strict=True)}
        last = record[-1]
        rows.append(Row(cells, Span(file, first[1], first[2], last[1], last[2] + max(len(last[0]), 1)), len(rows) + 1,
                        columns))
    return Table(columns, tuple(rows), file)


def _columns(named: list[tuple[str, Span]], file: str) -> tuple[str, ...]:
    seen: dict[str, Span] = {}
    for name, span in named:
        if not name:
            raise TableError("a column has no name", span, help="give every column a name in the header row")
        if name in seen:
            raise TableError(f"two columns are named `{name}`", span, help=f"the first is at {seen[name]}")
        seen[name] = span
    return tuple(seen)


# ---- JSON and JSON Lines -----------------------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


class _Text:
    """Line and column of an offset, by bisecting line starts (a 1,000-row file asks this thousands of times)."""

    def __init__(self, text: str, file: str) -> None:
        self.text, self.file = text, file
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def span(self, start: int, end: int) -> Span:
        ln = bisect.bisect_right(self.starts, start)
        end_ln = bisect.bisect_right(self.starts, max(end - 1, start))
        return Span(self.file, ln, start - self.starts[ln - 1] + 1, end_ln, max(end - 1, start) - self.starts[end_ln - 1] + 2)


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _expect(src: _Text, i: int, ch: str, what: str) -> int:
    i = _skip(src.text, i)
    if i >= len(src.text) or src.text[i] != ch:
        raise TableError(f"expected {what}", src.span(i, i + 1))
    return i + 1


def _value(src: _Text, i: int) -> tuple[object, int]:
    try:
        return _DECODER.raw_decode(src.text, i)
    except json.JSONDecodeError as err:
        raise TableError(f"not JSON: {err.msg}", src.span(err.pos, err.pos + 1)) from err
    except RecursionError as err:  # lists nested thousands deep: no cell holds that
        raise TableError("a value nested too deeply to be a cell", src.span(i, i + 1)) from err


def _cell_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str, datetime.date, datetime.time)):
        return str(value)
    return None


def _object(src: _Text, i: int) -> tuple[dict[str, Cell], Span, int]:
    """One `{…}` at i as cells, keeping each value's place; nested values are refused (a cell holds one value)."""
    text = src.text
    start = _expect(src, i, "{", "an object `{…}` (one row)") - 1
    cells: dict[str, Cell] = {}
    i = _skip(text, start + 1)
    if i < len(text) and text[i] == "}":
        return cells, src.span(start, i + 1), i + 1
    while True:
        i = _skip(text, i)
        key, after = _value(src, i)
        if not isinstance(key, str):
            raise TableError("expected a column name in quotes", src.span(i, after))
        i = _expect(src, after, ":", "`:` after the column name")
        i = _skip(text, i)
        value, after = _value(src, i)
        cell = _cell_text(value)
        if cell is None:
            raise TableError(f"the cell `{key}` holds {'nothing (null)' if value is None else 'a list or object'}",
                             src.span(i, after), help="a cell holds text, a number or true/false")
        cells[key] = Cell(cell, src.span(i, after))
        i = _skip(text, after)
        if i < len(text) and text[i] == ",":
            i += 1
            continue
        end = _expect(src, i, "}", "`,` or `}`")
        return cells, src.span(start, end), end


def _rows_from_objects(objects: list[tuple[dict[str, Cell], Span]], file: str) -> Table:
    columns: list[str] = []
    for cells, _ in objects:
        for name in cells:
            if name not in columns:
                columns.append(name)
    names = tuple(columns)
    rows = tuple(Row(cells, span, n, names) for n, (cells, span) in enumerate(objects, 1))
    return Table(names, rows, file)


def _json(text: str, file: str, most_rows: int) -> Table:
    src = _Text(text, file)
    i = _expect(src, 0, "[", "an array of rows `[{…}, …]`")
    objects = []
    i = _skip(text, i)
    if i < len(text) and text[i] == "]":
        return Table((), (), file)
    while True:
        if len(objects) >= most_rows:
            raise TableTooLarge()
        cells, span, i = _object(src, i)
        objects.append((cells, span))
        i = _skip(text, i)
        if i < len(text) and text[i] == ",":
            i += 1
            continue
        _expect(src, i, "]", "`,` or `]`")
        return _rows_from_objects(objects, file)


def _jsonl(text: str, file: str, most_rows: int) -> Table:
    src = _Text(text, file)
    objects = []
    for n, start in enumerate(src.starts):
        stop = src.starts[n + 1] - 1 if n + 1 < len(src.starts) else len(text)
        if not text[start:stop].strip():
            continue
        if len(objects) >= most_rows:
            raise TableTooLarge()
        cells, span, end = _object(src, start)
        if end > stop or text[end:stop].strip():
            extra = _skip(text, end)
            raise TableError("one row per line: text after this row's object", src.span(extra, extra + 1))
        objects.append((cells, span))
    return _rows_from_objects(objects, file)


# ---- TOML --------------------------------------------------------------------------------------------------------

def _toml(text: str, file: str, most_rows: int) -> Table:
    """`[[rows]]` tables (any one array-of-tables name). tomllib gives no positions, so a cell's place is found
    by its `name =` line inside its row's block: exact for the one-key-per-line layout TOML tables use."""
    try:
        data = tomllib.loads(text)
    except RecursionError as err:
        raise TableError("values nested too deeply to be a table", Span.point(file, 1, 1)) from err
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"line (\d+), column (\d+)", str(err))
        span = Span.point(file, int(m.group(1)), int(m.group(2))) if m else Span.point(file, 1, 1)
        raise TableError(f"not TOML: {str(err).split(' (at')[0]}", span) from err
    arrays = [k for k, v in data.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
    if len(arrays) != 1:
        raise TableError("a TOML table needs exactly one array of tables (`[[rows]]`)", Span.point(file, 1, 1),
                         help="write each row as a `[[rows]]` block of `column = value` lines")
    name = arrays[0]
    lines = text.split("\n")
    headers = [n for n, ln in enumerate(lines, 1) if ln.strip().replace(" ", "") == f"[[{name}]]"]
    objects = []
    for number, row in enumerate(data[name], 1):
        if len(objects) >= most_rows:
            raise TableTooLarge()
        first = headers[number - 1] if number - 1 < len(headers) else 1
        last = headers[number] - 1 if number < len(headers) else len(lines)
        cells = {}
        for key, value in row.items():
            cell = _cell_text(value)
            span = Span.point(file, first, 1)
            for ln in range(first + 1, last + 1):
                stripped = lines[ln - 1].lstrip()
                if stripped.split("=", 1)[0].strip().strip('"') == key and "=" in stripped:
                    col = lines[ln - 1].index("=") + 2
                    while col <= len(lines[ln - 1]) and lines[ln - 1][col - 1] == " ":
                        col += 1
                    span = Span(file, ln, col, ln, max(len(lines[ln - 1].rstrip()) + 1, col + 1))
                    break
            if cell is None:
                raise TableError(f"the cell `{key}` holds a list or table", span,
                                 help="a cell holds text, a number, a date or true/false")
            cells[key] = Cell(cell, span)
        objects.append((cells, Span.point(file, first, 1)))
    return _rows_from_objects(objects, file)
