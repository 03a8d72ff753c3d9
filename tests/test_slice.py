"""draft/slice.py: a time slice of a Draft is a Draft showing the same frames, and cut points avoid what moves."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemoflow.draft import ops
from nemoflow.draft.model import AUDIO, TEXT, VIDEO, Draft
from nemoflow.draft.slice import blocked_spans, cut_points, cut_quantum, slice_draft, spans_of
from nemoflow.errors import DraftError
from nemoflow.media.timing import exact_rate, first_source_frame, frame_index


def entry(fps: float, d: int = 600_000, path: str = "a.mp4") -> dict:
    return {"kind": "video", "path": path, "d": d, "fps": fps, "w": 320, "h": 180, "audio": True, "codec": "h264",
            "pix_fmt": "yuv420p"}


def timeline(fps: float, clips: list[tuple[int, int]], texts: list[tuple[int, int]] = ()) -> Draft:
    draft = Draft().with_m(canvas={"w": 320, "h": 180, "fps": fps})
    for n, (in_ms, d) in enumerate(clips):
        draft = ops.add_clip(draft, f"media.c{n % 3}", entry(fps, path=f"c{n % 3}.mp4"), in_ms=in_ms, d_ms=d)
    for n, (at, d) in enumerate(texts):
        draft = ops.add_text(draft, f"title {n}", {"role": "title"}, st=at, d=d)
    return draft


def shown(draft: Draft, rate: Fraction) -> list[tuple[str, int]]:
    """What each output frame shows: (media, source frame), by the graph's rule for same-rate clips at speed 1
    (the clip's first frame is the source frame nearest its in-point, then one source frame per output frame)."""
    out: list[tuple[str, int]] = []
    for seg in draft.segments(VIDEO):
        f0, f1 = frame_index(seg.st, rate), frame_index(seg.end, rate)
        n0 = first_source_frame(int(seg.m.get("in", 0)), rate)
        out += [(seg.m["src"], n0 + k) for k in range(f1 - f0)]
    return out


def texts_at(draft: Draft, rate: Fraction) -> list[tuple[str, ...]]:
    frames = frame_index(draft.d, rate)
    return [tuple(s.m["text"] for s in draft.segments(TEXT) if s.st <= f * 1000 / rate < s.end) for f in range(frames)]


clips_st = st.lists(st.tuples(st.integers(0, 5000), st.integers(200, 4000)), min_size=1, max_size=6)
fps_st = st.sampled_from([25.0, 29.97, 30.0, 24.0, 23.976, 60.0])


@settings(max_examples=150, deadline=None)
@given(fps=fps_st, clips=clips_st, texts=st.lists(st.tuples(st.integers(0, 9000), st.integers(1, 5000)), max_size=3),
       picks=st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_slices_concatenated_show_the_same_frames(fps, clips, texts, picks):
    draft = timeline(fps, clips, texts)
    rate = exact_rate(fps)
    q = cut_quantum(fps, centiseconds=bool(texts))
    points = sorted({t for p in picks if 0 < (t := round(p * draft.d / q) * q) <= draft.d - 1000 / rate})
    whole, whole_text = shown(draft, rate), texts_at(draft, rate)
    joined, joined_text = [], []
    for a, b in spans_of(draft, points):
        part = slice_draft(draft, a, b, fps=fps)
        assert b - a - part.d < 500 / rate  # a piece under half a frame at the end is dropped, as the graph drops it
        assert frame_index(part.d, rate) == frame_index(b, rate) - frame_index(a, rate)
        joined += shown(part, rate)
        joined_text += texts_at(part, rate)
    assert joined == whole
    assert joined_text == whole_text


def test_slice_moves_in_points_on_the_frame_grid_and_keeps_fades_only_where_their_end_survives():
    draft = timeline(29.97, [(0, 4000), (1000, 4000)])
    draft = ops.fade(ops.fade(draft, "in", 500), "out", 700)
    part = slice_draft(draft, 1001, 6006, fps=29.97)
    first, second = part.segments(VIDEO)
    assert (first.st, first.d) == (0, 2999)
    assert first.m["in"] == 1001  # 30 frames of 29.97 after the clip's first: exactly 1001 ms
    assert not [e for e in first.m.get("fx", []) if e["type"] == "fade"]  # its fade-in was before the slice
    assert second.st == 2999 and second.d == 6006 - 4000 and not any(e["type"] == "fade" for e in second.m.get("fx", []))
    tail = slice_draft(draft, 6006, draft.d, fps=29.97)
    assert [e["dir"] for e in tail.segments(VIDEO)[0].m["fx"]] == ["out"]


def test_slice_keeps_transitions_inside_and_drops_one_whose_first_clip_is_outside():
    draft = ops.set_transition(timeline(25.0, [(0, 3000)]), "crossfade", 600)
    draft = ops.add_clip(draft, "media.b", entry(25.0, path="b.mp4"), d_ms=3000)
    inside = slice_draft(draft, 1000, draft.d, fps=25.0)
    assert inside.segments(VIDEO)[1].tr["type"] == "crossfade"
    after = slice_draft(draft, 3000, draft.d, fps=25.0)
    assert len(after.segments(VIDEO)) == 1 and after.segments(VIDEO)[0].tr is None


def test_slice_clips_sounds_and_moves_their_in_point():
    draft = timeline(30.0, [(0, 10_000)])
    draft = ops.add_sound(draft, "media.s", {"kind": "audio", "path": "s.wav", "d": 20_000, "audio": True}, st=2000,
                          d=5000, fade_in=300, fade_out=300)
    part = slice_draft(draft, 4000, 8000, fps=30.0)
    (sound,) = part.segments(AUDIO)
    assert (sound.st, sound.d, sound.m["in"]) == (0, 3000, 2000)
    assert "fade_in" not in sound.m and sound.m["fade_out"] == 300
    assert slice_draft(draft, 8000, 10_000, fps=30.0).segments(AUDIO) == ()


def test_slices_use_the_media_toolkits_timing_rules():
    """One copy of the frame rules (core/frames.py) for slicing and rendering: they must not drift apart."""
    from nemoflow.draft import slice as sl
    from nemoflow.media import timing

    assert (sl.exact_rate, sl.frame_index, sl.first_source_frame) == \
        (timing.exact_rate, timing.frame_index, timing.first_source_frame)
    for fps in (23.976, 24, 25, 29.97, 30, 50, 59.94, 60, 12.5, 7.0):
        assert sl.exact_rate(fps) == timing.exact_rate(fps)
        rate = timing.exact_rate(fps)
        for ms in range(0, 3000, 7):
            assert sl.frame_index(ms, rate) == timing.frame_index(ms, rate)
            assert sl.first_source_frame(ms, rate) == timing.first_source_frame(ms, rate)


def test_empty_slice_is_refused():
    with pytest.raises(DraftError, match="empty"):
        slice_draft(timeline(30.0, [(0, 1000)]), 1000, 1000)


def test_quantum_is_frame_exact_and_whole_ms():
    assert cut_quantum(25) == 40 and cut_quantum(30) == 100 and cut_quantum(29.97) == 1001
    assert cut_quantum(29.97, centiseconds=True) == 10010 and cut_quantum(24, centiseconds=True) == 250
    for fps in (23.976, 29.97, 59.94, 24, 25, 30, 50, 60):
        q = cut_quantum(fps)
        assert (Fraction(q) * exact_rate(fps) / 1000).denominator == 1


def test_cut_points_avoid_transitions_fades_and_moving_clips():
    draft = timeline(30.0, [(0, 10_000)])
    draft = ops.set_transition(draft, "wipeleft", 800)
    draft = ops.add_clip(draft, "media.b", entry(30.0, path="b.mp4"), d_ms=10_000)  # overlap 9.2-10.0 s
    draft = ops.add_text(draft, "fading", {"fade": 400}, st=14_500, d=2000)
    points = cut_points(draft, 30.0, 5000)
    spans = blocked_spans(draft, 30.0)
    assert points and all(not (b.st <= p <= b.end) for p in points for b in spans)
    assert 5000 in points and 15_000 not in points  # the text fading over 14.5-16.5 s pushes that cut out of it
    assert all(p % cut_quantum(30.0, centiseconds=True) == 0 for p in points)
    assert not any(9200 - 34 <= p <= 10_034 for p in points)


def test_cut_points_stay_put_when_one_place_changes():
    base = timeline(29.97, [(0, 30_000), (0, 30_000)], texts=[(12_000, 3000)])
    changed = ops.add_text(base, "new", {"fade": 500}, st=40_000, d=2000)  # something moving near the 40 s cut
    a, b = cut_points(base, 29.97, 10_000), cut_points(changed, 29.97, 10_000)
    assert [p for p in a if p < 30_000] == [p for p in b if p < 30_000]
    assert a != b


def test_no_allowed_point_near_a_grid_point_gives_a_longer_segment():
    draft = timeline(30.0, [(0, 20_000)])
    draft = ops.kenburns(draft, {"type": "kenburns", "from": 100, "to": 120})
    draft = ops.add_clip(draft, "media.b", entry(30.0, path="b.mp4"), d_ms=20_000)
    points = cut_points(draft, 30.0, 5000)
    assert all(p >= 20_000 for p in points)  # nothing inside the zooming clip
    assert spans_of(draft, points)[0][1] >= 20_000


def test_a_clip_at_another_rate_or_speed_is_never_cut():
    draft = Draft().with_m(canvas={"w": 320, "h": 180, "fps": 30.0})
    draft = ops.add_clip(draft, "media.a", entry(25.0), d_ms=10_000)
    draft = ops.add_clip(draft, "media.b", entry(30.0, path="b.mp4"), d_ms=10_000, speed=2.0)
    draft = ops.add_clip(draft, "media.c", entry(30.0, path="c.mp4"), d_ms=10_000)
    assert all(p >= 20_000 for p in cut_points(draft, 30.0, 3000))
