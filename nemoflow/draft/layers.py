"""Layers: pictures and videos drawn over the main picture (`overlay`, `pip`), and how they follow the timeline.

The main picture is the first video track; each overlay is a further video track (`m.layer` = N >= 1), drawn
in layer order over it and under text. A layer never lengthens the timeline (Draft.d is the main track's end).
Its segment's `m` holds the source (`src`, `in`, `speed`, `still`), the box (`at`, `x`, `y`, `w`, `h`, each
extent `{"pct": …}` or `{"px": …}`), `opacity`, `border`, `volume`, and `motion` (the box at its end, with times
relative to the segment's start, so a trim or a cut that takes its beginning keeps the motion where it was).

Every Draft → Draft operation (ops.trim, change_speed, cut_spans, splice, normalize) moves layers here, the
way it moves text: they stay on the picture they were put over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..errors import DraftError
from .media import MediaEntry, MediaKind
from .model import VIDEO, Draft, Segment, Track

PIP_DEFAULTS: dict[str, Any] = {"at": "bottom-right", "w": {"pct": 30.0}, "border": {"w": 4.0, "c": "#ffffff"}}
"""What `pip` means when it says nothing else: a small picture at bottom-right with a thin white border."""


def layer_tracks(draft: Draft) -> tuple[Track, ...]:
    """The overlay tracks, in drawing order (every video track after the main one)."""
    video = [tr for tr in draft.t if tr.tt == VIDEO]
    return tuple(video[1:])


def has_layers(draft: Draft) -> bool:
    return any(tr.sg for tr in layer_tracks(draft))


def with_layer_tracks(draft: Draft, layers: list[Track] | tuple[Track, ...]) -> Draft:
    """A copy whose overlay tracks are `layers` (empty ones dropped), numbered 1.. in order, after the main track."""
    kept = [attrs.evolve(tr, m={**tr.m, "name": f"Layer {n}", "layer": n}) for n, tr in enumerate((t for t in layers if t.sg), 1)]
    main = draft.track(VIDEO)
    others = [tr for tr in draft.t if tr.tt != VIDEO]
    tracks = ([main] if main is not None else []) + kept + others
    return attrs.evolve(draft, t=tuple(tracks))


def map_layers(draft: Draft, fn: Callable[[Segment], list[Segment]], *, source: Draft | None = None) -> Draft:
    """`draft` with the layers of `source` (default: its own), each segment replaced by what `fn` makes of it."""
    tracks = [attrs.evolve(tr, sg=tuple(s for seg in tr.sg for s in fn(seg))) for tr in layer_tracks(source or draft)]
    return with_layer_tracks(draft, tracks)


def add_overlay(draft: Draft, media_id: str, entry: MediaEntry | Mapping[str, Any], *, st: int = 0, d: int | None = None,
                in_ms: int = 0, look: Mapping[str, Any] | None = None) -> Draft:
    """A new top layer showing `media_id` from `st` for `d` ms (None: to the end of the timeline, whatever it becomes).

    `look` holds the box, opacity, border, volume and motion as the schema names them. A still shows for the whole
    time; a video for at most its own length: an open-ended overlay ends with its video (it is not frozen on its
    last frame), an end past it is refused with the numbers.
    """
    from .ops import add_media  # ops imports this module for the layer moves

    entry = MediaEntry.from_json(entry, f"media `{media_id}`")
    if entry.kind == MediaKind.AUDIO:
        raise DraftError(f"`{media_id}` holds only audio; an overlay shows a picture: give it an image or a video")
    if draft.track(VIDEO) is None or not draft.track(VIDEO).sg:
        raise DraftError("an overlay goes over the picture: add a `video` or `image` before it")
    so_far = draft.d
    if st >= so_far:
        raise DraftError(f"`from {st / 1000:g}s` is at or past the end of the timeline so far ({so_far / 1000:g}s long); "
                         "give a time inside it, or put the overlay after the clips it should cover")
    if d is not None and st + d > so_far + 1:
        raise DraftError(f"`to {(st + d) / 1000:g}s` is past the end of the timeline so far ({so_far / 1000:g}s long); give "
                         f"a time up to {so_far / 1000:g}s, leave `to` out to run to the end, or put the overlay after "
                         "the clips it should cover")
    still = entry.kind == MediaKind.IMAGE
    if not still and entry.d is not None and in_ms >= entry.d:
        raise DraftError(f"`skip {in_ms / 1000:g}s` is past the end of `{media_id}` ({entry.d / 1000:g}s long)")
    draft = add_media(draft, media_id, entry)
    m: dict[str, Any] = {"src": media_id, "in": 0 if still else int(in_ms), "speed": 1.0,
                         **{k: v for k, v in (look or {}).items() if v is not None}}
    m.setdefault("volume", 0.0)
    if still:
        m["still"] = True
    if d is None:
        m["to_end"] = True
        d = max(draft.d - st, 0)
    elif _within_source(draft, m, d) < d:  # asked for longer than the video lasts: said, not cut short silently
        left = _within_source(draft, m, d)
        raise DraftError(f"the overlay runs {d / 1000:g}s (from {st / 1000:g}s to {(st + d) / 1000:g}s) but `{media_id}` has "
                         f"only {left / 1000:g}s from its in-point {in_ms / 1000:g}s; end it at `to {(st + left) / 1000:g}s`, "
                         "or leave `to` out to end it with its video")
    d = _within_source(draft, m, d)
    if d <= 0:
        raise DraftError(f"the overlay of `{media_id}` would be empty")
    if "motion" in m:
        m["motion"] = {**m["motion"], "t0": 0, "t1": int(d)}
    seg = Segment(st=int(st), d=int(d), m=m)
    return with_layer_tracks(draft, [*layer_tracks(draft), Track(VIDEO, (seg,))])


def _within_source(draft: Draft, m: Mapping[str, Any], d: int) -> int:
    """`d`, shortened to where a video overlay's source ends (at its speed): the overlay ends with its video."""
    if m.get("still"):
        return d
    length = draft.media.get(m["src"], {}).get("d")
    if length is None:
        return d
    return min(d, max(0, round((int(length) - int(m.get("in", 0))) / float(m.get("speed", 1.0)))))


def _ends_kept(m: dict[str, Any], start_cut: bool, end_cut: bool) -> dict[str, Any]:
    """A piece's `m` without the fade of an end it lost (a fade-in belongs to the overlay's start, not a cut's)."""
    fade = m.get("fade")
    if fade and (start_cut or end_cut):
        fade = {k: v for k, v in fade.items() if not ((k == "in" and start_cut) or (k == "out" and end_cut))}
        m = {k: v for k, v in m.items() if k != "fade"} | ({"fade": fade} if fade else {})
    return m


def _shift_motion(m: dict[str, Any], by: int, scale: float = 1.0) -> dict[str, Any]:
    """The segment's `m` after its start moved `by` ms later in its own time (times then scaled)."""
    motion = m.get("motion")
    if motion:
        m = {**m, "motion": {**motion, "t0": round((motion["t0"] - by) * scale), "t1": round((motion["t1"] - by) * scale)}}
    return m


def trim_layers(out: Draft, draft: Draft, a: int, b: int) -> Draft:
    """ops.trim for layers: the part of each inside [a, b), moved so that `a` is 0, its source in-point moved along."""
    from .ops import _slice

    def cut(seg: Segment) -> list[Segment]:
        piece = _slice(seg, a, b, rate=float(seg.m.get("speed", 1.0)))
        if piece is None:
            return []
        m = _ends_kept(_shift_motion(dict(piece.m), max(a, seg.st) - seg.st), seg.st < a, seg.end > b)
        return [attrs.evolve(piece, m=m)]

    return map_layers(out, cut, source=draft)


def speed_layers(out: Draft, draft: Draft, factor: float) -> Draft:
    """ops.change_speed for layers: places and lengths scaled, a video overlay played `factor` times faster."""
    def scale(seg: Segment) -> list[Segment]:
        m = _shift_motion(dict(seg.m), 0, 1 / factor)
        if m.get("fade"):
            m["fade"] = {k: round(v / factor) for k, v in m["fade"].items()}
        if not m.get("still"):
            m["speed"] = round(float(m.get("speed", 1.0)) * factor, 6)
        return [attrs.evolve(seg, st=round(seg.st / factor), d=round(seg.d / factor), m=m)]

    return map_layers(out, scale, source=draft)


def cut_layers(out: Draft, draft: Draft, cuts: list[tuple[int, int]], moved: Callable[[int], int]) -> Draft:
    """ops.cut_spans for layers: each split around the cut spans, its pieces closed up with the picture."""
    from .ops import _pieces

    def cut(seg: Segment) -> list[Segment]:
        pieces = _pieces(seg, cuts, rate=float(seg.m.get("speed", 1.0)))
        return [attrs.evolve(p, st=moved(p.st), m=_ends_kept(_shift_motion(dict(p.m), p.st - seg.st), p.st > seg.st,
                                                             p.end < seg.end)) for p in pieces if p.d > 0]

    return map_layers(out, cut, source=draft)


def splice_layers(draft: Draft, part: Draft, start: int) -> Draft:
    """ops.splice for layers: `part`'s layers go on top of `draft`'s, moved to `start`; each ends where `part` ends."""
    added = [attrs.evolve(tr, sg=tuple(attrs.evolve(s, st=s.st + start) for seg in tr.sg for s in closed(seg, part.d)))
             for tr in layer_tracks(part)]
    return with_layer_tracks(draft, [*layer_tracks(draft), *added])


def closed(seg: Segment, end: int) -> list[Segment]:
    """A text or layer of a draft spliced into another, ending at most where its draft ended (`end`), and no longer
    running to the end (`to_end`): it must not run on over the clips after it (the issue's "text spills into later
    clips"; a `title`'s default 3 s in a 2 s edit too)."""
    d = min(seg.end, end) - seg.st
    if d <= 0:
        return []
    if d == seg.d and not seg.m.get("to_end"):
        return [seg]
    return [attrs.evolve(seg, d=d, m={k: v for k, v in seg.m.items() if k != "to_end"})]


def normalize_layers(draft: Draft) -> Draft:
    """Settle layers on the final length: open-ended ones run to the end (a video overlay at most to its source's end),
    none runs past the end, and one that starts after it is dropped."""
    total = draft.d

    def settle(seg: Segment) -> list[Segment]:
        d = max(total - seg.st, 0) if seg.m.get("to_end") else min(seg.d, max(total - seg.st, 0))
        d = _within_source(draft, seg.m, d)
        if d <= 0:
            return []
        m = seg.m
        if m.get("to_end") and m.get("motion"):  # it moves until its end, wherever that now is
            m = {**m, "motion": {**m["motion"], "t1": d}}
        return [attrs.evolve(seg, d=d, m=m)]

    return map_layers(draft, settle) if layer_tracks(draft) else draft
