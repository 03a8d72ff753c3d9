"""Burned captions: every burned cue of an export drawn by ONE `ass` filter (libass), not one filter per cue.

A film of 600 cues is one libass instance reading one script, not 600 drawtext passes. Each cue is laid out by
text.py's `layout` (the font's own metrics, lines wrapped to the caption's width, placed by `at`), one Dialogue line
per wrapped line. nemoflow's DejaVu Sans comes first (`fontsdir`); characters it lacks (CJK, emoji, scripts) fall
back per character through fontconfig to the installed fonts; libass in the embedded FFmpeg is built with FriBidi and
HarfBuzz, so Arabic and Hebrew are shaped and laid right to left.

Timing: libass counts centiseconds and shows an event while start <= t < end, so each bound is written half a frame
before its frame's instant (media/captions.py puts cues on the frame grid): a centisecond's rounding never moves a
cue onto another frame, in a whole render or in a split render's slice (whose cuts are frame instants).
"""

from __future__ import annotations

import contextlib
import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

from ...draft.captions import CaptionStyle
from ...draft.model import Draft
from ...draft.output import Output
from ...errors import DraftError
from ...media.captions import BURN, Cue, cues
from ...media.escape import filter_value
from ...media.timing import exact_rate
from .text import ASS_NAME, ass_text, bundled_font, font_option, layout
from .textlayout import font_metrics

CAPTION_SIZE = 0.055  # of the output height, when the caption sets no `size`
CAPTION_WRAP = 0.8  # of the output width: a caption's longest line, when it sets no `wrap`
CAPTIONS_REVISION = 1  # in the name of a script: bump when the same cues would be drawn differently


def layout_style(style: CaptionStyle, width: int, height: int) -> dict[str, Any]:
    """A caption's style as text.py's layout reads it: at the bottom, with a size and a wrap width of its own."""
    out = {k: v for k, v in style.to_json().items() if k in ("font", "size", "color", "at", "wrap", "x", "y", "align")}
    out["at"] = out.get("at") or "bottom"
    out["size"] = out.get("size") or round(height * CAPTION_SIZE)
    if out.get("wrap") is None:
        out["wrap"] = {"px": round(width * CAPTION_WRAP)}
    return out


def ass_script(burned: tuple[Cue, ...], width: int, height: int, fps: float, fonts: Path) -> str:
    """The ASS script drawing every burned cue: one Dialogue line per wrapped line, placed by text.layout."""
    half = Fraction(1000, 2) / exact_rate(fps)  # ms: bounds half a frame before their frames' instants
    styles: dict[str, str] = {}
    events: list[str] = []
    placed: list[tuple[Cue, float, float]] = []  # cues drawn so far: their top and bottom (px)
    for cue in burned:
        style = layout_style(cue.style, width, height)
        lay = layout({"m": {"text": cue.text, "style": style}}, width, height)
        name = _style(cue.style, style, lay, fonts, styles)
        start = 0.0 if cue.start == 0 else float(cue.start - half)
        end = float(cue.end - half)
        numpad, ax = {"left": (7, lay.left), "center": (8, lay.left + lay.block_w / 2),
                      "right": (9, lay.left + lay.block_w)}[lay.align]
        y = _free_top(cue, lay, placed, height)
        placed.append((cue, y, y + lay.block_h))
        for line in lay.lines:
            tags = f"\\an{numpad}\\pos({ax:.2f},{y:.2f})"
            events.append(f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},{name},,0,0,0,,{{{tags}}}{ass_text(line.text)}")
            y += line.size * lay.line_height
    return "\n".join([
        "[Script Info]", f"; nemoflow captions r{CAPTIONS_REVISION}", "ScriptType: v4.00+", f"PlayResX: {width}",
        f"PlayResY: {height}", "WrapStyle: 2", "ScaledBorderAndShadow: yes", "YCbCr Matrix: None", "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, "
        "MarginV, Encoding",
        *styles.values(), "",
        "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        *events, ""])


def _free_top(cue: Cue, lay, placed: list[tuple[Cue, float, float]], height: int) -> float:
    """The block's top: its own place, or moved off the cues still on screen that it would cover (two speakers'
    overlapping lines): up from the bottom half of the frame, down from the top half. libass moves colliding events
    itself only when they are not placed with \\pos, and these are."""
    top, gap = lay.top, lay.block_h * 0.1
    up = lay.top + lay.block_h / 2 > height / 2
    for _ in range(len(placed) + 1):
        hit = [(t, b) for other, t, b in placed if other.start < cue.end and cue.start < other.end
               and t < top + lay.block_h and top < b]
        if not hit:
            break
        top = min(t for t, _ in hit) - gap - lay.block_h if up else max(b for _, b in hit) + gap
    return top


def _style(given: CaptionStyle, style: dict[str, Any], lay, fonts: Path, styles: dict[str, str]) -> str:
    """The ASS Style for a caption's look (one per distinct look, added to `styles`); its name."""
    font = "DejaVu Sans"
    if style.get("font"):
        font_option(style["font"], bold=False)  # text.py's refusals: a relative or missing font file
        if style["font"].lower().endswith((".ttf", ".otf", ".ttc")):
            path = Path(style["font"])
            link = fonts / f"caption-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}{path.suffix.lower()}"
            with contextlib.suppress(FileExistsError):
                link.symlink_to(path)
            font = font_metrics(path).family
        else:
            font = style["font"]
        if not ASS_NAME.match(font):
            raise DraftError(f"the caption font name {font!r} has a character (, {{ }} \\ or a line break) that libass "
                             "cannot take in a font name; give the font's file instead")
    size = lay.lines[0].size if lay.lines else float(style["size"])
    if given.box:  # a box behind each line: libass's BorderStyle 3, drawn in the outline colour
        border, edge, width = "3", _ass_color(given.box), float(max(2, round(size * 0.2)))
    else:  # an outline, black and size/16 wide unless the caption says: readable on any picture
        outline = given.outline or {}
        px = outline.get("px")
        width = float(px) if isinstance(px, (int, float)) else max(1.0, size / 16)
        border, edge = "1", _ass_color(outline.get("color") or "#000000")
    line = ",".join([font, f"{size * lay.line_height:.2f}", _ass_color(given.color or "#ffffff"), "&H000000FF",
                     edge, "&H80000000", "0", "0", "0", "0", "100", "100", "0", "0", border, f"{width:.2f}", "0", "7",
                     "0", "0", "0", "1"])
    for name, existing in styles.items():
        if existing.split(",", 1)[1] == line:
            return name
    name = f"C{len(styles)}"
    styles[name] = f"Style: {name},{line}"
    return name


def _ass_color(value: str) -> str:
    """#rrggbb[aa] → ASS's &HAABBGGRR (alpha counts transparency)."""
    digits = value.lstrip("#")
    alpha = 255 - int(digits[6:8], 16) if len(digits) == 8 else 0
    return f"&H{alpha:02X}{digits[4:6]}{digits[2:4]}{digits[0:2]}".upper()


def _ass_time(ms: float) -> str:
    cs = max(0, round(ms / 10))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def fonts_dir(folder: Path) -> Path:
    """A folder holding only nemoflow's DejaVu (libass reads every file of `fontsdir`) and caption font files."""
    fonts = folder / "fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    for bold in (False, True):
        with contextlib.suppress(FileExistsError):
            (fonts / bundled_font(bold).name).symlink_to(bundled_font(bold))
    return fonts


def script_file(draft: Draft, out: Output, cache_dir: Path) -> Path | None:
    """The ASS script of the draft's burned captions at the output's size (None if it has none), in the cache, named
    by its content: the render reads it, and it stays as the export's artifact for `expect caption`."""
    burned = cues(draft, out.fps, BURN)
    if not burned:
        return None
    folder = cache_dir / "captions"
    fonts = fonts_dir(folder)
    script = ass_script(burned, out.width, out.height, out.fps, fonts)
    path = folder / f"{hashlib.sha256(script.encode()).hexdigest()[:20]}.ass"
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.{id(script)}.partial")
        tmp.write_bytes(script.encode("utf-8"))
        tmp.replace(path)
    return path


def burn_filter(draft: Draft, out: Output, cache_dir: Path) -> str | None:
    """The one `ass` filter drawing all burned captions of `draft`; None if it has none."""
    path = script_file(draft, out, cache_dir)
    if path is None:
        return None
    return f"ass=filename={filter_value(str(path))}:fontsdir={filter_value(str(path.parent / 'fonts'))}"
