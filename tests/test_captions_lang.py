"""`captions` in the language and the Draft (issue 21 item 2): the clause, SRT/WebVTT reading with positions,
the `expect` caption check, and cue times kept exact (ms) through trim, speed, concat and ripple cuts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemoflow.core.diagnostics import RecipeError
from nemoflow.core.graph import topological_order
from nemoflow.core.model import CaptionAt, CheckKind, CheckOp
from nemoflow.core.subtitles import SubtitleError, parse_subtitles, read_subtitles
from nemoflow.draft import ops
from nemoflow.draft.build import build_edit
from nemoflow.draft.captions import caption_notes, caption_of
from nemoflow.draft.media import MediaEntry
from nemoflow.draft.model import Draft
from nemoflow.draft.schema import validate
from nemoflow.errors import DraftError
from nemoflow.lang.check import check_source
from nemoflow.lang.fmt import format_source
from nemoflow.plan.digests import DigestMemo
from nemoflow.plan.keys import compute_keys

SRT = """1
00:00:00,500 --> 00:00:01,500
Hello

2
00:00:02,000 --> 00:00:03,250
<i>Second</i> cue
on two lines
"""

HEAD = "nemo 1\nmedia a = color #336699 duration 4s size 320x180\nmedia b = color #993366 duration 2s size 320x180\n"


def _recipe(tmp: Path, body: str, tail: str = "", **files: str):
    for name, text in files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    return check_source(HEAD + "edit e {\n" + body + "}\n" + tail, "t.nemo", tmp, {})


def _diags(tmp: Path, body: str, tail: str = "", **files: str):
    with pytest.raises(RecipeError) as info:
        _recipe(tmp, body, tail, **files)
    return info.value.diagnostics


def _entry(d_ms: int, color: str) -> MediaEntry:
    return MediaEntry.from_json({"kind": "video", "gen": {"name": "color", "color": color, "w": 320, "h": 180, "fps": 25},
                                 "d": d_ms, "w": 320, "h": 180, "fps": 25, "pix_fmt": "yuv420p"})


def _build(tmp: Path, text: str, **files: str) -> dict[str, Draft]:
    for name, content in files.items():
        (tmp / name).write_text(content, encoding="utf-8")
    recipe = check_source(text, "t.nemo", tmp, {})
    media = {"media.a": _entry(4000, "#336699"), "media.b": _entry(2000, "#993366")}
    built: dict[str, Draft] = {}
    for sid, step in recipe.steps.items():
        if step.kind == "edit":
            built[sid] = build_edit(step, media, built.__getitem__)
    return built


def _cues(draft: Draft) -> list[tuple[int, int, str]]:
    return sorted((s.st, s.end, s.m["text"]) for s in draft.segments(7) if caption_of(s) is not None)


# ---- the subtitle reader -----------------------------------------------------------------------------------------


def test_srt_cues_times_text_and_positions(tmp_path):
    path = tmp_path / "talk.srt"
    path.write_bytes(("\ufeff" + SRT).replace("\n", "\r\n").encode())  # a BOM and CRLF, as Windows tools write
    subs = read_subtitles(path, "talk.srt")
    assert [(c.start, c.end, c.text) for c in subs.cues] == [(500, 1500, "Hello"), (2000, 3250, "Second cue\non two lines")]
    assert (subs.cues[1].span.line, subs.cues[1].span.column) == (6, 1)


def test_webvtt_header_notes_ids_settings_tags_and_entities():
    vtt = ("WEBVTT - talk\nKind: captions\n\nNOTE written by hand\n--> not a cue\n\nSTYLE\n::cue { color: red }\n\n"
           "intro\n00:01.000 --> 00:02.500 line:0 position:10%\n<v Ann>Fish &amp; chips</v> &lt;3\n\n"
           "01:00:00.000 --> 01:00:01.000\n<c.loud>Late</c> <00:00:01.500>one\n")
    cues = parse_subtitles(vtt, "t.vtt", vtt=True).cues
    assert [(c.start, c.end, c.text) for c in cues] == [(1000, 2500, "Fish & chips <3"), (3_600_000, 3_601_000, "Late one")]


def test_srt_keeps_angle_brackets_that_are_not_tags():
    assert parse_subtitles("1\n00:00:01,000 --> 00:00:02,000\na <b>x</b> <world>\n", "t", vtt=False).cues[0].text == "a x <world>"


@pytest.mark.parametrize("text,vtt,where,message", [
    ("1\n00:00:01,000 --> 00:00:0x,500\nHi\n", False, (2, 18), "bad timestamp `00:00:0x,500`"),
    ("1\n00:00:01,000 --> 00:00:01,500\nHi\n\n2\n00:01:75,000 --> 00:01:76,000\nHo\n", False, (6, 1), "bad timestamp `00:01:75,000`"),
    ("1\n00:00:03,000 --> 00:00:02,500\nHi\n", False, (2, 18), "ends (00:00:02,500) before it starts (00:00:03,000)"),
    ("1\n00:00:03,000 --> 00:00:03,000\nHi\n", False, (2, 18), "ends when it starts"),
    ("1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:04,000\nHo\n", False, (2, 1), "has no text"),
    ("1\nHello\n", False, (2, 1), "cue 1 needs a timing line"),
    ("Hello there\n", False, (1, 1), "expected a cue number or a timing line"),
    ("1\n00:00:01,000 -->\nHi\n", False, (2, 17), "no end time"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n\nid\nnot a timing\n", True, (7, 1), "expected a timing line"),
    ("WEBVT\n\n00:01.000 --> 00:02.000\nHi\n", True, (1, 1), "starts with `WEBVTT`"),
    ("WEBVTT\n\n00:01.0000 --> 00:02.000\nHi\n", True, (3, 1), "bad timestamp"),
])
def test_malformed_subtitles_say_where(text, vtt, where, message):
    with pytest.raises(SubtitleError) as info:
        parse_subtitles(text, "f", vtt=vtt)
    assert (info.value.span.line, info.value.span.column) == where
    assert message in info.value.message
    assert info.value.exit_code == 2 and str(info.value).startswith(f"f:{where[0]}:{where[1]}: ")


_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30).map(str.strip) \
    .filter(lambda t: t and "-->" not in t and "<" not in t and "{" not in t and "&" not in t)
_CUES = st.lists(st.tuples(st.integers(0, 10_000_000), st.integers(1, 100_000), st.lists(_LINE, min_size=1, max_size=3)),
                 min_size=1, max_size=8)


def _stamp(ms: int, sep: str) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


@settings(max_examples=150, deadline=None)
@given(_CUES, st.booleans())
def test_written_cues_read_back_exactly(cues, vtt):
    """Any cues written as SRT or WebVTT (times to the ms, several lines, any script) read back as written."""
    sep = "." if vtt else ","
    blocks = [f"{n}\n{_stamp(a, sep)} --> {_stamp(a + d, sep)}\n" + "\n".join(lines) for n, (a, d, lines) in enumerate(cues, 1)]
    text = ("WEBVTT\n\n" if vtt else "") + "\n\n".join(blocks) + "\n"
    got = parse_subtitles(text, "f", vtt=vtt).cues
    assert [(c.start, c.end, c.text) for c in got] == [(a, a + d, "\n".join(lines)) for a, d, lines in cues]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789:,.-> \nWEBVTabc<>&", max_size=200), st.booleans())
def test_any_text_reads_or_fails_with_a_position(text, vtt):
    try:
        subs = parse_subtitles(text, "f", vtt=vtt)
    except SubtitleError as err:
        lines = text.split("\n")
        assert 1 <= err.span.line <= len(lines) and err.span.column >= 1
    else:
        assert all(c.end > c.start >= 0 and c.text for c in subs.cues)


def test_not_utf8_points_at_the_byte(tmp_path):
    path = tmp_path / "x.srt"
    path.write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9\n")
    with pytest.raises(SubtitleError) as info:
        read_subtitles(path, "x.srt")
    assert (info.value.span.line, info.value.span.column) == (3, 4) and "not UTF-8" in info.value.message


# ---- the clause in the checker --------------------------------------------------------------------------------------


def test_captions_clause_keeps_the_file_and_the_look(tmp_path):
    recipe = _recipe(tmp_path, '  video a\n  captions "talk.srt" size 30 color yellow outline 2px #000 at top wrap 80%\n',
                     **{"talk.srt": SRT})
    op = recipe.steps["edit.e"].spec.ops[1]
    assert op.verb == "captions" and op.args["source"] == (tmp_path / "talk.srt").resolve()
    assert str(op.args["outline"][0]) == "2px" and op.args["at"] == "top" and not op.args.get("soft")
    assert (tmp_path / "talk.srt").resolve() in recipe.files  # preview --watch follows it


def test_inline_captions_are_typed_lines(tmp_path):
    recipe = _recipe(tmp_path, '  video a\n  captions [\n    [0s, 1.5s, "One"],\n    [1500ms, 00:00:03, "Two"],\n  ] soft\n')
    args = recipe.steps["edit.e"].spec.ops[1].args
    assert [(c.start, c.end, c.text) for c in args["source"].lines] == [(0, 1500, "One"), (1500, 3000, "Two")]
    assert args["soft"] is True


@pytest.mark.parametrize("body,files,code,where,message", [
    ('captions "talk.srt"', {}, "E390", (6, 12), "captions file not found: talk.srt"),
    ('captions "talk.txt"', {"talk.txt": "x"}, "E391", (6, 12), "not .txt"),
    ('captions "talk.srt"', {"talk.srt": "\n\n"}, "E393", (6, 12), "holds no cues"),
    ('captions []', {}, "E393", (6, 12), "holds no lines"),
    ('captions [[0s, "Hi"]]', {}, "E394", (6, 13), "a list of 2"),
    ('captions ["0s 2s Hi"]', {}, "E394", (6, 13), 'a caption line is `[START, END, "text"]`'),
    ('captions [[0s, 2s, ""]]', {}, "E394", (6, 22), "no text"),
    ('captions [[2s, 1s, "Hi"]]', {}, "E284", (6, 18), "ends (1s) before it starts (2s)"),
    ('captions [[0s, 2, "Hi"]]', {}, "E244", (6, 18), "a caption's end takes a duration"),
    ('captions 3s', {}, "E244", (6, 12), "an .srt/.vtt file in quotes or a list"),
    ('captions "talk.srt" soft', {"talk.srt": SRT}, None, None, None),
    ('captions [[0s, 2s, "Hi"]] size 2000000', {}, "E243", (6, 34), "out of range"),
    ('captions [[0s, 2s, "Hi"]] style news', {}, "E264", (6, 29), "`style` is not something `captions` takes"),
])
def test_clause_errors_point_at_the_recipe(tmp_path, body, files, code, where, message):
    if code is None:
        _recipe(tmp_path, f"  video a\n  {body}\n", **files)
        return
    diags = _diags(tmp_path, f"  video a\n  {body}\n", **files)
    hit = [d for d in diags if d.code == code]
    assert hit, [(d.code, d.message) for d in diags]
    assert (hit[0].span.file, hit[0].span.line, hit[0].span.column) == ("t.nemo", *where)
    assert message in hit[0].message


def test_a_malformed_file_is_reported_at_its_cue_with_the_clause(tmp_path):
    (tmp_path / "subs").mkdir()
    bad = "1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:05,000 --> 00:00:04,000\nHo\n"
    diags = _diags(tmp_path, '  video a\n  captions "subs/talk.srt"\n', **{"subs/talk.srt": bad})
    (d,) = diags
    assert d.code == "E392" and Path(d.span.file).name == "talk.srt" and (d.span.line, d.span.column) == (6, 18)
    assert "ends (00:00:04,000) before it starts (00:00:05,000)" in d.message
    assert [(r.span.file, r.span.line, r.span.column) for r in d.related] == [("t.nemo", 6, 12)]


def test_check_cli_prints_the_subtitle_files_position_and_exits_2(tmp_path):
    (tmp_path / "talk.srt").write_text("1\n00:00:01,000 --> 00:00:x2,000\nHi\n", encoding="utf-8")
    (tmp_path / "t.nemo").write_text(HEAD + 'edit e {\n  video a\n  captions "talk.srt"\n}\n', encoding="utf-8")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-m", "nemoflow", "check", "t.nemo"], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "talk.srt:2:18: error: bad timestamp `00:00:x2,000`" in out and "00:00:01,000 --> 00:00:x2,000" in out
    assert "Traceback" not in out


def test_look_keywords_on_soft_captions_are_warned_about(tmp_path):
    recipe = _recipe(tmp_path, '  video a\n  captions [[0s, 1s, "Hi"]] soft color yellow size 40\n')
    assert sorted((w.code, w.span.column) for w in recipe.warnings if w.code == "W222") == [("W222", 34), ("W222", 47)]


# ---- expect caption ---------------------------------------------------------------------------------------------

_EXPORT = 'export out = e {\n  save "out.mp4"\n}\n'


def test_expect_caption_checks_are_typed(tmp_path):
    recipe = _recipe(tmp_path, '  video a\n  captions [[0s, 2s, "Hello there"]]\n',
                     _EXPORT + 'expect out {\n  caption "Hello there" at 1.5s\n  no caption at 2500ms\n  duration <= 5s\n}\n')
    checks = recipe.steps["expect.out"].spec.checks
    assert [(c.kind, c.subject, c.op, c.value, c.text) for c in checks[:2]] == [
        (CheckKind.CAPTION, "caption", CheckOp.EQ, CaptionAt("Hello there", 1500), 'caption "Hello there" at 1.5s'),
        (CheckKind.CAPTION, "caption", CheckOp.HAS_NO, CaptionAt(None, 2500), "no caption at 2500ms")]


@pytest.mark.parametrize("line,code,column,message", [
    ('caption "Hi" on 1s', "E395", 3, "a caption check reads"),
    ('captions "Hi" at 1s', "E395", 3, "a caption check reads"),
    ('no caption "Hi" at 1s', "E395", 3, "a caption check reads"),
    ('caption "Hi" at 1', "E244", 19, "takes a duration"),
    ('caption "Hi" at -1s', "E130", 19, "cannot be negative"),
    ('frame "g.png" at 1s', "E315", 3, "a frame check reads"),
])
def test_expect_caption_errors(tmp_path, line, code, column, message):
    diags = _diags(tmp_path, '  video a\n', _EXPORT + f"expect out {{\n  {line}\n}}\n")
    hit = [d for d in diags if d.code == code]
    assert hit, [(d.code, d.message) for d in diags]
    assert (hit[0].span.line, hit[0].span.column) == (11, column) and message in hit[0].message


def test_a_caption_check_without_its_text_is_a_syntax_error_that_shows_the_form(tmp_path):
    diags = _diags(tmp_path, '  video a\n', _EXPORT + "expect out {\n  caption at 1s\n}\n")
    assert [d.code for d in diags] == ["E105"] and '`caption "Hello" at 3s`' in diags[0].help


def test_fmt_keeps_captions_and_caption_checks(tmp_path):
    text = (HEAD + 'edit e {\n  video a\n  captions  [[0s,2s,"Hi"],[2s, 3s, "Ho"]]   soft\n}\n' + _EXPORT
            + 'expect out {\n  caption   "Hi" at 1s\n  no caption at 3.5s\n}\n')
    out = format_source(text, "t.nemo")
    assert 'captions [[0s, 2s, "Hi"], [2s, 3s, "Ho"]] soft' in out
    assert '  caption "Hi" at 1s\n  no caption at 3.5s\n' in out
    assert format_source(out, "t.nemo") == out


# ---- the Draft: time base, notes, and sync through trim / speed / concat / ripple cuts ---------------------------

def test_cues_are_timed_on_the_timeline_so_far_with_from(tmp_path):
    drafts = _build(tmp_path, HEAD + 'edit e {\n  video b\n  video a\n  captions "talk.srt" from 1s soft\n  '
                    'captions [[0s, 1s, "Early"]] color #ff0000 outline 3px\n}\n', **{"talk.srt": SRT})
    d = drafts["edit.e"]
    validate(d.to_json(), "edit.e")
    assert _cues(d) == [(0, 1000, "Early"), (1500, 2500, "Hello"), (3000, 4250, "Second cue\non two lines")]
    caps = {s.m["text"]: caption_of(s) for s in d.segments(7)}
    assert caps["Hello"].mode == "soft" and caps["Hello"].cue == 1 and caps["Hello"].source == "talk.srt"
    assert caps["Early"].mode == "burn" and caps["Early"].style.color == "#ff0000"
    assert caps["Early"].style.outline == {"px": 3.0} and caps["Early"].style.size is None
    seg = next(s for s in d.segments(7) if s.m["text"] == "Early")
    assert seg.m == {"text": "Early", "style": {"role": "caption"},
                     "caption": {"mode": "burn", "style": {"color": "#ff0000", "outline": {"px": 3.0}}, "cue": 1,
                                 "source": "inline captions"}}


def test_cues_past_the_end_are_cut_or_left_out_with_a_note(tmp_path):
    text = (HEAD + 'edit e {\n  video b\n  captions [[0s, 1s, "In"], [1.5s, 3s, "Cut"], [2s, 3s, "Out"], [5s, 6s, "Far"]]\n'
            '  video a\n}\n')
    d = _build(tmp_path, text)["edit.e"]
    assert _cues(d) == [(0, 1000, "In"), (1500, 2000, "Cut")]  # the timeline so far was b's 2 s; `video a` came after
    notes = caption_notes(d)
    assert len(notes) == 3 and "cue 2 (1.5s–3s) runs past the end of the timeline so far (2s): cut at 2s" in notes[0]
    assert "cue 3 (2s–3s) starts after the timeline so far (2s): left out" in notes[1]


def test_notes_of_a_spliced_edit_travel_into_the_edit_that_uses_it(tmp_path):
    text = (HEAD + 'edit inner {\n  video b\n  captions [[1.5s, 3s, "Cut"]]\n}\n'
            'edit outer {\n  video a\n  video inner\n}\n')
    drafts = _build(tmp_path, text)
    assert _cues(drafts["edit.outer"]) == [(5500, 6000, "Cut")]
    assert caption_notes(drafts["edit.outer"]) == caption_notes(drafts["edit.inner"]) != []


def test_captions_before_any_clip_are_refused_at_the_clause(tmp_path):
    with pytest.raises(DraftError) as info:
        _build(tmp_path, HEAD + 'edit e {\n  video a\n  captions [[5s, 6s, "Late"]]\n}\n')
    assert str(info.value).startswith("t.nemo:6:3: in edit.e, `captions`: every cue of inline captions starts at or "
                                      "after the end of the timeline so far (4s)")


def test_a_file_changed_since_check_is_an_error_at_its_line(tmp_path):
    (tmp_path / "talk.srt").write_text(SRT, encoding="utf-8")
    recipe = check_source(HEAD + 'edit e {\n  video a\n  captions "talk.srt"\n}\n', "t.nemo", tmp_path, {})
    (tmp_path / "talk.srt").write_text("1\n00:00:01,000 --> 00:00:00,500\nHi\n", encoding="utf-8")
    with pytest.raises(DraftError) as info:
        build_edit(recipe.steps["edit.e"], {"media.a": _entry(4000, "#336699")}, {}.__getitem__)
    assert "t.nemo:6:3" in str(info.value) and "talk.srt:2:18: the cue ends" in str(info.value)


def test_trim_speed_and_concat_move_cues_exactly(tmp_path):
    text = (HEAD + 'edit e {\n  video a\n  captions "talk.srt"\n  trim from 1s\n  speed 2x\n}\n'
            'edit f {\n  video b\n  concat e\n}\n')
    drafts = _build(tmp_path, text, **{"talk.srt": SRT})
    # trim from 1s: Hello 0.5–1.5 → 0–0.5 (its first half cut), Second 2–3.25 → 1–2.25; speed 2x halves them
    assert _cues(drafts["edit.e"]) == [(0, 250, "Hello"), (500, 1125, "Second cue\non two lines")]
    # concat after b's 2 s
    assert _cues(drafts["edit.f"]) == [(2000, 2250, "Hello"), (2500, 3125, "Second cue\non two lines")]
    validate(drafts["edit.f"].to_json(), "edit.f")


def test_ripple_cuts_cut_captions_with_the_picture(tmp_path):
    d = _build(tmp_path, HEAD + 'edit e {\n  video a\n  captions [[0.5s, 1.5s, "A"], [1.8s, 2.2s, "B"], [2.5s, 3.5s, "C"]]\n}\n')["edit.e"]
    cut = ops.cut_spans(d, [(1000, 2300)])  # what an ask's "cut the shaky part" does: a span removed, the gap closed
    # A loses its part inside the span; B lies wholly inside and goes; C moves 1.3 s earlier
    assert _cues(cut) == [(500, 1000, "A"), (1200, 2200, "C")]
    assert all(caption_of(s).mode == "burn" for s in cut.segments(7))


def test_an_ask_that_cuts_a_shaky_span_cuts_its_captions(tmp_path, monkeypatch):
    import types

    from nemoflow.engines.local.ask import apply
    from nemoflow.engines.local.ask.intents import Intent

    d = _build(tmp_path, HEAD + 'edit e {\n  video a\n  captions [[0.5s, 1.5s, "A"], [1.8s, 2.2s, "B"], [2.5s, 3.5s, "C"]] '
               'soft\n}\n')["edit.e"]
    monkeypatch.setitem(apply.FINDERS, "shaky", lambda an: [(1.0, 2.3)])  # seconds of the clip's footage: the analysis
    out = apply.carry_out(d, [Intent("cut", {"what": "shaky"}, "cut the shaky part")],
                          lambda *a: types.SimpleNamespace(has_audio=False)).draft
    assert _cues(out) == [(500, 1000, "A"), (1200, 2200, "C")] and out.d == 2700
    assert {caption_of(s).mode for s in out.segments(7)} == {"soft"}
    validate(out.to_json(), "ask")


def test_the_subtitle_file_is_in_the_edits_key_by_content(tmp_path):
    (tmp_path / "talk.srt").write_text(SRT, encoding="utf-8")
    text = HEAD + 'edit e {\n  video a\n  captions "talk.srt"\n}\n' + _EXPORT

    def keys():
        recipe = check_source(text, str(tmp_path / "t.nemo"), tmp_path, {})
        return {k: v.key for k, v in compute_keys(recipe, topological_order(recipe), DigestMemo(None), {"e": "1"}).items()}

    first = keys()
    os.utime(tmp_path / "talk.srt", (1, 1))  # touched, same bytes: same key
    assert keys() == first
    (tmp_path / "talk.srt").write_text(SRT.replace("Hello", "Hallo"), encoding="utf-8")
    second = keys()
    assert second["media.a"] == first["media.a"] and second["edit.e"] != first["edit.e"]
    assert second["export.out"] != first["export.out"]


def test_a_table_cell_names_each_rows_subtitles_and_errors_point_at_the_cell(tmp_path):
    (tmp_path / "mug.srt").write_text(SRT, encoding="utf-8")
    (tmp_path / "rows.csv").write_text("sku,subs\nmug,mug.srt\nhat,hat.srt\n", encoding="utf-8")
    loop = 'for row in table("rows.csv") key row.sku {\n  edit e {\n    video a\n    captions $row.subs\n  }\n}\n'
    with pytest.raises(RecipeError) as info:
        check_source(HEAD + loop, "t.nemo", tmp_path, {})
    (d,) = info.value.diagnostics
    assert d.code == "E390" and Path(d.span.file).name == "rows.csv" and (d.span.line, d.span.column) == (3, 5)
    assert [(r.span.line, r.span.column, r.message) for r in d.related] == [(7, 14, "used here")]
    (tmp_path / "hat.srt").write_text(SRT.replace("Hello", "Hat"), encoding="utf-8")
    recipe = check_source(HEAD + loop, "t.nemo", tmp_path, {})
    sources = {sid: step.spec.ops[1].args["source"].name for sid, step in recipe.steps.items() if step.kind == "edit"}
    assert sources == {"edit.e[mug]": "mug.srt", "edit.e[hat]": "hat.srt"}


def test_the_example_checks_and_is_formatted():
    root = Path(__file__).resolve().parent.parent / "examples" / "captions"
    text = (root / "captions.nemo").read_text(encoding="utf-8")
    assert format_source(text, "captions.nemo") == text
    recipe = check_source(text, str(root / "captions.nemo"), root, {})
    kinds = [c.kind for c in recipe.steps["expect.burned"].spec.checks]
    assert kinds == [CheckKind.CAPTION] * 3


@pytest.mark.slow
def test_the_example_renders_and_its_soft_track_holds_the_cues_at_their_times(tmp_path):
    """The whole path, recipe → Draft → file: the soft MP4's subtitle stream, read back by FFmpeg as SubRip, holds the
    inline cues at exactly their times (0.5 s and 2 s are on the 30 fps grid), and every expect passes."""
    import shutil

    from nemoflow.media.ffmpeg import ffmpeg_exe

    root = Path(__file__).resolve().parent.parent / "examples" / "captions"
    shutil.copytree(root, tmp_path / "captions")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-m", "nemoflow", "run", "captions.nemo"], cwd=tmp_path / "captions",
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5/5 checks passed" in done.stdout + done.stderr
    srt = tmp_path / "back.srt"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(tmp_path / "captions/out/captions/soft.mp4"), "-map", "0:s:0",
                    str(srt)], check=True, timeout=60)
    cues = parse_subtitles(srt.read_text(encoding="utf-8"), "back.srt", vtt=False).cues
    assert [(c.start, c.end, c.text) for c in cues] == [(500, 2000, "Soft captions"), (2000, 3500, "are a subtitle track")]
