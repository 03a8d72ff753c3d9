"""An Output → FFmpeg encoder and muxer arguments.

`quality` picks the encoder's speed/quality trade-off; an explicit `crf` or
`bitrate` wins over it. H.264 is High profile, yuv420p; AAC 192k;
+faststart for MP4 and MOV, so a file plays while it downloads.
"""

from __future__ import annotations

from ..draft.output import Output

# quality → (x264/x265 preset, crf), VP9 (cpu-used, crf)
X264_QUALITY = {"high": ("medium", 18), "medium": ("veryfast", 20), "draft": ("ultrafast", 26)}
X265_QUALITY = {"high": ("medium", 20), "medium": ("veryfast", 24), "draft": ("ultrafast", 30)}
VP9_QUALITY = {"high": (2, 28), "medium": (5, 33), "draft": (8, 40)}


def video_args(out: Output) -> list[str]:
    if out.codec == "vp9":
        cpu, crf = VP9_QUALITY[out.quality]
        args = ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-row-mt", "1", "-deadline", "good", "-cpu-used", str(cpu)]
        if out.bitrate:
            return [*args, "-b:v", str(out.bitrate)]
        return [*args, "-crf", str(out.crf if out.crf is not None else crf), "-b:v", "0"]
    if out.codec == "hevc":
        preset, crf = X265_QUALITY[out.quality]
        args = ["-c:v", "libx265", "-preset", preset, "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-x265-params", "log-level=error"]
    else:
        preset, crf = X264_QUALITY[out.quality]
        args = ["-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p"]
    if out.bitrate:
        return [*args, "-b:v", str(out.bitrate), "-maxrate", str(out.bitrate), "-bufsize", str(2 * out.bitrate)]
    return [*args, "-crf", str(out.crf if out.crf is not None else crf)]


def audio_args(out: Output) -> list[str]:
    if not out.has_audio:
        return ["-an"]
    if out.audio == "opus":
        return ["-c:a", "libopus", "-b:a", "160k", "-ar", "48000"]
    return ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"]


def container_args(out: Output) -> list[str]:
    muxer = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}[out.container]
    args = ["-f", muxer]
    if out.container in ("mp4", "mov"):
        args[:0] = ["-movflags", "+faststart"]
    return args
