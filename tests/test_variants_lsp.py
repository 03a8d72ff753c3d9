"""The language server on a table loop: a bad cell is shown at the recipe line that uses it (the cell's place in
the data file as related information), and `$row.` completes the table's columns."""

from __future__ import annotations

import asyncio
import sys

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

RECIPE = """nemo 1
media src = pattern testsrc duration 10s size 320x180 fps 30
for row in table("shots.csv") {
  edit cut {
    video src for $row.length
  }
  export ad = cut {
    save "out/${row}.mp4"
  }
}
"""


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "nemoflow", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=pytest_lsp.client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


async def test_a_bad_cell_shows_where_the_recipe_uses_it(client: LanguageClient, tmp_path):
    (tmp_path / "shots.csv").write_text("sku,length\nmug-1,2s\nhat-2,3sec\n", encoding="utf-8")
    path = tmp_path / "r.nemo"
    path.write_text(RECIPE, encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="nemo", version=1, text=RECIPE)))

    async def published():
        while not client.diagnostics.get(uri):
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(client.diagnostics[uri])

    (d,) = await asyncio.wait_for(published(), timeout=10)
    assert d.code == "E385" and d.message.startswith("in shots.csv:3: unknown unit `sec`")
    assert (d.range.start.line, d.range.start.character) == (4, 18)  # `$row.length` in the recipe
    cell = d.related_information[0].location
    assert cell.uri == (tmp_path / "shots.csv").as_uri() and (cell.range.start.line, cell.range.start.character) == (2, 6)

    result = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=4, character=23)))
    items = result.items if isinstance(result, lsp.CompletionList) else result
    assert [i.label for i in items] == ["sku", "length"]
