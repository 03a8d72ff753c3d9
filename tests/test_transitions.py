"""Every FFmpeg xfade transition by name, with easing, and the cap at half the shorter clip (issue 17 item 2 and the
"a long transition swallows whole clips" defect).

Pictures are judged by measuring pixels: the frame mid-way through a transition differs from both clips, the frames
at its ends are the clips themselves, and an eased transition is nearer the outgoing clip a quarter of the way in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from renderkit import frames, run_recipe

from nemoflow.core.diagnostics import RecipeError
from nemoflow.core.signatures import EDIT_OPS, TRANSITIONS
from nemoflow.draft import ops
from nemoflow.draft.build import build_edit
from nemoflow.draft.model import VIDEO, Draft
from nemoflow.draft.schema import problems
from nemoflow.draft.transitions import transition_notes
from nemoflow.engines.local.layers import EASES as LAYER_EASES
from nemoflow.engines.local.transitions import EASES, XFADE
from nemoflow.lang.check import check_source
from nemoflow.media.entries import media_entry
from nemoflow.media.ffmpeg import ffmpeg_exe

FPS = 10
HEAD = (f"nemo 1\nmedia a = pattern bars duration 4s size 64x36 fps {FPS}\n"
        f"media b = color #e0c020 duration 4s size 64x36 fps {FPS}\n")
EXPORT = 'export out = cut {{\n  size 64x36\n  fps 10\n  crf 1\n  audio none\n  save "out/{name}.mp4"\n}}\n'  # FPS
CLIP = {"kind": "video", "path": "/footage/a.mp4", "d": 10_000, "w": 64, "h": 36, "fps": 10.0}


def _xfade_names() -> list[str]:
    """The transitions the embedded FFmpeg's xfade offers, read from its own help (so a new FFmpeg cannot go unseen)."""
    import re
    import subprocess

    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-h", "filter=xfade"], capture_output=True, text=True).stdout
    return [m.group(1) for m in re.finditer(r"^\s{5}(\w+)\s+-?\d+\s+\.\.FV", text, re.M) if m.group(1) != "custom"]


def _draft(text: str, tmp_path: Path, edit: str = "edit.cut") -> Draft:
    recipe = check_source(text, "r.nemo", tmp_path)
    media = {sid: media_entry(step) for sid, step in recipe.steps.items() if sid.startswith("media.")}
    return build_edit(recipe.steps[edit], media, lambda sid: None)


# ---- names: the checker, the Draft schema, the engine's table ---------------------------------------------------

def test_every_xfade_transition_has_a_name_and_todays_names_keep_their_meaning():
    xfade = _xfade_names()
    assert len(xfade) == 58, xfade  # FFmpeg 9's xfade: fade … revealdown
    assert set(XFADE.values()) == set(xfade)  # every built-in is reachable
    assert set(XFADE) == set(TRANSITIONS) - {"cut"}
    # the names nemoflow had before issue 17 mean what they meant
    assert (XFADE["crossfade"], XFADE["fade"], XFADE["fadewhite"]) == ("fade", "fadeblack", "fadewhite")
    for name in ("wipeleft", "wiperight", "slideleft", "slideright"):
        assert XFADE[name] == name
    # every other xfade name is itself; xfade's own `fade` is `crossfade` here
    assert all(XFADE[n] == n for n in xfade if n != "fade")
    assert XFADE["fadeblack"] == "fadeblack" and XFADE["dissolve"] == "dissolve"
    assert len(TRANSITIONS) == 60  # cut + crossfade + fade + the 57 other xfade names (fadewhite … revealdown)


@pytest.mark.parametrize("name", ["circleopen", "radial", "pixelize", "smoothleft", "zoomin", "wipeup", "slidedown",
                                  "dissolve", "fadeblack", "revealdown", "crossfade"])
def test_the_checker_knows_the_new_names(tmp_path, name):
    draft = _draft(HEAD + f"edit cut {{\n  video a for 2s\n  transition {name} 500ms\n  video b for 2s\n}}\n", tmp_path)
    assert draft.segments(VIDEO)[1].tr == {"type": name, "d": 500}
    assert not problems(draft.to_json())


def test_a_misspelt_transition_gets_a_suggestion(tmp_path):
    with pytest.raises(RecipeError) as info:
        check_source(HEAD + "edit cut {\n  video a for 2s\n  transition circleopne 1s\n  video b for 2s\n}\n", "r.nemo", tmp_path)
    (diag,) = info.value.diagnostics
    assert diag.code == "E246" and "circleopne" in diag.message
    assert "circleopen" in (diag.help or "") + " ".join(diag.expected), diag


def test_ease_is_written_to_the_draft_and_the_schema_accepts_it(tmp_path):
    text = HEAD + "edit cut {\n  video a for 2s\n  transition circleopen 800ms ease in-out\n  video b for 2s\n}\n"
    draft = _draft(text, tmp_path)
    assert draft.segments(VIDEO)[1].tr == {"type": "circleopen", "d": 800, "ease": "in-out"}
    assert not problems(draft.to_json())
    linear = _draft(text.replace(" ease in-out", " ease linear"), tmp_path)
    assert linear.segments(VIDEO)[1].tr == {"type": "circleopen", "d": 800}  # linear is the default: not written
    data = draft.to_json()
    data["t"][0]["sg"][1]["tr"]["ease"] = "bounce"
    assert any("ease" in p for p in problems(data))
    data["t"][0]["sg"][1]["tr"] = {"type": "swirl", "d": 500}
    assert problems(data)


def test_ease_takes_the_four_curves_with_a_suggestion(tmp_path):
    assert EDIT_OPS["transition"].keyword("ease").type == tuple(EASES)
    assert EASES == LAYER_EASES  # a transition eases as a layer moves
    with pytest.raises(RecipeError) as info:
        check_source(HEAD + "edit cut {\n  video a for 2s\n  transition wipeup 1s ease inout\n  video b for 2s\n}\n",
                     "r.nemo", tmp_path)
    (diag,) = info.value.diagnostics
    assert "in-out" in (diag.help or "") + " ".join(diag.expected), diag


def test_ease_on_a_cut_is_an_error(tmp_path):
    with pytest.raises(RecipeError) as info:
        check_source(HEAD + "edit cut {\n  video a for 2s\n  transition cut ease in\n  video b for 2s\n}\n", "r.nemo", tmp_path)
    (diag,) = info.value.diagnostics
    assert diag.code == "E358" and "cut" in diag.message, diag


def test_a_transition_longer_than_xfade_allows_is_an_error(tmp_path):
    with pytest.raises(RecipeError) as info:
        check_source(HEAD + "edit cut {\n  video a\n  transition dissolve 61s\n  video b\n}\n", "r.nemo", tmp_path)
    (diag,) = info.value.diagnostics
    assert diag.code == "E243" and "60s" in diag.message, diag


# ---- the cap: half the shorter clip -----------------------------------------------------------------------------

def test_three_clips_no_longer_start_at_the_same_second(tmp_path):
    """The issue's case: 2 s clips joined by 2 s transitions all started at 0 s (the first two swallowed whole)."""
    body = "  video a for 2s\n  transition crossfade 2s\n  video b for 2s\n  transition crossfade 2s\n  video a for 2s\n"
    draft = _draft(HEAD + "edit cut {\n" + body + "}\n", tmp_path)
    video = draft.segments(VIDEO)
    assert [s.st for s in video] == [0, 1000, 2000]  # each transition is 1 s: half the shorter (2 s) clip
    assert [s.tr and s.tr["d"] for s in video] == [None, 1000, 1000]
    assert [s.tr and s.tr.get("asked") for s in video] == [None, 2000, 2000]
    assert draft.d == 4000
    assert not problems(draft.to_json())
    notes = transition_notes(draft)
    assert len(notes) == 2
    assert notes[0] == ("`transition crossfade 2s` between clip 1 (2s) and clip 2 (2s) was shortened to 1s: a "
                        "transition takes at most half the shorter of its two clips, so that neither is swallowed")


def test_the_cap_uses_the_shorter_neighbour_and_says_the_numbers():
    d = ops.add_clip(Draft(), "a", CLIP, d_ms=4000)
    d = ops.add_clip(d, "b", CLIP, d_ms=2000)
    d = ops.set_transition(d, "circleopen", 3000)
    d = ops.add_clip(d, "c", CLIP, d_ms=4000)
    _, b, c = d.segments(VIDEO)
    assert c.tr == {"type": "circleopen", "d": 1000, "asked": 3000} and c.st == b.end - 1000
    assert transition_notes(d) == ["`transition circleopen 3s` between clip 2 (2s) and clip 3 (4s) was shortened to 1s: "
                                   "a transition takes at most half the shorter of its two clips, so that neither is "
                                   "swallowed"]


def test_a_transition_within_the_cap_is_left_alone_and_says_nothing():
    d = ops.add_clip(Draft(), "a", CLIP, d_ms=4000)
    d = ops.set_transition(d, "dissolve", 2000, "out")
    d = ops.add_clip(d, "b", CLIP, d_ms=4000)
    assert d.segments(VIDEO)[1].tr == {"type": "dissolve", "d": 2000, "ease": "out"}
    assert transition_notes(d) == []


def test_splice_caps_at_half_the_shorter_clip_too():
    inner = ops.add_clip(Draft(), "b", CLIP, d_ms=1000)
    inner = ops.add_clip(inner, "c", CLIP, d_ms=5000)
    d = ops.add_clip(Draft(), "a", CLIP, d_ms=5000)
    d = ops.set_transition(d, "wipeup", 4000)
    d = ops.splice(d, inner)
    _, b, c = d.segments(VIDEO)
    assert b.tr == {"type": "wipeup", "d": 500, "asked": 4000} and b.st == 4500 and c.st == 5500


def test_trim_keeps_the_transition_as_long_as_the_overlap_it_leaves():
    """`trim` cuts only at the ends: a transition's overlap stays where it was (clips do not move), and `tr.d` says it."""
    d = ops.add_clip(Draft(), "a", CLIP, d_ms=4000)
    d = ops.set_transition(d, "crossfade", 3000)
    d = ops.add_clip(d, "b", CLIP, d_ms=4000)  # capped to 2 s: b starts at 2 s
    t = ops.trim(d, 1000, None)
    a, b = t.segments(VIDEO)
    assert (a.st, a.d, b.st, b.d) == (0, 3000, 1000, 4000)
    assert b.tr == {"type": "crossfade", "d": 2000, "asked": 3000} and b.tr["d"] == a.end - b.st


def test_a_long_transition_is_warned_about_when_it_renders(tmp_path):
    text = (HEAD + "edit cut {\n  video a for 2s\n  transition dissolve 3s\n  video b for 1s\n}\n"
            + EXPORT.format(name="capped"))
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "`transition dissolve 3s` between clip 1 (2s) and clip 2 (1s) was shortened to 0.5s" in result.output
    assert len(frames(tmp_path / "out" / "capped.mp4")) == 25  # 2 s + 1 s - 0.5 s at 10 fps


# ---- rendering: every name, and easing ----------------------------------------------------------------------------

CLIP_S, TR_S = 1.6, 0.6  # each clip 16 frames, each transition 6: 4 frames of each clip alone between transitions
STEP = round((CLIP_S - TR_S) * FPS)  # frames from one clip's start to the next one's


def _diff(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(x.astype(np.float64) - y.astype(np.float64)).mean())


def _same(x: np.ndarray, y: np.ndarray) -> float:
    """The share of pixels (0 to 1) that are the same in both, within what the encoder changes."""
    return float((np.abs(x.astype(np.float64) - y.astype(np.float64)).max(axis=2) <= 12).mean())


@pytest.mark.slow
def test_every_transition_renders_from_one_clip_to_the_next(tmp_path):
    """All 59 in one render: clips of the bars and of a flat colour in turn, joined by each transition in turn."""
    names = [t for t in TRANSITIONS if t != "cut"]
    lines = ["  video a for 1.6s"]
    for n, name in enumerate(names, 1):
        lines += [f"  transition {name} {TR_S}s", f"  video {'ab'[n % 2]} for {CLIP_S}s"]
    result = run_recipe(tmp_path, HEAD + "edit cut {\n" + "\n".join(lines) + "\n}\n" + EXPORT.format(name="all"))
    assert result.exit_code == 0, result.output
    shots = frames(tmp_path / "out" / "all.mp4")
    assert len(shots) == round((len(names) * (CLIP_S - TR_S) + CLIP_S) * FPS)
    alone = {"a": shots[STEP - 1], "b": shots[2 * STEP - 1]}  # a frame of each clip alone, just before a transition
    assert _diff(alone["a"], alone["b"]) > 40
    failed = []
    for n, name in enumerate(names, 1):
        f0 = n * STEP  # the transition's first frame: the outgoing clip, untouched (xfade's progress is 1 there)
        before, after = alone["ab"[(n - 1) % 2]], alone["ab"[n % 2]]
        first, mid, last = shots[f0], shots[f0 + round(TR_S * FPS) // 2], shots[f0 + round(TR_S * FPS)]
        # xfade's own first frame may already show a little of the next clip: a row (wipedown), a squeeze (squeezeh:
        # 78% of the pixels are the outgoing clip's), a band (revealup: 89%)
        d = (_same(first, before), _diff(mid, before), _diff(mid, after), _same(last, after))
        if not (d[0] > 0.75 and d[1] > 6 and d[2] > 6 and d[3] > 0.99):
            failed.append((name, [round(x, 2) for x in d]))
    assert not failed, "\n".join(map(str, failed))


def _toward(shot: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """How far `shot` has gone from `start` to `end` (0 to 1), over every pixel and channel."""
    span = end.astype(np.float64) - start.astype(np.float64)
    return float(((shot - start.astype(np.float64)) * span).sum() / (span * span).sum())


CURVES = {"linear": lambda t: t, "in": lambda t: t * t, "out": lambda t: 1 - (1 - t) ** 2,
          "in-out": lambda t: t * t * (3 - 2 * t)}  # the layers' curves (smoothstep for in-out)


@pytest.mark.slow
def test_easing_moves_the_quarter_way_frame_the_expected_way(tmp_path):
    """A crossfade from red to blue, 8 frames: a quarter of the way in, linear has gone 25%, ease in 6%, ease out 44%,
    in-out 16% (smoothstep), the same curves as a layer's motion."""
    head = (f"nemo 1\nmedia r = color #e02020 duration 4s size 64x36 fps {FPS}\n"
            f"media u = color #2040e0 duration 4s size 64x36 fps {FPS}\n")
    lines = ["  video r for 2s"]
    eases = ["linear", "in", "out", "in-out"]
    for n, ease in enumerate(eases, 1):
        lines += [f"  transition crossfade 0.8s ease {ease}", f"  video {'ru'[n % 2]} for 2s"]
    result = run_recipe(tmp_path, head + "edit cut {\n" + "\n".join(lines) + "\n}\n" + EXPORT.format(name="eases"))
    assert result.exit_code == 0, result.output
    shots = frames(tmp_path / "out" / "eases.mp4")
    red, blue = shots[5], shots[22]  # each alone: red before frame 12, blue from 20 to 24
    found = {}
    for n, ease in enumerate(eases, 1):
        f0 = n * 12  # clips 20 frames, transitions 8: each clip starts 12 frames after the last
        start, end = (red, blue) if n % 2 else (blue, red)
        found[ease] = [round(_toward(shots[f0 + k], start, end), 3) for k in range(9)]
    for ease, curve in found.items():
        expected = [CURVES[ease](k / 8) for k in range(9)]
        assert np.allclose(curve, expected, atol=0.02), (ease, curve, expected)
    assert found["in"][2] < found["in-out"][2] < found["linear"][2] < found["out"][2]


@pytest.mark.slow
def test_an_eased_wipe_shows_the_builtin_wipe_at_the_eased_progress(tmp_path):
    """Easing retimes xfade's own transition: frame 4 of 8 with ease in is the linear wipe's frame 2 (t=0.5 -> 0.25)."""
    lines = ["  video a for 2s", "  transition circleopen 0.8s", "  video b for 2s", "  transition crossfade 0.4s",
             "  video a for 2s", "  transition circleopen 0.8s ease in", "  video b for 2s"]
    result = run_recipe(tmp_path, HEAD + "edit cut {\n" + "\n".join(lines) + "\n}\n" + EXPORT.format(name="wipe"))
    assert result.exit_code == 0, result.output
    shots = frames(tmp_path / "out" / "wipe.mp4")
    linear0, eased0 = 12, 12 + 16 + 12  # clips 20 frames; the transitions 8, 4 and 8 frames
    assert _diff(shots[linear0 + 2], shots[linear0 + 4]) > 3  # the wipe moves between those frames
    assert _diff(shots[eased0 + 4], shots[linear0 + 2]) < 1.5


@pytest.mark.slow
def test_eased_transitions_keep_every_clip_on_its_frames_at_ntsc_rate(tmp_path):
    """Easing moves timestamps inside the overlap only: at 29.97 fps, after three eased transitions, the frame count
    and each clip's first frame alone are where the linear rule puts them (no frame gained, lost or shifted)."""
    colours = ("#e02020", "#2040e0", "#20c040", "#f0f0f0")
    head = "nemo 1\n" + "".join(f"media c{n} = color {c} duration 4s size 64x36 fps 29.97\n" for n, c in enumerate(colours))
    body = "  video c0 for 1.5s\n" + "".join(f"  transition {kind} 0.5s ease {ease}\n  video c{n} for 1.5s\n"
                                            for n, (kind, ease) in enumerate(
                                                [("crossfade", "in"), ("circleopen", "out"), ("pixelize", "in-out")], 1))
    export = EXPORT.replace("fps 10", "fps 29.97")
    result = run_recipe(tmp_path, head + "edit cut {\n" + body + "}\n" + export.format(name="ntsc"))
    assert result.exit_code == 0, result.output
    shots = frames(tmp_path / "out" / "ntsc.mp4")
    rate = 30000 / 1001
    assert len(shots) == round(4.5 * rate)  # 4 clips of 1.5 s, 3 overlaps of 0.5 s
    for n in range(1, 4):
        alone = round((n * 1.0 + 0.5) * rate)  # the first frame of clip n after its transition
        before = round(n * 1.0 * rate) - 1  # the last frame of clip n-1 before it
        pure = [shots[round((k * 1.0 + 0.75) * rate)] for k in range(4)]  # each clip alone, mid-way
        assert _diff(shots[alone], pure[n]) < 2, n
        assert _diff(shots[before], pure[n - 1]) < 2, n
        mid = shots[round((n * 1.0 + 0.25) * rate)]
        assert _diff(mid, pure[n]) > 2 and _diff(mid, pure[n - 1]) > 2, n  # mid-way it is neither clip
