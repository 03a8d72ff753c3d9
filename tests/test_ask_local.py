"""`ask` on the local engine, end to end: real footage made here, analysed, cut or graded, rendered, probed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import make_black_ends, make_dull, make_shaky, make_video
from renderkit import frame_at
from runnerkit import events, finished, nf

from nemoflow.media.probe import probe

EXPORT = """
export out = {base} {{
  size 320x180
  quality draft
  save "out/{name}.mp4"
}}
"""


def recipe(root: Path, body: str, *, base: str = "fixed", name: str = "out") -> Path:
    path = root / "r.nemo"
    path.write_text("nemo 1\n\n" + body + EXPORT.format(base=base, name=name), encoding="utf-8")
    return path


def ask_draft(path: Path, step: str = "ask.fixed") -> dict:
    result = nf("draft", path, "--step", step)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[step]["draft"]


def video_segments(draft: dict) -> list[dict]:
    return next(t for t in draft["t"] if t["tt"] == 0)["sg"]


def test_the_shaky_middle_is_cut_within_a_quarter_second_of_the_truth(tmp_path):
    make_shaky(tmp_path / "walk.mp4", shaky=(2.0, 4.0), duration=6.0)
    path = recipe(tmp_path, 'media walk = "walk.mp4"\nask fixed = walk "trim the shaky clips"\n')
    segs = video_segments(ask_draft(path))
    assert len(segs) == 2
    first, second = segs
    assert abs(first["m"]["in"] + first["d"] - 2000) <= 250  # where the shake starts
    assert abs(second["m"]["in"] - 4000) <= 250  # where it ends
    assert abs(second["m"]["in"] + second["d"] - 6000) <= 40

    result = nf("run", path, "--json")
    assert result.exit_code == 0, result.output
    info = probe(tmp_path / "out" / "out.mp4")
    assert abs(info.duration - 4.0) <= 0.5 and (info.video.width, info.video.height) == (320, 180) and info.audio is not None
    did = [e["text"] for e in events(result) if e["event"] == "step-message" and e["kind"] == "did"]
    assert len(did) == 1 and did[0].startswith("cut 1 shaky span")
    diff = [e["text"] for e in events(result) if e["event"] == "step-message" and e["kind"] == "diff"]
    assert diff and "--- media.walk" in diff[0] and '"in"' in diff[0]


def test_a_black_head_and_tail_are_removed(tmp_path):
    make_black_ends(tmp_path / "take.mp4", head=1.0, body=3.0, tail=1.0)
    path = recipe(tmp_path, 'media take = "take.mp4"\nask fixed = take "cut the black frames"\n')
    result = nf("run", path)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "out.mp4"
    assert abs(probe(out).duration - 3.0) <= 0.15
    assert frame_at(out, 0.0).mean() > 40 and frame_at(out, 2.9).mean() > 40  # pattern at both ends, no black left
    assert "cut 2 black spans" in result.output


def _contrast_and_saturation(path: Path) -> tuple[float, float]:
    """Luma spread (90th − 10th percentile) and mean chroma distance from grey, over every frame."""
    ys, sats = [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yuv = f.to_ndarray(format="yuv444p").astype(np.float64)
            ys.append(np.percentile(yuv[0], 90) - np.percentile(yuv[0], 10))
            sats.append(np.hypot(yuv[1] - 128, yuv[2] - 128).mean())
    return float(np.mean(ys)), float(np.mean(sats))


def test_grading_a_dull_clip_raises_contrast_and_saturation_measurably(tmp_path):
    dull = make_dull(tmp_path / "haze.mp4", duration=2.0)
    path = recipe(tmp_path, 'media haze = "haze.mp4"\nask fixed = haze "color grade"\n')
    result = nf("run", path)
    assert result.exit_code == 0, result.output
    c0, s0 = _contrast_and_saturation(dull)
    c1, s1 = _contrast_and_saturation(tmp_path / "out" / "out.mp4")
    assert c1 > 1.3 * c0, (c0, c1)
    assert s1 > 1.3 * s0, (s0, s1)
    assert re.search(r"color grade \(measured\): clip 1: contrast \d+%", result.output)


def test_the_grade_judges_a_clip_as_the_edit_left_it(tmp_path):
    source = make_video(tmp_path / "pic.mp4", size=(320, 180), duration=1.0)
    body = 'media pic = "pic.mp4"\nedit flat {\n  video pic\n  adjust contrast 50% saturation 40%\n}\nask fixed = flat "color grade"\n'
    result = nf("run", recipe(tmp_path, body))
    assert result.exit_code == 0, result.output
    c0, _ = _contrast_and_saturation(source)
    c1, s1 = _contrast_and_saturation(tmp_path / "out" / "out.mp4")
    assert c1 > 0.75 * c0, (c0, c1)  # the flattening was measured and undone (graded from the source alone: 0.5 × c0)
    assert 25 <= s1 <= 75, s1  # saturation in the neutral band


def test_a_chinese_instruction_with_several_intents_runs_and_is_cached_with_its_analysis(tmp_path):
    make_shaky(tmp_path / "walk.mp4", shaky=(2.0, 4.0), duration=6.0)
    path = recipe(tmp_path, 'media walk = "walk.mp4"\nask fixed = walk "剪掉抖动的片段，调色，然后导出720p高画质"\n')
    first = nf("run", path, "--json")
    assert first.exit_code == 0, first.output
    info = probe(tmp_path / "out" / "out.mp4")
    assert abs(info.duration - 4.0) <= 0.5
    did = [e["text"] for e in events(first) if e["event"] == "step-message" and e["kind"] == "did"]
    assert [d.split(" ")[0] for d in did] == ["cut", "color", "export"]

    again = nf("run", path, "--json")
    assert set(finished(again).values()) == {"cached"}

    forced = nf("run", path, "--json", "--force", "ask.fixed")  # the ask runs again; its analysis comes from the cache
    assert finished(forced)["ask.fixed"] == "ok"
    phases = {e.get("phase") for e in events(forced) if e["event"] == "step-progress" and e["step"] == "ask.fixed"}
    assert not any(p and p.startswith("analysing") for p in phases), phases


def test_changing_the_instruction_reruns_the_ask_and_explain_says_so(tmp_path):
    make_dull(tmp_path / "haze.mp4", duration=1.0)
    path = recipe(tmp_path, 'media haze = "haze.mp4"\nask fixed = haze "speed up 2x"\n')
    assert nf("run", path).exit_code == 0
    assert abs(probe(tmp_path / "out" / "out.mp4").duration - 0.5) <= 0.1
    path.write_text(path.read_text().replace("speed up 2x", "slow down 0.5x"), encoding="utf-8")
    explained = nf("explain", path, "ask.fixed")
    assert "instruction" in explained.output and "slow down 0.5x" in explained.output
    assert nf("run", path).exit_code == 0
    assert abs(probe(tmp_path / "out" / "out.mp4").duration - 2.0) <= 0.1


@pytest.mark.parametrize("words, quoted", [
    ("make it pop", "“make it pop”"),
    ("trim the shaky clips, then sprinkle some magic", "“sprinkle some magic”"),
])
def test_an_instruction_it_cannot_map_fails_before_anything_runs(tmp_path, words, quoted):
    make_dull(tmp_path / "haze.mp4", duration=1.0)
    path = recipe(tmp_path, f'media haze = "haze.mp4"\nask fixed = haze "{words}"\n')
    result = nf("run", path)
    assert result.exit_code == 2  # a user error: the recipe says something the local engine cannot do
    text = result.output
    assert quoted in text and "understands:" in text and "trim the shaky clips" in text and "nemo engine" in text
    col = len("ask fixed = haze ") + 2 + words.index(quoted[1:-1])
    assert f"r.nemo:4:{col}" in text  # the column of the words it did not understand
    assert "^" in text and "Traceback" not in text
    error = next(line for line in text.splitlines() if line.startswith("nemoflow: error: ask.fixed"))
    assert error.count("r.nemo:") == 1  # one location, not a second one inside the message
    assert not (tmp_path / "out").exists()


def test_check_finds_what_the_local_engine_cannot_do_as_plan_does(tmp_path):
    """`nemoflow check` reports an instruction the local engine cannot map (E401), with `nemo` it is fine."""
    make_dull(tmp_path / "haze.mp4", duration=1.0)
    path = recipe(tmp_path, 'media haze = "haze.mp4"\nask fixed = haze "color grade, then frobnicate"\n')
    checked = nf("check", path, "--json")
    assert checked.exit_code == 2
    (diag,) = json.loads(checked.stdout)["files"][0]["diagnostics"]
    assert diag["code"] == "E401" and "“frobnicate”" in diag["message"]
    start = len('ask fixed = haze "') + len("color grade, then ") + 1
    assert diag["range"] == {"start": {"line": 4, "column": start}, "end": {"line": 4, "column": start + len("frobnicate")}}
    assert nf("check", path, "--engine", "nemo").exit_code == 0  # the cloud's agent takes any instruction
    planned = nf("plan", path)
    assert planned.exit_code == 1 and "E401" not in planned.output and "frobnicate" in planned.output


def test_the_caret_stands_under_the_words_it_did_not_understand_after_wide_characters(tmp_path):
    import unicodedata

    def cells(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)

    make_dull(tmp_path / "haze.mp4", duration=1.0)
    path = recipe(tmp_path, 'media haze = "haze.mp4"\nask fixed = haze "调色，然后 frobnicate"\n')
    lines = nf("check", path).stderr.splitlines()
    quoted = next(i for i, line in enumerate(lines) if line.lstrip().startswith("4 |"))
    source, caret = lines[quoted], lines[quoted + 1]
    assert cells(source[: source.index("frobnicate")]) == caret.index("^")  # the same terminal column
    assert caret.count("^") == len("frobnicate")


def test_a_value_out_of_range_is_an_error_that_points_at_it(tmp_path):
    make_dull(tmp_path / "haze.mp4", duration=1.0)
    path = recipe(tmp_path, 'media haze = "haze.mp4"\nask fixed = haze "speed up 50x"\n')
    result = nf("run", path)
    assert result.exit_code == 2 and "speed 50x is out of range" in result.output and "Traceback" not in result.output
