"""The `expect` checks a CI job can trust: each parses, checks, formats, and passes on a good file and fails on a bad one.

Measurements run on small generated files (`evaluate` directly, no render); the
slow tests render a recipe end to end for --update-golden, the JUnit report
with its failure pictures, and the exit code.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import ffmpeg
from renderkit import run_recipe

from nemoflow.core import codes
from nemoflow.core.diagnostics import RecipeError
from nemoflow.core.model import CheckKind, LooksLike, RunLimit, Tracks
from nemoflow.lang.check import check_file
from nemoflow.lang.fmt import format_source
from nemoflow.lang.parser import parse_module
from nemoflow.run.expect import MEASURES, ExpectOptions, evaluate

HEAD = 'nemo 1\nmedia m = pattern duration 2s\nedit e {\n  video m\n}\nexport final = e {\n  save "out/final.mp4"\n}\n'


def recipe(tmp: Path, *lines: str) -> Path:
    path = tmp / "r.nemo"
    path.write_text(HEAD + "expect final {\n" + "".join(f"  {ln}\n" for ln in lines) + "}\n", encoding="utf-8")
    return path


def checks(tmp: Path, *lines: str):
    return check_file(recipe(tmp, *lines)).steps["expect.final"].spec.checks


def errors(tmp: Path, line: str) -> list[tuple[str, str]]:
    try:
        check_file(recipe(tmp, line))
    except RecipeError as err:
        return [(d.code, d.message) for d in err.diagnostics]
    return []


# ---- language ------------------------------------------------------------------------------------------------

FORMS = [
    'frame at 5s looks like "golden/5s.png" ssim >= 0.97',
    'frame at 1.5s looks like "golden/a.png" psnr >= 35',
    "no black frames",
    "no black frames longer than 0.5s",
    "no frozen frames",
    "no frozen frames longer than 2s",
    "no silence longer than 2s",
    "av sync within 20ms",
    "audio channels == 2",
    "tracks == 1 video + 1 audio",
    "tracks == 1 video",
    "has no audio",
    "duration <= 12s",
]


@pytest.mark.parametrize("line", FORMS)
def test_each_form_formats_to_itself(line):
    text = f"nemo 1\nexpect final {{\n  {line}\n}}\n"
    assert format_source(text) == text


def test_fmt_canonical_spacing():
    messy = 'nemo 1\nexpect final {\n  frame   at 5s looks like "g.png"  ssim>=0.97\n  no   silence longer than 2s\n' \
            "  av  sync within 20ms\n  tracks==1 video+ 1 audio\n}\n"
    want = 'nemo 1\nexpect final {\n  frame at 5s looks like "g.png" ssim >= 0.97\n  no silence longer than 2s\n' \
           "  av sync within 20ms\n  tracks == 1 video + 1 audio\n}\n"
    assert format_source(messy) == want
    assert format_source(want) == want


def test_checks_are_typed(tmp_path):
    found = checks(tmp_path, 'frame at 5s looks like "golden/5s.png" ssim >= 0.97', "no black frames",
                   "no frozen frames longer than 2s", "no silence", "av sync within 20ms", "tracks == 1 video +1 audio",
                   "audio channels == 2")
    kinds = [c.kind for c in found]
    assert kinds == [CheckKind.LOOKS_LIKE, CheckKind.NO_BLACK, CheckKind.NO_FROZEN, CheckKind.NO_SILENCE, CheckKind.AV_SYNC,
                     CheckKind.TRACKS, CheckKind.PROPERTY]
    looks = found[0].value
    assert isinstance(looks, LooksLike) and looks.metric == "ssim" and looks.threshold == 0.97 and looks.at.seconds == 5
    assert looks.golden == (tmp_path / "golden" / "5s.png").resolve()  # relative to the recipe, like media paths
    assert found[1].value == RunLimit(found[1].value.longer_than, False) and found[1].value.longer_than.seconds == 0
    assert found[2].value.longer_than.seconds == 2 and found[2].value.written
    assert found[3].value.longer_than.seconds == 2  # the documented default for `no silence`
    assert found[4].value.seconds == pytest.approx(0.02)
    assert found[5].value == Tracks((("video", 1), ("audio", 1)))


def test_every_kind_has_a_measurement():
    assert set(MEASURES) == set(CheckKind)


@pytest.mark.parametrize(("line", "code", "words"), [
    ("no subtitles", codes.UNKNOWN_NO_CHECK, "unknown check `no subtitles`"),
    ("no silence longer 2s", codes.UNKNOWN_NO_CHECK, "longer than DURATION"),
    ("no silence longer than -1s", codes.BAD_LITERAL, "cannot be negative"),
    ("lip sync within 20ms", codes.UNKNOWN_WITHIN_CHECK, "unknown check `lip sync within`"),
    ("av sync within 0ms", codes.EXPECT_VALUE_RANGE, "above 0"),
    ('frame at 5s looks like "g.png" ssim >= 1.5', codes.EXPECT_VALUE_RANGE, "ssim goes from 0 to 1"),
    ('frame at 5s looks like "g.png" psnr >= -3', codes.EXPECT_VALUE_RANGE, "psnr goes from 0 to 100"),
    ('frame at 5s looks like "g.jpg" ssim >= 0.9', codes.GOLDEN_NOT_PNG, "must be a .png"),
    ('frame at 5s looks like "g.png" sharpness >= 0.9', codes.LOOKS_LIKE_FORM, "unknown picture metric"),
    ('frame at 5s like "g.png" ssim >= 0.9', codes.LOOKS_LIKE_FORM, "frame at TIME looks like"),
    ('frame at 5s looks like "g.png" ssim == 0.9', codes.UNORDERED_COMPARISON, "compared with >="),
    ("tracks == 1 video + audio", codes.TRACKS_FORM, "N video + N audio"),
    ("tracks == 1 video + 1 video", codes.TRACKS_FORM, "each type once"),
    ("tracks == 1 sound", codes.TRACKS_FORM, "N video + N audio"),
    ("tracks < 2 video", codes.UNORDERED_COMPARISON, "== or !="),
    ("duration == 2s + 1s", codes.TRACKS_FORM, "one value"),
    ("audio channels == stereo", None, "audio channels"),
])
def test_check_errors(tmp_path, line, code, words):
    found = errors(tmp_path, line)
    assert found, f"{line!r} was accepted"
    if code is not None:
        assert found[0][0] == code.id, found
    assert words in found[0][1], found


def test_error_positions(tmp_path):
    try:
        check_file(recipe(tmp_path, 'frame at 5s looks like "g.png" ssim >= 1.5'))
    except RecipeError as err:
        d = err.diagnostics[0]
        assert (d.span.line, d.span.column) == (10, 42)  # the threshold
    else:  # pragma: no cover
        raise AssertionError("accepted")


@pytest.mark.parametrize(("line", "message"), [
    ("duration", "an expect line compares a property with a value"),
    ("duration 12s", "an expect line compares a property with a value"),
    ('frame at 5s looks like "g.png"', "an expect line compares a property with a value"),
    ('frame at 5s looks like "g.png" ssim >=', "missing value after the comparison"),
    ("av sync within", "`within` takes a duration"),
    ("no", "`no` names what must not be in the file"),
])
def test_parse_errors_say_what_to_write(line, message):
    with pytest.raises(RecipeError) as info:
        parse_module(f"nemo 1\nexpect a {{\n  {line}\n}}\n", "r.nemo")
    d = info.value.diagnostics[0]
    assert d.message == message
    assert d.span.line == 3
    assert d.help


# ---- media for the measurements ------------------------------------------------------------------------------

def _av(path: Path, vf: str = "", af: str = "", *, extra: tuple[str, ...] = (), duration: float = 3.0) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=s=160x90:r=25:d={duration}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}"]
    if vf:
        args += ["-vf", vf]
    if af:
        args += ["-af", af]
    ffmpeg(*args, "-map", "0:v", "-map", "1:a", *extra, "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
           "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("expect-media")
    out = {
        "good": _av(d / "good.mp4"),
        "black": _av(d / "black.mp4", vf="drawbox=c=black:t=fill:enable='between(t,1,1.6)'"),
        "black_fade": _av(d / "black_fade.mp4", vf="fade=in:d=0.6"),
        "frozen": _av(d / "frozen.mp4", vf="split[a][b];[a][b]freezeframes=first=25:last=60:replace=25"),
        "silent": _av(d / "silent.mp4", af="volume=enable='between(t,0.5,2.9)':volume=0"),
    }
    ffmpeg("-i", str(out["good"]), "-map", "0:v", "-map", "0:a", "-map", "0:a", "-c", "copy", str(d / "two_audio.mp4"))
    ffmpeg("-i", str(out["good"]), "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-ac", "1", "-c:a", "aac", str(d / "mono.mp4"))
    ffmpeg("-i", str(out["good"]), "-itsoffset", "0.1", "-i", str(out["good"]), "-map", "0:v", "-map", "1:a", "-c", "copy",
           str(d / "offset.mp4"))
    out.update(two_audio=d / "two_audio.mp4", mono=d / "mono.mp4", offset=d / "offset.mp4")
    return out


def _one(tmp: Path, line: str, path: Path, **options):
    found = checks(tmp, line)
    opts = ExpectOptions(artifacts=tmp / "artifacts", **options)
    [result] = evaluate(path, found, options=opts, name="expect.final")
    return result


@pytest.mark.parametrize(("line", "bad", "actual"), [
    ("no black frames", "black", "black from 1s to 1.64s"),
    ("no black frames longer than 0.5s", "black", "black from 1s"),
    ("no frozen frames", "frozen", "frozen from 1."),
    ("no frozen frames longer than 1s", "frozen", "to 2.44s"),
    ("no silence longer than 2s", "silent", "silent from 0.5"),
    ("no silence", "silent", "silent from 0.5"),
    ("av sync within 20ms", "offset", "after the video"),
    ("audio channels == 2", "mono", "1"),
    ("tracks == 1 video + 1 audio", "two_audio", "1 video + 2 audio"),
])
def test_each_check_passes_on_good_and_fails_on_bad(tmp_path, media, line, bad, actual):
    good = _one(tmp_path, line, media["good"])
    assert good.ok, (line, good.actual)
    failed = _one(tmp_path, line, media[bad])
    assert not failed.ok, (line, failed.actual)
    assert actual in failed.actual
    assert failed.expected  # a sentence, for the report and the JUnit XML


def test_detectors_measure_what_was_generated(tmp_path, media):
    black = _one(tmp_path, "no black frames", media["black"])
    assert "black from 1s to 1.64s" in black.actual  # drawbox on 1 s <= t <= 1.6 s: frames 25-40, the last ends at 1.64 s
    frozen = _one(tmp_path, "no frozen frames", media["frozen"])
    # frames 25-60 at 25 fps repeat frame 25 (1 s to 2.44 s); the encoder still refines the repeated picture for a few
    # frames, which freezedetect at -60 dB sees as change, so the freeze is found a little after it starts
    start = float(frozen.actual.split("from ")[1].split("s")[0])
    assert 1.0 <= start <= 1.3 and "to 2.44s" in frozen.actual
    silent = _one(tmp_path, "no silence", media["silent"])
    start = float(silent.actual.split("from ")[1].split("s")[0])
    assert 0.45 <= start <= 0.6


def test_longer_than_lets_short_runs_through(tmp_path, media):
    assert _one(tmp_path, "no black frames longer than 1s", media["black"]).ok  # the gap is 0.6 s
    assert _one(tmp_path, "no frozen frames longer than 2s", media["frozen"]).ok  # the freeze is 1.4 s
    assert _one(tmp_path, "no silence longer than 3s", media["silent"]).ok


def test_a_short_fade_from_black_is_not_a_black_frame(tmp_path, media):
    assert _one(tmp_path, "no black frames", media["black_fade"]).ok
    strict = _one(tmp_path, "no black frames longer than 0s", media["black_fade"])  # every black frame counts
    assert not strict.ok and "black from 0s" in strict.actual


def test_one_decode_pass_for_all_detectors(tmp_path, media, monkeypatch):
    from nemoflow.media import measure

    calls = []
    real = measure.detect
    monkeypatch.setattr(measure, "detect", lambda *a, **k: calls.append(k) or real(*a, **k))
    found = checks(tmp_path, "no black frames", "no frozen frames", "no silence longer than 2s")
    results = evaluate(media["black"], found, options=ExpectOptions())
    assert [r.ok for r in results] == [False, True, True]
    assert len(calls) == 1 and all(calls[0][k] is not None for k in ("black", "frozen", "silence"))


def test_detector_failure_artifact_is_the_first_offending_frame(tmp_path, media):
    failed = _one(tmp_path, "no black frames", media["black"])
    [png] = failed.artifacts
    assert png.name == "expect.final-1-black_frames-first-black.png" and png.parent == tmp_path / "artifacts"
    with av.open(str(png)) as c:
        picture = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert picture.shape == (90, 160, 3) and picture.max() < 30  # black


def test_av_sync_reports_both_ends(tmp_path, media):
    failed = _one(tmp_path, "av sync within 20ms", media["offset"])
    assert "starts" in failed.actual and "ends" in failed.actual
    assert _one(tmp_path, "av sync within 150ms", media["offset"]).ok


def test_checks_on_a_file_without_audio_fail_clearly(tmp_path):
    silent_video = tmp_path / "v.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=1", "-c:v", "libx264", "-preset", "ultrafast", str(silent_video))
    for line, words in (("no silence", "no audio"), ("av sync within 20ms", "no audio stream"),
                        ("audio channels == 2", "nothing")):
        result = _one(tmp_path, line, silent_video)
        assert not result.ok and words in result.actual
    assert _one(tmp_path, "tracks == 1 video", silent_video).ok


# ---- golden pictures -----------------------------------------------------------------------------------------

def test_golden_missing_then_written_then_compared(tmp_path, media):
    line = 'frame at 1.5s looks like "golden/mid.png" ssim >= 0.97'
    golden = tmp_path / "golden" / "mid.png"
    missing = _one(tmp_path, line, media["good"])
    assert not missing.ok and "--update-golden" in missing.actual and not golden.exists()
    assert [p.name for p in missing.artifacts] == ["expect.final-1-frame-actual.png"]  # the frame, to look at
    written = _one(tmp_path, line, media["good"], update_golden=True)
    assert written.ok and written.golden_written == golden.resolve() and golden.is_file()
    again = _one(tmp_path, line, media["good"])
    assert again.ok and "ssim" in again.actual
    psnr = _one(tmp_path, 'frame at 1.5s looks like "golden/mid.png" psnr >= 35', media["good"])
    assert psnr.ok and "inf" in psnr.actual  # the same decoded frame: identical


def test_golden_that_differs_fails_with_both_pictures(tmp_path, media):
    _one(tmp_path, 'frame at 0.5s looks like "golden/g.png" ssim >= 0.97', media["good"], update_golden=True)
    failed = _one(tmp_path, 'frame at 1.5s looks like "golden/g.png" ssim >= 0.97', media["black"])  # black at 1.5 s
    assert not failed.ok and failed.actual.startswith("ssim 0.")
    assert [p.name for p in failed.artifacts] == ["expect.final-1-frame-actual.png", "expect.final-1-frame-golden.png"]
    assert all(p.is_file() for p in failed.artifacts)


def test_frame_shown_at_a_time_is_the_one_before_it(tmp_path, media):
    """At 25 fps, 1.03 s shows the frame of 1.00 s (the next one starts at 1.04 s)."""
    _one(tmp_path, 'frame at 1s looks like "golden/a.png" psnr >= 35', media["good"], update_golden=True)
    assert _one(tmp_path, 'frame at 1.03s looks like "golden/a.png" psnr >= 90', media["good"]).ok
    assert not _one(tmp_path, 'frame at 1.04s looks like "golden/a.png" psnr >= 90', media["good"]).ok


def test_golden_size_mismatch_is_a_failure_not_a_crash(tmp_path, media):
    golden = tmp_path / "golden" / "small.png"
    golden.parent.mkdir()
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=80x46", "-frames:v", "1", "-update", "1", str(golden))
    failed = _one(tmp_path, 'frame at 1s looks like "golden/small.png" ssim >= 0.9', media["good"])
    assert not failed.ok and "160x90" in failed.actual and "80x46" in failed.actual


def test_no_frame_past_the_end(tmp_path, media):
    failed = _one(tmp_path, 'frame at 9s looks like "golden/x.png" ssim >= 0.9', media["good"], update_golden=True)
    assert not failed.ok and "no frame at 9s" in failed.actual
    assert not (tmp_path / "golden" / "x.png").exists()


def test_golden_never_written_without_the_flag(tmp_path, media):
    golden = tmp_path / "golden" / "mine.png"
    golden.parent.mkdir()
    golden.write_bytes(b"not a png, and not nemoflow's")
    failed = _one(tmp_path, 'frame at 1s looks like "golden/mine.png" ssim >= 0.9', media["good"])
    assert not failed.ok and "not a PNG" in failed.actual
    assert golden.read_bytes() == b"not a png, and not nemoflow's"


# ---- end to end ----------------------------------------------------------------------------------------------

E2E = '''nemo 1
media bars = pattern testsrc duration 2s size 160x90 tone 440hz
edit cut {
  video bars
}
export final = cut {
  size 160x90
  save "out/final.mp4"
}
expect final {
  frame at 1s looks like "golden/1s.png" ssim >= 0.97
  no black frames
  no frozen frames
  av sync within 30ms
  tracks == 1 video + 1 audio
}
'''


@pytest.mark.slow
def test_update_golden_then_pass_then_fail_with_artifacts_in_junit(tmp_path):
    junit = tmp_path / "reports" / "junit.xml"
    first = run_recipe(tmp_path, E2E, "--junit", str(junit))
    assert first.exit_code == 1  # a failed check: the exit code expects always had
    case = _case(junit, "frame at 1s")
    assert case.find("failure") is not None and "--update-golden" in case.find("failure").get("message")
    attached = _attachments(case)
    assert attached == [str(tmp_path / "reports" / "junit-artifacts" / "expect.final-1-frame-actual.png")]
    assert Path(attached[0]).is_file()
    assert "saved " + attached[0] in first.output  # the terminal says where to look

    written = run_recipe(tmp_path, E2E, "--update-golden", "--junit", str(junit))
    assert written.exit_code == 0, written.output
    assert (tmp_path / "golden" / "1s.png").is_file()
    assert "golden written: golden/1s.png" in written.output or "golden written" in written.output
    assert "golden written" in (_case(junit, "frame at 1s").findtext("system-out") or "")
    assert not Path(attached[0]).exists()  # the step ran again and passed: its old failure picture is gone

    again = run_recipe(tmp_path, E2E, "--junit", str(junit))
    assert again.exit_code == 0, again.output
    assert _case(junit, "frame at 1s").find("failure") is None

    # the golden changes (another picture): the expect runs again and fails, saving both pictures
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=160x90", "-frames:v", "1", "-update", "1", str(tmp_path / "golden" / "1s.png"))
    bad = run_recipe(tmp_path, E2E, "--junit", str(junit))
    assert bad.exit_code == 1
    names = [Path(p).name for p in _attachments(_case(junit, "frame at 1s"))]
    assert names == ["expect.final-1-frame-actual.png", "expect.final-1-frame-golden.png"]
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "1"


@pytest.mark.slow
def test_without_junit_artifacts_go_to_the_state_folder(tmp_path):
    result = run_recipe(tmp_path, E2E.replace("no black frames", "no black frames longer than 0s")
                        .replace("pattern testsrc duration 2s size 160x90 tone 440hz", "color black duration 2s size 160x90"))
    assert result.exit_code == 1
    saved = [ln.split("saved ", 1)[1].strip() for ln in result.output.splitlines() if "saved " in ln]
    assert saved and all(Path(p).is_file() and ".nemoflow" in p for p in saved)
    first_black = next(p for p in saved if "first-black" in p)
    with av.open(first_black) as c:
        assert np.asarray(next(c.decode(video=0)).to_ndarray(format="rgb24")).max() < 30


def _case(junit: Path, starts: str) -> ET.Element:
    root = ET.parse(junit).getroot()
    return next(c for c in root.iter("testcase") if c.get("name", "").startswith(starts))


def _attachments(case: ET.Element) -> list[str]:
    text = case.findtext("system-out") or ""
    return [ln[len("[[ATTACHMENT|"):-2] for ln in text.splitlines() if ln.startswith("[[ATTACHMENT|")]
