"""Styled and animated text (issue 17, item 5) and the text defects: too-wide text, multi-line alignment.

Pictures are judged by measuring pixels on small outputs: where a band's colour is, which columns hold ink,
how ink moves or brightens over time.
"""

from __future__ import annotations

import numpy as np
import pytest
from renderkit import frame_at, run_recipe

from nemoflow.core.diagnostics import RecipeError
from nemoflow.engines.local.text import layout, text_filter
from nemoflow.errors import MediaError
from nemoflow.lang.check import check_source

W, H = 320, 180
BG = f"media bg = color #000000 duration 2s size {W}x{H} fps 10\n"


def _recipe(body: str) -> str:
    return f'nemo 1\n{BG}edit cut {{\n  video bg\n{body}\n}}\nexport out = cut {{\n  size {W}x{H}\n  save "out.mp4"\n}}\n'


def _run(tmp_path, body: str):
    result = run_recipe(tmp_path, _recipe(body))
    assert result.exit_code == 0, result.output
    return result


def _frame(tmp_path, t: float) -> np.ndarray:
    return frame_at(tmp_path / "out.mp4", t)


def _ink(frame: np.ndarray, level: float = 128) -> np.ndarray:
    """Where white text is: bright in every channel."""
    return frame.min(axis=2) > level


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each stretch of True."""
    runs, start = [], None
    for i, on in enumerate(mask):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def _errors(body: str) -> list[tuple[str, str, str]]:
    with pytest.raises(RecipeError) as info:
        check_source(_recipe(body))
    return [(d.code, d.message, d.help or "") for d in info.value.diagnostics]


def _segment(text: str, **style) -> dict:
    return {"st": 0, "d": 2000, "m": {"text": text, "style": {"role": "text", **style}}}


# -- the checker ---------------------------------------------------------------------------------------------------

def test_a_misspelt_style_gets_a_did_you_mean():
    [(code, message, help_)] = _errors('  text "Hi" style bra')
    assert "`style` does not take `bra`" in message and "did you mean `bar`?" in help_, (code, message, help_)


def test_wrap_x_and_y_need_a_unit():
    found = _errors('  text "Hi" wrap 10s x 5 y 20px')
    assert len(found) == 2
    assert "`wrap` takes a percentage like `35%` or a size in pixels like `48px`, got a duration `10s`" in found[0][1]
    assert "`x` takes" in found[1][1] and "add a unit: `5%`" in found[1][2]


def test_animate_names_its_choices():
    [(_, message, help_)] = _errors('  title "Hi" animate slide-lft')
    assert "did you mean `slide-left`?" in help_, message


def test_a_percentage_past_the_frame_is_refused_where_it_is_written(tmp_path):
    result = run_recipe(tmp_path, _recipe('  text "Hi" x 150%'))
    assert result.exit_code == 2
    assert "r.nemo:5:3" in result.output and "`x 150%` is more than the whole frame" in result.output, result.output


# -- layout (no FFmpeg) ---------------------------------------------------------------------------------------------

def test_text_that_fits_is_not_wrapped_and_too_wide_text_is():
    fits = layout(_segment("Short", size=20), W, H)
    assert not fits.wrapped and not fits.overflow
    wide = layout(_segment("a sentence far too long for a small frame at this size", size=20), W, H)
    assert wide.wrapped and wide.overflow and len(wide.lines) >= 2
    assert all(line.width <= W * (1 - 2 * 0.06) for line in wide.lines)
    asked = layout(_segment("a sentence far too long for a small frame at this size", size=20, wrap={"pct": 50}), W, H)
    assert asked.wrapped and not asked.overflow  # the user chose the width: wrapped without a warning
    subtitle = layout(_segment("a sentence far too long for a small frame at this size", size=20, style="bar"), W, H)
    assert subtitle.wrapped and not subtitle.overflow  # and a subtitle bar wraps by design
    assert all(line.width <= W / 2 for line in asked.lines)


def test_a_word_wider_than_the_frame_is_broken_between_characters():
    lay = layout(_segment("W" * 80, size=20), W, H)
    assert len(lay.lines) > 1 and "".join(line.text for line in lay.lines) == "W" * 80


def test_hostile_text_cannot_reach_libass_or_ffmpeg_as_markup(tmp_path):
    """Override blocks, ASS escapes and filter-graph syntax in the text are drawn as written, in every line."""
    hostile = "{\\pos(0,0)\\an1}\\N[out];movie=/etc/passwd'\n{\\fs200}"
    filt = text_filter(_segment(hostile, style="bar", animate="slide-up"), W, H, work=tmp_path)
    assert filt.startswith("ass=filename=")
    script = (tmp_path / "text0.ass").read_text(encoding="utf-8")
    events = [line for line in script.splitlines() if line.startswith("Dialogue: 1,")]
    assert len(events) == 2
    for event in events:
        drawn = event.split("}", 1)[1]  # after nemoflow's own override block
        assert "\\{" in drawn and "\\\u2060" in drawn and "{\\" not in drawn.replace("\\{\\\u2060", "")


def test_each_line_is_its_own_event_entering_stagger_apart(tmp_path):
    """`stagger` alone fades the lines in in turn; with `animate`, the entrance is that animation."""
    text_filter(_segment("one\ntwo\nthree", stagger=400), W, H, work=tmp_path)
    script = (tmp_path / "text0.ass").read_text(encoding="utf-8")
    starts = [line.split(",")[1] for line in script.splitlines() if line.startswith("Dialogue: 1,")]
    assert starts == ["0:00:00.00", "0:00:00.40", "0:00:00.80"]
    assert script.count("\\fad(500,0)") == 3


def test_without_a_work_directory_styled_text_is_still_drawn_wrapped():
    """The cloud fake's render has no work directory: drawtext, with the lines wrapped, not a failure."""
    filt = text_filter(_segment("word " * 30, style="news", animate="fade"), W, H, work=None)
    assert filt.startswith("drawtext=") and "\\n" not in filt and filt.count("\n") >= 1


def test_a_font_file_that_cannot_be_read_is_a_clear_error_only_where_it_is_needed(tmp_path):
    """Measuring falls back to DejaVu's metrics (drawtext may still draw the face); naming it for libass cannot."""
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"\x00\x01\x00\x00" + b"\xff" * 64)
    plain = text_filter(_segment("Hi", font=str(bad)), W, H, work=tmp_path)
    assert plain.startswith("drawtext=")
    with pytest.raises(MediaError, match="cannot be read as a TrueType/OpenType font"):
        text_filter(_segment("Hi", font=str(bad), style="bar"), W, H, work=tmp_path, index=1)


def test_a_font_name_that_would_break_the_subtitle_script_is_refused(tmp_path):
    with pytest.raises(MediaError, match="font name"):
        text_filter(_segment("Hi", font="Evil, Font", style="box"), W, H, work=tmp_path)


# -- rendering -----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_bar_spans_the_frame_width_in_its_colour(tmp_path):
    _run(tmp_path, '  text "Subtitle" style bar bar #ff0000 size 16px')
    frame = _frame(tmp_path, 1.0)
    red = (frame[..., 0] > 180) & (frame[..., 1] < 80) & (frame[..., 2] < 80)
    rows = [y for y in range(H) if red[y].mean() > 0.6]
    assert rows, "no red band"
    band = _runs(np.isin(np.arange(H), rows))
    assert len(band) == 1 and band[0][0] > H / 2  # one band, in the lower half (a subtitle bar's default: bottom)
    y = (band[0][0] + band[0][1]) // 2
    assert red[y, :3].all() and red[y, -3:].all()  # edge to edge
    assert band[0][1] >= H - 2  # and on to the bottom edge: a subtitle bar
    assert _ink(frame)[band[0][0]:band[0][1]].any()  # the text is on it
    assert not red[: H // 2].any()


@pytest.mark.slow
def test_a_news_bar_has_its_band_and_left_aligned_lines(tmp_path):
    _run(tmp_path, '  text "Headline here\\nsecond line" style news size 20px')
    frame = _frame(tmp_path, 1.0)
    band = (np.abs(frame[..., 0] - 0xD0) < 40) & (np.abs(frame[..., 1] - 0x2A) < 40) & (np.abs(frame[..., 2] - 0x42) < 40)
    rows = [y for y in range(H) if band[y].mean() > 0.5]
    assert rows and min(rows) > H * 0.6  # a lower-third band
    ink = _ink(frame)
    lines = _runs(ink.any(axis=1))
    assert len(lines) == 2
    starts = [int(np.argmax(ink[a:b].any(axis=0))) for a, b in lines]
    assert all(abs(s - W * 0.06) <= 4 for s in starts), starts  # both lines start at the left margin
    heights = [b - a for a, b in lines]
    assert heights[1] < heights[0]  # the second line is smaller than the headline


@pytest.mark.slow
def test_text_wider_than_the_frame_is_wrapped_inside_it_with_a_warning(tmp_path):
    result = _run(tmp_path, '  title "This title is much too wide for such a small frame" size 24px')
    frame = _frame(tmp_path, 1.0)
    ink = _ink(frame, 100)
    margin = int(W * 0.06) - 2
    assert ink.any()
    assert not ink[:, :margin].any() and not ink[:, W - margin:].any()
    assert len(_runs(ink.any(axis=1))) >= 2  # more than one line
    out = result.output
    assert "This title is much too wide" in out and "px wide" in out and "wrap" in out, out


@pytest.mark.slow
def test_wrap_keeps_lines_within_the_width_asked(tmp_path):
    result = _run(tmp_path, '  text "one two three four five six seven eight" size 16px wrap 50%')
    ink = _ink(_frame(tmp_path, 1.0), 100)
    cols = np.flatnonzero(ink.any(axis=0))
    assert cols.min() >= W / 4 - 2 and cols.max() <= 3 * W / 4 + 2, (cols.min(), cols.max())
    assert len(_runs(ink.any(axis=1))) >= 2
    assert "px wide" not in result.output  # wrapping asked for is not warned about


@pytest.mark.slow
@pytest.mark.parametrize("extra", ["", " style box"])
def test_lines_of_a_centred_title_are_centred_each(tmp_path, extra):
    """Both drawtext (plain) and libass (styled) centre each line of a centred text, not the block alone."""
    _run(tmp_path, f'  title "Hi\\nA much longer line" size 24px{extra}')
    ink = _ink(_frame(tmp_path, 1.0))
    lines = _runs(ink.any(axis=1))
    assert len(lines) == 2
    centres = []
    for a, b in lines:
        cols = np.flatnonzero(ink[a:b].any(axis=0))
        centres.append((cols.min() + cols.max()) / 2)
    assert abs(centres[0] - centres[1]) <= 3, centres
    assert abs(centres[1] - W / 2) <= 4, centres


@pytest.mark.slow
def test_x_and_y_place_the_texts_top_left_corner(tmp_path):
    _run(tmp_path, '  text "X" x 50% y 40px size 30px')
    ink = _ink(_frame(tmp_path, 1.0))
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert W / 2 - 1 <= cols.min() <= W / 2 + 4, cols.min()
    assert 40 <= rows.min() <= 40 + 10, rows.min()  # the line's top, then the ascender's room above a capital


@pytest.mark.slow
def test_slide_left_moves_the_text_left_into_place(tmp_path):
    _run(tmp_path, '  text "Go" size 30px animate slide-left')
    lefts = []
    for t in (0.2, 0.35, 0.7, 1.5):  # it fades in as it slides: dim at first
        ink = _ink(_frame(tmp_path, t), 40)
        assert ink.any(), t
        lefts.append(int(np.flatnonzero(ink.any(axis=0)).min()))
    assert lefts[0] > lefts[1] > lefts[2], lefts  # moving left
    assert abs(lefts[2] - lefts[3]) <= 1, lefts  # and at rest once in place (500 ms)


@pytest.mark.slow
def test_fade_raises_the_brightness_and_lines_enter_in_turn(tmp_path):
    _run(tmp_path, '  text "First\\nSecond" size 24px animate fade stagger 600ms')
    lines_at_end = _runs(_ink(_frame(tmp_path, 1.5)).any(axis=1))
    assert len(lines_at_end) == 2
    (a0, b0), (a1, b1) = lines_at_end
    peaks = [_frame(tmp_path, t)[a0:b0].max() for t in (0.1, 0.3, 0.6)]
    assert peaks[0] < peaks[1] < peaks[2], peaks
    early = _frame(tmp_path, 0.4)
    assert early[a0:b0].max() > 100 and early[a1:b1].max() < 30  # the second line has not begun at 0.4 s


@pytest.mark.slow
def test_zoom_in_grows_the_text_about_its_middle(tmp_path):
    _run(tmp_path, '  title "Zoom" size 30px animate zoom-in')
    spans = []
    for t in (0.6, 1.8):
        cols = np.flatnonzero(_ink(_frame(tmp_path, t)).any(axis=0))
        spans.append((int(cols.min()), int(cols.max())))
    (l0, r0), (l1, r1) = spans
    assert (r1 - l1) > (r0 - l0) * 1.05, spans  # wider later
    assert abs((l0 + r0) / 2 - (l1 + r1) / 2) <= 2, spans  # about the same middle


@pytest.mark.slow
def test_a_hostile_text_renders_as_written_on_one_line(tmp_path):
    """`{\\an7}` and `\\N` in the text are drawn, not obeyed: one line of ink in the bar, not a text moved to the
    top-left and broken in two."""
    _run(tmp_path, '  text "{\\\\an7\\\\pos(0,0)}a\\\\Nb [x];" style bar size 16px')
    ink = _ink(_frame(tmp_path, 1.0))
    lines = _runs(ink.any(axis=1))
    assert len(lines) == 1 and lines[0][0] > H / 2, lines
    cols = np.flatnonzero(ink.any(axis=0))
    assert cols.min() > 20 and abs((cols.min() + cols.max()) / 2 - W / 2) <= 3  # centred, not at the left edge
