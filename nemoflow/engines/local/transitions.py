"""Transitions between clips: FFmpeg xfade's built-ins by name, and easing for every one of them.

xfade has no easing option. Its progress comes from the outgoing stream's timestamps: 1 - (pts - start) / duration.
So an eased transition moves the outgoing stream's frames inside the overlap to the instants whose linear progress is
the eased one (on a grid 1000 times finer than the frame), lets xfade draw its own built-in there, and puts the frames
back on the frame grid after. Every built-in eases this way, at its own speed: only timestamps change. (The other way,
a per-pixel `transition=custom` expression of an eased P, ran ~30x slower than the built-in: 0.35 s a 1080p frame
against 0.012 s, measured with this FFmpeg, and could only cover the transitions one rewrites as expressions.)
"""

from __future__ import annotations

from fractions import Fraction

from ...core.signatures import TRANSITIONS
from ...media.escape import filter_value, lavfi_number

_OWN = {"crossfade": "fade", "fade": "fadeblack"}  # nemoflow's names before issue 17, kept: xfade's `fade` is `crossfade`
XFADE: dict[str, str] = {name: _OWN.get(name, name) for name in TRANSITIONS if name != "cut"}
"""nemoflow's transition name -> FFmpeg xfade's `transition` value (all 58 built-ins)."""

EASES = {  # linear progress t in [0, 1] (0: all the outgoing clip) -> eased progress; the curves of layers' motion
    "linear": "{p}",
    "in": "pow({p},2)",
    "out": "(1-pow(1-{p},2))",
    "in-out": "(pow({p},2)*(3-2*{p}))",  # smoothstep: slow at both ends
}
FINE = 1000  # timestamp ticks per frame while a transition is eased: distinct instants for up to 1000 frames


def xfade_filters(kind: str, ease: str | None, f0: int, f1: int, rate: Fraction) -> tuple[list[str], list[str], str, list[str]]:
    """Filters for one transition over output frames [f0, f1): (before it on the outgoing stream, before it on the
    incoming one, the xfade, after it). Both streams count one tick per frame (`settb` of 1/rate) and start at 0."""
    xfade = (f"xfade=transition={XFADE[kind]}:duration={lavfi_number(float((f1 - f0) / rate))}"
             f":offset={lavfi_number(float(f0 / rate))}")
    if not ease or ease == "linear":
        return [], [], xfade, []
    # the outgoing frame k of the n in the overlap moves to start + e(k/n) x duration, where xfade's progress is
    # 1 - e(k/n); the offset and duration (µs) land on whole ticks, as each tick is at least 4 µs (rates to 240 fps)
    fine = f"settb={rate.denominator}/{rate.numerator * FINE}"
    s, d = f0 * FINE, (f1 - f0) * FINE
    warp = f"if(between(PTS,{s},{s + d - 1}),{s}+round({d}*{EASES[ease].format(p=f'((PTS-{s})/{d})')}),PTS)"
    # xfade's output carries the outgoing stream's timestamps: each frame back to its tick (one frame per tick from 0)
    back = [f"settb={rate.denominator}/{rate.numerator}", "setpts=N"]
    return [fine, f"setpts={filter_value(warp)}"], [fine], xfade, back
