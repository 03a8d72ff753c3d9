"""Operations on Drafts: pure functions from Draft to Draft.

Each edit clause becomes one call here, applied in the order written, so
`grade` affects the clips already on the timeline. Times are integer ms.
Nothing here knows about FFmpeg or the recipe language.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import attrs

from ..errors import DraftError
from . import layers
from .media import MediaEntry
from .mix import weighted
from .model import AUDIO, TEXT, VIDEO, Draft, Segment

DEFAULT_FPS = 30.0
DEFAULT_CANVAS = {"w": 1920, "h": 1080, "fps": DEFAULT_FPS}


def even(x: float) -> int:
    """The nearest even size of at least 2: what yuv420p encoders accept."""
    return max(2, round(x / 2) * 2)


def add_media(draft: Draft, media_id: str, entry: MediaEntry | Mapping[str, Any]) -> Draft:
    """Register a media entry (path or generator, plus probed facts) under its step id."""
    data = MediaEntry.from_json(entry, f"media `{media_id}`").to_json()
    if draft.media.get(media_id) == data:
        return draft
    return draft.with_m(media={**draft.media, media_id: data})


def checked_track(media_id: str, entry: MediaEntry, track: int | None) -> int | None:
    """`track` if `entry` has that audio track (1 = the first in the file); a DraftError saying what it has otherwise."""
    if track is None:
        return None
    file = PurePath(entry.path).name if entry.path else None
    name = f"`{media_id.removeprefix('media.')}`" + (f" ({file})" if file else "")
    count = entry.track_count
    if count == 0:
        raise DraftError(f"{name} has no audio track, so there is no track {track} to play; remove `track {track}`")
    if track > count:
        tracks = "1 audio track" if count == 1 else f"{count} audio tracks"
        choose = "`track 1`" if count == 1 else f"`track 1` to `track {count}`"
        default = entry.audio_track(None)
        number = entry.tracks.index(default) + 1 if entry.tracks and default is not None else 1
        shown = f", track {number} ({default.describe(default=False)})" if default is not None else ""
        probe = f"; `nemoflow probe {file}` lists them" if file and count > 1 else ""
        raise DraftError(f"{name} has {tracks}, so there is no track {track}; choose {choose}, or leave `track` out to "
                         f"play its default{shown}{probe}")
    return track


def _canvas_for(entry: MediaEntry) -> dict[str, Any]:
    fps = entry.fps or DEFAULT_FPS
    if entry.vfr or fps > 240:
        fps = DEFAULT_FPS if fps > 240 else round(fps)
    return {"w": even(entry.w or 1920), "h": even(entry.h or 1080), "fps": round(float(fps), 3)}


def add_clip(draft: Draft, media_id: str, entry: MediaEntry | Mapping[str, Any], *, in_ms: int = 0, d_ms: int | None = None,
             speed: float = 1.0, volume: float = 100.0, still: bool = False, fit: str | None = None,
             track: int | None = None) -> Draft:
    """Append a clip of `media_id` at the end of the video track (after a pending transition, overlapping by it).

    `d_ms` is the length on the timeline; without it the clip plays to the end of the media. `track` chooses
    which audio track of the media plays (1 = first); without it, the media's default track.
    """
    entry = MediaEntry.from_json(entry, f"media `{media_id}`")
    track = checked_track(media_id, entry, track)
    draft = add_media(draft, media_id, entry)
    if d_ms is None:
        length = entry.d
        if length is None:
            raise DraftError(f"`{media_id}` is a still image: say how long it shows (`image {media_id} for 3s`)")
        d_ms = round((length - in_ms) / speed)
    if d_ms <= 0:
        raise DraftError(f"the clip of `{media_id}` would be empty (in-point {in_ms} ms, media length {entry.d} ms)")
    if draft.canvas is None:
        draft = draft.with_m(canvas=_canvas_for(entry) if entry.w else dict(DEFAULT_CANVAS))
    video = list(draft.segments(VIDEO))
    start = video[-1].end if video else 0
    tr = draft.m.get("next_tr")
    m = {"src": media_id, "in": int(in_ms), "speed": speed, "volume": volume}
    if still:
        m["still"] = True
    if fit:
        m["fit"] = fit
    if track is not None:
        m["track"] = int(track)
    tr = entering(tr, video[-1].d, int(d_ms)) if tr and video else None
    start -= tr["d"] if tr else 0
    video.append(Segment(st=start, d=int(d_ms), m=m, tr=tr))
    draft = draft.with_segments(VIDEO, video)
    if "next_tr" in draft.m:
        draft = attrs.evolve(draft, m={k: v for k, v in draft.m.items() if k != "next_tr"})
    return draft


def entering(tr: Mapping[str, Any], before_ms: int, after_ms: int) -> dict[str, Any] | None:
    """The transition between clips of these lengths: at most half the shorter one (as editly), so a long transition
    never swallows a clip and no two clips start together. `asked` keeps what was written when it was shortened
    (engines say so); None when nothing is left of it."""
    overlap = min(int(tr["d"]), before_ms // 2, after_ms // 2)
    if overlap <= 0:
        return None
    out = {k: v for k, v in tr.items() if k != "asked"} | {"d": overlap}
    if overlap < tr["d"] or "asked" in tr:
        out["asked"] = int(tr.get("asked", tr["d"]))
    return out


def set_transition(draft: Draft, kind: str, d_ms: int, ease: str | None = None) -> Draft:
    """Remember how the next clip enters; `cut` clears it. `ease` (in, out, in-out) shapes its progress; linear if None."""
    if kind == "cut" or d_ms <= 0:
        return attrs.evolve(draft, m={k: v for k, v in draft.m.items() if k != "next_tr"})
    tr: dict[str, Any] = {"type": kind, "d": int(d_ms)}
    if ease and ease != "linear":
        tr["ease"] = ease
    return draft.with_m(next_tr=tr)


def splice(draft: Draft, other: Draft, *, in_ms: int = 0, out_ms: int | None = None, speed: float = 1.0,
           volume: float | None = None) -> Draft:
    """Append another draft (or the window [in, out) of it) as clips: its video, text and sounds move along."""
    part = trim(other, in_ms, out_ms) if (in_ms or out_ms is not None) else other
    if speed != 1.0:
        part = change_speed(part, speed)
    if volume is not None:
        part = set_volume(part, volume)
    if not part.segments(VIDEO):
        raise DraftError(f"`{other.m.get('name', 'the draft')}` has no video to add")
    if any(draft.media.get(mid) != entry for mid, entry in part.media.items()):
        draft = draft.with_m(media={**draft.media, **part.media})
    if draft.canvas is None and part.canvas is not None:
        draft = draft.with_m(canvas=dict(part.canvas))
    video = list(draft.segments(VIDEO))
    start = video[-1].end if video else 0
    tr = draft.m.get("next_tr")
    first = part.segments(VIDEO)[0]
    tr = entering(tr, video[-1].d, first.d) if tr and video else None
    start -= tr["d"] if tr else 0
    for i, seg in enumerate(part.segments(VIDEO)):
        video.append(attrs.evolve(seg, st=seg.st + start, tr=tr if i == 0 else seg.tr))
    draft = draft.with_segments(VIDEO, video)
    for tt in (TEXT, AUDIO):
        moved = [attrs.evolve(s, st=s.st + start, m={**s.m, "bed": False} if s.m.get("bed") else s.m)
                 for seg in part.segments(tt) for s in (layers.closed(seg, part.d) if tt == TEXT else (seg,))]  # text: to its draft's end
        if moved:
            draft = draft.with_segments(tt, [*draft.segments(tt), *moved])
    draft = layers.splice_layers(draft, part, start)
    if part.m.get("caption_notes"):  # cues the spliced edit left out or cut are still said when this one is exported
        draft = draft.with_m(caption_notes=[*draft.m.get("caption_notes", []), *part.m["caption_notes"]])
    if "next_tr" in draft.m:
        draft = attrs.evolve(draft, m={k: v for k, v in draft.m.items() if k != "next_tr"})
    return draft


def add_effect(draft: Draft, effect: dict[str, Any]) -> Draft:
    """Apply an effect (grade, adjust, stabilize) to every clip now on the timeline."""
    video = draft.segments(VIDEO)
    if not video:
        raise DraftError(f"`{effect['type']}` has no clip to apply to: add a `video` before it")
    return draft.with_segments(VIDEO, [s.with_m(fx=[*s.m.get("fx", []), dict(effect)]) for s in video])


def kenburns(draft: Draft, effect: dict[str, Any], *, every: bool = False) -> Draft:
    """A slow zoom/pan on the last clip so far, or on every clip so far. A clip has one motion: a later `kenburns`
    replaces its earlier one (two would multiply their zooms). It runs over the clip as it is on the final timeline."""
    video = list(draft.segments(VIDEO))
    if not video:
        raise DraftError("`kenburns` has no clip to apply to: add a `video` or `image` before it")
    for i in range(len(video)) if every else (len(video) - 1,):
        fx = [e for e in video[i].m.get("fx", []) if e.get("type") != "kenburns"]
        video[i] = video[i].with_m(fx=[*fx, dict(effect)])
    return draft.with_segments(VIDEO, video)


def stabilize(draft: Draft, effect: dict[str, Any], from_ms: int | None = None, to_ms: int | None = None) -> Draft:
    """Stabilize every clip so far, or only the part of the timeline between `from_ms` and `to_ms`.

    A clip the span covers only in part keeps the span in its source's time (`src_from`/`src_to`, ms like its `in`),
    so a later `trim` or `speed` moves it with the picture; a clip outside the span is left as it is."""
    if from_ms is None and to_ms is None:
        return add_effect(draft, effect)
    video = draft.segments(VIDEO)
    if not video:
        raise DraftError("`stabilize` has no clip to apply to: add a `video` before it")
    start, end = from_ms or 0, draft.d if to_ms is None else to_ms
    if start >= draft.d:
        raise DraftError(f"`from {start / 1000:g}s` is at or past the end of the timeline so far ({draft.d / 1000:g}s long); "
                         "give a point inside it")
    if end > draft.d + 1:
        raise DraftError(f"`to {end / 1000:g}s` is past the end of the timeline so far ({draft.d / 1000:g}s long); "
                         f"give a point up to {draft.d / 1000:g}s, or leave `to` out to stabilize to the end")
    segs = []
    for seg in video:
        lo, hi = max(start, seg.st), min(end, seg.end)
        if hi <= lo or seg.m.get("still"):
            segs.append(seg)
            continue
        fx = dict(effect)
        speed, in_ms = float(seg.m.get("speed", 1.0)), int(seg.m.get("in", 0))
        if lo > seg.st:  # a bound only where the span cuts the clip: from its first frame, to its last, need none
            fx["src_from"] = in_ms + round((lo - seg.st) * speed)
        if hi < seg.end:
            fx["src_to"] = in_ms + round((hi - seg.st) * speed)
        segs.append(seg.with_m(fx=[*seg.m.get("fx", []), fx]))
    return draft.with_segments(VIDEO, segs)


def set_volume(draft: Draft, percent: float) -> Draft:
    """Set the level of the clips' own audio."""
    return draft.with_segments(VIDEO, [s.with_m(volume=float(percent)) for s in draft.segments(VIDEO)])


def reframe(draft: Draft, num: float, den: float, mode: str = "crop", color: str | None = None) -> Draft:
    """Change the picture's aspect ratio; every clip is fitted by `mode` (crop, pad, or blurred pad)."""
    canvas = draft.canvas or dict(DEFAULT_CANVAS)
    w, h, ratio = canvas["w"], canvas["h"], num / den
    if ratio < w / h:
        w = h * ratio
    else:
        h = w / ratio
    segs = [s.with_m(fit=mode, **({"pad": color} if color else {})) for s in draft.segments(VIDEO)]
    return draft.with_segments(VIDEO, segs).with_m(canvas={**canvas, "w": even(w), "h": even(h)})


def change_speed(draft: Draft, factor: float) -> Draft:
    """Play the whole timeline `factor` times faster: clips speed up, text and sounds keep their place in the story."""
    def scale(x: int) -> int:
        return round(x / factor)

    video = []
    for s in draft.segments(VIDEO):
        tr = {**s.tr, "d": scale(s.tr["d"])} if s.tr else None
        fx = [{**e, "d": scale(e["d"])} if e.get("type") == "fade" else e for e in s.m.get("fx", [])]
        m = {**s.m, "speed": round(s.m.get("speed", 1.0) * factor, 6)}
        if fx:
            m["fx"] = fx
        video.append(attrs.evolve(s, st=scale(s.st), d=scale(s.d), tr=tr, m=m))
    out = draft.with_segments(VIDEO, video)
    if draft.track(TEXT):
        out = out.with_segments(TEXT, [attrs.evolve(s, st=scale(s.st), d=scale(s.d)) for s in draft.segments(TEXT)])
    if draft.track(AUDIO):
        out = out.with_segments(AUDIO, [s if s.m.get("bed") else attrs.evolve(s, st=scale(s.st)) for s in draft.segments(AUDIO)])
    return layers.speed_layers(out, draft, factor)


def _slice(seg: Segment, a: int, b: int, *, rate: float) -> Segment | None:
    """The part of `seg` inside [a, b), moved so that `a` becomes 0; `rate` is media ms per timeline ms."""
    start, end = max(seg.st, a), min(seg.end, b)
    if end <= start:
        return None
    m = dict(seg.m)
    if "in" in m and not m.get("still"):
        m["in"] = round(m["in"] + (start - seg.st) * rate)
    tr = seg.tr if seg.st >= a else None
    return attrs.evolve(seg, st=start - a, d=end - start, m=m, tr=tr)


def trim(draft: Draft, from_ms: int = 0, to_ms: int | None = None) -> Draft:
    """Keep the window [from, to) of the timeline."""
    end = draft.d if to_ms is None else min(to_ms, draft.d)
    if end <= from_ms:
        raise DraftError(f"trimming to {from_ms / 1000:g}s–{end / 1000:g}s leaves nothing (the timeline is {draft.d / 1000:g}s long)")
    video: list[Segment] = []
    for seg in draft.segments(VIDEO):
        cut = _slice(seg, from_ms, end, rate=seg.m.get("speed", 1.0))
        if cut is None:
            continue
        cut = _fit_fades(cut, seg, from_ms, end)
        if video and cut.tr is None and cut.st < video[-1].end:
            video[-1] = attrs.evolve(video[-1], d=cut.st - video[-1].st)
        if cut.tr and video:
            cut = attrs.evolve(cut, tr={**cut.tr, "d": min(cut.tr["d"], cut.d, video[-1].d)})
        elif cut.tr:
            cut = attrs.evolve(cut, tr=None)
        video.append(cut)
    video = [v for v in video if v.d > 0]
    out = draft.with_segments(VIDEO, video)
    for tt in (TEXT, AUDIO):
        if draft.track(tt) is None:
            continue
        kept = []
        for seg in draft.segments(tt):
            if seg.m.get("bed"):
                kept.append(seg)
                continue
            cut = _slice(seg, from_ms, end, rate=float(seg.m.get("tempo", 1.0)))  # `fit stretch`: source ms per timeline ms
            if cut is not None:
                kept.append(cut)
        out = out.with_segments(tt, kept)
    return layers.trim_layers(out, draft, from_ms, end)


def _fit_fades(cut: Segment, seg: Segment, a: int, b: int) -> Segment:
    """Drop a fade-in whose start was trimmed away, and a fade-out whose end was."""
    fx = seg.m.get("fx")
    if not fx:
        return cut
    kept = [e for e in fx if not (e.get("type") == "fade" and ((e["dir"] == "in" and seg.st < a) or (e["dir"] == "out" and seg.end > b)))]
    return cut.with_m(fx=kept)


def fade(draft: Draft, direction: str, d_ms: int) -> Draft:
    """Fade the picture (and the clip's own sound) in from black at the start, or out to black at the end."""
    video = list(draft.segments(VIDEO))
    if not video:
        raise DraftError(f"`fade {direction}` has no clip to apply to: add a `video` before it")
    i = 0 if direction == "in" else len(video) - 1
    seg = video[i]
    video[i] = seg.with_m(fx=[*seg.m.get("fx", []), {"type": "fade", "dir": direction, "d": min(int(d_ms), seg.d)}])
    return draft.with_segments(VIDEO, video)


def add_text(draft: Draft, text: str, style: dict[str, Any], *, st: int = 0, d: int | None = None) -> Draft:
    """Put text on screen from `st` for `d` ms, or until the end of the timeline when `d` is None."""
    m: dict[str, Any] = {"text": text, "style": {k: v for k, v in style.items() if v is not None}}
    if d is None:
        m["to_end"] = True
        d = max(draft.d - st, 0)
    return draft.with_segments(TEXT, [*draft.segments(TEXT), Segment(st=int(st), d=int(d), m=m)])


def add_sound(draft: Draft, media_id: str, entry: MediaEntry | Mapping[str, Any], *, st: int = 0, in_ms: int = 0, d: int | None = None,
              volume: float = 100.0, fade_in: int = 0, fade_out: int = 0, loop: bool = False, bed: bool = False,
              duck: float | None = None, track: int | None = None, weight: float | None = None,
              tempo: float | None = None) -> Draft:
    """Add audio: a bed under the whole timeline (`bed`), or a sound placed at `st`; `track` as for add_clip.

    `weight` is its relative level in the mix (draft/mix.py); `tempo` plays it that many times faster, pitch kept,
    so `d` ms of timeline hold `d` x `tempo` ms of the source (`audio … fit stretch`)."""
    entry = MediaEntry.from_json(entry, f"media `{media_id}`")
    if not entry.audio:
        raise DraftError(f"`{media_id}` has no audio track to play")
    track = checked_track(media_id, entry, track)
    draft = add_media(draft, media_id, entry)
    if d is None and not bed:
        length = entry.d
        d = max(int(length) - in_ms, 0) if length is not None else 0
    m: dict[str, Any] = {"src": media_id, "in": int(in_ms), "volume": float(volume)}
    for key, value in (("fade_in", fade_in), ("fade_out", fade_out)):
        if value:
            m[key] = int(value)
    if loop:
        m["loop"] = True
    if bed:
        m["bed"] = True
    if duck is not None:
        m["duck"] = float(duck)
    if track is not None:
        m["track"] = int(track)
    if tempo is not None and abs(tempo - 1.0) > 1e-9:
        m["tempo"] = float(tempo)
    seg = Segment(st=int(st), d=int(d or 0), m=weighted(m, weight))
    return draft.with_segments(AUDIO, [*draft.segments(AUDIO), seg])


def normalize(draft: Draft) -> Draft:
    """Settle what depends on the final length: beds span the timeline, open-ended text runs to its end."""
    total = draft.d
    if draft.track(AUDIO):
        audio = []
        for s in draft.segments(AUDIO):
            if s.m.get("bed"):
                length = draft.media.get(s.m["src"], {}).get("d")
                d = total if s.m.get("loop") or length is None else min(total, max(int(length) - s.m.get("in", 0), 0))
                s = attrs.evolve(s, st=0, d=d)
            audio.append(s)
        draft = draft.with_segments(AUDIO, [s for s in audio if s.d > 0 and s.st < total])
    if draft.track(TEXT):
        text = [attrs.evolve(s, d=max(total - s.st, 0)) if s.m.get("to_end") else s for s in draft.segments(TEXT)]
        draft = draft.with_segments(TEXT, [s for s in text if s.d > 0 and s.st < total])
    return layers.normalize_layers(draft)


def cut_spans(draft: Draft, spans: list[tuple[int, int]]) -> Draft:
    """Remove the timeline ranges `spans` (ms, [a, b)) and close the gaps, as an editor's ripple delete.

    Clips are split around each span with their in-points moved; text and
    placed sounds are cut the same way, so they stay on the picture they
    belonged to; beds are left for normalize() to fit to the new length. A
    transition whose overlap a span touches becomes a hard cut.
    """
    total = draft.d
    cuts = _merge_spans([(max(0, int(a)), min(total, int(b))) for a, b in spans])
    if not cuts:
        return draft
    if sum(b - a for a, b in cuts) >= total:
        raise DraftError(f"cutting {_spans_text(cuts)} would leave nothing of the {total / 1000:g}s timeline")

    def moved(t: int) -> int:
        return t - sum(min(b, t) - a for a, b in cuts if a < t)

    def touches(a: int, b: int) -> bool:
        return any(x < b and a < y for x, y in cuts)

    video = list(draft.segments(VIDEO))
    for i in range(1, len(video)):  # transitions whose overlap is cut into become hard cuts first
        seg, prev = video[i], video[i - 1]
        if seg.tr and touches(seg.st, prev.end):
            video[i - 1] = attrs.evolve(prev, d=max(seg.st - prev.st, 0))
            video[i] = attrs.evolve(seg, tr=None)
    out_video: list[Segment] = []
    for seg in video:
        for piece in _pieces(seg, cuts, rate=seg.m.get("speed", 1.0)):
            piece = attrs.evolve(piece, st=moved(piece.st))
            if piece.tr and out_video:
                overlap = min(piece.tr["d"], out_video[-1].end - piece.st)
                piece = attrs.evolve(piece, tr={**piece.tr, "d": overlap} if overlap > 0 else None)
            out_video.append(piece)
    out = draft.with_segments(VIDEO, [s for s in out_video if s.d > 0])
    if draft.track(TEXT):
        texts = []
        for seg in draft.segments(TEXT):
            st, end = moved(seg.st), moved(seg.end)
            if end > st:
                texts.append(attrs.evolve(seg, st=st, d=end - st))
        out = out.with_segments(TEXT, texts)
    if draft.track(AUDIO):
        sounds = []
        for seg in draft.segments(AUDIO):
            if seg.m.get("bed"):
                sounds.append(seg)
                continue
            sounds += [attrs.evolve(p, st=moved(p.st)) for p in _pieces(seg, cuts, rate=float(seg.m.get("tempo", 1.0)))]
        out = out.with_segments(AUDIO, sounds)
    return layers.cut_layers(out, draft, cuts, moved)


def _merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _spans_text(spans: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a / 1000:g}–{b / 1000:g}s" for a, b in spans)


def _pieces(seg: Segment, cuts: list[tuple[int, int]], *, rate: float) -> list[Segment]:
    """The parts of `seg` outside `cuts`, at their old places; fades and the transition stay only where the edge survives."""
    kept, at = [], seg.st
    for a, b in cuts:
        if b <= at or a >= seg.end:
            continue
        if a > at:
            kept.append((at, a))
        at = max(at, b)
    if at < seg.end:
        kept.append((at, seg.end))
    if kept == [(seg.st, seg.end)]:
        return [seg]
    out = []
    for a, b in kept:
        m = dict(seg.m)
        if "in" in m and not m.get("still"):
            m["in"] = round(m["in"] + (a - seg.st) * rate)
        if m.get("fx"):
            m["fx"] = [e for e in m["fx"] if not (e.get("type") == "fade" and ((e["dir"] == "in" and a > seg.st)
                                                                                or (e["dir"] == "out" and b < seg.end)))]
        if a > seg.st:
            m.pop("fade_in", None)
        if b < seg.end:
            m.pop("fade_out", None)
        out.append(attrs.evolve(seg, st=a, d=b - a, m=m, tr=seg.tr if a == seg.st else None))
    return out


def set_music(draft: Draft, *, volume: float | None = None, fade_out: int | None = None, remove: bool = False) -> Draft:
    """Change the music beds: their level, a fade at their end, or take them away."""
    beds = [s for s in draft.segments(AUDIO) if s.m.get("bed")]
    if not beds:
        raise DraftError("there is no music on the timeline; add it in the edit (`music NAME volume 35%`) first")
    if remove:
        return draft.with_segments(AUDIO, [s for s in draft.segments(AUDIO) if not s.m.get("bed")])
    changes: dict[str, Any] = {}
    if volume is not None:
        changes["volume"] = float(volume)
    if fade_out is not None:
        changes["fade_out"] = int(fade_out)
    return draft.with_segments(AUDIO, [s.with_m(**changes) if s.m.get("bed") else s for s in draft.segments(AUDIO)])


def set_clip_effect(draft: Draft, index: int, effect: dict[str, Any]) -> Draft:
    """Add an effect to one clip (e.g. a grade measured for that clip alone)."""
    video = list(draft.segments(VIDEO))
    seg = video[index]
    video[index] = seg.with_m(fx=[*seg.m.get("fx", []), dict(effect)])
    return draft.with_segments(VIDEO, video)
