"""Text on screen: fonts, placement, and the drawtext filter for one text segment.

Fonts: DejaVu Sans (Bitstream Vera licence, nemoflow/fonts/) is bundled so
that titles render the same on every machine, with no system fonts needed.
A `font` that names a .ttf/.otf file uses that file; another name is looked
up with fontconfig, which FFmpeg carries. A font file in a Draft is an
absolute path: the checker resolves it against the recipe (as it does media
and LUTs), so a relative one here would mean the current directory, which is
never what the recipe or its cache key meant, and is refused.
"""

from __future__ import annotations

import bisect
import contextlib
from functools import cache
from pathlib import Path
from typing import Any

from ...errors import MediaError
from ...media.escape import filter_value, lavfi_number
from ...resources import resource_path

_MARGIN = 0.06  # of the frame, from the nearest edges
_POSITIONS = {
    "center": ("(w-text_w)/2", "(h-text_h)/2"),
    "top": ("(w-text_w)/2", f"h*{_MARGIN}"),
    "bottom": ("(w-text_w)/2", f"h-text_h-h*{_MARGIN}"),
    "left": (f"w*{_MARGIN}", "(h-text_h)/2"),
    "right": (f"w-text_w-w*{_MARGIN}", "(h-text_h)/2"),
    "top-left": (f"w*{_MARGIN}", f"h*{_MARGIN}"),
    "top-right": (f"w-text_w-w*{_MARGIN}", f"h*{_MARGIN}"),
    "bottom-left": (f"w*{_MARGIN}", f"h-text_h-h*{_MARGIN}"),
    "bottom-right": (f"w-text_w-w*{_MARGIN}", f"h-text_h-h*{_MARGIN}"),
    "lower-third": (f"w*{_MARGIN}", "h*0.72"),
}
TITLE_SIZE, TEXT_SIZE = 0.09, 0.045  # of the output height


def bundled_font(bold: bool) -> Path:
    return resource_path("fonts/DejaVuSans-Bold.ttf" if bold else "fonts/DejaVuSans.ttf")


def _font_option(font: str | None, bold: bool) -> str:
    if not font:
        return "fontfile=" + filter_value(str(bundled_font(bold)))
    if font.lower().endswith((".ttf", ".otf", ".ttc")):
        path = Path(font)
        if not path.is_absolute():
            raise MediaError(f"the font file {font} in the Draft is not an absolute path; a recipe's `font` is resolved against "
                             "the recipe when it is checked, so build the Draft from a recipe, or give the file's absolute path")
        if not path.is_file():
            raise MediaError(f"the font file {font} does not exist; give a .ttf/.otf path, a font family name, "
                             "or leave `font` out for the bundled DejaVu Sans")
        return "fontfile=" + filter_value(str(path))
    return "font=" + filter_value(font)


def _color(value: str | None, default: str) -> str:
    """#rrggbb[aa] → FFmpeg's 0xRRGGBB[AA] (no `#`, which needs no escaping but reads oddly in logs)."""
    return "0x" + (value or default).lstrip("#")


def drawtext(segment: dict[str, Any], height: int, *, text_file: Path | None = None) -> str:
    """The drawtext filter for one text segment (`st`, `d` in ms; `m.text`, `m.style`).

    With `text_file` the text is written there and read by FFmpeg (`textfile=`), so its length is not bounded
    by the command line; without, it is inline. A tab is drawn as space up to the next tab stop (drawtext's
    own `tabsize`, 4 spaces); a NUL cannot be drawn or passed, and is refused.
    """
    m, style = segment["m"], segment["m"].get("style", {})
    if "\0" in m["text"]:
        raise MediaError(f"a text on screen contains a NUL character (U+0000), which cannot be drawn: "
                         f"{m['text'].replace(chr(0), '<NUL>')[:80]!r}; remove it from the recipe")
    if text_file is not None:
        text_file.write_bytes(m["text"].encode("utf-8"))  # exactly the text: no newline added or translated
    title = style.get("role") == "title"
    size = style.get("size") or round(height * (TITLE_SIZE if title else TEXT_SIZE))
    x, y = _POSITIONS[style.get("at") or "center"]
    start, end = segment["st"] / 1000, (segment["st"] + segment["d"]) / 1000
    opts = [
        _font_option(style.get("font"), bold=title),
        "textfile=" + filter_value(str(text_file)) if text_file is not None else "text=" + filter_value(m["text"]),
        "expansion=none",
        f"fontsize={lavfi_number(size)}",
        f"fontcolor={_color(style.get('color'), '#ffffff')}",
        "x=" + filter_value(x),
        "y=" + filter_value(y),
        "enable=" + filter_value(f"between(t,{lavfi_number(start)},{lavfi_number(end)})"),
    ]
    if title:
        shadow = max(2, round(size / 40))
        opts += [f"shadowx={shadow}", f"shadowy={shadow}", "shadowcolor=0x000000@0.5"]
    if style.get("box"):
        opts += ["box=1", f"boxcolor={_color(style['box'], '#000000')}", f"boxborderw={max(2, round(size * 0.3))}"]
    fade = (style.get("fade") or 0) / 1000
    if fade > 0:
        fade = min(fade, (end - start) / 2)
        a, b, f = lavfi_number(start), lavfi_number(end), lavfi_number(fade)
        opts.append("alpha=" + filter_value(f"if(lt(t,{a}+{f}),(t-{a})/{f},if(gt(t,{b}-{f}),({b}-t)/{f},1))"))
    return "drawtext=" + ":".join(opts)


# -- text the bundled font cannot draw -----------------------------------------------------------------------------
#
# drawtext draws every character with one font and has no fallback: a CJK title or an emoji in DejaVu Sans comes
# out as boxes. libass (FFmpeg's `ass` filter) falls back per character through fontconfig to the fonts installed
# on the machine. So a text that DejaVu covers entirely is drawn by drawtext as always, and one with characters
# DejaVu lacks is drawn by libass, DejaVu first (from nemoflow's own copy) and installed fonts for the rest. Where
# no installed font has a character, it is still a box: see docs/guarantees.md for the fonts to install.

_METRIC = (1901 + 483) / 2048  # DejaVu Sans: libass sizes a font by ascender + descender, drawtext by its em
_ANCHORS = {  # ASS \an numpad alignment and the point it anchors, as drawtext's x/y formulas above place the text
    "center": (5, lambda w, h: (w / 2, h / 2)),
    "top": (8, lambda w, h: (w / 2, h * _MARGIN)),
    "bottom": (2, lambda w, h: (w / 2, h - h * _MARGIN)),
    "left": (4, lambda w, h: (w * _MARGIN, h / 2)),
    "right": (6, lambda w, h: (w - w * _MARGIN, h / 2)),
    "top-left": (7, lambda w, h: (w * _MARGIN, h * _MARGIN)),
    "top-right": (9, lambda w, h: (w - w * _MARGIN, h * _MARGIN)),
    "bottom-left": (1, lambda w, h: (w * _MARGIN, h - h * _MARGIN)),
    "bottom-right": (3, lambda w, h: (w - w * _MARGIN, h - h * _MARGIN)),
    "lower-third": (7, lambda w, h: (w * _MARGIN, h * 0.72)),
}
_TAB = 4  # spaces to a tab stop, as drawtext's default `tabsize`


@cache
def _coverage(bold: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The bundled font's characters as sorted range starts and ends (inclusive).

    Read from `fonts/<font>.charset`, made by `fc-query --format '%{charset}' DejaVuSans.ttf` (fontconfig's
    hexadecimal ranges): the font never changes, so neither does its coverage.
    """
    name = "fonts/DejaVuSans-Bold.charset" if bold else "fonts/DejaVuSans.charset"
    starts, ends = [], []
    for item in resource_path(name).read_text(encoding="ascii").split():
        lo, _, hi = item.partition("-")
        starts.append(int(lo, 16))
        ends.append(int(hi or lo, 16))
    return tuple(starts), tuple(ends)


def missing_glyphs(text: str, *, bold: bool) -> str:
    """The characters of `text` the bundled font has no glyph for (line breaks and tabs are layout, not glyphs)."""
    starts, ends = _coverage(bold)
    missing = []
    for ch in dict.fromkeys(text):
        code = ord(ch)
        if ch in "\n\r\t":
            continue
        i = bisect.bisect_right(starts, code) - 1
        if i < 0 or code > ends[i]:
            missing.append(ch)
    return "".join(missing)


def text_filter(segment: dict[str, Any], width: int, height: int, *, work: Path | None, index: int = 0) -> str:
    """The filter that draws one text segment: drawtext, or libass when the bundled font lacks some of its characters.

    `work` is a directory for the text (and the subtitle file), which are named by `index`; without one,
    drawtext with the text inline (and no fallback).
    """
    m, style = segment["m"], segment["m"].get("style", {})
    if work is None:
        return drawtext(segment, height)
    if style.get("font") or not missing_glyphs(m["text"], bold=style.get("role") == "title"):
        return drawtext(segment, height, text_file=work / f"text{index}.txt")
    return _libass(segment, width, height, work / f"text{index}.ass", work)


def _libass(segment: dict[str, Any], width: int, height: int, path: Path, work: Path) -> str:
    """An `ass` filter drawing the segment as drawtext would (place, size, colour, shadow, box, fade, times)."""
    m, style = segment["m"], segment["m"].get("style", {})
    if "\0" in m["text"]:
        drawtext(segment, height)  # raises the same MediaError
    title = style.get("role") == "title"
    size = style.get("size") or round(height * (TITLE_SIZE if title else TEXT_SIZE))
    align, anchor = _ANCHORS[style.get("at") or "center"]
    x, y = anchor(width, height)
    start, end = segment["st"], segment["st"] + segment["d"]
    box = style.get("box")
    shadow = max(2, round(size / 40)) if title else 0
    tags = f"\\an{align}\\pos({x:.2f},{y:.2f})"
    fade = round(style.get("fade") or 0)
    if fade > 0:
        fade = min(fade, (end - start) // 2)
        tags += f"\\fad({fade},{fade})"
    style_line = ",".join([
        "T", "DejaVu Sans", f"{size * _METRIC:.2f}", _ass_color(style.get("color"), "#ffffff"), "&H000000FF",
        _ass_color(box, "#000000"), "&H80000000", "-1" if title else "0", "0", "0", "0", "100", "100", "0", "0",
        "3" if box else "1", str(max(2, round(size * 0.3))) if box else "0", str(shadow), str(align), "0", "0", "0", "1"])
    script = "\n".join([
        "[Script Info]", "ScriptType: v4.00+", f"PlayResX: {width}", f"PlayResY: {height}", "WrapStyle: 2",
        "ScaledBorderAndShadow: yes", "YCbCr Matrix: None", "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, "
        "MarginV, Encoding",
        f"Style: {style_line}", "",
        "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},T,,0,0,0,,{{{tags}}}{ass_text(m['text'])}", ""])
    path.write_bytes(script.encode("utf-8"))
    fonts = work / "fonts"
    if not fonts.is_dir():  # libass reads every file of `fontsdir`: only the two fonts, not their licence and charsets
        fonts.mkdir()
        for bold in (False, True):
            with contextlib.suppress(FileExistsError):
                (fonts / bundled_font(bold).name).symlink_to(bundled_font(bold))
    return f"ass=filename={filter_value(str(path))}:fontsdir={filter_value(str(fonts))}"


def ass_text(text: str) -> str:
    """User text as the text of an ASS event, drawn as written: no override block or escape can be formed.

    `{` would open an override block and `\\N`, `\\n`, `\\h` are line breaks and a hard space: every backslash is
    followed by an invisible WORD JOINER, braces are escaped (`\\{`), line breaks become `\\N`, and tabs become
    spaces to the next tab stop (libass draws a tab as one space).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.expandtabs(_TAB) for line in text.split("\n"))
    text = text.replace("\\", "\\\u2060").replace("{", "\\{").replace("}", "\\}")
    return text.replace("\n", "\\N")


def _ass_color(value: str | None, default: str) -> str:
    """#rrggbb[aa] → ASS's &HAABBGGRR, whose alpha counts transparency (00 opaque), the other way round."""
    digits = (value or default).lstrip("#")
    r, g, b = digits[0:2], digits[2:4], digits[4:6]
    alpha = 255 - int(digits[6:8], 16) if len(digits) == 8 else 0
    return f"&H{alpha:02X}{b}{g}{r}".upper()


def _ass_time(ms: int) -> str:
    """H:MM:SS.cc (ASS counts centiseconds)."""
    cs = round(ms / 10)
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"
