"""Footage analysis for `ask`: real clips made here with FFmpeg, measured in one pass, then judged (footage.py)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mediagen import ffmpeg

from nemoflow.draft.media import MediaEntry
from nemoflow.engines.local.ask import analysis, footage
from nemoflow.engines.local.ask.analysis import Analysis, analyse
from nemoflow.engines.local.grade import adjust_eq
from nemoflow.errors import MediaError, RenderError

X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
# Shake between 2 s and 4 s: the 640x360 window jumps around inside a 720x440 picture (±30 px, a new offset each frame).
SHAKY = ("testsrc2=s=720x440:r=30:d=6,crop=640:360:x='40+gte(t\\,2)*lt(t\\,4)*30*sin(n*12.9898)'"
         ":y='40+gte(t\\,2)*lt(t\\,4)*30*cos(n*78.233)'")
# A fast, smooth pan: 200 px/s across a wide picture (5 px per frame at the 480 px analysis width, more than the
# shake threshold, so only the jitter measure, not the raw motion, keeps it from counting as shake).
PAN = "testsrc2=s=1440x440:r=30:d=4,crop=640:360:x='t*200':y=40"
# 1 s black, 3 s picture (frozen from 2 s to 3 s), 1 s black; a tone silenced from 1 s to 2 s.
EVENTS_V = ("testsrc2=s=320x180:r=30:d=5,drawbox=c=black:t=fill:enable='lt(t\\,1)+gte(t\\,4)',split[a][b];"
            "[a][b]freezeframes=first=60:last=89:replace=60")
EVENTS_A = "sine=frequency=440:sample_rate=48000:duration=5,volume=enable='between(t\\,1\\,2)':volume=0"
DULL = "testsrc2=s=320x180:r=30:d=2,eq=contrast=0.5:saturation=0.4"


def _video(path: Path, source: str, audio: str | None = None) -> dict:
    args = ["-f", "lavfi", "-i", source]
    if audio:
        args += ["-f", "lavfi", "-i", audio, "-c:a", "aac", "-shortest"]
    ffmpeg(*args, *X264, str(path))
    return {"kind": "video", "path": str(path), "audio": bool(audio)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, dict]:
    d = tmp_path_factory.mktemp("footage")
    return {
        "shaky": _video(d / "shaky.mp4", SHAKY),
        "pan": _video(d / "pan.mp4", PAN),
        "events": _video(d / "events.mp4", EVENTS_V, EVENTS_A),
        "dull": _video(d / "dull.mp4", DULL),
        "dull_black": _video(d / "dull_black.mp4", DULL.replace("d=2", "d=3") + ",drawbox=c=black:t=fill:enable='lt(t\\,1)'"),
        "normal": _video(d / "normal.mp4", "testsrc2=s=320x180:r=30:d=2,eq=saturation=0.5"),
        "dark": _video(d / "dark.mp4", "testsrc2=s=320x180:r=30:d=2,eq=contrast=0.5:brightness=-0.2:saturation=0.5"),
        "letterbox": _video(d / "letterbox.mp4", "testsrc2=s=320x180:r=30:d=2,eq=saturation=0.5,"
                            "drawbox=y=0:h=30:c=black:t=fill,drawbox=y=150:h=30:c=black:t=fill"),
    }


@pytest.fixture(autouse=True)
def _fresh_memo():
    analysis.forget()
    yield
    analysis.forget()


def run(entry: dict, start_ms: int, length_ms: int, cache: Path, **kw) -> Analysis:
    content = entry.get("path") or json.dumps(entry["gen"])
    return analyse(MediaEntry.from_json(entry), start_ms, length_ms, cache_dir=cache, content_id=content, what="test analysis", **kw)


def near(spans, expected, tol):
    assert len(spans) == len(expected), f"{spans} vs {expected}"
    for (a, b), (ea, eb) in zip(spans, expected, strict=True):
        assert abs(a - ea) <= tol and abs(b - eb) <= tol, f"{spans} vs {expected} (±{tol})"


# -- shake -----------------------------------------------------------------------------------------------------

def test_shake_between_steady_parts_is_one_span_with_edges_within_a_quarter_second(clips, tmp_path):
    seen = []
    an = run(clips["shaky"], 0, 6000, tmp_path, on_progress=seen.append)
    assert (an.width, an.height) == (480, 270) and len(an.times) == 180 and an.times[0] == pytest.approx(0, abs=1e-6)
    near(footage.shaky_spans(an), [(2.0, 4.0)], 0.25)
    assert seen and seen[-1].done and seen[-1].seconds == pytest.approx(6, abs=0.1)
    # the steady parts: no measurable jitter; the shaky part: far above the threshold
    jit = footage.jitter(an)
    assert max(j for t, j in zip(an.times, jit, strict=True) if t < 1.9 or t > 4.1) < footage.SHAKE_THRESHOLD / 1.5
    assert sorted(j for t, j in zip(an.times, jit, strict=True) if 2.1 < t < 3.9)[len(jit) // 12] > footage.SHAKE_THRESHOLD


def test_a_smooth_fast_pan_is_not_shake(clips, tmp_path):
    an = run(clips["pan"], 0, 4000, tmp_path)
    moving = [dx for (dx, _), n in zip(an.motion, an.fields, strict=True) if n]
    assert sorted(moving)[len(moving) // 2] > footage.SHAKE_THRESHOLD  # it does move, more than the threshold per frame
    assert footage.shaky_spans(an) == []


def test_a_window_of_the_shaky_clip_reports_the_shake_relative_to_its_start(clips, tmp_path):
    an = run(clips["shaky"], 1000, 4000, tmp_path)
    assert (an.start_ms, an.length_ms) == (1000, 4000) and an.times[0] == pytest.approx(0, abs=0.02)
    near(footage.shaky_spans(an), [(1.0, 3.0)], 0.25)


# -- black, frozen, silent -------------------------------------------------------------------------------------

def test_black_head_and_tail_frozen_middle_and_silence(clips, tmp_path):
    an = run(clips["events"], 0, 5000, tmp_path)
    assert an.has_audio
    near(footage.black_spans(an), [(0.0, 1.0), (4.0, 5.0)], 0.1)  # the tail is still black at EOF: runs to the end
    near(footage.frozen_spans(an), [(2.0, 3.0)], 0.15)  # black is black, not frozen
    near(footage.silent_spans(an), [(1.0, 2.0)], 0.15)
    # a window in the middle, analysed on its own (not cut from the memo): the spans re-based to it, cut at its edges
    analysis.forget()
    mid = run(clips["events"], 1500, 3000, tmp_path)
    near(footage.black_spans(mid), [(2.5, 3.0)], 0.1)
    near(footage.frozen_spans(mid), [(0.5, 1.5)], 0.15)
    near(footage.silent_spans(mid), [(0.0, 0.5)], 0.15)
    # a window that ends while black and silent: both spans run to its end
    analysis.forget()
    head = run(clips["events"], 0, 2000, tmp_path)
    near(footage.black_spans(head), [(0.0, 1.0)], 0.1)
    near(footage.silent_spans(head), [(1.0, 2.0)], 0.15)


def test_a_clip_without_sound_has_no_silent_spans(clips, tmp_path):
    an = run(clips["dull"], 0, 2000, tmp_path)
    assert not an.has_audio and an.silent == () and footage.silent_spans(an) == []


# -- grade -----------------------------------------------------------------------------------------------------

def test_a_dull_clip_gets_more_contrast_and_saturation(clips, tmp_path):
    grade = footage.auto_grade(run(clips["dull"], 0, 2000, tmp_path))
    assert grade is not None and grade["type"] == "adjust"
    assert grade["contrast"] > 110 and grade["saturation"] > 110
    assert 80 <= grade["contrast"] <= 180 and 60 <= grade["saturation"] <= 200 and abs(grade["brightness"]) <= 15


def test_the_grade_in_adjust_units_brings_a_dull_clip_to_neutral(clips, tmp_path):
    grade = footage.auto_grade(run(clips["dull"], 0, 2000, tmp_path))
    graded = _video(tmp_path / "graded.mp4", DULL + "," + adjust_eq(grade).filter())
    after = footage.levels(run(graded, 0, 2000, tmp_path))
    assert after["YLOW"] <= footage.LOW_MAX and after["YHIGH"] >= footage.HIGH_MIN - 10
    assert footage.SAT_BAND[0] <= after["SATAVG"] <= footage.SAT_BAND[1] + 3


def test_a_dark_clip_is_brightened_without_crushing_its_blacks(clips, tmp_path):
    an = run(clips["dark"], 0, 2000, tmp_path)
    m, grade = footage.levels(an), footage.auto_grade(an)
    assert m["YHIGH"] < 120 and grade is not None and grade["brightness"] > 5 and grade["contrast"] > 110
    assert grade["contrast"] / 100 * (m["YLOW"] - 128) + 128 + 2.55 * grade["brightness"] >= 16


def test_letterbox_bars_are_not_lifted(clips, tmp_path):
    # a quarter of the picture is black: the 10th percentile is video black, which is right, not crushed
    an = run(clips["letterbox"], 0, 2000, tmp_path)
    assert footage.levels(an)["YLOW"] <= 17 and footage.black_spans(an) == []
    assert footage.auto_grade(an) is None


def test_black_frames_do_not_drag_the_levels(clips, tmp_path):
    with_black = run(clips["dull_black"], 0, 3000, tmp_path)
    near(footage.black_spans(with_black), [(0.0, 1.0)], 0.1)
    dull = run(clips["dull"], 0, 2000, tmp_path)
    assert footage.levels(with_black)["YLOW"] == pytest.approx(footage.levels(dull)["YLOW"], abs=2)
    graded, plain = footage.auto_grade(with_black), footage.auto_grade(dull)
    assert graded is not None and plain is not None
    assert all(graded[k] == pytest.approx(plain[k], abs=3) for k in ("brightness", "contrast", "saturation"))


def test_a_clip_inside_the_neutral_band_is_left_alone(clips, tmp_path):
    # testsrc2 with half its saturation: levels 41/210, saturation ~52, all inside the bands
    assert footage.auto_grade(run(clips["normal"], 0, 2000, tmp_path)) is None


def test_a_generated_pattern_analyses_and_only_its_saturation_is_tamed(tmp_path):
    entry = {"gen": {"name": "pattern", "kind": "testsrc", "w": 320, "h": 180, "fps": 30.0}, "kind": "video", "w": 320,
             "h": 180, "fps": 30.0, "pix_fmt": "yuv420p", "audio": False, "d": 2000}
    an = run(entry, 500, 1000, tmp_path)
    assert (an.width, an.height, len(an.times), an.has_audio) == (480, 270, 30, False)
    assert an.times[0] == pytest.approx(0, abs=1e-6)
    assert footage.black_spans(an) == footage.frozen_spans(an) == footage.shaky_spans(an) == []
    # testsrc2's pure primaries measure SATAVG ~105, above the band (25–70): its levels are neutral, its colour is not
    grade = footage.auto_grade(an)
    assert grade is not None and (grade["brightness"], grade["contrast"]) == (0.0, 100.0)
    assert 60 <= grade["saturation"] < 75


def test_a_generated_tone_with_silence_is_heard(tmp_path):
    entry = {"gen": {"name": "pattern", "kind": "testsrc", "w": 320, "h": 180, "fps": 30.0, "tone": 440}, "kind": "video",
             "audio": True, "d": 2000}
    an = run(entry, 0, 2000, tmp_path)
    assert an.has_audio and footage.silent_spans(an) == []


def test_sound_alone_is_analysed_for_silence(tmp_path):
    entry = {"gen": {"name": "silence"}, "kind": "audio", "audio": True, "d": 2000}
    an = run(entry, 0, 2000, tmp_path)
    assert (an.width, an.times, an.has_audio) == (0, (), True)
    near(footage.silent_spans(an), [(0.0, 2.0)], 0.05)
    assert footage.shaky_spans(an) == footage.black_spans(an) == [] and footage.auto_grade(an) is None


def test_a_still_cannot_be_analysed(tmp_path):
    with pytest.raises(MediaError, match="still"):
        run({"kind": "image", "path": str(tmp_path / "x.png")}, 0, 1000, tmp_path)


def test_an_unreadable_file_is_a_render_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(RenderError):
        run({"kind": "video", "path": str(bad), "w": 320, "h": 180}, 0, 1000, tmp_path)


# -- cache -----------------------------------------------------------------------------------------------------

def _no_ffmpeg(monkeypatch):
    def fail(*args, **kw):
        raise AssertionError("FFmpeg ran although the analysis was cached")

    monkeypatch.setattr(analysis._ffmpeg, "run_ffmpeg", fail)


def test_a_second_analysis_comes_from_the_disk_cache(clips, tmp_path, monkeypatch):
    first = run(clips["events"], 0, 5000, tmp_path)
    assert len(list((tmp_path / "analysis").glob("*.json"))) == 1
    analysis.forget()
    _no_ffmpeg(monkeypatch)
    assert run(clips["events"], 0, 5000, tmp_path) == first
    assert Analysis.from_json(json.loads(json.dumps(first.to_json()))) == first


def test_a_window_inside_an_analysed_one_is_served_from_memory(clips, tmp_path, monkeypatch):
    whole = run(clips["shaky"], 0, 6000, tmp_path)
    _no_ffmpeg(monkeypatch)
    part = run(clips["shaky"], 1000, 4000, tmp_path / "elsewhere")
    assert (part.start_ms, part.length_ms) == (1000, 4000) and len(part.times) == 120
    assert part.times[0] == pytest.approx(0, abs=1e-6) and part.motion[0] == (0.0, 0.0)
    assert part.stats == whole.stats[30:150]
    near(footage.shaky_spans(part), [(1.0, 3.0)], 0.25)


def test_a_corrupt_cache_file_is_rewritten(clips, tmp_path, monkeypatch):
    path = analysis.cache_path(tmp_path, clips["dull"]["path"], 0, 2000)
    path.parent.mkdir(parents=True)
    path.write_text('{"revision": 1, "times": [0.0', encoding="utf-8")
    calls = []
    real = analysis._ffmpeg.run_ffmpeg
    monkeypatch.setattr(analysis._ffmpeg, "run_ffmpeg", lambda *a, **kw: (calls.append(a), real(*a, **kw)))
    an = run(clips["dull"], 0, 2000, tmp_path)
    assert len(calls) == 1
    assert Analysis.from_json(json.loads(path.read_text(encoding="utf-8"))) == an


def test_concurrent_requests_for_one_window_run_ffmpeg_once(clips, tmp_path, monkeypatch):
    calls = []
    real = analysis._ffmpeg.run_ffmpeg
    monkeypatch.setattr(analysis._ffmpeg, "run_ffmpeg", lambda *a, **kw: (calls.append(a), real(*a, **kw)))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run(clips["normal"], 0, 2000, tmp_path), range(4)))
    assert len(calls) == 1 and all(r == results[0] for r in results)


def test_window_rebases_and_cuts_spans():
    an = Analysis(start_ms=1000, length_ms=1000, width=480, height=270, times=(0.0, 0.25, 0.5, 0.75),
                  motion=((0, 0), (0.1, 0), (0.2, 0), (0.3, 0)), black=((0.0, 0.6),), frozen=(), silent=((0.4, 1.0),),
                  has_audio=True, stats=((1,) * 6, (2,) * 6, (3,) * 6, (4,) * 6), fields=(0, 5, 5, 5))
    part = an.window(0.25, 0.75)
    assert (part.start_ms, part.length_ms, part.times) == (1250, 500, (0.0, 0.25))
    assert part.motion == ((0.0, 0.0), (0.2, 0)) and part.fields == (0, 5)
    assert part.black == ((0.0, 0.35),) and part.silent == ((0.15, 0.5),)
