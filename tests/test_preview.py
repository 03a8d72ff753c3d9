"""`nemoflow preview`: a small, fast render of an export into the state directory, once or on every change (--watch).

Every preview here is decoded and its pictures read: the source is a flat picture whose luma encodes its frame
number (2*N), so each preview frame says which source frame it shows.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
from mediagen import ffmpeg
from renderkit import coded_frames, count_frames

from nemoflow.cli.preview import load_for_preview
from nemoflow.draft.output import Output
from nemoflow.engines.local.proxy import PROXY_REVISION, Proxy
from nemoflow.errors import ConfigError
from nemoflow.run.preview import Preview, PreviewRequest, watch

ROOT = Path(__file__).resolve().parent.parent

RECIPE = """nemo 1
media clip = "clip.mp4"
edit cut {{
  video clip from {start}s to {end}s
  title "{title}" from 0s to 0.5s
}}
export final = cut {{
  size 640x360
  save "out/final.mp4"
}}
"""


def _coded_clip(path: Path, seconds: float = 3.0) -> Path:
    """640x360 30 fps, flat luma 2*N (frame N), with a stereo 440 Hz tone."""
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=640x360:r=30:d={seconds},geq=lum='2*N':cb=128:cr=128",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-ac", "2",
           "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(path))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    tmp_path = tmp_path.resolve()
    _coded_clip(tmp_path / "clip.mp4")
    (tmp_path / "r.nemo").write_text(RECIPE.format(start=1, end=2.5, title="Hello"), encoding="utf-8")
    return tmp_path


def _stream_facts(path: Path) -> tuple[int, int, bool]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.codec_context.width, v.codec_context.height, bool(c.streams.audio)


def _title_shown(path: Path, t: float) -> bool:
    """Bright pixels (the white title) on the flat, dark source picture at `t` seconds."""
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.time is not None and f.time + 1e-6 >= t:
                y = f.to_ndarray(format="gray")
                return int((y > 200).sum()) > 50
    raise AssertionError(f"{path} has no frame at {t}s")


# ---------------------------------------------------------------- the proxy output (no FFmpeg)


def test_proxy_output_is_small_fast_h264_and_never_larger_than_the_export():
    proxy = Proxy(480)
    out = proxy.output(Output(3840, 2160, 29.97, crf=18, quality="high"))
    assert (out.width, out.height, out.codec, out.container, out.quality, out.crf, out.fps) == (854, 480, "h264", "mp4",
                                                                                                 "preview", None, 29.97)
    assert proxy.output(Output(640, 360, 25)).height == 360  # a smaller export keeps its size
    gif = proxy.output(Output(640, 640, 20, container="gif", codec="gif", audio="none"))
    assert (gif.container, gif.codec, gif.audio, gif.height) == ("mp4", "h264", "none", 480)
    assert proxy.output(Output(1920, 1080, 30, container="webm", codec="vp9", audio="opus")).audio == "aac"
    assert Proxy.from_options({}) is None and Proxy.from_options({"proxy": "720"}) == Proxy(720)
    for bad in ("0", "big", "99999"):
        with pytest.raises(ConfigError, match="from 90 to 2160"):
            Proxy.from_options({"proxy": bad})
    assert Proxy(480).identity() != Proxy(360).identity()


# ---------------------------------------------------------------- one preview


def test_preview_keys_differ_from_full_render_keys_only_for_exports(project: Path):
    from nemoflow.run.workspace import RunOptions, Workspace

    recipe = load_for_preview(PreviewRequest(project / "r.nemo"))
    full = Workspace(recipe, RunOptions(state_dir=project / "s")).keys()
    small = Workspace(recipe, RunOptions(state_dir=project / "s", engine_options={"proxy": "480"})).keys()
    assert full["export.final"].key != small["export.final"].key  # never taken for one another
    assert [c.value for c in small["export.final"].components if c.label == "proxy"] == [f"480 lines r{PROXY_REVISION}"]
    assert full["edit.cut"].key == small["edit.cut"].key and full["media.clip"].key == small["media.clip"].key



def test_preview_renders_the_export_small_into_the_state_dir(project: Path, cli):
    result = cli("preview", str(project / "r.nemo"), "--height", "180")
    assert result.exit_code == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.is_file() and (project / ".nemoflow" / "preview") in path.parents
    assert not (project / "out" / "final.mp4").exists()  # the export's own file is not touched
    assert "preview of export.final: rendered" in result.stderr
    assert _stream_facts(path) == (320, 180, True)
    times, numbers = coded_frames(path)
    assert numbers == list(range(30, 75)), numbers  # 1 s to 2.5 s of the source, every frame, in order
    assert abs(times[0]) < 1e-3
    assert _title_shown(path, 0.2) and not _title_shown(path, 1.0)  # the same graph: the title, when the recipe says
    # the 360-line source was copied once at 180 lines (with its sound) for this and later previews
    proxies = list((Path(os.environ["NEMOFLOW_CACHE_DIR"]) / "proxies").glob("*.mp4"))
    assert len(proxies) == 1 and _stream_facts(proxies[0]) == (320, 180, True)
    assert count_frames(proxies[0]) == 90
    # nothing changed: found current, not rendered again
    mtime = path.stat().st_mtime_ns
    again = cli("preview", str(project / "r.nemo"), "final", "--height", "180")
    assert again.exit_code == 0 and "up to date" in again.stderr and Path(again.stdout.strip()) == path
    assert path.stat().st_mtime_ns == mtime
    # full runs keep their own state: no record of the preview there, and a run renders the export itself
    assert not list((project / ".nemoflow" / "recipes").glob("*/last.json"))
    run = cli("run", str(project / "r.nemo"))
    assert run.exit_code == 0, run.stderr
    assert _stream_facts(project / "out" / "final.mp4") == (640, 360, True)
    assert coded_frames(project / "out" / "final.mp4")[1] == list(range(30, 75))


def test_a_preview_as_large_as_a_small_source_reads_the_source_itself(project: Path, cli):
    result = cli("preview", str(project / "r.nemo"), "--height", "360")
    assert result.exit_code == 0, result.stderr
    assert _stream_facts(Path(result.stdout.strip())) == (640, 360, True)
    assert coded_frames(Path(result.stdout.strip()))[1] == list(range(30, 75))
    assert not (Path(os.environ["NEMOFLOW_CACHE_DIR"]) / "proxies").exists()  # no proxy: the source is not larger


def test_an_edit_previews_again_only_the_segments_it_touches(project: Path, cli, monkeypatch):
    monkeypatch.setenv("NEMOFLOW_SPLIT", "on")  # as a long export would be: in segments, each cached (docs/split.md)
    monkeypatch.setenv("NEMOFLOW_SPLIT_SEGMENT", "0.5")
    recipe = project / "r.nemo"
    first = cli("preview", str(recipe), "--height", "180")
    assert first.exit_code == 0, first.stderr
    assert "split into 3 segments" in first.stderr and "3 to render, 0 cached" in first.stderr
    recipe.write_text(RECIPE.format(start=1, end=2.5, title="Other"), encoding="utf-8")  # the title is in the first 0.5 s
    again = cli("preview", str(recipe), "--height", "180")
    assert again.exit_code == 0, again.stderr
    assert "1 to render, 2 cached" in again.stderr
    path = Path(again.stdout.strip())
    assert coded_frames(path)[1] == list(range(30, 75)) and _stream_facts(path) == (320, 180, True)


def test_preview_says_what_is_wrong_with_exit_2(project: Path, cli):
    recipe = project / "r.nemo"
    two = recipe.read_text() + 'export other = cut {\n  save "out/other.mp4"\n}\n'
    recipe.write_text(two)
    result = cli("preview", str(recipe))
    assert result.exit_code == 2 and "has 2 exports; name the one to preview: final, other" in result.stderr
    result = cli("preview", str(recipe), "nope")
    assert result.exit_code == 2 and "has no export `nope`" in result.stderr
    result = cli("preview", str(recipe), "final", "--height", "20")
    assert result.exit_code == 2 and "--height" in result.stderr
    recipe.write_text(two.replace("video clip", "vidoe clip"))
    result = cli("preview", str(recipe), "final")
    assert result.exit_code == 2 and "r.nemo:4" in result.stderr and result.stdout == ""
    recipe.write_text(two.replace('"clip.mp4"', '"gone.mp4"'))
    result = cli("preview", str(recipe), "final")
    assert result.exit_code == 2 and "gone.mp4" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- --watch


def _next(results: queue.Queue, what: str, timeout: float = 20.0) -> Preview:
    try:
        return results.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no preview came after {what}") from None


def test_watch_renders_again_on_each_save_shows_errors_and_stops_cleanly(project: Path):
    recipe = project / "r.nemo"
    results: queue.Queue[Preview] = queue.Queue()
    stop = threading.Event()
    request = PreviewRequest(recipe, lines=180)
    loop = threading.Thread(target=watch, args=(request, load_for_preview, results.put),
                            kwargs={"stop": stop, "settle_ms": 300}, daemon=True)
    loop.start()
    try:
        first = _next(results, "starting")
        assert first.status == "rendered", first.error
        assert recipe in first.watched and project / "clip.mp4" in first.watched
        assert coded_frames(first.path)[1] == list(range(30, 75))
        # an edit: a new in-point and length
        time.sleep(0.3)
        recipe.write_text(RECIPE.format(start=0.5, end=1.5, title="Hello"), encoding="utf-8")
        second = _next(results, "an edit of the recipe")
        assert second.status == "rendered", second.error
        assert coded_frames(second.path)[1] == list(range(15, 45))
        # a bad edit: the error, with its line, and the loop goes on
        recipe.write_text(RECIPE.format(start=0.5, end=1.5, title="Hello").replace("video clip", "vidoe clip"), encoding="utf-8")
        broken = _next(results, "a broken recipe")
        assert broken.status == "failed" and broken.exit_code == 2 and "r.nemo:4" in (broken.error or "")
        assert project / "clip.mp4" in broken.watched  # still watching what the last good recipe used
        assert coded_frames(second.path)[1] == list(range(15, 45))  # the last good preview is still there
        # fixed: rendered again
        recipe.write_text(RECIPE.format(start=2, end=2.5, title="Again"), encoding="utf-8")
        fixed = _next(results, "the fix")
        assert fixed.status == "rendered", fixed.error
        assert coded_frames(fixed.path)[1] == list(range(60, 75))
        # a burst of saves (an editor writing several times) is one render, of the last one (debounced)
        for start in (0.1, 0.2, 1.0):
            recipe.write_text(RECIPE.format(start=start, end=1.5, title="Burst"), encoding="utf-8")
            time.sleep(0.02)
        burst = _next(results, "a burst of saves")
        assert burst.status == "rendered", burst.error
        assert coded_frames(burst.path)[1] == list(range(30, 45))
        time.sleep(1.0)
        assert results.empty()
        # the store keeps the current preview only, not one per save
        records = [json.loads(r.read_text()) for r in (project / ".nemoflow" / "preview" / "store").glob("*/*/record.json")]
        assert [r["step"] for r in records].count("export.final") == 1
        # the media changes (replaced by rename, as editors and tools save): rendered again from the new file
        _coded_clip(project / "new.mp4", seconds=4.0)
        os.replace(project / "new.mp4", project / "clip.mp4")
        media = _next(results, "a new media file")
        assert media.status == "rendered", media.error
        assert results.empty()
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()


def test_watch_from_the_command_line_stops_on_ctrl_c(project: Path):
    recipe = project / "r.nemo"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "nemoflow.cli", "preview", str(recipe), "--watch", "--height", "180",
                             "--debounce", "100"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        first = Path(lines.get(timeout=30).strip())
        assert coded_frames(first)[1] == list(range(30, 75))
        time.sleep(0.3)
        recipe.write_text(RECIPE.format(start=1, end=2, title="Edited"), encoding="utf-8")
        second = Path(lines.get(timeout=30).strip())
        assert second == first and coded_frames(second)[1] == list(range(30, 60))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        err = proc.stderr.read()  # type: ignore[union-attr]
        assert "stopped watching" in err and "Traceback" not in err and "watching 2 files" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
