"""The fast paths of the standard edit keep what users see and hear (benchmarks/render.py measures their speed).

- The encoder is asked for 48 kHz (`-ar 48000`) only when some sound is not 48 kHz already; the output is
  48 kHz either way.
- The title keeps its drop shadow (drawtext's own, drawn glyph by glyph where the title is, not a second
  full-frame pass): white letters, a darker shadow down-right of them, nothing once the title ends.
- The Draft schema, no longer checked against its metaschema at every run's start, is checked here.
"""

from __future__ import annotations

import json
import re

import av
import numpy as np
import pytest
from mediagen import ffmpeg, make_audio, make_video
from renderkit import frame_at, run_recipe


def _rendered(tmp_path, monkeypatch, recipe: str) -> tuple[list[str], object]:
    """Run the recipe in-process with NEMOFLOW_DEBUG (which prints the FFmpeg command); (its arguments, the result)."""
    monkeypatch.setenv("NEMOFLOW_DEBUG", "1")
    result = run_recipe(tmp_path, recipe)
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("ffmpeg "))
    return line.split(" "), result


def _audio_rate(path) -> int:
    with av.open(str(path)) as c:
        return c.streams.audio[0].rate


def _ar(args: list[str]) -> str | None:
    return args[args.index("-ar") + 1] if "-ar" in args else None


RECIPE = """nemo 1
media clip = "clip.mp4"
media bed = "{music}"
edit cut {{
  video clip from 0s to 2s
  music bed volume 35%
}}
export final = cut {{
  size 320x180
  save "out.mp4"
}}
"""


def test_no_resampling_asked_when_every_sound_is_48k(tmp_path, monkeypatch):
    make_video(tmp_path / "clip.mp4", duration=2.0)  # 48 kHz tone
    make_audio(tmp_path / "bed.m4a", duration=3.0)  # 48 kHz
    args, _ = _rendered(tmp_path, monkeypatch, RECIPE.format(music="bed.m4a"))
    assert _ar(args) is None, " ".join(args)
    assert _audio_rate(tmp_path / "out.mp4") == 48000


def test_a_44k_source_is_resampled_to_48k(tmp_path, monkeypatch):
    make_video(tmp_path / "clip.mp4", duration=2.0)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=44100:duration=3", "-c:a", "aac", str(tmp_path / "bed44.m4a"))
    args, _ = _rendered(tmp_path, monkeypatch, RECIPE.format(music="bed44.m4a"))
    assert _ar(args) == "48000", " ".join(args)
    assert _audio_rate(tmp_path / "out.mp4") == 48000


def test_the_title_is_drawn_with_its_shadow_and_only_while_it_lasts(tmp_path, monkeypatch):
    make_video(tmp_path / "grey.mp4", duration=2.0, color="0x808080", size=(320, 180))
    recipe = """nemo 1
media clip = "grey.mp4"
edit cut {
  video clip from 0s to 2s
  title "HH" from 0s to 1s
}
export final = cut {
  size 320x180
  save "out.mp4"
}
"""
    args, _ = _rendered(tmp_path, monkeypatch, recipe)
    graph = args[args.index("-filter_complex") + 1]
    drawtext = re.search(r"drawtext=[^;\[]*", graph)
    assert drawtext and "shadowx=2" in drawtext.group(0) and "shadowy=2" in drawtext.group(0), graph
    assert graph.count("drawtext=") == 1  # one text render: the shadow is drawtext's own, not a second pass

    titled, plain = frame_at(tmp_path / "out.mp4", 0.5), frame_at(tmp_path / "out.mp4", 1.5)
    luma = titled.mean(axis=2)
    white = luma > 230
    assert 40 < white.sum() < 0.1 * white.size, white.sum()  # letters, in the middle, not the whole frame
    ys, xs = np.nonzero(white)
    assert abs(xs.mean() - 160) < 20 and abs(ys.mean() - 90) < 20
    # the shadow: 2 px down-right of the letters, dark where no letter covers it
    shifted = np.zeros_like(white)
    shifted[2:, 2:] = white[:-2, :-2]
    shadow = shifted & ~white
    assert shadow.sum() > 10
    assert luma[shadow].mean() < 100, luma[shadow].mean()  # grey 128 under black at 50%: about 64
    assert plain.mean(axis=2).max() < 150  # after 1 s: no title, no shadow, just grey


def test_the_draft_schema_is_a_valid_schema():
    import jsonschema

    from nemoflow.resources import resource_path

    schema = json.loads(resource_path("schemas/draft.schema.json").read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema).check_schema(schema)


def test_a_broken_draft_is_still_refused():
    from nemoflow.draft.schema import problems

    assert problems({"v": 1, "d": "ten seconds"}), "the validator built without check_schema must still validate"


@pytest.mark.parametrize("rates, expected", [((48000, 48000), True), ((48000, 44100), False)])
def test_the_graph_knows_when_every_sound_is_48k(rates, expected):
    from nemoflow.draft.media import AudioTrack, MediaEntry, MediaKind
    from nemoflow.draft.model import Draft
    from nemoflow.engines.local.graph import _all_48k

    def entry(rate: int, kind: MediaKind) -> dict:
        track = AudioTrack(index=1 if kind == MediaKind.VIDEO else 0, codec="aac", sample_rate=rate, channels=2,
                           layout="stereo", default=True)
        return MediaEntry(kind=kind, audio=True, d=4000, path=f"/x/{rate}.{kind.value}", tracks=(track,), w=320, h=180,
                          fps=30.0 if kind == MediaKind.VIDEO else None).to_json()

    draft = Draft.from_json({
        "v": 1, "d": 2000, "m": {"media": {"media.v": entry(rates[0], MediaKind.VIDEO), "media.a": entry(rates[1], MediaKind.AUDIO)}},
        "t": [{"tt": 0, "m": {"name": "Video"}, "sg": [{"st": 0, "d": 2000, "m": {"src": "media.v", "in": 0}}]},
              {"tt": 1, "m": {"name": "Audio"}, "sg": [{"st": 0, "d": 2000, "m": {"src": "media.a"}}]}]})
    assert _all_48k(draft) is expected
