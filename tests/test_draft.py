"""The Draft: schema at the boundaries, unknown fields kept, operations pure, edits compiled as written."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from nemoflow.draft import ops
from nemoflow.draft.model import AUDIO, TEXT, VIDEO, Draft
from nemoflow.draft.schema import load_draft, problems, validate
from nemoflow.errors import DraftError
from nemoflow.lang.check import check_source

CLIP = {"kind": "video", "path": "/footage/a.mp4", "d": 10000, "w": 1920, "h": 1080, "fps": 30.0, "audio": True,
        "pix_fmt": "yuv420p"}
SONG = {"kind": "audio", "path": "/audio/song.mp3", "d": 60000, "audio": True}

SERVICE_DRAFT = {
    "t": [
        {"tt": 0, "sg": [{"d": 10000, "m": {"src": "city", "name": "city timelapse", "thumb": "x.jpg"}, "uid": "s1"}],
         "locked": False},
        {"tt": 1, "sg": [{"d": 10000, "m": {"src": "lofi", "volume": 35}}]},
        {"tt": 7, "sg": [{"d": 3000, "m": {"text": "Urban Dreams", "font_id": 17}}]},
    ],
    "m": {"media": {"city": {"kind": "video", "url": "https://cdn.example/c.mp4"}, "lofi": {"kind": "audio", "url": "https://cdn/l.mp3"}},
          "project": {"fps": 30}},
    "revision": 12,
}


def test_unknown_fields_survive_a_round_trip():
    draft = load_draft(copy.deepcopy(SERVICE_DRAFT), "from a test")
    out = draft.to_json()
    assert out["revision"] == 12
    assert out["t"][0]["locked"] is False
    assert out["t"][0]["sg"][0]["uid"] == "s1"
    assert out["t"][0]["sg"][0]["m"]["thumb"] == "x.jpg"
    assert out["t"][2]["sg"][0]["m"]["font_id"] == 17
    assert out["m"]["project"] == {"fps": 30}
    assert Draft.from_json(json.loads(json.dumps(out))).to_json() == out
    validate(out, "after a round trip")


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d["t"][0].update(tt=3), "t/0/tt"),
    (lambda d: d["t"][0]["sg"][0].update(d=-5), "t/0/sg/0/d"),
    (lambda d: d["t"][1]["sg"][0]["m"].update(volume="loud"), "t/1/sg/0/m/volume"),
    (lambda d: d["t"][0]["sg"][0]["m"].update(src="nowhere"), "t/0/sg/0/m/src"),
    (lambda d: d["t"][2]["sg"][0]["m"].pop("text"), "t/2/sg/0/m"),
    (lambda d: d["t"][0]["sg"][0].update(tr={"type": "spin", "d": 100}), "t/0/sg/0/tr/type"),
    (lambda d: d.pop("t"), "(root)"),
])
def test_schema_rejects_broken_drafts_with_the_path(mutate, where):
    data = copy.deepcopy(SERVICE_DRAFT)
    mutate(data)
    found = problems(data)
    assert any(p.startswith(where) for p in found), found
    with pytest.raises(DraftError, match="invalid draft from the service"):
        load_draft(data, "from the service")


def _two_clips() -> Draft:
    d = ops.add_clip(Draft(), "a", CLIP, in_ms=1000, d_ms=4000)
    d = ops.set_transition(d, "crossfade", 1000)
    return ops.add_clip(d, "b", {**CLIP, "path": "/footage/b.mp4"}, in_ms=0, d_ms=3000)


def test_operations_are_pure():
    base = _two_clips()
    before = base.to_json()
    for op in (lambda d: ops.trim(d, 500, 5000), lambda d: ops.change_speed(d, 2.0), lambda d: ops.set_volume(d, 20),
               lambda d: ops.add_effect(d, {"type": "grade", "preset": "warm", "amount": 50.0}),
               lambda d: ops.reframe(d, 9, 16, "blur"), lambda d: ops.fade(d, "out", 500),
               lambda d: ops.add_text(d, "hi", {"role": "title"}, st=0, d=1000)):
        result = op(base)
        assert result is not base
        assert base.to_json() == before


def test_transition_overlaps_the_clips():
    d = _two_clips()
    a, b = d.segments(VIDEO)
    assert (a.st, a.d, b.st, b.d) == (0, 4000, 3000, 3000)
    assert b.tr == {"type": "crossfade", "d": 1000}
    assert d.d == 6000


def test_trim_moves_in_points_and_drops_cut_transitions():
    d = ops.trim(_two_clips(), 500, 5000)
    a, b = d.segments(VIDEO)
    assert (a.st, a.d, a.m["in"]) == (0, 3500, 1500)
    assert (b.st, b.d, b.m["in"], b.tr["d"]) == (2500, 2000, 0, 1000)
    later = ops.trim(_two_clips(), 3500, None)  # starts inside the crossfade: the rest of it is the next clip alone
    (only,) = later.segments(VIDEO)
    assert (only.m["src"], only.st, only.m["in"], only.tr) == ("b", 0, 500, None)
    assert later.d == 2500


def test_speed_scales_the_timeline_but_not_the_music_bed():
    d = ops.add_sound(_two_clips(), "song", SONG, bed=True, volume=35)
    d = ops.add_text(d, "hi", {"role": "text"}, st=2000, d=2000)
    fast = ops.normalize(ops.change_speed(d, 2.0))
    a, b = fast.segments(VIDEO)
    assert (a.d, a.m["speed"], b.st, b.tr["d"]) == (2000, 2.0, 1500, 500)
    assert fast.segments(TEXT)[0].st == 1000
    bed = fast.segments(AUDIO)[0]
    assert (bed.st, bed.d, bed.m["volume"]) == (0, fast.d, 35.0)


def test_reframe_changes_the_canvas_aspect():
    d = ops.reframe(_two_clips(), 9, 16, "crop")
    assert d.canvas["h"] == 1080 and abs(d.canvas["w"] / d.canvas["h"] - 9 / 16) < 0.01
    assert {s.m["fit"] for s in d.segments(VIDEO)} == {"crop"}


def _compile(text: str, tmp_path: Path, media: dict) -> dict[str, Draft]:
    from nemoflow.draft.build import build_edit
    from nemoflow.draft.media import MediaEntry

    recipe = check_source(text, "t.nemo", tmp_path, {})
    media = {sid: MediaEntry.from_json(entry) for sid, entry in media.items()}
    built: dict[str, Draft] = {}

    def draft_of(sid):
        return built[sid]

    for sid, step in recipe.steps.items():
        if step.kind == "edit":
            built[sid] = build_edit(step, media, draft_of)
    return built


def test_edit_clauses_compile_in_order(tmp_path):
    (tmp_path / "a.mp4").write_bytes((b"G" + b"." * 187) * 3)  # MPEG-TS sync bytes: check takes it for a video
    (tmp_path / "s.mp3").write_bytes(b"ID344     ")  # an ID3 tag: check takes it for MP3
    text = """nemo 1
media a = "a.mp4"
media s = "s.mp3"
edit cut {
  video a from 2s to 6s
  grade warm 50%
  video a from 0s for 1s speed 2x
  title "Hi" from 0s to 1s
  music s volume 35% fade out 1s
}
edit outer {
  video cut from 1s to 3s
  transition fade 500ms
  video a for 2s
}
"""
    media = {"media.a": {**CLIP, "path": str(tmp_path / "a.mp4")}, "media.s": {**SONG, "path": str(tmp_path / "s.mp3")}}
    built = _compile(text, tmp_path, media)
    cut = built["edit.cut"]
    first, second = cut.segments(VIDEO)
    assert first.m["fx"] == [{"type": "grade", "preset": "warm", "amount": 50.0}]
    assert "fx" not in second.m  # the grade came before this clip
    assert (second.st, second.d, second.m["speed"]) == (4000, 1000, 2.0)
    assert cut.segments(AUDIO)[0].d == cut.d == 5000
    outer = built["edit.outer"]
    v = outer.segments(VIDEO)
    assert [s.m["src"] for s in v] == ["media.a", "media.a"]
    assert (v[0].m["in"], v[0].d) == (3000, 2000)
    assert outer.segments(TEXT) == ()  # the title lived at 0–1 s of `cut`, outside the window taken
    assert v[1].tr == {"type": "fade", "d": 500}
    validate(outer.to_json(), "in a test")


def test_edit_errors_point_at_the_clause(tmp_path):
    (tmp_path / "a.mp4").write_bytes((b"G" + b"." * 187) * 3)
    text = 'nemo 1\nmedia a = "a.mp4"\nedit cut {\n  video a from 2s to 30s\n}\n'
    with pytest.raises(DraftError, match=r"t\.nemo:4:3: in edit\.cut, `video`: the clip runs to 30s but `media\.a` is only 10s long"):
        _compile(text, tmp_path, {"media.a": {**CLIP, "path": str(tmp_path / "a.mp4")}})


def test_draft_command_prints_valid_drafts(cli):
    from conftest import EXAMPLES

    result = cli("draft", str(EXAMPLES / "travel_reel.nemo"))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"export.web", "export.story"}
    for entry in data.values():
        validate(entry["draft"], "in a test")
    web = data["export.web"]
    assert web["output"] == {"width": 1920, "height": 1080, "fps": 30.0, "format": "mp4", "codec": "h264",
                             "quality": "medium", "crf": None, "audio": "aac"}
    tracks = {t["tt"]: t for t in web["draft"]["t"]}
    assert len(tracks[VIDEO]["sg"]) == 4 and len(tracks[TEXT]["sg"]) == 2
    assert abs(web["draft"]["d"] - 13083) <= 1
