"""Captions rendered by the local engine: burned by one libass filter on exactly their frames, or a soft subtitle stream.

Drafts are built by hand (captionkit): TEXT-track segments whose m["caption"] is set, as the `captions` clause makes.
Every assertion reads the rendered file back: decoded frames' pixels, or the subtitle stream through its own demuxer.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from captionkit import Quiet, bright_rows, caption, grey_draft, render, with_captions
from mediagen import make_video
from renderkit import frames

from nemoflow.core.diagnostics import Span
from nemoflow.core.model import CaptionAt, Check, CheckKind, CheckOp
from nemoflow.draft import ops
from nemoflow.draft.model import TEXT, Draft, Segment
from nemoflow.draft.output import Output
from nemoflow.engines.local.chunked import SplitSettings
from nemoflow.engines.local.graph import build_command
from nemoflow.errors import DraftError, MediaError
from nemoflow.media import captions as subs
from nemoflow.media.entries import file_entry
from nemoflow.media.probe import probe


def shown(path: Path) -> list[int]:
    """The frames on which some caption-white pixel is drawn (the grey source has none)."""
    return [i for i, f in enumerate(frames(path)) if len(bright_rows(f))]


def runs(indices: list[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 9] → [(3, 5), (9, 9)]."""
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def subtitle_cues(path: Path) -> tuple[str, list[tuple[int, int, str]]]:
    """The file's first subtitle stream: its codec and (start ms, end ms, text) per cue, read with PyAV."""
    with av.open(str(path)) as c:
        stream = c.streams.subtitles[0]
        got = []
        for p in c.demux(stream):
            if p.pts is None or not p.size:
                continue
            start = round(float(p.pts * stream.time_base) * 1000)
            end = start + round(float(p.duration * stream.time_base) * 1000)
            for sub in p.decode():
                got.append((start, end, sub.dialogue.decode()))
        return stream.codec_context.name, got


def test_burned_cues_show_on_exactly_their_frames_from_one_ass_filter(tmp_path):
    draft = with_captions(grey_draft(3000), caption(500, 1000, "Hello world"), caption(1500, 700, "Second", at="top"),
                          caption(2517, 300, "odd times"))
    args = " ".join(build_command(draft, Output(320, 180, 30.0), tmp_path / "o.mp4", what="t", cache_dir=tmp_path).args)
    assert args.count("ass=filename=") == 1 and "drawtext" not in args
    done = render(tmp_path, draft)
    # 0.5s-1.5s → frames 15..44; 1.5s-2.2s → 45..65; 2.517s-2.817s → frame_index: 76..84
    assert runs(shown(done.path)) == [(15, 65), (76, 84)]
    pictures = frames(done.path)
    assert bright_rows(pictures[20]).min() > 120 and bright_rows(pictures[50]).max() < 60  # bottom, then `at top`
    assert done.to_json()["captions"]["cues"] == [[500, 1500, "Hello world"], [1500, 2200, "Second"],
                                                 [2533, 2833, "odd times"]]
    assert Path(done.to_json()["captions"]["ass"]).is_file() and "3 captions burned in" in done.summary()


def test_style_colour_box_and_wrapping(tmp_path):
    long = "a caption long enough that it must wrap onto a second line at this size"
    draft = with_captions(grey_draft(1000), caption(0, 500, long, color="#ffff00"),
                          caption(500, 500, "boxed", box="#000000ff", color="#ffffff"))
    pictures = frames(render(tmp_path, draft).path)
    first = pictures[5].astype(int)
    yellow = (first[..., 0] > 180) & (first[..., 1] > 180) & (first[..., 2] < 90)
    rows, cols = np.nonzero(yellow)
    assert len(rows) > 50
    assert rows.max() - rows.min() > 14  # two lines at 10 px
    assert cols.min() >= 320 * 0.1 - 2 and cols.max() <= 320 * 0.9 + 2  # within the default 80% width
    boxed = pictures[20].astype(int)
    dark = (boxed.max(axis=2) < 20)  # the box is black where the source is grey #404040
    assert dark.sum() > 200 and np.nonzero(dark)[0].min() > 120


def _cjk_font() -> str | None:
    """An installed font with Chinese glyphs (fontconfig's list), or None."""
    import shutil
    import subprocess

    if not shutil.which("fc-list"):
        return None
    found = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True).stdout.split()
    return found[0].rstrip(":") if found else None


@pytest.mark.skipif(_cjk_font() is None, reason="no CJK font installed for fontconfig to fall back to")
def test_cjk_falls_back_to_an_installed_font_not_boxes(tmp_path):
    draft = with_captions(grey_draft(1000, w=640, h=360), caption(0, 500, "你好"), caption(500, 500, "世界"))
    pictures = frames(render(tmp_path, draft, Output(640, 360, 30.0)).path)

    def glyphs(frame: np.ndarray) -> np.ndarray:
        mask = frame.min(axis=2) > 200
        rows, cols = np.nonzero(mask)
        return mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]

    a, b = glyphs(pictures[5]), glyphs(pictures[20])
    # two missing-glyph boxes would draw the same picture twice; real glyphs differ
    same = a.shape == b.shape and (a == b).mean() > 0.9
    assert not same and a.sum() > 40 and b.sum() > 40


def test_soft_captions_are_a_mov_text_stream_and_leave_the_picture_alone(tmp_path):
    draft = with_captions(grey_draft(3000), caption(500, 1000, "Hello & <world>", mode="soft"),
                          caption(1500, 1000, "two\nlines", mode="soft"))
    done = render(tmp_path, draft)
    assert subtitle_cues(done.path) == ("mov_text", [(500, 1500, "Hello & <world>"), (1500, 2500, "two\nlines")])
    assert shown(done.path) == []
    assert "2 soft captions" in done.summary()
    assert not list(tmp_path.glob(".*"))  # no work directory or partial file left beside the output


def test_soft_captions_in_webm_and_mkv_keep_their_text_and_webm_gets_a_vtt_beside(tmp_path):
    draft = with_captions(grey_draft(1000), caption(0, 500, "a <b> & c", mode="soft"))
    for name, out in (("o.mkv", Output(320, 180, 30.0, container="mkv")),
                      ("o.webm", Output(320, 180, 30.0, container="webm", codec="vp9", audio="opus"))):
        assert subtitle_cues(render(tmp_path, draft, out, name=name).path) == ("webvtt", [(0, 500, "a <b> & c")])
    vtt = (tmp_path / "o.vtt").read_text(encoding="utf-8")
    assert "00:00:00.000 --> 00:00:00.500\na &lt;b&gt; &amp; c" in vtt and subs.SIDECAR_NOTE in vtt
    (tmp_path / "o.vtt").write_text("WEBVTT\n\nmine\n", encoding="utf-8")
    with pytest.raises(DraftError, match="nemoflow did not write it"):
        render(tmp_path, draft, Output(320, 180, 30.0, container="webm", codec="vp9", audio="opus"), name="o.webm")
    assert (tmp_path / "o.vtt").read_text(encoding="utf-8") == "WEBVTT\n\nmine\n"


def test_soft_captions_in_a_gif_are_refused():
    with pytest.raises(DraftError, match="soft` captions need a container"):
        subs.check_soft(Output(320, 180, 10.0, container="gif", codec="gif"), "export.out")


def test_soft_captions_over_a_smart_cut_copy_the_pictures(tmp_path):
    src = make_video(tmp_path / "src.mp4", duration=3.0, gop=30)
    entry = file_entry(probe(src))
    draft = ops.add_clip(Draft(m={"name": "t", "canvas": {"w": 320, "h": 180, "fps": 30.0}}), "media.a", entry.to_json(),
                         d_ms=3000)
    draft = with_captions(draft, caption(1000, 1000, "copied", mode="soft"))
    done = render(tmp_path, draft)
    assert done.method == "smartcut" and subtitle_cues(done.path)[1] == [(1000, 2000, "copied")]


def test_a_split_render_draws_cues_across_its_cuts_and_muxes_soft_ones_once(tmp_path):
    draft = with_captions(grey_draft(4000), caption(500, 1500, "Across the cut"), caption(2500, 1000, "Later", at="top"),
                          caption(3000, 500, "soft", mode="soft"))
    done = render(tmp_path, draft, split=SplitSettings("on", 1.0, 1.0))
    assert "split into 4 segments" in done.summary()
    assert runs(shown(done.path)) == [(15, 59), (75, 104)]
    assert subtitle_cues(done.path)[1] == [(3000, 3500, "soft")]


def test_titles_stay_drawtext_beside_captions_and_previews_burn_soft_ones(tmp_path):
    draft = with_captions(grey_draft(1000), caption(0, 500, "cap", mode="soft"), caption(500, 500, "burned"))
    draft = draft.with_segments(TEXT, [*draft.segments(TEXT), Segment(0, 1000, {"text": "title"})])
    args = " ".join(build_command(draft, Output(320, 180, 30.0), tmp_path / "o.mp4", what="t", cache_dir=tmp_path).args)
    assert args.count("drawtext=") == 1 and args.count("ass=filename=") == 1  # the title, and the one burned caption
    assert [c.mode for c in subs.cues(draft, 30.0)] == ["soft", "burn"]
    assert [c.mode for c in subs.cues(subs.burned_for_preview(draft), 30.0)] == ["burn", "burn"]
    assert subs.without_captions(draft).segments(TEXT) == (Segment(0, 1000, {"text": "title"}),)


# -- `expect caption "…" at …`, measured ----------------------------------------------------------------------------

def _check(text: str | None, at_ms: int) -> Check:
    """A caption check as the language makes it (its value's fields: text, at_ms)."""
    return Check("caption", CheckOp.EQ if text is not None else CheckOp.HAS_NO, CaptionAt(text, at_ms),
                 f"caption {text!r} at {at_ms}ms", Span("t.nemo", 1, 1, 1, 1), CheckKind.CAPTION)


def _measure(path: Path, check: Check, captions=None):
    from nemoflow.run.expect import ExpectOptions, Measured, _caption

    m = Measured(path, (check,), ExpectOptions(), "expect.t", captions)
    try:
        return _caption(m, check)
    finally:
        m.close()


def test_expect_caption_reads_burned_cues_off_the_frame_and_fails_when_mistimed(tmp_path):
    right = render(tmp_path, with_captions(grey_draft(2000), caption(500, 1000, "Hello world")), name="right.mp4")
    info = right.to_json()["captions"]
    assert _measure(right.path, _check("Hello world", 1000), info).ok
    assert _measure(right.path, _check(None, 1600), info).ok
    wrong = _measure(right.path, _check("Goodbye", 1000), info)
    assert not wrong.ok and wrong.actual == "'Hello world' at 1s"
    # a file whose picture lacks the caption its export says it burned (one frame late): measured, not believed
    late = render(tmp_path, with_captions(grey_draft(2000), caption(533, 1000, "Hello world")), name="late.mp4")
    got = _measure(late.path, _check("Hello world", 510), info)
    assert not got.ok and "shows only" in got.actual
    bare = render(tmp_path, grey_draft(2000), name="bare.mp4")
    assert not _measure(bare.path, _check("Hello world", 1000), info).ok


def test_expect_caption_reads_soft_cues_from_the_subtitle_stream(tmp_path):
    done = render(tmp_path, with_captions(grey_draft(2000), caption(500, 1000, "two\nlines", mode="soft")))
    assert _measure(done.path, _check("two lines", 500), done.to_json().get("captions")).ok
    assert not _measure(done.path, _check("two lines", 1500), None).ok
    assert _measure(done.path, _check(None, 1500), None).ok
    assert not _measure(done.path, _check(None, 1499), None).ok


@pytest.mark.skipif(_cjk_font() is None, reason="no second font installed")
def test_a_caption_font_file_is_used(tmp_path):
    font = _cjk_font()
    draft = with_captions(grey_draft(1000), caption(0, 500, "Hamburg"), caption(500, 500, "Hamburg", font=font))
    pictures = frames(render(tmp_path, draft).path)
    a, b = pictures[5].min(axis=2) > 200, pictures[20].min(axis=2) > 200
    assert a.sum() > 20 and b.sum() > 20 and (a != b).sum() > 20
    with pytest.raises(MediaError, match="not an absolute path"):
        render(tmp_path, with_captions(grey_draft(1000), caption(0, 500, "x", font="rel.ttf")), name="bad.mp4")


# -- whole recipes ------------------------------------------------------------------------------------------------

RECIPE = """nemo 1
media bg = color #404040 duration 3s size 320x180 fps 30
edit cut {{
  video bg
  captions [[0.5s, 1.5s, "Hello world"], [1.5s, 2.5s, "Second"]] {how}
}}
export out = cut {{
  size 320x180
  save "{name}"
}}
expect out {{
  caption "Hello world" at 1s
  caption "Second" at 1.5s
  no caption at 2.6s
  caption "Hello world" at 0.4s
}}
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["size 20px", "soft"])
def test_a_recipe_with_captions_renders_and_its_expect_block_measures_them(tmp_path, how):
    from renderkit import run_recipe

    result = run_recipe(tmp_path, RECIPE.format(how=how, name="out.mp4"))
    assert result.exit_code == 1, result.output  # the last check is meant to fail: nothing is on screen at 0.4s
    assert "3 of 4" not in result.output and "1 of 4 checks failed" in result.output
    assert "caption \"Hello world\" at 0.4s (actual: no caption at 0.4s)" in result.output
    if how == "soft":
        assert subtitle_cues(tmp_path / "out.mp4")[1] == [(500, 1500, "Hello world"), (1500, 2500, "Second")]
    else:
        assert runs(shown(tmp_path / "out.mp4")) == [(15, 74)]


def test_expect_caption_measures_coloured_text_on_a_box_by_brightness(tmp_path):
    """Yellow letters' colour is smeared by 4:2:0 chroma (a thin stroke's blue comes back ~100 off): still found."""
    draft = with_captions(grey_draft(2000, w=640, h=360, color="#203040"),
                          caption(500, 1000, "Thanks for watching", at="top", color="#ffcc00", box="#00000099"))
    done = render(tmp_path, draft, Output(640, 360, 30.0))
    info = done.to_json()["captions"]
    assert _measure(done.path, _check("Thanks for watching", 1000), info).ok
    assert not _measure(render(tmp_path, grey_draft(2000, w=640, h=360, color="#203040"), Output(640, 360, 30.0),
                               name="bare.mp4").path, _check("Thanks for watching", 1000), info).ok


def test_what_building_the_captions_left_out_is_said_at_export(tmp_path):
    from nemoflow.draft.captions import NOTES

    draft = with_captions(grey_draft(1000), caption(0, 1000, "kept")).with_m(**{NOTES: ["cue 4 of talk.srt is cut at 1s"]})
    said = Quiet()
    render(tmp_path, draft, report=said)
    assert [text for _, text in said.messages] == ["cue 4 of talk.srt is cut at 1s"]


def test_a_split_segment_key_ignores_what_only_labels_a_cue():
    from nemoflow.engines.local.chunked import picture_only

    def with_label(n: int):
        seg = caption(0, 500, "same words")
        return with_captions(grey_draft(1000), seg.with_m(caption={**seg.m["caption"], "cue": n, "source": f"v{n}.srt"}))

    assert picture_only(with_label(1)).to_json() == picture_only(with_label(7)).to_json()
    moved = with_captions(grey_draft(1000), caption(40, 500, "same words"))
    assert picture_only(moved).to_json() != picture_only(with_label(1)).to_json()


@pytest.mark.slow
def test_a_preview_burns_soft_captions_in(tmp_path, cli):
    recipe = tmp_path / "p.nemo"
    recipe.write_text(RECIPE.format(how="soft", name="out.mp4").replace('  caption "Hello world" at 0.4s\n', ""),
                      encoding="utf-8")
    result = cli("preview", str(recipe), "--height", "180")
    assert result.exit_code == 0, result.stderr
    path = Path(result.stdout.strip())
    with av.open(str(path)) as c:
        assert not c.streams.subtitles  # a browser would not show a subtitle stream: drawn in instead
    assert runs(shown(path)) == [(15, 74)]


def test_arabic_is_shaped_joined_letters_not_isolated_forms(tmp_path):
    """libass in the embedded FFmpeg has HarfBuzz and FriBidi: "مرحبا" is drawn with its letters joined, narrower
    than the same letters in their isolated forms (what an unshaped renderer would draw)."""
    isolated = "\ufee1\ufead\ufea1\ufe8f\ufe8d"  # م ر ح ب ا, each in its isolated presentation form
    draft = with_captions(grey_draft(1000, w=640, h=360), caption(0, 500, "مرحبا", size=60),
                          caption(500, 500, isolated, size=60))
    pictures = frames(render(tmp_path, draft, Output(640, 360, 30.0)).path)

    def width(frame: np.ndarray) -> int:
        cols = np.nonzero((frame.min(axis=2) > 200).any(axis=0))[0]
        return int(cols.max() - cols.min())

    assert width(pictures[5]) < 0.85 * width(pictures[20])


def test_overlapping_soft_cues_in_an_mp4_show_together_rather_than_cut_short(tmp_path):
    draft = with_captions(grey_draft(3000), caption(500, 1500, "A", mode="soft"), caption(1000, 1500, "B\nb", mode="soft"))
    done = render(tmp_path, draft)
    assert subtitle_cues(done.path)[1] == [(500, 1000, "A"), (1000, 2000, "A\nB\nb"), (2000, 2500, "B\nb")]
    assert _measure(done.path, _check("A", 1500)).ok and _measure(done.path, _check("B b", 1500)).ok
    assert not _measure(done.path, _check("A B", 2100)).ok
    webm = render(tmp_path, draft, Output(320, 180, 30.0, container="webm", codec="vp9", audio="opus"), name="o.webm")
    assert subtitle_cues(webm.path)[1] == [(500, 2000, "A"), (1000, 2500, "B\nb")]  # WebVTT overlaps as written


def test_overlapping_burned_cues_are_stacked_not_drawn_over_each_other(tmp_path):
    draft = with_captions(grey_draft(2000), caption(0, 2000, "first speaker"), caption(1000, 1000, "second speaker"))
    pictures = frames(render(tmp_path, draft).path)
    alone, both = bright_rows(pictures[10]), bright_rows(pictures[45])
    assert set(alone) <= set(both) and both.min() < alone.min() - 8  # the later cue sits above the earlier one


def test_an_outline_takes_its_width_and_colour(tmp_path):
    draft = with_captions(grey_draft(1000), caption(0, 500, "Outlined", outline={"px": 3, "color": "#ff0000"}),
                          caption(500, 500, "Outlined"))
    pictures = frames(render(tmp_path, draft).path)

    def red(frame: np.ndarray) -> int:
        f = frame.astype(int)
        return int(((f[..., 0] > 150) & (f[..., 1] < 90) & (f[..., 2] < 90)).sum())

    assert red(pictures[5]) > 100 and red(pictures[20]) == 0  # the default outline is black
