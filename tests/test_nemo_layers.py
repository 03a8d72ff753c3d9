"""Issue 17 on the cloud engine: what maps to the NemoVideo service, what is refused at check time, and why.

Mapped: an export with no `ask` sends nemoflow's Draft to the render endpoint, overlays as further video tracks
(the contract's tracks; the seed's render "composites video layers"), weights and the master level worked into
plain levels, GIF/WebP converted here from the service's MP4, generated gradients encoded here and uploaded. An
`ask` that continues an edit brings its session there in words, one instruction per operation, each checked in
the session's state after: overlays, Ken Burns zooms, eased transitions, text styles, stretched fits, tempo.
The fake agent reads those words without nemoflow's table and has a switch for each plausible reading
(Quirks.layer_reading, Quirks.unknown_words). Refused at check time: SVG stills (not an upload type), E405.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mediagen import make_image, make_video
from nemokit import fast_cloud
from renderkit import frame_at
from runnerkit import finished, nf

from nemoflow.draft.model import AUDIO, TEXT, VIDEO, Draft
from nemoflow.testing import fake_timeline
from nemoflow.testing.fake_nemo import VARIANTS, FakeNemo, variant_quirks

GREEN = "#00ff00"

RECIPE = """nemo 1

media clip = "clip.mp4"
media logo = "logo.png"
media bg = gradient #ff0000 #0000ff duration 2s size 320x180
media beep = tone 880hz duration 1s

edit cut {
  video clip from 0s to 2s
  kenburns from 100% to 120% pan right
  transition wipeup 500ms ease in-out
  video bg for 1s
  image logo for 1s fit stretch
  overlay logo at top-right width 20% from 0s to 2s
  text "A long subtitle line" style bar wrap 80% animate fade stagger 300ms
  audio beep at 1s volume 80% weight 2
}

ask polish = cut "color grade it"

export plain = cut {
  size 320x180
  volume -6dB
  save "out/plain.mp4"
}

export final = polish {
  size 320x180
  save "out/final.mp4"
}
"""


def _project(root: Path, recipe: str = RECIPE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    make_video(root / "clip.mp4", size=(320, 180), duration=3.0, color="#202020")
    make_image(root / "logo.png", size=(64, 48), color=GREEN)
    path = root / "r.nemo"
    path.write_text(recipe, encoding="utf-8")
    return path


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """Start a fake service under a named variant with more knobs; nemoflow pointed at it."""
    started: list[FakeNemo] = []

    def start(variant: str = "url", **knobs) -> FakeNemo:
        fake = FakeNemo(tmp_path / "fake", variant_quirks(variant, seed=3, **knobs)).start()
        started.append(fake)
        fast_cloud(monkeypatch, fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def _session_draft(fake: FakeNemo) -> Draft:
    """The one session's timeline, read back into the fake's internal form (a Draft keyed by upload id)."""
    (session,) = [s for s in fake.sessions.values() if any(t.get("sg") for t in s.draft.get("t") or [])]
    return Draft.from_json(fake_timeline.to_internal(session.draft, fake.library()))


def _green(frame: np.ndarray, box: tuple[slice, slice]) -> bool:
    r, g, b = (frame[box[0], box[1], c].mean() for c in range(3))
    return g > 150 and r < 100 and b < 100


# -- refused at check time ------------------------------------------------------------------------------------------

def test_an_svg_still_is_refused_at_check_time_naming_the_local_engine(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">'
                                   '<rect width="64" height="48" fill="#0f0"/></svg>\n', encoding="utf-8")
    recipe = root / "r.nemo"
    recipe.write_text('nemo 1\nmedia logo = "logo.svg"\nedit cut {\n  image logo for 1s\n}\n', encoding="utf-8")
    assert nf("check", recipe).exit_code == 0  # the local engine rasterises it
    result = nf("check", recipe, "--engine", "nemo", "--json")
    assert result.exit_code == 2
    (diag,) = json.loads(result.stdout)["files"][0]["diagnostics"]
    assert diag["code"] == "E405" and "SVG" in diag["message"] and diag["range"]["start"]["line"] == 2
    assert "`--engine local`" in diag["help"] and "PNG" in diag["help"]
    named = root / "drawing.png"  # judged by content: an SVG under another name is still one
    named.write_bytes((root / "logo.svg").read_bytes())
    recipe.write_text('nemo 1\nengine nemo\nmedia logo = "drawing.png"\nedit cut {\n  image logo for 1s\n}\n', encoding="utf-8")
    again = nf("check", recipe)
    assert again.exit_code == 2 and "is an SVG drawing (drawing.png)" in again.stderr and "--engine local" in again.stderr


# -- mapped: the render path ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_an_export_sends_layers_and_plain_levels_and_renders_them(tmp_path, serve):
    fake = serve("url")
    recipe = _project(tmp_path / "p")
    result = nf("run", recipe, "--engine", "nemo", "--json", "export.plain")
    assert result.exit_code == 0, result.output
    (body,) = fake.render_bodies()
    assert "weight" not in json.dumps(body)  # nemoflow's weights are not the service's: sent as levels
    videos = [t for t in body["t"] if t["tt"] == VIDEO]
    assert len(videos) == 2 and videos[1]["m"]["layer"] == 1  # the overlay: a second video track, over the main one
    (beep,) = [s for t in body["t"] if t["tt"] == AUDIO for s in t["sg"]]
    master = 10 ** (-6 / 20)  # -6 dB, worked into every level (the render body has no place for it)
    assert beep["m"]["volume"] == pytest.approx(80 * master, abs=0.01)  # the heaviest sound keeps its volume
    assert videos[0]["sg"][0]["m"]["volume"] == pytest.approx(100 * 1 / 2 * master, abs=0.01)  # the clips weigh 1 of 2
    out = recipe.parent / "out" / "plain.mp4"
    early, late = frame_at(out, 1.0), frame_at(out, 2.2)
    assert _green(early, (slice(5, 30), slice(270, 310)))  # the logo at the top right while it is on
    assert not _green(late, (slice(5, 30), slice(270, 310)))  # and gone after its `to`
    top, bottom = late[2:10, 10:40].mean(axis=(0, 1)), late[170:178, 10:40].mean(axis=(0, 1))
    assert top[0] > 180 and top[2] < 80 and bottom[2] > 180 and bottom[0] < 80  # the gradient, encoded here and uploaded


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_an_animated_picture_export_is_converted_here_from_the_cloud_render(tmp_path, serve, fmt):
    serve("url")
    recipe = _project(tmp_path / "p", RECIPE + f'\nexport anim = cut {{\n  size 320x180\n  format {fmt}\n  save "out/anim.{fmt}"\n}}\n')
    result = nf("run", recipe, "--engine", "nemo", "--json", "export.anim")
    assert result.exit_code == 0, result.output
    out = recipe.parent / "out" / f"anim.{fmt}"
    head = out.read_bytes()[:16]
    assert head[:4] == b"GIF8" if fmt == "gif" else (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    ended = next(json.loads(ln) for ln in result.stdout.splitlines()
                 if '"step-finished"' in ln and '"export.anim"' in ln)
    assert f"converted here to {fmt}" in ended["summary"]
    if fmt == "gif":  # PyAV reads GIF back; the picture is the cloud render's, overlay included
        assert _green(frame_at(out, 1.0), (slice(5, 30), slice(270, 310)))


@pytest.mark.slow
def test_levels_sent_for_weights_and_master_volume_sound_as_the_local_engine_mixes_them(tmp_path, serve):
    """The same export on both engines: the cloud one gets plain levels, the local one computes them from the
    weights and applies the master level after the mix; the sound must come out the same."""
    from renderkit import rms, sound

    serve("url")
    recipe = _project(tmp_path / "p")
    out = recipe.parent / "out" / "plain.mp4"
    assert nf("run", recipe, "--engine", "local", "export.plain").exit_code == 0
    local, rate = sound(out)
    out.rename(out.with_name("local.mp4"))
    result = nf("run", recipe, "--engine", "nemo", "export.plain")
    assert result.exit_code == 0, result.output
    cloud, _ = sound(out)
    for a, b in ((0.1, 0.9), (1.1, 1.9)):  # the clip alone, then the clip and the beep
        x, y = local[int(a * rate):int(b * rate)], cloud[int(a * rate):int(b * rate)]
        assert rms(y) == pytest.approx(rms(x), rel=0.05), (a, rms(x), rms(y))


# -- mapped: the ask path, in words, under every reading ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_an_ask_brings_the_session_to_the_edit_with_every_feature_in_words(tmp_path, serve, variant):
    fake = serve(variant)
    recipe = _project(tmp_path / "p")
    result = nf("run", recipe, "--engine", "nemo", "--json", "export.final")
    assert result.exit_code == 0, result.output
    assert finished(result)["export.final"] == "ok"
    state = _session_draft(fake)  # what the session holds, as the fake keeps it
    clips = state.segments(VIDEO)
    assert [fx["type"] for fx in clips[0].m.get("fx", [])][:1] == ["kenburns"]
    assert clips[0].m["fx"][0] | {} == {"type": "kenburns", "from": 100.0, "to": 120.0, "pan": "right"}
    assert clips[1].tr == {"type": "wipeup", "d": 500, "ease": "in-out"}
    assert clips[2].m.get("fit") == "stretch"
    layers = [t for t in state.t if t.tt == VIDEO][1:]
    assert len(layers) == 1 and len(layers[0].sg) == 1
    overlay = layers[0].sg[0]
    assert (overlay.st, overlay.d) == (0, 2000) and overlay.m["at"] == "top-right" and overlay.m["w"] == {"pct": 20.0}
    (text,) = state.segments(TEXT)
    assert {k: text.m["style"].get(k) for k in ("style", "wrap", "animate", "stagger")} == {
        "style": "bar", "wrap": {"pct": 80.0}, "animate": "fade", "stagger": 300}
    (beep,) = state.segments(AUDIO)
    assert beep.m["volume"] == pytest.approx(80.0) and "weight" not in beep.m  # 2 of 2: its own volume, as a level
    assert clips[0].m["volume"] == pytest.approx(50.0)  # the clips' sound, weight 1 of 2
    out = recipe.parent / "out" / "final.mp4"
    assert _green(frame_at(out, 1.0), (slice(5, 30), slice(270, 310)))  # the service's draft renders the overlay


@pytest.mark.slow
@pytest.mark.parametrize("reading", ["main", "none"])
def test_a_service_that_does_not_layer_the_overlay_fails_clearly_naming_the_local_engine(tmp_path, serve, reading):
    serve("url", layer_reading=reading)
    recipe = _project(tmp_path / "p")
    result = nf("run", recipe, "--engine", "nemo", "export.final")
    assert result.exit_code != 0
    assert "no overlay of logo over the main picture" in result.stderr, result.stderr
    assert ("put on the main video track instead" in result.stderr) == (reading == "main")
    assert "--engine local" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_service_without_ken_burns_fails_clearly_naming_the_local_engine(tmp_path, serve):
    serve("url", unknown_words=("kenburns",))
    recipe = _project(tmp_path / "p")
    result = nf("run", recipe, "--engine", "nemo", "export.final")
    assert result.exit_code != 0
    assert "Slowly zoom clip 1 from 100% to 120%, panning right" in result.stderr and "clip 1 did not change" in result.stderr
    assert "--engine local" in result.stderr


MOTION = """nemo 1

media clip = "clip.mp4"
media logo = "logo.png"
media beep = tone 880hz duration 1s

edit cut {
  video clip from 0s to 2s
  audio beep fit stretch
  pip clip at bottom-left width 30% border 4px #ffcc00 move top-right scale 40% ease in-out from 0.5s to 1.5s volume 50%
  overlay logo x 10% y 20% width 64px opacity 50% from 0s to 1s
  pip clip x 95% y 5% origin top-right width 30% height 40% fit crop border 0px from 0s to 1s
  overlay logo width 100% height 100% fit pad from 1s to 2s
  overlay logo at top-right width 12% fade 300ms from 0.5s to 1.5s
}

ask polish = cut "color grade it"

export final = polish {
  size 320x180
  save "out/final.mp4"
}
"""


def _layers(draft: Draft) -> list[list[tuple[int, int, dict]]]:
    """Each overlay track's segments as (start, length, m without the media reference)."""
    return [[(s.st, s.d, {k: v for k, v in s.m.items() if k != "src"}) for s in t.sg] for t in draft.t if t.tt == VIDEO][1:]


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["url", "table"])
def test_boxes_borders_motion_sound_and_tempo_reach_the_session_as_the_edit_has_them(tmp_path, serve, variant):
    fake = serve(variant)
    recipe = _project(tmp_path / "p", MOTION)
    drafted = nf("draft", recipe, "--step", "edit.cut")
    edit = Draft.from_json(json.loads(drafted.stdout)["edit.cut"]["draft"])
    result = nf("run", recipe, "--engine", "nemo", "--json")
    assert result.exit_code == 0, result.output
    state = _session_draft(fake)
    assert _layers(state) == _layers(edit)  # position, size, border, opacity, sound, motion and its easing, layer order
    (beep,) = state.segments(AUDIO)
    assert beep.m["tempo"] == 0.5 and (beep.st, beep.d) == (0, 2000)


@pytest.mark.slow
@pytest.mark.parametrize("word", ["style", "ease"])
def test_a_modifier_the_service_leaves_out_is_not_seen_by_the_checks(tmp_path, serve, word):
    """The documented limit: the state shows a text's words and times and a clip's place, not its style or a
    transition's easing under any documented name, so a service that drops those words passes the checks."""
    fake = serve("url", unknown_words=(word,))
    recipe = _project(tmp_path / "p")
    result = nf("run", recipe, "--engine", "nemo", "--json", "export.final")
    assert result.exit_code == 0, result.output
    state = _session_draft(fake)
    if word == "style":
        assert "wrap" not in state.segments(TEXT)[0].m["style"]
    else:
        assert "ease" not in state.segments(VIDEO)[1].tr


@pytest.mark.slow
def test_a_master_level_on_the_services_own_draft_is_applied_here(tmp_path, serve):
    """After an `ask` the service's draft is sent untouched (its levels are its own fields), so an export's `volume`
    is applied to the download here, like a codec the service does not make."""
    from renderkit import rms, sound

    serve("url")
    text = RECIPE + '\nexport quiet = polish {\n  size 320x180\n  volume 50%\n  save "out/quiet.mp4"\n}\n'
    recipe = _project(tmp_path / "p", text)
    result = nf("run", recipe, "--engine", "nemo", "--json", "export.final", "export.quiet")
    assert result.exit_code == 0, result.output
    loud, _ = sound(recipe.parent / "out" / "final.mp4")
    soft, _ = sound(recipe.parent / "out" / "quiet.mp4")
    assert rms(soft) / rms(loud) == pytest.approx(0.5, rel=0.05)
    ended = next(json.loads(ln) for ln in result.stdout.splitlines() if '"step-finished"' in ln and '"export.quiet"' in ln)
    assert "converted here" in ended["summary"]


@pytest.mark.slow
def test_a_shortened_transition_is_said_at_a_cloud_export_too(tmp_path, serve):
    serve("url")
    text = ('nemo 1\nmedia clip = "clip.mp4"\nedit cut {\n  video clip from 0s to 2s\n  transition dissolve 3s\n'
            '  video clip from 0s to 2s\n}\nexport plain = cut {\n  size 320x180\n  save "out/plain.mp4"\n}\n')
    recipe = _project(tmp_path / "p", text)
    result = nf("run", recipe, "--engine", "nemo", "--json")
    assert result.exit_code == 0, result.output
    said = [json.loads(ln) for ln in result.stdout.splitlines() if '"step-message"' in ln]
    assert any(e["kind"] == "warning" and e["step"] == "export.plain" and "shortened to 1s" in e["text"] for e in said), said
