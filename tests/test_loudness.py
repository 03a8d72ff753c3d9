"""`loudness -14 LUFS peak -1 dBTP`: the literals, the checker's word on them, and renders measured by FFmpeg's ebur128.

The reference meter is FFmpeg's own `ebur128` filter (true-peak mode), run here directly on the output file and
its summary read, so the operation is judged by a meter it does not share code with.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from mediagen import ffmpeg
from renderkit import run_recipe

from nemoflow.core.values import Decibels, Loudness, TruePeak
from nemoflow.lang.fmt import format_source
from nemoflow.lang.literals import LiteralError, read_quantity
from nemoflow.media.ffmpeg import ffmpeg_exe
from nemoflow.media.loudness import parse_ebur128_summary


def reference(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) by `ebur128=peak=true`'s summary, independently of nemoflow."""
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0", "-af",
                          "ebur128=peak=true:framelog=quiet", "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    summary = err[err.rindex("Summary:"):]
    i = float(re.search(r"I:\s+(\S+) LUFS", summary).group(1))
    tp = float(re.search(r"Peak:\s+(\S+) dBFS", summary).group(1))
    return i, tp


# ---- literals ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("-14 LUFS", Loudness(-14)), ("-14LUFS", Loudness(-14)), ("-23 lufs", Loudness(-23)), ("-23.5 LKFS", Loudness(-23.5)),
    ("-1 dBTP", TruePeak(-1)), ("-1dbtp", TruePeak(-1)), ("-2.5 DBTP", TruePeak(-2.5)), ("-6 dB", Decibels(-6)),
])
def test_loudness_literals(text, value):
    assert read_quantity(text) == value


@pytest.mark.parametrize(("text", "hint"), [("-14LFUS", "-14LUFS"), ("-14lu", "-14LUFS"), ("-1dBFS", "-1dBTP"),
                                            ("-1dBTB", "-1dBTP")])
def test_misspelt_loudness_unit_says_what_was_meant(text, hint):
    with pytest.raises(LiteralError) as exc:
        read_quantity(text)
    assert f"did you mean `{hint}`" in exc.value.help
    assert text[exc.value.offset:exc.value.offset + exc.value.length] == text.lstrip("+-0123456789.")


def test_shown_as_written_and_formatted_unchanged():
    assert str(Loudness(-14)) == "-14 LUFS" and str(TruePeak(-1.5)) == "-1.5 dBTP"
    src = "nemo 1\nmedia c = pattern duration 2s tone 440hz\nedit e {\n  video c\n  loudness -14 LUFS peak -1 dBTP\n}\n"
    assert format_source(src) == src
    assert format_source(src.replace("-14 LUFS", "-14LUFS")) == src.replace("-14 LUFS", "-14LUFS")
    checks = "expect e {\n  loudness ~= -14 LUFS\n  true peak <= -1 dBTP\n}\n"
    assert format_source("nemo 1\n" + checks) == "nemo 1\n" + checks


# ---- the checker ------------------------------------------------------------------------------------------------

EDIT = "nemo 1\nmedia c = pattern duration 2s size 320x180 tone 440hz\nedit e {{\n  video c\n  {clause}\n}}\n"


@pytest.mark.parametrize(("clause", "message", "help_text"), [
    ("loudness -3 LUFS", "`loudness` -3 LUFS is out of range", "use a value from -70 LUFS to -5 LUFS"),
    ("loudness -80 LUFS", "`loudness` -80 LUFS is out of range", "use a value from -70 LUFS to -5 LUFS"),
    ("loudness -14 LUFS peak 1 dBTP", "`peak` 1 dBTP is out of range", "use a value from -9 dBTP to 0 dBTP"),
    ("loudness -14", "`loudness` takes a loudness like `-14 LUFS`, got a number `-14`", "add a unit: `-14 LUFS`"),
    ("loudness -14 LUFS peak -1dB", "`peak` takes a true-peak level like `-1 dBTP`", "write the level in dBTP: `-1 dBTP`"),
    ("loudness -1 dBTP", "`loudness` takes a loudness like `-14 LUFS`, got a true-peak level", None),
])
def test_check_refuses_what_cannot_be_delivered(tmp_path, cli, clause, message, help_text):
    path = tmp_path / "r.nemo"
    path.write_text(EDIT.format(clause=clause), encoding="utf-8")
    result = cli("check", str(path))
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert "r.nemo:5:" in result.stderr
    if help_text:
        assert help_text in result.stderr


def test_nemo_engine_says_it_cannot_level_loudness(tmp_path, cli):
    path = tmp_path / "r.nemo"
    path.write_text(EDIT.format(clause="loudness -14 LUFS").replace("nemo 1\n", "nemo 1\nengine nemo\n"), encoding="utf-8")
    result = cli("check", str(path))
    assert result.exit_code == 2
    assert "E406" in result.stderr or "no loudness normalization" in result.stderr
    assert "--engine local" in result.stderr


# ---- renders ----------------------------------------------------------------------------------------------------

def _noisy_clip(path: Path, *, level: float = 0.05, seconds: float = 3.0) -> Path:
    """A clip whose sound is quiet speech-like noise (pink noise gated at 3 Hz) with a few loud transients."""
    audio = (f"anoisesrc=d={seconds}:c=pink:a={level}:r=48000:seed=7,"
             "volume='0.25+0.75*gt(sin(2*PI*3*t),0)':eval=frame,"
             f"aeval='val(0)+if(lt(mod(t,0.7),0.004),{min(0.9, level * 12)},0)|val(0)*0.8':c=stereo")
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=320x180:r=30:d={seconds}", "-f", "lavfi", "-i", audio,
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "192k", "-shortest", str(path))
    return path


def _recipe(clause: str, save: str = "out/o.mp4") -> str:
    return ("nemo 1\nmedia clip = \"clip.mp4\"\nmedia bed = tone 220hz duration 3s\n"
            f"edit e {{\n  video clip\n  music bed volume 20%\n  {clause}\n}}\n"
            f"export o = e {{\n  size 320x180\n  quality draft\n  save \"{save}\"\n}}\n")


@pytest.mark.slow
@pytest.mark.parametrize(("clause", "target", "ceiling"), [
    ("loudness -14 LUFS", -14.0, -1.0),
    ("loudness -23 LUFS peak -2 dBTP", -23.0, -2.0),
])
def test_render_reaches_the_target_by_ebur128(tmp_path, monkeypatch, clause, target, ceiling):
    monkeypatch.chdir(tmp_path)
    _noisy_clip(tmp_path / "clip.mp4")
    before, _ = reference(tmp_path / "clip.mp4")
    result = run_recipe(tmp_path, _recipe(clause))
    assert result.exit_code == 0, result.output
    i, tp = reference(tmp_path / "out/o.mp4")
    assert abs(i - target) <= 0.5, (before, i, tp)
    assert tp <= ceiling + 0.1, (i, tp)
    assert abs(before - target) > 3  # the source was far from the target: the operation did the work


@pytest.mark.slow
def test_loud_peaky_programme_is_limited_not_clipped(tmp_path, monkeypatch):
    """Transients far above the programme: a plain gain to -14 LUFS would put them over 0 dBTP."""
    monkeypatch.chdir(tmp_path)
    _noisy_clip(tmp_path / "clip.mp4", level=0.02)
    result = run_recipe(tmp_path, _recipe("loudness -14 LUFS peak -1 dBTP"))
    assert result.exit_code == 0, result.output
    i, tp = reference(tmp_path / "out/o.mp4")
    assert abs(i + 14) <= 0.5 and tp <= -0.9, (i, tp)


@pytest.mark.slow
def test_silent_programme_is_left_silent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=2", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-t", "2", str(tmp_path / "clip.mp4"))
    text = ("nemo 1\nmedia clip = \"clip.mp4\"\nedit e {\n  video clip\n  loudness -14 LUFS\n}\n"
            "export o = e {\n  size 320x180\n  quality draft\n  save \"out/o.mp4\"\n}\n")
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    from nemoflow.media.loudness import measure_loudness

    report = measure_loudness(tmp_path / "out/o.mp4")
    assert report.integrated is None and report.silent  # no -inf, no NaN: no loudness at all
    assert report.to_json()["integrated"] is None


def test_ebur128_summary_of_silence_reads_as_no_loudness():
    log = ("[Parsed_ebur128_0 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         -70.0 LUFS\n"
           "    Threshold:   0.0 LUFS\n\n  Loudness range:\n    LRA:         0.0 LU\n    Threshold:   0.0 LUFS\n"
           "    LRA low:     0.0 LUFS\n    LRA high:    0.0 LUFS\n\n  True peak:\n    Peak:       -inf dBFS\n")
    report = parse_ebur128_summary(log)
    assert report.integrated is None and report.true_peak is None and report.lra == 0.0


@pytest.mark.slow
def test_measurement_is_cached_by_content(tmp_path, monkeypatch):
    """A second render that changes only a title measures nothing again; a changed source is measured anew."""
    import nemoflow.engines.local.export as export

    calls: list[str] = []
    real = export.run_ffmpeg

    def spy(args, *, what, **kw):
        calls.append(what)
        return real(args, what=what, **kw)

    monkeypatch.setattr(export, "run_ffmpeg", spy)
    monkeypatch.chdir(tmp_path)
    _noisy_clip(tmp_path / "clip.mp4", seconds=2.0)
    assert run_recipe(tmp_path, _recipe("loudness -14 LUFS")).exit_code == 0
    measuring = [w for w in calls if "loudness" in w]
    assert measuring and any("measuring" in w for w in measuring)
    calls.clear()
    retitled = _recipe("loudness -14 LUFS\n  title \"Hello\"")
    assert run_recipe(tmp_path, retitled).exit_code == 0
    assert calls and not [w for w in calls if "loudness" in w], calls  # rendered, not measured
    calls.clear()
    _noisy_clip(tmp_path / "clip.mp4", level=0.1, seconds=2.0)
    assert run_recipe(tmp_path, retitled).exit_code == 0
    assert [w for w in calls if "measuring" in w], calls
    i, _ = reference(tmp_path / "out/o.mp4")
    assert abs(i + 14) <= 0.5


def test_old_drafts_without_loudness_stay_valid_and_new_ones_validate():
    from nemoflow.draft.model import Draft
    from nemoflow.draft.schema import checked

    base = {"t": [{"tt": 0, "sg": [{"st": 0, "d": 1000, "m": {"src": "a"}}]}],
            "m": {"media": {"a": {"kind": "video", "gen": {"name": "pattern"}, "d": 1000}}}}
    checked(Draft.from_json(base), "an old draft")
    with_level = Draft.from_json({**base, "m": {**base["m"], "loudness": {"i": -14.0, "tp": -1.0}}})
    assert checked(with_level, "a new draft").m["loudness"] == {"i": -14.0, "tp": -1.0}
    from nemoflow.errors import DraftError

    with pytest.raises(DraftError):
        checked(Draft.from_json({**base, "m": {**base["m"], "loudness": {"i": 3.0}}}), "a bad draft")


# ---- expect loudness / true peak --------------------------------------------------------------------------------

EXPECT = """nemo 1
media clip = "clip.mp4"
edit e {{
  video clip
  {clause}
}}
export final = e {{
  size 320x180
  quality draft
  save "out/o.mp4"
}}
expect final {{
  {line}
}}
"""


def _checks(tmp: Path, line: str, clause: str = "loudness -14 LUFS"):
    from nemoflow.lang.check import check_file

    path = tmp / "x.nemo"
    text = EXPECT.format(clause=clause, line=line).replace('"clip.mp4"', "pattern duration 2s size 320x180 tone 440hz")
    path.write_text(text, encoding="utf-8")
    return check_file(path).steps["expect.final"].spec.checks


def _levelled(tmp: Path, name: str, *, noise: str, gain_db: float = 0.0) -> Path:
    """A file whose sound is noise at a known level (`noise` colour and amplitude, then a gain)."""
    path = tmp / name
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=3", "-f", "lavfi", "-i",
           f"anoisesrc=d=3:{noise}:r=48000:seed=3,volume={gain_db}dB,aformat=channel_layouts=stereo",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "192k", "-shortest", str(path))
    return path


@pytest.fixture(scope="module")
def levels(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("loudness-expect")
    # pink noise at amplitude 0.17 measures -30.4 LUFS: +16.4 dB puts it at -14 LUFS, with its peaks under -1 dBTP
    return {"quiet": _levelled(d, "quiet.mp4", noise="c=pink:a=0.02"), "web": _levelled(d, "web.mp4", noise="c=pink:a=0.17",
                                                                                       gain_db=16.4),
            "hot": _levelled(d, "hot.mp4", noise="c=white:a=0.9")}


def _evaluate(tmp: Path, line: str, path: Path):
    from nemoflow.run.expect import evaluate

    [result] = evaluate(path, _checks(tmp, line), name="expect.final")
    return result


def test_expect_loudness_is_checked_at_check_time(tmp_path):
    from nemoflow.core.diagnostics import RecipeError

    assert _checks(tmp_path, "loudness ~= -14 LUFS")[0].subject == "loudness"
    assert _checks(tmp_path, "true peak <= -1 dBTP")[0].subject == "true peak"
    for line, words in (("loudness ~= -14", "takes a loudness like `-14 LUFS`"), ("true peak <= -1 LUFS", "true-peak level"),
                        ("true peak ~= -1 dBTP", "`~=`")):
        with pytest.raises(RecipeError) as err:
            _checks(tmp_path, line)
        assert words in str(err.value.diagnostics[0].message), err.value.diagnostics[0].message


def test_expect_loudness_passes_near_the_target_and_fails_far_from_it(tmp_path, levels):
    web_i, _ = reference(levels["web"])
    assert abs(web_i + 14) <= 0.8, web_i  # the fixture: noise at about -14 LUFS
    good = _evaluate(tmp_path, "loudness ~= -14 LUFS", levels["web"])
    assert good.ok, good.actual
    bad = _evaluate(tmp_path, "loudness ~= -14 LUFS", levels["quiet"])
    quiet_i, _ = reference(levels["quiet"])
    assert not bad.ok
    assert bad.expected == "loudness ~= -14 LUFS"
    assert bad.actual.startswith(f"{quiet_i:.1f} LUFS"), (bad.actual, quiet_i)
    ordered = _evaluate(tmp_path, "loudness <= -16 LUFS", levels["quiet"])
    assert ordered.ok, ordered.actual


def test_expect_true_peak(tmp_path, levels):
    _, hot_tp = reference(levels["hot"])
    good = _evaluate(tmp_path, "true peak <= -1 dBTP", levels["web"])
    assert good.ok, good.actual
    bad = _evaluate(tmp_path, "true peak <= -1 dBTP", levels["hot"])
    assert not bad.ok
    assert bad.expected == "true peak <= -1 dBTP"
    assert bad.actual.startswith(f"{hot_tp:.1f} dBTP"), (bad.actual, hot_tp)


def test_expect_loudness_on_silence_and_no_audio_fails_clearly(tmp_path):
    silent, mute = tmp_path / "silent.mp4", tmp_path / "mute.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=2", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-t", "2", str(silent))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=2", "-c:v", "libx264", "-preset", "ultrafast", str(mute))
    quiet = _evaluate(tmp_path, "loudness ~= -14 LUFS", silent)
    assert not quiet.ok and "silent" in quiet.actual
    assert "nan" not in quiet.actual.lower() and "inf" not in quiet.actual.lower()
    assert _evaluate(tmp_path, "loudness <= -14 LUFS", silent).ok  # silence is quieter than any level
    none = _evaluate(tmp_path, "true peak <= -1 dBTP", mute)
    assert not none.ok and "no audio" in none.actual


@pytest.mark.slow
def test_recipe_with_loudness_passes_its_own_expect(tmp_path, monkeypatch):
    """End to end: the operation and the check agree (`nemoflow run` exits 0 with both checks passing)."""
    monkeypatch.chdir(tmp_path)
    _noisy_clip(tmp_path / "clip.mp4")
    text = EXPECT.format(clause="loudness -14 LUFS", line="loudness ~= -14 LUFS\n  true peak <= -1 dBTP")
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    failing = EXPECT.format(clause="volume 30%", line="loudness ~= -14 LUFS")
    result = run_recipe(tmp_path, failing, name="bad.nemo")
    assert result.exit_code != 0
    assert "loudness ~= -14 LUFS" in result.output and "LUFS" in result.output
