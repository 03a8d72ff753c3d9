"""Layers (draft/layers.py) composited over the main picture: one `overlay` filter per overlay, in layer order.

Speed rules, as for the main chain: each overlay's source is opened with input seeking for exactly its range
(`-ss`/`-t`), so nothing outside it is decoded; a still is decoded once, as one frame that the overlay filter
holds (repeatlast) while `enable` shows it; the main picture stays yuv420p and only the small overlay is
converted (to yuva420p, which carries its alpha), so a logo on part of the timeline costs its own pixels, not an
RGB round trip of every frame. Timing: the overlay's stream is moved to start at its place on the timeline and
`enable` shows it from its first frame to its end on the output's frame grid; a video overlay ends with its video
(`eof_action=pass`: the picture beneath shows again). Motion is per frame by expressions in `t` (the timeline's
seconds): position in overlay's x/y, size by scale with `eval=frame`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from ...draft.layers import layer_tracks
from ...draft.media import MediaEntry
from ...draft.model import Draft, Segment
from ...draft.output import Output
from ...media.escape import lavfi_number
from ...media.sources import input_args
from ...media.timing import rate_text
from .channels import atempo_chain, audio_source, stereo_filters

MARGIN = 0.06  # of the frame, from the nearest edges: as text (text.py)
AUDIO_FORMAT = "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo"
EASES = {  # progress p in [0, 1] → eased progress
    "linear": "{p}",
    "in": "pow({p},2)",
    "out": "(1-pow(1-{p},2))",
    "in-out": "(pow({p},2)*(3-2*{p}))",  # smoothstep: slow at both ends
}
# anchor of a named position: (fraction across the free width, fraction down the free height); None: a fixed place
_ANCHORS: dict[str, tuple[float, float | None]] = {
    "center": (0.5, 0.5), "top": (0.5, 0.0), "bottom": (0.5, 1.0), "left": (0.0, 0.5), "right": (1.0, 0.5),
    "top-left": (0.0, 0.0), "top-right": (1.0, 0.0), "bottom-left": (0.0, 1.0), "bottom-right": (1.0, 1.0),
    "lower-third": (0.0, None),  # its top at 72% of the height, as text's lower third
}


class Graph(Protocol):
    """What this module needs of graph.py's filter-graph builder."""

    def add_input(self, args: list[str]) -> int: ...
    def label(self, prefix: str) -> str: ...
    def chain(self, src: str, filters: list[str], prefix: str) -> str: ...
    def raw(self, statement: str) -> None: ...


@attrs.frozen
class Extent:
    """A place or size as written: a percentage of the frame, or output pixels."""

    pct: float | None = None
    px: float | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Extent | None:
        if not data:
            return None
        return cls(pct=data.get("pct"), px=data.get("px"))

    def pixels(self, whole: int) -> float:
        return self.px if self.px is not None else float(self.pct or 0) * whole / 100


@attrs.frozen
class Place:
    """Where the box is: a named position, and/or explicit x, y (which win on their axis)."""

    at: str | None = None
    x: Extent | None = None
    y: Extent | None = None
    origin: str | None = None  # the point of the box that x/y place (default its top-left corner)

    def _origin(self, axis: str) -> float:
        fx, fy = _ANCHORS[self.origin or "top-left"]
        return fx if axis == "x" else float(fy or 0)

    def value(self, axis: str, frame: int, size: float) -> float:
        """The box's left (axis x) or top (y) edge in output pixels, for a box `size` wide (x) or high (y)."""
        explicit = self.x if axis == "x" else self.y
        if explicit is not None:
            return explicit.pixels(frame) - self._origin(axis) * size
        fx, fy = _ANCHORS[self.at or "center"]
        f = fx if axis == "x" else fy
        if f is None:  # lower-third's top
            return frame * 0.72
        return frame * MARGIN + f * (frame - size - 2 * frame * MARGIN)

    def expr(self, axis: str, frame: int, size: str) -> str:
        """As value(), as an FFmpeg expression in the box's current size `size` (`w` or `h`): it may change per frame."""
        explicit = self.x if axis == "x" else self.y
        fx, fy = _ANCHORS[self.at or "center"]
        f = fx if axis == "x" else fy
        if explicit is not None:
            shift = self._origin(axis)
            return lavfi_number(round(explicit.pixels(frame), 3)) + (f"-{lavfi_number(shift)}*{size}" if shift else "")
        if f is None:
            return lavfi_number(round(self.value(axis, frame, 0), 3))
        margin = frame * MARGIN
        return f"({lavfi_number(round(margin, 3))}+{lavfi_number(f)}*({frame}-{size}-{lavfi_number(round(2 * margin, 3))}))"


@attrs.frozen
class Layer:
    """One overlay segment, typed: what the filters need."""

    seg: Segment
    entry: MediaEntry
    place: Place
    w: Extent | None
    h: Extent | None
    opacity: float
    border: tuple[float, str] | None
    volume: float
    end_place: Place | None  # motion: where it is at t1
    end_w: Extent | None  # motion: its width at t1
    ease: str
    t0: int  # ms from the segment's start
    t1: int

    @classmethod
    def of(cls, draft: Draft, seg: Segment) -> Layer:
        m = seg.m
        motion = m.get("motion") or {}
        border = m.get("border")
        end_place = None
        origin = m.get("origin")
        if motion.get("at"):  # a named end position moves both axes, unless an explicit end x/y is given
            end_place = Place(motion["at"], Extent.of(motion.get("x")), Extent.of(motion.get("y")), origin)
        elif "x" in motion or "y" in motion:  # only move-x / move-y: the other axis stays where it started
            end_place = Place(m.get("at"), Extent.of(motion.get("x")) or Extent.of(m.get("x")),
                              Extent.of(motion.get("y")) or Extent.of(m.get("y")), origin)
        place = Place(m.get("at"), Extent.of(m.get("x")), Extent.of(m.get("y")), origin)
        return cls(seg=seg, entry=draft.media_entry(m["src"]), place=place,
                   w=Extent.of(m.get("w")), h=Extent.of(m.get("h")), opacity=float(m.get("opacity", 100.0)),
                   border=(float(border["w"]), str(border["c"])) if border and border.get("w") else None,
                   volume=float(m.get("volume", 0.0)), end_place=end_place, end_w=Extent.of(motion.get("w")),
                   ease=str(motion.get("ease", "linear")), t0=int(motion.get("t0", 0)), t1=int(motion.get("t1", seg.d)))

    @property
    def still(self) -> bool:
        return bool(self.seg.m.get("still"))

    @property
    def moves(self) -> bool:
        return self.end_place is not None or self.end_w is not None


def even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def _capped(w: float, h: float, out: Output) -> tuple[int, int]:
    """A size at most 4x the output's on each side (aspect kept): a larger overlay shows nothing more, and would
    only cost memory (`width 1000px` on a 180 px high export)."""
    k = min(1.0, 4 * out.width / max(w, 1), 4 * out.height / max(h, 1))
    return even(w * k), even(h * k)


def _size(layer: Layer, out: Output, canvas_w: int) -> tuple[int, int]:
    """The picture's size on the output (border not included): width/height as asked, the source's aspect kept
    when only one is given, the source's own size (in the canvas's pixels, scaled to the output) when neither."""
    sw, sh = layer.entry.w or out.width, layer.entry.h or out.height
    if layer.w is not None and layer.h is not None:
        return _capped(layer.w.pixels(out.width), layer.h.pixels(out.height), out)
    if layer.w is not None:
        w = layer.w.pixels(out.width)
        return _capped(w, w * sh / sw, out)
    if layer.h is not None:
        h = layer.h.pixels(out.height)
        return _capped(h * sw / sh, h, out)
    k = out.width / canvas_w if canvas_w else 1.0
    return _capped(sw * k, sh * k, out)


def _sec(ms: float) -> str:
    return lavfi_number(round(ms / 1000, 6))


def composite(g: Graph, draft: Draft, main: str, out: Output) -> tuple[str, list[str]]:
    """The main picture `main` with every layer drawn over it; and the labels of overlays' sounds (those given a
    volume) to mix with the clips' own, when the output has sound."""
    sounds: list[str] = []
    canvas_w = int((draft.canvas or {}).get("w") or out.width)
    half = 500 / out.fps  # half an output frame, ms: a frame at instant t shows the overlay if st <= t < end on the grid
    for track in layer_tracks(draft):
        for seg in track.sg:
            if seg.d <= 0 or seg.st >= draft.d:
                continue
            layer = Layer.of(draft, seg)
            picture, sound = _input(g, layer, out, canvas_w)
            st, end = seg.st, min(seg.end, draft.d)
            x, y = _position(layer, out, canvas_w)
            composed = g.label("ly")
            eof = "repeat" if layer.still else "pass"  # a still is one frame, held; a video ends with its video
            g.raw(f"[{main}][{picture}]overlay=x='{x}':y='{y}':eof_action={eof}:format=yuv420"
                  f":enable='between(t,{_sec(st - half)},{_sec(end - half - 0.001)})'[{composed}]")
            main = composed
            if sound is not None:
                sounds.append(sound)
    return main, sounds


def mix(g: Graph, own: str, sounds: list[str]) -> str:
    """The clips' own sound with overlays' sounds added (the clips' decide the length)."""
    mixed = g.label("lym")
    g.raw("".join(f"[{x}]" for x in [own, *sounds]) + f"amix=inputs={1 + len(sounds)}:duration=first:normalize=0[{mixed}]")
    return mixed


def _input(g: Graph, layer: Layer, out: Output, canvas_w: int) -> tuple[str, str | None]:
    """The overlay's picture stream (placed in time, sized, bordered, faded to its opacity) and its sound, if any."""
    seg, entry = layer.seg, layer.entry
    speed = float(seg.m.get("speed", 1.0))
    w, h = _size(layer, out, canvas_w)
    if layer.still:
        raster = None
        if entry.codec == "svg":  # drawn at the size it is shown at (its largest, when it grows), not scaled up
            grow = max(1.0, min(layer.end_w.pixels(out.width), 4 * out.width) / w) if layer.end_w is not None else 1.0
            raster = (even(w * grow), even(h * grow))
            entry = attrs.evolve(entry, w=raster[0], h=raster[1])
        # one frame, decoded once: the overlay filter holds it
        args = input_args(entry, 0, None, still_fps=out.fps, raster=raster)
    else:
        margin = 2000 / float(entry.fps or out.fps)  # two source frames past the end: `enable` cuts it exactly
        args = input_args(entry, int(seg.m.get("in", 0)), round(seg.d * speed + margin))
        if entry.codec == "vp9" and (entry.pix_fmt or "").startswith("yuva") and entry.path is not None:
            args.insert(len(args) - 2, "-c:v")  # FFmpeg's own vp9 decoder drops the alpha side stream; libvpx keeps it
            args.insert(len(args) - 2, "libvpx-vp9")
    k = g.add_input(args)
    shift = f"+{_sec(seg.st)}/TB" if seg.st else ""
    vf = [f"setpts=(PTS-STARTPTS)/{lavfi_number(speed)}{shift}" if abs(speed - 1) > 1e-9 else f"setpts=PTS-STARTPTS{shift}"]
    b = even(layer.border[0]) if layer.border else 0
    fades = [(k, min(int(v), seg.d // 2)) for k, v in (seg.m.get("fade") or {}).items() if v and seg.d >= 2]
    if layer.end_w is None:  # fixed size: scale (with the conversion to yuva420p in the same pass), then the border
        fit = seg.m.get("fit") if layer.w is not None and layer.h is not None else None
        if fit == "crop":  # fill the box, the overflow cut off
            vf += [f"scale={w}:{h}:force_original_aspect_ratio=increase", f"crop={w}:{h}"]
        elif fit == "pad":  # inside the box, the rest of it transparent
            vf += [f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2", "format=yuva420p",
                   f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black@0"]
        elif (w, h) != (entry.w, entry.h):
            vf.append(f"scale={w}:{h}")
        vf.append("format=yuva420p")
        if b:
            vf.append(f"pad={w + 2 * b}:{h + 2 * b}:{b}:{b}:color=0x{layer.border[1].lstrip('#')[:6]}")
        if layer.still and fades:  # a fade changes it frame by frame: the one frame repeated (by reference) for it
            vf += _still_frames(seg, out, shift)
    else:  # a size that changes: the border is added at the source's size and scales with it, frame by frame
        sw = entry.w or w
        bs = even(b * sw / w) if b else 0
        vf.append("format=yuva420p")
        if layer.still:  # one frame per output frame for scale to size anew (repeated by reference: decoded once)
            vf += _still_frames(seg, out, shift)
        if bs:
            vf.append(f"pad=iw+{2 * bs}:ih+{2 * bs}:{bs}:{bs}:color=0x{layer.border[1].lstrip('#')[:6]}")
        k_total = (sw + 2 * bs) / sw
        w1 = min(layer.end_w.pixels(out.width), 4 * out.width)
        width = f"{lavfi_number(round(k_total, 6))}*({w}+({lavfi_number(round(w1 - w, 3))})*{_eased(layer)})"
        vf.append(f"scale=w='2*trunc({width}/2)':h=-2:eval=frame")
    for kind, length in fades:
        start = seg.st if kind == "in" else seg.end - length
        vf.append(f"fade=t={kind}:st={_sec(start)}:d={_sec(length)}:alpha=1")
    if layer.opacity < 100:
        vf.append(f"lut=a=val*{lavfi_number(round(layer.opacity / 100, 4))}")
    picture = g.chain(f"{k}:v", vf, "lv")
    sound = None
    if out.has_audio and layer.volume > 0 and entry.audio and not layer.still:
        af = [*stereo_filters(entry, seg.m), "asetpts=PTS-STARTPTS"]
        if abs(speed - 1) > 1e-9:
            af += atempo_chain(speed)
        af += [f"volume={lavfi_number(layer.volume / 100)}", f"atrim=end={_sec(seg.d)}", AUDIO_FORMAT]
        af += [f"afade=t={kind}:st={_sec(0 if kind == 'in' else seg.d - length)}:d={_sec(length)}" for kind, length in fades]
        if seg.st:
            af.append(f"adelay=delays={int(seg.st)}:all=1")
        sound = g.chain(audio_source(k, entry, seg.m), af, "la")
    return picture, sound


def _still_frames(seg: Segment, out: Output, shift: str) -> list[str]:
    """A still's one frame repeated for every output frame of its time (by reference, so it is decoded and scaled
    once), from its place on the timeline: for filters that change it frame by frame."""
    frames = int(seg.d * out.fps / 1000) + 2
    return [f"loop=loop={frames - 1}:size=1", f"setpts=N/({rate_text(out.fps)})/TB{shift}"]


def _eased(layer: Layer) -> str:
    """The motion's eased progress, 0 at t0 and 1 at t1 (timeline seconds `t`), held outside that span."""
    t0, t1 = (layer.seg.st + layer.t0) / 1000, (layer.seg.st + layer.t1) / 1000
    span = max(t1 - t0, 1e-3)
    p = f"clip((t-{lavfi_number(round(t0, 6))})/{lavfi_number(round(span, 6))},0,1)"
    return EASES.get(layer.ease, EASES["linear"]).format(p=p)


def _position(layer: Layer, out: Output, canvas_w: int) -> tuple[str, str]:
    """The overlay's x and y: numbers when it stays put, expressions in t (and its current size w, h) when it moves."""
    w, h = _size(layer, out, canvas_w)
    b = even(layer.border[0]) if layer.border else 0
    if not layer.moves:
        return (str(round(layer.place.value("x", out.width, w + 2 * b))), str(round(layer.place.value("y", out.height, h + 2 * b))))
    end = layer.end_place or layer.place
    eased = _eased(layer)
    parts = []
    for axis, frame, fixed in (("x", out.width, w + 2 * b), ("y", out.height, h + 2 * b)):
        if layer.end_w is None:  # a fixed size: both ends are numbers
            a, z = (lavfi_number(round(p.value(axis, frame, fixed), 3)) for p in (layer.place, end))
        else:  # its size changes: edges anchored to the right or bottom follow it (`w`, `h`: its size now)
            now = "w" if axis == "x" else "h"
            a, z = layer.place.expr(axis, frame, now), end.expr(axis, frame, now)
        parts.append(a if a == z else f"{a}+({z}-({a}))*{eased}")
    return parts[0], parts[1]
