"""Stills and stabilization (issue 16 items 4 and 6); the rules are docs/engine.md "Stills and stabilization".

Stills: the file is decoded once and its fitted frame looped (FFmpeg's own count of decoded frames proves it),
with the exact frame count, the right first frame, EXIF orientation and transparency handled.
Stabilize: a static picture seen through a window that jitters sideways (translation only) for a known span;
the output is compared with the unshaken reference window by phase correlation (residual jitter), a scale and
rotation search (zoom, tilt) and SSIM (the steady part untouched).
"""

from __future__ import annotations

import itertools
import re
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import ffmpeg, make_image, make_video
from renderkit import run_recipe

from nemoflow.engines.local import export as local_export
from nemoflow.media.ffmpeg import ffmpeg_exe


def _recording(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every FFmpeg command the local export runs, in order (still run for real)."""
    seen: list[list[str]] = []
    real = local_export.run_ffmpeg

    def record(args, **kw):
        seen.append(list(args))
        return real(args, **kw)

    monkeypatch.setattr(local_export, "run_ffmpeg", record)
    return seen


def _decoded_frames(args: list[str], tmp: Path) -> int:
    """Frames FFmpeg decodes from its first input when `args` (a render command) runs again, by its own count."""
    again = [*args[:-1], str(tmp / "again.mp4")]
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "verbose", *again],
                          capture_output=True, text=True, check=True)
    counts = re.findall(r"Input stream #0:0 \(video\): \d+ packets read \(\d+ bytes\); (\d+) frames decoded", done.stderr)
    assert counts, done.stderr[-2000:]
    return int(counts[0])


def _rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float64) for f in c.decode(video=0)]


RECIPE_HEAD = "nemo 1\n\n"


# -- stills --------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_still_is_decoded_once(tmp_path, monkeypatch):
    make_image(tmp_path / "pic.png")
    seen = _recording(monkeypatch)
    done = run_recipe(tmp_path, RECIPE_HEAD + 'media pic = "pic.png"\n\nedit cut {\n  image pic for 2s\n}\n\n'
                      'export final = cut {\n  size 320x180\n  fps 30\n  save "out.mp4"\n}\n')
    assert done.exit_code == 0, done.output
    assert len(_rgb(tmp_path / "out.mp4")) == 60
    # FFmpeg decodes the PNG once for a 60-frame clip (it decoded it 60 times with `-loop 1`)
    assert _decoded_frames(seen[-1], tmp_path) == 1


@pytest.mark.slow
def test_still_frames_and_first_frame_through_a_transition(tmp_path):
    """A still, a crossfade, a clip: exact frame count; the still's frames are the picture (fitted), from frame 0."""
    make_image(tmp_path / "pic.png", size=(640, 360))  # fitted down to 320x180
    make_video(tmp_path / "clip.mp4", color="blue", duration=1.0)
    done = run_recipe(tmp_path, RECIPE_HEAD + 'media pic = "pic.png"\nmedia clip = "clip.mp4"\n\n'
                      'edit cut {\n  image pic for 2s\n  transition crossfade 0.5s\n  video clip\n  fade in 0.5s\n}\n\n'
                      'export final = cut {\n  size 320x180\n  fps 30\n  save "out.mp4"\n}\n')
    assert done.exit_code == 0, done.output
    got = _rgb(tmp_path / "out.mp4")
    assert len(got) == 75  # 2 s + 1 s - 0.5 s of overlap, at 30 fps
    ref = tmp_path / "ref.png"
    ffmpeg("-i", str(tmp_path / "pic.png"), "-vf", "scale=320:180", str(ref))
    with av.open(str(ref)) as c:
        want = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(np.float64)
    # the fade-in applies to the whole timeline: frame 0 is black, frame 15 (0.5 s) the picture at full level
    assert got[0].mean() < 20
    for k in (15, 30, 44):  # the still, unfaded, until the crossfade starts at 1.5 s (frame 45)
        assert np.abs(got[k] - want).mean() < 6, k
    assert got[74][..., 2].mean() > 150 and got[74][..., 0].mean() < 60  # the blue clip at the end


@pytest.mark.slow
def test_still_at_ntsc_rate_keeps_the_frame_grid(tmp_path):
    make_image(tmp_path / "pic.png", size=(1280, 720))
    done = run_recipe(tmp_path, RECIPE_HEAD + 'media pic = "pic.png"\n\nedit cut {\n  image pic for 1.5s\n}\n\n'
                      'export final = cut {\n  size 320x180\n  fps 29.97\n  save "out.mp4"\n}\n')
    assert done.exit_code == 0, done.output
    with av.open(str(tmp_path / "out.mp4")) as c:
        stream = c.streams.video[0]
        assert stream.average_rate == Fraction(30000, 1001)
        pts = [f.pts * f.time_base for f in c.decode(stream)]
    assert len(pts) == 45  # round(1.5 s x 29.97)
    assert all(b - a == Fraction(1001, 30000) for a, b in itertools.pairwise(pts))


def _exif_jpeg(src: Path, dst: Path, orientation: int) -> Path:
    """`src` (a JPEG) with an EXIF APP1 segment holding only the Orientation tag, as a phone writes it."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    data = src.read_bytes()
    dst.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:])
    return dst


@pytest.mark.slow
def test_still_exif_orientation_and_transparency(tmp_path):
    """A phone JPEG stored sideways (EXIF orientation 6) shows upright; a PNG's transparent part shows black, not the
    colour stored under it."""
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=160x180", "-f", "lavfi", "-i", "color=c=blue:s=160x180",
           "-filter_complex", "[0][1]hstack,format=yuvj420p", "-frames:v", "1", str(tmp_path / "flat.jpg"))
    _exif_jpeg(tmp_path / "flat.jpg", tmp_path / "phone.jpg", 6)  # 90° clockwise: red on top, 180x320
    ffmpeg("-f", "lavfi", "-i", "color=c=white:s=160x180,format=rgba", "-f", "lavfi", "-i", "color=c=green@0.0:s=160x180,format=rgba",
           "-filter_complex", "[0][1]hstack", "-frames:v", "1", str(tmp_path / "logo.png"))
    done = run_recipe(tmp_path, RECIPE_HEAD + 'media phone = "phone.jpg"\nmedia logo = "logo.png"\n\n'
                      'edit a {\n  image phone for 1s\n}\nedit b {\n  image logo for 1s\n}\n\n'
                      'export ea = a {\n  size 180x320\n  save "a.mp4"\n}\nexport eb = b {\n  size 320x180\n  save "b.mp4"\n}\n')
    assert done.exit_code == 0, done.output
    a = _rgb(tmp_path / "a.mp4")[0]
    assert a.shape == (320, 180, 3)
    assert a[80, 90, 0] > 200 and a[80, 90, 2] < 50  # top: red
    assert a[240, 90, 2] > 200 and a[240, 90, 0] < 50  # bottom: blue
    b = _rgb(tmp_path / "b.mp4")[0]
    assert b[90, 80].min() > 230  # the opaque white half
    assert b[90, 240].max() < 20  # the transparent half: black, not green


# -- stabilize -----------------------------------------------------------------------------------------------

W, H = 320, 180
X0, Y0 = 40, 30  # where the steady window sits in the big picture
SHAKE = range(31, 59)  # frames inside the shaky second (1 s to 2 s at 30 fps), a frame in from each end


def _shaky(tmp: Path) -> tuple[Path, np.ndarray]:
    """A 3 s clip of a fixed, detailed picture seen through a window that jitters sideways and up/down (translation
    only, up to ~14 px) from 1 s to 2 s and is still elsewhere; and the still window's luma, the ideal output."""
    big = tmp / "big.png"
    ffmpeg("-f", "lavfi", "-i", "mandelbrot=s=400x240:start_scale=0.3:end_scale=0.3", "-vf", "drawgrid=w=37:h=29:t=2:c=white@0.5",
           "-frames:v", "1", str(big))
    shake = "between(t\\,1\\,2)"
    ffmpeg("-loop", "1", "-framerate", "30", "-i", str(big), "-vf",
           f"crop={W}:{H}:x='{X0}+{shake}*(9*sin(2*PI*t*3)+4*sin(2*PI*t*7))':y='{Y0}+{shake}*7*sin(2*PI*t*4)',format=yuv420p",
           "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(tmp / "shaky.mp4"))
    ref = tmp / "ref.png"
    ffmpeg("-i", str(big), "-vf", f"crop={W}:{H}:{X0}:{Y0},format=gray", str(ref))
    return tmp / "shaky.mp4", _luma(ref)[0]


def _luma(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray").astype(np.float64) for f in c.decode(video=0)]


def _offset(a: np.ndarray, b: np.ndarray) -> float:
    """How far `a` is moved against `b`, in pixels, by phase correlation."""
    fa, fb = np.fft.fft2(a - a.mean()), np.fft.fft2(b - b.mean())
    r = fa * np.conj(fb)
    corr = np.abs(np.fft.ifft2(r / (np.abs(r) + 1e-9)))
    y, x = np.unravel_index(np.argmax(corr), corr.shape)
    h, w = a.shape
    return float(np.hypot(x - w if x > w // 2 else x, y - h if y > h // 2 else y))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Global SSIM of two luma planes."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = a.mean(), b.mean()
    cov = ((a - ma) * (b - mb)).mean()
    return float(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (a.var() + b.var() + c2)))


def _warp(img: np.ndarray, scale: float, degrees: float) -> np.ndarray:
    """`img` zoomed by `scale` and turned by `degrees` about its centre (bilinear), same size."""
    h, w = img.shape
    th = np.deg2rad(degrees)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x0, y0 = (xx - (w - 1) / 2) / scale, (yy - (h - 1) / 2) / scale
    xs = np.cos(th) * x0 + np.sin(th) * y0 + (w - 1) / 2
    ys = -np.sin(th) * x0 + np.cos(th) * y0 + (h - 1) / 2
    x1, y1 = np.clip(np.floor(xs).astype(int), 0, w - 2), np.clip(np.floor(ys).astype(int), 0, h - 2)
    fx, fy = np.clip(xs - x1, 0, 1), np.clip(ys - y1, 0, 1)
    return (img[y1, x1] * (1 - fx) * (1 - fy) + img[y1, x1 + 1] * fx * (1 - fy) + img[y1 + 1, x1] * (1 - fx) * fy
            + img[y1 + 1, x1 + 1] * fx * fy)


def _zoom_and_tilt(frame: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """The scale and rotation (degrees) that best map the reference window onto `frame`, its centre compared after
    the translation is taken out: 1.0 and 0.0 for a picture neither zoomed nor tilted."""
    h, w = ref.shape
    inner = (slice(h // 5, 4 * h // 5), slice(w // 5, 4 * w // 5))
    best = (-2.0, 1.0, 0.0)
    for scale in np.arange(1.0, 1.21, 0.02):
        for degrees in np.arange(-1.5, 1.51, 0.5):
            cand = _warp(ref, scale, degrees)
            fa, fb = np.fft.fft2(frame - frame.mean()), np.fft.fft2(cand - cand.mean())
            r = fa * np.conj(fb)
            dy, dx = np.unravel_index(np.argmax(np.abs(np.fft.ifft2(r / (np.abs(r) + 1e-9)))), r.shape)
            cand = np.roll(cand, (dy, dx), (0, 1))
            score = _ssim(frame[inner], cand[inner])
            if score > best[0]:
                best = (score, float(scale), float(degrees))
    return best[1], best[2]


@pytest.fixture(scope="module")
def stabilized(tmp_path_factory):
    """The shaky clip rendered plain, stabilized, and stabilized only from 1 s to 2 s."""
    tmp = tmp_path_factory.mktemp("stab")
    _, ref = _shaky(tmp)
    exports = "".join(f'export {n}_out = {n} {{\n  size {W}x{H}\n  fps 30\n  save "{n}.mp4"\n}}\n' for n in ("raw", "all", "part"))
    done = run_recipe(tmp, RECIPE_HEAD + 'media clip = "shaky.mp4"\n\n'
                      'edit raw {\n  video clip\n}\nedit all = raw {\n  stabilize\n}\nedit part = raw {\n  stabilize from 1s to 2s\n}\n\n'
                      + exports)
    assert done.exit_code == 0, done.output
    return {"ref": ref, **{n: _luma(tmp / f"{n}.mp4") for n in ("raw", "all", "part")}}


@pytest.mark.slow
def test_stabilize_removes_a_translation_shake_without_zoom_or_tilt(stabilized):
    ref, raw, out = stabilized["ref"], stabilized["raw"], stabilized["all"]
    assert len(out) == len(raw) == 90
    before = float(np.mean([_offset(raw[i], ref) for i in SHAKE]))
    after = float(np.mean([_offset(out[i], ref) for i in SHAKE]))
    assert before > 5  # the source does shake
    assert after < before / 5, (before, after)  # measured: ~8 px -> <1 px
    for i in (15, 40, 50, 75):  # steady and shaky frames: the picture is neither enlarged nor turned
        scale, degrees = _zoom_and_tilt(out[i], ref)
        assert scale <= 1.02 and abs(degrees) <= 0.5, (i, scale, degrees)
    for i in (10, 80):  # the steady parts are the source's picture (vid.stab's static zoom made them 0.6-0.9)
        assert _ssim(out[i], raw[i]) > 0.99, i


@pytest.mark.slow
def test_stabilize_a_span_leaves_the_rest_alone(stabilized):
    ref, raw, part = stabilized["ref"], stabilized["raw"], stabilized["part"]
    assert len(part) == 90
    # outside the span, the plain render's picture: the frames given to the encoder are the same; what it makes of
    # them differs a little, as its look-ahead and references see the stabilized frames (so SSIM, not bits)
    for i in [*range(0, 30), *range(60, 90)]:
        assert _ssim(part[i], raw[i]) > 0.99, i
    before = float(np.mean([_offset(raw[i], ref) for i in SHAKE]))
    after = float(np.mean([_offset(part[i], ref) for i in SHAKE]))
    assert after < before / 5, (before, after)


def _stabilize_recipe(tmp: Path, clause: str, command: str):
    """`nemoflow check` or `run` of a 3 s clip under `clause` (on line 7 of the recipe)."""
    from typer.testing import CliRunner

    from nemoflow.cli import app

    if not (tmp / "clip.mp4").exists():
        make_video(tmp / "clip.mp4", duration=3.0)
    path = tmp / "r.nemo"
    path.write_text(RECIPE_HEAD + f'media clip = "clip.mp4"\n\nedit cut {{\n  video clip\n  {clause}\n}}\n\n'
                    'export final = cut {\n  save "out.mp4"\n}\n', encoding="utf-8")
    return CliRunner().invoke(app, [command, str(path)])


def test_stabilize_span_is_checked(tmp_path):
    ok = _stabilize_recipe(tmp_path, "stabilize from 1s to 2s strength 60%", "check")
    assert ok.exit_code == 0, ok.output
    backwards = _stabilize_recipe(tmp_path, "stabilize from 2s to 1s", "check")
    assert backwards.exit_code == 2
    assert "r.nemo:7:21: error: `to 1s` is not after `from 2s`" in backwards.output


def test_stabilize_span_past_the_timeline_is_refused(tmp_path):
    past = _stabilize_recipe(tmp_path, "stabilize from 1s to 5s", "run")
    assert past.exit_code == 2, past.output
    assert "r.nemo:7:3" in past.output and "`to 5s` is past the end of the timeline so far (3s long)" in past.output
    late = _stabilize_recipe(tmp_path, "stabilize from 3s", "run")
    assert late.exit_code == 2, late.output
    assert "`from 3s` is at or past the end of the timeline so far (3s long)" in late.output


def _trf(tmp: Path, frames: list[list[tuple[int, int, int, int]]]) -> Path:
    """An ASCII vid.stab analysis with these local motions (dx, dy, x, y) per frame."""
    lines = ["VID.STAB 1"]
    for n, fields in enumerate(frames, 1):
        lms = ",".join(f"(LM {dx} {dy} {x} {y} 32 0.5 0.0)" for dx, dy, x, y in fields)
        lines.append(f"Frame {n} (List {len(fields)} [{lms}])")
    path = tmp / "m.trf"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rotation_is_corrected_only_when_the_camera_turns(tmp_path):
    from nemoflow.engines.local.stabilize import transform_filter, turns

    grid = [(x, y) for x in range(40, 300, 40) for y in range(30, 160, 30)]
    cx, cy = np.mean([g[0] for g in grid]), np.mean([g[1] for g in grid])
    steady = [(0, 0, x, y) for x, y in grid]
    # a sideways shake, two fields matching the wrong bar of a repeating pattern
    shaken = [[(7, -3, x, y) for x, y in grid[2:]] + [(0, 0, *grid[0]), (-21, 6, *grid[1])] for _ in range(10)]
    assert not turns(_trf(tmp_path, [steady] * 20 + shaken))
    assert "maxangle=0" in transform_filter({}, _trf(tmp_path, [steady] * 20 + shaken), 30)
    th = np.deg2rad(1.0)  # the camera turns a degree a frame about the centre, and shifts
    turned = [[(round(4 - th * (y - cy)), round(2 + th * (x - cx)), x, y) for x, y in grid] for _ in range(10)]
    assert turns(_trf(tmp_path, [steady] * 20 + turned))
    assert "maxangle" not in transform_filter({}, _trf(tmp_path, [steady] * 20 + turned), 30)
