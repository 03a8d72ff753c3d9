"""One editor buffer read the way `nemoflow check` reads it: diagnostics, the checked recipe, the name index.

The checker runs on the buffer's text (not the file on disk) with the file's
folder as the recipe's folder, so relative paths and includes mean what they
will mean on `nemoflow run`; included files are read from disk, or from the
editor when open there.

The index is built from the parser's trees, one per top-level statement:
each statement (from a line that starts one at column 0 to the next) is
parsed alone, behind the `nemo 1` header and as many blank lines as put it
where it stands, so its spans are the file's. Those parses are kept by text
and line: after an edit inside one statement only that statement is parsed
again (the check itself reads the whole file once). A statement with a
syntax error is parsed again with the failing lines blanked, so navigation
keeps working while a line is typed.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import attrs

from ..core.diagnostics import Diagnostic, RecipeError
from ..core.model import Recipe
from ..lang import ast
from ..lang.check import check_source
from ..lang.parser import STATEMENT_KEYWORDS, parse_module
from . import index as idx

MAX_INCLUDED_FILES = 200
_RETRIES = 4
_STARTS = re.compile(r"^(?:" + "|".join(STATEMENT_KEYWORDS) + r")(?![\w-])", re.M)

Reader = Callable[[Path], "str | None"]
"""The text of a file: an open editor buffer's, else the file's on disk, None when unreadable."""


def read_disk(path: Path) -> str | None:
    try:
        if os.path.getsize(path) > 10_000_000:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return None


@attrs.define(eq=False)
class Analysis:
    """The check's result at once; the parses and the index when first asked for (diagnostics need neither)."""

    file: str  # the name spans carry for this buffer: its absolute path (or a bare name for an unsaved buffer)
    folder: Path
    text: str
    diagnostics: tuple[Diagnostic, ...]
    recipe: Recipe | None
    read: Reader
    parses: Parses
    _built: tuple[idx.Index, dict[str, str], tuple[ast.Module, ...]] | None = None

    def _build(self) -> tuple[idx.Index, dict[str, str], tuple[ast.Module, ...]]:
        if self._built is None:
            texts = {self.file: self.text}
            modules = statements(self.text, self.file, self.parses)
            _includes(list(modules), self.file, self.folder, self.read, self.parses, modules, texts)
            self._built = (idx.build(modules, texts), texts, tuple(modules))
        return self._built

    @property
    def index(self) -> idx.Index:
        return self._build()[0]

    @property
    def texts(self) -> dict[str, str]:
        """file -> text, for every file the index read (the buffer and its includes)."""
        return self._build()[1]

    @property
    def modules(self) -> tuple[ast.Module, ...]:
        """One per statement that parsed, the buffer's first, spans as in their files."""
        return self._build()[2]

    def statements(self, file: str) -> list:
        """A file's top-level statements that parsed, in order."""
        return [s for m in self.modules if m.file == file for s in m.statements]


class Parses:
    """Each statement's parse, by file, first line and text; the least recently used are dropped past `size`."""

    def __init__(self, size: int = 3_000) -> None:
        self._done: OrderedDict[tuple[str, int, str], ast.Module | None] = OrderedDict()
        self._size = size

    def module(self, file: str, line: int, chunk: str) -> ast.Module | None:
        key = (file, line, chunk)
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        found = _tolerant(file, line, chunk)
        self._done[key] = found
        if len(self._done) > self._size:
            self._done.popitem(last=False)
        return found


def analyse(text: str, file: str, folder: Path, read: Reader = read_disk, parses: Parses | None = None) -> Analysis:
    """Check the buffer and index its names; never raises on bad input (the checker's errors are diagnostics)."""
    try:
        recipe = check_source(text, file=file, base_dir=folder)
        diagnostics = recipe.warnings
    except RecipeError as err:
        recipe, diagnostics = None, err.diagnostics
    return Analysis(file, folder, text, tuple(diagnostics), recipe, read, parses or Parses())


def statements(text: str, file: str, parses: Parses) -> list[ast.Module]:
    """The file's statements, each parsed alone (or from the cache)."""
    starts = [m.start() for m in _STARTS.finditer(text)]
    out = []
    line, at = 1, 0
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(text)
        line, at = line + text.count("\n", at, start), start
        module = parses.module(file, line, text[start:end])
        if module is not None and module.statements:
            out.append(module)
    return out


def _tolerant(file: str, line: int, chunk: str) -> ast.Module | None:
    """One statement's module, parsing again with each syntax error's lines blanked; None if it never parses."""
    lines = chunk.split("\n")
    for _ in range(_RETRIES):
        try:
            return parse_module("nemo 1" + "\n" * (line - 1) + "\n".join(lines), file, comments=False)
        except RecipeError as err:
            blanked = False
            for d in err.diagnostics:
                for n in range(d.span.line, d.span.end_line + 1):
                    k = n - line
                    if d.span.file == file and 0 <= k < len(lines) and lines[k].strip():
                        lines[k] = " " * len(lines[k])
                        blanked = True
            if not blanked:
                return None
    return None


def _includes(found: list[ast.Module], file: str, folder: Path, read: Reader, parses: Parses, modules: list[ast.Module],
              texts: dict[str, str]) -> None:
    """Every file the statements include, once each, as far as it parses (depth first, as the checker splices)."""
    for module in found:
        for stmt in module.statements:
            if not isinstance(stmt, ast.Include) or not stmt.path.is_plain or len(texts) > MAX_INCLUDED_FILES:
                continue
            target = Path(os.path.normpath(folder / stmt.path.value))
            name = str(target) if os.path.isabs(file) else os.path.normpath(os.path.join(os.path.dirname(file), stmt.path.value))
            if name in texts:
                continue
            text = read(target)
            if text is None:
                continue
            texts[name] = text
            sub = statements(text, name, parses)
            modules.extend(sub)
            _includes(sub, name, target.parent, read, parses, modules, texts)
