"""The standard edit done with MoviePy 2.x: the comparison case of benchmarks/render.py.

render.py runs this as its own process, so that MoviePy's memory (RGB numpy
frames in Python) is measured on its own and does not pollute the benchmark's.
It needs the `bench` extra: pip install -e ".[bench]" (or "moviepy>=2,<3").

    python benchmarks/moviepy_edit.py SRC MUSIC OUT --font TTF --font-size PX

The edit: trim 2-12 s, grade per RGB frame with numpy (contrast 1.12 around
mid-grey on the BT.601 luma, saturation 1.3 on the chroma: what FFmpeg's
`eq=contrast=1.12:saturation=1.3` does in YUV, less eq's small gamma_r/gamma_b
chroma shift), a white centred title 0-3 s in the same font and pixel size,
the music at 35% summed with the clip's own audio (no normalisation, like
`amix normalize=0`), H.264 veryfast crf 20 + AAC 192k, +faststart.
"""

from __future__ import annotations

import argparse

import numpy as np

# As eq does in YUV: contrast c on the luma y (around mid-grey), saturation s on the chroma (rgb - y),
# folded into one multiply-add per channel: out = c * (y - 128) + 128 + s * (rgb - y) = s * rgb + (c - s) * y + 128 * (1 - c)
CONTRAST, SATURATION = 1.12, 1.3
TITLE = "Urban Dreams"
GAIN = SATURATION
LUMA_GAIN = CONTRAST - SATURATION
OFFSET = 128.0 * (1.0 - CONTRAST)


def grade(frame: np.ndarray) -> np.ndarray:
    """One RGB frame (H, W, 3) uint8 in, graded uint8 out."""
    rgb = frame.astype(np.float32)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    luma *= LUMA_GAIN
    luma += OFFSET
    rgb *= GAIN
    rgb += luma[..., None]
    np.clip(rgb, 0, 255, out=rgb)
    return rgb.astype(np.uint8)


def centred_title(font: str, size: int, frame_height: int):
    """The title, its ink centred on the frame as drawtext's `y=(h-text_h)/2` does.

    MoviePy 2.x's TextClip (method "label") can cut off the bottom of the
    letters (with recent Pillow the clip is as tall as the ink but the text is
    drawn from the font's ascent), so pad it generously and place it by its
    ink, measured on its mask, rather than by its box.
    """
    from moviepy import TextClip

    title = TextClip(font=font, text=TITLE, font_size=size, color="white", margin=(0, size // 2))
    rows = np.nonzero(title.mask.get_frame(0).max(axis=1) > 0.5)[0]
    top = round(frame_height / 2 - (rows[0] + rows[-1] + 1) / 2)
    return title.with_position(("center", top)).with_start(0).with_duration(3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src")
    parser.add_argument("music")
    parser.add_argument("out")
    parser.add_argument("--font", required=True, help="TrueType file for the title")
    parser.add_argument("--font-size", type=int, required=True, help="title size in pixels")
    args = parser.parse_args()

    from moviepy import AudioFileClip, CompositeAudioClip, CompositeVideoClip, VideoFileClip

    source = VideoFileClip(args.src)
    clip = source.subclipped(2, 12)
    graded = clip.image_transform(grade)
    title = centred_title(args.font, args.font_size, clip.h)
    music = AudioFileClip(args.music).subclipped(0, clip.duration).with_volume_scaled(0.35)
    final = CompositeVideoClip([graded, title], size=clip.size).with_duration(clip.duration)
    final = final.with_audio(CompositeAudioClip([clip.audio, music]))
    final.write_videofile(args.out, fps=30, codec="libx264", preset="veryfast",
                          ffmpeg_params=["-crf", "20", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
                          audio_codec="aac", audio_bitrate="192k", audio_fps=48000, logger=None)
    source.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
