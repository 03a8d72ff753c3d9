"""Saving pictures: PNGs written atomically and marked as nemoflow's, so a later run replaces only its own; the fonts.

A picture is saved to a hidden file beside its destination and renamed into place, so nothing half-written is ever
where a finished picture is expected. Every PNG carries a `Software: nemoflow` text chunk: an existing file without
it (a photo, someone's drawing, anything else) is not overwritten unless the caller says so.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from PIL import Image, ImageFont, PngImagePlugin, UnidentifiedImageError

from ..errors import NemoflowError
from ..media.ffmpeg import atomic_output
from ..resources import resource_path

SOFTWARE = "nemoflow"


class PictureError(NemoflowError):
    """A picture that cannot be made as asked: a bad size, an empty timeline, a destination that is not ours."""

    exit_code = 2


@cache
def font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped in nemoflow/fonts/) at `size` pixels: the same glyphs on every machine."""
    return ImageFont.truetype(str(resource_path("fonts/DejaVuSans-Bold.ttf" if bold else "fonts/DejaVuSans.ttf")), size)


def ours(path: Path) -> bool:
    """Whether `path` is a PNG nemoflow wrote (its Software text chunk says so)."""
    try:
        with Image.open(path) as img:
            return img.format == "PNG" and str(img.info.get("Software", "")).startswith(SOFTWARE)
    except (OSError, UnidentifiedImageError, ValueError):
        return False


def check_destination(dest: Path, *, overwrite: bool) -> None:
    """Raise PictureError if `dest` cannot take a new picture: a folder, or a file nemoflow did not write."""
    if dest.is_dir():
        raise PictureError(f"{dest} is a folder; give a file name ending in .png")
    if dest.suffix.lower() != ".png":
        raise PictureError(f"{dest}: pictures are saved as PNG; give a file name ending in .png")
    if not overwrite and os.path.lexists(dest) and not ours(dest):
        raise PictureError(f"{dest} exists and nemoflow did not write it; move it away, save elsewhere, or pass --overwrite")


def save_png(image: Image.Image, dest: Path, *, what: str, overwrite: bool = False) -> Path:
    """Write `image` to `dest` as a PNG marked as nemoflow's (`what` says what it shows), atomically; return `dest`."""
    check_destination(dest, overwrite=overwrite)
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"{SOFTWARE} ({what})")
    try:
        with atomic_output(dest) as tmp:
            image.save(tmp, format="PNG", pnginfo=info, optimize=False, compress_level=6)
    except OSError as exc:
        raise PictureError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return dest
