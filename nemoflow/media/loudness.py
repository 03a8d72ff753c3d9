"""Loudness as delivery specs measure it (EBU R128 / ITU-R BS.1770): measure a file, and fit a programme to a target.

One module knows FFmpeg's loudness meter, so the operation and `expect loudness` agree on what a level is:

- `measure_loudness(path)` reads a file with FFmpeg's `ebur128` filter in true-peak mode: the reference meter
  that `expect loudness`/`expect true peak`, the operation and the accuracy benchmark all use.
- `fit(programme, …)` is the operation's planning between its two passes: pass 1 rendered the mixed programme's
  sound to a file; `fit` finds the gain (and, when peaks would cross the ceiling, a true-peak limiter) that
  brings it to the target, checking each candidate encoded as the output will be; pass 2 is the render with
  those filters after the mix.

Why not `loudnorm`: measured on the benchmark's programmes, its dynamic mode (what it falls back to whenever the
gain would push the true peak over the ceiling) missed the target by up to 4 LU, and its own true-peak meter
read up to 0.6 dB below ebur128's, so "linear" results broke the ceiling once measured. A plain gain is exactly
what its linear mode does; the limiter here runs at 4x the sample rate with its delay compensated.

A silent programme (nothing above BS.1770's -70 LUFS gate) has no loudness to bring anywhere: it is left as it
is, and measuring it gives `integrated=None`, never -inf or NaN.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import attrs

from ..errors import MediaError
from .escape import lavfi_number
from .ffmpeg import capture_ffmpeg, ffmpeg_path

SILENCE_LUFS = -70.0
"""BS.1770's absolute gate: blocks quieter than this do not count; a programme with none left has no loudness."""
DEFAULT_PEAK_DBTP = -1.0
"""The true-peak ceiling when a recipe names none: what the streaming platforms' -14 LUFS specs ask."""


@attrs.frozen
class LoudnessReport:
    """A programme's measured loudness: integrated (LUFS), true peak (dBTP), loudness range (LU), gate threshold.

    `integrated` is None for a silent programme (nothing above the -70 LUFS gate); `true_peak` is None when
    there is no signal at all (digital silence has no peak in dB).
    """

    integrated: float | None
    true_peak: float | None
    lra: float
    threshold: float

    @property
    def silent(self) -> bool:
        return self.integrated is None

    def to_json(self) -> dict[str, float | None]:
        return {"integrated": self.integrated, "true_peak": self.true_peak, "lra": self.lra, "threshold": self.threshold}

    @classmethod
    def from_json(cls, data: dict) -> LoudnessReport:
        return cls(data.get("integrated"), data.get("true_peak"), float(data.get("lra", 0.0)),
                   float(data.get("threshold", SILENCE_LUFS)))


def _level(value: float | None) -> float | None:
    """A level in dB, or None where FFmpeg says -inf, nan or an absurd floor (silence)."""
    if value is None or math.isnan(value) or math.isinf(value) or value <= -99:
        return None
    return value


# ---- measuring a file (ebur128) ----------------------------------------------------------------------------------

_RUNNING_I = re.compile(r"lavfi\.r128\.I=(-?\d+(?:\.\d+)?)")  # per-frame, 3 decimals (the summary has 1)
_SUMMARY = re.compile(
    r"Integrated loudness:\s*I:\s*(?P<i>\S+) LUFS\s*Threshold:\s*(?P<thresh>\S+) LUFS\s*"
    r"Loudness range:\s*LRA:\s*(?P<lra>\S+) LU.*?True peak:\s*Peak:\s*(?P<tp>\S+) dBFS", re.S)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def parse_ebur128_summary(log: str) -> LoudnessReport:
    """The `Summary:` block `ebur128=peak=true` logs at the end (its last one, if the log holds several)."""
    found = list(_SUMMARY.finditer(log))
    if not found:
        raise ValueError("no ebur128 summary in FFmpeg's output")
    m = found[-1]
    running = _RUNNING_I.findall(log[: m.start()])
    integrated = _level(_number(running[-1] if running else m["i"]))
    if integrated is not None and integrated <= SILENCE_LUFS + 1e-9:
        integrated = None
    lra = _number(m["lra"])
    thresh = _number(m["thresh"])
    return LoudnessReport(integrated, _level(_number(m["tp"])), 0.0 if math.isnan(lra) else lra,
                          SILENCE_LUFS if math.isnan(thresh) else thresh)


METER = "ebur128=peak=true:metadata=1:framelog=quiet,ametadata=mode=print:key=lavfi.r128.I"


def measure_loudness(path: str | os.PathLike[str], *, stream: int = 0, timeout: float | None = None) -> LoudnessReport:
    """Integrated loudness, true peak and loudness range of a file's audio stream `stream`, by FFmpeg's `ebur128`.

    Raises MediaError if the file cannot be read or has no such audio stream.
    """
    cmd = ["-loglevel", "info", "-i", ffmpeg_path(path), "-map", f"0:a:{stream}", "-af", METER, "-f", "null", "-"]
    try:  # started like every FFmpeg nemoflow runs: Ctrl-C and a cancel stop it (media/ffmpeg.py)
        done = capture_ffmpeg(cmd, what=f"measuring the loudness of {os.path.basename(path)}", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise MediaError(f"{path}: measuring its loudness took longer than {timeout:g}s") from None
    if done.returncode != 0:
        tail = "\n".join(line for line in done.stderr.splitlines()[-6:] if line.strip())
        raise MediaError(f"{path}: cannot measure its loudness (no audio stream {stream}, or the file is unreadable):\n{tail}")
    try:
        return parse_ebur128_summary(done.stderr)
    except ValueError:
        raise MediaError(f"{path}: FFmpeg measured no loudness (is there any sound in it?)") from None


# ---- the operation: fitting the programme to a target ------------------------------------------------------------


@attrs.frozen
class Plan:
    """What the render applies to the mixed programme, and what that was measured to give once encoded.

    `mode`: "linear" (a gain only), "limited" (a gain and a true-peak limiter) or "none" (a silent programme).
    """

    mode: str
    gain: float
    ceiling: float | None  # the limiter's ceiling in dBTP (before the codec), None without a limiter
    filters: tuple[str, ...]
    result: LoudnessReport | None  # the encoded result, measured
    measured: LoudnessReport  # the programme before
    rounds: int = 0  # candidates encoded and measured to find it

    def to_json(self) -> dict:
        return {"mode": self.mode, "gain": self.gain, "ceiling": self.ceiling, "filters": list(self.filters),
                "result": self.result.to_json() if self.result else None, "measured": self.measured.to_json(),
                "rounds": self.rounds}

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        return cls(data["mode"], float(data["gain"]), data.get("ceiling"), tuple(data["filters"]),
                   LoudnessReport.from_json(data["result"]) if data.get("result") else None,
                   LoudnessReport.from_json(data["measured"]), int(data.get("rounds", 0)))


def chain(gain: float, ceiling: float | None, sample_rate: int = 48000) -> tuple[str, ...]:
    """A gain, then (with a ceiling) a limiter run at 4x the rate, where inter-sample peaks are samples: a true-peak
    limiter. `latency=1` makes alimiter give back its look-ahead delay, so the sound stays where the picture is."""
    filters = [f"volume={lavfi_number(round(gain, 3))}dB"]
    if ceiling is not None:
        limit = lavfi_number(round(10 ** (ceiling / 20), 5))
        filters += [f"aresample={4 * sample_rate}",
                    f"alimiter=limit={limit}:attack=1:release=50:level=0:latency=1", f"aresample={sample_rate}"]
    return tuple(filters)


TOLERANCE_LU = 0.1  # how close to the target the fit stops
ROUNDS = 6
CODEC_MARGIN_DB = 0.3  # a first guess at what lossy coding adds to the true peak; then measured and corrected


def fit(programme: Path, target: float, peak: float, encode: list[str], scratch: Path, *,
        run: Callable[[list[str]], None]) -> Plan:
    """Pass 2's filters for the programme sound in `programme` (pass 1's file): `target` LUFS, true peak <= `peak`.

    Each round applies a candidate to the programme, encodes it as the render will (`encode`: the output's audio
    codec arguments) into `scratch` and measures that with ebur128, so what is promised is what the file holds,
    lossy coding's overshoot included. The first candidate is the plain gain; if its peaks cross the ceiling, a
    true-peak limiter joins and the gain is raised to win back what the limiter took (secant steps), the
    ceiling lowered by what the codec added. Audio only, so a round is quick.
    """
    measured = measure_loudness(programme)
    if measured.integrated is None:
        return Plan("none", 0.0, None, (), measured, measured)
    from .probe import probe  # PyAV: loads only when a programme is fitted

    info = probe(programme).audio
    rate = info.sample_rate if info is not None and info.sample_rate else 48000  # the limiter comes back to it
    gain, ceiling = target - measured.integrated, None
    best: Plan | None = None
    last: tuple[float, float] | None = None  # (gain, integrated) of the previous limited round
    for rounds in range(1, ROUNDS + 1):
        filters = chain(gain, ceiling, rate)
        run(["-i", ffmpeg_path(programme), "-af", ",".join(filters), *encode, "-f", "matroska", "-y", str(scratch)])
        got = measure_loudness(scratch)
        plan = Plan("limited" if ceiling is not None else "linear", gain, ceiling, filters, got, measured, rounds)
        error = target - (got.integrated if got.integrated is not None else target)
        over = (got.true_peak if got.true_peak is not None else -99.0) - peak
        if over <= 0 and (best is None or abs(error) < abs(_error(best, target))):
            best = plan
        if over <= 0 and abs(error) <= TOLERANCE_LU:
            return plan
        if over > 0:
            ceiling = peak - CODEC_MARGIN_DB if ceiling is None else max(peak - 6.0, ceiling - over - 0.05, -23.9)
            if plan.mode == "linear":
                continue  # the same gain once more, now limited
        if last is not None and got.integrated is not None and abs(gain - last[0]) > 1e-6:
            slope = (got.integrated - last[1]) / (gain - last[0])
            step = error / slope if 0.1 < slope <= 1.5 else error
        else:
            step = error
        last = (gain, got.integrated if got.integrated is not None else target)
        gain += max(-12.0, min(12.0, step))
    if best is not None:
        return best
    return plan


def _error(plan: Plan, target: float) -> float:
    return target - plan.result.integrated if plan.result and plan.result.integrated is not None else 99.0
