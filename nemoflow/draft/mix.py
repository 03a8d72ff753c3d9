"""Relative mix weights: how `weight` and `volume` combine into the gain each sound is mixed at.

A sound's gain is its `volume` times its `weight` over the largest weight in the Draft (the clips' own sound and
every placed sound or music bed; 1 where none is written). The heaviest sound therefore plays at its own `volume`
and the others in proportion below it: no weight anywhere, or weight 1 everywhere, leaves every level as it was
before weights existed, and weights 2:1 put two sounds of equal volume 6 dB apart. Gains are fixed for the whole
programme, so a sound that ends does not make the others louder (amix's own `normalize` would).
"""

from __future__ import annotations

from typing import Any

from .model import AUDIO, VIDEO, Draft, Segment

DEFAULT_WEIGHT = 1.0


def weight_of(seg: Segment) -> float:
    return float(seg.m.get("weight", DEFAULT_WEIGHT))


def heaviest(draft: Draft) -> float:
    """The largest weight among the clips and sounds (at least something above 0, so a gain is always defined)."""
    weights = [weight_of(s) for s in (*draft.segments(VIDEO), *draft.segments(AUDIO))]
    top = max(weights, default=DEFAULT_WEIGHT)
    return top if top > 0 else DEFAULT_WEIGHT


def gain(seg: Segment, top: float) -> float:
    """The segment's level in the mix, as a fraction of its source's (1.0 = unchanged): volume x weight / top."""
    return float(seg.m.get("volume", 100.0)) / 100.0 * weight_of(seg) / top


def weighted(m: dict[str, Any], weight: float | None) -> dict[str, Any]:
    """`m` with its weight set; weight 1 (the default) is not written, so a Draft (and its cache key) that says
    `weight 1` is the same as one that says nothing."""
    out = {k: v for k, v in m.items() if k != "weight"}
    if weight is not None and abs(weight - DEFAULT_WEIGHT) > 1e-9:
        out["weight"] = float(weight)
    return out


def set_clip_weight(draft: Draft, weight: float, first: int = 0) -> Draft:
    """The clips' own sound from clip `first` on weighs `weight` in the mix (`volume 100% weight 2`, `video a weight 2`)."""
    video = list(draft.segments(VIDEO))
    video[first:] = [Segment(s.st, s.d, weighted(s.m, weight), s.tr, s.extra) for s in video[first:]]
    return draft.with_segments(VIDEO, video)
