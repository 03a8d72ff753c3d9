"""Text on screen: fonts, placement, and the filter for one text segment (drawtext, or libass for styled text).

Layout (lines wrapped to the frame or `wrap`, the block's place, each line's alignment) is computed here from the
font's metrics (textlayout.py), so a band can fit the text, lines can enter one by one, and text too wide for the
frame is wrapped and reported (`text_notes`) instead of clipped.

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
import re
from functools import cache
from pathlib import Path
from typing import Any

import attrs

from ...draft.model import TEXT, Draft
from ...errors import MediaError
from ...media.escape import filter_value, lavfi_number
from ...resources import resource_path
from .textlayout import FontMetrics, font_metrics, wrap_line

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


def font_option(font: str | None, bold: bool) -> str:
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


def drawtext(segment: dict[str, Any], height: int, *, text_file: Path | None = None, lines: list[str] | None = None) -> str:
    """The drawtext filter for one text segment (`st`, `d` in ms; `m.text`, `m.style`).

    With `text_file` the text is written there and read by FFmpeg (`textfile=`), so its length is not bounded
    by the command line; without, it is inline. A tab is drawn as space up to the next tab stop (drawtext's
    own `tabsize`, 4 spaces); a NUL cannot be drawn or passed, and is refused. `lines`: the text as wrapped to
    the frame (`layout`), drawn instead of `m.text`. Lines of more than one are aligned with each other as the
    position aligns the block (centred for the centre, top and bottom; `text_align`, FFmpeg 7+).
    """
    m, style = segment["m"], segment["m"].get("style", {})
    if "\0" in m["text"]:
        raise MediaError(f"a text on screen contains a NUL character (U+0000), which cannot be drawn: "
                         f"{m['text'].replace(chr(0), '<NUL>')[:80]!r}; remove it from the recipe")
    text = m["text"] if lines is None else "\n".join(lines)
    if text_file is not None:
        text_file.write_bytes(text.encode("utf-8"))  # exactly the text: no newline added or translated
    title = style.get("role") == "title"
    size = style.get("size") or round(height * (TITLE_SIZE if title else TEXT_SIZE))
    x, y = _POSITIONS[style.get("at") or "center"]
    start, end = segment["st"] / 1000, (segment["st"] + segment["d"]) / 1000
    opts = [
        font_option(style.get("font"), bold=title),
        "textfile=" + filter_value(str(text_file)) if text_file is not None else "text=" + filter_value(text),
        "expansion=none",
        f"fontsize={lavfi_number(size)}",
        f"fontcolor={_color(style.get('color'), '#ffffff')}",
        "x=" + filter_value(x),
        "y=" + filter_value(y),
        "enable=" + filter_value(f"between(t,{lavfi_number(start)},{lavfi_number(end)})"),
    ]
    align = _align(style)
    if align != "left" and len(_LINE_BREAK.split(text)) > 1:
        opts.append(f"text_align={align[0].upper()}")
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
    """The filter that draws one text segment: drawtext for plain text, libass for styled or animated text and
    text the bundled font lacks some characters of.

    `work` is a directory for the text (and the subtitle file), which are named by `index`; without one,
    drawtext with the text inline (no fallback, no band, no animation: the lines as wrapped, in place).
    Text wider than the frame is wrapped to it either way (`layout`; `text_notes` says so).
    """
    m, style = segment["m"], segment["m"].get("style", {})
    if "\0" in m["text"]:
        drawtext(segment, height)  # raises the MediaError naming it
    lay = layout(segment, width, height)
    lines = [line.text for line in lay.lines] if lay.wrapped else None
    if work is None:
        return drawtext(segment, height, lines=lines)
    styled = any(style.get(k) is not None for k in _LAYOUT_KEYS)
    if not styled and (style.get("font") or not missing_glyphs(m["text"], bold=style.get("role") == "title")):
        return drawtext(segment, height, text_file=work / f"text{index}.txt", lines=lines)
    return _libass(segment, lay, width, height, work / f"text{index}.ass", work, index)


# -- layout: lines, sizes, the block's place -----------------------------------------------------------------------

_LAYOUT_KEYS = ("style", "bar", "wrap", "x", "y", "align", "animate", "stagger")  # drawn by libass
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DEFAULT_AT = {"bar": "bottom", "news": "lower-third"}
_BAND_COLOR = {"bar": "#00000099", "news": "#d02a42"}
_NEWS_SIZE, _NEWS_SECOND = 0.06, 0.6  # a news headline's size (of the height), and its later lines' (of the headline)
ENTER_MS, STAGGER_MS = 500, 250  # one line's entrance, and the delay between lines (`stagger`)
_SLIDE = {"slide-left": (0.15, 0), "slide-right": (-0.15, 0), "slide-up": (0, 0.08), "slide-down": (0, -0.08)}
_ZOOM = {"zoom-in": (100, 120), "zoom-out": (120, 100)}  # scale (%) at the start and end of the text's time


@attrs.frozen
class Line:
    text: str
    width: float  # measured, px
    size: float  # font size, px
    bold: bool = False


@attrs.frozen
class Layout:
    """A text's lines and where its block goes: `left`, `top` of the block, `block_w`/`block_h` in px."""

    lines: tuple[Line, ...]
    left: float
    top: float
    block_w: float
    block_h: float
    line_height: float  # per px of font size
    align: str
    natural: float  # the widest line before wrapping, px
    limit: float  # the width the lines were wrapped to, px
    wrapped: bool  # some line was broken
    overflow: bool  # wrapped because it was wider than the frame, not by `wrap`
    edge: str | None = None  # "top" or "bottom": the block is placed against that edge of the frame (by `at`)


def _extent(value: dict[str, float] | None, whole: int) -> float | None:
    if value is None:
        return None
    return value["pct"] * whole / 100 if "pct" in value else float(value["px"])


def _align(style: dict[str, Any]) -> str:
    """`align`, or the one the position implies: left and right positions (and the news bar) align their lines to
    that side, the others centre them."""
    if style.get("align"):
        return style["align"]
    if style.get("style") == "news" or style.get("x") is not None:
        return "left"
    at = style.get("at") or _DEFAULT_AT.get(style.get("style") or "", "center")
    return "left" if at.endswith("left") or at == "lower-third" else "right" if at.endswith("right") else "center"


def _metrics(style: dict[str, Any], bold: bool) -> FontMetrics:
    """The font's metrics: its file's, or DejaVu Sans's for the bundled font and (an estimate) a family name."""
    font = style.get("font")
    if font and font.lower().endswith((".ttf", ".otf", ".ttc")) and Path(font).is_absolute() and Path(font).is_file():
        with contextlib.suppress(MediaError):  # a face these tables cannot be read from: drawtext may still draw it
            return font_metrics(Path(font))
    return font_metrics(bundled_font(bold))


def layout(segment: dict[str, Any], width: int, height: int) -> Layout:
    """The segment's lines, wrapped to `wrap` or to the frame between its margins, and the block's place."""
    style = segment["m"].get("style", {})
    title = style.get("role") == "title"
    kind = style.get("style")
    size = float(style.get("size") or round(height * (TITLE_SIZE if title else _NEWS_SIZE if kind == "news" else TEXT_SIZE)))
    metrics = _metrics(style, bold=title)
    at = style.get("at") or _DEFAULT_AT.get(kind or "", "center")
    numpad, anchor = _ANCHORS[at]
    ax, ay = anchor(width, height)
    x, y = _extent(style.get("x"), width), _extent(style.get("y"), height)
    margin = width * _MARGIN
    if x is not None:
        room = width - x - margin
    elif numpad in (7, 4, 1):
        room = width - ax - margin
    elif numpad in (9, 6, 3):
        room = ax - margin
    else:
        room = width - 2 * margin
    if style.get("animate") in _ZOOM:  # room for the line at its largest
        room /= max(_ZOOM[style["animate"]]) / 100
    room = max(room, size)
    asked = _extent(style.get("wrap"), width)
    limit = min(asked, room) if asked is not None else room
    lines: list[Line] = []
    natural = 0.0
    for i, raw in enumerate(_LINE_BREAK.split(segment["m"]["text"])):
        raw = raw.expandtabs(_TAB)
        line_size = size * _NEWS_SECOND if kind == "news" and i > 0 else size
        bold = title or (kind == "news" and i == 0)
        m = _metrics(style, bold=bold)
        natural = max(natural, m.width(raw, line_size))
        for part in wrap_line(raw, lambda t, m=m, s=line_size: m.width(t, s) <= limit):
            lines.append(Line(part, m.width(part, line_size), line_size, bold))
    wrapped = len(lines) > len(_LINE_BREAK.split(segment["m"]["text"]))
    block_w = max((line.width for line in lines), default=0.0)
    block_h = sum(line.size for line in lines) * metrics.line_height
    if x is not None:
        left = x
    else:
        left = ax if numpad in (7, 4, 1) else ax - block_w if numpad in (9, 6, 3) else ax - block_w / 2
    if y is not None:
        top = y
    else:
        top = ay if numpad in (7, 8, 9) else ay - block_h if numpad in (1, 2, 3) else ay - block_h / 2
    # wrapped only because it did not fit: worth a warning, unless wrapping is what was asked (`wrap`, a subtitle bar)
    overflow = wrapped and natural > room and (asked is None or asked > room) and kind != "bar"
    edge = None if y is not None or at == "lower-third" else "top" if numpad in (7, 8, 9) else "bottom" if numpad in (1, 2, 3) else None
    return Layout(tuple(lines), left, top, block_w, block_h, metrics.line_height, _align(style), natural, limit,
                  wrapped, overflow, edge)


def text_notes(draft: Draft, width: int, height: int) -> list[str]:
    """A warning for each text wider than the frame: it is wrapped to the frame (between its margins), and this says
    which text, how wide it was, and how to choose the width (`wrap`) or a smaller `size` instead."""
    notes = []
    for seg in draft.segments(TEXT):
        segment = seg.to_json()
        lay = layout(segment, width, height)
        if not lay.overflow:
            continue
        shown = " ".join(segment["m"]["text"].split())
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        taller = f", and at {lay.block_h:.0f} px is still taller than the frame" if lay.block_h > height else ""
        notes.append(f"the text {shown!r} at {seg.st / 1000:g}s is {lay.natural:.0f} px wide, wider than the "
                     f"{lay.limit:.0f} px the {width}x{height} frame has for it: it is wrapped onto {len(lay.lines)} "
                     f"lines{taller}; give it a `wrap` width or a smaller `size` to choose how it breaks")
    return notes


# -- styled text ---------------------------------------------------------------------------------------------------
#
# Besides text the bundled font cannot draw (above), styled text (a band, a box per line, lines entering in turn,
# a chosen place or wrap) is drawn by libass: one event per line, placed by `layout`, so a line's animation, its
# band and its alignment are all known here.

ASS_NAME = re.compile(r"^[^,\r\n{}\\]+$")  # a family name that cannot break the ASS Style line


def _libass(segment: dict[str, Any], lay: Layout, width: int, height: int, path: Path, work: Path, index: int) -> str:
    """An `ass` filter drawing the laid-out lines: colour, shadow (titles), box, band, fade, animation, times."""
    style = segment["m"].get("style", {})
    title = style.get("role") == "title"
    kind = style.get("style") or ("box" if style.get("box") else "bar" if style.get("bar") else None)
    fonts = work / "fonts"
    if not fonts.is_dir():  # libass reads every file of `fontsdir`: only the fonts, not their licence and charsets
        fonts.mkdir()
        for bold in (False, True):
            with contextlib.suppress(FileExistsError):
                (fonts / bundled_font(bold).name).symlink_to(bundled_font(bold))
    font, bold_face = "DejaVu Sans", True
    if style.get("font"):
        font_option(style["font"], bold=title)  # the same refusals as drawtext (relative or missing file)
        if style["font"].lower().endswith((".ttf", ".otf", ".ttc")):
            path_in = Path(style["font"])
            with contextlib.suppress(FileExistsError):
                (fonts / f"user{index}{path_in.suffix.lower()}").symlink_to(path_in)
            font, bold_face = font_metrics(path_in).family, False
        else:
            font, bold_face = style["font"], False
        if not ASS_NAME.match(font):
            raise MediaError(f"the font name {font!r} has a character (, {{ }} \\ or a line break) that libass cannot "
                             "take in a font name; give the font's file instead")
    size = lay.lines[0].size if lay.lines else 1.0
    box = style.get("box") or ("#00000099" if kind == "box" else None)
    shadow = max(2, round(size / 40)) if title else 0
    style_line = ",".join([
        "T", font, f"{size * lay.line_height:.2f}", _ass_color(style.get("color"), "#ffffff"), "&H000000FF",
        _ass_color(box, "#000000"), "&H80000000", "-1" if title and bold_face else "0", "0", "0", "0", "100", "100",
        "0", "0", "3" if box else "1", str(max(2, round(size * 0.3))) if box else "0", str(shadow), "7", "0", "0", "0",
        "1"])
    start, end = segment["st"], segment["st"] + segment["d"]
    span = end - start
    fade = min(round(style.get("fade") or 0), span // 2)
    animate = style.get("animate") or ("fade" if style.get("stagger") is not None else None)  # `stagger` alone: fade in turn
    enter = min(ENTER_MS, span // 2) if animate else fade
    n = len(lay.lines)
    stagger = style.get("stagger")
    stagger = STAGGER_MS if stagger is None else stagger
    if animate and n > 1:  # every line has entered before the text ends
        stagger = max(0, min(stagger, (span - enter) // (n - 1)))
    events = []
    if kind in ("bar", "news"):
        pad = size * 0.3
        band_top, band_h = lay.top - pad, lay.block_h + 2 * pad
        if kind == "bar" and lay.edge == "bottom":  # a subtitle bar runs to the frame's edge, not short of it
            band_h = height - band_top
        elif kind == "bar" and lay.edge == "top":
            band_top, band_h = 0, band_top + band_h
        color = style.get("bar") or _BAND_COLOR[kind]
        tags = (f"\\an7\\pos(0,{band_top:.2f})\\bord0\\shad0\\1c{_ass_bgr(color)}\\1a{_ass_alpha(color)}"
                + (f"\\fad({enter},{fade})" if enter or fade else "") + "\\p1")
        events.append((0, start, end, f"{{{tags}}}m 0 0 l {width} 0 {width} {band_h:.2f} 0 {band_h:.2f}{{\\p0}}"))
    anchor_of = {"left": (7, lay.left), "center": (8, lay.left + lay.block_w / 2), "right": (9, lay.left + lay.block_w)}
    numpad, ax = anchor_of[lay.align]
    y = lay.top
    for i, line in enumerate(lay.lines):
        line_start = start + (i * stagger if animate else 0)
        line_h = line.size * lay.line_height
        tags = f"\\an{numpad}\\fs{line_h:.2f}" + ("\\b1" if line.bold and bold_face else "")
        if animate in _ZOOM:  # scaled about the line's middle (an4/5/6), over the whole of its time
            a, b = _ZOOM[animate]
            tags = tags.replace(f"\\an{numpad}", f"\\an{numpad - 3}", 1)
            tags += f"\\pos({ax:.2f},{y + line_h / 2:.2f})\\fscx{a}\\fscy{a}\\t(0,{end - line_start},\\fscx{b}\\fscy{b})"
        elif animate in _SLIDE:
            dx, dy = _SLIDE[animate]
            x0, y0 = ax + dx * width, y + dy * height
            tags += f"\\move({x0:.2f},{y0:.2f},{ax:.2f},{y:.2f},0,{enter})"
        else:
            tags += f"\\pos({ax:.2f},{y:.2f})"
        if enter or fade:
            tags += f"\\fad({enter},{fade})"
        events.append((1, line_start, end, f"{{{tags}}}{ass_text(line.text)}"))
        y += line_h
    script = "\n".join([
        "[Script Info]", "ScriptType: v4.00+", f"PlayResX: {width}", f"PlayResY: {height}", "WrapStyle: 2",
        "ScaledBorderAndShadow: yes", "YCbCr Matrix: None", "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, "
        "MarginV, Encoding",
        f"Style: {style_line}", "",
        "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        *(f"Dialogue: {layer},{_ass_time(a)},{_ass_time(b)},T,,0,0,0,,{text}" for layer, a, b, text in events if b > a),
        ""])
    path.write_bytes(script.encode("utf-8"))
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


def _ass_bgr(value: str) -> str:
    """#rrggbb[aa] → an override tag's colour, &HBBGGRR& (its alpha goes in a separate tag: `_ass_alpha`)."""
    digits = value.lstrip("#")
    return f"&H{digits[4:6]}{digits[2:4]}{digits[0:2]}&".upper()


def _ass_alpha(value: str) -> str:
    """#rrggbb[aa] → an override tag's alpha, &HAA& counting transparency (00 opaque)."""
    digits = value.lstrip("#")
    return f"&H{255 - int(digits[6:8], 16) if len(digits) == 8 else 0:02X}&"


def _ass_time(ms: int) -> str:
    """H:MM:SS.cc (ASS counts centiseconds)."""
    cs = round(ms / 10)
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"
