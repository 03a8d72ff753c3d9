"""Text on screen: fonts, placement, and the drawtext filter for one text segment.

Fonts: DejaVu Sans (Bitstream Vera licence, nemoflow/fonts/) is bundled so
that titles render the same on every machine, with no system fonts needed.
A `font` that names a .ttf/.otf file uses that file; another name is looked
up with fontconfig, which FFmpeg carries.
"""

from __future__ import annotations

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
        path = Path(font).expanduser()
        if not path.is_file():
            raise MediaError(f"the font file {font} does not exist; give a .ttf/.otf path, a font family name, "
                             "or leave `font` out for the bundled DejaVu Sans")
        return "fontfile=" + filter_value(str(path.resolve()))
    return "font=" + filter_value(font)


def _color(value: str | None, default: str) -> str:
    """#rrggbb[aa] → FFmpeg's 0xRRGGBB[AA] (no `#`, which needs no escaping but reads oddly in logs)."""
    return "0x" + (value or default).lstrip("#")


def drawtext(segment: dict[str, Any], height: int) -> str:
    """The drawtext filter for one text segment (`st`, `d` in ms; `m.text`, `m.style`)."""
    m, style = segment["m"], segment["m"].get("style", {})
    title = style.get("role") == "title"
    size = style.get("size") or round(height * (TITLE_SIZE if title else TEXT_SIZE))
    x, y = _POSITIONS[style.get("at") or "center"]
    start, end = segment["st"] / 1000, (segment["st"] + segment["d"]) / 1000
    opts = [
        _font_option(style.get("font"), bold=title),
        "text=" + filter_value(m["text"]),
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
