"""The language server never crashes: the parser tests' mutated examples through every feature.

In process (hypothesis, the features unguarded, so any exception fails the
test) and through the real server over stdio (its guards would log an error;
the test fails on any logged error or unanswered request).
"""

from __future__ import annotations

import random
import sys

import pytest
import pytest_lsp
from conftest import CORPUS, EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient
from test_fuzz import SEEDS, TOKENS, mutated

from nemoflow.core.diagnostics import RecipeError
from nemoflow.lang.parser import parse_module
from nemoflow.lsp import index as idx
from nemoflow.lsp import navigation
from nemoflow.lsp.analysis import analyse
from nemoflow.lsp.completion import complete
from nemoflow.lsp.hover import hover

FILE = str(EXAMPLES / "fuzzed.nemo")


def _every_feature(text: str, points: list[tuple[int, int]]) -> None:
    a = analyse(text, FILE, EXAMPLES)
    lines = text.split("\n")
    try:
        whole = parse_module(text, FILE, comments=False)
    except RecipeError:
        whole = None
    if whole is not None:  # parsed a statement at a time, the buffer gives the names a parse of it all gives
        others = [m for m in a.modules if m.file != FILE]
        assert _names(idx.build([whole, *others], a.texts)) == _names(a.index)
    for occ in a.index.occurrences:  # every name the index found is where it says, with that name
        src = a.texts[occ.span.file].split("\n")[occ.span.line - 1]
        assert src[occ.span.column - 1:occ.span.end_column - 1] == occ.symbol.name
    navigation.outline(a, lambda span: span)
    for d in a.diagnostics:
        if d.span.file == FILE and d.span.line == d.span.end_line and d.span.line <= len(lines):
            for _, _, first, end in navigation.fixes(d.help, lines[d.span.line - 1], d.span.column, d.span.end_column):
                assert 1 <= first < end <= len(lines[d.span.line - 1]) + 1
    for line, column in points:
        line = line % (len(lines) + 1)
        column = column % (len(lines[line]) + 2) if line < len(lines) else 0
        complete(text, line, column, a.index, a.folder)
        hover(a, FILE, line + 1, column + 1)
        navigation.definition(a, FILE, line + 1, column + 1)
        navigation.references(a, FILE, line + 1, column + 1, True)
        try:
            navigation.rename(a, FILE, line + 1, column + 1, "renamed_x")
        except navigation.RenameError:
            pass


def _names(index: idx.Index) -> list[tuple]:
    return sorted((o.symbol.name, o.symbol.kind, o.symbol.span.line, o.span.line, o.span.column, o.definition)
                  for o in index.occurrences)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 200)), min_size=1, max_size=6))
def test_mutated_examples_in_process(text, points):
    _every_feature(text, points)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=60), st.integers(0, 30), st.integers(0, 80))
def test_token_soup_in_process(tokens, line, column):
    _every_feature("nemo 1\n" + " ".join(tokens), [(line, column)])


def test_bad_recipe_corpus_through_every_feature():
    """The checker's corpus of bad recipes (tests/corpus/bad), every feature at positions spread over each."""
    files = sorted(p for p in (CORPUS / "bad").glob("*.nemo") if p.stat().st_size < 1_000_000)
    assert len(files) >= 10
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        rows = text.split("\n")[:120]
        _every_feature(text, [(n, c) for n, row in enumerate(rows) for c in range(0, min(len(row), 120) + 1, 7)])


def test_rename_renames_every_use_and_nothing_else():
    """On each example that checks: renaming each step and param gives a recipe that still checks, with the new name
    used exactly where the old one was."""
    for path in sorted(EXAMPLES.glob("*.nemo")):
        text = path.read_text(encoding="utf-8")
        a = analyse(text, str(path), path.parent)
        assert a.recipe is not None, path
        for sym in a.index.symbols:
            if sym.span.file != str(path) or sym.kind == "loop":
                continue
            edits = navigation.rename(a, str(path), sym.span.line, sym.span.column, "zz_renamed")
            if set(edits) != {str(path)}:
                continue  # also used in an included file: the buffer alone would not check
            lines = text.split("\n")
            for span, new in sorted(edits[str(path)], key=lambda e: (e[0].line, -e[0].column)):
                row = lines[span.line - 1]
                lines[span.line - 1] = row[:span.column - 1] + new + row[span.end_column - 1:]
            b = analyse("\n".join(lines), str(path), path.parent)
            assert b.recipe is not None, (path, sym.name, b.diagnostics[:1])
            renamed = next(s for s in b.index.symbols if s.name == "zz_renamed" and s.kind == sym.kind)
            assert len(b.index.uses(renamed)) == len(a.index.uses(sym)), (path, sym.name)


def _mutate(rng: random.Random) -> str:
    """The mutations of test_fuzz.mutated, drawn from a seeded generator (the stdio test is not a hypothesis test)."""
    text = rng.choice(SEEDS)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randint(0, len(text))
        kind = rng.choice(["delete", "insert", "swap_lines", "duplicate"])
        if kind == "delete":
            text = text[:pos] + text[min(len(text), pos + rng.randint(1, 12)):]
        elif kind == "insert":
            text = text[:pos] + rng.choice(TOKENS) + text[pos:]
        else:
            lines = text.split("\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            if kind == "swap_lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(i, lines[i])
            text = "\n".join(lines)
    return text


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "nemoflow.lsp"]))  # the server alone
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_mutated_examples_over_stdio(client: LanguageClient):
    rng = random.Random(20)
    uri = (EXAMPLES / "fuzzed.nemo").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="nemo", version=1, text=SEEDS[0])))
    doc = lsp.TextDocumentIdentifier(uri=uri)
    for version in range(2, 32):
        text = _mutate(rng)
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
        lines = text.split("\n")
        for _ in range(3):
            line = rng.randrange(len(lines))
            pos = lsp.Position(line=line, character=rng.randint(0, len(lines[line])))
            await client.text_document_completion_async(lsp.CompletionParams(text_document=doc, position=pos))
            await client.text_document_hover_async(lsp.HoverParams(text_document=doc, position=pos))
            await client.text_document_references_async(lsp.ReferenceParams(
                text_document=doc, position=pos, context=lsp.ReferenceContext(include_declaration=True)))
        await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=doc))
        await client.text_document_code_action_async(lsp.CodeActionParams(
            text_document=doc, range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=len(lines), character=0)),
            context=lsp.CodeActionContext(diagnostics=[])))
    await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=doc, options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert [m.message for m in client.log_messages if m.type == lsp.MessageType.Error] == []
    assert client.error is None


FIXABLE = [  # (line as written, what the quick fix writes)
    ("  video baech for 1s", "beach"),
    ("  trasition crossfade", "transition"),
    ("  video beach for 10sec", "10s"),
    ("  video beach for 1s volume 30", "30%"),
    ("  loudness -14 dB", "-14 LUFS"),
    ("  transition circleopne", "circleopen"),
    ("  title \"x\" at lower-thrid", "lower-third"),
    ("  video beach frm 1s for 1s", "from"),
]


@pytest.mark.parametrize(("line", "fix"), FIXABLE)
def test_each_quick_fix_clears_its_error(tmp_path, line, fix):
    text = f"nemo 1\nmedia beach = pattern bars duration 20s\nedit cut {{\n  video beach for 1s\n{line}\n  video beach for 1s\n}}\n"
    file = str(tmp_path / "r.nemo")
    a = analyse(text, file, tmp_path)
    assert a.recipe is None
    lines = text.split("\n")
    (d, *_) = [d for d in a.diagnostics if d.span.line == 5]
    (title, new, first, end), *_ = navigation.fixes(d.help, lines[4], d.span.column, d.span.end_column)
    assert new == fix and title.endswith(fix)
    lines[4] = lines[4][:first - 1] + new + lines[4][end - 1:]
    b = analyse("\n".join(lines), file, tmp_path)
    assert b.recipe is not None, b.diagnostics


def test_a_misspelt_file_is_fixed_in_its_quotes(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"")
    text = 'nemo 1\nmedia c = "clp.mp4"\n'
    a = analyse(text, str(tmp_path / "r.nemo"), tmp_path)
    (d,) = [d for d in a.diagnostics if d.is_error]
    assert navigation.fixes(d.help, text.split("\n")[1], d.span.column, d.span.end_column) == \
        [('Change to "clip.mp4"', '"clip.mp4"', 11, 20)]
