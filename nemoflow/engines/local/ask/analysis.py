"""Measure footage in ONE FFmpeg pass: camera motion, black, frozen and silent spans, levels and colour.

For one source window of one media (read from its in-point with input seeking,
like a render), a single FFmpeg run downscales the picture to ANALYSIS_WIDTH
and feeds it through blackdetect, freezedetect, signalstats and vidstabdetect,
while the sound (if any) goes through silencedetect. The decode is the cost:
on 10 s of 4K H.264 (testsrc2, x264 veryfast, 2 cores) a plain
`ffmpeg -i f -f null -` takes 2.1–2.3 s and `analyse` (FFmpeg and parsing)
2.4–2.7 s, about 0.25× realtime.

Results are in seconds relative to the window start, cached as JSON under
`cache_dir/analysis/` (keyed by the media's content id, the window and
ANALYSIS_REVISION) and memoised in the process, where an analysed window also
serves every smaller window inside it (`Analysis.window`). footage.py turns
the measurements into decisions (what is shaky, what to grade).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ....draft.media import MediaEntry, MediaKind
from ....errors import MediaError
from ....media import ffmpeg as _ffmpeg
from ....media import workdir
from ....media.escape import filter_value
from ....media.ffmpeg import Progress, atomic_output
from ....media.sources import generator_source, input_args

ANALYSIS_REVISION = 2  # part of the cache key: bump when the measurements or their meaning change
ANALYSIS_WIDTH = 480  # frames are downscaled to this width first (the 4K decode is the floor; analysis at 480 is ~free)

# The signalstats values kept per frame, in this order (8-bit limited range; the frame is converted to yuv420p first).
# YLOW/YHIGH are the 10th/90th luma percentiles; SATAVG the mean chroma distance from grey (0 = grey, ~118 = full red).
STATS = ("YLOW", "YHIGH", "YAVG", "SATAVG", "UAVG", "VAVG")

# Detector settings. blackdetect: a frame is black when ≥98% of pixels are below 10% luma, for ≥ 0.1 s.
# freezedetect: mean absolute frame difference below 0.003 (codec noise passes, a held frame does not) for ≥ 0.5 s.
# silencedetect: below −35 dB for ≥ 0.5 s. vidstabdetect: a finer search step (4) and a lower field contrast floor (0.1)
# than its defaults keep more measurements on low-texture pictures (on a synthetic pan this halved the false jitter);
# at 480 px wide it costs ~0.1 s per 6 s of video, lost in the decode.
BLACK = "blackdetect=d=0.1:pix_th=0.1"
FREEZE = "freezedetect=n=0.003:d=0.5"
SILENCE = "silencedetect=n=-35dB:d=0.5"
VIDSTAB = "vidstabdetect=shakiness=5:accuracy=15:stepsize=4:mincontrast=0.1:fileformat=ascii"

MEMO_LIMIT = 64  # analysed windows kept in the process

Span = tuple[float, float]


@attrs.frozen
class Analysis:
    """What one source window of one media looks and sounds like; times in seconds RELATIVE to the window start.

    Per analysed frame (in decode order, which for a window read with input
    seeking starts at ~0): `times` (pts), `motion` (global translation from the
    previous frame, as fractions of the analysed width: the median of vid.stab's
    local motions, (0, 0) for the first frame and where vid.stab found none),
    `fields` (how many local motions that median had: 0 = not measured, which is
    not the same as "did not move") and `stats` (the STATS values). Spans are
    [start, end), clamped to the window.
    """

    start_ms: int
    length_ms: int
    width: int  # analysed frame size (0 × 0 for sound only)
    height: int
    times: tuple[float, ...]
    motion: tuple[tuple[float, float], ...]
    black: tuple[Span, ...]
    frozen: tuple[Span, ...]
    silent: tuple[Span, ...]
    has_audio: bool
    stats: tuple[tuple[float, ...], ...]
    fields: tuple[int, ...]

    @property
    def duration(self) -> float:
        return self.length_ms / 1000

    def stat(self, name: str) -> tuple[float, ...]:
        """One STATS column over all frames."""
        i = STATS.index(name)
        return tuple(row[i] for row in self.stats)

    def to_json(self) -> dict[str, Any]:
        return {"revision": ANALYSIS_REVISION, "start_ms": self.start_ms, "length_ms": self.length_ms, "width": self.width,
                "height": self.height, "times": list(self.times), "motion": [list(m) for m in self.motion],
                "black": [list(s) for s in self.black], "frozen": [list(s) for s in self.frozen],
                "silent": [list(s) for s in self.silent], "has_audio": self.has_audio, "stats_keys": list(STATS),
                "stats": [list(r) for r in self.stats], "fields": list(self.fields)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Analysis:
        """The inverse of to_json; ValueError for anything that is not a complete analysis of this revision."""
        if d.get("revision") != ANALYSIS_REVISION or d.get("stats_keys") != list(STATS):
            raise ValueError("analysis of another revision")

        def spans(key: str) -> tuple[Span, ...]:
            return tuple((float(a), float(b)) for a, b in d[key])

        an = cls(start_ms=int(d["start_ms"]), length_ms=int(d["length_ms"]), width=int(d["width"]), height=int(d["height"]),
                 times=tuple(float(t) for t in d["times"]), motion=tuple((float(x), float(y)) for x, y in d["motion"]),
                 black=spans("black"), frozen=spans("frozen"), silent=spans("silent"), has_audio=bool(d["has_audio"]),
                 stats=tuple(tuple(float(v) for v in row) for row in d["stats"]), fields=tuple(int(n) for n in d["fields"]))
        if not (len(an.times) == len(an.motion) == len(an.stats) == len(an.fields)) or any(len(r) != len(STATS) for r in an.stats):
            raise ValueError("per-frame lists of different lengths")
        return an

    def window(self, a: float, b: float) -> Analysis:
        """The part [a, b) (relative seconds), re-based to start at 0, as if that window had been analysed itself.

        The first frame's motion becomes (0, 0) (its previous frame is outside), as in a fresh analysis.
        """
        a = max(0.0, a)
        b = min(self.duration, b)
        if b <= a:
            raise ValueError(f"empty window [{a}, {b}) of an analysis {self.duration} s long")
        eps = 1e-6
        keep = [i for i, t in enumerate(self.times) if a - eps <= t < b - eps]
        motion = [self.motion[i] for i in keep]
        fields = [self.fields[i] for i in keep]
        if motion:
            motion[0], fields[0] = (0.0, 0.0), 0

        def cut(spans: tuple[Span, ...]) -> tuple[Span, ...]:
            out = []
            for s, e in spans:
                s, e = max(s, a), min(e, b)
                if e > s:
                    out.append((round(s - a, 6), round(e - a, 6)))
            return tuple(out)

        start = self.start_ms + round(a * 1000)
        return Analysis(start_ms=start, length_ms=self.start_ms + round(b * 1000) - start, width=self.width,
                        height=self.height, times=tuple(round(self.times[i] - a, 6) for i in keep), motion=tuple(motion),
                        black=cut(self.black), frozen=cut(self.frozen), silent=cut(self.silent), has_audio=self.has_audio,
                        stats=tuple(self.stats[i] for i in keep), fields=tuple(fields))


# ---------------------------------------------------------------------------------------------------------- cache

_lock = threading.Lock()
_memo: OrderedDict[tuple[str, int, int], Analysis] = OrderedDict()
_busy: dict[str, threading.Lock] = {}


def cache_path(cache_dir: Path, content_id: str, start_ms: int, length_ms: int) -> Path:
    key = json.dumps([content_id, int(start_ms), int(length_ms), ANALYSIS_REVISION, ANALYSIS_WIDTH])
    return cache_dir / "analysis" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def _from_memo(content_id: str, start_ms: int, length_ms: int) -> Analysis | None:
    """An analysis of exactly this window, or the part of an analysed window that contains it."""
    with _lock:
        exact = _memo.get((content_id, start_ms, length_ms))
        if exact is not None:
            _memo.move_to_end((content_id, start_ms, length_ms))
            return exact
        around = next((an for (cid, s, n), an in reversed(_memo.items())
                       if cid == content_id and s <= start_ms and start_ms + length_ms <= s + n), None)
    if around is None:
        return None
    s = around.start_ms
    part = around.window((start_ms - s) / 1000, (start_ms + length_ms - s) / 1000)
    return attrs.evolve(part, start_ms=start_ms, length_ms=length_ms)


def _remember(content_id: str, an: Analysis) -> None:
    with _lock:
        _memo[(content_id, an.start_ms, an.length_ms)] = an
        _memo.move_to_end((content_id, an.start_ms, an.length_ms))
        while len(_memo) > MEMO_LIMIT:
            _memo.popitem(last=False)


def forget() -> None:
    """Empty the in-process memo (tests; the disk cache stays)."""
    with _lock:
        _memo.clear()


def _read_cache(path: Path, start_ms: int, length_ms: int) -> Analysis | None:
    try:
        an = Analysis.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing or corrupt: analyse again and rewrite it
    return an if (an.start_ms, an.length_ms) == (start_ms, length_ms) else None


def _write_cache(path: Path, an: Analysis) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(an.to_json(), separators=(",", ":")), encoding="utf-8")


# -------------------------------------------------------------------------------------------------------- analyse

def analyse(entry: MediaEntry, start_ms: int, length_ms: int, *, cache_dir: Path, content_id: str, what: str,
            on_progress: Callable[[Progress], None] | None = None) -> Analysis:
    """Analyse the window [start_ms, start_ms + length_ms) of a media entry (a file or a generated source).

    `content_id` names the media's content (the same bytes → the same id); the
    result is served from the process memo (this window or a larger analysed one
    around it), else the disk cache, else one FFmpeg run. FFmpeg failures raise
    the RenderError of run_ffmpeg; a still image raises MediaError.
    """
    if entry.kind == MediaKind.IMAGE:
        where = entry.path or "a generated still"
        raise MediaError(f"{where} is a still image: stills can't be analysed for motion, black, freezes or silence")
    start_ms, length_ms = int(start_ms), int(length_ms)
    if length_ms <= 0:
        raise ValueError(f"cannot analyse an empty window ({length_ms} ms)")
    with _lock:
        busy = _busy.setdefault(content_id, threading.Lock())
    # One analysis of a media at a time: a second caller for the same (or a contained) window then finds the first
    # one's result instead of running FFmpeg again. Different media still analyse in parallel.
    with busy:
        found = _from_memo(content_id, start_ms, length_ms)
        if found is not None:
            return found
        path = cache_path(cache_dir, content_id, start_ms, length_ms)
        an = _read_cache(path, start_ms, length_ms)
        if an is None:
            an = _run(entry, start_ms, length_ms, what=what, on_progress=on_progress, work_root=cache_dir / "tmp")
            _write_cache(path, an)
        _remember(content_id, an)
        return an


def _has_audio(entry: MediaEntry) -> bool:
    if entry.gen is not None:
        return generator_source(entry.gen)[1] is not None
    return entry.audio


def _has_video(entry: MediaEntry) -> bool:
    if entry.gen is not None:
        return generator_source(entry.gen)[0] is not None
    return entry.kind != MediaKind.AUDIO


def _analysed_size(entry: MediaEntry) -> tuple[int, int]:
    """The frame size after `scale=ANALYSIS_WIDTH:-2` (display orientation, as FFmpeg autorotates)."""
    w, h = (entry.gen.get("w"), entry.gen.get("h")) if entry.gen is not None else (entry.w, entry.h)
    if not (w and h) and entry.path:
        from ....media.probe import probe

        v = probe(Path(entry.path)).video
        w, h = (v.width, v.height) if v is not None else (0, 0)
    if not (w and h):
        return ANALYSIS_WIDTH, 0  # unknown height; nothing here depends on it
    return ANALYSIS_WIDTH, int(ANALYSIS_WIDTH * h / (2 * w) + 0.5) * 2  # scale's -2: the rounded height, made even


def _run(entry: MediaEntry, start_ms: int, length_ms: int, *, what: str,
         on_progress: Callable[[Progress], None] | None, work_root: Path) -> Analysis:
    """FFmpeg's measurements of the window, written to files in a work directory under `work_root` (the cache's
    `tmp/`, where a killed run's leftovers are reaped by the next analysis: media/workdir.py)."""
    video, audio = _has_video(entry), _has_audio(entry)
    if not (video or audio):
        raise MediaError(f"{what}: the media has neither picture nor sound to analyse")
    workdir.reap(work_root)
    with workdir.work_dir(work_root, "analysis") as tmp:
        vtxt, atxt, trf = (tmp.resolve() / name for name in ("video.txt", "audio.txt", "motion.trf"))
        chains, maps = [], []
        if video:
            # yuv420p right after scale: swscale converts while scaling, and every stat is 8-bit limited range; the
            # range is asked for too, so full-range footage (MJPEG's yuvj420p) has its levels converted, not relabelled
            chains.append(f"[0:v]scale={ANALYSIS_WIDTH}:-2:flags=fast_bilinear,format=pix_fmts=yuv420p:color_ranges=tv,{BLACK},{FREEZE},signalstats,"
                          f"metadata=mode=print:file={filter_value(str(vtxt))},"
                          f"{VIDSTAB}:result={filter_value(str(trf))}[v]")
            maps += ["-map", "[v]"]
        if audio:
            track = entry.audio_track(None)  # the track a clip plays by default (`[0:a]` is the first, default or not)
            source = f"0:{track.index}" if track is not None else "0:a"
            chains.append(f"[{source}]{SILENCE},ametadata=mode=print:file={filter_value(str(atxt))}[a]")
            maps += ["-map", "[a]"]
        args = [*input_args(entry, start_ms, length_ms), "-filter_complex", ";".join(chains), *maps, "-f", "null", "-"]
        _ffmpeg.run_ffmpeg(args, what=what, on_progress=on_progress)
        frames = _read_frames(vtxt) if video else []
        motions = _read_motion(trf) if video else []
        silence = _read_text(atxt) if audio else ""
    size = _analysed_size(entry) if video else (0, 0)
    return _assemble(start_ms, length_ms, size, frames, motions, silence, audio)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""  # the metadata filter writes nothing when no frame carried metadata


_FRAME = re.compile(r"^frame:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:\s*(\S+)")


def _read_frames(path: Path) -> list[tuple[float, dict[str, str]]]:
    """metadata=mode=print output → [(pts_time, {key: value})] per frame."""
    frames: list[tuple[float, dict[str, str]]] = []
    for line in _read_text(path).splitlines():
        m = _FRAME.match(line)
        if m:
            try:
                t = float(m.group(3))
            except ValueError:
                t = math.nan
            frames.append((t, {}))
        elif frames and "=" in line:
            key, _, value = line.strip().partition("=")
            frames[-1][1][key] = value
    return frames


_TRF_FRAME = re.compile(r"^Frame\s+(\d+)\s+\(List\s+\d+\s+\[(.*)\]\)")
_LM = re.compile(r"\(LM\s+(-?[\d.]+)\s+(-?[\d.]+)\s")


def _read_motion(path: Path) -> list[tuple[float, float, int]]:
    """vid.stab's ascii transforms → per frame (1-based in the file) the median local motion (dx, dy) in pixels, and
    how many local motions there were."""
    out: list[tuple[float, float, int]] = []
    for line in _read_text(path).splitlines():
        m = _TRF_FRAME.match(line)
        if not m:
            continue
        n = int(m.group(1))
        while len(out) < n - 1:  # a frame the file skipped: no motion found
            out.append((0.0, 0.0, 0))
        local = _LM.findall(m.group(2))
        if local:
            out.append((statistics.median(float(x) for x, _ in local), statistics.median(float(y) for _, y in local),
                        len(local)))
        else:
            out.append((0.0, 0.0, 0))
    return out


def _spans(events: list[tuple[float, str]], start_key: str, end_key: str, end: float) -> tuple[Span, ...]:
    """start/end events (value, key) in order → [start, end) spans; an unterminated one runs to `end`."""
    spans: list[Span] = []
    open_at: float | None = None
    for value, key in events:
        if key == start_key:
            if open_at is None:
                open_at = value
        elif key == end_key and open_at is not None:
            spans.append((open_at, value))
            open_at = None
    if open_at is not None:  # blackdetect and silencedetect only log a span still open at EOF; freezedetect says nothing
        spans.append((open_at, end))
    clamped = [(max(0.0, min(a, end)), max(0.0, min(b, end))) for a, b in spans]
    return tuple((a, b) for a, b in clamped if b > a)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _assemble(start_ms: int, length_ms: int, size: tuple[int, int], frames: list[tuple[float, dict[str, str]]],
              motions: list[tuple[float, float, int]], silence: str, has_audio: bool) -> Analysis:
    end = length_ms / 1000
    times = [t for t, _ in frames]
    # pts_time with input seeking starts at ~0 (checked for files and lavfi sources); re-base if it ever does not
    finite = [t for t in times if math.isfinite(t)]
    offset = min(finite[0], 0.0) if finite else 0.0
    for i, t in enumerate(times):
        if not math.isfinite(t):  # a frame without a timestamp: one frame after the previous
            times[i] = times[i - 1] + 1 / 30 if i else offset
    times = [t - offset for t in times]

    black: list[tuple[float, str]] = []
    frozen: list[tuple[float, str]] = []
    stats: list[tuple[float, ...]] = []
    for _, meta in frames:
        for key, events in (("lavfi.black_start", black), ("lavfi.black_end", black),
                            ("lavfi.freezedetect.freeze_start", frozen), ("lavfi.freezedetect.freeze_end", frozen)):
            if key in meta and (v := _number(meta[key])) is not None:
                events.append((v - offset, key))
        row = []
        for name in STATS:
            v = _number(meta.get(f"lavfi.signalstats.{name}", ""))
            row.append(v if v is not None else (stats[-1][len(row)] if stats else 0.0))
        stats.append(tuple(row))
    motion, fields = [], []
    for i in range(len(frames)):
        dx, dy, n = motions[i] if 0 < i < len(motions) else (0.0, 0.0, 0)
        motion.append((dx / ANALYSIS_WIDTH, dy / ANALYSIS_WIDTH))
        fields.append(n)

    silent: list[tuple[float, str]] = []
    for line in silence.splitlines():
        key, _, value = line.strip().partition("=")
        if key in ("lavfi.silence_start", "lavfi.silence_end") and (v := _number(value)) is not None:
            silent.append((v - offset, key))
    return Analysis(start_ms=start_ms, length_ms=length_ms, width=size[0], height=size[1], times=tuple(times),
                    motion=tuple(motion), black=_spans(black, "lavfi.black_start", "lavfi.black_end", end),
                    frozen=_spans(frozen, "lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end", end),
                    silent=_spans(silent, "lavfi.silence_start", "lavfi.silence_end", end), has_audio=has_audio,
                    stats=tuple(stats), fields=tuple(fields))
