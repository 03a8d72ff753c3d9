"""Text measured with its font's own metrics, and word wrap to a width.

Why here and not in FFmpeg: a band behind the text, lines that enter one after another, and a warning for text
wider than the frame all need to know the lines and their widths before FFmpeg draws them. A TrueType/OpenType
font carries them in three small tables (`cmap`: character → glyph, `hmtx`: glyph → advance, `hhea`/`head`: the
line's ascent and descent and the design units), read here with `struct` rather than a new dependency. Kerning
is left out, so a measured line is never narrower than drawn (kerning only tightens), and a wrapped line fits.
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path

import attrs

from ...errors import MediaError

_MISSING_EM = 1.0  # a character the font lacks (drawn by a fallback font: CJK, emoji) counted as one em wide
_MAX_MAPPED = 0x110000  # character map entries read at most: every Unicode code point once; more is a broken file


@attrs.frozen
class FontMetrics:
    """Advances in font units per character, and the line's extent."""

    family: str
    units_per_em: int
    ascent: int
    descent: int  # positive
    advances: dict[int, int] = attrs.field(eq=False, repr=False)

    @property
    def line_height(self) -> float:
        """Ascent + descent per em: a line's height for a font size of 1 (also libass's idea of the font size)."""
        return (self.ascent + self.descent) / self.units_per_em

    def width(self, text: str, size: float) -> float:
        """The width of `text` in pixels at `size` (an em of `size` pixels), without kerning."""
        em = self.units_per_em
        fallback = self.advances.get(ord(" "), em // 3)
        total = 0.0
        for ch in text:
            if ch == "\t":
                total += 4 * fallback
            else:
                total += self.advances.get(ord(ch), _MISSING_EM * em)
        return total * size / em


@cache
def font_metrics(path: Path) -> FontMetrics:
    """The metrics of the font file at `path` (the first face of a collection); MediaError if it cannot be read."""
    try:
        data = path.read_bytes()
        return _parse(data)
    except (OSError, struct.error, KeyError, IndexError, ValueError) as e:
        raise MediaError(f"the font file {path} cannot be read as a TrueType/OpenType font ({e}); "
                         "give another .ttf/.otf file, or leave `font` out for the bundled DejaVu Sans") from None


def _parse(data: bytes) -> FontMetrics:
    base = 0
    if data[:4] == b"ttcf":
        (base,) = struct.unpack_from(">I", data, 12)
    (count,) = struct.unpack_from(">H", data, base + 4)
    tables = {}
    for i in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", data, base + 12 + 16 * i)
        tables[tag.decode("latin-1")] = (offset, length)
    head, hhea, hmtx, cmap = (tables[t][0] for t in ("head", "hhea", "hmtx", "cmap"))
    (upm,) = struct.unpack_from(">H", data, head + 18)
    ascent, descent = struct.unpack_from(">hh", data, hhea + 4)
    (n_metrics,) = struct.unpack_from(">H", data, hhea + 34)
    glyph_advance = [struct.unpack_from(">H", data, hmtx + 4 * g)[0] for g in range(n_metrics)]
    advances = {}
    for code, glyph in _cmap(data, cmap).items():
        advances[code] = glyph_advance[min(glyph, n_metrics - 1)]
    return FontMetrics(_family(data, tables.get("name", (None, 0))[0]), upm, ascent, -descent, advances)


def _cmap(data: bytes, cmap: int) -> dict[int, int]:
    """Character → glyph from the best Unicode subtable: format 12 (all planes) if there is one, else format 4."""
    (n,) = struct.unpack_from(">H", data, cmap + 2)
    best: tuple[int, int] | None = None
    for i in range(n):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        (fmt,) = struct.unpack_from(">H", data, cmap + offset)
        unicode = platform == 0 or (platform == 3 and encoding in (1, 10))
        if unicode and fmt in (4, 12) and (best is None or fmt > best[0]):
            best = (fmt, cmap + offset)
    if best is None:
        raise ValueError("no Unicode character map")
    fmt, at = best
    out: dict[int, int] = {}
    if fmt == 12:
        (groups,) = struct.unpack_from(">I", data, at + 12)
        seen = 0
        for g in range(groups):
            start, end, glyph = struct.unpack_from(">III", data, at + 16 + 12 * g)
            seen += max(0, min(end, 0x10FFFF) + 1 - start)
            if seen > _MAX_MAPPED:
                raise ValueError("its character map covers more than every Unicode character")
            for code in range(start, min(end, 0x10FFFF) + 1):
                out[code] = glyph + code - start
        return out
    (seg2,) = struct.unpack_from(">H", data, at + 6)
    ends, starts = at + 14, at + 16 + seg2
    deltas, ranges = starts + seg2, starts + 2 * seg2
    seen = 0
    for s in range(seg2 // 2):
        (end,) = struct.unpack_from(">H", data, ends + 2 * s)
        (start,) = struct.unpack_from(">H", data, starts + 2 * s)
        seen += max(0, end + 1 - start)
        if seen > _MAX_MAPPED:
            raise ValueError("its character map covers more than every Unicode character")
        (delta,) = struct.unpack_from(">h", data, deltas + 2 * s)
        (range_offset,) = struct.unpack_from(">H", data, ranges + 2 * s)
        for code in range(start, end + 1):
            if code == 0xFFFF:
                continue
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                (glyph,) = struct.unpack_from(">H", data, ranges + 2 * s + range_offset + 2 * (code - start))
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                out[code] = glyph
    return out


def _family(data: bytes, name: int | None) -> str:
    """The font's family name (name ID 1), as fontconfig and libass know it; "" if it has none."""
    if name is None:
        return ""
    _, count, strings = struct.unpack_from(">HHH", data, name)
    found = ""
    for i in range(count):
        platform, _, _, name_id, length, offset = struct.unpack_from(">6H", data, name + 6 + 12 * i)
        if name_id != 1:
            continue
        raw = data[name + strings + offset: name + strings + offset + length]
        if platform == 3 or platform == 0:
            return raw.decode("utf-16-be", errors="replace")
        if platform == 1 and not found:
            found = raw.decode("latin-1")
    return found


def wrap_line(line: str, fits) -> list[str]:
    """One line broken at spaces into lines that `fits(text)` accepts; a word too long alone is broken between
    characters (so text without spaces, CJK, still wraps). Spaces at a break are dropped, others kept."""
    if fits(line):
        return [line]
    out: list[str] = []
    current = ""
    for word in line.split(" "):
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            out.append(current)
        current = ""
        for ch in word:  # the word alone: as much as fits per line
            if current and not fits(current + ch):
                out.append(current)
                current = ""
            current += ch
    if current or not out:
        out.append(current)
    return out
