"""Variants from a table (issue 21 item 1): `for row in table("shots.csv") key row.sku { … }`.

Reading tables with positions (CSV, JSON, JSONL, TOML), cells typed where they are used with errors at the CELL,
keys, and the per-row cache key: an edited cell changes only its own row's step keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from typer.testing import CliRunner

from nemoflow.cli import app
from nemoflow.core import codes, limits
from nemoflow.core.diagnostics import RecipeError
from nemoflow.core.values import Color, Duration, Percent
from nemoflow.lang.check import check_file
from nemoflow.lang.fmt import format_source
from nemoflow.lang.tables import TableError, read_table

RECIPE = """nemo 1
media src = pattern testsrc duration 10s size 320x180 fps 30 tone 440hz
for row in table("shots.csv") key row.sku {
  edit cut {
    video src from $row.start to $row.end
    title "${row.title}" from 0s to 1s color $row.tint
    volume $row.volume
  }
  export ad = cut {
    size 320x180
    save "out/${row}.mp4"
  }
}
"""

CSV = """sku,title,start,end,volume,tint
mug-1,"Mug, white",0s,2.5s,35%,red
hat-2,Hat,1s,3s,50%,#00ff00
cap-3,Cap,00:00:02,4s,80%,#336699
"""


def project(tmp_path: Path, table: str = CSV, recipe: str = RECIPE, name: str = "shots.csv") -> Path:
    (tmp_path / name).write_text(table, encoding="utf-8")
    path = tmp_path / "r.nemo"
    path.write_text(recipe.replace("shots.csv", name), encoding="utf-8")
    return path


def diags(path: Path) -> list:
    with pytest.raises(RecipeError) as info:
        check_file(path)
    return info.value.diagnostics


def test_rows_fan_out_with_typed_cells(tmp_path):
    recipe = check_file(project(tmp_path))
    assert [s for s in recipe.steps if s.startswith("export.")] == ["export.ad[mug-1]", "export.ad[hat-2]", "export.ad[cap-3]"]
    ops = {op.verb: op for op in recipe.steps["edit.cut[mug-1]"].spec.ops}
    assert ops["video"].args["from"] == Duration(0) and ops["video"].args["to"] == Duration(2.5)
    assert ops["title"].args["text"] == "Mug, white"
    assert isinstance(ops["title"].args["color"], Color)
    assert ops["volume"].args["level"] == Percent(35.0)
    cap = {op.verb: op for op in recipe.steps["edit.cut[cap-3]"].spec.ops}
    assert cap["video"].args["from"] == Duration(2)  # a timecode cell
    assert str(recipe.steps["export.ad[hat-2]"].spec.path).endswith("out/hat-2.mp4")
    assert recipe.tables[0].keys == ("mug-1", "hat-2", "cap-3")
    assert (tmp_path / "shots.csv").resolve() in recipe.files  # preview --watch follows the table


@pytest.mark.parametrize("name,text", [
    ("shots.json", json.dumps([{"sku": "mug-1", "title": "Mug, white", "start": "0s", "end": "2.5s", "volume": "35%",
                                "tint": "red"},
                               {"sku": "hat-2", "title": "Hat", "start": "1s", "end": "3s", "volume": "50%", "tint": "#00ff00"}],
                              indent=2)),
    ("shots.jsonl", '{"sku": "mug-1", "title": "Mug, white", "start": "0s", "end": "2.5s", "volume": "35%", "tint": "red"}\n'
                    '\n{"sku": "hat-2", "title": "Hat", "start": "1s", "end": "3s", "volume": "50%", "tint": "#00ff00"}\n'),
    ("shots.toml", '[[rows]]\nsku = "mug-1"\ntitle = "Mug, white"\nstart = "0s"\nend = "2.5s"\nvolume = "35%"\ntint = "red"\n\n'
                   '[[rows]]\nsku = "hat-2"\ntitle = "Hat"\nstart = "1s"\nend = "3s"\nvolume = "50%"\ntint = "#00ff00"\n'),
])
def test_json_jsonl_toml_read_the_same(tmp_path, name, text):
    recipe = check_file(project(tmp_path, text, name=name))
    ops = {op.verb: op for op in recipe.steps["edit.cut[mug-1]"].spec.ops}
    assert ops["video"].args["to"] == Duration(2.5) and ops["title"].args["text"] == "Mug, white"
    assert "edit.cut[hat-2]" in recipe.steps


def test_cells_keep_their_place_in_every_format(tmp_path):
    (tmp_path / "t.csv").write_text('a,b\n1,"x\ny"\n2,zz\n', encoding="utf-8")
    t = read_table(tmp_path / "t.csv", "t.csv", 100)
    assert t.rows[0].cells["b"].text == "x\ny" and (t.rows[1].cells["b"].span.line, t.rows[1].cells["b"].span.column) == (4, 3)
    (tmp_path / "t.json").write_text('[\n  {"a": 1, "b": "x"},\n  {"a": 2.5, "b": true}\n]', encoding="utf-8")
    t = read_table(tmp_path / "t.json", "t.json", 100)
    cell = t.rows[1].cells["a"]
    assert (cell.text, cell.span.line, cell.span.column) == ("2.5", 3, 9) and t.rows[1].cells["b"].text == "true"
    (tmp_path / "t.toml").write_text('[[r]]\na = 1\n[[r]]\na = "2s"\n', encoding="utf-8")
    t = read_table(tmp_path / "t.toml", "t.toml", 100)
    assert (t.rows[1].cells["a"].text, t.rows[1].cells["a"].span.line, t.rows[1].cells["a"].span.column) == ("2s", 4, 5)


@pytest.mark.parametrize("name,text,where", [
    ("t.csv", 'a,b\n1,"open\n', (2, 3)),
    ("t.csv", "a,b\n1,2,3\n", (2, 1)),
    ("t.json", '[{"a": 1}, {"a": [1]}]', (1, 18)),
    ("t.json", '[{"a": 1},\n {"a": 1,}]', (2, 10)),
    ("t.jsonl", '{"a": 1}\n{"a": 2} x\n', (2, 10)),
    ("t.toml", "[[r]]\na = \n", (2, 5)),
])
def test_malformed_tables_say_where(tmp_path, name, text, where):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(TableError) as info:
        read_table(tmp_path / name, name, 100)
    assert (info.value.span.line, info.value.span.column) == where


def test_bad_unit_in_a_cell_points_at_the_cell_and_the_recipe_line(tmp_path):
    path = project(tmp_path, CSV.replace("hat-2,Hat,1s,3s", "hat-2,Hat,1s,3sec"))
    (d,) = diags(path)
    assert d.code == codes.BAD_CELL.id and "sec" in d.message and d.help == "did you mean `3s`?"
    assert (Path(d.span.file).name, d.span.line, d.span.column) == ("shots.csv", 3, 14)
    assert [(r.span.line, r.span.column) for r in d.related] == [(5, 34)]


def test_wrong_type_in_a_cell_is_the_slots_own_message_at_the_cell(tmp_path):
    (d,) = diags(project(tmp_path, CSV.replace("50%,#00ff00", "50%,bleu")))
    assert d.code == codes.UNKNOWN_COLOR.id and "blue" in (d.help or "")
    assert (d.span.line, d.span.column) == (3, 21) and d.related[0].span.file.endswith("r.nemo")
    (d,) = diags(project(tmp_path, CSV.replace("35%,red", "2s,red")))
    assert d.code == codes.TYPE_MISMATCH.id and (d.span.line, d.span.column) == (2, 28)


def test_missing_column_says_did_you_mean(tmp_path):
    (d,) = diags(project(tmp_path, recipe=RECIPE.replace("$row.end", "$row.ende")))
    assert d.code == codes.UNKNOWN_COLUMN.id and d.help == "did you mean `end`?" and d.span.file.endswith("r.nemo")
    (d,) = diags(project(tmp_path, recipe=RECIPE.replace("${row.title}", "${row.titel}")))
    assert d.code == codes.UNKNOWN_COLUMN.id and d.help == "did you mean `title`?"
    (d,) = diags(project(tmp_path, recipe=RECIPE.replace("key row.sku", "key row.skus")))
    assert d.code == codes.UNKNOWN_COLUMN.id and (d.span.line, d.span.column) == (3, 39)


def test_duplicate_key_empty_table_missing_file_and_too_many_rows(tmp_path, monkeypatch):
    (d,) = diags(project(tmp_path, CSV.replace("cap-3", "mug-1")))
    assert d.code == codes.DUPLICATE_ROW_KEY.id and (d.span.line, d.span.column) == (4, 1) and d.related[0].span.line == 2
    (d,) = diags(project(tmp_path, "sku,title,start,end,volume,tint\n"))
    assert d.code == codes.EMPTY_TABLE.id
    (d,) = diags(project(tmp_path, "[{}, {}]", name="shots.json"))
    assert d.code == codes.EMPTY_TABLE.id and "no columns" in d.message
    (d,) = diags(project(tmp_path, recipe=RECIPE.replace('table("shots.csv")', 'table("nope.csv")')))
    assert d.code == codes.TABLE_NOT_FOUND.id
    monkeypatch.setenv(limits.TABLE_ROWS.env, "2")
    (d,) = diags(project(tmp_path))
    assert d.code == codes.FANOUT_TOO_LARGE.id and "more than 2 rows" in d.message


def test_default_key_is_the_first_column(tmp_path):
    recipe = check_file(project(tmp_path, recipe=RECIPE.replace(" key row.sku", "")))
    assert "export.ad[cap-3]" in recipe.steps


def test_fmt_keeps_table_and_key():
    text = RECIPE.replace("for row in", "for  row in")
    assert 'for row in table("shots.csv") key row.sku {' in format_source(text, "r.nemo")


def _keys(path: Path) -> dict[str, str]:
    result = CliRunner().invoke(app, ["plan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return {s["step"]: s["key"] for s in json.loads(result.output)["steps"]}


def test_editing_one_cell_changes_only_that_rows_keys(tmp_path):
    path = project(tmp_path)
    before = _keys(path)
    (tmp_path / "shots.csv").write_text(CSV.replace("hat-2,Hat,", "hat-2,Cap for hats,"), encoding="utf-8")
    after = _keys(path)
    assert {s for s in before if before[s] != after[s]} == {"edit.cut[hat-2]", "export.ad[hat-2]"}
    (tmp_path / "shots.csv").write_text(CSV.replace("hat-2,Hat,", "hat-2,Cap for hats,") + "box-4,Box,0s,1s,10%,red\n",
                                        encoding="utf-8")
    grown = _keys(path)
    assert {s for s in grown if grown[s] != after.get(s)} == {"edit.cut[box-4]", "export.ad[box-4]"}


def test_columns_with_digits_and_hyphens_in_strings_and_clauses(tmp_path):
    table = "id,line-2,len_2\nx-1,Second line,1s\n"
    recipe = RECIPE.replace('"${row.title}"', '"${row.line-2}"').replace("$row.end", "$row.len_2").replace(" key row.sku", "")
    recipe = recipe.replace("$row.start", "0s").replace(" color $row.tint", "").replace("$row.volume", "50%")
    steps = check_file(project(tmp_path, table, recipe=recipe)).steps
    ops = {op.verb: op for op in steps["edit.cut[x-1]"].spec.ops}
    assert ops["title"].args["text"] == "Second line" and ops["video"].args["to"] == Duration(1)


def test_a_cell_is_never_recipe_syntax(tmp_path):
    table = CSV.replace('"Mug, white"', '"${row.sku} \"\" $x"')
    ops = {op.verb: op for op in check_file(project(tmp_path, table)).steps["edit.cut[mug-1]"].spec.ops}
    assert ops["title"].args["text"] == '${row.sku} " $x'


def test_editor_completes_columns_and_knows_row_uses(tmp_path):
    from nemoflow.lang.parser import parse_module
    from nemoflow.lsp import index as lsp_index
    from nemoflow.lsp.completion import complete

    (tmp_path / "shots.csv").write_text(CSV, encoding="utf-8")
    text = RECIPE.replace("volume $row.volume", "volume $row.")
    module = parse_module(RECIPE, "r.nemo")
    idx = lsp_index.build([module], {"r.nemo": RECIPE})
    line = text.split("\n").index("    volume $row.")
    items = complete(text, line, len("    volume $row."), idx, tmp_path)
    assert [i.label for i in items] == ["sku", "title", "start", "end", "volume", "tint"]
    (row,) = [s for s in idx.symbols if s.kind == "loop"]
    uses = [(o.span.line, o.span.column) for o in idx.uses(row) if not o.definition]
    assert (3, 35) in uses and (5, 21) in uses and (6, 14) in uses  # key, `$row.start`, `${row.title}`: a rename reaches them


def test_a_json_row_leaving_a_column_out_is_an_error_where_used(tmp_path):
    rows = [{"sku": "a", "title": "A", "start": "0s", "end": "1s", "volume": "5%", "tint": "red"},
            {"sku": "b", "title": "B", "start": "0s", "volume": "5%", "tint": "red"}]
    (d,) = diags(project(tmp_path, json.dumps(rows), name="shots.json"))
    assert d.code == codes.UNKNOWN_COLUMN.id and "row 2" in d.message and d.related[0].span.file.endswith("shots.json")


def test_a_media_path_in_a_cell_is_relative_to_the_recipe_and_a_missing_one_is_reported_at_the_cell(tmp_path):
    from mediagen import make_video

    (tmp_path / "clips").mkdir()
    make_video(tmp_path / "clips" / "a.mp4", size=(320, 180), duration=1.0)
    recipe = ('nemo 1\nfor row in table("f.csv") {\n  media clip = $row.file\n  edit cut {\n    video clip for 1s\n  }\n'
              '  export out = cut {\n    save "out/${row}.mp4"\n  }\n}\n')
    steps = check_file(project(tmp_path, "sku,file\nr1,clips/a.mp4\n", recipe=recipe, name="f.csv")).steps
    assert steps["media.clip[r1]"].spec.path == (tmp_path / "clips" / "a.mp4").resolve()
    (d,) = diags(project(tmp_path, "sku,file\nr1,clips/a.mp4\nr2,clips/b.mp4\n", recipe=recipe, name="f.csv"))
    assert (Path(d.span.file).name, d.span.line, d.span.column) == ("f.csv", 3, 4) and d.related[0].span.line == 3


def test_hostile_tables_are_clear_errors(tmp_path, monkeypatch):
    deep = '[{"a": ' + "[" * 100_000 + "]" * 100_000 + "}]"
    (tmp_path / "deep.json").write_text(deep, encoding="utf-8")
    with pytest.raises(TableError, match="nested too deeply"):
        read_table(tmp_path / "deep.json", "deep.json", 100)
    monkeypatch.setenv(limits.TABLE_BYTES.env, "100")
    (d,) = diags(project(tmp_path, CSV + "x" * 200))
    assert d.code == codes.TABLE_UNREADABLE.id and "at most 100" in d.message


def test_plan_names_new_rows_and_merges_a_table_nested_in_a_loop(tmp_path):
    loop = 'for row in table("shots.csv") key row.sku {'
    nested = RECIPE.replace(loop, 'for look in ["a", "b"] {\n' + loop)
    nested = nested.replace('save "out/${row}.mp4"', 'save "out/${look}-${row}.mp4"') + "}\n"
    result = CliRunner().invoke(app, ["plan", str(project(tmp_path, recipe=nested))])
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.startswith("rows (")]
    assert line == "rows (shots.csv, `row`): 6 new (a/mug-1, a/hat-2, a/cap-3, b/mug-1, b/hat-2, … 1 more), 0 cached"
    as_json = CliRunner().invoke(app, ["plan", str(tmp_path / "r.nemo"), "--json"])
    assert json.loads(as_json.output)["rows"] == [{"table": "shots.csv", "var": "row", "changed": {},
                                                   "new": ["a/mug-1", "a/hat-2", "a/cap-3", "b/mug-1", "b/hat-2", "b/cap-3"],
                                                   "cached": 0}]


def test_plan_line_names_the_columns_behind_a_changed_clause(tmp_path):
    from nemoflow.plan.keys import Component, Part, StepKey
    from nemoflow.plan.planner import Change, PlannedStep, Reason, Status, Why
    from nemoflow.plan.rows import row_lines, row_summaries

    recipe = check_file(project(tmp_path))
    title = Component(Part.CLAUSE, "title", '{"text":"Hat"}', 2)  # `title "${row.title}" … color $row.tint`
    change = Change(title, "changed", '{"color":"#00ff00","text":"Old hat"}', '{"color":"#00ff00","text":"Hat"}', "")
    planned = [PlannedStep("edit.cut[hat-2]", recipe.steps["edit.cut[hat-2]"].kind, Status.RUN,
                           (Reason(Why.CHANGED, "clause 2 changed", change),), StepKey("k", ())),
               PlannedStep("export.ad[cap-3]", recipe.steps["export.ad[cap-3]"].kind, Status.RUN,
                           (Reason(Why.NEW, "not run before"),), StepKey("k", ()))]
    assert row_lines(recipe, planned) == ["rows (shots.csv, `row`): 1 changed (hat-2: title), 1 new (cap-3), 1 cached"]
    video = Component(Part.CLAUSE, "video", "{}", 1)  # `video src from $row.start to $row.end`: 1s → 1.0, not told apart
    planned[0] = attrs.evolve(planned[0], reasons=(Reason(Why.CHANGED, "", Change(video, "changed", "{}", "{}", "")),))
    assert "hat-2: start, end" in row_lines(recipe, planned)[0]
    (summary,) = row_summaries(recipe, planned)
    assert summary.to_json()["changed"] == {"hat-2": {"columns": ["start", "end"], "reason": ""}}
    assert summary.to_json()["new"] == ["cap-3"] and summary.cached == 1
