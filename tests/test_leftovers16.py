"""Issue 16 leftovers: a source whose picture starts after its sound, `ask` analysis of full-range footage, and
every FFmpeg nemoflow starts being one `stop_all` can stop.

MPEG-TS camera files (and an MP4 remuxed from one) start their video ~23 ms after their audio: the AAC encoder's
priming. A whole clip of such a file must still have round(d x fps) frames from pts 0, its first frame held over
the gap, so picture and sound keep the source's own relative timing (docs/engine.md "Frame timing").
"""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import numpy as np
import pytest
from mediagen import ffmpeg
from renderkit import click_times, coded_frames, run_recipe

from nemoflow.engines.local.ask import analysis
from nemoflow.errors import NemoflowError
from nemoflow.media import ffmpeg as nf_ffmpeg
from nemoflow.media import measure
from nemoflow.media.entries import file_entry
from nemoflow.media.probe import probe

SR = 48000
CLICKS = (15, 45)  # source frames (30 fps) whose instant carries a click


def _camera(path: Path, seconds: float = 2.0, quality: tuple[str, ...] = ("-qp", "0")) -> Path:
    """A 30 fps counter clip (frame n at luma 2n) with a click on CLICKS, muxed as MPEG-TS (or remuxed to `path`)."""
    pcm = np.zeros(int(seconds * SR), dtype=np.int16)
    for k in CLICKS:
        at = round(k / 30 * SR)
        pcm[at:at + 96] = 30000
    wav = path.with_suffix(".wav")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(np.repeat(pcm, 2).tobytes())
    ts = path.with_suffix(".ts")
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=320x180:r=30:d={seconds},geq=lum='2*N':cb=128:cr=128", "-i", str(wav),
           "-c:v", "libx264", "-preset", "ultrafast", *quality, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
           "-shortest", "-f", "mpegts", str(ts))
    wav.unlink()
    if path.suffix != ".ts":
        ffmpeg("-i", str(ts), "-c", "copy", str(path))
    return path


def _sync(path: Path) -> list[float]:
    """For each click: its time minus the time the clicked frame is first shown (the source itself gives ~0)."""
    times, numbers = coded_frames(path)
    out = []
    for t, k in zip(click_times(path), CLICKS, strict=False):
        shown = [times[i] for i, n in enumerate(numbers) if n == k]
        out.append(t - shown[0])
    return out


@pytest.fixture(scope="module", params=["ts", "mp4"])
def camera(request, tmp_path_factory) -> Path:
    return _camera(tmp_path_factory.mktemp("cam") / f"camera.{request.param}")


def test_probe_records_the_video_start_offset(camera):
    """The picture's start after the container's (the earliest stream's) start is a probe fact and a Draft field."""
    info = probe(camera)
    assert info.video is not None
    assert 0.015 < info.video.start < 0.03
    entry = file_entry(info)
    assert entry.v_start is not None and 15 <= entry.v_start <= 30  # ms
    assert type(entry).from_json(entry.to_json()) == entry
    assert type(entry).from_json({k: v for k, v in entry.to_json().items() if k != "v_start"}).v_start is None  # old Drafts


def test_ordinary_files_have_no_late_start(tmp_path):
    """A file whose streams start together keeps the Draft it had (no `v_start`, so no render key changes)."""
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=1", "-f", "lavfi", "-i", "sine=d=1", "-c:v", "libx264",
           "-c:a", "aac", "-shortest", str(tmp_path / "plain.mp4"))
    info = probe(tmp_path / "plain.mp4")
    assert info.video.start == 0
    assert "v_start" not in file_entry(info).to_json()


@pytest.mark.slow
@pytest.mark.parametrize("clause", ["video m", "video m from 0s to 2s", "video m to 1s"])
def test_late_picture_is_held_from_zero(tmp_path, camera, clause):
    """60 frames (30 for 1 s) from pts 0: the first source frame held over the gap, then every frame in order, and
    each click with its frame as in the source. Before: 59 frames, the first at 0.033 s."""
    (tmp_path / camera.name).symlink_to(camera)
    text = f'nemo 1\nmedia m = "{camera.name}"\nedit e {{\n  {clause}\n}}\nexport out = e {{\n  size 320x180\n  save "out.mp4"\n}}\n'
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    times, numbers = coded_frames(tmp_path / "out.mp4")
    want = 30 if "1s" in clause else 60
    assert len(times) == want
    assert times[0] == 0
    # output frame k at k/30 shows the source frame nearest k/30 - 0.023 s: 0, 0, 1, 2, ...
    assert numbers == [0, *range(want - 1)], numbers
    source = _sync(camera)
    assert all(abs(s) < 0.005 for s in source), source  # the generated source is in sync (AAC priming = the gap)
    got = _sync(tmp_path / "out.mp4")
    assert got and all(abs(g) <= 0.5 / 30 + 1e-3 for g in got), got


@pytest.mark.slow
def test_late_picture_with_an_in_point_keeps_sync(tmp_path, camera):
    """An in-point picks the source frame nearest it on the source's own grid (which starts 23 ms late)."""
    (tmp_path / camera.name).symlink_to(camera)
    text = f'nemo 1\nmedia m = "{camera.name}"\nedit e {{\n  video m from 0.5s to 1.8s\n}}\n' \
           'export out = e {\n  size 320x180\n  save "out.mp4"\n}\n'
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    times, numbers = coded_frames(tmp_path / "out.mp4")
    assert len(times) == 39 and times[0] == 0
    assert numbers == list(range(numbers[0], numbers[0] + 39))
    assert numbers[0] == 14  # 0.5 s is 0.477 s into the picture: frame 14.3
    got = _sync(tmp_path / "out.mp4")
    assert got and all(abs(g) <= 0.5 / 30 + 1e-3 for g in got), got


@pytest.mark.slow
@pytest.mark.parametrize(("clause", "frames", "first"), [("video m", 60, 0), ("video m from 0.5s to 1.8s", 39, 14)])
def test_late_picture_smart_cut(tmp_path, clause, frames, first):
    """A trim-only recipe of such an MP4 is smart-cut: the same frame count, the same first frame as the graph for an
    in-point (14, not 15), and sound in sync. (From the start a copied clip cannot hold its first frame: it starts
    at that frame, with the sound from its instant.) Before: `from 0.5s` started on frame 15."""
    _camera(tmp_path / "cam.mp4", quality=("-crf", "5", "-g", "30"))
    text = f'nemo 1\nmedia m = "cam.mp4"\nedit e {{\n  {clause}\n}}\nexport out = e {{\n  size 320x180\n  save "out.mp4"\n}}\n'
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "smart cut" in result.output
    times, numbers = coded_frames(tmp_path / "out.mp4")
    assert len(times) == frames and times[0] == 0
    assert numbers == list(range(first, first + frames))
    got = _sync(tmp_path / "out.mp4")
    assert got and all(abs(g) <= 0.5 / 30 + 1e-3 for g in got), got


# ---- 2: `ask` analysis reads full-range footage in the same levels as limited-range ---------------------------------

def _halves(path: Path, *args: str) -> Path:
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=320x180:r=10:d=1,drawbox=x=160:y=0:w=160:h=180:c=white:t=fill",
           *args, str(path))
    return path


def test_analysis_of_full_range_matches_limited_range(tmp_path):
    """MJPEG's yuvj420p (black 0, white 255) is measured in limited range like any other source (16 / 235)."""
    full = _halves(tmp_path / "full.mov", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "2")
    tv = _halves(tmp_path / "tv.mp4", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p")
    assert probe(full).video.pix_fmt == "yuvj420p"
    found = {}
    for name, path in (("full", full), ("tv", tv)):
        an = analysis._run(file_entry(probe(path)), 0, 1000, what=f"test.{name}", on_progress=None, work_root=tmp_path / "w")
        found[name] = {s: float(np.median(an.stat(s))) for s in ("YLOW", "YHIGH", "YAVG")}
    assert found["tv"]["YLOW"] <= 18 and found["tv"]["YHIGH"] >= 233, found
    for s in ("YLOW", "YHIGH", "YAVG"):
        assert abs(found["full"][s] - found["tv"][s]) <= 3, found


# ---- 3: every FFmpeg nemoflow starts is tracked ------------------------------------------------------------------

def test_stop_all_stops_a_measurement(tmp_path):
    """`expect`'s detection pass is registered with media/ffmpeg.py: stop_all (Ctrl-C, cancel) kills it and the
    measurement ends with a clear error instead of decoding to the end."""
    one = tmp_path / "one.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=2", "-c:v", "libx264", "-preset", "ultrafast", str(one))
    long = tmp_path / "long.mp4"
    ffmpeg("-stream_loop", "600", "-i", str(one), "-c", "copy", str(long))  # 20 minutes of picture, made by copying
    outcome: dict[str, BaseException | object] = {}

    def measure_it() -> None:
        try:
            outcome["result"] = measure.detect(long, duration=1202.0, black=(0.1, 0.98), frozen=(-60.0, 2.0))
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=measure_it, daemon=True)
    worker.start()
    try:
        for _ in range(600):  # up to 30 s for FFmpeg to start and be registered
            with nf_ffmpeg._live_lock:
                started = bool(nf_ffmpeg._live)
            if started or not worker.is_alive():
                break
            threading.Event().wait(0.05)
        assert started, "the detection pass's FFmpeg is not in media/ffmpeg.py's registry"
        nf_ffmpeg.stop_all()
        worker.join(timeout=60)
        assert not worker.is_alive(), "the measurement went on after stop_all"
    finally:
        nf_ffmpeg.stop_all()
        worker.join(timeout=60)
        nf_ffmpeg.allow_start()
    error = outcome.get("error")
    assert isinstance(error, NemoflowError), outcome
    assert "cancel" in str(error)
