"""Export settings → the file to write (`Output`): size, rate, container, codecs, quality.

The default is what the service renders: 4K (3840 on the long edge) H.264,
AAC. Resolved against the Draft's canvas, so it is the same for every engine;
how an engine turns it into encoder arguments is the engine's (media/encode.py
for FFmpeg).
"""

from __future__ import annotations

from typing import Any

import attrs

from ..core.model import ExportSettings
from ..core.values import Bitrate, Decibels, Resolution
from .ops import even

DEFAULT_LONG_EDGE = 3840
ANIMATED_PICTURES = ("gif", "webp")
PICTURE_LONG_EDGE = 640
"""GIF and WebP exports' default size on the long edge (never larger than the edit's canvas): they are previews and
loops for pages and chats, where a 4K animated picture would be tens of megabytes."""
PICTURE_FPS = {"gif": 20.0, "webp": 25.0}
"""Their default (highest) rate; a slower edit keeps its own. GIF stores delays in 1/100 s, so 20 fps is exact."""


@attrs.frozen
class Output:
    """Everything about the file to write, independent of the timeline."""

    width: int
    height: int
    fps: float
    container: str = "mp4"  # mp4 | mov | webm | mkv | gif | webp
    codec: str = "h264"  # h264 | hevc | vp9 | gif | webp (the last two only in their own container)
    quality: str = "medium"
    crf: int | None = None
    bitrate: int | None = None  # bits/s
    audio: str = "aac"  # aac | opus | none
    volume: float = 100.0  # master level, percent of the mix (`volume -6dB` = 50.119), after it and its `loudness`

    @property
    def has_audio(self) -> bool:
        return self.audio != "none"

    @property
    def animated_picture(self) -> bool:
        """GIF or WebP: no sound, a looping picture, encoded from RGB (media/encode.py)."""
        return self.container in ANIMATED_PICTURES

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        if self.volume == 100.0:  # not written at its default: the JSON (a cache-key part) stays as it was
            del data["volume"]
        return data


def output_for(settings: ExportSettings, canvas: dict[str, Any], hint: dict[str, Any] | None = None) -> Output:
    """Resolve an export block's settings against the draft's canvas (for the default size and fps).

    `hint` is the draft's `output` (what an `ask` said: "export in 1080p, high
    quality"); the export block's own settings win over it.
    """
    hint = hint or {}
    container = settings.format or "mp4"
    picture = container in ANIMATED_PICTURES
    codec = settings.codec or (container if picture else "vp9" if container == "webm" else "h264")
    size = settings.size
    if isinstance(size, Resolution):
        width, height = even(size.width), even(size.height)
    else:  # 4K class on the long edge, in the canvas's aspect ratio
        w, h = canvas["w"], canvas["h"]
        long_edge = hint.get("long_edge") or (min(PICTURE_LONG_EDGE, max(w, h)) if picture else DEFAULT_LONG_EDGE)
        scale = int(long_edge) / max(w, h)
        width, height = even(w * scale), even(h * scale)
    fps_value = settings.fps_value if settings.fps is not None else float(canvas["fps"])
    if picture and settings.fps is None:
        fps_value = min(fps_value, PICTURE_FPS[container])
    audio = settings.audio or ("opus" if container == "webm" else "aac")  # the checker refuses aac in WebM and opus in MP4/MOV
    if picture:
        audio = "none"  # no sound in a GIF or WebP (the checker refuses sound settings and sound checks on them)
    volume = settings.volume
    master = 100.0 if volume is None else round(100.0 * 10 ** (volume.value / 20), 3) if isinstance(volume, Decibels) \
        else float(volume.value)
    bitrate = settings.bitrate
    crf = settings.crf
    return Output(width=width, height=height, fps=fps_value, container=container, codec=codec,
                  quality=settings.quality or hint.get("quality") or "medium", crf=int(crf) if crf is not None else None,
                  bitrate=bitrate.bps if isinstance(bitrate, Bitrate) else None, audio=audio, volume=master)
