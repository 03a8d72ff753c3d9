"""Evaluate `expect` blocks against a rendered file.

Each check reports expected vs actual, so a failing CI job says what was
wrong without anyone opening the video; a check about the picture also saves
the frames it judged (artifacts) so a reviewer can look instead of read.

The file is measured lazily and at most once per kind of measurement
(`Measured`): probing for the properties, one FFmpeg pass for all black /
frozen / silence checks of a block, a frame decode per `looks like`. Each
check kind has one function in `MEASURES`; a new probed property (e.g.
`loudness`) registers a function in `PROPERTIES`.
"""

from __future__ import annotations

import operator
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ..core import signatures as sig
from ..core import units
from ..core.model import Check, CheckKind, CheckOp, LooksLike, RunLimit, Tracks
from ..core.values import Aspect, Bitrate, Duration, FileSize, Fps, Loudness, Pixels, Resolution, TruePeak

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@attrs.frozen
class CheckResult:
    check: Check
    ok: bool
    actual: str
    expected: str
    artifacts: tuple[Path, ...] = ()  # pictures saved for a reviewer (a failed frame check, the first black frame …)
    golden_written: Path | None = None  # --update-golden wrote this golden picture


@attrs.frozen
class ExpectOptions:
    """How a run treats golden pictures and where it saves what failed checks looked like."""

    update_golden: bool = False  # (re)write golden pictures from this render (`nemoflow run --update-golden`)
    artifacts: Path | None = None  # folder for failure pictures; None: nothing is saved


class Measured:
    """One rendered file, measured on demand: each measurement runs at most once, whatever the checks ask."""

    def __init__(self, path: Path, checks: tuple[Check, ...], options: ExpectOptions, name: str,
                 captions: dict[str, Any] | None = None) -> None:
        self.path = path
        self.captions = captions or {}  # the export's burned captions: its ASS script and cues (engines/local/export.py)
        self.checks = checks
        self.options = options
        self.name = name  # the expect step's id, for artifact file names
        self._facts: dict[str, Any] | None = None
        self._detections = None
        self._scratch: Path | None = None

    @property
    def facts(self) -> dict[str, Any]:
        if self._facts is None:
            self._facts = _facts(self.path)
        return self._facts

    def fact(self, subject: str) -> Any:
        """A probed property, or one a registered measurement adds (`PROPERTIES`)."""
        if subject not in self.facts and subject in PROPERTIES:
            self.facts[subject] = PROPERTIES[subject](self)
        return self.facts.get(subject)

    def number(self, check: Check) -> int:
        """A check's place in its block, from 1 (two identical lines are still two checks)."""
        return next(i for i, c in enumerate(self.checks, 1) if c is check)

    def scratch(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="nemoflow-expect-"))
        return self._scratch

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def detections(self):
        """Black, frozen and silent runs for every `no …` check of the block, from one decode pass."""
        if self._detections is None:
            from ..media.measure import detect

            kinds = {c.kind: c for c in self.checks}
            frozen = [c.value.longer_than.seconds for c in self.checks if c.kind == CheckKind.NO_FROZEN]
            silence = [c.value.longer_than.seconds for c in self.checks if c.kind == CheckKind.NO_SILENCE]
            has_video, has_audio = self.fact("has video"), self.fact("has audio")
            self._detections = detect(
                self.path, duration=float(self.fact("duration") or 0.0),
                black=(sig.BLACK_PIXEL, sig.BLACK_PICTURE) if CheckKind.NO_BLACK in kinds and has_video else None,
                frozen=(sig.FROZEN_NOISE_DB, max(min(frozen), 0.01)) if frozen and has_video else None,
                silence=(sig.SILENCE_DB, max(min(silence), 0.01)) if silence and has_audio else None)
        return self._detections

    def artifact(self, check: Check, what: str, src: Path | None = None, *, at: float | None = None) -> Path | None:
        """Save a picture for a failed check: a copy of `src`, or the frame at `at`; None if artifacts are off."""
        folder = self.options.artifacts
        if folder is None:
            return None
        number = self.number(check)
        dest = folder / _safe(f"{self.name}-{number}-{check.subject}-{what}.png")
        folder.mkdir(parents=True, exist_ok=True)
        if src is not None:
            shutil.copyfile(src, dest)
            return dest
        from ..media.measure import frame_png

        return dest if at is not None and frame_png(self.path, at, dest) is not None else None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _facts(path: Path) -> dict[str, Any]:
    from ..media.probe import probe  # PyAV loads only when a file is checked

    info = probe(path)
    v, a = info.video, info.audio
    facts: dict[str, Any] = {
        "duration": info.duration or 0.0,
        "file size": path.stat().st_size,
        "bitrate": info.bit_rate or (path.stat().st_size * 8 / info.duration if info.duration else 0),
        "has audio": a is not None,
        "has video": v is not None,
        "audio codec": a.codec if a else None,
        "audio channels": a.channels if a else None,
    }
    if v is not None:
        facts.update({"size": (v.width, v.height), "width": v.width, "height": v.height, "fps": v.fps, "codec": v.codec,
                      "frames": v.frames, "aspect": v.width / v.height})
    return facts


PROPERTIES: dict[str, Callable[[Measured], Any]] = {}
"""Properties beyond what probing gives (`loudness`): subject → measurement, run only when a check asks.
A subject here also needs its EXPECT_SUBJECTS entry (core/signatures.py); `ABOUT` gives its `~=` tolerance."""

ABOUT: dict[str, Callable[[float], float]] = {}
"""`~=` tolerance by subject (wanted value → allowed difference); others: a frame or 1% for duration, 1% otherwise."""


# ---- loudness and true peak: one ebur128 pass for both (media/loudness.py) -------------------------------------

_LEVELS = {"loudness": "silent (no sound above the -70 LUFS gate)", "true peak": "silent (no peak)"}
"""The level subjects, and how a silent file's level (-inf) is shown: never as -inf or NaN."""


def _loudness_report(m: Measured):
    """The file's first audio track measured by ebur128 in true-peak mode, once for every level check of the block."""
    if "loudness report" not in m.facts:
        from ..media.loudness import measure_loudness

        m.facts["loudness report"] = measure_loudness(m.path) if m.fact("has audio") else None
    return m.facts["loudness report"]


def _integrated(m: Measured) -> float | None:
    """Integrated loudness in LUFS; -inf for silence (quieter than any level written), None without audio."""
    report = _loudness_report(m)
    if report is None:
        return None
    return report.integrated if report.integrated is not None else float("-inf")


def _true_peak(m: Measured) -> float | None:
    report = _loudness_report(m)
    if report is None:
        return None
    return report.true_peak if report.true_peak is not None else float("-inf")


PROPERTIES.update({"loudness": _integrated, "true peak": _true_peak})
ABOUT["loudness"] = lambda want: sig.LOUDNESS_TOLERANCE_LU


def _number(value: Any) -> float:
    for kind, attr in ((Duration, "seconds"), (FileSize, "bytes"), (Bitrate, "bps"), (Fps, "value"), (Pixels, "value"),
                       (Loudness, "lufs"), (TruePeak, "dbtp")):
        if isinstance(value, kind):
            return float(getattr(value, attr))
    return float(value)


def _show(subject: str, value: Any) -> str:
    """A measured fact, rounded in a fixed unit so a CI log lines up (core/units.py)."""
    if value is None:
        return "the file has no audio" if subject in _LEVELS else "nothing"
    if subject in _LEVELS and value == float("-inf"):
        return _LEVELS[subject]
    shown = {"loudness": lambda: units.loudness(value, 1), "true peak": lambda: units.true_peak(value, 1),
             "duration": lambda: units.duration(value, places=3), "size": lambda: units.resolution(*value),
             "file size": lambda: units.filesize(value, places=2), "bitrate": lambda: units.bitrate(value, places=0),
             "fps": lambda: units.trimmed(value, 3), "aspect": lambda: units.number(value, 4)}.get(subject)
    return shown() if shown is not None else str(value)


def _secs(seconds: float) -> str:
    """Seconds to the millisecond, trailing zeros dropped: `1.64s`, `0.08s`."""
    return units.trimmed(seconds, 3) + "s"


# ---- one measurement per kind of check --------------------------------------------------------------------

def _presence(m: Measured, check: Check) -> CheckResult:
    present = bool(m.fact(f"has {check.subject}"))
    ok = present if check.op == CheckOp.HAS else not present
    return CheckResult(check, ok, f"{check.subject} {'present' if present else 'absent'}", check.text)


def _property(m: Measured, check: Check, *, fps_hint: float = 30.0) -> CheckResult:
    actual = m.fact(check.subject)
    if check.subject == "size":
        want = (check.value.width, check.value.height) if isinstance(check.value, Resolution) else check.value
        ok = _OPS[check.op](actual, want)
    elif check.subject == "aspect":
        want_ratio = check.value.ratio if isinstance(check.value, Aspect) else float(check.value)
        ok = (actual is not None and abs(actual - want_ratio) < 0.01) == (check.op == CheckOp.EQ)
    elif check.subject in ("codec", "audio codec"):
        ok = _OPS[check.op](actual, check.value)
    elif actual is None:
        ok = False
    elif check.op == CheckOp.ABOUT:
        want = _number(check.value)
        # about equal: a frame or 1% for durations, 1% otherwise
        if check.subject in ABOUT:
            tol = ABOUT[check.subject](want)
        elif check.subject == "duration":
            tol = max(1.0 / (m.fact("fps") or fps_hint), 0.01 * want)
        else:
            tol = 0.01 * abs(want)
        ok = abs(float(actual) - want) <= tol + 1e-9
    else:
        ok = _OPS[check.op](float(actual), _number(check.value))
    return CheckResult(check, ok, _show(check.subject, actual), check.text)


def _looks_like(m: Measured, check: Check) -> CheckResult:
    from ..media.measure import compare_pngs, frame_png, png_size, replace_atomically

    spec: LooksLike = check.value
    at = spec.at.seconds
    expected = f"{spec.metric} {check.op} {units.trimmed(spec.threshold, 4)} against {_rel(spec.golden)} at {_secs(at)}"
    if not m.fact("has video"):
        return CheckResult(check, False, "the file has no video", expected)
    actual_png = m.scratch() / f"{m.number(check)}-actual.png"
    grab = frame_png(m.path, at, actual_png)
    if grab is None:
        return CheckResult(check, False, f"no frame at {_secs(at)}: the file is {_secs(float(m.fact('duration') or 0))} long",
                           expected)
    if m.options.update_golden:
        replace_atomically(actual_png, spec.golden)
        return CheckResult(check, True, f"golden written: {_rel(spec.golden)} (the frame at {_secs(grab.time)})", expected,
                           golden_written=spec.golden)
    saved_actual = lambda: tuple(p for p in [m.artifact(check, "actual", actual_png)] if p)  # noqa: E731
    if not spec.golden.is_file():
        return CheckResult(check, False, f"no golden picture at {_rel(spec.golden)}; run `nemoflow run --update-golden` "
                           "to write it from this render, after checking that the render is right", expected, saved_actual())
    size = png_size(spec.golden)
    if size is None:
        return CheckResult(check, False, f"{_rel(spec.golden)} is not a PNG picture; rewrite it with --update-golden",
                           expected, saved_actual())
    pictures = lambda: saved_actual() + tuple(p for p in [m.artifact(check, "golden", spec.golden)] if p)  # noqa: E731
    if size != (grab.width, grab.height):
        return CheckResult(check, False, f"sizes differ: the frame is {grab.width}x{grab.height}, the golden picture "
                           f"{size[0]}x{size[1]}; rewrite it with --update-golden if the new size is intended", expected,
                           pictures())
    score = compare_pngs(actual_png, spec.golden, spec.metric)
    ok = _OPS[check.op](score, spec.threshold)
    shown = "inf (identical)" if score == float("inf") else (f"{score:.4f}" if spec.metric == "ssim" else f"{score:.2f} dB")
    return CheckResult(check, ok, f"{spec.metric} {shown} (frame at {_secs(grab.time)})", expected, () if ok else pictures())


def _runs(m: Measured, check: Check) -> CheckResult:
    limit: RunLimit = check.value
    what = {CheckKind.NO_BLACK: "black", CheckKind.NO_FROZEN: "frozen", CheckKind.NO_SILENCE: "silent"}[check.kind]
    longer = limit.longer_than.seconds
    fades = check.kind == CheckKind.NO_BLACK and not limit.written
    if fades:
        expected = f"no black frames (black under {_secs(sig.FADE_SECONDS)} at the very start or end is a fade)"
    else:
        expected = f"no {what} part longer than {_secs(longer)}"
    needs = "has audio" if check.kind == CheckKind.NO_SILENCE else "has video"
    if not m.fact(needs):
        return CheckResult(check, False, f"the file has no {'audio' if needs == 'has audio' else 'video'}", expected)
    found = m.detections()
    runs = {CheckKind.NO_BLACK: found.black, CheckKind.NO_FROZEN: found.frozen, CheckKind.NO_SILENCE: found.silence}[check.kind]
    end = float(m.fact("duration") or 0.0)
    fps = float(m.fact("fps") or 30.0)
    tick = 1.0 / fps if fps else 0.0

    def counts(run) -> bool:
        if fades and run.seconds + tick < sig.FADE_SECONDS and (run.start <= tick or run.end >= end - 2 * tick):
            return False  # a fade in or out
        if check.kind == CheckKind.NO_BLACK and not limit.written:
            return True
        return run.seconds > longer + 1e-6

    if check.kind == CheckKind.NO_BLACK:  # blackdetect ends a run still black at the end of the file at its last frame's start
        runs = tuple(attrs.evolve(r, end=end) if end - tick * 1.5 <= r.end < end else r for r in runs or ())
    bad = [r for r in runs or () if counts(r)]
    if not bad:
        return CheckResult(check, True, f"none (found {len(runs or ())} {what} part{'s' if len(runs or ()) != 1 else ''} "
                                        "within the limit)" if runs else "none", expected)
    first = bad[0]
    more = f", and {len(bad) - 1} more" if len(bad) > 1 else ""
    actual = f"{what} from {_secs(first.start)} to {_secs(first.end)} ({_secs(first.seconds)}){more}"
    pictures: tuple[Path, ...] = ()
    if check.kind != CheckKind.NO_SILENCE:
        saved = m.artifact(check, f"first-{what}", at=first.start)
        pictures = (saved,) if saved else ()
    return CheckResult(check, False, actual, expected, pictures)


def _av_sync(m: Measured, check: Check) -> CheckResult:
    from ..media.measure import stream_times

    limit = check.value.seconds
    expected = f"audio and video start and end within {_secs(limit)} of each other"
    times = stream_times(m.path)
    v, a = times.get("video"), times.get("audio")
    if v is None or a is None:
        return CheckResult(check, False, f"the file has no {'video' if v is None else 'audio'} stream to compare", expected)
    start, stop = a.start - v.start, a.end - v.end
    worst = max(abs(start), abs(stop))

    def said(delta: float, verb: str) -> str:
        if abs(delta) < 0.0005:
            return f"audio {verb} with the video"
        return f"audio {verb} {abs(delta) * 1000:.0f}ms {'after' if delta > 0 else 'before'} the video"

    return CheckResult(check, worst <= limit + 1e-9, f"{said(start, 'starts')}, {said(stop, 'ends')}", expected)


def _tracks(m: Measured, check: Check) -> CheckResult:
    from ..media.measure import stream_counts

    want: Tracks = check.value
    found = stream_counts(m.path)
    named = dict(want.counts)
    same = all(found.get(kind, 0) == n for kind, n in named.items()) and all(k in named for k, n in found.items() if n)
    ok = same if check.op == CheckOp.EQ else not same
    order = [*named, *(k for k in found if k not in named)]
    actual = " + ".join(f"{found.get(k, 0)} {k}" for k in order if found.get(k, 0) or k in named)
    return CheckResult(check, ok, actual or "no streams", f"tracks {check.op} {want}")


def _caption(m: Measured, check: Check) -> CheckResult:
    """`caption "Hello" at 3s` / `no caption at 3s`: soft captions read from the file's subtitle stream, burned ones
    measured on the frame shown at 3s against the export's own ASS script drawn alone (media/caption_check.py)."""
    from ..media.caption_check import burned_shown, soft_cues

    want, at_ms = check.value.text, int(check.value.at_ms)
    at = at_ms / 1000
    expected = f"{'no caption' if want is None else f'caption {want!r}'} on screen at {_secs(at)}"
    norm = lambda text: " ".join(str(text).split())  # noqa: E731  (a wrapped or multi-line cue reads as one line)
    on_screen: list[str] = []
    for start, end, text in soft_cues(m.path) or ():
        if start <= at_ms < end:
            on_screen.append(text)
    burned = m.captions.get("cues") or []
    drawn = [text for start, end, text in burned if start <= at_ms < end]
    artifacts: tuple[Path, ...] = ()
    if want is not None and norm(want) in {norm(t) for t in drawn} and norm(want) not in {norm(t) for t in on_screen}:
        if not Path(m.captions.get("ass", "")).is_file():
            return CheckResult(check, False, "the export's caption script is no longer in the cache, so the frame cannot be "
                                             "measured; render the export again (`nemoflow run --force 'export.*'`)", expected)
        shown = burned_shown(m.path, Path(m.captions["ass"]), at, float(m.captions.get("fps") or m.fact("fps") or 30),
                             m.scratch())
        if shown is None:
            return CheckResult(check, False, f"no frame at {_secs(at)}: the file is {_secs(float(m.fact('duration') or 0))} "
                                             "long", expected)
        if not shown.ok:
            saved = m.artifact(check, "frame", at=at)
            return CheckResult(check, False, f"the export burns {want!r} in at {_secs(at)}, but the frame at "
                                             f"{_secs(shown.frame_time)} shows only {shown.matched:.0%} of its pixels",
                               expected, (saved,) if saved else ())
        on_screen.append(want)
    else:
        on_screen += drawn
    texts = [norm(t) for t in on_screen]
    # an MP4's overlapping cues are one cue of all their lines (media/captions.flattened): any run of whole lines counts
    runs = {norm(" ".join(lines[i:j])) for t in on_screen for lines in [str(t).split("\n")]
            for i in range(len(lines)) for j in range(i + 1, len(lines) + 1)}
    ok = not texts if want is None else norm(want) in texts or norm(want) in runs
    actual = "no caption" if not texts else " and ".join(repr(t) for t in texts)
    if not ok and want is not None and m.options.artifacts is not None:
        saved = m.artifact(check, "frame", at=at)
        artifacts = (saved,) if saved else ()
    return CheckResult(check, ok, f"{actual} at {_secs(at)}", expected, artifacts)


MEASURES: dict[CheckKind, Callable[[Measured, Check], CheckResult]] = {
    CheckKind.PROPERTY: _property,
    CheckKind.PRESENCE: _presence,
    CheckKind.LOOKS_LIKE: _looks_like,
    CheckKind.NO_BLACK: _runs,
    CheckKind.NO_FROZEN: _runs,
    CheckKind.NO_SILENCE: _runs,
    CheckKind.AV_SYNC: _av_sync,
    CheckKind.TRACKS: _tracks,
    CheckKind.CAPTION: _caption,
}
"""Every kind of check and how it is measured (a test checks every CheckKind is here)."""


def _rel(path: Path) -> str:
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("../..") else str(path)


def evaluate(path: Path, checks: tuple[Check, ...], *, options: ExpectOptions | None = None,
             name: str = "expect", captions: dict[str, Any] | None = None) -> list[CheckResult]:
    """Every check against the file at `path` (which must exist), in the order written; `captions`: what the export's
    result says of its burned captions (for `caption … at`)."""
    options = options or ExpectOptions()
    if options.artifacts is not None and options.artifacts.is_dir():  # pictures of this step's earlier failures are stale now
        mine = re.compile(re.escape(_safe(name)) + r"-\d+-.*\.png")
        for old in options.artifacts.glob("*.png"):
            if mine.fullmatch(old.name):
                old.unlink(missing_ok=True)
    measured = Measured(path, checks, options, name, captions)
    try:
        return [MEASURES[check.kind](measured, check) for check in checks]
    finally:
        measured.close()
