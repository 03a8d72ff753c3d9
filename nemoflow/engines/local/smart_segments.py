"""Smart rendering in a split export: a segment that only shows plain cuts of files the output can carry as they are
is not rendered; the join copies its frames from those files, as a smart cut does for a whole export.

Which segments (`copy_pieces`): the slice's picture (chunked.picture_only) passes the whole-export smart cut's rules
(export.py `_smartcut_pieces`: no text, layer, effect, fade, transition, still or speed change; H.264 at the output's
size and rate, yuv420p, no rotation), and each file is what a rendered segment is too, so both can live in one H.264
track: High profile (media/encode.py renders High), square pixels, a time base in which every frame lasts whole ticks
(so timestamps stay exact), parameter-set ids other than the segments' own.

The join (`join_pieces`, `smart_join`): smartcut.smart_cut with the rendered segment files and the copied source ranges
as its pieces. Adjacent ranges of one file (a long clip over several segments) become one piece, so only the ends of a
copied run that do not start on an IDR frame, or end before a GOP does, are re-encoded. The track's avcC lists every
parameter set under its own id: rendered segments are encoded with x264's `sps-id` = SEGMENT_SPS_ID and `stitchable`
(`with_segment_headers`), the re-encoded ends with an id nobody uses (smartcut.py explains why). smart_cut wants one time
base: rendered segments in another one are re-muxed (stream copy) into the copied files' first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import attrs

from ...core.frames import exact_rate, frame_index
from ...draft.model import Draft
from ...draft.output import Output
from ...media.encode import X264_PARAMS, X264_QUALITY
from ...media.ffmpeg import Progress, ffmpeg_path, run_ffmpeg
from . import smartcut
from .smartcut import Piece, SmartCutReport

SEGMENT_SPS_ID = 31
"""The H.264 SPS/PPS id of every rendered segment (x264 `sps-id`). Encoders number theirs 0, so a segment's
parameter sets never take a source's id and one avcC can hold both (smartcut.py, "The parameter-set problem")."""
SEGMENT_X264_PARAMS = f"sps-id={SEGMENT_SPS_ID}:stitchable=1"
_SAME_FRAME = Fraction(1, 4)  # of a frame: two range ends closer than this are the same frame boundary


def with_segment_headers(args: list[str], out: Output) -> list[str]:
    """A rendered H.264 segment's FFmpeg arguments with x264's `sps-id` and `stitchable` added to any -x264-params the
    quality sets: every segment gets the same headers, under an id no source uses, so a join may copy source frames
    beside it. Other codecs: unchanged."""
    if out.codec != "h264" or "libx264" not in args:
        return args
    args = list(args)
    if "-x264-params" in args:
        at = args.index("-x264-params") + 1
        args[at] = f"{args[at]}:{SEGMENT_X264_PARAMS}"
    else:
        at = args.index("libx264") + 1
        args[at:at] = ["-x264-params", SEGMENT_X264_PARAMS]
    return args


def copy_pieces(piece: Draft, video_out: Output) -> tuple[Piece, ...] | None:
    """The source ranges that show this slice's picture exactly, when they can be copied into the split render's
    track; None when the slice must be rendered. `piece` is a slice as far as its picture depends on it, `video_out`
    the output without sound."""
    from .export import _smartcut_pieces

    if video_out.codec != "h264" or video_out.crf == 0 or video_out.bitrate:  # crf 0 renders High 4:4:4
        return None
    if X264_QUALITY.get(video_out.quality, ("",))[0] == "ultrafast" and video_out.quality not in X264_PARAMS:
        return None  # bare ultrafast (a preview) is Constrained Baseline: no High profile file can sit beside it
    pieces = _smartcut_pieces(piece, attrs.evolve(video_out, audio="none"))
    if not pieces:
        return None
    rate = exact_rate(video_out.fps)
    if sum(round((Fraction(p.end) - Fraction(p.start)) * rate) for p in pieces) != frame_index(piece.d, rate):
        return None  # not the slice's frames one for one (never seen: the graph's rule and smart cut's agree)
    for p in pieces:
        if _unfit(p.path) is not None:
            return None
    if smartcut.incompatibility(pieces, audio=False) is not None:
        return None
    return tuple(pieces)


def _unfit(path: Path) -> str | None:
    """Why a file's frames cannot be copied beside rendered segments (None: they can)."""
    try:
        src = smartcut._probe(path)
    except (smartcut._Unsuitable, OSError) as exc:
        return str(exc)
    if smartcut._X264_PROFILES[src.profile] != "high":
        return f"{path.name} is H.264 {src.profile}; the render is High profile"
    if src.pix_fmt != "yuv420p":
        return f"{path.name} is {src.pix_fmt}"
    if (src.sar or 1) != 1:
        return f"{path.name} has non-square pixels"
    if src.frame_ticks.denominator != 1 or src.time_base.numerator != 1:
        return f"{path.name}'s time base ({src.time_base}) does not count its frames in whole ticks"
    if any(ident == SEGMENT_SPS_ID for _, ident in src.avcc.sets()):
        return f"{path.name} uses the parameter-set id of the rendered segments"
    return None


def time_base(pieces: Sequence[Piece]) -> Fraction:
    return smartcut._probe(pieces[0].path).time_base


def keep_joinable(copies: dict[int, tuple[Piece, ...]]) -> dict[int, tuple[Piece, ...]]:
    """The copies that can share one track: the same time base as the first (smart_cut keeps one) and parameter sets
    that do not clash with an earlier file's under the same id (one avcC holds them all). The others are rendered."""
    kept: dict[int, tuple[Piece, ...]] = {}
    sources: dict[Path, smartcut._Source] = {}
    base: Fraction | None = None
    for n in sorted(copies):
        found = {p.path: smartcut._probe(p.path) for p in copies[n]}
        if base is None:
            base = next(iter(found.values())).time_base
        if any(src.time_base != base for src in found.values()):
            continue
        trial = {**sources, **found}
        copyable, _ = smartcut._choose_sets(trial)
        if set(trial) <= copyable:
            sources = trial
            kept[n] = copies[n]
    return kept


@attrs.frozen
class JoinPart:
    """One segment at the join: its rendered file (and frame count), or the source ranges it is copied from."""

    frames: int
    rendered: Path | None = None
    copied: tuple[Piece, ...] = ()


def join_pieces(parts: Sequence[JoinPart], fps: float, work: Path, *, what: str) -> list[Piece]:
    """smart_cut's pieces for the whole programme: rendered segments whole (re-muxed into the copied files' time base
    when theirs differs), copied ranges as they are, adjacent ranges of one file merged into one."""
    rate = exact_rate(fps)
    copied = [p for part in parts for p in part.copied]
    base = time_base(copied) if copied else None
    pieces: list[Piece] = []
    for n, part in enumerate(parts):
        if part.rendered is not None:
            path = part.rendered
            if base is not None and _time_base_of(path) != base:
                path = work / f"segment{n:04d}.mp4"  # a time scale of `base.denominator` (1/N: `_unfit`)
                run_ffmpeg(["-i", ffmpeg_path(part.rendered), "-map", "0:v:0", "-c", "copy", "-video_track_timescale",
                            str(base.denominator), "-f", "mp4", "-y", str(path)], what=f"{what} (segment {n + 1})")
            pieces.append(Piece(path, 0.0, float(Fraction(part.frames) / rate)))
            continue
        for p in part.copied:
            last = pieces[-1] if pieces else None
            if (last is not None and last.path == p.path and last.audio_stream == p.audio_stream
                    and abs(Fraction(p.start) - Fraction(last.end)) * rate < _SAME_FRAME):
                pieces[-1] = attrs.evolve(last, end=p.end)
            else:
                pieces.append(p)
    return pieces


def _time_base_of(path: Path) -> Fraction:
    import av

    with av.open(ffmpeg_path(path), options={"probesize": "32"}) as container:
        return Fraction(container.streams.video[0].time_base)


def smart_join(pieces: Sequence[Piece], dest: Path, work: Path, *, crf: int,
               on_progress: Callable[[Progress], None] | None = None) -> SmartCutReport:
    """The programme's picture, rendered segments and copied ranges in one H.264 track at `dest` (MP4, no sound)."""
    return smartcut.smart_cut(pieces, dest, audio=False, crf=crf, on_progress=on_progress, work_root=work)
