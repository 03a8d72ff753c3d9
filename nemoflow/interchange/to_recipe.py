"""An OTIO timeline (from nemoflow, or from an NLE through an adapter) as a formatted recipe, with a warning for each
thing no clause can say.

Times come from the timeline's frames (on the rate it was cut at); where a clip or marker still carries the
`metadata["nemoflow"]` that `nemoflow otio` wrote and its frames still agree with it, the exact milliseconds and the
nemoflow fields come from there, so recipe → OTIO → recipe gives back the same Draft (docs/otio.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from ..lang.fmt import format_source
from . import InterchangeError, clauses, otio
from .formats import url_path
from .frames import Grid
from .to_otio import NS

_CLIP_KEYS = {"src", "in", "speed", "volume", "still", "fit", "pad", "track", "fx", "weight"}
_SOUND_KEYS = {"src", "in", "volume", "fade_in", "fade_out", "loop", "bed", "duck", "track", "weight"}
_DRAFT_KEYS = {"name", "canvas", "loudness"}


@attrs.frozen
class Imported:
    text: str
    warnings: tuple[str, ...]


def plain(value: Any) -> Any:
    """OTIO's metadata containers (AnyDictionary, AnyVector) as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [plain(v) for v in value]
    return value


def ours(item) -> dict[str, Any] | None:
    """What `nemoflow otio` kept on the item (metadata["nemoflow"]), as plain data."""
    return ours_any(item, NS)


def ours_any(item, namespace: str) -> dict[str, Any] | None:
    meta = item.metadata.get(namespace) if item.metadata else None
    return plain(meta) if meta is not None else None


@attrs.define
class _Clip:
    """A clip on the picture track, in frames of the grid, then in milliseconds."""

    item: Any
    start: float
    end: float
    first: float  # in-point, frames
    speed: float = 1.0
    tr: dict[str, Any] | None = None  # {"type": …, "d": frames or ms once exact}
    gap: bool = False
    seg: dict[str, Any] | None = None  # nemoflow's segment, when the frames still agree with it


def timeline_to_recipe(timeline, *, cut: Path, recipe: Path, fps: float | None = None) -> Imported:
    """The recipe text (fmt-clean) of `timeline`, read from the file `cut`, to be saved as `recipe`."""
    return _Importer(timeline, cut, recipe, fps).run()


class _Importer:
    def __init__(self, timeline, cut: Path, recipe: Path, fps: float | None) -> None:
        self.o = otio()
        self.timeline = timeline
        self.cut, self.recipe_dir = cut, recipe.resolve().parent
        self.meta = ours(timeline) or {}
        self.export = self.meta.get("export") or {}
        self.grid = Grid.of(fps or self.export.get("fps") or self._rate())
        self.warnings: list[str] = []
        self.names = clauses.Names()
        self.media: dict[str, str] = {}  # key (path or generator) → name
        self.declarations: list[str] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def _rate(self) -> float:
        for track in self.timeline.tracks:
            for item in track:
                if isinstance(item, self.o.schema.Clip):
                    return float(item.source_range.duration.rate if item.source_range else item.duration().rate)
        return float(self.timeline.duration().rate) or 24.0

    def frames(self, t) -> Fraction:
        """A RationalTime as frames of the grid (exact when it is on it)."""
        value = Fraction(t.value).limit_denominator(1_000_000) if t.value != int(t.value) else Fraction(int(t.value))
        if abs(t.rate - self.grid.fps) < 1e-6:
            return value
        return value * self.grid.rate / Fraction(t.rate).limit_denominator(1_000_000)

    def at(self, item) -> str:
        return f"`{item.name}`" if item.name else "a clip"

    # ---- media ---------------------------------------------------------------------------------------------------

    def name_of(self, clip) -> str | None:
        """The recipe name of a clip's media, declaring it the first time; None (with a warning) if it has none."""
        o, ref = self.o, clip.media_reference
        meta = ours(ref) or {}
        entry = meta.get("entry") or {}
        wanted = str(meta.get("id", "")).removeprefix("media.") or clip.name or "clip"
        if entry.get("gen") is not None:
            key = "gen:" + str(sorted(entry["gen"].items())) + str(entry.get("d"))
            rhs = clauses.generator(entry["gen"], entry.get("d"))
            if rhs is None:
                self.warn(f"{self.at(clip)}: a generated source nemoflow cannot describe ({entry['gen'].get('name')}); left out")
                return None
        elif isinstance(ref, o.schema.ExternalReference):
            path = url_path(ref.target_url, self.cut.resolve().parent)
            if path is None:
                if ref.target_url.startswith(("http://", "https://")):
                    key, rhs = ref.target_url, clauses.string(ref.target_url)
                else:
                    self.warn(f"{self.at(clip)}: its media `{ref.target_url}` is not a file or a web address; left out")
                    return None
            else:
                if not meta:
                    wanted = path.stem
                key, rhs = str(path), clauses.path_text(path, self.recipe_dir)
                if not path.exists() and key not in self.media:
                    self.warn(f"{self.at(clip)}: its media {path} does not exist here; the recipe names it anyway")
        else:
            kind = getattr(ref, "generator_kind", "") or type(ref).__name__
            self.warn(f"{self.at(clip)}: its media is {kind!s}, not a file nemoflow can play (no equivalent); left out "
                      "(on the picture: black for as long)")
            return None
        if key not in self.media:
            self.media[key] = self.names.fresh(wanted)
            self.declarations.append(f"media {self.media[key]} = {rhs}")
        return self.media[key]

    # ---- the picture track ---------------------------------------------------------------------------------------

    def _edl_dissolves(self, track) -> None:
        """OTIO's EDL reader gives the incoming clip of a dissolve the outgoing clip's file (it reads no `TO CLIP`
        comment): take the file its reel has elsewhere in the EDL, or the file its name names beside the other."""
        o = self.o
        items = list(track)
        by_reel = {}
        for i, item in enumerate(items):
            reel = (ours_any(item, "cmx_3600") or {}).get("reel")
            if isinstance(item, o.schema.Clip) and reel and not (i and isinstance(items[i - 1], o.schema.Transition)):
                by_reel.setdefault(reel, getattr(item.media_reference, "target_url", ""))
        for i, item in enumerate(items):
            if not (i and isinstance(items[i - 1], o.schema.Transition) and isinstance(item, o.schema.Clip)):
                continue
            ref = item.media_reference
            reel = (ours_any(item, "cmx_3600") or {}).get("reel")
            if not isinstance(ref, o.schema.ExternalReference):
                continue
            if reel in by_reel:
                ref.target_url = by_reel[reel]
                continue
            beside = url_path(ref.target_url, self.cut.resolve().parent)
            guess = beside.parent / item.name if beside is not None and item.name else None
            if guess is not None and guess.is_file():
                ref.target_url = guess.as_uri()
            else:
                self.warn(f"{self.at(item)}: the EDL's reader cannot tell this dissolve's incoming file; it is read as "
                          f"{ref.target_url}: check it")

    def picture(self, track) -> list[_Clip]:
        o = self.o
        if any(ours_any(item, "cmx_3600") for item in track):
            self._edl_dissolves(track)
        out: list[_Clip] = []
        pos, pending = Fraction(0), None
        for item in track:
            if isinstance(item, o.schema.Transition):
                inset, outset = self.frames(item.in_offset), self.frames(item.out_offset)
                if out:
                    out[-1].end += outset
                meta = ours(item) or {}
                pending = (inset, outset, meta, item)
                continue
            length = self.frames(item.duration())
            if isinstance(item, o.schema.Gap):
                out.append(_Clip(item, pos, pos + length, Fraction(0), gap=True))
            elif isinstance(item, o.schema.Clip):
                speed = 1.0
                for fx in item.effects:
                    if isinstance(fx, o.schema.FreezeFrame):
                        self.warn(f"{self.at(item)} at {float(pos / self.grid.rate):.3f}s: a freeze frame has no nemoflow "
                                  "equivalent; the clip plays at 1x")
                    elif isinstance(fx, o.schema.LinearTimeWarp):
                        speed *= float(fx.time_scalar)
                    elif not (ours(fx) or {}).get("type"):
                        name = fx.effect_name or fx.name or type(fx).__name__
                        self.warn(f"{self.at(item)} at {float(pos / self.grid.rate):.3f}s: effect `{name}` has no nemoflow "
                                  "equivalent; left out")
                first = self.frames(item.source_range.start_time) if item.source_range else Fraction(0)
                out.append(_Clip(item, pos, pos + length, first, speed))
            else:
                self.warn(f"a {type(item).__name__} on the picture track has no nemoflow equivalent; left out")
                continue
            if pending is not None:
                inset, outset, meta, tr_item = pending
                clip = out[-1]
                clip.start -= inset
                clip.first -= inset * Fraction(clip.speed).limit_denominator(1000)
                clip.tr = {"type": self._transition_kind(tr_item, meta), "frames": inset + outset, "meta": meta}
                pending = None
            pos += length
        for clip in out:
            if not clip.gap:
                self._exact(clip)
        return out

    def _transition_kind(self, item, meta: dict[str, Any]) -> str:
        from ..core.signatures import EDIT_OPS

        kinds = EDIT_OPS["transition"].positional[0].type
        if meta.get("type") in kinds:
            return str(meta["type"])
        if item.transition_type == self.o.schema.TransitionTypes.SMPTE_Dissolve:
            return "crossfade"
        if item.name in kinds:
            return str(item.name)
        self.warn(f"transition `{item.name or item.transition_type}` has no nemoflow equivalent; a crossfade of the "
                  "same length is used")
        return "crossfade"

    def _exact(self, clip: _Clip) -> None:
        """Keep nemoflow's own segment when the clip's frames still say what it says (the cut was not changed)."""
        seg = (ours(clip.item) or {}).get("segment")
        if not seg:
            return
        g, m = self.grid, seg.get("m", {})
        same = (g.frame(seg["st"]) == clip.start and g.frame(seg["st"] + seg["d"]) == clip.end
                and g.frame(m.get("in", 0)) == round(clip.first) and abs(float(m.get("speed", 1.0)) - clip.speed) < 1e-9)
        if same:
            clip.seg = seg

    def picture_clauses(self, clips: list[_Clip]) -> list[str]:
        g = self.grid
        lines: list[tuple[str, list[dict[str, Any]] | None]] = []  # a clause, and the effects of the clip it adds
        self.fits: list[tuple[Any, Any, bool]] = []  # per clip: its fit, pad colour, whether a still
        black = None
        for clip in clips:
            st, end = g.ms(clip.start), g.ms(clip.end)
            seg = clip.seg
            if clip.tr is not None:
                tr_meta = clip.tr["meta"]
                if seg and seg.get("tr") and g.frame(seg["st"] + seg["tr"].get("d", 0)) == clip.start + clip.tr["frames"]:
                    # what the recipe asked (`asked`: the builder shortened it to half the shorter clip, and will again)
                    d_tr, ease = int(seg["tr"].get("asked", seg["tr"]["d"])), seg["tr"].get("ease")
                else:
                    prev_end = g.ms(clip.start + clip.tr["frames"])
                    d_tr, ease = prev_end - st, tr_meta.get("ease")
                lines.append((f"transition {clip.tr['type']} {clauses.seconds(d_tr)}" + (f" ease {ease}" if ease else ""), None))
            name = None if clip.gap else self.name_of(clip.item)
            if name is None:  # a gap, or a clip of media nemoflow cannot play: black for as long, so later cuts stay put
                if black is None:
                    black = self.names.fresh("black")
                    canvas = (self.meta.get("m") or {}).get("canvas") or {}
                    size = f"{self.export.get('width') or canvas.get('w') or 1920}x{self.export.get('height') or canvas.get('h') or 1080}"
                    self.declarations.append(f"media {black} = color #000000 duration 1h size {size} fps {clauses.number(round(g.fps, 3))}")
                lines.append((f"video {black} for {clauses.seconds(end - st)}", []))
                self.fits.append((None, None, False))
                continue
            m = dict(seg["m"]) if seg else {}
            d = int(seg["d"]) if seg else end - st
            in_ms = int(m.get("in", 0)) if seg else g.ms(clip.first)
            unknown = set(m) - _CLIP_KEYS
            if unknown:
                self.warn(f"{self.at(clip.item)}: nemoflow's {', '.join(sorted(unknown))} cannot be written as a clause; left out")
            if m.get("still") or (not seg and self._still(clip.item)):
                line = f"image {name} for {clauses.seconds(d)}" + (f" fit {m['fit']}" if m.get("fit") else "")
            else:
                line = f"video {name}" + (f" from {clauses.seconds(in_ms)}" if in_ms else "") + f" for {clauses.seconds(d)}"
                speed = float(m.get("speed", clip.speed))
                if speed != 1.0:
                    line += f" speed {clauses.number(speed)}x"
                volume = float(m.get("volume", 100.0))
                line += " mute" if volume == 0 else f" volume {clauses.percent(volume)}" if volume != 100.0 else ""
                if m.get("track") is not None:
                    line += f" track {int(m['track'])}"
                if m.get("weight") is not None:
                    line += f" weight {clauses.number(float(m['weight']))}"
            lines.append((line, list(m.get("fx", []))))
            self.fits.append((m.get("fit"), m.get("pad"), bool(m.get("still"))))
        return self._with_effects(self._with_reframe(lines, clips))

    def _still(self, clip) -> bool:
        """A file an NLE placed without saying what it is: a picture by its first bytes (as `check` judges media)."""
        from ..core.sniff import HEAD_BYTES, media_type

        path = self._path_key(clip)
        try:
            with open(path or "", "rb") as fh:
                return media_type(fh.read(HEAD_BYTES)) in ("jpg", "png", "svg", "gif", "webp")
        except OSError:
            return False

    def _with_reframe(self, lines: list[tuple[str, list[dict[str, Any]] | None]], clips: list[_Clip]):
        """A `reframe` after the last clip it fitted, when one reframe explains every clip's fit and the canvas (the
        canvas is recomputed from the first clip's media the way the builder does); otherwise a warning."""
        from math import gcd

        from ..draft import ops
        from ..draft.model import Draft

        canvas = (self.meta.get("m") or {}).get("canvas")
        modes = {(f, pad) for f, pad, still in self.fits if f and not still}
        first = next((c for c in clips if not c.gap and c.seg), None)
        if canvas is None or first is None:
            return lines
        media = (ours(first.item.media_reference) or {})
        natural = ops.add_clip(Draft(), "media.x", media.get("entry") or {}, d_ms=1000,
                               still=bool(first.seg["m"].get("still"))).canvas if media.get("entry") else None
        if not modes:
            if natural is not None and natural != canvas:
                self.warn(f"the picture's frame ({canvas['w']}x{canvas['h']}) is not what its first clip gives; "
                          "no clause here says it (reframe it again)")
            return lines
        (mode, pad), = modes if len(modes) == 1 else ((None, None),)
        last = max((i for i, (f, _, still) in enumerate(self.fits) if f and not still), default=-1)
        fitted = all(f == mode and p == pad for f, p, _ in self.fits[:last + 1]) and mode is not None
        w, h = int(canvas["w"]), int(canvas["h"])
        num, den = w // gcd(w, h), h // gcd(w, h)
        if fitted and natural is not None:
            fitted = ops.reframe(Draft(m={"canvas": natural}), num, den, mode, pad).canvas == canvas
        if not fitted:
            self.warn("the clips' fits (`reframe`) differ in a way one clause cannot say; the frame and fits are left out")
            return lines
        clause = f"reframe {num}:{den} {mode}" + (f" color {pad}" if pad else "")
        out, k = [], -1
        for line, fx in lines:
            out.append((line, fx))
            if fx is not None:
                k += 1
                if k == last:
                    out.append((clause, None))
        return out

    def _with_effects(self, lines: list[tuple[str, list[dict[str, Any]] | None]]) -> list[str]:
        """Effect clauses placed so each clip gets its list: a clause reaches every clip so far (a kenburns or fade
        only the last), so clip k's list must be what follows it in order; otherwise the effects are left out."""
        fx_lists = [fx for _, fx in lines if fx is not None]
        after: dict[int, list[dict[str, Any]]] = {}
        shared: list[dict[str, Any]] = []
        for k in range(len(fx_lists) - 1, -1, -1):
            fx = fx_lists[k]
            if len(fx) < len(shared) or (shared and fx[len(fx) - len(shared):] != shared):
                self.warn("the clips' effects differ in a way the order of clauses cannot say (an effect reaches every "
                          "clip before it); effects left out: " + ", ".join(sorted({str(f.get('type')) for fl in fx_lists for f in fl})))
                return [line for line, _ in lines]
            own = fx[:len(fx) - len(shared)]
            for f in own:
                if f.get("type") == "fade" and f.get("dir") == "in" and k != 0:
                    self.warn("a `fade in` on a clip that is not the first cannot be written; effects left out")
                    return [line for line, _ in lines]
            after[k] = own
            shared = [f for f in own if f.get("type") not in clauses.PER_CLIP] + shared
        out: list[str] = []
        k = 0
        for line, fx in lines:
            out.append(line)
            if fx is not None:
                for f in after.get(k, []):
                    clause = clauses.effect(f, self.recipe_dir)
                    if clause is None:
                        self.warn(f"effect `{f.get('type')}` with {sorted(f)} cannot be written as a clause; left out")
                    else:
                        out.append(clause)
                k += 1
        return out

    # ---- sounds, texts, the rest ---------------------------------------------------------------------------------

    def placed(self, track) -> Iterable[tuple[Any, Fraction, Fraction]]:
        pos = Fraction(0)
        for item in track:
            if isinstance(item, self.o.schema.Transition):
                self.warn(f"track {track.name}: a transition between its clips has no nemoflow equivalent; left out")
                continue
            length = self.frames(item.duration())
            if isinstance(item, self.o.schema.Clip):
                yield item, pos, pos + length
            pos += length

    def sound_clauses(self, picture: list[_Clip]) -> list[str]:
        o, g = self.o, self.grid
        linked = {(self._path_key(c.item), round(c.start), round(c.end)) for c in picture if not c.gap}
        sounds = []
        for track in self.timeline.tracks:
            if track.kind != o.schema.TrackKind.Audio:
                continue
            for item, start, end in self.placed(track):
                seg = (ours(item) or {}).get("segment")
                if seg is None and (self._path_key(item), round(start), round(end)) in linked:
                    continue  # the clip's own sound, as NLEs lay it out under the picture
                if seg is not None and not (g.frame(seg["st"]) == start and g.frame(seg["st"] + seg["d"]) == end):
                    seg = None
                index = (ours(item) or {}).get("i", 10**9)
                sounds.append((index, start, item, start, end, seg))
        lines = []
        for _, _, item, start, end, seg in sorted(sounds, key=lambda s: (s[0], s[1])):
            name = self.name_of(item)
            if name is None:
                continue
            m = dict(seg["m"]) if seg else {}
            unknown = set(m) - _SOUND_KEYS
            if unknown:
                self.warn(f"sound {self.at(item)}: nemoflow's {', '.join(sorted(unknown))} cannot be written as a clause; left out")
            st, d = (int(seg["st"]), int(seg["d"])) if seg else (g.ms(start), g.ms(end) - g.ms(start))
            first = self.frames(item.source_range.start_time) if item.source_range else Fraction(0)
            in_ms = int(m.get("in", 0)) if seg else g.ms(first)
            for fx in item.effects:
                self.warn(f"sound {self.at(item)}: effect `{fx.effect_name or fx.name}` has no nemoflow equivalent; left out")
            if m.get("bed"):
                line = f"music {name}" + (f" from {clauses.seconds(in_ms)}" if in_ms else "")
            else:
                line = f"audio {name} at {clauses.seconds(st)}" + (f" from {clauses.seconds(in_ms)}" if in_ms else "") + \
                    f" to {clauses.seconds(in_ms + d)}"
            volume = float(m.get("volume", 100.0))
            line += f" volume {clauses.percent(volume)}" if volume != 100.0 else ""
            for key, word in (("fade_in", "fade in"), ("fade_out", "fade out")):
                if m.get(key):
                    line += f" {word} {clauses.seconds(int(m[key]))}"
            line += f" duck {clauses.percent(float(m['duck']))}" if m.get("duck") is not None else ""
            line += " loop" if m.get("loop") else ""
            line += f" track {int(m['track'])}" if m.get("track") is not None else ""
            line += f" weight {clauses.number(float(m['weight']))}" if m.get("weight") is not None else ""
            lines.append(line)
        return lines

    def layer_clauses(self, track, label: str) -> list[str]:
        """A video track over the picture: an `overlay` per clip (its box, opacity, motion… from nemoflow's metadata;
        from an NLE, its times only, at the overlay's default place and size)."""
        g, lines = self.grid, []
        for item, start, end in self.placed(track):
            name = self.name_of(item)
            if name is None:
                continue
            seg = (ours(item) or {}).get("segment")
            if seg is not None and not (g.frame(seg["st"]) == start and g.frame(seg["st"] + seg["d"]) == end):
                seg = {**seg, "st": g.ms(start), "d": g.ms(end) - g.ms(start),
                       "m": {k: v for k, v in seg["m"].items() if k not in ("to_end", "motion")}}
            if seg is None:
                first = self.frames(item.source_range.start_time) if item.source_range else Fraction(0)
                seg = {"st": g.ms(start), "d": g.ms(end) - g.ms(start), "m": {"in": g.ms(first)}}
                self.warn(f"{self.at(item)} on track {label}: an overlay from {seg['st'] / 1000:g}s; its place, size "
                          "and effects in the NLE are not carried over (it takes `overlay`'s default place and size)")
            for fx in item.effects:
                if not (ours(fx) or {}).get("type"):
                    self.warn(f"{self.at(item)} on track {label}: effect `{fx.effect_name or fx.name}` has no "
                              "nemoflow equivalent; left out")
            clause = clauses.overlay(name, seg["m"], int(seg["st"]), int(seg["d"]))
            if clause is None:
                self.warn(f"overlay {self.at(item)}: its look holds something no clause says; left out")
            else:
                lines.append(clause)
        return lines

    def _path_key(self, clip) -> str | None:
        ref = clip.media_reference
        if isinstance(ref, self.o.schema.ExternalReference):
            path = url_path(ref.target_url, self.cut.resolve().parent)
            return str(path) if path else ref.target_url
        return None

    def markers(self) -> Iterable[tuple[Any, Fraction, Fraction]]:
        """Every marker with its start and length in timeline frames (a clip's markers are in the clip's own time)."""
        for marker in self.timeline.tracks.markers:
            yield marker, self.frames(marker.marked_range.start_time), self.frames(marker.marked_range.duration)
        for track in self.timeline.tracks:
            for marker in track.markers:
                yield marker, self.frames(marker.marked_range.start_time), self.frames(marker.marked_range.duration)
            before: set[tuple[str, float]] = set()
            for item in track:
                if not isinstance(item, self.o.schema.Clip):
                    continue
                at = self.frames(item.range_in_parent().start_time) - self.frames(item.source_range.start_time)
                seen = {(m.name, m.marked_range.start_time.to_seconds()) for m in item.markers}
                for marker in item.markers:
                    if (marker.name, marker.marked_range.start_time.to_seconds()) in before:
                        continue  # an EDL dissolve repeats the outgoing clip's LOC lines on the incoming event
                    yield marker, at + self.frames(marker.marked_range.start_time), self.frames(marker.marked_range.duration)
                before = seen

    def text_clauses(self) -> tuple[list[str], list[str]]:
        """Texts from markers named `title: …` or `text: …` (as `nemoflow otio` names them, or an editor does in the
        NLE), with nemoflow's style where the marker still carries it; any other marker becomes a comment."""
        g = self.grid
        texts, notes = [], []
        found = []
        for marker, start, length in self.markers():
            seg = (ours(marker) or {}).get("segment")
            if seg and g.frame(seg["st"]) == start and g.frame(seg["st"] + seg["d"]) == start + length:
                found.append(((ours(marker) or {}).get("i", 0), seg, marker))
                continue
            named = re.fullmatch(r"\s*(title|text)\s*:\s*(.*)", marker.name or "", re.I | re.S)
            if seg or named:
                m = dict(seg["m"]) if seg else {"text": named.group(2), "style": {"role": named.group(1).lower()}}
                m.pop("to_end", None)
                st = g.ms(start)
                d = g.ms(start + length) - st
                if d <= 0:  # a point marker (EDL, Kdenlive): a title shows 3 s, a text to the end
                    m["to_end"] = m["style"].get("role") != "title"
                    d = 3000
                found.append((10**9, {"st": st, "d": d, "m": m}, marker))
                continue
            note = (marker.name or marker.comment or "").replace("\n", " ")
            notes.append(f"# marker at {clauses.seconds(g.ms(start))}: {note}")
            self.warn(f"marker `{note}` at {g.ms(start) / 1000:g}s is a note, not a title (no nemoflow equivalent); "
                      "kept as a comment")
        for _, seg, marker in sorted(found, key=lambda f: (f[0], f[1]["st"])):
            clause = clauses.text(seg["m"], int(seg["st"]), int(seg["d"]), self.recipe_dir)
            if clause is None:
                self.warn(f"text `{marker.name}`: its style holds something no clause says; left out")
            else:
                texts.append(clause)
        return texts, notes

    def run(self) -> Imported:
        o = self.o
        video = [t for t in self.timeline.tracks if t.kind == o.schema.TrackKind.Video]
        if not video or not any(isinstance(i, o.schema.Clip) for i in video[0]):
            raise InterchangeError(f"{self.cut}: its first video track holds no clip (only gaps, or nothing), so there is "
                                   "no picture to make a recipe of; a cut of generated media keeps its clips only in "
                                   ".otio (NLE formats get gaps)")
        picture = self.picture(video[0])
        body = self.picture_clauses(picture)
        for n, track in enumerate(video[1:], start=2):
            body += self.layer_clauses(track, track.name or f"V{n}")
        body += self.sound_clauses(picture)
        texts, notes = self.text_clauses()
        body += texts
        m = self.meta.get("m") or {}
        loud = m.get("loudness")
        if loud:
            body.append(f"loudness {clauses.number(float(loud['i']))} LUFS peak {clauses.number(float(loud['tp']))} dBTP")
        for key in sorted(set(m) - _DRAFT_KEYS):
            self.warn(f"the timeline's nemoflow `{key}` cannot be written as a clause; left out")
        edit = clauses.Names()
        edit.taken = set(self.names.taken)
        edit_name = edit.fresh(str(m.get("name") or self.timeline.name or "cut").removeprefix("edit."))
        export_name = edit.fresh(str(self.export.get("name") or "final"))
        settings = []
        if self.export.get("width"):
            settings.append(f"size {self.export['width']}x{self.export['height']}")
        settings.append(f"fps {clauses.number(round(self.grid.fps, 3))}")
        settings.append(f"save {clauses.string(Path(self.cut.name).stem + '.mp4')}")
        lines = ["nemo 1", f"# imported by `nemoflow import` from {self.cut.name}", "", *self.declarations, "",
                 *notes, f"edit {edit_name} {{", *("  " + b for b in body), "}", "",
                 f"export {export_name} = {edit_name} {{", *("  " + s for s in settings), "}", ""]
        return Imported(format_source("\n".join(lines), str(self.recipe_dir / "imported.nemo")), tuple(self.warnings))
