"""Decisions from measurements: which spans are shaky, black, frozen or silent, and how to grade a clip.

Pure functions on an Analysis (analysis.py); no FFmpeg. Every span is
[start, end) in seconds relative to the analysed window, clamped to
[0, duration], merged across tiny gaps and at least a minimum length.
"""

from __future__ import annotations

import bisect
import math
import statistics
from typing import Any

from .analysis import STATS, Analysis, Span

# ---------------------------------------------------------------------------------------------------------- shake

# Per-frame jitter (motion minus its rolling median over SHAKE_WINDOW s) above which a frame counts as shaken, as a
# fraction of the frame width: 0.008 ≈ 4 px at the 480 px analysis width, 15 px across a 1920 px frame, per frame.
# How chosen, on the synthetic clips of tests/test_ask_analysis.py (no real footage was at hand to calibrate on):
# steady testsrc2, where vid.stab sees only the pattern's animated parts and codec noise, stays ≤ 0.0042 (95% of frames
# ≤ 0.0031; vid.stab resolves 1 px = 0.0021); fast smooth pans (5–6 px per frame) over three patterns have 95% of frames
# ≤ 0.0083–0.0113 and isolated misreads up to 0.015, which the length and density rules below reject; the synthetic
# shake (±30 px at 640 wide) is above 0.0082 on 95% of its frames (median 0.033). So 0.008 flags shake a viewer
# notices (a bumped or roughly hand-held camera), not the slight sway of a hand-held shot or a gentle walking bob.
SHAKE_THRESHOLD = 0.008
SHAKE_WINDOW = 0.5  # s: the rolling median that stands for the intended camera path (a pan); shake alternates around it
SHAKE_GAP = 0.3  # s: flagged frames this close belong to one span
SHAKE_MIN = 0.3  # s: shorter bursts (one bump) are not a shaky span
SHAKE_DENSITY = 0.5  # at least this share of a span's frames flagged

# Minimum lengths and the gaps merged across, per kind (s).
BLACK_MIN, BLACK_GAP = 0.1, 0.1
FROZEN_MIN, FROZEN_GAP = 0.5, 0.1
SILENT_MIN, SILENT_GAP = 0.5, 0.2


def jitter(an: Analysis) -> list[float]:
    """Per frame: how far its motion (fraction of the width) departs from the rolling median motion around it.

    Frames where vid.stab measured nothing (the first, black or featureless ones) get 0 and stay out of the medians:
    "not measured" is no evidence of shake, and taken as "did not move" it would turn a pan into false jitter.
    """
    times, motion = an.times, an.motion
    measured = [i > 0 and n > 0 for i, n in enumerate(an.fields)]
    half = SHAKE_WINDOW / 2
    out = []
    for i, t in enumerate(times):
        if not measured[i]:
            out.append(0.0)
            continue
        lo = bisect.bisect_left(times, t - half - 1e-9)
        hi = bisect.bisect_right(times, t + half + 1e-9)
        around = [motion[k] for k in range(lo, hi) if measured[k]]
        mx = statistics.median(m[0] for m in around)
        my = statistics.median(m[1] for m in around)
        out.append(math.hypot(motion[i][0] - mx, motion[i][1] - my))
    return out


def shaky_spans(an: Analysis, threshold: float = SHAKE_THRESHOLD) -> list[Span]:
    """Spans where the camera shakes (jitters around its path), not where it moves smoothly (a pan).

    Motion at frame n is the step from frame n−1 to n, so the first displaced
    frame is flagged and so is the first steady frame after the shake (the jump
    back); a span is [t(first flagged), t(last flagged)), from the window start
    when the shake is there from its first frame, to its end when it lasts to the end.
    """
    times = an.times
    j = jitter(an)
    measured = [i > 0 and n > 0 for i, n in enumerate(an.fields)]
    flagged = [i for i, v in enumerate(j) if v > threshold]
    groups: list[list[int]] = []
    for i in flagged:
        if groups and times[i] - times[groups[-1][-1]] <= SHAKE_GAP + 1e-9:
            groups[-1].append(i)
        else:
            groups.append([i])
    spans: list[Span] = []
    for g in groups:
        first, last = g[0], g[-1]
        if times[last] - times[first] < SHAKE_MIN - 1e-9 or len(g) < SHAKE_DENSITY * sum(measured[first:last + 1]):
            continue
        a = 0.0 if first <= 1 else times[first]
        b = an.duration if last == len(times) - 1 else times[last]
        spans.append((a, b))
    return _tidy(spans, an.duration, SHAKE_MIN, 0.0)


# ------------------------------------------------------------------------------------------------- black, frozen, silent

def _tidy(spans: list[Span] | tuple[Span, ...], duration: float, min_len: float, gap: float) -> list[Span]:
    """Clamp to [0, duration], merge across gaps ≤ `gap`, drop what is shorter than `min_len`."""
    merged: list[Span] = []
    for a, b in sorted((max(0.0, a), min(duration, b)) for a, b in spans):
        if b <= a:
            continue
        if merged and a - merged[-1][1] <= gap + 1e-9:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return [(a, b) for a, b in merged if b - a >= min_len - 1e-9]


def _minus(spans: list[Span], holes: list[Span]) -> list[Span]:
    out = []
    for a, b in spans:
        pieces = [(a, b)]
        for ha, hb in holes:
            pieces = [p for s, e in pieces for p in ((s, min(e, ha)), (max(s, hb), e)) if p[1] > p[0]]
        out += pieces
    return out


def black_spans(an: Analysis) -> list[Span]:
    """Black picture (≥ 98% of pixels under 10% luma), at least BLACK_MIN s long."""
    return _tidy(an.black, an.duration, BLACK_MIN, BLACK_GAP)


def frozen_spans(an: Analysis) -> list[Span]:
    """A picture that does not change for at least FROZEN_MIN s, black excluded (that is black_spans).

    A held title card or a locked-off shot of a perfectly still, noiseless scene counts as frozen too.
    """
    frozen = _tidy(an.frozen, an.duration, 0.0, FROZEN_GAP)
    return _tidy(_minus(frozen, black_spans(an)), an.duration, FROZEN_MIN, 0.0)


def silent_spans(an: Analysis) -> list[Span]:
    """Sound below −35 dB for at least SILENT_MIN s (none when the media has no sound)."""
    if not an.has_audio:
        return []
    return _tidy(an.silent, an.duration, SILENT_MIN, SILENT_GAP)


# ---------------------------------------------------------------------------------------------------------- grade

# Neutral targets, 8-bit limited range (video black 16, white 235), measured over the frames that are not black.
# LOW is the mean 10th luma percentile (signalstats YLOW), HIGH the mean 90th (YHIGH). A picture whose darkest tenth
# sits above LOW_MAX has lifted, milky blacks, one whose brightest tenth stays below HIGH_MIN is dim and flat: such an
# end moves to its target (32, 200), and the two ends define one linear stretch (eq contrast and brightness). The other
# direction is deliberately left alone: a 10th percentile at black is letterboxing, a night scene or a black
# background, a 90th at white is snow or sky, and lifting or dulling those would be wrong far more often than right.
# testsrc2 measures 41 / 210, SMPTE bars 16–19 / 180: both inside.
LOW_MAX, LOW_TARGET = 48.0, 32.0
HIGH_MIN, HIGH_TARGET = 176.0, 200.0
# Mean chroma distance from grey (SATAVG): raised to the band when below it, lowered when above it. For scale: SMPTE HD
# bars measure 39, 75% colour bars 57, testsrc2 (pure primaries everywhere) 105–113, which is garish, above the band.
# No real footage was measured for this band; camera footage without a flat/log profile is expected inside it.
SAT_BAND = (25.0, 70.0)
SAT_MONO = 3.0  # below this the picture is black and white (or nearly): its saturation is left alone
CONTRAST_RANGE = (80.0, 180.0)  # percent
BRIGHTNESS_LIMIT = 15.0  # percent of full scale, ±
SATURATION_RANGE = (60.0, 200.0)  # percent
# No gamma: eq applies it to full-range code values, so any gamma that lifts dark mid-tones also lifts video black
# (gamma 1.25 takes 16 to 28, the milky look the levels rule avoids); the linear stretch is enough toward neutral.


def _clamp(v: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, v))


def _graded_frames(an: Analysis) -> list[tuple[float, ...]]:
    """The stats of frames outside black spans (a black intro must not drag the levels down)."""
    black = black_spans(an)
    return [row for t, row in zip(an.times, an.stats, strict=True) if not any(a - 1e-6 <= t < b - 1e-6 for a, b in black)]


def levels(an: Analysis) -> dict[str, float] | None:
    """Mean YLOW, YHIGH, YAVG and SATAVG over the frames that are not black; None when there are none."""
    rows = _graded_frames(an)
    if not rows:
        return None
    return {name: statistics.fmean(r[STATS.index(name)] for r in rows) for name in ("YLOW", "YHIGH", "YAVG", "SATAVG")}


def auto_grade(an: Analysis, prior: tuple[float, float, float] = (1.0, 0.0, 1.0)) -> dict[str, Any] | None:
    """An `adjust` effect that brings the clip toward the neutral targets above; None when it is already there.

    {"type": "adjust", "brightness": b, "contrast": c, "saturation": s} in the
    units of grade.adjust_eq: brightness in percent (eq brightness = b/100, an
    offset of b% of full scale), contrast and saturation in percent (100 =
    unchanged). eq maps luma y (8-bit) to about c/100·(y − 128) + 128 + 2.55·b
    (checked on flat frames: within 2 levels) and chroma distance from grey to
    s/100 times itself. A levels stretch in RGB also stretches chroma, but eq's
    contrast touches luma only, so saturation starts from the contrast factor and
    is then corrected into SAT_BAND. Clamps: contrast 80–180%, brightness ±15,
    saturation 60–200%. Changes under 1 (brightness) or 3 (percent) count as none.
    The clamps let one pass take a very flat or dark clip most of the way to
    the targets, not all of it.

    `prior` is the clip's colour work already on the timeline (eq contrast and
    saturation factors, brightness as a fraction): the footage is judged as it
    will look with it, and the effect returned goes after it. The renderer folds
    a clip's eq effects into one by multiplying factors and adding offsets, so
    the brightness returned is corrected for that fold.
    """
    m = levels(an)
    if m is None:
        return None
    c0, b0, s0 = prior
    low, high = (c0 * (m[k] - 128) + 128 + 255 * b0 for k in ("YLOW", "YHIGH"))
    sat = m["SATAVG"] * s0
    to_low = LOW_TARGET if low > LOW_MAX else low
    to_high = HIGH_TARGET if high < HIGH_MIN else high
    x_low, x_high = low - 128, high - 128  # eq's contrast pivots on mid-grey
    c = _clamp((to_high - to_low) / max(high - low, 1.0) * 100, *CONTRAST_RANGE) / 100
    # brightness puts the middle of the measured range on the middle of the targets (both ends exact if c is not clamped)
    b = ((to_low + to_high) / 2 - c * ((low + high) / 2 - 128) - 128) / 255
    limited = _clamp(b * 100, -BRIGHTNESS_LIMIT, BRIGHTNESS_LIMIT) / 100
    if limited != b:  # brightness hit its limit: the contrast that best maps both ends with it (least squares)
        b = limited
        c = (x_low * (to_low - 128 - 255 * b) + x_high * (to_high - 128 - 255 * b)) / max(x_low**2 + x_high**2, 1.0)
        # …without pushing the darkest tenth under video black or the brightest over video white
        if x_low < 0:
            c = min(c, (16 - 128 - 255 * b) / x_low)
        if x_high > 0:
            c = min(c, (235 - 128 - 255 * b) / x_high)
        c = _clamp(c * 100, *CONTRAST_RANGE) / 100

    s = 1.0
    if sat >= SAT_MONO:
        # an RGB levels stretch scales chroma with luma; eq's contrast does not, so saturation starts from c
        s = _clamp(_clamp(sat * c, *SAT_BAND) / sat * 100, *SATURATION_RANGE) / 100

    b += b0 * (c - 1)  # in sequence the prior offset is scaled by c (c·b0 + b); folded it is b0 + b', so b' = b + b0(c − 1)
    effect: dict[str, Any] = {"type": "adjust", "brightness": round(b * 100, 1), "contrast": round(c * 100, 1),
                              "saturation": round(s * 100, 1)}
    if abs(effect["brightness"]) < 1 and abs(effect["contrast"] - 100) < 3 and abs(effect["saturation"] - 100) < 3:
        return None
    return effect
