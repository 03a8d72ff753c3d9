"""The checker: names, fan-out, includes, params, types, the DAG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nemoflow.core.diagnostics import RecipeError, Span
from nemoflow.core.graph import build_graph, topological_order
from nemoflow.core.model import ExportSettings, StepRef
from nemoflow.core.values import Duration, Percent, Resolution
from nemoflow.lang.check import check_file, check_source

BASE = """nemo 1
media city = pattern duration 10s size 720p tone 440hz
media lofi = tone 220hz duration 30s
"""


def errors(text: str, **kw) -> list[str]:
    with pytest.raises(RecipeError) as info:
        check_source(text, **kw)
    return [d.message for d in info.value.diagnostics]


def test_standard_edit_resolves_to_typed_steps():
    recipe = check_source(BASE + """
edit cut {
  video city from 2s to 8s
  grade "teal-orange" 70%
  title "Urban Dreams" from 0s to 3s
  music lofi volume 35% fade out 2s
}
export final = cut {
  size 4k
  save "out/final.mp4"
}
expect final {
  duration <= 12s
  has audio
}
""", base_dir=Path("/tmp/r"))
    assert list(recipe.steps) == ["media.city", "media.lofi", "edit.cut", "export.final", "expect.final"]
    cut = recipe.steps["edit.cut"]
    assert cut.inputs == ("media.city", "media.lofi")
    video, grade, title, music = cut.spec.ops
    assert video.args == {"source": StepRef("media.city"), "from": Duration(2), "to": Duration(8)}
    assert grade.args == {"look": {"preset": "teal-orange"}, "amount": Percent(70)}
    assert title.args["text"] == "Urban Dreams"
    assert music.args["fade out"] == Duration(2)
    export = recipe.steps["export.final"].spec
    assert export.path == Path("/tmp/r/out/final.mp4")
    assert export.settings == ExportSettings(size=Resolution(3840, 2160), format="mp4")
    checks = recipe.steps["expect.final"].spec.checks
    assert [(c.subject, c.op, c.value) for c in checks] == [("duration", "<=", Duration(12)), ("audio", "has", None)]


def test_glob_fan_out_gives_stable_names(tmp_path):
    (tmp_path / "footage").mkdir()
    for name in ("clip_b.mp4", "clip_a.mp4", "notes.txt"):
        (tmp_path / "footage" / name).write_bytes((b"G" + b"." * 187) * 3)  # MPEG-TS sync bytes: check takes it for a video
    (tmp_path / "r.nemo").write_text("""nemo 1
for clip in glob("footage/*.mp4") {
  edit short {
    video clip from 0s to 2s
  }
  export final = short {
    save "out/${clip}.mp4"
  }
  expect final {
    has video
  }
}
""")
    recipe = check_file(tmp_path / "r.nemo")
    assert list(recipe.steps) == [
        "media.clip[clip_a]", "edit.short[clip_a]", "export.final[clip_a]", "expect.final[clip_a]",
        "media.clip[clip_b]", "edit.short[clip_b]", "export.final[clip_b]", "expect.final[clip_b]",
    ]
    assert recipe.steps["media.clip[clip_a]"].spec.path == (tmp_path / "footage/clip_a.mp4").resolve()
    assert recipe.steps["export.final[clip_b]"].spec.path == (tmp_path / "out/clip_b.mp4").resolve()
    assert recipe.steps["edit.short[clip_b]"].inputs == ("media.clip[clip_b]",)


def test_glob_that_matches_nothing_is_an_error(tmp_path):
    (tmp_path / "r.nemo").write_text('nemo 1\nfor clip in glob("none/*.mp4") {\n  edit e {\n    video clip\n  }\n}\n')
    with pytest.raises(RecipeError) as info:
        check_file(tmp_path / "r.nemo")
    assert 'glob("none/*.mp4") matched no files' in info.value.diagnostics[0].message


def test_list_fan_out_nested_and_indexed_reference():
    recipe = check_source(BASE + """
for look in ["warm", "cool"] {
  for size in [720p, 1080p] {
    edit g {
      video city
      grade $look
    }
    export e = g {
      size $size
      save "out/${look}-${size}.mp4"
    }
  }
}
export pick = g[cool][720p] {
  save "out/pick.mp4"
}
""")
    assert "export.e[warm][1080p]" in recipe.steps
    assert recipe.steps["export.e[cool][720p]"].spec.settings.size == Resolution(1280, 720)
    assert recipe.steps["export.pick"].inputs == ("edit.g[cool][720p]",)


def test_concat_gathers_every_instance_and_expect_covers_all():
    recipe = check_source(BASE + """
for n in ["a", "b", "c"] {
  edit part {
    video city for 1s
    text "${n}"
  }
  export out = part {
    save "out/${n}.mp4"
  }
}
edit all {
  concat part
}
expect out {
  has audio
}
""")
    assert recipe.steps["edit.all"].inputs == ("edit.part[a]", "edit.part[b]", "edit.part[c]")
    assert {s for s in recipe.steps if s.startswith("expect.")} == {"expect.out[a]", "expect.out[b]", "expect.out[c]"}


def test_params_overrides_and_types(tmp_path):
    text = BASE + """
param size: resolution = 4k
param title = "Hello"
param level: percent = 35%
edit cut {
  video city
  title $title
  music lofi volume $level
}
export final = cut {
  size $size
  save "out/${title}.mp4"
}
"""
    recipe = check_source(text, overrides={"size": "1080p", "title": "Hi there"})
    assert recipe.params["size"].value == Resolution(1920, 1080)
    assert recipe.params["size"].origin == "--set"
    assert recipe.steps["export.final"].spec.path.name == "Hi there.mp4"
    assert errors(text, overrides={"size": "2s"}) == ["param `size` is a resolution like `1080p` or `3840x2160`, got a duration `2s`"]
    assert errors(text, overrides={"sise": "1080p"}) == ["no param `sise` in this recipe"]
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"level": "50%", "title": "From file"}))
    (tmp_path / "r.nemo").write_text(text)
    recipe = check_file(tmp_path / "r.nemo", params_file=params)
    assert recipe.params["level"].value == Percent(50)
    toml = tmp_path / "p.toml"
    toml.write_text('size = "720p"\n')
    assert check_file(tmp_path / "r.nemo", params_file=toml).params["size"].value == Resolution(1280, 720)


def test_param_without_value_must_be_set():
    text = BASE + 'param who: string\nedit e {\n  video city\n  title $who\n}\n'
    assert errors(text) == ["param `who` has no value"]
    assert check_source(text, overrides={"who": "me"}).params["who"].value == "me"


def test_includes_are_relative_and_read_once(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "common.nemo").write_text('nemo 1\ninclude "colors.nemo"\nmedia bed = tone 200hz duration 5s\n')
    (tmp_path / "lib" / "colors.nemo").write_text("nemo 1\nmedia black = color black duration 1s\n")
    (tmp_path / "r.nemo").write_text('nemo 1\ninclude "lib/common.nemo"\ninclude "lib/colors.nemo"\n'
                                     "edit e {\n  video black\n  music bed\n}\n")
    recipe = check_file(tmp_path / "r.nemo")
    assert set(recipe.steps) == {"media.bed", "media.black", "edit.e"}
    assert len(recipe.files) == 3


def test_cycles_are_reported_with_their_path():
    msgs = errors(BASE + "edit a = a {\n  grade warm\n}\n")
    assert msgs == ["dependency cycle: edit.a → edit.a"]


@pytest.mark.parametrize(("body", "message"), [
    ("edit e {\n  video city volume 50%\n  video export_me\n}\n", "unknown name `export_me`"),
    ("edit e {\n  video city\n}\nexport x = e {\n}\nedit f {\n  video x\n}\n",
     "`x` is an export; `video` takes media, edit or ask"),
    ("edit e {\n  image city\n}\n", "`image` needs `for <duration>`"),
    ("edit e {\n  transition crossfade\n  video city\n}\n", "a transition needs a clip before it"),
    ("edit e {\n  video city\n  transition crossfade\n}\n", "nothing follows this transition"),
    ("edit e {\n  grade warm\n}\n", "edit `e` has no clips"),
    ("edit e {\n  video city speed 500x\n}\n", "`speed` 500x is out of range"),
    ("edit e {\n  video city to 5s for 2s\n}\n", "`video` has both `to` and `for`"),
    ("edit e {\n  grade \"sepia\"\n  video city\n}\n", "unknown look `sepia`"),
    ("edit e {\n  video city\n  title hello\n}\n", "`title` takes text in quotes"),
    ("edit e {\n  video city\n  reframe 1080p\n}\n", "`reframe` takes an aspect ratio like `9:16`, got a resolution `1080p`"),
    ("edit e {\n  video city\n}\nexport x = e {\n  save \"out/x\"\n}\n", '`save "out/x"` has no file extension'),
    ("edit e {\n  video city\n}\nexport x = e {\n  fps 30fps\n  fps 25\n}\n", "`fps` given twice"),
    ("edit e {\n  video city\n}\nexpect e {\n  has audio\n}\n", "`e` is an edit; expect checks an export"),
    ("edit e {\n  video city\n}\nexport x = e {\n}\nexpect x {\n  size < 4k\n}\n", "`size` can only be compared with == or !="),
    ("edit e {\n  video city\n}\nexport x = e {\n}\nexpect x {\n  lenght < 4s\n}\n", "unknown property `lenght`"),
    ("media m = \"ftp://host/a.mp4\"\n", "unsupported URL `ftp://host/a.mp4`"),
    ("media m = \"clip.flv\"\n", "unsupported media type `.flv`"),
    ("edit e {\n  video city\n  text \"${nmae}\"\n}\n", "unknown name `nmae` in `${…}`"),
    ("for city in [\"a\"] {\n}\n", "loop variable `city` hides the step `city`"),
])
def test_semantic_errors(body, message):
    msgs = errors(BASE + body)
    assert any(message in m for m in msgs), msgs


def test_loop_variable_cannot_hide_a_step():
    # The loop variable `city` would shadow the media `city`: the step inside the loop is the clash.
    msgs = errors(BASE + 'for v in ["a"] {\n  edit v {\n    video city\n  }\n}\n')
    assert msgs == ["`v` is already the loop variable here"]


def test_url_media_and_dag_order():
    recipe = check_source(BASE + """
media remote = "https://cdn.example.com/a.mp4"
edit b = a {
  grade cool
}
edit a {
  video remote
  music lofi
}
ask polish = b "make it pop"
export final = polish {
}
""")
    assert recipe.steps["media.remote"].spec.url == "https://cdn.example.com/a.mp4"
    assert recipe.steps["export.final"].spec.path.name == "final.mp4"
    order = topological_order(recipe)
    assert order.index("edit.a") < order.index("edit.b") < order.index("ask.polish") < order.index("export.final")
    graph = build_graph(recipe.steps)
    assert set(graph.predecessors("edit.a")) == {"media.remote", "media.lofi"}


def test_warnings_do_not_fail():
    recipe = check_source(BASE + "param unused = 3\nedit e {\n  video city\n}\n")
    messages = [w.message for w in recipe.warnings]
    assert "param `unused` is never used" in messages
    assert "media `lofi` is never used" in messages
    assert "this recipe has no export, so a run renders nothing" in messages


def test_thousand_step_recipe_checks():
    lines = ["nemo 1", "media src = pattern duration 10s"]
    for i in range(333):
        lines += [f"edit e{i} {{", "  video src from 1s to 3s", f'  title "n{i}"', "}",
                  f"export x{i} = e{i} {{", f'  save "out/{i}.mp4"', "}", f"expect x{i} {{", "  has video", "}"]
    recipe = check_source("\n".join(lines) + "\n")
    assert len(recipe.steps) == 1000


def test_error_in_a_loop_body_is_reported_once_and_explains_the_value():
    msgs = errors(BASE + 'param kinds = ["bars", "wavy", "wavy2"]\nfor k in $kinds {\n  media m = pattern $k duration 2s\n'
                  '  edit e {\n    video nope\n  }\n}\n')
    assert msgs.count("unknown name `nope`") == 1
    assert "`pattern` kind does not take `wavy`" in msgs


# ---- engine -------------------------------------------------------------------

ENGINE_BODY = 'edit e {\n  video city\n  music lofi\n}\nexport x = e {\n  save "out/x.mp4"\n}\n'


def test_engine_statement_sets_the_recipe_engine():
    recipe = check_source("nemo 1\n# run on NeMo\nengine nemo  # not local\n" + BASE.split("\n", 1)[1] + ENGINE_BODY, file="r.nemo")
    assert recipe.engine == "nemo"
    assert recipe.engine_span == Span("r.nemo", 3, 1, 3, 12)
    assert "engine" not in {s.kind for s in recipe.steps.values()}


def test_no_engine_statement_means_none():
    recipe = check_source(BASE + ENGINE_BODY)
    assert recipe.engine is None
    assert recipe.engine_span is None


def test_engine_local():
    recipe = check_source(BASE + "engine local\n" + ENGINE_BODY)
    assert recipe.engine == "local"
    assert recipe.engine_span.line == 4


def test_engine_in_an_included_file_counts(tmp_path):
    (tmp_path / "lib.nemo").write_text("nemo 1\nengine nemo\nmedia bed = tone 200hz duration 5s\n")
    (tmp_path / "r.nemo").write_text('nemo 1\ninclude "lib.nemo"\nedit e {\n  video bed\n}\n')
    recipe = check_file(tmp_path / "r.nemo", display="r.nemo")
    assert recipe.engine == "nemo"
    assert recipe.engine_span == Span("lib.nemo", 2, 1, 2, 12)

    (tmp_path / "r.nemo").write_text('nemo 1\ninclude "lib.nemo"\nengine local\nedit e {\n  video bed\n}\n')
    with pytest.raises(RecipeError) as info:
        check_file(tmp_path / "r.nemo", display="r.nemo")
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.message) == ("E207", "a second `engine` statement")
    assert diag.span == Span("r.nemo", 3, 1, 3, 13)
    assert [(r.span, r.message) for r in diag.related] == [(Span("lib.nemo", 2, 1, 2, 12), "first `engine` statement here")]


@pytest.mark.parametrize(("body", "code", "message", "help_text"), [
    ("engine nemmo\n", "E206", "unknown engine `nemmo`", "did you mean `nemo`? the engines are `local` (the default) and `nemo`"),
    ("engine ffmpeg\n", "E206", "unknown engine `ffmpeg`", "the engines are `local` (the default) and `nemo`"),
    ('for k in ["a"] {\n  engine nemo\n}\n', "E205", "`engine` inside a `for` loop",
     "a recipe runs on one engine: move `engine` to the top level of the file"),
    ("engine nemo\nengine nemo\n", "E207", "a second `engine` statement",
     "a recipe runs on one engine (statements in included files count too): remove one of them"),
])
def test_engine_errors(body, code, message, help_text):
    with pytest.raises(RecipeError) as info:
        check_source(BASE + body + ENGINE_BODY)
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.message, diag.help) == (code, message, help_text)


@pytest.mark.parametrize("line", ["engine", 'engine "nemo"', "engine = nemo"])
def test_engine_without_a_name_is_a_known_mistake(line):
    with pytest.raises(RecipeError) as info:
        check_source(BASE + line + "\n")
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.message) == ("E105", "`engine` takes the name of an engine")
    assert diag.help == "write `engine local` or `engine nemo`"


def test_engine_is_still_a_name_elsewhere():
    recipe = check_source(BASE + "media engine = tone 100hz duration 2s\nedit e {\n  video city\n  music engine\n}\n"
                          'export x = e {\n  save "out/x.mp4"\n}\n')
    assert "media.engine" in recipe.steps and recipe.engine is None


def test_misspelt_engine_statement_suggests_engine():
    with pytest.raises(RecipeError) as info:
        check_source(BASE + "engin nemo\n")
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.help) == ("E107", "did you mean `engine`?")
