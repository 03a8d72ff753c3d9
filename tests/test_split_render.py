"""Split renders (engines/local/chunked.py): the same file as one render, segments cached by content.

Media not made for the happy path: 29.97 fps sources, a transition over a grid point, a title crossing a cut, a
fading text, a music bed. Segments of 3 s (NEMOFLOW_SPLIT_SEGMENT) keep it small and fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import make_audio, make_video
from renderkit import run_recipe

from nemoflow.core import spread
from nemoflow.draft.model import Draft
from nemoflow.engines.local.chunked import SegmentJob, render_segment
from nemoflow.errors import NemoflowError
from nemoflow.media.ffmpeg import ffmpeg_exe

RECIPE = """nemo 1
media a = "a.mp4"
media b = "b.mp4"
media m = "m.wav"
edit cut {
  video a from 0.3s to 12.5s
  transition crossfade 700ms
  video b from 1s to 13s
  title "TITLE" from 4.5s to 6.5s
  text "Lower" at lower-third from 9s to 15s fade 300ms box #00000080
  music m volume 40% fade out 1s
}
export one = cut {
  size 320x180
  crf 12
  save "out/one.mp4"
}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    make_video(tmp_path / "a.mp4", fps=29.97, duration=14, tone=330)
    make_video(tmp_path / "b.mp4", fps=29.97, duration=14, tone=550, pattern="testsrc")
    make_audio(tmp_path / "m.wav", duration=30)
    monkeypatch.setenv("NEMOFLOW_SPLIT_SEGMENT", "3")
    return tmp_path


def render(folder: Path, *args: str, recipe: str = RECIPE, name: str = "r.nemo") -> str:
    result = run_recipe(folder, recipe, *args, name=name)
    assert result.exit_code == 0, result.output
    return result.output


def segments_dir() -> Path:
    return Path(os.environ["NEMOFLOW_CACHE_DIR"]) / "segments"


def video_facts(path: Path) -> tuple[int, list[float], float]:
    with av.open(str(path)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
        return len(times), times, c.duration / 1e6


def pcm(path: Path) -> bytes:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a", "-f", "f32le", "-"],
                          capture_output=True, check=True).stdout


def luma_ssim(a: Path, b: Path) -> list[float]:
    """FFmpeg's SSIM of each frame's luma (Y): flat synthetic chroma makes the U/V figure swing with encoder noise."""
    out = subprocess.run([ffmpeg_exe(), "-i", str(a), "-i", str(b), "-lavfi", "[0:v][1:v]ssim=stats_file=-", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [float(line.split("Y:")[1].split()[0]) for line in out.splitlines() if "Y:" in line]


def gray(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray").astype(np.float64) for f in c.decode(video=0)]


def cuts_of(output: str) -> list[float]:
    line = next(x for x in output.splitlines() if "split into" in x and " at " in x)
    return [float(t.rstrip("s")) for t in line.split(" at ", 1)[1].split(";")[0].split(", ")]


def test_a_split_render_is_the_single_render(project):
    single = render(project, "--no-split")
    assert "split into" not in single
    (project / "single.mp4").write_bytes((project / "out/one.mp4").read_bytes())
    (project / "out/one.mp4").unlink()
    out = render(project, "--split", "--force", "export.one")
    cuts = cuts_of(out)
    assert len(cuts) >= 4 and "rendered, 0 reused" in out
    assert 6.006 in cuts  # the title crosses this cut
    assert not any(11.5 - 0.04 <= t <= 12.2 + 0.04 for t in cuts)  # the crossfade over the 12 s grid point pushed it off
    assert not any(9.0 <= t <= 15.0 for t in cuts)  # nor inside the fading text
    split_file, single_file = project / "out/one.mp4", project / "single.mp4"
    n1, times1, d1 = video_facts(single_file)
    n2, times2, d2 = video_facts(split_file)
    assert n1 == n2 == round(23.5 * 30000 / 1001)
    assert times1 == times2 and abs(d1 - d2) < 1e-3
    assert pcm(single_file) == pcm(split_file)  # the sound: the same samples, no gap or priming at a join
    ssim = luma_ssim(single_file, split_file)
    assert len(ssim) == n1
    joins = [round(t * 30000 / 1001) for t in cuts]
    for j in joins:
        assert min(ssim[j - 1], ssim[j]) >= 0.99, (j, ssim[j - 1:j + 1])
    a, b = gray(single_file), gray(split_file)
    for j in joins:  # the very frame, not its neighbour: each join frame matches its own index best
        for k in (j - 1, j):
            diffs = {i: float(np.abs(a[i] - b[k]).mean()) for i in (k - 1, k, k + 1)}
            assert min(diffs, key=diffs.get) == k, (k, diffs)


def test_changing_one_title_renders_only_the_segments_it_touches(project):
    first = render(project, "--split")
    assert "0 reused" in first
    count = len(list(segments_dir().glob("*.mp4")))
    cuts = cuts_of(first)
    touched = sum(1 for a, b in zip([0.0, *cuts], [*cuts, 99.0], strict=True) if a < 6.5 and b > 4.5)
    assert touched == 2
    again = render(project, "--split", recipe=RECIPE.replace('"TITLE"', '"A NEW TITLE"'))
    assert f"split into {count} segments: {touched} rendered, {count - touched} reused" in again
    louder = render(project, "--split", recipe=RECIPE.replace('"TITLE"', '"A NEW TITLE"').replace("volume 40%", "volume 60%"))
    assert f"split into {count} segments: 0 rendered, {count} reused" in louder  # the sound is rendered apart


def test_auto_splits_only_above_the_threshold(project, monkeypatch):
    out = render(project)
    assert "split into" not in out  # 23 s, under the default 60 s
    monkeypatch.setenv("NEMOFLOW_SPLIT_THRESHOLD", "20")
    assert "split into" in render(project, "--force", "export.one")
    monkeypatch.setenv("NEMOFLOW_SPLIT", "sometimes")
    result = run_recipe(project, RECIPE, "--force", "export.one")
    assert result.exit_code == 2 and "auto, on, off" in result.output


def test_an_export_that_cannot_be_joined_by_copy_is_rendered_whole(project):
    out = render(project, "--split", recipe=RECIPE.replace('save "out/one.mp4"', 'format webm\n  save "out/one.webm"'))
    assert "rendered in one piece" in out and "split into" not in out


def test_a_failed_segment_leaves_no_file_and_the_error_comes_back(project, tmp_path):
    draft = Draft.from_json({"t": [{"tt": 0, "sg": [{"st": 0, "d": 1000, "m": {"src": "x", "in": 0}}]}],
                             "m": {"canvas": {"w": 320, "h": 180, "fps": 25},
                                   "media": {"x": {"kind": "video", "path": str(tmp_path / "gone.mp4"), "d": 5000, "fps": 25,
                                                   "w": 320, "h": 180, "codec": "h264", "pix_fmt": "yuv420p"}}}})
    seg = tmp_path / "cache" / "segments"
    job = SegmentJob("k1", draft.dumps(), '{"width": 320, "height": 180, "fps": 25.0, "audio": "none"}', seg / "k1.mp4",
                     tmp_path / "cache", (), "test segment", 1.0)
    with pytest.raises(NemoflowError):
        spread.current().map(render_segment, [job], label="t")
    assert not (seg / "k1.mp4").exists()
    assert [p for p in seg.iterdir() if not p.name.startswith(".nemoflow-")] == []
    assert all(not p.exists() for p in seg.glob(".nemoflow-*"))  # the work directory went with it


def test_using_installs_a_spreader_for_its_block_only():
    rec = Recording()
    assert isinstance(spread.current(), spread.SerialSpreader)
    with spread.using(rec):
        assert spread.current() is rec
        assert spread.current().map(str, [1, 2], label="x") == ["1", "2"]
    assert isinstance(spread.current(), spread.SerialSpreader) and rec.calls == [("x", 2)]


class Recording:
    """A spreader that records what it was given (and runs it here): the engine goes through `spread.current()`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def map(self, fn, items, *, label):
        self.calls.append((label, len(items)))
        return [fn(i) for i in items]


def test_segments_go_through_the_installed_spreader(project, monkeypatch):
    rec = Recording()
    # the runner's threads do not inherit the test's context; an executor installs its spreader where the step runs
    monkeypatch.setattr(spread, "current", lambda: rec)
    render(project, "--split")
    assert rec.calls and rec.calls[0][0] == "export.one" and rec.calls[0][1] >= 4


@pytest.mark.slow
def test_a_killed_run_resumes_with_the_segments_it_finished(project):
    recipe = RECIPE.replace("size 320x180", "size 1280x720").replace("crf 12", "quality high")
    (project / "r.nemo").write_text(recipe, encoding="utf-8")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "nemoflow", "run", str(project / "r.nemo"), "--split"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(segments_dir().glob("*.mp4"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = list(segments_dir().glob("*.mp4"))
    assert 2 <= len(done)
    for path in done:  # every file under a key's name is whole
        n, _, _ = video_facts(path)
        assert n > 0
    out = render(project, "--split", recipe=recipe)
    total = int(out.split("split into ")[1].split()[0])
    assert len(done) < total  # it was killed mid-way
    assert f"{total - len(done)} rendered, {len(done)} reused" in out
    assert not list(segments_dir().glob(".nemoflow-*"))  # the killed run's work directory was reaped


def split_vs_single(folder: Path, recipe: str) -> tuple[Path, Path, str]:
    render(folder, "--no-split", recipe=recipe)
    single = folder / "single.mp4"
    (folder / "out/one.mp4").replace(single)
    out = render(folder, "--split", "--force", "export.one", recipe=recipe)
    return single, folder / "out/one.mp4", out


@pytest.mark.parametrize("change", ["hevc", "loudness", "overlay"])
def test_split_variants_match_the_single_render(project, change):
    from mediagen import make_image

    recipe = RECIPE
    if change == "hevc":
        recipe = recipe.replace("  crf 12\n", "  codec hevc\n  crf 12\n")
    elif change == "loudness":
        recipe = recipe.replace("  music m volume 40% fade out 1s\n", "  music m volume 40% fade out 1s\n  loudness -16 LUFS\n")
    else:  # a still logo over the whole programme, fading in and out: cuts away from its fades, not from it
        make_image(project / "logo.png", size=(64, 64), color="red")
        recipe = recipe.replace('media m = "m.wav"\n', 'media m = "m.wav"\nmedia logo = "logo.png"\n')
        recipe = recipe.replace("  music m", "  overlay logo at top-right width 20% fade 500ms\n  music m")
    single, split_file, out = split_vs_single(project, recipe)
    assert "split into" in out and len(cuts_of(out)) >= 3
    n1, times1, _ = video_facts(single)
    n2, times2, _ = video_facts(split_file)
    assert n1 == n2 and times1 == times2
    assert pcm(single) == pcm(split_file)
    ssim = luma_ssim(single, split_file)
    for t in cuts_of(out):
        j = round(t * 30000 / 1001)
        assert min(ssim[j - 1], ssim[j]) >= 0.99, (t, ssim[j - 1:j + 1])
    if change == "hevc":
        with av.open(str(split_file)) as c:
            assert c.streams.video[0].codec_context.name == "hevc"
