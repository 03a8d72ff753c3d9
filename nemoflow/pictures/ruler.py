"""Time on a picture: the ruler's step for a scale, and times written the way an editor reads them."""

from __future__ import annotations

STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def ruler_step(px_per_s: float, *, min_px: float = 64) -> float:
    """The smallest step (seconds) between labelled ticks that leaves `min_px` pixels between labels."""
    for step in STEPS_S:
        if step * px_per_s >= min_px:
            return step
    return STEPS_S[-1] * max(1, round(min_px / (STEPS_S[-1] * px_per_s)))


def minor_steps(step: float) -> int:
    """How many parts a labelled step is split into by unlabelled ticks."""
    return 3 if step in (15, 900) else 2 if step in (30, 1800) else 5 if str(step)[0] in "15" else 4


def tick_label(seconds: float, step: float) -> str:
    """`0s`, `2.5s`, `45s`, `1:30`, `1:02:00`: short, and exact at every tick of `step`."""
    if seconds < 60 or (step < 1 and seconds < 600):
        text = f"{seconds:.1f}".removesuffix(".0") if step < 1 else f"{seconds:.0f}"
        return f"{text}s"
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def clock(seconds: float) -> str:
    """A time to the hundredth, as a contact sheet labels its frames: `0:07.25`, `1:02:03.50`."""
    cs = round(seconds * 100)
    h, rest = divmod(cs, 360000)
    m, rest = divmod(rest, 6000)
    s, c = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{c:02d}" if h else f"{m}:{s:02d}.{c:02d}"


def length(ms: float) -> str:
    """A length for a caption: `750ms`, `2.5s`, `1:05`."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60000:
        return f"{ms / 1000:.3g}s" if ms < 10000 else f"{ms / 1000:.1f}s".replace(".0s", "s")
    return tick_label(ms / 1000, 1)
