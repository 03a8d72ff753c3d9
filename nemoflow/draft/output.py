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
from ..core.values import Bitrate, Resolution
from .ops import even

DEFAULT_LONG_EDGE = 3840


@attrs.frozen
class Output:
    """Everything about the file to write, independent of the timeline."""

    width: int
    height: int
    fps: float
    container: str = "mp4"  # mp4 | mov | webm | mkv
    codec: str = "h264"  # h264 | hevc | vp9
    quality: str = "medium"
    crf: int | None = None
    bitrate: int | None = None  # bits/s
    audio: str = "aac"  # aac | opus | none

    @property
    def has_audio(self) -> bool:
        return self.audio != "none"

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def output_for(settings: ExportSettings, canvas: dict[str, Any], hint: dict[str, Any] | None = None) -> Output:
    """Resolve an export block's settings against the draft's canvas (for the default size and fps).

    `hint` is the draft's `output` (what an `ask` said: "export in 1080p, high
    quality"); the export block's own settings win over it.
    """
    hint = hint or {}
    container = settings.format or "mp4"
    codec = settings.codec or ("vp9" if container == "webm" else "h264")
    size = settings.size
    if isinstance(size, Resolution):
        width, height = even(size.width), even(size.height)
    else:  # 4K class on the long edge, in the canvas's aspect ratio
        w, h = canvas["w"], canvas["h"]
        scale = int(hint.get("long_edge") or DEFAULT_LONG_EDGE) / max(w, h)
        width, height = even(w * scale), even(h * scale)
    fps_value = settings.fps_value if settings.fps is not None else float(canvas["fps"])
    audio = settings.audio or ("opus" if container == "webm" else "aac")  # the checker refuses aac in WebM and opus in MP4/MOV
    bitrate = settings.bitrate
    crf = settings.crf
    return Output(width=width, height=height, fps=fps_value, container=container, codec=codec,
                  quality=settings.quality or hint.get("quality") or "medium", crf=int(crf) if crf is not None else None,
                  bitrate=bitrate.bps if isinstance(bitrate, Bitrate) else None, audio=audio)
