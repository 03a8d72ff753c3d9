"""Smart rendering in split exports (engines/local/smart_segments.py): a segment that only shows plain cuts of a file
the output can carry is copied from the file at the join, not rendered; the result is still the single render's.

Sources made "compatible" the way a camera or an earlier export would be: H.264 High, yuv420p, the output's size and
rate, a keyframe every second. Segments of 2 s (NEMOFLOW_SPLIT_SEGMENT) keep it small.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import ffmpeg, make_audio, make_video
from renderkit import run_recipe

from nemoflow.draft.model import TEXT, VIDEO, Draft
from nemoflow.draft.output import Output
from nemoflow.engines.local import smart_segments, smartcut
from nemoflow.media.ffmpeg import ffmpeg_exe

RECIPE = """nemo 1
media a = "a.mp4"
media b = "b.mp4"
media m = "m.wav"
edit cut {
  video a from 0.6s to 7.6s
  video b from 1.2s to 8.2s
  title "TITLE" from 3s to 4.5s
  music m volume 40%
}
export one = cut {
  size 320x180
  crf 16
  save "out/one.mp4"
}
"""
DETAIL = re.compile(r"split into (\d+) segments: (\d+) rendered, (\d+) reused(?:, (\d+) copied from the source)?")


def make_camera_file(path: Path, *, seconds: float, fps: str = "25", pattern: str = "testsrc2", tone: int = 330,
                     extra: tuple[str, ...] = ()) -> Path:
    """H.264 High 4:2:0 with sound and an IDR frame every second, as a camera or an editor's export would be. No
    B-frames: media/probe.py samples timestamps in decode order and takes B-frame files for variable-rate ones."""
    rate = str(round(Fraction(fps)))  # one keyframe a second
    ffmpeg("-f", "lavfi", "-i", f"{pattern}=s=320x180:r={fps}:d={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={seconds}",
           "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p", "-crf", "16",
           "-g", rate, "-keyint_min", rate, "-sc_threshold", "0", "-bf", "0", *extra, "-c:a", "aac", "-b:a", "96k", "-shortest",
           str(path))
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("smart-src")
    make_camera_file(folder / "a.mp4", seconds=10)
    make_camera_file(folder / "b.mp4", seconds=9, pattern="testsrc", tone=550)
    make_audio(folder / "m.wav", duration=16)
    return folder


@pytest.fixture
def project(tmp_path, monkeypatch, sources):
    for name in ("a.mp4", "b.mp4", "m.wav"):
        shutil.copyfile(sources / name, tmp_path / name)
    monkeypatch.setenv("NEMOFLOW_SPLIT_SEGMENT", "2")
    return tmp_path


def render(folder: Path, *args: str, recipe: str = RECIPE) -> str:
    result = run_recipe(folder, recipe, *args)
    assert result.exit_code == 0, result.output
    return result.output


def counts(output: str) -> tuple[int, int, int, int]:
    found = DETAIL.search(" ".join(output.split()))
    assert found, output
    return tuple(int(x or 0) for x in found.groups())  # type: ignore[return-value]


def decoded(path: Path) -> tuple[list[float], list[np.ndarray]]:
    with av.open(str(path)) as c:
        pairs = [(float(f.time), f.to_ndarray(format="gray")) for f in c.decode(video=0)]
    return [t for t, _ in pairs], [p for _, p in pairs]


def pcm(path: Path) -> bytes:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a", "-f", "f32le", "-"],
                          capture_output=True, check=True).stdout


def luma_ssim(a: Path, b: Path) -> list[float]:
    out = subprocess.run([ffmpeg_exe(), "-i", str(a), "-i", str(b), "-lavfi", "[0:v][1:v]ssim=stats_file=-", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [float(line.split("Y:")[1].split()[0]) for line in out.splitlines() if "Y:" in line]


def decode_errors(path: Path) -> str:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True,
                          text=True).stderr


def parameter_set_ids(path: Path) -> set[int]:
    with av.open(str(path)) as c:
        avcc = smartcut._Avcc.parse(bytes(c.streams.video[0].codec_context.extradata))
    return {ident for _, ident in avcc.sets()}


def cuts_of(output: str) -> list[float]:
    line = next(x for x in output.splitlines() if "split into" in x and " at " in x)
    return [float(t.rstrip("s")) for t in line.split(" at ", 1)[1].split(";")[0].split(", ")]


def test_plain_segments_are_copied_from_the_source_and_the_file_is_the_single_render(project):
    render(project, "--no-split")
    single = project / "single.mp4"
    (project / "out/one.mp4").replace(single)
    out = render(project, "--split", "--force", "export.one")
    segments, rendered, reused, copied = counts(out)
    cuts = cuts_of(out)
    assert cuts == [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    assert (segments, rendered, reused, copied) == (7, 2, 0, 5)  # the title's two segments are rendered
    assert "re-encoded at keyframe edges" in out
    split = project / "out/one.mp4"
    times1, pics1 = decoded(single)
    times2, pics2 = decoded(split)
    assert len(times1) == len(times2) == 14 * 25 and times1 == pytest.approx(times2, abs=1e-6)
    with av.open(str(single)) as c1, av.open(str(split)) as c2:
        assert abs(c1.duration - c2.duration) < 1000  # µs
    assert pcm(single) == pcm(split)  # the sound is muxed as before: the same samples
    assert decode_errors(split) == ""
    ssim = luma_ssim(single, split)
    assert len(ssim) == 350 and min(ssim) >= 0.98
    for t in cuts:
        j = round(t * 25)
        assert min(ssim[j - 1], ssim[j]) >= 0.99, (t, ssim[j - 1:j + 1])
    # copied means the source's own frames, bit for bit: a.mp4 at 1.6 s (after its IDR at 1 s) is output 1.0 s, a's last
    # frame (7.56 s) is output 6.96 s, in the segment 6-8 s that also holds b's first second; b.mp4 at 5.4 s is output
    # 11.2 s. The single render re-encoded them, so it only comes close
    _, a = decoded(project / "a.mp4")
    _, b = decoded(project / "b.mp4")
    for out_frame, src in ((25, a[40]), (174, a[189]), (280, b[135])):
        assert np.array_equal(pics2[out_frame], src)
        assert not np.array_equal(pics1[out_frame], src)
    # and the title's segments were rendered: the title is there (it differs from the source frame under it)
    assert np.abs(pics2[88].astype(int) - a[15 + 88].astype(int)).mean() > 1
    # one avcC with each part's parameter sets under its own id: the source's 0, the segments' 31, the re-encoded
    # edges' another one
    ids = parameter_set_ids(split)
    assert {0, smart_segments.SEGMENT_SPS_ID} < ids and len(ids) == 3
    # a rendered segment in the cache carries the segments' id
    segs = list((Path(os.environ["NEMOFLOW_CACHE_DIR"]) / "segments").glob("*.mp4"))
    assert len(segs) == 2 and all(parameter_set_ids(p) == {smart_segments.SEGMENT_SPS_ID} for p in segs)

    again = render(project, "--split", "--force", "export.one", recipe=RECIPE.replace('"TITLE"', '"OTHER"'))
    assert counts(again) == (7, 2, 0, 5)
    same = render(project, "--split", "--force", "export.one")
    assert counts(same) == (7, 0, 2, 5)  # the first title's segments are still in the cache


def test_a_source_the_output_cannot_carry_is_rendered(project):
    # mediagen's clips are x264 ultrafast: Constrained Baseline, which the High profile render cannot share a track with
    make_video(project / "a.mp4", fps=25, duration=10, tone=330)
    make_video(project / "b.mp4", fps=25, duration=9, tone=550, pattern="testsrc")
    out = render(project, "--split")
    assert counts(out) == (7, 7, 0, 0)
    assert "copied" not in out


def test_a_graded_clip_is_rendered_and_the_other_copied(project, monkeypatch):
    recipe = RECIPE.replace("video a from 0.6s to 7.6s", "video a from 0.6s to 7.6s\n  grade warm 60%")  # a only
    out = render(project, "--split", recipe=recipe)
    assert counts(out) == (7, 4, 0, 3)  # a's four segments (two with the title, one with b's start) rendered
    split = project / "out/one.mp4"
    assert decode_errors(split) == ""
    times, pics = decoded(split)
    assert len(times) == 350
    _, b = decoded(project / "b.mp4")
    assert np.array_equal(pics[280], b[135])
    # smart rendering turned off: b's segments are rendered too, a's come from the cache
    monkeypatch.setenv("NEMOFLOW_SPLIT_COPY", "off")
    assert counts(render(project, "--split", "--force", "export.one", recipe=recipe)) == (7, 3, 4, 0)
    monkeypatch.setenv("NEMOFLOW_SPLIT_COPY", "sometimes")
    result = run_recipe(project, recipe, "--split", "--force", "export.one")
    assert result.exit_code == 2 and "`split_copy` must be on or off" in result.output


def test_segment_headers_are_merged_into_the_quality_params():
    out = Output(320, 180, 25.0, quality="draft")
    args = ["-i", "x", "-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "cabac=1:8x8dct=1", "-t", "2", "o.mp4"]
    merged = smart_segments.with_segment_headers(args, out)
    assert merged[merged.index("-x264-params") + 1] == "cabac=1:8x8dct=1:sps-id=31:stitchable=1"
    plain = smart_segments.with_segment_headers(["-c:v", "libx264", "-crf", "20", "o.mp4"], Output(320, 180, 25.0))
    assert plain == ["-c:v", "libx264", "-x264-params", "sps-id=31:stitchable=1", "-crf", "20", "o.mp4"]
    hevc = ["-c:v", "libx265", "-x265-params", "log-level=error", "o.mp4"]
    assert smart_segments.with_segment_headers(hevc, Output(320, 180, 25.0, codec="hevc")) == hevc


def _slice(path: Path, *, fx: list | None = None, text: bool = False) -> Draft:
    entry = {"kind": "video", "path": str(path), "d": 4000, "fps": 25.0, "w": 320, "h": 180, "codec": "h264",
             "pix_fmt": "yuv420p", "audio": True}
    clip = {"src": "a", "in": 600, **({"fx": fx} if fx else {})}
    tracks = [{"tt": VIDEO, "sg": [{"st": 0, "d": 2000, "m": clip}]}]
    if text:
        tracks.append({"tt": TEXT, "sg": [{"st": 0, "d": 1000, "m": {"text": "Hi"}}]})
    return Draft.from_json({"t": tracks, "m": {"canvas": {"w": 320, "h": 180, "fps": 25}, "media": {"a": entry}}})


def test_which_slices_are_copied(tmp_path):
    src = make_camera_file(tmp_path / "a.mp4", seconds=4)
    other_tb = make_camera_file(tmp_path / "t.mp4", seconds=4, extra=("-video_track_timescale", "25000"))
    out = Output(320, 180, 25.0, audio="none")
    pieces = smart_segments.copy_pieces(_slice(src), out)
    assert pieces is not None and len(pieces) == 1
    assert (pieces[0].start, pieces[0].end) == pytest.approx((0.6, 2.6))
    assert smart_segments.copy_pieces(_slice(src, fx=[{"type": "grade", "preset": "warm", "amount": 60.0}]), out) is None
    assert smart_segments.copy_pieces(_slice(src, text=True), out) is None
    assert smart_segments.copy_pieces(_slice(src), Output(640, 360, 25.0, audio="none")) is None
    assert smart_segments.copy_pieces(_slice(src), Output(320, 180, 25.0, audio="none", codec="hevc")) is None
    assert smart_segments.copy_pieces(_slice(src), Output(320, 180, 25.0, audio="none", crf=0)) is None
    assert smart_segments.copy_pieces(_slice(src), Output(320, 180, 25.0, audio="none", quality="draft")) == pieces
    # two files in different time bases cannot share smart cut's one track: the later one is rendered
    copies = {0: pieces, 1: smart_segments.copy_pieces(_slice(other_tb), out)}
    assert copies[1] is not None
    assert list(smart_segments.keep_joinable(copies)) == [0]


class Recording:
    """A spreader that records what it is given and runs it here (as tests/test_split_render.py's)."""

    def __init__(self) -> None:
        self.items: list = []

    def map(self, fn, items, *, label):
        self.items += list(items)
        return [fn(i) for i in items]


def test_copied_segments_are_never_sent_to_workers_and_a_refused_join_renders_them(project, monkeypatch):
    from nemoflow.core import spread
    from nemoflow.engines.local import chunked

    rec = Recording()
    monkeypatch.setattr(spread, "current", lambda: rec)
    out = render(project, "--split")
    assert counts(out) == (7, 2, 0, 5)
    kinds = [type(i).__name__ for i in rec.items]
    assert sorted(kinds) == ["SegmentJob", "SegmentJob", "SoundJob"]  # the copies are done at the join, on this machine
    # the safety net: rendered segments that turn out not to fit beside the copies (never seen) -> everything rendered
    real = chunked.smartcut.incompatibility

    def refuse_segments(pieces, *, audio):  # the planning (sources only) passes, the join (with segments) is refused
        if any(p.path.parent != project for p in pieces):
            return "a.mp4 is 1x1 (size differs)"
        return real(pieces, audio=audio)

    monkeypatch.setattr(chunked.smartcut, "incompatibility", refuse_segments)
    again = render(project, "--split", "--force", "export.one")
    assert "no segment copied from the source (a.mp4 is 1x1 (size differs)): all are rendered" in " ".join(again.split())
    assert counts(again) == (7, 5, 2, 0)
    times, _ = decoded(project / "out/one.mp4")
    assert len(times) == 350 and decode_errors(project / "out/one.mp4") == ""
