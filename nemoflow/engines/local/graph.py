"""Draft → one FFmpeg command: inputs with seeking, one filter graph, the encoder.

Speed rules (../shared/perf-baseline.md): no intermediate files; each clip is
read from its in-point with input seeking (`-ss` before `-i`), so nothing
before it is decoded into the graph; a filter is added only when it changes
something (no scale when the size already matches, no fps when the rate
matches, no format conversion for yuv420p sources); colour work stays in YUV.
For the standard edit this yields the same graph a person would write by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from ...draft.media import MediaEntry
from ...draft.model import AUDIO, TEXT, VIDEO, Draft
from ...draft.output import Output
from ...media.encode import audio_args, container_args, video_args
from ...media.escape import filter_value, lavfi_number
from ...media.sources import input_args
from ...media.sources import seconds as _s
from .effects import effect_filters
from .grade import color_filters
from .text import text_filter

XFADE = {"crossfade": "fade", "fade": "fadeblack", "fadewhite": "fadewhite", "wipeleft": "wipeleft",
         "wiperight": "wiperight", "slideleft": "slideleft", "slideright": "slideright"}
AUDIO_FORMAT = "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo"
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
    if same_aspect:
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


def _atempo(speed: float) -> list[str]:
    """atempo takes 0.5..100 per instance; chain for slower."""
    filters = []
    while speed < 0.5:
        filters.append("atempo=0.5")
        speed /= 0.5
    filters.append(f"atempo={lavfi_number(speed)}")
    return filters


def build_command(draft: Draft, out: Output, dest: Path, *, what: str, cache_dir: Path,
                  transforms: dict[int, Path] | None = None, work: Path | None = None) -> Command:
    """The whole render of `draft` to `dest` as one FFmpeg command.

    With a `work` directory (the engine's), text is handed to FFmpeg in files there and a long graph too, so
    no title is limited by the size of one command-line argument (128 KiB on Linux); without one, inline.
    """
    g = _Graph()
    video = draft.segments(VIDEO)
    total = draft.d
    transitions = any(s.tr for s in video[1:])
    many = len(video) > 1
    pieces: list[tuple[str, str | None]] = []
    for i, seg in enumerate(video):
        entry = draft.media_entry(seg.m["src"])
        speed = float(seg.m.get("speed", 1.0))
        still = bool(seg.m.get("still"))
        in_ms = 0 if still else int(seg.m.get("in", 0))
        length = seg.d if still else round(seg.d * speed)
        k = g.add_input(input_args(entry, in_ms, length, still_fps=out.fps))
        fx = seg.m.get("fx", [])
        vf: list[str] = []
        if transforms and i in transforms:
            stab = next(e for e in fx if e["type"] == "stabilize")
            vf += [f"vidstabtransform=input={filter_value(str(transforms[i]))}:smoothing={int(stab.get('smoothing', 15))}"
                   ":optzoom=1:zoom=0:interpol=bicubic", "unsharp=5:5:0.6:3:3:0.3"]
        if abs(speed - 1.0) > 1e-9:
            vf.append(f"setpts=(PTS-STARTPTS)/{lavfi_number(speed)}")
        if transitions or entry.vfr or abs(speed - 1) > 1e-9 or abs(float(entry.fps or 0) - out.fps) > 0.01:
            # a resampled stream can end a frame early: hold the last frame, then cut to the exact length
            vf += [f"fps={lavfi_number(out.fps)}", f"tpad=stop_mode=clone:stop_duration={lavfi_number(2 / out.fps)}",
                   f"trim=duration={_s(seg.d)}"]
        src, fit_filters = _fit(g, g.chain(f"{k}:v", vf, "pre"), entry, seg.m.get("fit"), seg.m.get("pad"), out)
        if entry.pix_fmt != "yuv420p":
            fit_filters.append("format=yuv420p")  # after scale, so swscale converts while it scales: one pass
        pre = g.chain(src, fit_filters, "sz")
        post = color_filters(fx, cache_dir) + effect_filters(fx, out)
        for e in fx:
            if e["type"] == "fade":
                start = 0 if e["dir"] == "in" else seg.d - e["d"]
                post.append(f"fade=t={e['dir']}:st={_s(start)}:d={_s(e['d'])}")
        if transitions:
            post.append("settb=AVTB")
        v = g.chain(pre, post, "v")
        a = None
        if out.has_audio:
            af: list[str] = []
            if entry.audio:
                asrc = f"{k}:a"
                if abs(speed - 1.0) > 1e-9:
                    af += _atempo(speed)
            else:
                asrc = g.label("sil")
                g.raw(f"anullsrc=r=48000:cl=stereo,atrim=duration={_s(seg.d)}[{asrc}]")
            volume = float(seg.m.get("volume", 100.0))
            if abs(volume - 100) > 1e-6:
                af.append(f"volume={lavfi_number(volume / 100)}")
            for e in fx:
                if e["type"] == "fade":
                    start = 0 if e["dir"] == "in" else seg.d - e["d"]
                    af.append(f"afade=t={e['dir']}:st={_s(start)}:d={_s(e['d'])}")
            if many:
                af += [AUDIO_FORMAT, f"apad=whole_dur={_s(seg.d)}", f"atrim=duration={_s(seg.d)}"]
            a = g.chain(asrc, af, "a")
        pieces.append((v, a))
    v_acc, a_acc = pieces[0]
    for seg, (v, a) in zip(video[1:], pieces[1:], strict=True):
        if seg.tr:
            kind, d = XFADE[seg.tr["type"]], seg.tr["d"]
            nv = g.label("xv")
            g.raw(f"[{v_acc}][{v}]xfade=transition={kind}:duration={_s(d)}:offset={_s(seg.st)}[{nv}]")
            v_acc = nv
            if a is not None:
                na = g.label("xa")
                g.raw(f"[{a_acc}][{a}]acrossfade=d={_s(d)}:c1=tri:c2=tri[{na}]")
                a_acc = na
        else:
            nv = g.label("cv")
            if a is not None:
                na = g.label("ca")
                g.raw(f"[{v_acc}][{a_acc}][{v}][{a}]concat=n=2:v=1:a=1[{nv}][{na}]")
                a_acc = na
            else:
                g.raw(f"[{v_acc}][{v}]concat=n=2:v=1:a=0[{nv}]")
            v_acc = nv
    texts = [s.to_json() for s in draft.segments(TEXT)]
    v_out = g.chain(v_acc, [text_filter(t, out.width, out.height, work=work, index=i) for i, t in enumerate(texts)], "vt")
    a_out = _mix(g, draft, a_acc, out) if out.has_audio else None
    maps = ["-map", f"[{v_out}]" if ":" not in v_out else v_out]
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
    args += [*maps, *video_args(out), *audio_args(out), "-t", _s(total), *container_args(out), "-y", str(dest)]
    return Command(args, total / 1000, what)


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
    for seg in sounds:
        entry = draft.media_entry(seg.m["src"])
        k = g.add_input(input_args(entry, int(seg.m.get("in", 0)), seg.d, loop=bool(seg.m.get("loop"))))
        af: list[str] = []
        volume = float(seg.m.get("volume", 100.0))
        if abs(volume - 100) > 1e-6:
            af.append(f"volume={lavfi_number(volume / 100)}")
        if seg.m.get("fade_in"):
            af.append(f"afade=t=in:st=0:d={_s(min(seg.m['fade_in'], seg.d))}")
        if seg.m.get("fade_out"):
            fo = min(seg.m["fade_out"], seg.d)
            af.append(f"afade=t=out:st={_s(seg.d - fo)}:d={_s(fo)}")
        if seg.st:
            af.append(f"adelay=delays={int(seg.st)}:all=1")
        label = g.chain(f"{k}:a", af, "m")
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
    shakiness = max(1, min(10, round(stab.get("strength", 50) / 10)))
    speed = float(seg["m"].get("speed", 1.0))
    length = round(seg["d"] * speed)
    args = [*input_args(entry, int(seg["m"].get("in", 0)), length),
            "-vf", f"vidstabdetect=shakiness={shakiness}:accuracy=9:result={filter_value(str(trf))}", "-an", "-f", "null", "-"]
    return Command(args, length / 1000, what)
