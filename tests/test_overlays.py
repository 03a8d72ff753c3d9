"""Layers (issue 17): `overlay` and `pip` checked, built into the Draft, moved by every Draft operation, rendered.

Rendering is measured by pixels on small generated media: the logo's colour where it should be and not where it
should not, opacity's blend, the border's colour, motion's start and end, and alpha from PNG and WebM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mediagen import ffmpeg
from renderkit import frame_at, run_recipe

from nemoflow.core.diagnostics import RecipeError
from nemoflow.draft import layers, ops
from nemoflow.draft.model import TEXT, VIDEO, Draft
from nemoflow.draft.output import Output
from nemoflow.draft.schema import validate
from nemoflow.errors import DraftError
from nemoflow.lang.check import check_source

CLIP = {"kind": "video", "path": "/footage/a.mp4", "d": 10000, "w": 1920, "h": 1080, "fps": 30.0, "audio": True,
        "pix_fmt": "yuv420p", "codec": "h264"}
LOGO = {"kind": "image", "path": "/art/logo.png", "w": 200, "h": 100, "pix_fmt": "rgba", "codec": "png"}
SHORT = {"kind": "video", "path": "/footage/short.mp4", "d": 2000, "w": 640, "h": 360, "fps": 30.0, "audio": False,
         "pix_fmt": "yuv420p", "codec": "h264"}

BASE = """nemo 1
media bg = color #404040 duration 4s size 320x180 fps 30
media logo = color red duration 4s size 64x64 fps 30
media hum = tone 440hz duration 3s
"""


def errors(body: str) -> list[str]:
    with pytest.raises(RecipeError) as info:
        check_source(BASE + "edit e {\n  video bg\n" + body + "\n}\n")
    return [f"{d.message} | {d.help}" for d in info.value.diagnostics]


# --- the checker -------------------------------------------------------------------------------------------------

def test_a_misspelt_position_gets_a_did_you_mean():
    found = errors("  overlay logo at top-rigth width 12%")
    assert len(found) == 1 and "`at` does not take `top-rigth`" in found[0] and "did you mean `top-right`" in found[0]


def test_a_size_without_a_unit_gets_a_unit_hint():
    found = errors("  overlay logo width 12")
    assert len(found) == 1 and "add a unit: `12%`" in found[0]


def test_to_before_from_is_refused():
    found = errors("  pip logo from 3s to 2s")
    assert len(found) == 1 and "`to 2s` is not after `from 3s`" in found[0]


def test_an_audio_only_source_is_refused():
    found = errors("  overlay hum at top-right")
    assert len(found) == 1 and "sound only" in found[0] and "`overlay` shows a picture" in found[0]


def test_a_misspelt_easing_and_keyword_get_suggestions():
    assert "did you mean `in-out`" in errors("  overlay logo move top-left ease in-ot")[0]
    assert "did you mean `opacity`" in errors("  overlay logo opacty 50%")[0]


def test_skip_past_a_generated_source_and_an_overridden_at_are_reported():
    assert "`skip 5s` is at or past the end of `logo` (4s)" in errors("  overlay logo skip 5s")[0]
    recipe = check_source(BASE + "edit e {\n  video bg\n  overlay logo at top x 1px y 2px\n}\n")
    assert [(w.code, w.message) for w in recipe.warnings if w.code == "W220"] == \
        [("W220", "`at top` has no effect: `x` and `y` place it")]


def test_border_takes_a_width_and_an_optional_colour():
    recipe = check_source(BASE + "edit e {\n  video bg\n  pip logo border 4px #00ff00\n  pip logo border 2px\n}\n")
    ops_ = recipe.steps["edit.e"].spec.ops
    first, second = ops_[1].args["border"], ops_[2].args["border"]
    assert isinstance(first, tuple) and first[0].value == 4 and (first[1].r, first[1].g) == (0, 255)
    assert second.value == 2
    assert "add a unit" in errors("  pip logo border 4 #fff")[0]


# --- the Draft ---------------------------------------------------------------------------------------------------

def _base(d_ms: int = 10000) -> Draft:
    return ops.add_clip(Draft(m={"name": "t"}), "a", CLIP, d_ms=d_ms)


def _layer(draft: Draft, n: int = 1):
    return layers.layer_tracks(draft)[n - 1].sg


def test_an_overlay_is_a_further_video_track_that_never_lengthens_the_timeline():
    d = layers.add_overlay(_base(4000), "logo", LOGO, st=1000, d=3000, look={"at": "top-right", "w": {"pct": 12.0}})
    assert [tr.m for tr in layers.layer_tracks(d)] == [{"name": "Layer 1", "layer": 1}]
    validate(d.to_json(), "an overlay draft")
    data = d.to_json()
    data["t"][1]["sg"][0]["d"] = 9000  # a layer past the end (a Draft from elsewhere)
    longer = Draft.from_json(data)
    assert longer.d == 4000 and len(longer.segments(VIDEO)) == 1  # Draft.d and segments(VIDEO) mean the main track
    assert [(s.st, s.d) for s in _layer(ops.normalize(longer))] == [(1000, 3000)]  # cut at the timeline's end


def test_an_overlay_outside_the_timeline_so_far_is_refused_with_the_numbers():
    with pytest.raises(DraftError, match=r"`from 5s` is at or past the end of the timeline so far \(4s long\)"):
        layers.add_overlay(_base(4000), "logo", LOGO, st=5000, d=1000)
    with pytest.raises(DraftError, match=r"`to 6s` is past the end of the timeline so far \(4s long\); give a time up to 4s"):
        layers.add_overlay(_base(4000), "logo", LOGO, st=1000, d=5000)


def test_pip_defaults_and_an_open_overlay_runs_to_the_end():
    d = layers.add_overlay(_base(4000), "logo", LOGO, look=dict(layers.PIP_DEFAULTS))
    d = ops.normalize(ops.add_clip(d, "a", CLIP, d_ms=2000))
    seg = _layer(d)[0]
    assert (seg.st, seg.d, seg.m["to_end"]) == (0, 6000, True)
    assert seg.m["at"] == "bottom-right" and seg.m["border"] == {"w": 4.0, "c": "#ffffff"} and seg.m["volume"] == 0.0


def test_a_video_overlay_ends_with_its_video():
    d = ops.normalize(layers.add_overlay(_base(), "short", SHORT, st=1000, in_ms=500))
    assert [(s.st, s.d) for s in _layer(d)] == [(1000, 1500)]
    with pytest.raises(DraftError, match=r"the overlay runs 3s \(from 1s to 4s\) but `short` has only 1.5s from its "
                                         r"in-point 0.5s; end it at `to 2.5s`"):
        layers.add_overlay(_base(), "short", SHORT, st=1000, d=3000, in_ms=500)


def test_an_audio_source_and_an_overlay_without_a_picture_are_refused():
    with pytest.raises(DraftError, match="holds only audio"):
        layers.add_overlay(_base(), "s", {"kind": "audio", "path": "/a.mp3", "d": 1000, "audio": True})
    with pytest.raises(DraftError, match="add a `video` or `image` before it"):
        layers.add_overlay(Draft(), "logo", LOGO)


def test_trim_moves_layers_and_their_motion_and_in_point():
    look = {"at": "top-left", "motion": {"at": "bottom-right", "ease": "linear"}}
    d = layers.add_overlay(_base(), "short2", {**SHORT, "d": 9000}, st=2000, d=4000, look=look)
    t = ops.trim(d, 3000, 8000)
    seg = _layer(t)[0]
    assert (seg.st, seg.d, seg.m["in"]) == (0, 3000, 1000)
    assert (seg.m["motion"]["t0"], seg.m["motion"]["t1"]) == (-1000, 3000)  # it moves as before, its start cut off
    assert ops.trim(d, 7000).segments(VIDEO) and not any(tr.sg for tr in layers.layer_tracks(ops.trim(d, 7000)))


def test_speed_and_cut_spans_move_layers():
    look = {"motion": {"w": {"pct": 50.0}, "ease": "in"}}
    d = layers.add_overlay(_base(), "short2", {**SHORT, "d": 9000}, st=2000, d=4000, look=look)
    fast = ops.change_speed(d, 2.0)
    seg = _layer(fast)[0]
    assert (seg.st, seg.d, seg.m["speed"], seg.m["motion"]["t1"]) == (1000, 2000, 2.0, 2000)
    cut = ops.cut_spans(d, [(0, 1000), (3000, 4000)])
    assert [(s.st, s.d, s.m["in"]) for s in _layer(cut)] == [(1000, 1000, 0), (2000, 2000, 2000)]
    assert [(s.m["motion"]["t0"], s.m["motion"]["t1"]) for s in _layer(cut)] == [(0, 4000), (-2000, 2000)]


def test_text_without_an_end_does_not_spill_into_clips_after_its_edit(tmp_path):
    """The issue's defect: `text` with no end in an edit that is then concatenated ran to the end of the outer one."""
    recipe = check_source("""nemo 1
media a = color #404040 duration 4s size 320x180 fps 30
media b = color #808080 duration 3s size 320x180 fps 30
media logo = color red duration 9s size 64x64 fps 30
edit inner {
  video a
  text "only on a"
  overlay logo at top-right
}
edit outer {
  concat inner b
  video b
}
""", "t.nemo", tmp_path, {})
    from nemoflow.draft.build import build_edit
    from nemoflow.draft.media import MediaEntry

    def entry(color: str, d: int) -> MediaEntry:
        return MediaEntry.from_json({"kind": "video", "gen": {"name": "color", "color": color, "w": 320, "h": 180, "fps": 30},
                                     "d": d, "w": 320, "h": 180, "fps": 30.0, "pix_fmt": "yuv420p"})

    media = {"media.a": entry("#404040", 4000), "media.b": entry("#808080", 3000), "media.logo": entry("#ff0000", 9000)}
    built: dict[str, Draft] = {}
    for sid, step in recipe.steps.items():
        if step.kind == "edit":
            built[sid] = build_edit(step, media, built.__getitem__)
    outer = built["edit.outer"]
    assert outer.d == 10000
    assert [(s.st, s.end) for s in outer.segments(TEXT)] == [(0, 4000)]
    assert [(s.st, s.end) for s in _layer(outer)] == [(0, 4000)]
    assert "to_end" not in outer.segments(TEXT)[0].m and "to_end" not in _layer(outer)[0].m


def test_spliced_layers_go_on_top_and_a_base_draft_keeps_them(tmp_path):
    inner = ops.normalize(layers.add_overlay(_base(3000), "logo", LOGO, st=500, d=1000))
    outer = layers.add_overlay(_base(2000), "logo", LOGO, st=0, d=1000, look={"opacity": 50.0})
    outer = ops.normalize(ops.splice(outer, inner))
    assert [[(s.st, s.d, s.m.get("opacity")) for s in tr.sg] for tr in layers.layer_tracks(outer)] == \
        [[(0, 1000, 50.0)], [(2500, 1000, None)]]


def test_a_draft_with_layers_is_never_smart_cut():
    from nemoflow.engines.local.export import _smartcut_pieces

    plain = ops.normalize(_base())
    out = Output(1920, 1080, 30.0, audio="none")
    assert _smartcut_pieces(plain, out) is not None  # the plain cut would be copied…
    assert _smartcut_pieces(ops.normalize(layers.add_overlay(plain, "logo", LOGO, st=0, d=1000)), out) is None


# --- rendering ---------------------------------------------------------------------------------------------------

GREY = 64  # #404040


def _render(tmp_path: Path, body: str, media: str = "", *, name: str = "out") -> Path:
    text = (f"nemo 1\nmedia bg = color #404040 duration 2s size 320x180 fps 10\n{media}"
            f"edit e {{\n  video bg\n{body}\n}}\nexport o = e {{\n  size 320x180\n  save \"{name}.mp4\"\n}}\n")
    result = run_recipe(tmp_path, text, name=f"{name}.nemo")
    assert result.exit_code == 0, result.output
    return tmp_path / f"{name}.mp4"


def _patch(frame: np.ndarray, x: int, y: int, r: int = 2) -> np.ndarray:
    return frame[y - r:y + r + 1, x - r:x + r + 1].reshape(-1, 3).mean(axis=0)


def _png(path: Path, w: int, h: int, alpha: str, color: str = "255:0:0") -> Path:
    r, g, b = color.split(":")
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s={w}x{h},format=rgba,geq=r='{r}':g='{g}':b='{b}':a='{alpha}'",
           "-frames:v", "1", "-update", "1", str(path))
    return path


def _box(frame: np.ndarray) -> tuple[int, int, int, int] | None:
    """The bounding box (x0, y0, x1, y1) of the red pixels."""
    red = (frame[..., 0] > 180) & (frame[..., 1] < 90) & (frame[..., 2] < 90)
    ys, xs = np.nonzero(red)
    return (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())) if len(xs) else None


@pytest.mark.slow
def test_a_logo_at_top_right_shows_for_its_time_only(tmp_path):
    _png(tmp_path / "logo.png", 40, 40, "255")
    out = _render(tmp_path, "  overlay logo at top-right width 20% from 0.5s to 1s", 'media logo = "logo.png"\n')
    before, during, after = frame_at(out, 0.4), frame_at(out, 0.5), frame_at(out, 1.0)
    assert _box(before) is None and _box(frame_at(out, 0.9)) is not None  # frames 5 to 9 of 10 per second
    box = _box(during)
    assert box is not None
    # 20% of 320 = 64 px wide, 6% from the right (19 px) and the top (11 px)
    assert abs(box[2] - (320 - 19 - 1)) <= 2 and abs(box[1] - 11) <= 2 and abs((box[2] - box[0] + 1) - 64) <= 2
    assert _patch(during, box[0] + 30, box[1] + 30)[0] > 200
    assert _box(after) is None and abs(_patch(after, box[0] + 30, box[1] + 30) - GREY).max() < 8


@pytest.mark.slow
def test_opacity_blends_with_the_picture_beneath(tmp_path):
    _png(tmp_path / "logo.png", 40, 40, "255", color="255:255:255")
    out = _render(tmp_path, "  overlay logo at center width 30% opacity 50%", 'media logo = "logo.png"\n')
    value = _patch(frame_at(out, 1.0), 160, 90)
    assert np.all(np.abs(value - (255 + GREY) / 2) < 8), value


@pytest.mark.slow
def test_pip_has_a_border_of_its_colour(tmp_path):
    _png(tmp_path / "cam.png", 64, 36, "255")
    out = _render(tmp_path, "  pip cam border 6px #00ff00", 'media cam = "cam.png"\n')
    frame = frame_at(out, 1.0)
    box = _box(frame)
    assert box is not None  # bottom-right, 30% wide: 96 px
    assert abs((box[2] - box[0] + 1) - 96) <= 2 and abs(box[2] - (320 - 19 - 6 - 1)) <= 2
    green = _patch(frame, box[2] + 4, (box[1] + box[3]) // 2, r=1)
    assert green[1] > 200 and green[0] < 80 and green[2] < 80, green


@pytest.mark.slow
def test_motion_goes_from_its_start_to_its_end_keyframe(tmp_path):
    _png(tmp_path / "dot.png", 20, 20, "255")
    out = _render(tmp_path, "  overlay dot x 0px y 0px width 32px move-x 288px move-y 148px ease in-out from 0s to 2s",
                  'media dot = "dot.png"\n')
    start, middle, end = (_box(frame_at(out, t)) for t in (0.0, 1.0, 1.9))
    assert start is not None and start[:2] == (0, 0)
    assert middle is not None and abs(middle[0] - 144) <= 6 and abs(middle[1] - 74) <= 6  # in-out is half-way at the middle
    p = 1.9 / 2
    eased = p * p * (3 - 2 * p)
    assert end is not None and abs(end[0] - 288 * eased) <= 3 and abs(end[1] - 148 * eased) <= 3


@pytest.mark.slow
def test_scale_changes_the_width_frame_by_frame(tmp_path):
    _png(tmp_path / "dot.png", 20, 20, "255")
    out = _render(tmp_path, "  overlay dot at center width 20px scale 100px", 'media dot = "dot.png"\n')
    first, last = _box(frame_at(out, 0.0)), _box(frame_at(out, 1.9))
    assert first is not None and abs((first[2] - first[0] + 1) - 20) <= 2
    assert last is not None and abs((last[2] - last[0] + 1) - 95) <= 4  # linear, at 1.9 of 2 s
    assert abs((last[0] + last[2]) / 2 - 160) <= 2  # still centred


@pytest.mark.slow
def test_png_alpha_shows_the_picture_beneath(tmp_path):
    _png(tmp_path / "half.png", 40, 40, "if(lt(X,20),255,0)")
    out = _render(tmp_path, "  overlay half x 0px y 0px width 80px", 'media half = "half.png"\n')
    frame = frame_at(out, 1.0)
    assert _patch(frame, 20, 40)[0] > 200  # the opaque half: red
    assert np.all(np.abs(_patch(frame, 60, 40) - GREY) < 8)  # the transparent half: the grey beneath


@pytest.mark.slow
def test_webm_alpha_shows_the_picture_beneath(tmp_path):
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=40x40:r=10:d=2,format=rgba,geq=r=255:g=0:b=0:a='if(lt(X,20),255,0)'",
           "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-auto-alt-ref", "0", str(tmp_path / "half.webm"))
    from nemoflow.media.probe import probe

    assert probe(tmp_path / "half.webm").video.pix_fmt == "yuva420p"  # the Matroska tag alpha_mode=1 says so
    out = _render(tmp_path, "  overlay half x 0px y 0px width 80px", 'media half = "half.webm"\n')
    frame = frame_at(out, 1.0)
    assert _patch(frame, 20, 40)[0] > 200
    assert np.all(np.abs(_patch(frame, 60, 40) - GREY) < 10)


def test_the_graph_decodes_only_the_overlay_range_and_keeps_the_main_picture_yuv(tmp_path):
    """Input seeking for a video overlay; a still opened as one frame; nothing converts the main picture to RGB."""
    from nemoflow.engines.local.graph import build_command

    d = layers.add_overlay(_base(), "short2", {**SHORT, "d": 9000}, st=2000, d=3000, in_ms=1500)
    d = ops.normalize(layers.add_overlay(d, "logo", LOGO, st=0, d=5000, look={"at": "top-right", "w": {"pct": 10.0}}))
    args = build_command(d, Output(3840, 2160, 30.0), tmp_path / "o.mp4", what="t", cache_dir=tmp_path).args
    video = args.index("file:/footage/short.mp4")
    assert args[video - 5:video - 1] == ["-ss", "1.5", "-t", "3.067"]  # 3 s from 1.5 s, and two frames' margin
    logo = args.index("file:/art/logo.png")
    assert "-loop" not in args[logo - 8:logo]  # one frame, held by the overlay filter
    graph = args[args.index("-filter_complex") + 1]
    assert "rgb" not in graph and graph.count("format=yuva420p") == 2
    assert "eof_action=pass" in graph and "enable='between(t,1.983333,4.983332)'" in graph


@pytest.mark.slow
def test_an_overlay_is_silent_unless_given_a_volume(tmp_path):
    from renderkit import rms, sound

    media = "media cam = pattern testsrc duration 2s size 160x90 fps 10 tone 880hz\n"
    quiet = _render(tmp_path, "  pip cam", media, name="quiet")
    heard = _render(tmp_path, "  pip cam volume 50%", media, name="heard")
    assert rms(sound(quiet)[0]) < 1e-3
    assert rms(sound(heard)[0]) > 0.02


def test_fit_and_origin_without_their_partners_are_warned_about():
    recipe = check_source(BASE + "edit e {\n  video bg\n  overlay logo width 20% fit crop\n  overlay logo at top origin center\n}\n")
    assert [w.message for w in recipe.warnings if w.code == "W221"] == [
        "`fit crop` has no effect without both `width` and `height`", "`origin center` has no effect without `x` or `y`"]


def test_skip_and_volume_on_a_still_are_warned_about(tmp_path):
    _png(tmp_path / "logo.png", 8, 8, "255")
    recipe = check_source('nemo 1\nmedia bg = color #404040 duration 2s\nmedia logo = "logo.png"\n'
                          "edit e {\n  video bg\n  overlay logo skip 1s volume 50%\n}\n", "t.nemo", tmp_path, {})
    assert [w.message for w in recipe.warnings if w.code == "W221"] == [
        "`skip 1s` has no effect: `logo` is a still image", "`volume 50%` has no effect: `logo` is a still image"]


@pytest.mark.slow
def test_origin_places_the_point_x_y_name(tmp_path):
    _png(tmp_path / "dot.png", 20, 20, "255")
    out = _render(tmp_path, "  overlay dot x 50% y 50% origin center width 40px\n  overlay dot x 100% y 0% origin top-right width 20px",
                  'media dot = "dot.png"\n')
    frame = frame_at(out, 1.0)
    red = (frame[..., 0] > 180) & (frame[..., 1] < 90)
    ys, xs = np.nonzero(red[:, :200])
    assert abs((xs.min() + xs.max()) / 2 - 160) <= 1 and abs((ys.min() + ys.max()) / 2 - 90) <= 1  # centred on 50%, 50%
    ys, xs = np.nonzero(red[:, 200:])
    assert xs.max() + 200 == 319 and ys.min() == 0  # its top-right corner at the frame's


@pytest.mark.slow
@pytest.mark.parametrize("fit, blue, grey_top", [("stretch", True, False), ("crop", False, False), ("pad", True, True)])
def test_fit_fills_the_box_as_asked(tmp_path, fit, blue, grey_top):
    # 80x40: red, its right quarter blue
    _png(tmp_path / "wide.png", 80, 40, "255", color="if(lt(X,60),255,0):0:if(lt(X,60),0,255)")
    out = _render(tmp_path, f"  overlay wide x 100px y 50px width 80px height 80px fit {fit}", 'media wide = "wide.png"\n')
    box = frame_at(out, 1.0)[50:130, 100:180]
    has_blue = bool(((box[..., 2] > 180) & (box[..., 0] < 90)).any())
    assert has_blue == blue
    assert (np.abs(box[4, 40] - GREY).max() < 10) == grey_top  # pad: the box's top is transparent


def test_a_fade_stays_with_the_end_it_belongs_to():
    d = layers.add_overlay(_base(), "logo", LOGO, st=2000, d=4000, look={"fade": {"in": 500, "out": 500}})
    assert _layer(ops.trim(d, 3000))[0].m["fade"] == {"out": 500}  # its start was cut: no fade-in at the cut
    assert "fade" not in _layer(ops.trim(d, 3000, 5000))[0].m
    assert _layer(ops.change_speed(d, 2.0))[0].m["fade"] == {"in": 250, "out": 250}
    pieces = _layer(ops.cut_spans(d, [(3000, 4000)]))
    assert [p.m.get("fade") for p in pieces] == [{"in": 500}, {"out": 500}]


@pytest.mark.slow
def test_fade_brings_a_still_in_and_out(tmp_path):
    _png(tmp_path / "logo.png", 40, 40, "255", color="255:255:255")
    out = _render(tmp_path, "  overlay logo at center width 30% fade 500ms", 'media logo = "logo.png"\n')
    level = [float(_patch(frame_at(out, t), 160, 90).mean()) for t in (0.0, 0.2, 1.0, 1.9)]
    assert abs(level[0] - GREY) < 8 and abs(level[2] - 255) < 8  # none at its start, all in the middle
    assert GREY + 30 < level[1] < 255 - 30 and GREY + 10 < level[3] < 255 - 60  # part-way in, and nearly out


def test_a_title_longer_than_its_edit_ends_with_it_when_spliced():
    """The porter's case: a `title` without `to` lasts 3 s; in a 2 s edit that is concatenated it ran 1 s into the next."""
    one = ops.normalize(ops.add_text(_base(2000), "One", {"role": "title"}, st=0, d=3000))
    one = layers.add_overlay(one, "logo", LOGO, st=1000, d=1000)
    both = ops.normalize(ops.splice(ops.splice(Draft(), one), one))
    assert [(s.st, s.end) for s in both.segments(TEXT)] == [(0, 2000), (2000, 4000)]
    assert [(s.st, s.end) for s in _layer(both, 1) + _layer(both, 2)] == [(1000, 2000), (3000, 4000)]
