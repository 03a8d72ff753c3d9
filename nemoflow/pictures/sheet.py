"""Contact sheets and poster frames of an output video: what a render looks like, at a glance, without playing it."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageStat

from ..errors import MediaError
from ..media.probe import MediaInfo, VideoInfo, probe
from .grab import file_shot, grab
from .png import PictureError, font, save_png
from .ruler import clock, length

MAX_FRAMES, MAX_COLUMNS = 200, 20
MIN_WIDTH, MAX_WIDTH = 320, 8000
DARK, FLAT = 24, 8  # a poster candidate's mean luma at or below DARK is dark; a luma spread at or below FLAT is flat
POSTER_LONG_EDGE = 1280  # a poster is for a page or a README: never larger than this on its long edge
PAD, GAP, HEADER_H, CAPTION_H = 14, 10, 40, 20
BG, INK, DIM_INK, NONE_FILL = (24, 26, 31), (225, 228, 234), (150, 156, 168), (44, 48, 56)


def contact_sheet(video: Path, dest: Path, *, frames: int = 12, columns: int = 4, width: int = 1600, overwrite: bool = False) -> Path:
    """Write a PNG grid of `frames` evenly spaced frames of `video`, each labelled with its time; return `dest`.

    Frame i is the one shown at (i + ½) × length / frames: the middle of each equal part, so neither the first frame
    (often black) nor the last is taken. `overwrite`: replace a file at `dest` that nemoflow did not write.
    """
    check_sheet(frames=frames, columns=columns, width=width)
    video = Path(video)
    info, v, seconds = _video(video)
    columns = min(columns, frames)
    cell_w = (width - 2 * PAD - (columns - 1) * GAP) // columns
    if cell_w < 16:
        raise PictureError(f"{columns} columns do not fit in {width} pixels; use fewer columns or a wider sheet")
    cell_h = max(2, round(cell_w * v.height / v.width))
    rows = math.ceil(frames / columns)
    times = [(i + 0.5) * seconds / frames for i in range(frames)]
    shots = grab([file_shot(video, t, cell_w, cell_h) for t in times], what=f"taking frames of {video.name} for a contact sheet")
    height = HEADER_H + rows * (cell_h + CAPTION_H + GAP) + PAD
    sheet = Image.new("RGB", (width, height), BG)
    pen = ImageDraw.Draw(sheet)
    pen.text((PAD, HEADER_H // 2), video.name, font=font(16, bold=True), fill=INK, anchor="lm")
    x = PAD + pen.textlength(video.name, font=font(16, bold=True)) + 14
    pen.text((x, HEADER_H // 2), _facts(info, v, seconds), font=font(12), fill=DIM_INK, anchor="lm")
    for i, (t, shot) in enumerate(zip(times, shots, strict=True)):
        r, c = divmod(i, columns)
        cx, cy = PAD + c * (cell_w + GAP), HEADER_H + r * (cell_h + CAPTION_H + GAP)
        if shot is not None:
            sheet.paste(shot, (cx, cy))
        else:
            pen.rectangle((cx, cy, cx + cell_w - 1, cy + cell_h - 1), fill=NONE_FILL)
            pen.text((cx + cell_w / 2, cy + cell_h / 2), "no frame", font=font(11), fill=DIM_INK, anchor="mm")
        pen.text((cx, cy + cell_h + 3), clock(t), font=font(12), fill=INK, anchor="lt")
        pen.text((cx + cell_w, cy + cell_h + 3), f"#{i + 1}", font=font(11), fill=DIM_INK, anchor="rt")
    return save_png(sheet, Path(dest), what="contact sheet", overwrite=overwrite)


def check_sheet(*, frames: int, columns: int, width: int) -> None:
    """PictureError unless a contact sheet can be made with these numbers (the CLI asks before reading anything)."""
    if not 1 <= frames <= MAX_FRAMES:
        raise PictureError(f"a contact sheet holds 1 to {MAX_FRAMES} frames; got {frames}")
    if not 1 <= columns <= MAX_COLUMNS:
        raise PictureError(f"a contact sheet has 1 to {MAX_COLUMNS} columns; got {columns}")
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise PictureError(f"a contact sheet is {MIN_WIDTH} to {MAX_WIDTH} pixels wide; got {width}")


def poster_frame(video: Path, dest: Path, *, at_s: float | None = None, overwrite: bool = False) -> Path:
    """Write one frame of `video` as a PNG (at `at_s` seconds, or a telling frame near a third in); return `dest`.

    Without `at_s` the first of the frames at ⅓, ½, ¼ and ⅔ of the length that is neither dark nor flat is taken (a
    fade or a black slate makes a poor poster), else the first that is not dark, else the most detailed. The picture
    keeps the video's aspect, at most 1280 pixels on its long edge.
    """
    video = Path(video)
    _, v, seconds = _video(video)
    w, h = v.width, v.height
    scale = min(1.0, POSTER_LONG_EDGE / max(w, h))
    box = (max(2, round(w * scale)), max(2, round(h * scale)))
    if at_s is not None:
        if not 0 <= at_s < seconds:
            raise PictureError(f"{video} is {length(seconds * 1000)} long: there is no frame at {at_s:g}s")
        candidates = [at_s]
    else:
        candidates = [seconds * f for f in (1 / 3, 1 / 2, 1 / 4, 2 / 3)]
    frames = grab([file_shot(video, t, *box) for t in candidates], what=f"taking a poster frame of {video.name}")
    got = [f for f in frames if f is not None]
    if not got:
        raise PictureError(f"FFmpeg gave no frame of {video} at {', '.join(f'{t:.2f}s' for t in candidates)}; "
                           "the file may be damaged: check it with `nemoflow probe`")
    stats = [ImageStat.Stat(f.convert("L")) for f in got]
    lit = [(f, st) for f, st in zip(got, stats, strict=True) if st.mean[0] > DARK]
    chosen = next((f for f, st in lit if st.stddev[0] > FLAT), lit[0][0] if lit else
                  max(zip(got, stats, strict=True), key=lambda item: item[1].stddev[0])[0])
    return save_png(chosen, Path(dest), what="poster frame", overwrite=overwrite)


def _video(video: Path) -> tuple[MediaInfo, VideoInfo, float]:
    """The probed file and its picture's length; PictureError if it is not a video with a length."""
    if not video.exists():
        raise PictureError(f"{video} does not exist; render it first (nemoflow run), or check the path")
    try:
        info = probe(video)
    except MediaError as err:
        raise PictureError(str(err)) from None
    if info.video is None or info.kind == "image":
        raise PictureError(f"{video} holds no video ({info.kind}); contact sheets and posters are made of a video's frames")
    seconds = info.video.duration or info.duration
    if not seconds or seconds <= 0:
        raise PictureError(f"{video} has no length FFmpeg can read; it may be incomplete")
    return info, info.video, float(seconds)


def _facts(info: MediaInfo, v: VideoInfo, seconds: float) -> str:
    bits = [length(seconds * 1000), f"{v.width}x{v.height}", f"{v.fps:g} fps", v.codec]
    if info.audio is not None:
        bits.append(f"{info.audio.codec} {info.audio.channels}ch")
    bits.append(f"{info.size_bytes / 1e6:.1f} MB")
    return "  ·  ".join(bits)
