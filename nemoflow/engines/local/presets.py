"""Export settings → encoder arguments.

The default is what the service renders: 4K (3840 on the long edge) H.264
High, yuv420p, AAC 192k, +faststart. `quality` picks x264's speed/quality
trade-off; an explicit `crf` or `bitrate` wins over it.
"""

from __future__ import annotations

from typing import Any

import attrs

from ...core.model import ExportSettings
from ...core.values import Bitrate, Resolution
from ...draft.ops import even

DEFAULT_LONG_EDGE = 3840

# quality → (x264/x265 preset, crf), VP9 (cpu-used, crf)
X264_QUALITY = {"high": ("medium", 18), "medium": ("veryfast", 20), "draft": ("ultrafast", 26)}
X265_QUALITY = {"high": ("medium", 20), "medium": ("veryfast", 24), "draft": ("ultrafast", 30)}
VP9_QUALITY = {"high": (2, 28), "medium": (5, 33), "draft": (8, 40)}


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

    def video_args(self) -> list[str]:
        if self.codec == "vp9":
            cpu, crf = VP9_QUALITY[self.quality]
            args = ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-row-mt", "1", "-deadline", "good", "-cpu-used", str(cpu)]
            if self.bitrate:
                return [*args, "-b:v", str(self.bitrate)]
            return [*args, "-crf", str(self.crf if self.crf is not None else crf), "-b:v", "0"]
        if self.codec == "hevc":
            preset, crf = X265_QUALITY[self.quality]
            args = ["-c:v", "libx265", "-preset", preset, "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-x265-params", "log-level=error"]
        else:
            preset, crf = X264_QUALITY[self.quality]
            args = ["-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p"]
        if self.bitrate:
            return [*args, "-b:v", str(self.bitrate), "-maxrate", str(self.bitrate), "-bufsize", str(2 * self.bitrate)]
        return [*args, "-crf", str(self.crf if self.crf is not None else crf)]

    def audio_args(self) -> list[str]:
        if not self.has_audio:
            return ["-an"]
        if self.audio == "opus":
            return ["-c:a", "libopus", "-b:a", "160k", "-ar", "48000"]
        return ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"]

    def container_args(self) -> list[str]:
        muxer = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}[self.container]
        args = ["-f", muxer]
        if self.container in ("mp4", "mov"):
            args[:0] = ["-movflags", "+faststart"]
        return args


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
    audio = settings.audio or ("opus" if container == "webm" else "aac")
    if container == "webm" and audio == "aac":
        audio = "opus"  # WebM cannot carry AAC; the checker allows `audio aac` only for other containers
    bitrate = settings.bitrate
    crf = settings.crf
    return Output(width=width, height=height, fps=fps_value, container=container, codec=codec,
                  quality=settings.quality or hint.get("quality") or "medium", crf=int(crf) if crf is not None else None,
                  bitrate=bitrate.bps if isinstance(bitrate, Bitrate) else None, audio=audio)
