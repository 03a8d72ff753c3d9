"""Draft → one FFmpeg command: inputs with seeking, one filter graph, the encoder.

Speed rules (../shared/perf-baseline.md): no intermediate files; each clip is
read from its in-point with input seeking (`-ss` before `-i`), so nothing
before it is decoded into the graph; a filter is added only when it changes
something (no scale when the size already matches, no fps when the rate
matches, no format conversion for yuv420p sources); colour work stays in YUV.
For the standard edit this yields the same graph a person would write by hand.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from ...draft import mix
from ...draft.media import MediaEntry
from ...draft.model import AUDIO, TEXT, VIDEO, Draft, Segment
from ...draft.output import Output
from ...media.captions import is_caption
from ...media.encode import audio_args, container_args, picture_filters, video_args
from ...media.escape import lavfi_number
from ...media.sources import input_args, svg_raster
from ...media.sources import seconds as _s
from ...media.timing import exact_rate, first_source_frame, frame_index, rate_text
from . import captions, layers, motion, stabilize
from .channels import atempo_chain, audio_source, stereo_filters
from .effects import effect_filters
from .grade import color_filters
from .text import text_filter
from .transitions import xfade_filters

AUDIO_FORMAT = "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo"
PROGRAMME_AUDIO_ARGS = ["-c:a", "pcm_f32le", "-rf64", "auto", "-f", "wav"]  # float: a mix over full scale is kept
GRAPH_INLINE_BYTES = 64 * 1024  # longer graphs go to FFmpeg in a file: one argument may hold 128 KiB on Linux


@attrs.frozen
class Command:
    """An FFmpeg run: arguments (no binary) and the output length it will reach, for progress."""

    args: list[str]
    duration: float
    what: str


class _Graph:
    """Accumulates inputs and filter statements, handing out unique labels."""

    def __init__(self) -> None:
        self.inputs: list[str] = []
        self.count = 0
        self.chains: list[str] = []
        self.n = 0

    def add_input(self, args: list[str]) -> int:
        self.inputs += args
        self.count += 1
        return self.count - 1

    def label(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def chain(self, src: str, filters: list[str], prefix: str) -> str:
        """`[src]f1,f2[out]`; with no filters, `src` itself is the result."""
        if not filters:
            return src
        out = self.label(prefix)
        self.chains.append(f"[{src}]{','.join(filters)}[{out}]")
        return out

    def raw(self, statement: str) -> None:
        self.chains.append(statement)


def _fit(g: _Graph, src: str, entry: MediaEntry, fit: str | None, pad: str | None, out: Output) -> tuple[str, list[str]]:
    """Filters that bring a clip's frame to the output size; may add a side graph (blurred pad)."""
    w, h, ow, oh = entry.w or out.width, entry.h or out.height, out.width, out.height
    if (w, h) == (ow, oh):
        return src, []
    same_aspect = abs(w / h - ow / oh) < 0.01
    mode = fit or "pad"
    if same_aspect or mode == "stretch":  # stretch: the whole picture in the frame, its aspect ignored
        return src, [f"scale={ow}:{oh}", "setsar=1"]
    if mode == "crop":
        return src, [f"scale={ow}:{oh}:force_original_aspect_ratio=increase", f"crop={ow}:{oh}", "setsar=1"]
    if mode == "pad":
        color = "0x" + (pad or "#000000").lstrip("#")
        return src, [f"scale={ow}:{oh}:force_original_aspect_ratio=decrease:force_divisible_by=2",
                     f"pad={ow}:{oh}:(ow-iw)/2:(oh-ih)/2:color={color}", "setsar=1"]
    # blur: the clip, fitted, over a blurred fill of itself; blurred at 1/8 size, where blur is cheap
    bw, bh = max(2, ow // 8 // 2 * 2), max(2, oh // 8 // 2 * 2)
    radius = max(1, min(6, min(bw, bh) // 4 - 1))  # boxblur's limit is set by the half-size chroma planes
    bg, fg, bgs = g.label("bg"), g.label("fg"), g.label("bgs")
    g.raw(f"[{src}]split=2[{bg}][{fg}]")
    g.raw(f"[{bg}]scale={bw}:{bh}:force_original_aspect_ratio=increase,crop={bw}:{bh},boxblur={radius}:2,scale={ow}:{oh},"
          f"setsar=1[{bgs}]")
    fgs = g.chain(fg, [f"scale={ow}:{oh}:force_original_aspect_ratio=decrease:force_divisible_by=2", "setsar=1"], "fgs")
    merged = g.label("fit")
    g.raw(f"[{bgs}][{fgs}]overlay=(W-w)/2:(H-h)/2[{merged}]")
    return merged, []


@attrs.frozen
class _Cut:
    """Where one clip's source is opened and how much of it is kept, on the frame grid (docs/engine.md "Frame timing")."""

    seek_ms: float  # where the input is opened: a quarter source frame before the first frame, so that frame is kept
    skip: Fraction  # seconds of sound between the seek point and the first frame's instant (trimmed off)
    frames: int  # output frames of this clip


def kept_clips(video: tuple[Segment, ...], rate: Fraction) -> list[tuple[int, Segment]]:
    """The clips that get frames, with their index in the edit. A clip whose start and end land on the same output
    frame boundary (shorter than half a frame) has none: it drops out, picture and sound, so the next clip starts on
    its own frame (av-findings F10). A clip a transition touches stays (xfade needs it), and a lone clip or an edit
    of only such clips keeps its first clip, shown for one frame."""
    keep = [(i, seg) for i, seg in enumerate(video)
            if seg.tr or (i + 1 < len(video) and video[i + 1].tr)
            or frame_index(seg.end, rate) > frame_index(seg.st, rate)]
    return keep or list(enumerate(video[:1]))


def _cut(entry: MediaEntry, in_ms: int, seg_st: int, seg_end: int, out_rate: Fraction) -> _Cut:
    frames = max(1, frame_index(seg_end, out_rate) - frame_index(seg_st, out_rate))
    seek, skip = source_seek(entry, in_ms)
    return _Cut(seek_ms=seek, skip=skip, frames=frames)


def source_seek(entry: MediaEntry, in_ms: int) -> tuple[float, Fraction]:
    """Where to open a clip's source (ms) so its first frame is the one nearest the in-point, and the seconds of
    sound from there to that frame's instant. Stabilization's analysis opens it at the same place."""
    if not entry.fps or entry.is_still or not in_ms:
        return in_ms, Fraction(0)
    if entry.vfr:  # no grid to snap to: open two of its slowest frames early; the graph times from the in-point
        seek = max(Fraction(0), Fraction(in_ms, 1000) - 2 / Fraction(entry.fps_min or float(entry.fps) / 2).limit_denominator(1001))
        return float(seek * 1000), Fraction(in_ms, 1000) - seek
    rate = exact_rate(float(entry.fps))
    late = late_start(entry)  # the source's frames are at late + n / rate on FFmpeg's timeline for the file
    n = max(0, first_source_frame(Fraction(in_ms) - late * 1000, rate))
    start = late + Fraction(n) / rate  # seconds: both picture and sound start here
    seek = max(Fraction(0), start - 1 / (4 * rate))
    return float(seek * 1000), start - seek


def late_start(entry: MediaEntry) -> Fraction:
    """Seconds from the file's start to its first frame (MediaEntry.v_start: MPEG-TS camera files start the picture
    ~23 ms after the sound); 0 for most files, stills and generators."""
    if entry.is_still or not entry.v_start:
        return Fraction(0)
    return Fraction(round(entry.v_start * 1000), 1_000_000)


def _sec(value: Fraction) -> str:
    return lavfi_number(float(value))


_ALPHA = re.compile(r"(rgba|bgra|argb|abgr|ya\d|gbrap|yuva|pal8)")  # pixel formats that may carry transparency


def still_loop(frames: int, fps: float) -> list[str]:
    """A still's one decoded, fitted frame shown for exactly `frames` frames at the output's rate: the loop filter
    repeats it by reference, so the file is decoded, scaled and converted once, not once per output frame.
    `fps` gives the link its rate (without it a transition after the still starts the next clip a frame late:
    av-findings F6) but drops the last frame at EOF (F8): `tpad` adds a spare, `trim` keeps exactly `frames`."""
    rate = rate_text(fps)
    return [f"loop=loop={frames - 1}:size=1", f"setpts=N/({rate})/TB", f"fps={rate}", "tpad=stop_mode=clone:stop=1",
            f"trim=end_frame={frames}"]


def _stabilized(g: _Graph, src: str, trf: Path, stab: dict[str, Any], seek_ms: float, fps: float) -> str:
    """The clip's source stream with its shake removed (stabilize.py); with a span, only the frames in it, the rest
    passed through untouched and joined back in order."""
    transform = stabilize.transform_filter(stab, trf, fps)
    span = stabilize.window(stab, seek_ms)
    if span is None:
        return g.chain(src, [transform], "stab")
    start, end = span
    if end is not None and end <= start:
        return src  # a later `trim` cut the whole span away
    parts = [("during", [*stabilize.span_filters(start, end), transform])]
    if start > 0:
        parts.insert(0, ("before", [f"trim=end={lavfi_number(start)}"]))
    if end is not None:
        parts.append(("after", stabilize.span_filters(end, None)))
    if len(parts) == 1:
        return g.chain(src, parts[0][1], "stab")
    copies = [g.label("sp") for _ in parts]
    g.raw(f"[{src}]split={len(parts)}" + "".join(f"[{c}]" for c in copies))
    pieces = [g.chain(c, filters, "st") for c, (_, filters) in zip(copies, parts, strict=True)]
    joined = g.label("stab")
    g.raw("".join(f"[{p}]" for p in pieces) + f"concat=n={len(pieces)}:v=1:a=0[{joined}]")
    return joined


def build_command(draft: Draft, out: Output, dest: Path, *, what: str, cache_dir: Path,
                  transforms: dict[int, Path] | None = None, work: Path | None = None,
                  loudness: tuple[str, ...] = (), programme_audio: bool = False, stand_in: bool = False) -> Command:
    """The whole render of `draft` to `dest` as one FFmpeg command.

    With a `work` directory (the engine's), text is handed to FFmpeg in files there and a long graph too, so
    no title is limited by the size of one command-line argument (128 KiB on Linux); without one, inline.
    `loudness` filters (media/loudness.py's fit) run on the whole mix, after `_mix`. `programme_audio` is pass 1 of
    `loudness`: the same graph, its mixed sound written to `dest` as float WAV and its picture to FFmpeg's null muxer.
    `stand_in` (a split render's sound pass, chunked.py): each clip's picture is a tiny black stand-in of exactly as
    many frames, so no source frame is decoded or scaled, while the sound's graph, and so its samples, stay the same.
    """
    g = _Graph()
    rate = exact_rate(out.fps)
    keep = kept_clips(draft.segments(VIDEO), rate)
    top = mix.heaviest(draft)
    video = [seg for _, seg in keep]
    total = draft.d
    transitions = any(s.tr for s in video[1:])
    many = len(video) > 1
    frame_tb = f"{rate.denominator}/{rate.numerator}"  # one output frame
    pieces: list[tuple[str, str | None]] = []
    for i, seg in keep:  # i: the clip's index in the edit (`transforms` is keyed by it)
        entry = draft.media_entry(seg.m["src"])
        speed = float(seg.m.get("speed", 1.0))
        still = bool(seg.m.get("still"))
        in_ms = 0 if still else int(seg.m.get("in", 0))
        cut = _cut(entry, in_ms, seg.st, seg.end, rate)
        span = Fraction(cut.frames) / rate  # the clip's exact length on the output's frame grid, in seconds
        # read a little past the end (two source frames) so a clip never runs a frame short; trim cuts it exactly
        margin = 2 / float(entry.fps or out.fps)
        length = seg.d if still else round((float(cut.skip + span * Fraction(speed)) + margin) * 1000)
        raster = None
        if still and entry.codec == "svg":  # drawn at the size it is shown at; the fit below then has nothing to scale
            raster = svg_raster(entry, seg.m.get("fit"), out.width, out.height)
            entry = attrs.evolve(entry, w=raster[0], h=raster[1])
        k = g.add_input(input_args(entry, cut.seek_ms, length, still_fps=out.fps, raster=raster))
        fx = seg.m.get("fx", [])
        if stand_in:
            v = g.label("si")
            g.raw(f"color=c=black:s=16x16:r={rate_text(out.fps)},trim=end_frame={cut.frames}"
                  + (f",settb={frame_tb}" if transitions else "") + f"[{v}]")
        else:
            v = _picture(g, draft, seg, i, k, entry, cut, still, in_ms, speed, transitions, many, frame_tb, rate, out,
                         cache_dir, transforms)
        a = None
        if out.has_audio:
            af: list[str] = []
            # timing: sound from the first frame's instant, and exactly as many samples as the clip's frames last
            f0 = frame_index(seg.st, rate)
            samples = round(Fraction(f0 + cut.frames, 1) * 48000 / rate) - round(Fraction(f0) * 48000 / rate)
            if entry.audio:
                asrc = audio_source(k, entry, seg.m)  # exactly one track: the clip's `track`, else the file's default
                af += stereo_filters(entry, seg.m)  # the output is stereo; a stereo track keeps its left and right
                if cut.skip:
                    af += [f"atrim=start={_sec(cut.skip)}", "asetpts=PTS-STARTPTS"]
                if abs(speed - 1.0) > 1e-9:
                    af += atempo_chain(speed)
            else:
                asrc = g.label("sil")
                g.raw(f"anullsrc=r=48000:cl=stereo,atrim=end_sample={samples}[{asrc}]")
            level = mix.gain(seg, top)  # volume x weight / the heaviest weight (draft/mix.py): the volume without weights
            if abs(level - 1) > 1e-8:
                af.append(f"volume={lavfi_number(level)}")
            for e in fx:
                if e["type"] == "fade":
                    start = 0 if e["dir"] == "in" else seg.d - e["d"]
                    af.append(f"afade=t={e['dir']}:st={_s(start)}:d={_s(e['d'])}")
            if many:
                af += [AUDIO_FORMAT, f"apad=whole_len={samples}", f"atrim=end_sample={samples}"]
            a = g.chain(asrc, af, "a")
        pieces.append((v, a))
    v_acc, a_acc = pieces[0]
    for prev, seg, (v, a) in zip(video, video[1:], pieces[1:], strict=False):
        # a transition a timeline `trim` cut to under half a frame overlaps no whole frame: a hard cut (xfade and
        # acrossfade refuse a zero length)
        if seg.tr and frame_index(prev.end, rate) > frame_index(seg.st, rate):
            # on the frame grid: the overlap runs from this clip's first frame to the end of the previous one
            f0, f1 = frame_index(seg.st, rate), frame_index(prev.end, rate)
            before, into, xfade, after = xfade_filters(seg.tr["type"], seg.tr.get("ease"), f0, f1, rate)
            nv = g.label("xv")
            g.raw(f"[{g.chain(v_acc, before, 'ea')}][{g.chain(v, into, 'eb')}]{xfade}[{nv}]")
            v_acc = g.chain(nv, after, "xe")
            if a is not None:
                na = g.label("xa")
                overlap = round(Fraction(f1) * 48000 / rate) - round(Fraction(f0) * 48000 / rate)
                g.raw(f"[{a_acc}][{a}]acrossfade=ns={overlap}:c1=tri:c2=tri[{na}]")
                a_acc = na
        else:
            nv = g.label("cv")
            if a is not None:
                na = g.label("ca")
                g.raw(f"[{v_acc}][{a_acc}][{v}][{a}]concat=n=2:v=1:a=1[{nv}][{na}]")
                a_acc = na
            else:
                g.raw(f"[{v_acc}][{v}]concat=n=2:v=1:a=0[{nv}]")
            v_acc = g.chain(nv, [f"settb={frame_tb}"], "cv") if transitions else nv  # concat's output counts in µs
    # layers (overlays, picture-in-picture) over the main picture, under text: engines/local/layers.py
    v_acc, layer_sounds = layers.composite(g, draft, v_acc, out)
    if a_acc is not None and layer_sounds:
        a_acc = layers.mix(g, a_acc, layer_sounds)
    texts = [s.to_json() for s in draft.segments(TEXT) if not is_caption(s)]  # captions: one filter, below
    # round(duration x fps): exactly this many frames, and sound as long; an edit shorter than half a frame: one
    frames = max(1, frame_index(total, rate))
    # the picture is capped here, in the graph: an output-level `-frames:v` closes the file with the last frame and
    # drops sound still queued behind it (av-findings F4); `-t` below ends the sound at the same instant
    burn = captions.burn_filter(draft, out, cache_dir) if not (programme_audio or stand_in) else None  # picture only
    v_out = g.chain(v_acc, [*(text_filter(t, out.width, out.height, work=work, index=i) for i, t in enumerate(texts)),
                            *([burn] if burn else []), f"trim=end_frame={frames}"], "vt")
    if out.container == "gif" and not programme_audio:  # one palette for the whole animation, in the same graph
        gif = g.label("gif")
        for statement in picture_filters(out, v_out, gif):
            g.raw(statement)
        v_out = gif
    a_out = _mix(g, draft, a_acc, out) if out.has_audio else None
    if a_out is not None and loudness:  # `loudness`: the whole mixed programme, after music and sounds
        a_out = g.chain(a_out, list(loudness), "ln")
    if a_out is not None and not programme_audio and abs(out.volume - 100) > 1e-6:  # the export's master `volume`
        a_out = g.chain(a_out, [f"volume={lavfi_number(out.volume / 100)}"], "mv")
    video_sink: list[str] = []
    if programme_audio and a_out is not None:  # pass 1 of `loudness`: the programme's sound alone, to a file
        if ":" not in v_out:  # the picture's filters must still end somewhere: FFmpeg's null muxer, not encoded
            video_sink = ["-map", f"[{v_out}]", "-c:v", "wrapped_avframe", "-f", "null", "-"]
        v_out = ""
    maps = ["-map", f"[{v_out}]" if ":" not in v_out else v_out] if v_out else []
    if a_out is not None:
        maps += ["-map", f"[{a_out}]" if ":" not in a_out else a_out]
    graph = ";".join(g.chains)
    args = [*g.inputs]
    if graph and work is not None and len(graph.encode()) > GRAPH_INLINE_BYTES:
        script = work / "graph.txt"
        script.write_text(graph, encoding="utf-8")
        args += ["-/filter_complex", str(script)]  # FFmpeg 7+: the option's value is read from the file
    elif graph:
        args += ["-filter_complex", graph]
    if not v_out:
        return Command([*args, *maps, *PROGRAMME_AUDIO_ARGS, "-t", _sec(frames / rate), "-y", str(dest), *video_sink],
                       total / 1000, what)
    args += [*maps, *video_args(out), *audio_args(out, resample=not _all_48k(draft)), "-t", _sec(frames / rate),
             *container_args(out), "-y", str(dest)]
    return Command(args, total / 1000, what)


def _picture(g: _Graph, draft: Draft, seg: Segment, i: int, k: int, entry: MediaEntry, cut: _Cut, still: bool, in_ms: int,
             speed: float, transitions: bool, many: bool, frame_tb: str, rate: Fraction, out: Output, cache_dir: Path,
             transforms: dict[int, Path] | None) -> str:
    """One clip's picture: read, retimed to the output's frame grid, fitted, graded, with its effects and fades."""
    fx = seg.m.get("fx", [])
    vf: list[str] = []
    vsrc = f"{k}:v"
    if transforms and i in transforms:
        vsrc = _stabilized(g, vsrc, transforms[i], next(e for e in fx if e["type"] == "stabilize"), cut.seek_ms,
                           float(entry.fps or out.fps))
    if still and entry.pix_fmt and _ALPHA.match(entry.pix_fmt):
        vf.append("premultiply=inplace=1")  # transparent parts over black, not the colour hidden under them
    # a still is one frame, looped after it is fitted (`still_loop`): no resampling or trimming of its stream
    # a picture that starts after the file's start (MediaEntry.v_start), used from there: its first frame is
    # held from 0 until its own instant (`fps` fills the start), so the clip keeps the source's A/V timing
    late = late_start(entry) if not in_ms else Fraction(0)
    resample = not still and (transitions or entry.vfr or abs(speed - 1) > 1e-9 or abs(float(entry.fps or 0) - out.fps) > 0.01
                              or late > 0)
    # Resampled, each output instant shows the source frame nearest it: the stream is moved half a source frame
    # (at this speed) earlier and `fps` rounds up and starts at 0, so an instant takes the last frame whose
    # interval has begun. `fps`'s default (round=near) would show the later of two frames near one instant.
    # In µs (`settb=AVTB` below; in Matroska's whole ms a frame could round onto an instant and show a frame
    # early: av-findings F9), plus 1 + 1/speed µs, the most the µs rounding of PTS and STARTPTS can add, so an
    # exact tie still goes to the later frame.
    early = f"-{lavfi_number(1e6 / (2 * float(entry.fps or out.fps) * speed) + 1 + 1 / speed)}" if resample else ""
    # the first kept frame (a quarter frame after the seek point) at 0; a VFR clip is timed from its in-point,
    # so `fps` below picks its frames by time (the frames before the in-point are dropped there)
    zero = f"{_sec(cut.skip)}/TB" if entry.vfr and cut.skip else f"(STARTPTS-{_sec(late)}/TB)" if late else "STARTPTS"
    if resample:
        vf.append("settb=AVTB")
    if abs(speed - 1.0) > 1e-9:
        vf.append(f"setpts=(PTS-{zero})/{lavfi_number(speed)}{early}")
    elif cut.seek_ms or resample:
        vf.append(f"setpts=PTS-{zero}{early}")
    if resample:
        vf.append(f"fps={rate_text(out.fps)}:start_time=0:round=up")
    if not still and (resample or many or cut.seek_ms):
        # a resampled or trimmed stream can end a frame early: hold the last frame, then keep exactly `frames`
        vf += ["tpad=stop_mode=clone:stop=2", f"trim=end_frame={cut.frames}"]
    src, fit_filters = _fit(g, g.chain(vsrc, vf, "pre"), entry, seg.m.get("fit"), seg.m.get("pad"), out)
    if entry.pix_fmt != "yuv420p":
        # after scale, so swscale converts while it scales: one pass; limited range, so a full-range source
        # (MJPEG's yuvj420p) has its levels converted (white 255 -> 235), not only its tag
        fit_filters.append("format=pix_fmts=yuv420p:color_ranges=tv")
    if still:
        fit_filters += still_loop(cut.frames, out.fps)
    pre = g.chain(src, fit_filters, "sz")
    post = color_filters(fx, cache_dir) + effect_filters(fx, out)
    burns = motion.kenburns_effect(fx)
    if burns is not None:  # the view moves over the fitted (and, for a still, looped) frame: motion.py
        post = motion.kenburns_filters(burns, cut.frames) + post
    for e in fx:
        if e["type"] == "fade":
            start = 0 if e["dir"] == "in" else seg.d - e["d"]
            post.append(f"fade=t={e['dir']}:st={_s(start)}:d={_s(e['d'])}")
    if transitions:
        # one frame per tick: xfade compares its offset (µs, rounded) with pts, and pts counted in whole frames
        # stay exact over any number of transitions (in µs they drifted a µs per transition: av-findings F5)
        post.append(f"settb={frame_tb}")
    return g.chain(pre, post, "v")


def _all_48k(draft: Draft) -> bool:
    """Whether every sound the graph reads is 48 kHz (generators and added silence are): then the encoder needs no
    `-ar`. A track whose rate is not known counts as not 48 kHz, so it is resampled as before."""
    for seg in [*draft.segments(VIDEO), *draft.segments(AUDIO)]:
        entry = draft.media_entry(seg.m["src"])
        if not entry.audio or entry.gen is not None or seg.m.get("still"):
            continue
        track = entry.audio_track(seg.m.get("track"))
        if track is None or track.sample_rate != 48000:
            return False
    return True


def _mix(g: _Graph, draft: Draft, own: str | None, out: Output) -> str | None:
    """The clips' own sound plus music and placed sounds, at their levels; music ducked under the clips if asked."""
    sounds = [s for s in draft.segments(AUDIO) if s.d > 0]
    if not sounds:
        return own
    ducked = [s for s in sounds if s.m.get("duck") is not None]
    sidechains: list[str] = []
    if ducked:
        main = g.label("own")
        sidechains = [g.label("sc") for _ in ducked]
        g.raw(f"[{own}]asplit={1 + len(ducked)}[{main}]" + "".join(f"[{sc}]" for sc in sidechains))
        own = main
    labels = [own]
    top = mix.heaviest(draft)
    for seg in sounds:
        entry = draft.media_entry(seg.m["src"])
        tempo = float(seg.m.get("tempo", 1.0))  # `fit stretch`: d ms of timeline hold d x tempo ms of the source
        k = g.add_input(input_args(entry, int(seg.m.get("in", 0)), round(seg.d * tempo), loop=bool(seg.m.get("loop"))))
        af: list[str] = stereo_filters(entry, seg.m)  # every input of amix stereo, so the mix is (a mono tone made it mono)
        if abs(tempo - 1) > 1e-9:
            af += [*atempo_chain(tempo), f"atrim=end={_s(seg.d)}"]
        level = mix.gain(seg, top)  # volume x weight / the heaviest weight (draft/mix.py): the volume without weights
        if abs(level - 1) > 1e-8:
            af.append(f"volume={lavfi_number(level)}")
        if seg.m.get("fade_in"):
            af.append(f"afade=t=in:st=0:d={_s(min(seg.m['fade_in'], seg.d))}")
        if seg.m.get("fade_out"):
            fo = min(seg.m["fade_out"], seg.d)
            af.append(f"afade=t=out:st={_s(seg.d - fo)}:d={_s(fo)}")
        if seg.st:
            af.append(f"adelay=delays={int(seg.st)}:all=1")
        label = g.chain(audio_source(k, entry, seg.m), af, "m")
        if seg.m.get("duck") is not None:
            # Under the clips' sound the music drops toward `duck`% of its level: ratio from the depth asked for.
            depth = max(seg.m["duck"], 1.0) / 100
            ratio = min(20.0, max(1.5, 1 / depth))
            ducked_label = g.label("duck")
            g.raw(f"[{label}][{sidechains.pop(0)}]sidechaincompress=threshold=0.02:ratio={lavfi_number(ratio)}"
                  f":attack=20:release=400[{ducked_label}]")
            label = ducked_label
        labels.append(label)
    mixed = g.label("mix")
    g.raw("".join(f"[{x}]" for x in labels) + f"amix=inputs={len(labels)}:duration=first:normalize=0[{mixed}]")
    return mixed


def detect_command(entry: MediaEntry, seg: dict[str, Any], trf: Path, what: str) -> Command:
    """Pass 1 of stabilization: measure the shake of one clip's source range into `trf`."""
    stab = next(e for e in seg["m"].get("fx", []) if e["type"] == "stabilize")
    speed = float(seg["m"].get("speed", 1.0))
    length = round(seg["d"] * speed + 3000 / float(entry.fps or 30))  # as far as the render reads (it adds two frames)
    seek = source_seek(entry, int(seg["m"].get("in", 0)))[0]  # the render's first frame
    span = stabilize.window(stab, seek)  # only the frames the render stabilizes, so the transforms line up with them
    filters = [*(stabilize.span_filters(*span) if span else []), stabilize.detect_filter(stab, trf)]
    args = [*input_args(entry, seek, length), "-vf", ",".join(filters), "-an", "-f", "null", "-"]
    return Command(args, length / 1000, what)
