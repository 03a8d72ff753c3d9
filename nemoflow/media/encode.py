"""An Output → FFmpeg encoder and muxer arguments.

`quality` picks the encoder's speed/quality trade-off; an explicit `crf` or
`bitrate` wins over it. H.264 is High profile, yuv420p; AAC 192k;
+faststart for MP4 and MOV, so a file plays while it downloads.
"""

from __future__ import annotations

from ..draft.output import Output

# quality → (x264/x265 preset, crf), VP9 (cpu-used, crf)
X264_QUALITY = {"high": ("medium", 18), "medium": ("veryfast", 20), "draft": ("ultrafast", 26),
                "preview": ("ultrafast", 26)}  # not a recipe value: `nemoflow preview`'s renders (engines/local/proxy.py)
X265_QUALITY = {"high": ("medium", 20), "medium": ("veryfast", 24), "draft": ("ultrafast", 30)}
VP9_QUALITY = {"high": (2, 28), "medium": (5, 33), "draft": (8, 40)}
# x264's ultrafast turns CABAC and the 8x8 transform off, which makes the stream Constrained Baseline whatever
# `-profile:v high` asks; turning both back on gives a real High profile stream. Measured on a 4 s 1080p clip:
# 1.7 s CPU against 1.4 s for bare ultrafast and 2.1-2.6 s for superfast, and an 11% smaller file.
X264_PARAMS = {"draft": ["-x264-params", "cabac=1:8x8dct=1"]}  # not for "preview": bare ultrafast, x264's fastest


# Limited ("tv") range on every output: players assume it, and FFmpeg then converts a full-range source (MJPEG's
# yuvj420p, a phone's full-range H.264) rather than copying its range tag. Set on the encoder, it reaches every
# path to it (filter graph or plain conversion). Primaries, transfer and matrix follow the source's frames.
RANGE_ARGS = ["-color_range", "tv"]


# WebP (libwebp_anim, lossy): quality -> (libwebp quality 0-100, compression effort 0-6). Effort 6 cost 50x the CPU of
# 4 on a 2 s 320x180 test pattern (4.1 s against 0.17 s) for a file a few percent smaller: 4 is the most used.
WEBP_QUALITY = {"high": (90, 4), "medium": (75, 4), "draft": (50, 1)}
# GIF: quality -> paletteuse dithering. Error diffusion (sierra2_4a) is the smoothest still picture but shimmers from
# frame to frame and compresses worst; an ordered (bayer) pattern stays put, so the LZW of unchanged areas holds.
GIF_DITHER = {"high": "sierra2_4a", "medium": "bayer:bayer_scale=3", "draft": "none"}


def picture_filters(out: Output, src: str, label: str) -> list[str]:
    """The end of a GIF's filter graph, `[src]` -> `[label]`: one palette for the whole animation (palettegen sees
    every frame, paletteuse maps them to it). The picture is converted to RGB once, before the split, because
    both filters work in RGB; the rest of the graph stays in YUV. Empty for any other output."""
    if out.container != "gif":
        return []
    a, b, pal = f"{label}a", f"{label}b", f"{label}p"
    return [f"[{src}]format=bgra,split[{a}][{b}]", f"[{a}]palettegen=stats_mode=full[{pal}]",
            f"[{b}][{pal}]paletteuse=dither={GIF_DITHER[out.quality]}[{label}]"]


def video_args(out: Output) -> list[str]:
    if out.codec == "gif":
        return ["-c:v", "gif"]
    if out.codec == "webp":  # libwebp takes the graph's yuv420p as it is: no RGB conversion
        quality, effort = WEBP_QUALITY[out.quality]
        return ["-c:v", "libwebp_anim", "-pix_fmt", "yuv420p", "-lossless", "0", "-quality", str(quality),
                "-compression_level", str(effort)]
    if out.codec == "vp9":
        cpu, crf = VP9_QUALITY[out.quality]
        args = ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-row-mt", "1", "-deadline", "good", "-cpu-used", str(cpu),
                *RANGE_ARGS]
        if out.bitrate:
            return [*args, "-b:v", str(out.bitrate)]
        return [*args, "-crf", str(out.crf if out.crf is not None else crf), "-b:v", "0"]
    if out.codec == "hevc":
        preset, crf = X265_QUALITY[out.quality]
        args = ["-c:v", "libx265", "-preset", preset, "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-x265-params", "log-level=error",
                *RANGE_ARGS]
    else:
        preset, crf = X264_QUALITY[out.quality]
        # `crf 0` is lossless, which x264 allows only in High 4:4:4 Predictive (still 4:2:0 here): `high` refused it
        profile = "high444" if out.crf == 0 and not out.bitrate else "high"
        args = ["-c:v", "libx264", "-preset", preset, "-profile:v", profile, "-pix_fmt", "yuv420p",
                *X264_PARAMS.get(out.quality, []), *RANGE_ARGS]
    if out.bitrate:
        return [*args, "-b:v", str(out.bitrate), "-maxrate", str(out.bitrate), "-bufsize", str(2 * out.bitrate)]
    return [*args, "-crf", str(out.crf if out.crf is not None else crf)]


def audio_args(out: Output, *, resample: bool = True) -> list[str]:
    """The audio encoder, at 48 kHz. `resample=False` when every sound reaching it is 48 kHz already (the filter
    graph knows its sources): no `-ar`, so nothing can ask FFmpeg for a resampler that has nothing to do."""
    if not out.has_audio:
        return ["-an"]
    rate = ["-ar", "48000"] if resample else []
    if out.audio == "opus":
        return ["-c:a", "libopus", "-b:a", "160k", *rate]
    return ["-c:a", "aac", "-b:a", "192k", *rate]


def container_args(out: Output) -> list[str]:
    if out.animated_picture:  # loop forever, as a page or a chat shows them
        return ["-loop", "0", "-f", out.container]
    muxer = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}[out.container]
    args = ["-f", muxer]
    if out.container in ("mp4", "mov"):
        args[:0] = ["-movflags", "+faststart"]
    return args
