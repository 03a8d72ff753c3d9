"""A time slice of a Draft is a Draft, and where a long export may be cut into slices.

`slice_draft(draft, start, end)` keeps the window [start, end) of the timeline, moved so that `start` is 0: clips
crossing a bound get their in-point and length moved (on the frame grid, so the slice shows exactly the frames the
whole timeline shows there), text, layers and placed sounds are clipped or dropped, transitions inside are kept.
`cut_points(draft, fps, every_ms)` chooses where a split render (engines/local/chunked.py) cuts: near a fixed grid,
so a change in one place never moves the other cuts (and the other segments keep their cache keys), and only at
instants where nothing that changes from frame to frame crosses the cut.

Pure functions: nothing here knows about FFmpeg.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import attrs

from ..core.frames import exact_rate, first_source_frame, frame_index
from ..errors import DraftError
from . import layers
from .media import MediaEntry
from .model import AUDIO, TEXT, VIDEO, Draft, Segment

RATE_TOLERANCE = 0.01  # fps: a source this close to the output's rate is shown frame for frame (graph.py's rule)


def cut_quantum(fps: float, *, centiseconds: bool = False) -> int:
    """The spacing (ms) of the instants that are both whole milliseconds and output frame instants: 40 ms at 25 fps,
    100 ms at 30, 1001 ms at 29.97. Cutting only there, shifting a timeline by a cut moves every frame boundary by
    exactly a whole number of frames (media/timing.frame_index is exact on it). `centiseconds`: also a multiple of
    10 ms, because libass (styled text) counts time in centiseconds."""
    rate = exact_rate(fps)
    whole = 1000 * rate.denominator
    q = whole // math.gcd(rate.numerator, whole)
    return math.lcm(q, 10) if centiseconds else q


def slice_draft(draft: Draft, start_ms: int, end_ms: int, *, fps: float | None = None) -> Draft:
    """The window [start_ms, end_ms) of `draft` as a Draft of its own, `start_ms` at 0.

    `fps` is the output rate the slice will be rendered at (default: the canvas's): a clip crossing `start_ms`
    starts on the source frame the whole timeline shows at that instant. Audio is clipped by milliseconds (a
    split render takes the sound from the whole timeline, never from slices).
    """
    total = draft.d
    end_ms = min(int(end_ms), total)
    start_ms = int(start_ms)
    if start_ms < 0 or end_ms <= start_ms:
        raise DraftError(f"a slice from {start_ms / 1000:g}s to {end_ms / 1000:g}s of a {total / 1000:g}s timeline is empty")
    rate = exact_rate(fps if fps is not None else float((draft.canvas or {}).get("fps") or 30.0))
    video: list[Segment] = []
    for seg in draft.segments(VIDEO):
        piece = _video_piece(draft, seg, start_ms, end_ms, rate)
        if piece is None:
            continue
        if piece.tr is not None and not video:
            piece = attrs.evolve(piece, tr=None)  # the clip it came from is outside the slice
        video.append(piece)
    out = draft.with_segments(VIDEO, video)
    if draft.track(TEXT) is not None:
        out = out.with_segments(TEXT, [p for s in draft.segments(TEXT) if (p := _piece(s, start_ms, end_ms)) is not None])
    if draft.track(AUDIO) is not None:
        out = out.with_segments(AUDIO, [p for s in draft.segments(AUDIO) if (p := _sound_piece(draft, s, start_ms, end_ms))])

    def layer_piece(seg: Segment) -> list[Segment]:
        piece = _piece(seg, start_ms, end_ms)
        if piece is None:
            return []
        m = dict(piece.m)
        if not m.get("still") and seg.st < start_ms:
            m["in"] = int(m.get("in", 0)) + round((start_ms - seg.st) * float(m.get("speed", 1.0)))
        m = layers._ends_kept(layers._shift_motion(m, max(start_ms, seg.st) - seg.st), seg.st < start_ms, seg.end > end_ms)
        return [attrs.evolve(piece, m=m)]

    if layers.layer_tracks(draft):
        out = layers.map_layers(out, layer_piece, source=draft)
    return out


def _piece(seg: Segment, a: int, b: int) -> Segment | None:
    """The part of `seg` inside [a, b), moved so that `a` is 0 (no in-point moved: text, or the caller's job)."""
    st, end = max(seg.st, a), min(seg.end, b)
    if end <= st:
        return None
    m = seg.m
    if m.get("to_end") and seg.end > b:
        m = {k: v for k, v in m.items() if k != "to_end"}
    return attrs.evolve(seg, st=st - a, d=end - st, m=m, tr=seg.tr if seg.st >= a else None)


def _video_piece(draft: Draft, seg: Segment, a: int, b: int, rate: Fraction) -> Segment | None:
    """A main-track clip's part in [a, b): whole frames on the output grid; the source frame at the slice's first
    frame is the one the whole render shows there (same rate, speed 1: the n-th frame after the clip's first)."""
    piece = _piece(seg, a, b)
    if piece is None or (frame_index(piece.end, rate) <= frame_index(piece.st, rate) and not (seg.tr and seg.st >= a)):
        return None  # under half a frame here: graph.kept_clips would drop it too
    m = dict(piece.m)
    skipped = frame_index(a, rate) - frame_index(seg.st, rate)  # output frames of the clip before the slice
    if skipped > 0 and not m.get("still"):
        entry = draft.media_entry(m["src"])
        speed = float(m.get("speed", 1.0))
        src_fps = float(entry.fps or 0)
        if entry.vfr or not src_fps or abs(src_fps - float(rate)) > RATE_TOLERANCE or abs(speed - 1) > 1e-9 or entry.v_start:
            # resampled: no whole source frame is guaranteed at the bound; the nearest in-point (cut_points never cuts here)
            m["in"] = int(m.get("in", 0)) + round((a - seg.st) * speed)
        else:
            src_rate = exact_rate(src_fps)
            n = first_source_frame(int(m.get("in", 0)), src_rate) + skipped
            m["in"] = round(Fraction(n) / src_rate * 1000)
    if m.get("fx"):
        m["fx"] = [e for e in m["fx"] if not (e.get("type") == "fade" and ((e["dir"] == "in" and seg.st < a)
                                                                           or (e["dir"] == "out" and seg.end > b)))]
    return attrs.evolve(piece, m=m)


def _sound_piece(draft: Draft, seg: Segment, a: int, b: int) -> Segment | None:
    piece = _piece(seg, a, b)
    if piece is None:
        return None
    m = dict(piece.m)
    if seg.st < a:
        tempo = float(m.get("tempo", 1.0))
        moved = int(m.get("in", 0)) + round((a - seg.st) * tempo)
        length = draft.media.get(m["src"], {}).get("d")
        if m.get("loop") and length:
            moved %= int(length)
        m["in"] = moved
        m.pop("fade_in", None)
    if seg.end > b:
        m.pop("fade_out", None)
    return attrs.evolve(piece, m=m)


@attrs.frozen
class Blocked:
    """A span of the timeline (ms, [st, end]) no cut may fall inside, and why."""

    st: float
    end: float
    why: str


def blocked_spans(draft: Draft, fps: float) -> list[Blocked]:
    """Where something changes from frame to frame, or would not be the same frames if cut: transitions (a frame's
    margin either side), fades and motion of text and layers, Ken Burns, stabilized, speed-changed or resampled
    clips, and video layers (their frames would be chosen at another phase)."""
    rate = exact_rate(fps)
    frame = 1000 / float(rate)
    spans: list[Blocked] = []
    video = draft.segments(VIDEO)
    for i, seg in enumerate(video):
        if seg.tr and i:
            spans.append(Blocked(seg.st - frame, video[i - 1].end + frame, "transition"))
        fx = seg.m.get("fx", [])
        for e in fx:
            if e.get("type") == "fade":
                lo, hi = (seg.st, seg.st + e["d"]) if e["dir"] == "in" else (seg.end - e["d"], seg.end)
                spans.append(Blocked(lo - frame, hi + frame, "clip fade"))
        if seg.m.get("still"):
            if any(e.get("type") == "kenburns" for e in fx):
                spans.append(Blocked(seg.st, seg.end, "ken burns"))
            continue
        entry = draft.media_entry(seg.m["src"])
        why = _moving_clip(seg, entry, fps)
        if why:
            spans.append(Blocked(seg.st, seg.end, why))
    for track in layers.layer_tracks(draft):
        for seg in track.sg:
            if not seg.m.get("still"):
                spans.append(Blocked(seg.st, seg.end, "video layer"))
                continue
            for k, v in (seg.m.get("fade") or {}).items():
                if v:
                    lo, hi = (seg.st, seg.st + v) if k == "in" else (seg.end - v, seg.end)
                    spans.append(Blocked(lo - frame, hi + frame, "layer fade"))
            motion = seg.m.get("motion")
            if motion:
                spans.append(Blocked(seg.st + motion["t0"] - frame, seg.st + motion["t1"] + frame, "layer motion"))
    for seg in draft.segments(TEXT):
        style = seg.m.get("style") or {}
        if style.get("fade") or style.get("animate") or style.get("stagger") is not None:
            spans.append(Blocked(seg.st, seg.end, "text fade or animation"))
    return spans


def _moving_clip(seg: Segment, entry: MediaEntry, fps: float) -> str | None:
    fx = seg.m.get("fx", [])
    if any(e.get("type") == "kenburns" for e in fx):
        return "ken burns"
    if any(e.get("type") == "stabilize" for e in fx):
        return "stabilized clip"
    if abs(float(seg.m.get("speed", 1.0)) - 1) > 1e-9:
        return "speed change"
    if entry.vfr or not entry.fps or abs(float(entry.fps) - fps) > RATE_TOLERANCE or entry.v_start:
        return "resampled clip"
    return None


def cut_points(draft: Draft, fps: float, every_ms: int, *, centiseconds: bool | None = None) -> list[int]:
    """Frame-exact cut instants (ms, ascending, inside (0, d)) for segments of about `every_ms`.

    The grid is fixed (k x every_ms), so an edit in one place moves no cut elsewhere. Each grid point is moved to
    the nearest allowed instant within half a segment: a whole ms that is an output frame instant (`cut_quantum`)
    outside every `blocked_spans`; a grid point with none near it is skipped, and that segment is longer.
    `centiseconds`: cut only on whole centiseconds too (text drawn by libass, which counts them); default: when
    there is any text.
    """
    if every_ms <= 0:
        raise DraftError(f"segments of {every_ms} ms cannot cover a timeline")
    total = draft.d
    q = cut_quantum(fps, centiseconds=bool(draft.segments(TEXT)) if centiseconds is None else centiseconds)
    spans = blocked_spans(draft, fps)
    frame = 1000 / float(exact_rate(fps))

    def allowed(t: int) -> bool:
        return frame <= t <= total - frame and not any(b.st <= t <= b.end for b in spans)

    points: list[int] = []
    reach = max(q, every_ms // 2)
    for k in range(1, total // every_ms + 1):
        grid = k * every_ms
        if grid > total - every_ms // 2:
            break  # the last segment would be under half a segment: the one before it runs on to the end
        base = round(grid / q) * q
        found = None
        for step in range(0, reach // q + 1):
            for t in (base - step * q, base + step * q):
                if abs(t - grid) <= reach and allowed(t) and (not points or t > points[-1]):
                    found = t
                    break
            if found is not None:
                break
        if found is not None and (not points or found - points[-1] >= q):
            points.append(found)
    return points


def spans_of(draft: Draft, points: list[int]) -> list[tuple[int, int]]:
    """The segments [a, b) the cut points make, covering the whole timeline."""
    bounds = [0, *points, draft.d]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]

