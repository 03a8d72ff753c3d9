"""A Draft as an OpenTimelineIO timeline: what an NLE shows, plus every nemoflow field in metadata.

The picture track becomes V1 (clips, a `Transition` where clips overlap), the Draft's further video tracks (layers)
V2…, its sounds A1… (as many tracks as sounds overlap), its texts markers on the stack. Every time is counted in
frames of the export's rate. A transition starts at the cut (in_offset 0, out_offset its length: the EDL way, which
all the adapters read back unchanged), so the outgoing clip ends at the cut and its last frames are the handle.

What frames cannot say (exact milliseconds, effects, text styles, the media table) is kept under
`metadata["nemoflow"]` of the clip, marker, track or timeline, which is how `nemoflow import` gives back the same
Draft from a `.otio` file (docs/otio.md).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import attrs

from ..draft.media import MediaEntry
from ..draft.model import AUDIO, TEXT, VIDEO, Draft, Segment
from . import otio
from .frames import Grid

NS = "nemoflow"
FORMAT = 1

Locate = Callable[[MediaEntry], str | None]
"""Where a file media is, as the target_url the format wants (relative, or a file:// URL); None: not a file."""


@attrs.frozen
class ExportInfo:
    """What the recipe's export asks for, kept so `nemoflow import` can write the export block back."""

    name: str  # the export step's name, e.g. "final"
    width: int
    height: int
    fps: float


def draft_to_timeline(draft: Draft, export: ExportInfo, locate: Locate):
    """The OTIO Timeline of `draft` at the export's frame rate."""
    o = otio()
    grid = Grid.of(export.fps)
    m = {k: v for k, v in draft.m.items() if k != "media"}
    timeline = o.schema.Timeline(name=str(draft.m.get("name") or export.name), metadata={NS: {
        "format": FORMAT, "m": copy.deepcopy(m), "export": attrs.asdict(export), "extra": dict(draft.extra)}})
    timeline.global_start_time = o.opentime.RationalTime(0, grid.fps)
    writer = _Writer(o, grid, draft, locate)
    video = [tr for tr in draft.t if tr.tt == VIDEO]
    for n, track in enumerate(video):
        ot = (writer.main_track(track.sg) if n == 0
              else writer.placed_track(list(enumerate(track.sg)), o.schema.TrackKind.Video, f"V{n + 1}"))
        ot.metadata[NS] = {"tt": VIDEO, "m": copy.deepcopy(track.m), "extra": dict(track.extra)}
        timeline.tracks.append(ot)
    for track in (tr for tr in draft.t if tr.tt == AUDIO):
        for n, lane in enumerate(_lanes(track.sg)):
            ot = writer.placed_track(lane, o.schema.TrackKind.Audio, f"A{n + 1}")
            ot.metadata[NS] = {"tt": AUDIO, "m": copy.deepcopy(track.m), "extra": dict(track.extra), "lane": n}
            timeline.tracks.append(ot)
    for track in (tr for tr in draft.t if tr.tt == TEXT):
        for i, seg in enumerate(track.sg):
            timeline.tracks.markers.append(writer.marker(seg, i))
        timeline.tracks.metadata[NS] = {"text_track": {"m": copy.deepcopy(track.m), "extra": dict(track.extra)}}
    return timeline


def _lanes(segments: tuple[Segment, ...]) -> list[list[tuple[int, Segment]]]:
    """Sounds on as few tracks as possible with none overlapping on one (first fit, by start); each keeps its Draft index."""
    lanes: list[list[tuple[int, Segment]]] = []
    for i, seg in sorted(enumerate(segments), key=lambda p: (p[1].st, p[0])):
        for lane in lanes:
            if lane[-1][1].end <= seg.st:
                lane.append((i, seg))
                break
        else:
            lanes.append([(i, seg)])
    return lanes


class _Writer:
    """Builds OTIO items for one Draft on one frame grid."""

    def __init__(self, o, grid: Grid, draft: Draft, locate: Locate) -> None:
        self.o, self.grid, self.draft, self.locate = o, grid, draft, locate

    def rt(self, frames: int):
        return self.o.opentime.RationalTime(frames, self.grid.fps)

    def range(self, start: int, duration: int):
        return self.o.opentime.TimeRange(self.rt(start), self.rt(duration))

    def reference(self, media_id: str, shown: int):
        """The clip's media: a file (ExternalReference), a generator (GeneratorReference) or, for a URL, missing.
        A still has no length of its own: it is available for as long as it is `shown` (NLE readers need a range)."""
        o = self.o
        raw = self.draft.media.get(media_id, {})
        entry = MediaEntry.from_json(raw, f"the draft's media `{media_id}`")
        meta = {NS: {"id": media_id, "entry": copy.deepcopy(raw)}}
        available = self.range(0, self.grid.frame(entry.d) if entry.d else shown)
        if entry.gen is not None:
            return o.schema.GeneratorReference(name=media_id, generator_kind=str(entry.gen.get("name", "")),
                                               available_range=available, parameters=dict(entry.gen), metadata=meta)
        url = self.locate(entry) if entry.path else None
        if url is None:
            return o.schema.MissingReference(name=media_id, available_range=available, metadata=meta)
        return o.schema.ExternalReference(target_url=url, available_range=available, metadata=meta)

    def clip(self, seg: Segment, index: int, start: int, end: int):
        """A clip covering frames start..end of its track, whose media starts at the segment's in-point."""
        o = self.o
        src = str(seg.m.get("src", ""))
        first = self.grid.frame(float(seg.m.get("in", 0)))
        clip = o.schema.Clip(name=src.removeprefix("media."), media_reference=self.reference(src, first + end - start),
                             source_range=self.range(first, end - start),
                             metadata={NS: {"i": index, "segment": seg.to_json()}})
        speed = float(seg.m.get("speed", 1.0))
        if speed != 1.0:
            clip.effects.append(o.schema.LinearTimeWarp(name="speed", time_scalar=speed))
        for fx in seg.m.get("fx", []):
            clip.effects.append(o.schema.Effect(name=str(fx.get("type")), effect_name=f"nemoflow.{fx.get('type')}",
                                                metadata={NS: copy.deepcopy(fx)}))
        return clip

    def main_track(self, segments: tuple[Segment, ...]):
        """V1: clips back to back; where the Draft overlaps two, the first ends at the second's start and a
        Transition of the overlap's length starts there."""
        o = self.o
        track = o.schema.Track(name="V1", kind=o.schema.TrackKind.Video)
        g = self.grid
        for i, seg in enumerate(segments):
            start = g.frame(seg.st)
            end = g.frame(segments[i + 1].st) if i + 1 < len(segments) else g.frame(seg.end)
            if seg.tr and i > 0:
                overlap = g.frame(segments[i - 1].end) - start
                if overlap > 0:
                    kind = str(seg.tr.get("type", "crossfade"))
                    transition_type = (o.schema.TransitionTypes.SMPTE_Dissolve if kind in ("crossfade", "fade", "dissolve")
                                       else o.schema.TransitionTypes.Custom)
                    track.append(o.schema.Transition(name=kind, transition_type=transition_type,
                                                     in_offset=self.rt(0), out_offset=self.rt(overlap),
                                                     metadata={NS: copy.deepcopy(dict(seg.tr))}))
            if end > start:
                track.append(self.clip(seg, i, start, end))
        return track

    def placed_track(self, pairs: list[tuple[int, Segment]], kind, name: str):
        """Sounds or layers (with their Draft indexes) at their times: a Gap before each clip that does not start where
        the last ended."""
        o = self.o
        track = o.schema.Track(name=name, kind=kind)
        at = 0
        for i, seg in pairs:
            start, end = self.grid.frame(seg.st), self.grid.frame(seg.end)
            if end <= start:
                continue
            if start > at:
                track.append(o.schema.Gap(source_range=self.range(0, start - at)))
            track.append(self.clip(seg, i, start, end))
            at = end
        return track

    def marker(self, seg: Segment, index: int):
        """A text as a marker over its time, named `title: Words` (or `text: …`): the name is the one field every
        adapter keeps, so the words come back from any format; the style is in metadata."""
        o = self.o
        start, end = self.grid.frame(seg.st), self.grid.frame(seg.end)
        role = str((seg.m.get("style") or {}).get("role", "text"))
        return o.schema.Marker(name=f"{role}: {seg.m.get('text', '')}", marked_range=self.range(start, max(end - start, 0)),
                               color=o.schema.MarkerColor.YELLOW,
                               metadata={NS: {"i": index, "segment": seg.to_json()}})
