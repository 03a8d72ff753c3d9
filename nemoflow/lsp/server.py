"""The language server: pygls wiring from LSP requests to the analysis, completion, hover and navigation modules.

Everything runs on pygls's event loop thread, one request at a time: the
parser keeps per-parse state in module globals, so checks must not overlap.
After an edit the check is queued, not run at once; when several edits
arrive together only the newest text is checked. Every handler is guarded:
a bug answers "nothing here" and is logged to the editor, the server lives on.
"""

from __future__ import annotations

import asyncio
import functools
import os
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__
from ..core.diagnostics import Diagnostic, RecipeError, Span

if TYPE_CHECKING:
    from .analysis import Analysis

REQUEST_FAILED = -32803  # LSP's RequestFailed: a valid request the server could not carry out


class NemoServer(LanguageServer):
    """A pygls LanguageServer that keeps each open document's latest analysis."""

    def __init__(self) -> None:
        super().__init__("nemoflow", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, tuple[int | None, Analysis]] = {}
        self._tools = None

    @property
    def tools(self):
        """The features module, with the caches that live as long as the server (made on first use)."""
        if self._tools is None:
            from . import features as f

            self._tools = f
            self.probes, self.parses, self.statuses = f.ProbeCache(), f.Parses(), f.Statuses()
        return self._tools

    # -- documents ---------------------------------------------------------------------------------------------------
    def names_of(self, uri: str) -> tuple[str, Path]:
        """The file name spans carry for a document, and the folder its relative paths start from."""
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path:
            path = os.path.normpath(os.path.abspath(path))
            return path, Path(os.path.dirname(path))
        root = self.workspace.root_path
        return os.path.basename(uri) or "untitled.nemo", Path(root) if root else Path.cwd()

    def read(self, path: Path) -> str | None:
        """An included file: the editor's buffer when it is open there, else the file on disk."""
        doc = self.workspace.text_documents.get(from_fs_path(str(path)) or "")
        return doc.source if doc is not None else self.tools.read_disk(path)

    def analysis(self, uri: str) -> Analysis:
        """The document's analysis for its current text (made now if an edit came since the last one)."""
        doc = self.workspace.get_text_document(uri)
        found = self.analyses.get(uri)
        if found is not None and found[0] == doc.version and found[1].text == doc.source:
            return found[1]
        file, folder = self.names_of(uri)
        a = self.tools.analyse(doc.source, file, folder, self.read, self.parses)
        self.analyses[uri] = (doc.version, a)
        return a

    # -- positions ---------------------------------------------------------------------------------------------------
    def uri_of(self, file: str, a: Analysis, uri: str) -> str:
        return uri if file == a.file else (from_fs_path(file) or file)

    def lines_of(self, file: str, a: Analysis) -> list[str]:
        text = a.text if file == a.file else a.texts.get(file)
        if text is None:  # a table's cell (docs/variants.md): its file, read for the position of the cell
            text = self.tools.read_disk(Path(file)) or ""
        return text.split("\n")

    def to_range(self, span: Span, lines: list[str]) -> lsp.Range:
        start = lsp.Position(line=max(span.line - 1, 0), character=max(span.column - 1, 0))
        end = lsp.Position(line=max(span.end_line - 1, 0), character=max(span.end_column - 1, 0))
        codec = self.workspace.position_codec
        return lsp.Range(start=codec.position_to_client_units(lines, start), end=codec.position_to_client_units(lines, end))

    def from_position(self, uri: str, pos: lsp.Position) -> tuple[int, int]:
        """An LSP position as the 0-based line and the code-point column."""
        doc = self.workspace.get_text_document(uri)
        if pos.line >= len(doc.lines):  # the empty line after a final newline (pygls's lines stop before it)
            return pos.line, 0
        server = doc.position_codec.position_from_client_units(doc.lines, lsp.Position(line=pos.line, character=pos.character))
        return server.line, server.character

    def location(self, span: Span, a: Analysis, uri: str) -> lsp.Location:
        lines = self.lines_of(span.file, a)
        return lsp.Location(uri=self.uri_of(span.file, a, uri), range=self.to_range(span, lines))

    # -- diagnostics -------------------------------------------------------------------------------------------------
    def schedule(self, uri: str) -> None:
        doc = self.workspace.get_text_document(uri)
        version = doc.version
        asyncio.get_running_loop().call_soon(self.validate, uri, version)

    def validate(self, uri: str, version: int | None) -> None:
        try:
            doc = self.workspace.text_documents.get(uri)
            if doc is None or doc.version != version:
                return  # closed, or a newer edit is queued: that one is checked instead
            a = self.analysis(uri)
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
                uri=uri, version=version, diagnostics=self.diagnostics(a, uri)))
            asyncio.get_running_loop().call_soon(self.warm, uri, version)
        except Exception:  # the server outlives its bugs (the log says where)
            self.log(traceback.format_exc())

    def warm(self, uri: str, version: int | None) -> None:
        """Index the names while the editor is idle, unless a newer edit came (then its check comes first)."""
        try:
            found = self.analyses.get(uri)
            if found is not None and found[0] == version:
                found[1].index  # noqa: B018 - built on first use; built now, a request after this one finds it ready
        except Exception:  # the server outlives its bugs (the log says where)
            self.log(traceback.format_exc())

    def diagnostics(self, a: Analysis, uri: str) -> list[lsp.Diagnostic]:
        lines = a.text.split("\n")
        return [self.diagnostic(d, a, uri, lines) for d in a.diagnostics]

    def diagnostic(self, d: Diagnostic, a: Analysis, uri: str, lines: list[str]) -> lsp.Diagnostic:
        message = d.message
        if d.expected:
            message += "\nexpected: " + ", ".join(d.expected)
        if d.help:
            message += "\nhelp: " + d.help
        related = [lsp.DiagnosticRelatedInformation(location=self.location(r.span, a, uri), message=r.message) for r in d.related]
        span = d.span
        if span.file != a.file:  # in an included file: shown at the include that brings it in
            related.insert(0, lsp.DiagnosticRelatedInformation(location=self.location(span, a, uri), message=d.message))
            message = f"in {os.path.basename(span.file)}:{span.line}: {message}"
            # a table's cell (docs/variants.md) is shown where the recipe uses it; an included file at its include
            cell = not any(m.file == span.file for m in a.modules)
            span = (next((r.span for r in d.related if r.span.file == a.file), None) if cell else None) \
                or _include_span(a, span.file)
        severity = lsp.DiagnosticSeverity.Error if d.is_error else lsp.DiagnosticSeverity.Warning
        return lsp.Diagnostic(range=self.to_range(span, lines), message=message, severity=severity, code=d.code,
                              source="nemoflow", related_information=related or None)

    def log(self, text: str) -> None:
        self.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Error, message=f"nemoflow lsp: {text}"))


def _ast():
    from ..lang import ast

    return ast


def _include_span(a: Analysis, file: str) -> Span:
    includes = [s for s in a.statements(a.file) if isinstance(s, _ast().Include)]
    for inc in includes:
        if os.path.normpath(os.path.join(os.path.dirname(a.file), inc.path.value)) == file:
            return inc.span
    return includes[0].span if includes else Span(a.file, 1, 1, 1, 1)


def guarded(empty=None):
    """A handler that answers `empty` (and logs the traceback) instead of failing the request."""

    def wrap(f):
        @functools.wraps(f)
        def run(ls, params):
            try:
                return f(ls, params)
            except Exception:  # the server outlives its bugs
                ls.log(traceback.format_exc())
                return empty() if callable(empty) else empty
        return run
    return wrap


server = NemoServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
@guarded()
def did_open(ls: NemoServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
@guarded()
def did_change(ls: NemoServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
@guarded()
def did_save(ls: NemoServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.analyses.pop(params.text_document.uri, None)  # included files may have changed on disk
    ls.schedule(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
@guarded()
def did_close(ls: NemoServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.analyses.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" ", "$", '"', "/", "{"]))
@guarded(list)
def completion(ls: NemoServer, params: lsp.CompletionParams) -> list[lsp.CompletionItem]:
    uri = params.text_document.uri
    line, column = ls.from_position(uri, params.position)
    found = ls.analyses.get(uri)
    if found is None:
        found = (None, ls.analysis(uri))
    doc = ls.workspace.get_text_document(uri)
    return ls.tools.complete(doc.source, line, column, found[1].index, found[1].folder)


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
@guarded()
def on_hover(ls: NemoServer, params: lsp.HoverParams) -> lsp.Hover | None:
    uri = params.text_document.uri
    a = ls.analysis(uri)
    line, column = ls.from_position(uri, params.position)
    found = ls.tools.hover(a, a.file, line + 1, column + 1, ls.probes, ls.statuses)
    if found is None:
        return None
    content = lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=found.markdown)
    rng = ls.to_range(found.span, ls.lines_of(a.file, a)) if found.span is not None and found.span.file == a.file else None
    return lsp.Hover(contents=content, range=rng)


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
@guarded()
def on_definition(ls: NemoServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    uri = params.text_document.uri
    a = ls.analysis(uri)
    line, column = ls.from_position(uri, params.position)
    span = ls.tools.navigation.definition(a, a.file, line + 1, column + 1)
    return ls.location(span, a, uri) if span is not None else None


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
@guarded(list)
def on_references(ls: NemoServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    uri = params.text_document.uri
    a = ls.analysis(uri)
    line, column = ls.from_position(uri, params.position)
    spans = ls.tools.navigation.references(a, a.file, line + 1, column + 1, params.context.include_declaration)
    return [ls.location(s, a, uri) for s in spans]


@server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
@guarded()
def on_prepare_rename(ls: NemoServer, params: lsp.PrepareRenameParams):
    uri = params.text_document.uri
    a = ls.analysis(uri)
    line, column = ls.from_position(uri, params.position)
    occ = ls.tools.navigation.rename_target(a, a.file, line + 1, column + 1)
    if occ is None or occ.span.file != a.file:
        return None
    return lsp.PrepareRenamePlaceholder(range=ls.to_range(occ.span, ls.lines_of(a.file, a)), placeholder=occ.symbol.name)


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
def on_rename(ls: NemoServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    uri = params.text_document.uri
    try:
        a = ls.analysis(uri)
        line, column = ls.from_position(uri, params.position)
        edits = ls.tools.navigation.rename(a, a.file, line + 1, column + 1, params.new_name)
    except ls.tools.navigation.RenameError as err:  # the request fails with the reason, which the editor shows
        raise JsonRpcException(str(err), code=REQUEST_FAILED) from None
    except Exception:  # logged; the editor gets no rename
        ls.log(traceback.format_exc())
        return None
    if edits is None:
        return None
    changes = {}
    for file, pairs in edits.items():
        lines = ls.lines_of(file, a)
        changes[ls.uri_of(file, a, uri)] = [lsp.TextEdit(range=ls.to_range(s, lines), new_text=t) for s, t in pairs]
    return lsp.WorkspaceEdit(changes=changes)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@guarded(list)
def on_symbols(ls: NemoServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    uri = params.text_document.uri
    a = ls.analysis(uri)
    lines = ls.lines_of(a.file, a)
    return ls.tools.navigation.outline(a, lambda span: ls.to_range(span, lines))


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
@guarded(list)
def on_format(ls: NemoServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    file, _ = ls.names_of(uri)
    try:
        new = ls.tools.format_source(doc.source, file)
    except RecipeError:
        return []  # fmt formats only what parses; the diagnostics already say what does not
    if new == doc.source:
        return []
    lines = doc.source.split("\n")
    end = lsp.Position(line=len(lines), character=0)
    return [lsp.TextEdit(range=lsp.Range(start=lsp.Position(line=0, character=0), end=end), new_text=new)]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
@guarded(list)
def on_code_action(ls: NemoServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    uri = params.text_document.uri
    a = ls.analysis(uri)
    lines = ls.lines_of(a.file, a)
    first, last = params.range.start.line + 1, params.range.end.line + 1
    out = []
    for d in a.diagnostics:
        sp = d.span
        if sp.file != a.file or sp.line != sp.end_line or not (first <= sp.line <= last) or sp.line > len(lines):
            continue
        for title, new, first, end in ls.tools.navigation.fixes(d.help, lines[sp.line - 1], sp.column, sp.end_column):
            rng = ls.to_range(Span(sp.file, sp.line, first, sp.line, end), lines)
            diag = ls.diagnostic(d, a, uri, lines)
            out.append(lsp.CodeAction(title=title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[diag], is_preferred=True,
                                      edit=lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(range=rng, new_text=new)]})))
    return out


def main() -> None:
    """Serve over stdin/stdout until the client says exit."""
    server.start_io()
