"""Carrying out intents on a Draft: ripple cuts, per-clip grades, music, export hints (pure: the analysis is stubbed)."""

from __future__ import annotations

import itertools
import types

import pytest

from nemoflow.core.model import ExportSettings
from nemoflow.draft import ops
from nemoflow.draft.model import AUDIO, TEXT, VIDEO, Draft
from nemoflow.draft.output import output_for
from nemoflow.draft.schema import checked
from nemoflow.engines.local.ask import apply, footage
from nemoflow.engines.local.ask.analysis import Analysis
from nemoflow.engines.local.ask.intents import Intent
from nemoflow.errors import DraftError

CLIP = {"kind": "video", "path": "/f/a.mp4", "d": 20000, "w": 1920, "h": 1080, "fps": 30.0, "audio": True, "pix_fmt": "yuv420p"}
SONG = {"kind": "audio", "path": "/f/song.mp3", "d": 60000, "audio": True}


def timeline(*clips: tuple[int, int], speed: float = 1.0, music: bool = True, crossfade: int = 0) -> Draft:
    """Clips of media a (in, length) one after another, a title 0–3s, music under all."""
    draft = Draft(m={"name": "edit.t"})
    for n, (in_ms, d) in enumerate(clips):
        if crossfade and n:
            draft = ops.set_transition(draft, "crossfade", crossfade)
        draft = ops.add_clip(draft, "a", CLIP, in_ms=in_ms, d_ms=d, speed=speed)
    draft = ops.add_text(draft, "Hello", {"role": "title"}, st=0, d=3000)
    if music:
        draft = ops.add_sound(draft, "song", SONG, volume=50, bed=True)
    return checked(ops.normalize(draft), "test")


def spans(draft: Draft, tt: int = VIDEO) -> list[tuple[int, int, int]]:
    return [(s.st, s.d, s.m.get("in", -1)) for s in draft.segments(tt)]


# -- the ripple cut ------------------------------------------------------------------------------------------
def test_cut_spans_splits_a_clip_and_closes_the_gap():
    out = ops.cut_spans(timeline((1000, 10000)), [(2000, 4000)])
    assert spans(out) == [(0, 2000, 1000), (2000, 6000, 5000)]
    assert out.d == 8000


def test_cut_spans_moves_in_points_by_speed_and_keeps_later_clips_in_order():
    out = ops.cut_spans(timeline((0, 4000), (10000, 4000), speed=2.0), [(1000, 2000), (5000, 6000)])
    assert spans(out) == [(0, 1000, 0), (1000, 2000, 4000), (3000, 1000, 10000), (4000, 2000, 14000)]
    assert out.d == 6000


def test_cut_spans_cuts_text_and_leaves_beds_to_normalize():
    draft = timeline((0, 10000))
    out = ops.normalize(ops.cut_spans(draft, [(1000, 2000)]))
    assert spans(out, TEXT) == [(0, 2000, -1)]
    bed = out.segments(AUDIO)[0]
    assert (bed.st, bed.d) == (0, 9000)


def test_cut_spans_head_and_tail_and_nothing_left():
    out = ops.cut_spans(timeline((0, 10000)), [(0, 1000), (9000, 10000)])
    assert spans(out) == [(0, 8000, 1000)]
    with pytest.raises(DraftError, match="leave nothing"):
        ops.cut_spans(timeline((0, 10000)), [(0, 10000)])


def test_cut_spans_keeps_an_untouched_transition_and_hard_cuts_a_touched_one():
    draft = timeline((0, 5000), (0, 5000), crossfade=1000)  # clip 2 starts at 4000, overlapping 4000–5000
    kept = ops.cut_spans(draft, [(6000, 7000)])
    assert kept.segments(VIDEO)[1].tr == {"type": "crossfade", "d": 1000}
    touched = ops.cut_spans(draft, [(4500, 4800)])
    video = touched.segments(VIDEO)
    assert all(s.tr is None for s in video)
    assert all(a.end <= b.st for a, b in itertools.pairwise(video))  # no overlap left without a transition
    checked(touched, "test")


def test_cut_spans_drops_fades_whose_edge_was_cut():
    draft = ops.fade(ops.fade(timeline((0, 10000)), "in", 1000), "out", 1000)
    out = ops.cut_spans(draft, [(500, 1500), (9500, 10000)])
    fx = [[e["dir"] for e in s.m.get("fx", [])] for s in out.segments(VIDEO)]
    assert fx == [["in"], []]


def test_set_music_and_its_errors():
    draft = timeline((0, 5000))
    assert ops.set_music(draft, volume=35).segments(AUDIO)[0].m["volume"] == 35
    assert ops.set_music(draft, fade_out=2000).segments(AUDIO)[0].m["fade_out"] == 2000
    assert not ops.set_music(draft, remove=True).segments(AUDIO)
    with pytest.raises(DraftError, match="no music"):
        ops.set_music(timeline((0, 5000), music=False), volume=35)


# -- intents → operations ----------------------------------------------------------------------------------
def fake_analysis(found: dict[str, list[tuple[float, float]]], monkeypatch, grade: dict | None = None):
    """Stub the footage finders: `found[what]` spans (seconds, relative to each window) for every clip."""
    calls = []
    for what in apply.FINDERS:
        monkeypatch.setitem(apply.FINDERS, what, lambda an, what=what: found.get(what, []))
    monkeypatch.setattr(apply.footage, "auto_grade", lambda an, prior: grade)

    def analyse(i, mid, entry, start, length):
        calls.append((i, mid, start, length))
        return types.SimpleNamespace(has_audio=True)

    return analyse, calls


def test_cut_maps_source_spans_through_speed_onto_the_timeline(monkeypatch):
    analyse, calls = fake_analysis({"shaky": [(2.0, 4.0)]}, monkeypatch)
    draft = timeline((1000, 5000), (1000, 5000), speed=2.0)  # each clip shows 10 s of source in 5 s
    out = apply.carry_out(draft, [Intent("cut", {"what": "shaky"}, "trim the shaky clips")], analyse)
    assert calls == [(0, "a", 1000, 10000), (1, "a", 1000, 10000)]
    assert spans(out.draft) == [(0, 1000, 1000), (1000, 3000, 5000), (4000, 1000, 1000), (5000, 3000, 5000)]
    assert out.did[0].startswith("cut 2 shaky spans (2.00s: 1.00–2.00s; 6.00–7.00s); 10.0s → 8.0s")


def test_cut_closes_gaps_too_small_to_keep_and_reaches_the_edges(monkeypatch):
    analyse, _ = fake_analysis({"black": [(0.1, 1.0), (1.2, 2.0), (9.0, 9.9)]}, monkeypatch)
    out = apply.carry_out(timeline((0, 10000)), [Intent("cut", {"what": "black"})], analyse)
    assert spans(out.draft) == [(0, 7000, 2000)]


def test_nothing_found_is_reported_not_silent(monkeypatch):
    analyse, _ = fake_analysis({}, monkeypatch)
    out = apply.carry_out(timeline((0, 5000)), [Intent("cut", {"what": "frozen"})], analyse)
    assert out.draft.d == 5000
    assert out.did == ("looked for frozen spans in 1 clip: none found, nothing cut",)


def test_auto_grade_puts_each_clips_measured_correction_on_that_clip(monkeypatch):
    effect = {"type": "adjust", "contrast": 140.0, "saturation": 180.0, "brightness": -3.0}
    analyse, calls = fake_analysis({}, monkeypatch, grade=effect)
    out = apply.carry_out(timeline((0, 3000), (5000, 3000)), [Intent("grade", {"look": "auto"})], analyse)
    assert [s.m["fx"] for s in out.draft.segments(VIDEO)] == [[effect], [effect]]
    assert len(calls) == 2
    assert "contrast 140%" in out.did[0] and "saturation 180%" in out.did[0] and "brightness -3" in out.did[0]


def test_each_intent_kind_changes_the_draft_as_described(monkeypatch):
    analyse, _ = fake_analysis({}, monkeypatch)
    intents = [Intent("grade", {"look": "teal-orange", "amount": 70.0}), Intent("stabilize", {}),
               Intent("reframe", {"num": 9, "den": 16, "mode": "crop"}), Intent("music", {"volume": 35.0}),
               Intent("speed", {"factor": 2.0}), Intent("length", {"seconds": 4.0}),
               Intent("title", {"text": "The End", "seconds": 2.0, "at": "end"}),
               Intent("fade", {"dir": "out", "seconds": 1.0}), Intent("export", {"long_edge": 1920, "quality": "high"}),
               Intent("mute", {})]
    out = apply.carry_out(timeline((0, 10000)), intents, analyse)
    d = checked(out.draft, "test")
    seg = d.segments(VIDEO)[0]
    assert [e["type"] for e in seg.m["fx"]] == ["grade", "stabilize", "fade"]
    assert (d.canvas["w"], d.canvas["h"]) == (608, 1080)
    assert d.d == 4000 and seg.m["speed"] == 2.0 and seg.m["volume"] == 0.0
    assert [(s.m["text"], s.st, s.d) for s in d.segments(TEXT)] == [("Hello", 0, 1500), ("The End", 2000, 2000)]  # in the order said
    assert d.segments(AUDIO)[0].m["volume"] == 35.0
    assert len(out.did) == len(intents)
    out_size = output_for(ExportSettings(), d.canvas, d.m["output"])
    assert (out_size.width, out_size.height, out_size.quality) == (1080, 1920, "high")
    assert output_for(ExportSettings(quality="draft"), d.canvas, d.m["output"]).quality == "draft"  # the export block wins


def test_an_intent_that_cannot_be_carried_out_names_its_words(monkeypatch):
    analyse, _ = fake_analysis({}, monkeypatch)
    with pytest.raises(DraftError, match=r"“make it 30 seconds”.*10\.0s, not longer than 30s"):
        apply.carry_out(timeline((0, 10000)), [Intent("length", {"seconds": 30.0}, "make it 30 seconds")], analyse)
    with pytest.raises(DraftError, match="no music"):
        apply.carry_out(timeline((0, 10000), music=False), [Intent("music", {"volume": 35.0}, "music at 35%")], analyse)


def _stats_analysis(low: float, high: float, sat: float) -> Analysis:
    """One second of identical frames with these levels (no black, no motion): enough for footage.auto_grade."""
    n = 30
    row = (low, high, (low + high) / 2, sat, 128.0, 128.0)
    return Analysis(start_ms=0, length_ms=1000, width=480, height=270, times=tuple(i / 30 for i in range(n)),
                    motion=((0.0, 0.0),) * n, black=(), frozen=(), silent=(), has_audio=False, stats=(row,) * n, fields=(0,) * n)


@pytest.mark.parametrize("prior", [(1.0, 0.0, 1.0), (0.6, 0.0, 0.45), (0.7, 0.05, 0.8), (1.1, -0.04, 1.0)])
def test_a_grade_after_earlier_colour_work_folds_to_what_grading_the_adjusted_footage_gives(prior):
    """The renderer folds a clip's eq effects (factors multiply, offsets add); the appended grade must come out the same as
    grading footage that already looked that way."""
    c0, b0, s0 = prior
    low, high, sat = 60.0, 150.0, 20.0
    after = footage.auto_grade(_stats_analysis(low, high, sat), prior)
    looked = _stats_analysis(c0 * (low - 128) + 128 + 255 * b0, c0 * (high - 128) + 128 + 255 * b0, sat * s0)
    direct = footage.auto_grade(looked)
    assert after is not None and direct is not None
    c, b = after["contrast"] / 100, after["brightness"] / 100
    cd, bd = direct["contrast"] / 100, direct["brightness"] / 100
    assert c0 * c == pytest.approx(cd * c0, abs=2e-3)
    assert b0 + b == pytest.approx(cd * b0 + bd, abs=2e-3)  # folded offsets == the offsets applied in sequence
    assert s0 * after["saturation"] == pytest.approx(s0 * direct["saturation"], abs=0.2)
