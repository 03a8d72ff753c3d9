"""What the local engine draws for odd text and odd file names (issue 15, items 6 and 8).

Frames are read back and compared by pixels: text is judged by where ink is, a still by its colour.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess

import numpy as np
import pytest
from mediagen import ffmpeg, make_image
from renderkit import frame_at, run_recipe

from nemoflow.engines.local import graph as graph_module
from nemoflow.engines.local import text as text_module
from nemoflow.engines.local.text import ass_text, drawtext, missing_glyphs, text_filter
from nemoflow.errors import MediaError
from nemoflow.media.ffmpeg import run_ffmpeg

GREY = "media bg = color #000000 duration 1s size 640x120 fps 10\n"


def _recipe(body: str, *, media: str = GREY, size: str = "640x120") -> str:
    return (f"nemo 1\n{media}edit cut {{\n{body}\n}}\n"
            f'export out = cut {{\n  size {size}\n  save "out.mp4"\n}}\n')


def _render(tmp_path, body: str, **kw) -> np.ndarray:
    """The middle frame of the recipe's output, RGB as floats."""
    out = tmp_path / "out.mp4"
    if out.exists():
        out.unlink()
    result = run_recipe(tmp_path, _recipe(body, **kw))
    assert result.exit_code == 0, result.stderr
    return frame_at(out, 0.5)


def _ink_columns(frame: np.ndarray) -> np.ndarray:
    """Which columns hold text (bright on the black background)."""
    return (frame.max(axis=2) > 128).any(axis=0)


def _runs(columns: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each stretch of inked columns."""
    runs, start = [], None
    for x, inked in enumerate(columns):
        if inked and start is None:
            start = x
        elif not inked and start is not None:
            runs.append((start, x))
            start = None
    if start is not None:
        runs.append((start, len(columns)))
    return runs


# -- stills whose names look like FFmpeg patterns -----------------------------------------------------------------

@pytest.mark.slow
def test_an_image_named_like_a_sequence_pattern_draws_itself(tmp_path):
    """`logo%d.png` is one file, not the sequence logo0.png, logo1.png…: the red one is drawn, not its blue neighbour."""
    make_image(tmp_path / "logo%d.png", size=(64, 64), color="0xff0000")
    make_image(tmp_path / "logo0.png", size=(64, 64), color="0x0000ff")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logo%d.png", "logo0.png"]
    frame = _render(tmp_path, "  image logo for 1s", media='media logo = "logo%d.png"\n', size="64x64")
    r, g, b = frame[32, 32]
    assert r > 200 and g < 60 and b < 60, (r, g, b)


@pytest.mark.slow
@pytest.mark.parametrize("name,fmt", [("still.gif", "gif"), ("png-named.jpg", "png"), ("jpeg-named.png", "mjpeg")])
def test_a_still_is_decoded_by_its_content_whatever_its_name(tmp_path, name, fmt):
    """The image demuxer is told the decoder the probe found: a PNG named .jpg draws, and so does a one-frame GIF."""
    ffmpeg("-f", "lavfi", "-i", "color=c=0x00ff00:s=64x64", "-frames:v", "1", "-update", "1", "-c:v", fmt,
           *(["-pix_fmt", "yuvj420p"] if fmt == "mjpeg" else []), "-f", "image2", str(tmp_path / name))
    frame = _render(tmp_path, "  image pic for 1s", media=f'media pic = "{name}"\n', size="64x64")
    r, g, b = frame[32, 32]
    assert g > 200 and r < 60 and b < 60, (r, g, b)


# -- text that cannot be drawn or passed as it is ----------------------------------------------------------------

def test_a_nul_in_text_is_refused_with_a_clear_error():
    segment = {"st": 0, "d": 1000, "m": {"text": "a\0b", "style": {"role": "title"}}}
    with pytest.raises(MediaError, match="NUL"):
        drawtext(segment, 1080)


def test_a_nul_in_an_ffmpeg_argument_is_a_media_error_not_a_crash():
    """Popen raises ValueError ("embedded null byte", exit 70); the user gets exit 2 and what to remove."""
    with pytest.raises(MediaError, match="NUL") as info:
        run_ffmpeg(["-i", "clip\0.mp4", "-f", "null", "-"], what="export.e")
    assert info.value.exit_code == 2


@pytest.mark.slow
def test_a_title_longer_than_one_command_line_argument_renders(tmp_path):
    """Over 128 KiB of title text: the text reaches FFmpeg in a file, not as an argument ("Argument list too long")."""
    long = "Hello " + "é" * 99_000  # 198 KB of UTF-8 in fewer characters than a string may hold (100,000)
    frame = _render(tmp_path, f'  video bg\n  text "{long}" at left size 20px')
    assert _ink_columns(frame)[30:90].any()  # "Hello" is drawn from the left margin on


def test_a_long_filter_graph_goes_to_ffmpeg_in_a_file(tmp_path, monkeypatch):
    """A graph over the inline limit is handed over with `-/filter_complex FILE`; the render still works."""
    monkeypatch.setattr(graph_module, "GRAPH_INLINE_BYTES", 10)
    seen: list[list[str]] = []
    from nemoflow.engines.local import export as export_module

    real = export_module.run_ffmpeg
    monkeypatch.setattr(export_module, "run_ffmpeg", lambda args, **kw: (seen.append(list(args)), real(args, **kw))[1])
    frame = _render(tmp_path, '  video bg\n  text "Hi" at left size 40px')
    assert _ink_columns(frame).any()
    [args] = seen
    assert "-/filter_complex" in args and "-filter_complex" not in args


# -- tabs -------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_tab_is_drawn_as_space_to_the_next_tab_stop(tmp_path):
    """`A\\tB` keeps a gap, wider than one space's (a tab stop is four spaces), and `\\t\\t` wider again."""
    def gaps(text: str) -> list[int]:
        runs = _runs(_ink_columns(_render(tmp_path, f'  video bg\n  text "{text}" at left size 40px')))
        return [b[0] - a[1] for a, b in itertools.pairwise(runs)]

    [space] = gaps("I I")
    [tab] = gaps("I\\tI")
    [two] = gaps("I\\t\\tI")
    assert space < tab < two, (space, tab, two)


# -- scripts and emoji the bundled font lacks --------------------------------------------------------------------

def _font_for(ch: str) -> bool:
    """Whether fontconfig knows an installed font with a glyph for `ch` (what libass falls back to)."""
    found = subprocess.run(["fc-list", f":charset={ord(ch):x}", "family"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def _needs_fonts_for(text: str) -> None:
    if shutil.which("fc-list") is None:
        pytest.skip("fontconfig's fc-list is not installed, so which fonts are installed cannot be told")
    lacking = [ch for ch in text if not _font_for(ch)]
    if lacking:
        pytest.skip(f"no installed font has {''.join(lacking)!r}: install fonts for them (Debian: fonts-noto-cjk or "
                    "fonts-wqy-microhei, fonts-symbola) to run this test")


def test_text_the_bundled_font_covers_stays_with_drawtext(tmp_path):
    title = {"st": 0, "d": 1000, "m": {"text": "Café – “quoted” Ωπ ✓\tok", "style": {"role": "title"}}}
    assert text_filter(title, 640, 360, work=tmp_path).startswith("drawtext=")
    assert missing_glyphs(title["m"]["text"], bold=True) == ""
    cjk = {"st": 0, "d": 1000, "m": {"text": "Hi 日本 🎬", "style": {"role": "title"}}}
    assert missing_glyphs(cjk["m"]["text"], bold=True) == "日本🎬"
    assert text_filter(cjk, 640, 360, work=tmp_path, index=1).startswith("ass=")


def test_text_for_libass_cannot_form_override_blocks_or_escapes():
    assert ass_text("{\\i1}a\\Nb") == "\\{\\\u2060i1\\}a\\\u2060Nb"
    assert ass_text("one\r\ntwo\rthree\nfour") == "one\\Ntwo\\Nthree\\Nfour"
    assert ass_text("ab\tc\t\td") == "ab  c       d"


@pytest.mark.slow
def test_cjk_and_emoji_are_drawn_with_real_glyphs_not_boxes(tmp_path, monkeypatch):
    """Two different characters the bundled font lacks draw differently (two boxes would be the same), and unlike
    the boxes drawtext alone draws for them."""
    _needs_fonts_for("日本🎬")

    def ink(folder, ch: str) -> np.ndarray:
        folder.mkdir(exist_ok=True)  # a project each: the same recipe in one would be restored from the cache
        return _render(folder, f'  video bg\n  text "{ch}" size 60px')[10:110, 250:390]

    drawn = {ch: ink(tmp_path / "drawn", ch) for ch in "日本🎬"}
    monkeypatch.setattr(text_module, "missing_glyphs", lambda text, bold: "")  # as before: drawtext, DejaVu only
    boxes = {ch: ink(tmp_path / "boxes", ch) for ch in "日本🎬"}
    assert np.abs(boxes["日"] - boxes["本"]).mean() < 0.5  # the same box for both: the comparison below means something
    for a, b in (("日", "本"), ("日", "🎬"), ("本", "🎬")):
        assert np.abs(drawn[a] - drawn[b]).mean() > 3, (a, b)
    for ch in "日本🎬":
        assert np.abs(drawn[ch] - boxes[ch]).mean() > 3, ch
        assert (drawn[ch].max(axis=2) > 128).any(), ch  # and it is drawn at all
