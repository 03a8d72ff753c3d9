"""Frame timing (issue 16 items 3 and 5): off-grid in-points, exact frame counts, A/V offset, VFR rate choice.

Sources carry their frame number as a flat luma level (Y = 2 x frame) and an audio click on known frames, so
the output's first frame names the source frame it came from, and each click's distance from the frame that
shows its source frame is the A/V offset. The rule under test is docs/engine.md "Frame timing".
"""

from __future__ import annotations

import itertools
import math
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import ffmpeg
from renderkit import click_times, coded_frames, run_recipe

from nemoflow.media.probe import probe

CLICK_FRAMES = (15, 45, 75, 105)  # source frames whose instant carries a click
SR = 48000


def _counter_clip(path: Path, rate: str, seconds: float = 4.0, *, quality: tuple[str, ...] = ("-qp", "0")) -> Path:
    """320x180 flat frames, frame n at luma 2n (so up to 127 frames), with a 2 ms click at each CLICK_FRAMES instant."""
    r = Fraction(rate)
    pcm = np.zeros(int(seconds * SR), dtype=np.int16)
    for k in CLICK_FRAMES:
        at = round(k / r * SR)
        pcm[at:at + 96] = 30000
    wav = path.with_suffix(".wav")
    with wave.open(str(wav), "wb") as w:  # stereo, as cameras record (smart cut copies only stereo sound)
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(np.repeat(pcm, 2).tobytes())
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=320x180:r={rate}:d={seconds},geq=lum='2*N':cb=128:cr=128",
           "-i", str(wav), "-c:v", "libx264", "-preset", "ultrafast", *quality, "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "128k", "-shortest", str(path))
    wav.unlink()
    return path


def _offsets(path: Path, out_rate: Fraction) -> list[float]:
    """For each click heard, audio time minus the time of the first frame showing the clicked source frame."""
    times, numbers = coded_frames(path)
    found = []
    for t in click_times(path):
        # which clicked source frame is this? the one shown nearest in time
        j = min(range(len(times)), key=lambda i: abs(times[i] - t))
        k = min(CLICK_FRAMES, key=lambda c: abs(c - numbers[j]))
        shown = [times[i] for i, n in enumerate(numbers) if n == k]
        if shown:  # the nearest showing of it (a source used twice shows it twice)
            found.append(t - min(shown, key=lambda s: abs(s - t)))
    return found


def _recipe(tmp: Path, clauses: str, fps: str | None = None) -> Path:
    out = tmp / "out.mp4"
    rate = f"\n  fps {fps}fps" if fps else ""
    text = f'nemo 1\nmedia x = "x.mp4"\nmedia y = "y.mp4"\nedit e {{\n{clauses}\n}}\n' \
           f'export out = e {{\n  size 320x180{rate}\n  save "out.mp4"\n}}\n'
    result = run_recipe(tmp, text)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    made = {}
    for rate in ("30", "30000/1001", "25", "24"):
        d = tmp_path_factory.mktemp("r" + rate.replace("/", "_"))
        _counter_clip(d / "x.mp4", rate)
        ffmpeg("-i", str(d / "x.mp4"), "-c", "copy", str(d / "y.mp4"))
        made[rate] = d
    return made


def _nearest(in_s: float, rate: Fraction) -> int:
    return math.ceil(Fraction(in_s).limit_denominator(10000) * rate - Fraction(1, 2))


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "start", "end"), [("30", 0.25, 2.25), ("30", 0.28, 1.3), ("30000/1001", 0.25, 2.25),
                                                    ("25", 0.33, 1.5), ("24", 0.27, 2.0)])
def test_off_grid_in_point(clips, rate, start, end):
    """round(d x fps) frames, first frame = the source frame nearest the in-point at pts 0, clicks within half a frame."""
    tmp = clips[rate]
    r = Fraction(rate)
    out = _recipe(tmp, f"  video x from {start}s to {end}s")
    times, numbers = coded_frames(out)
    assert len(times) == math.floor((Fraction(end).limit_denominator(1000) - Fraction(start).limit_denominator(1000)) * r
                                    + Fraction(1, 2))
    assert times[0] == 0
    assert numbers[0] == _nearest(start, r)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # no frame lost or repeated
    offsets = _offsets(out, r)
    assert offsets, "no click heard"
    assert all(abs(o) <= 0.5 / float(r) + 1e-3 for o in offsets), offsets


@pytest.mark.slow
@pytest.mark.parametrize(("clause", "first", "step"), [("video x from 1s to 3s speed 2x", 30, Fraction(12, 5)),
                                                        ("video x from 0.31s to 2.31s", 9, Fraction(6, 5)),
                                                        ("video x from 0.25s to 1.25s speed 0.25x", 7, Fraction(3, 10))])
def test_resampled_frames_are_the_nearest(clips, clause, first, step):
    """Out at 25 fps from 30 fps (and sped up or slowed down): output frame k shows the source frame nearest its
    instant, first + k x step (a tie goes to the later frame); FFmpeg's `fps` rounding alone showed 31, 33, 35 … at 2x."""
    out = _recipe(clips["30"], "  " + clause, fps="25")
    _, numbers = coded_frames(out)
    expected = [first + math.floor(k * step + Fraction(1, 2)) for k in range(len(numbers))]
    assert numbers[:40] == expected[:40]


@pytest.mark.slow
def test_concat_of_off_grid_clips_keeps_sync(clips):
    """Two off-grid clips cut together: total frames on the output grid, each clip's first frame by the rule,
    and the second clip's clicks still within half a frame (no drift carried over the cut)."""
    tmp = clips["30"]
    out = _recipe(tmp, "  video x from 0.26s to 1.31s\n  video y from 1.91s to 3.3s")
    times, numbers = coded_frames(out)
    assert len(times) == round((1.05 + 1.39) * 30)  # 73.2 -> 73
    second = times.index(next(t for t, n in zip(times, numbers, strict=True) if n == _nearest(1.91, Fraction(30))))
    assert numbers[0] == _nearest(0.26, Fraction(30))
    assert second == math.floor(1.05 * 30 + 0.5)  # the cut lands on the output grid: frame 32 (1.05 s x 30 = 31.5)
    offsets = _offsets(out, Fraction(30))
    assert len(offsets) == 2  # one click in each clip
    assert all(abs(o) <= 0.5 / 30 + 1e-3 for o in offsets), offsets


@pytest.mark.slow
def test_many_cuts_do_not_drift(clips):
    """Ten 1.01 s clips (30.3 frames each): 303 frames in all, and every clip's click exactly on its frame, because
    each clip's sound is cut at the same frame boundaries as its picture (before: 301 frames, clicks -13..+15 ms)."""
    tmp = clips["30"]
    out = _recipe(tmp, "\n".join("  video x from 0.26s to 1.27s" for _ in range(10)))
    times, _ = coded_frames(out)
    assert len(times) == 303
    offsets = _offsets(out, Fraction(30))
    assert len(offsets) == 10
    assert all(abs(o) <= 1e-3 for o in offsets), offsets


@pytest.mark.slow
def test_crossfade_of_off_grid_clips_keeps_sync(clips):
    """With a transition the clips overlap on whole frames: each clip's frames follow the rule, and the click
    after the crossfade stays in sync."""
    tmp = clips["30"]
    out = _recipe(tmp, "  video x from 0.25s to 1.45s\n  transition crossfade 0.3s\n  video y from 1.95s to 3.3s")
    times, numbers = coded_frames(out)
    assert len(times) == math.floor((1.2 + 1.35 - 0.3) * 30 + 0.5)
    assert numbers[0] == _nearest(0.25, Fraction(30))  # 7.5 -> frame 7 (a tie goes to the earlier frame)
    start, end = math.floor(0.9 * 30 + 0.5), math.floor(1.2 * 30 + 0.5)  # the overlap, in output frames
    assert numbers[end] == _nearest(1.95, Fraction(30)) + (end - start)  # y's own frames once the crossfade is over
    offsets = _offsets(out, Fraction(30))
    assert len(offsets) == 2  # one click before the crossfade, one after
    assert all(abs(o) <= 0.5 / 30 + 1e-3 for o in offsets), offsets


@pytest.mark.slow
def test_smart_cut_obeys_the_same_rule(tmp_path):
    """A plain trim is smart-cut (copied and re-encoded pieces): the same frame count and first frame as the graph.
    0.247 s to 2.257 s at 30 fps: frames 7.41 to 67.71, so the source frame nearest the in-point is 7 and the clip
    is round(2.01 x 30) = 60 frames (snapping both ends to the source grid would give 61)."""
    _counter_clip(tmp_path / "x.mp4", "30", quality=("-crf", "5", "-g", "30"))
    text = 'nemo 1\nmedia x = "x.mp4"\nedit e {\n  video x from 0.247s to 2.257s\n}\n' \
           'export out = e {\n  size 320x180\n  save "out.mp4"\n}\n'
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "smart cut" in result.output
    times, numbers = coded_frames(tmp_path / "out.mp4")
    assert len(times) == 60
    assert times[0] == 0 and numbers[0] == 7
    offsets = _offsets(tmp_path / "out.mp4", Fraction(30))
    assert offsets and all(abs(o) <= 0.5 / 30 + 1e-3 for o in offsets), offsets


@pytest.mark.slow
def test_whole_clip_ends_with_its_last_frame(tmp_path):
    """Matroska keeps AAC's priming, so the sound (2.021 s) outlasts the picture (2.000 s): a whole clip is the
    picture's 60 frames (it was the container's 2.021 s: 61 frames, and smart cut refused the 61st)."""
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-ac", "2", "-shortest", str(tmp_path / "two.mkv"))
    text = 'nemo 1\nmedia m = "two.mkv"\nedit e {\n  video m\n}\nexport out = e {\n  size 320x180\n  save "out.mp4"\n}\n'
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    times, _ = coded_frames(tmp_path / "out.mp4")
    assert len(times) == 60


def test_ntsc_rates_are_exact():
    """29.97 is 30000/1001 (FFmpeg's rate), not 2997/100: frame counts depend on it."""
    from nemoflow.media.timing import exact_rate

    assert exact_rate(29.97) == Fraction(30000, 1001)
    assert exact_rate(23.976) == Fraction(24000, 1001)
    assert exact_rate(59.94) == Fraction(60000, 1001)
    assert exact_rate(30) == 30
    assert exact_rate(25) == 25


def _vfr_clip(path: Path) -> Path:
    """3 s at 30 fps, then 2 s at 15 fps (every other frame), one MP4 with variable timestamps; frame n at luma 2n."""
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=320x180:r=30:d=5,geq=lum='2*N':cb=128:cr=128,select='lt(n\\,90)+not(mod(n\\,2))'",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=5", "-c:v", "libx264", "-preset", "ultrafast",
           "-qp", "0", "-pix_fmt", "yuv420p", "-fps_mode", "vfr", "-c:a", "aac", "-shortest", str(path))
    return path


def test_vfr_probe_finds_the_fastest_rate(tmp_path):
    """The rate changes after the first 60 packets (3 s in): sampled later windows see it; fps is the fastest."""
    path = _vfr_clip(tmp_path / "vfr.mp4")
    with av.open(str(path)) as c:  # really VFR: two frame spacings in the file
        stream = c.streams.video[0]
        stamps = sorted(p.pts for p in c.demux(stream) if p.pts is not None and p.size)
    assert {b - a for a, b in itertools.pairwise(stamps)} == {512, 1024}  # 1/30 and 1/15 s in 1/15360
    v = probe(path).video
    assert v is not None and v.vfr
    assert v.fps == 30
    assert v.fps_min == pytest.approx(15)
    assert v.fps_avg == pytest.approx(24, abs=0.3)  # 90 + 30 frames in 5 s


@pytest.mark.slow
def test_vfr_in_point_keeps_sync(tmp_path):
    """A VFR clip has no grid: it is timed from its in-point, so its clicks stay on their frames (it was shifted by
    the gap to the first frame after the in-point: 23 ms here) and its first frame is the nearest one."""
    pcm = np.zeros(5 * SR, dtype=np.int16)
    for t in (Fraction(45, 30), Fraction(90 + 2 * 5, 30)):  # frame 45 (30 fps part) and frame 100 (15 fps part)
        pcm[round(t * SR):round(t * SR) + 96] = 30000
    wav = tmp_path / "c.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(np.repeat(pcm, 2).tobytes())
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=320x180:r=30:d=5,geq=lum='2*N':cb=128:cr=128,select='lt(n\\,90)+not(mod(n\\,2))'",
           "-i", str(wav), "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", "-fps_mode", "vfr",
           "-c:a", "aac", "-shortest", str(tmp_path / "x.mp4"))
    text = 'nemo 1\nmedia x = "x.mp4"\nedit e {\n  video x from 1.01s to 4.5s\n}\nexport out = e {\n  size 320x180\n' \
           '  save "out.mp4"\n}\n'
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    times, numbers = coded_frames(tmp_path / "out.mp4")
    assert numbers[0] == 30 and len(times) == round(3.49 * 30)
    clicks = click_times(tmp_path / "out.mp4")
    assert len(clicks) == 2
    for click, frame in zip(clicks, (45, 100), strict=True):
        shown = times[numbers.index(frame)]
        assert abs(click - shown) <= 0.5 / 30 + 1e-3, (frame, click, shown)


@pytest.mark.slow
def test_vfr_default_rate_keeps_every_frame_and_says_so(tmp_path):
    _vfr_clip(tmp_path / "x.mp4")
    ffmpeg("-i", str(tmp_path / "x.mp4"), "-c", "copy", str(tmp_path / "y.mp4"))
    text = 'nemo 1\nmedia x = "x.mp4"\nedit e {\n  video x\n}\nexport out = e {\n  size 320x180\n  save "out.mp4"\n}\n'
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    times, numbers = coded_frames(tmp_path / "out.mp4")
    assert len(times) == 149 and times[1] == pytest.approx(1 / 30)  # 4.967 s (the last frame lasts 1/30 s) at 30 fps
    assert numbers[:90] == list(range(90))  # every frame of the 30 fps part, none dropped
    said = " ".join(result.output.split())
    assert "x.mp4 has a variable frame rate (15–30 fps" in said
    assert "the output is 30 fps" in said and "set `fps`" in said
