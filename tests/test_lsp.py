"""`nemoflow lsp` end to end: a real LSP client (pytest-lsp) drives the real server over stdio.

One server serves the whole module (starting one per test would cost most of
the budget); each test opens its own documents in its own folder.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from mediagen import make_video
from pytest_lsp import ClientServerConfig, LanguageClient

from nemoflow.core.diagnostics import RecipeError
from nemoflow.lang.check import check_source
from nemoflow.lang.fmt import format_source

pytestmark = pytest.mark.asyncio(loop_scope="module")

BRAND = """nemo 1
param brand_color: color = #ffcc00
media sting = color #101820 duration 2s size 1080p fps 30
media bed = tone 196hz duration 2m volume 40%
"""

RECIPE = """nemo 1
include "brand.nemo"

media beach = pattern gradient duration 12s size 1080p fps 30

edit reel {
  video sting
  transition fade 500ms
  video beach from 1s to 6s
  title "Summer" from 0s to 2.5s color $brand_color
  music bed volume 30%
}

export web = reel {
  size 1080p
  save "out/reel.mp4"
}
"""


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "nemoflow", "lsp"]))
async def client(lsp_client: LanguageClient):
    _initialized.append(await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=pytest_lsp.client_capabilities("visual-studio-code"))))
    yield
    await lsp_client.shutdown_session()


_versions: dict[str, int] = {}
_initialized: list[lsp.InitializeResult] = []


def _open(client: LanguageClient, path: Path, text: str) -> str:
    uri = path.as_uri()
    _versions[uri] = 1
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="nemo", version=1, text=text)))
    return uri


def _replace(client: LanguageClient, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    """An incremental edit, as editors send them."""
    _versions[uri] += 1
    rng = lsp.Range(start=lsp.Position(line=start[0], character=start[1]), end=lsp.Position(line=end[0], character=end[1]))
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=_versions[uri]),
        content_changes=[lsp.TextDocumentContentChangePartial(range=rng, text=text)]))


async def _diagnostics(client: LanguageClient, uri: str, predicate) -> list[lsp.Diagnostic]:
    """The document's diagnostics once the server has published some that satisfy `predicate`."""
    async def wait():
        while not (uri in client.diagnostics and predicate(client.diagnostics[uri])):
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(client.diagnostics[uri])
    try:
        return await asyncio.wait_for(wait(), timeout=10)
    except TimeoutError:
        raise AssertionError(f"no such diagnostics: {client.diagnostics.get(uri)}; server log: {client.log_messages}") from None


def _pos(line: int, character: int) -> lsp.Position:
    return lsp.Position(line=line, character=character)


def _doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


def _errors_logged(client: LanguageClient) -> list[str]:
    return [m.message for m in client.log_messages if m.type == lsp.MessageType.Error]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "brand.nemo").write_text(BRAND)
    (tmp_path / "reel.nemo").write_text(RECIPE)
    return tmp_path


async def test_server_advertises_what_it_answers(client: LanguageClient):
    caps = _initialized[-1].capabilities
    assert caps.completion_provider is not None and " " in caps.completion_provider.trigger_characters
    assert caps.hover_provider and caps.definition_provider and caps.references_provider
    assert caps.rename_provider and caps.document_formatting_provider and caps.document_symbol_provider
    assert caps.code_action_provider
    assert _initialized[-1].server_info.name == "nemoflow"


async def test_diagnostics_match_check_and_the_fix_it_clears_them(client: LanguageClient, project):
    text = RECIPE.replace("video beach from", "video baech from")
    uri = _open(client, project / "reel.nemo", text)
    diags = await _diagnostics(client, uri, lambda ds: len(ds) > 0)
    with pytest.raises(RecipeError) as err:
        check_source(text, file=str(project / "reel.nemo"), base_dir=project)
    want = err.value.diagnostics
    assert [(d.code, d.range.start.line + 1, d.range.start.character + 1, d.range.end.character + 1) for d in diags] == \
        [(w.code, w.span.line, w.span.column, w.span.end_column) for w in want]
    d = diags[0]
    assert d.code == "E253" and d.severity == lsp.DiagnosticSeverity.Error and d.source == "nemoflow"
    assert d.message.startswith("unknown name `baech`") and "help: did you mean `beach`?" in d.message

    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=_doc(uri), range=d.range, context=lsp.CodeActionContext(diagnostics=[d])))
    assert [a.title for a in actions] == ["Change to beach"]
    edit = actions[0].edit.changes[uri][0]
    assert edit.new_text == "beach" and edit.range == d.range
    _replace(client, uri, (edit.range.start.line, edit.range.start.character),
             (edit.range.end.line, edit.range.end.character), edit.new_text)
    assert await _diagnostics(client, uri, lambda ds: len(ds) == 0) == []


async def test_unit_fix_and_syntax_errors_as_you_type(client: LanguageClient, project):
    uri = _open(client, project / "units.nemo", RECIPE.replace("volume 30%", "volume 30"))
    diags = await _diagnostics(client, uri, lambda ds: len(ds) > 0)
    assert "add a unit: `30%`" in diags[0].message
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=_doc(uri), range=diags[0].range, context=lsp.CodeActionContext(diagnostics=diags)))
    assert [(a.title, a.edit.changes[uri][0].new_text) for a in actions] == [("Write 30%", "30%")]

    # Typing an unclosed block: a syntax error, at the line the checker names; closing it clears everything.
    _replace(client, uri, (10, 0), (10, 0), "edit broken {\n")
    diags = await _diagnostics(client, uri, lambda ds: any(d.code != diags[0].code for d in ds))
    assert all(d.severity == lsp.DiagnosticSeverity.Error for d in diags)
    _replace(client, uri, (10, 0), (11, 0), "")
    _replace(client, uri, (10, 19), (10, 21), "30%")
    assert await _diagnostics(client, uri, lambda ds: len(ds) == 0) == []


async def _labels(client: LanguageClient, uri: str, line: int, character: int) -> list[str]:
    result = await client.text_document_completion_async(lsp.CompletionParams(text_document=_doc(uri), position=_pos(line, character)))
    items = result.items if isinstance(result, lsp.CompletionList) else result
    return [i.label for i in items]


async def test_completion_in_place(client: LanguageClient, project):
    (project / "footage").mkdir()
    (project / "footage" / "beach.mp4").write_bytes(b"")
    (project / "footage" / "notes.txt").write_text("x")
    text = RECIPE + "edit more {\n  \n}\n"
    uri = _open(client, project / "complete.nemo", text)
    await _diagnostics(client, uri, lambda ds: True)
    line = text.split("\n").index("edit more {") + 1
    verbs = await _labels(client, uri, line, 2)
    assert {"video", "transition", "grade", "title", "music"} <= set(verbs) and "media" not in verbs

    async def at(typed: str) -> list[str]:
        _replace(client, uri, (line, 0), (line, len(at.current)), typed)
        at.current = typed
        return await _labels(client, uri, line, len(typed))
    at.current = "  "
    # names where a reference is expected, the included file's too; the verb's keywords after it
    names = await at("  video ")
    assert {"beach", "sting", "reel", "from", "to", "speed", "mute"} <= set(names) and "bed" in names
    assert "ease" not in names
    assert (await at("  transition "))[:3] == ["cut", "crossfade", "fade"]
    assert "teal-orange" in await at("  grade ")
    assert await at("  title \"x\" at ") == ["center", "top", "bottom", "left", "right", "top-left", "top-right",
                                             "bottom-left", "bottom-right", "lower-third"]
    assert await at("  video beach from 2") == ["2s", "2ms", "2m", "2h"]
    assert await at("  volume 5") == ["5%", "5dB"]
    assert "brand_color" in await at("  title \"x\" color $")
    # statement keywords at the top level, file paths in a media line's quotes (media files only)
    top = await _labels(client, uri, len(text.split("\n")) - 1, 0)
    assert top == ["include", "engine", "param", "media", "edit", "ask", "export", "expect", "for"]
    _replace(client, uri, (line, 0), (line, len(at.current)), "")
    end = len(text.split("\n")) - 1
    _replace(client, uri, (end, 0), (end, 0), 'media clip = "footage/')
    assert await _labels(client, uri, end, len('media clip = "footage/')) == ["footage/beach.mp4"]


async def test_hover_signature_param_and_probed_media(client: LanguageClient, project):
    make_video(project / "clip.mp4", duration=1.0)
    text = RECIPE.replace("media beach = pattern gradient duration 12s size 1080p fps 30", 'media beach = "clip.mp4"')
    text = text.replace("video beach from 1s to 6s", "video beach from 0s to 1s")
    uri = _open(client, project / "hover.nemo", text)
    assert await _diagnostics(client, uri, lambda ds: True) == []
    lines = text.split("\n")

    async def hover(line_text: str, word: str) -> str | None:
        n = lines.index(line_text)
        result = await client.text_document_hover_async(lsp.HoverParams(text_document=_doc(uri),
                                                                        position=_pos(n, line_text.index(word) + 1)))
        return result.contents.value if result is not None else None

    verb = await hover("  transition fade 500ms", "transition")
    assert "transition <cut|crossfade|" in verb and "How the previous clip gives way to the next." in verb
    keyword = await hover("  music bed volume 30%", "volume")
    assert keyword.startswith("`music … volume`: a percentage like `35%` or a level in decibels")
    param = await hover('  title "Summer" from 0s to 2.5s color $brand_color', "brand_color")
    assert "value: `#ffcc00` (color, from its default)" in param and "brand.nemo" in param
    media = await hover("  video beach from 0s to 1s", "beach")
    assert "320x180" in media and "30 fps" in media and "audio: aac, 48000 Hz, 1 channel" in media
    # a step's cache status is worked out off the request thread: shown once ready (nothing has run in this folder)
    for _ in range(100):
        step = await hover("export web = reel {", "web")
        if "being worked out" not in step:
            break
        await asyncio.sleep(0.1)
    assert "- `export.web`: **run** — not run before" in step and "expect.web" not in step
    assert not (project / ".nemoflow").exists()  # hovering wrote nothing
    assert await hover("", "") is None  # a blank line


async def test_definition_references_and_rename_across_includes(client: LanguageClient, project):
    uri = _open(client, project / "reel.nemo", RECIPE)
    await _diagnostics(client, uri, lambda ds: True)
    brand = (project / "brand.nemo").as_uri()
    lines = RECIPE.split("\n")
    music = lines.index("  music bed volume 30%")
    found = await client.text_document_definition_async(lsp.DefinitionParams(text_document=_doc(uri), position=_pos(music, 9)))
    assert found.uri == brand and found.range == lsp.Range(start=_pos(3, 6), end=_pos(3, 9))

    reel = lines.index("edit reel {")
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=_doc(uri), position=_pos(reel, 6), context=lsp.ReferenceContext(include_declaration=True)))
    assert sorted((r.range.start.line, r.range.start.character) for r in refs) == [(reel, 5), (lines.index("export web = reel {"), 13)]

    edit = await client.text_document_rename_async(lsp.RenameParams(text_document=_doc(uri), position=_pos(music, 9),
                                                                     new_name="score"))
    assert set(edit.changes) == {uri, brand}
    assert [(e.range.start.line, e.range.start.character, e.new_text) for e in edit.changes[brand]] == [(3, 6, "score")]
    assert [(e.range.start.line, e.range.start.character, e.new_text) for e in edit.changes[uri]] == [(music, 8, "score")]
    with pytest.raises(Exception, match="already the name of a media"):
        await client.text_document_rename_async(lsp.RenameParams(text_document=_doc(uri), position=_pos(music, 9), new_name="sting"))
    with pytest.raises(Exception, match="is not a name"):
        await client.text_document_rename_async(lsp.RenameParams(text_document=_doc(uri), position=_pos(music, 9), new_name="2x"))


async def test_outline_and_formatting(client: LanguageClient, project):
    messy = ("nemo 1\nmedia  a = pattern bars duration 2s\n\n\n\nedit cut {\n     video a   for 1s\n}\n"
             "export out = cut {\nsave \"o.mp4\"\n}\n")
    uri = _open(client, project / "messy.nemo", messy)
    await _diagnostics(client, uri, lambda ds: True)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=_doc(uri)))
    assert [(s.name, s.kind, s.range.start.line) for s in symbols] == [
        ("a", lsp.SymbolKind.File, 1), ("cut", lsp.SymbolKind.Function, 5), ("out", lsp.SymbolKind.Event, 8)]
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=_doc(uri), options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert len(edits) == 1 and edits[0].new_text == format_source(messy) != messy
    assert edits[0].range.start == _pos(0, 0) and edits[0].range.end.line >= messy.count("\n")


async def test_bad_input_never_breaks_the_server(client: LanguageClient, project):
    """Garbage, binary, deep nesting, a huge line: the server answers every request and logs no error."""
    uri = _open(client, project / "bad.nemo", "")
    texts = ["", "nemo", "nemo 1\nedit {{{{\n", "\x00\x01binary\xff", "nemo 1\n" + "[" * 5000, "nemo 1\nmedia a = " + "x" * 200_000,
             'nemo 1\ninclude "bad.nemo"\n', 'nemo 1\nedit e {\n  video "unterminated\n}\n', "nemo 1\nfor x in [1,2] {\n"]
    old = ""
    for text in texts:
        lines = old.split("\n")
        _replace(client, uri, (0, 0), (len(lines) - 1, len(lines[-1])), text)
        old = text
        for line, character in ((0, 0), (1, 3), (1, 10_000), (50, 0)):
            await _labels(client, uri, line, character)
            await client.text_document_hover_async(lsp.HoverParams(text_document=_doc(uri), position=_pos(line, character)))
            await client.text_document_definition_async(lsp.DefinitionParams(text_document=_doc(uri), position=_pos(line, character)))
        await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=_doc(uri)))
        await client.text_document_formatting_async(lsp.DocumentFormattingParams(
            text_document=_doc(uri), options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)))
    await _diagnostics(client, uri, lambda ds: len(ds) > 0)
    assert _errors_logged(client) == []


async def test_errors_in_an_included_file_show_at_the_include(client: LanguageClient, project):
    (project / "brand.nemo").write_text(BRAND.replace("duration 2m", "duration 2mins"))
    uri = _open(client, project / "inc.nemo", RECIPE)
    diags = await _diagnostics(client, uri, lambda ds: len(ds) > 0)
    (d,) = [d for d in diags if d.code == "E130"]  # the others: names the broken file would have defined
    assert d.range.start.line == 1 and d.message.startswith("in brand.nemo:4: unknown unit `mins` in `2mins`")
    place = d.related_information[0].location
    assert place.uri == (project / "brand.nemo").as_uri() and place.range.start.line == 3


async def test_an_unsaved_buffer_is_checked_too(client: LanguageClient):
    uri = "untitled:Untitled-1"
    _versions[uri] = 1
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="nemo", version=1, text="nemo 1\nedit e {\n  video nothing\n}\n")))
    diags = await _diagnostics(client, uri, lambda ds: len(ds) > 0)
    assert [(d.code, d.range.start.line) for d in diags] == [("E253", 2)]
    assert "video" in await _labels(client, uri, 2, 2)
