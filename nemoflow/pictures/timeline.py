"""A Draft drawn as an editor's timeline: one row per track, thumbnails at cuts, titles as bars, waveforms, a ruler.

The picture reads top to bottom as an NLE does: a header (name, length, frame), the ruler in seconds, the video
tracks (the main picture, then each layer) as filmstrips whose first thumbnail is the frame at the cut and whose
others follow every thumbnail's width (a few seconds at most zooms), the clips' own sound, the text tracks as
labelled bars (packed into lanes where they overlap), and the audio tracks as waveforms drawn at the level they are
mixed at, fades included. Transitions are marked where clips overlap; the programme's end is a line, and anything
that runs past it is dimmed. Thumbnails show the source as the engine reads it, before effects.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
from PIL import Image, ImageDraw, ImageFont

from ..draft import mix
from ..draft.media import MediaEntry
from ..draft.model import AUDIO, TEXT, VIDEO, Draft, Segment, Track
from .grab import WAVE_RATE, Shot, Wave, grab, outline, pcm, source_shot, waveform
from .png import PictureError, font, save_png
from .ruler import length, minor_steps, ruler_step, tick_label

MIN_WIDTH, MAX_WIDTH = 480, 8000
GUTTER = 84  # the track names' column
PAD = 14
HEADER_H, RULER_H = 34, 26
VIDEO_H, SOUND_H, TEXT_LANE_H, AUDIO_LANE_H = 72, 40, 22, 46
GAP = 6
BAND_H = 15  # a clip's name band
MIN_TILE = 16  # a clip narrower than this (px) gets no thumbnail: a thousand slivers would each start a decoder
FLOOR_DB = -48.0  # the quietest level a waveform shows

BG = (24, 26, 31)
ROW_BG = (33, 36, 43)
GRID = (52, 56, 66)
INK = (225, 228, 234)
DIM_INK = (150, 156, 168)
VIDEO_FILL, VIDEO_EDGE, CUT = (56, 72, 98), (128, 168, 232), (250, 250, 250)
LAYER_FILL, LAYER_EDGE = (70, 62, 100), (176, 150, 240)
SOUND_FILL, SOUND_EDGE, WAVE = (28, 52, 40), (72, 178, 116), (108, 214, 150)
TEXT_COLORS = {"title": (176, 98, 204), "text": (132, 104, 214), "caption": (92, 122, 214), "subtitle": (92, 122, 214)}
END_LINE = (240, 90, 80)


@attrs.frozen
class _Row:
    """One horizontal band of the picture: a track (or the clips' sound) with its segments packed into lanes."""

    kind: str  # video | sound | text | audio
    label: str
    lanes: tuple[tuple[tuple[int, Segment], ...], ...]  # (the segment's place in its track, the segment)
    lane_h: int
    layer: bool = False

    @property
    def height(self) -> int:
        return max(1, len(self.lanes)) * self.lane_h


@attrs.frozen
class _Scale:
    """Timeline milliseconds to picture x."""

    x0: int
    x1: int
    span_ms: int

    @property
    def px_per_ms(self) -> float:
        return (self.x1 - self.x0) / self.span_ms

    def x(self, ms: float) -> float:
        return self.x0 + ms * self.px_per_ms


@attrs.frozen
class Box:
    """Where one item landed on the picture (pixels, right and bottom exclusive): for tests and clickable maps."""

    kind: str  # clip | transition | text | sound | clip-sound
    row: str  # the track's label: V1, V2, V1 sound, T1, A1
    index: int  # the segment's place in its track
    label: str
    start_ms: int
    end_ms: int
    x0: int
    y0: int
    x1: int
    y1: int


@attrs.frozen
class Drawn:
    """A timeline picture and where each segment is on it."""

    image: Image.Image
    boxes: tuple[Box, ...]


def timeline_picture(draft: Draft, dest: Path, *, width: int = 1600, overwrite: bool = False) -> Path:
    """Write `draft` as a PNG timeline picture `width` pixels wide at `dest` (atomically) and return `dest`.

    `overwrite`: replace a file at `dest` that nemoflow did not write (otherwise that is a PictureError).
    """
    return save_png(draw_timeline(draft, width=width).image, Path(dest), what="timeline", overwrite=overwrite)


def draw_timeline(draft: Draft, *, width: int = 1600) -> Drawn:
    """The timeline picture of `draft`, `width` pixels wide (its height follows from the tracks), and its boxes."""
    check_width(width)
    span = max([draft.d, *(tr.end for tr in draft.t)])
    if span <= 0:
        raise PictureError(f"{_name(draft)} is empty (no clip, title or sound has any length): there is no timeline to draw")
    rows = _rows(draft)
    height = HEADER_H + RULER_H + sum(r.height + GAP for r in rows) + PAD
    scale = _Scale(GUTTER, width - PAD, span)
    image = Image.new("RGB", (width, height), BG)
    pen = ImageDraw.Draw(image, "RGBA")
    boxes: list[Box] = []
    _header(pen, draft, width)
    tops, y = [], HEADER_H + RULER_H
    for row in rows:
        tops.append(y)
        y += row.height + GAP
    _ruler(pen, scale, HEADER_H, avoid=_end_label(pen, draft, scale))
    for row, top in zip(rows, tops, strict=True):
        pen.rectangle((scale.x0, top, scale.x1, top + row.height - 1), fill=ROW_BG)
        _text(pen, (8, top + row.height // 2), row.label, font(12, bold=True), INK, anchor="lm", width=GUTTER - 12)
    _grid(pen, scale, rows, tops)
    what = f"drawing the timeline of {_name(draft)}"
    placed = list(zip(rows, tops, strict=True))
    _draw_video(image, pen, draft, scale, [(r, t) for r, t in placed if r.kind == "video"], what, boxes)
    _draw_sound(pen, draft, scale, [(r, t) for r, t in placed if r.kind in ("sound", "audio")], what, boxes)
    for row, top in placed:
        if row.kind == "text":
            _draw_text_row(pen, scale, row, top, boxes)
    _end(pen, draft, scale, HEADER_H, height - PAD)
    return Drawn(image, tuple(boxes))


def check_width(width: int) -> None:
    """PictureError unless a timeline picture can be `width` pixels wide (the CLI asks before building the Draft)."""
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise PictureError(f"a timeline picture is {MIN_WIDTH} to {MAX_WIDTH} pixels wide; got {width}")


def _name(draft: Draft) -> str:
    return str(draft.m.get("name") or "the draft")


def _short(media_id: str) -> str:
    return media_id.split(".", 1)[1] if media_id.startswith("media.") else media_id


# -- layout -------------------------------------------------------------------------------------------------------
def _rows(draft: Draft) -> list[_Row]:
    videos = [tr for tr in draft.t if tr.tt == VIDEO]
    rows: list[_Row] = []
    for n, tr in enumerate(videos, 1):
        layer = n > 1 or bool(tr.m.get("layer"))
        rows.append(_Row("video", f"V{n}", (tuple(enumerate(tr.sg)),), VIDEO_H, layer=layer))
    main = videos[0] if videos else None
    if main is not None and any(_has_sound(draft, s) for s in main.sg):
        rows.append(_Row("sound", "V1 sound", (tuple((i, s) for i, s in enumerate(main.sg) if _has_sound(draft, s)),), SOUND_H))
    for n, tr in enumerate((tr for tr in draft.t if tr.tt == TEXT), 1):
        rows.append(_Row("text", f"T{n}", _lanes(tr), TEXT_LANE_H))
    for n, tr in enumerate((tr for tr in draft.t if tr.tt == AUDIO), 1):
        rows.append(_Row("audio", f"A{n}", _lanes(tr), AUDIO_LANE_H))
    return rows


def _has_sound(draft: Draft, seg: Segment) -> bool:
    src = seg.m.get("src")
    entry = draft.media.get(src) if isinstance(src, str) else None
    return bool(entry and entry.get("audio")) and entry.get("kind") != "image"


def _lanes(track: Track) -> tuple[tuple[tuple[int, Segment], ...], ...]:
    """Segments packed into as few lanes as let none overlap another in its lane (first fit, in start order)."""
    lanes: list[list[tuple[int, Segment]]] = []
    for i, seg in sorted(enumerate(track.sg), key=lambda item: (item[1].st, item[1].end, item[0])):
        for lane in lanes:
            if lane[-1][1].end <= seg.st:
                lane.append((i, seg))
                break
        else:
            lanes.append([(i, seg)])
    return tuple(tuple(lane) for lane in lanes) or ((),)


# -- frame of the picture -----------------------------------------------------------------------------------------
def _header(pen: ImageDraw.ImageDraw, draft: Draft, width: int) -> None:
    canvas = draft.canvas or {}
    bits = [length(draft.d)]
    if canvas:
        bits.append(f"{canvas['w']}x{canvas['h']}")
        bits.append(f"{float(canvas['fps']):g} fps")
    counts = [(len(draft.segments(VIDEO)), "clip"), (sum(len(t.sg) for t in draft.t if t.tt == TEXT), "text"),
              (sum(len(t.sg) for t in draft.t if t.tt == AUDIO), "sound")]
    bits += [f"{n} {word}{'s' if n != 1 else ''}" for n, word in counts if n]
    title_font = font(16, bold=True)
    pen.text((PAD, HEADER_H // 2), _name(draft), font=title_font, fill=INK, anchor="lm")
    x = PAD + pen.textlength(_name(draft), font=title_font) + 14
    _text(pen, (x, HEADER_H // 2), "  ·  ".join(bits), font(12), DIM_INK, anchor="lm", width=width - x - PAD)


def _ruler(pen: ImageDraw.ImageDraw, scale: _Scale, top: int, *, avoid: tuple[float, float]) -> None:
    """Ticks and times; a time that would touch the end's label (`avoid`, x from and to) is left out."""
    step = ruler_step(scale.px_per_ms * 1000)
    parts = minor_steps(step)
    base = top + RULER_H - 1
    pen.line((scale.x0, base, scale.x1, base), fill=GRID)
    small = font(11)
    k = 0
    while True:
        ms = k * step * 1000 / parts
        if ms > scale.span_ms + 0.5:
            break
        x = round(scale.x(ms))
        if k % parts == 0:
            pen.line((x, base - 9, x, base), fill=DIM_INK)
            label = tick_label(k // parts * step, step)
            right = x + pen.textlength(label, font=small) + 3
            if (right <= scale.x1 or k == 0) and (right + 4 < avoid[0] or x > avoid[1] + 4):
                pen.text((x + 3, base - 10), label, font=small, fill=DIM_INK, anchor="ls")
        else:
            pen.line((x, base - 4, x, base), fill=GRID)
        k += 1


def _grid(pen: ImageDraw.ImageDraw, scale: _Scale, rows: Sequence[_Row], tops: Sequence[int]) -> None:
    step = ruler_step(scale.px_per_ms * 1000) * 1000
    k = 1
    while k * step <= scale.span_ms:
        x = round(scale.x(k * step))
        for row, top in zip(rows, tops, strict=True):
            pen.line((x, top, x, top + row.height - 1), fill=GRID)
        k += 1


def _end(pen: ImageDraw.ImageDraw, draft: Draft, scale: _Scale, top: int, bottom: int) -> None:
    """The programme's end: what lies after it (a sound or title running on) is not in the output."""
    x = round(scale.x(draft.d))
    if draft.d < scale.span_ms:
        pen.rectangle((x, top + RULER_H, scale.x1, bottom), fill=(0, 0, 0, 110))
    pen.line((x, top + 4, x, bottom), fill=END_LINE, width=2)
    label, lx = f"end {length(draft.d)}", _end_label(pen, draft, scale)[0]
    pen.text((lx, top + 4), label, font=font(11, bold=True), fill=END_LINE, anchor="lt")


def _end_label(pen: ImageDraw.ImageDraw, draft: Draft, scale: _Scale) -> tuple[float, float]:
    """Where the end's label goes (x from, x to): right of the line, or left of it where it would not fit."""
    x = round(scale.x(draft.d))
    w = pen.textlength(f"end {length(draft.d)}", font=font(11, bold=True))
    lx = x - w - 4 if x + w + 4 > scale.x1 else x + 4
    return lx, lx + w


def _text(pen: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, face: ImageFont.FreeTypeFont, fill, *, anchor: str,
          width: float) -> None:
    """`text` cut to `width` pixels with an ellipsis (nothing at all when not even that fits)."""
    fitted = _fit(pen, text, face, width)
    if fitted:
        pen.text(xy, fitted, font=face, fill=fill, anchor=anchor)


def _fit(pen: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: float) -> str:
    text = " ".join(text.split())
    if pen.textlength(text, font=face) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pen.textlength(text[:mid].rstrip() + "…", font=face) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…" if lo else ""


# -- video ----------------------------------------------------------------------------------------------------------
def _thumb_size(draft: Draft) -> tuple[int, int]:
    canvas = draft.canvas or {"w": 16, "h": 9}
    w = round(VIDEO_H * canvas["w"] / canvas["h"])
    return max(24, min(w, 4 * VIDEO_H)), VIDEO_H


def _draw_video(image: Image.Image, pen: ImageDraw.ImageDraw, draft: Draft, scale: _Scale, rows: Sequence[tuple[_Row, int]],
                what: str, boxes: list[Box]) -> None:
    tw, th = _thumb_size(draft)
    tiles: dict[tuple[int, int], list[tuple[Shot | None, int, int]]] = {}  # (row, segment) → (shot, x, visible width)
    for r, (row, _) in enumerate(rows):
        for i, seg in row.lanes[0]:
            entry = _entry(draft, seg)
            a, b = scale.x(seg.st), scale.x(seg.end)
            found = tiles.setdefault((r, i), [])
            x = a
            while x < b - 2 and entry is not None and b - a >= MIN_TILE:
                t = seg.st + (x - a) / scale.px_per_ms  # the frame at each tile's left edge; the first is the cut
                found.append((source_shot(entry, _source_ms(seg, entry, t), tw, th), round(x), round(min(tw, b - x))))
                x += tw
    unique = list(dict.fromkeys(shot for found in tiles.values() for shot, _, _ in found if shot is not None))
    got = dict(zip(unique, grab(unique, what=what), strict=True))
    for r, (row, top) in enumerate(rows):
        fill, edge = (LAYER_FILL, LAYER_EDGE) if row.layer else (VIDEO_FILL, VIDEO_EDGE)
        for i, seg in row.lanes[0]:
            a, b = round(scale.x(seg.st)), max(round(scale.x(seg.end)), round(scale.x(seg.st)) + 1)
            pen.rectangle((a, top, b - 1, top + VIDEO_H - 1), fill=fill)
            missing = 0
            for shot, x, visible in tiles[(r, i)]:
                thumb = got.get(shot) if shot is not None else None
                if thumb is not None and visible > 0:
                    image.paste(thumb.crop((0, 0, visible, th)), (x, top))
                else:
                    missing += 1
            if (missing or not tiles[(r, i)]) and b - a > 40:
                _text(pen, ((a + b) / 2, top + (BAND_H + VIDEO_H) / 2), _why_no_picture(draft, seg), font(11), DIM_INK,
                      anchor="mm", width=b - a - 8)
            _fades(pen, seg, scale, top, VIDEO_H)
            pen.rectangle((a, top, b - 1, top + VIDEO_H - 1), outline=edge)
            pen.line((a, top, a, top + VIDEO_H - 1), fill=CUT, width=2)
            label = _clip_label(seg)
            if b - a > 12:
                pen.rectangle((a + 1, top + 1, b - 2, top + BAND_H), fill=(0, 0, 0, 150))
                _text(pen, (a + 5, top + 2), label, font(11), INK, anchor="lt", width=b - a - 9)
            boxes.append(Box("clip", row.label, i, label, seg.st, seg.end, a, top, b, top + VIDEO_H))
        for i, seg in row.lanes[0]:
            _transition(pen, seg, scale, top, VIDEO_H, row.label, i, boxes)


def _source_ms(seg: Segment, entry: MediaEntry, t: float) -> float:
    """The source time shown at timeline time `t`: from the in-point at the clip's speed (a freeze frame holds it),
    kept a frame inside the source's end."""
    held = 0.0 if seg.m.get("still") else float(seg.m.get("speed", 1.0))
    src = float(seg.m.get("in", 0)) + (t - seg.st) * held
    if entry.d:
        src = min(src, entry.d - 1000 / float(entry.fps or 30))
    return max(0.0, src)


def _why_no_picture(draft: Draft, seg: Segment) -> str:
    entry = _entry(draft, seg)
    if entry is None:
        return "no source"
    if entry.path is not None and not Path(entry.path).is_file():
        return f"missing: {Path(entry.path).name}"
    if entry.path is None and entry.gen is None:
        return "not on this machine"
    return "no picture"


def _entry(draft: Draft, seg: Segment) -> MediaEntry | None:
    src = seg.m.get("src")
    return draft.media_entry(src) if isinstance(src, str) and src in draft.media else None


def _clip_label(seg: Segment) -> str:
    src = seg.m.get("src")
    bits = [_short(str(src)) if src else "clip"]
    if seg.m.get("in"):
        bits.append(f"from {length(float(seg.m['in']))}")
    speed = float(seg.m.get("speed", 1.0))
    if abs(speed - 1) > 1e-9:
        bits.append(f"{speed:g}x")
    fx = [str(f.get("type")) for f in seg.m.get("fx", ()) if isinstance(f, dict) and f.get("type") != "fade"]
    if fx:
        bits.append(", ".join(dict.fromkeys(fx)))
    return " · ".join(bits)


def _fades(pen: ImageDraw.ImageDraw, seg: Segment, scale: _Scale, top: int, h: int) -> None:
    """A fade to or from black as a dark wedge over the clip's end."""
    for fx in seg.m.get("fx", ()):
        if not isinstance(fx, dict) or fx.get("type") != "fade":
            continue
        d = min(float(fx.get("d", 0)), seg.d) * scale.px_per_ms
        a, b = scale.x(seg.st), scale.x(seg.end)
        if d < 1:
            continue
        if fx.get("dir") == "in":
            pen.polygon([(a, top), (a + d, top), (a, top + h - 1)], fill=(0, 0, 0, 150))
        else:
            pen.polygon([(b, top), (b - d, top), (b, top + h - 1)], fill=(0, 0, 0, 150))


def _transition(pen: ImageDraw.ImageDraw, seg: Segment, scale: _Scale, top: int, h: int, row: str, index: int,
                boxes: list[Box]) -> None:
    """Where two clips overlap: a light box crossed by a diagonal, with the transition's name and length."""
    tr = seg.tr
    if not tr or tr.get("type") == "cut" or not tr.get("d"):
        return
    a, b = round(scale.x(seg.st)), round(scale.x(seg.st + float(tr["d"])))
    b = max(b, a + 3)
    y0 = top + BAND_H + 1
    pen.rectangle((a, y0, b, top + h - 1), fill=(255, 255, 255, 70), outline=(255, 255, 255, 200))
    pen.line((a, top + h - 1, b, y0), fill=(255, 255, 255, 200), width=1)
    label = f"{tr['type']} {length(float(tr['d']))}"
    small = font(10)
    w = pen.textlength(label, font=small)
    cx = (a + b) / 2
    pen.rounded_rectangle((cx - w / 2 - 4, top + h - 16, cx + w / 2 + 4, top + h - 3), radius=4, fill=(0, 0, 0, 190))
    pen.text((cx, top + h - 10), label, font=small, fill=INK, anchor="mm")
    boxes.append(Box("transition", row, index, label, seg.st, seg.st + int(tr["d"]), a, y0, b + 1, top + h))


# -- text ------------------------------------------------------------------------------------------------------------
def _draw_text_row(pen: ImageDraw.ImageDraw, scale: _Scale, row: _Row, top: int, boxes: list[Box]) -> None:
    for n, lane in enumerate(row.lanes):
        y = top + n * row.lane_h
        for i, seg in lane:
            style = seg.m.get("style") if isinstance(seg.m.get("style"), dict) else {}
            role = str(style.get("role", "text"))
            color = TEXT_COLORS.get(role, TEXT_COLORS["text"])
            a, b = round(scale.x(seg.st)), max(round(scale.x(seg.end)), round(scale.x(seg.st)) + 2)
            pen.rounded_rectangle((a, y + 2, b - 1, y + row.lane_h - 3), radius=4, fill=color,
                                  outline=tuple(min(255, c + 60) for c in color))
            label = str(seg.m.get("text", ""))
            if role not in ("text", ""):
                label = f"{role}: {label}"
            _text(pen, (a + 6, y + row.lane_h // 2), label, font(12), (255, 255, 255), anchor="lm", width=b - a - 10)
            boxes.append(Box("text", row.label, i, label, seg.st, seg.end, a, y + 2, b, y + row.lane_h - 2))


# -- sound -----------------------------------------------------------------------------------------------------------
def _draw_sound(pen: ImageDraw.ImageDraw, draft: Draft, scale: _Scale, rows: Sequence[tuple[_Row, int]], what: str,
                boxes: list[Box]) -> None:
    top_weight = mix.heaviest(draft)
    jobs: list[tuple[str, int, Segment, int, int, bool]] = []  # row, index, segment, y, lane height, a clip's own sound
    for row, top in rows:
        for n, lane in enumerate(row.lanes):
            jobs += [(row.label, i, seg, top + n * row.lane_h, row.lane_h, row.kind == "sound") for i, seg in lane]

    def wanted(job: tuple[str, int, Segment, int, int, bool]) -> _Listen | None:
        _, _, seg, _, _, own = job
        entry = _entry(draft, seg)
        columns = max(0, round(scale.x(seg.end)) - round(scale.x(seg.st)))
        if entry is None or columns < 2 or mix.gain(seg, top_weight) <= 0:
            return None
        rate = float(seg.m.get("speed", 1.0)) if own else float(seg.m.get("tempo", 1.0))
        return _Listen(str(seg.m["src"]), entry, float(seg.m.get("in", 0)), round(seg.d * rate), columns, seg.m.get("track"),
                       bool(seg.m.get("loop")) and not own)

    listens = [wanted(job) for job in jobs]
    with ThreadPoolExecutor(2) as pool:
        whole = _whole_sources(pool, listens, what)
        waves = list(pool.map(lambda listen: _heard(listen, whole, what), listens))
    for (row_label, i, seg, y, h, own), wave in zip(jobs, waves, strict=True):
        a, b = round(scale.x(seg.st)), max(round(scale.x(seg.end)), round(scale.x(seg.st)) + 1)
        pen.rectangle((a, y + 1, b - 1, y + h - 2), fill=SOUND_FILL)
        gain = mix.gain(seg, top_weight)
        if wave is not None:
            _wave(pen, wave, seg, a, y + (BAND_H if not own else 0) + 1, y + h - 2, gain, scale)
        pen.rectangle((a, y + 1, b - 1, y + h - 2), outline=SOUND_EDGE)
        label = _sound_label(seg, own)
        if b - a > 12 and label:
            if not own:
                pen.rectangle((a + 1, y + 2, b - 2, y + BAND_H), fill=(0, 0, 0, 120))
                _text(pen, (a + 5, y + 3), label, font(11), INK, anchor="lt", width=b - a - 9)
            else:
                _text(pen, (a + 5, y + 3), label, font(10), DIM_INK, anchor="lt", width=b - a - 9)
        boxes.append(Box("clip-sound" if own else "sound", row_label, i, label, seg.st, seg.end, a, y + 1, b, y + h - 1))


@attrs.frozen
class _Listen:
    """The stretch of a source's sound one segment plays, and how many columns its waveform has."""

    src: str
    entry: MediaEntry
    start_ms: float
    length_ms: int
    columns: int
    track: int | None
    loop: bool


def _whole_sources(pool: ThreadPoolExecutor, listens: Sequence[_Listen | None], what: str) -> dict[tuple[str, int | None], Any]:
    """The whole sound of each source that three or more segments play (a cut-up interview): read once, not per cut."""
    counts = Counter((x.src, x.track) for x in listens if x is not None and not x.loop and x.entry.d)
    shared = {key: next(x.entry for x in listens if x is not None and (x.src, x.track) == key) for key, n in counts.items() if n >= 3}
    keys = list(shared)
    read = pool.map(lambda key: pcm(shared[key], 0, int(shared[key].d or 0), track=key[1], what=what), keys)
    return dict(zip(keys, read, strict=True))


def _heard(listen: _Listen | None, whole: dict[tuple[str, int | None], Any], what: str) -> Wave | None:
    if listen is None:
        return None
    key = (listen.src, listen.track)
    if key in whole:
        samples = whole[key]
        if not samples:
            return None
        first = round(listen.start_ms / 1000 * WAVE_RATE)
        expected = round(listen.length_ms / 1000 * WAVE_RATE)
        return outline(samples[first:first + expected], listen.columns, expected)
    return waveform(listen.entry, listen.start_ms, listen.length_ms, listen.columns, track=listen.track, loop=listen.loop,
                    what=what)


def _sound_label(seg: Segment, own: bool) -> str:
    volume = float(seg.m.get("volume", 100.0))
    if own:
        return "muted" if volume <= 0 else (f"{volume:g}%" if abs(volume - 100) > 1e-9 else "")
    bits = [_short(str(seg.m.get("src", "sound")))]
    if seg.m.get("bed"):
        bits.append("music bed")
    if abs(volume - 100) > 1e-9:
        bits.append(f"{volume:g}%")
    if seg.m.get("duck") is not None:
        bits.append(f"ducks to {float(seg.m['duck']):g}%")
    if seg.m.get("loop"):
        bits.append("loop")
    if abs(mix.weight_of(seg) - mix.DEFAULT_WEIGHT) > 1e-9:
        bits.append(f"weight {mix.weight_of(seg):g}")
    return " · ".join(bits)


def _wave(pen: ImageDraw.ImageDraw, wave: Wave, seg: Segment, x0: int, top: int, bottom: int, gain: float, scale: _Scale) -> None:
    """The waveform at the level it is mixed at (volume, weight, fades), on a decibel scale as editors draw it: full
    height at 0 dBFS, nothing at FLOOR_DB, so quiet passages stay visible and a 6 dB change is always the same step."""
    mid, half = (top + bottom) / 2, (bottom - top) / 2
    fade_in = float(seg.m.get("fade_in", 0)) * scale.px_per_ms
    fade_out = float(seg.m.get("fade_out", 0)) * scale.px_per_ms
    n = len(wave.lows)
    for c, (lo, hi) in enumerate(zip(wave.lows, wave.highs, strict=True)):
        level = gain * _ramp(c, n, fade_in, fade_out)
        y0, y1 = mid - db_height(hi * level) * half, mid + db_height(-lo * level) * half
        if y1 - y0 < 1:
            y0, y1 = mid - 0.5, mid + 0.5
        pen.line((x0 + c, y0, x0 + c, y1), fill=WAVE)


def db_height(amplitude: float) -> float:
    """How much of its half lane a peak of `amplitude` (1 = full scale) fills: 0 dBFS all, FLOOR_DB and below none."""
    if amplitude <= 0:
        return 0.0
    return min(1.0, max(0.0, (20 * math.log10(amplitude) - FLOOR_DB) / -FLOOR_DB))


def _ramp(c: int, n: int, fade_in: float, fade_out: float) -> float:
    level = 1.0
    if fade_in >= 1:
        level = min(level, c / fade_in)
    if fade_out >= 1:
        level = min(level, (n - c) / fade_out)
    return max(0.0, level)

