"""A long export rendered in segments (chunked encoding), each cached by its content (incremental re-render).

The timeline is cut at frame-exact instants away from anything that moves (draft/slice.py `cut_points`); each
segment is a time slice of the Draft rendered on its own, picture only, with the export's encoder settings (a new
encode starts on an IDR frame, closed GOP), through `spread.current()` so an executor may send the segments to other
processes or machines. The sound is rendered once for the whole timeline by the same graph as a single-process render
(so it is the same samples, the same AAC packets, and no priming gap at a join), and the pieces are joined by stream
copy and muxed into the destination atomically. A segment that only shows plain cuts of files the output can carry
as they are is not rendered: its frames are copied from them, and the join is then a smart cut (smart_segments.py).

A segment's file is `cache_dir/segments/<key>.mp4`, the key being the canonical JSON of its slice (picture only),
the output settings, the engine revision, the FFmpeg build and the identities of the files it reads. Change one title
and only the segments it shows in are rendered again; a killed run resumes with the segments it finished.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ...config import setting
from ...core import spread
from ...core.model import ExportSpec, Step
from ...draft.model import AUDIO, TEXT, VIDEO, Draft
from ...draft.output import Output
from ...draft.slice import cut_points, slice_draft, spans_of
from ...errors import ConfigError, RenderError
from ...media import workdir
from ...media.encode import X264_QUALITY, video_args
from ...media.ffmpeg import atomic_output, ffmpeg_path, ffmpeg_version, run_ffmpeg
from ...media.timing import exact_rate, frame_index
from ..base import Message, Reporter, ffmpeg_progress
from . import smart_segments, smartcut
from .graph import build_command
from .smartcut import Piece

SPLIT_REVISION = 1  # in every segment's key: bump when a segment of the same slice would be rendered differently
DEFAULT_THRESHOLD_S = 60.0  # `auto` splits exports longer than this
DEFAULT_SEGMENT_S = 10.0  # about this long each (the grid the cuts are chosen near)
MODES = ("auto", "on", "off")
SEGMENT_CODECS = ("h264", "hevc")
SEGMENT_CONTAINERS = ("mp4", "mov", "mkv")
# audio-only keys of a clip or layer: the picture does not depend on them, so they stay out of a segment's key
_SOUND_KEYS = ("volume", "weight", "track")


@attrs.frozen
class SplitSettings:
    """Whether and how an export is split: `--split`/`--no-split` (engine option `split`), else `[local] split` or
    NEMOFLOW_SPLIT; `split_threshold` and `split_segment` (seconds) likewise."""

    mode: str = "auto"
    threshold_s: float = DEFAULT_THRESHOLD_S
    segment_s: float = DEFAULT_SEGMENT_S

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> SplitSettings:
        mode = str(options.get("split") or setting("local", "split", env="NEMOFLOW_SPLIT", default="auto")).lower()
        mode = {"true": "on", "false": "off", "yes": "on", "no": "off"}.get(mode, mode)
        if mode not in MODES:
            raise ConfigError(f"split mode `{mode}` is not one of auto, on, off (from --split/--no-split, `[local] split` "
                              "or NEMOFLOW_SPLIT)")
        threshold = _seconds(options, "split_threshold", "NEMOFLOW_SPLIT_THRESHOLD", DEFAULT_THRESHOLD_S)
        segment = _seconds(options, "split_segment", "NEMOFLOW_SPLIT_SEGMENT", DEFAULT_SEGMENT_S)
        return cls(mode, threshold, segment)


def _seconds(options: Mapping[str, str], key: str, env: str, default: float) -> float:
    raw = options.get(key) or setting("local", key, env=env, default=default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not value > 0 or value > 86_400:
        raise ConfigError(f"`{key}` must be a number of seconds above 0 (from the engine options, `[local] {key}` or "
                          f"{env}); got {raw!r}")
    return value


def why_not(draft: Draft, out: Output) -> str | None:
    """Why this export cannot be split (None: it can). Segments are joined by stream copy, which needs a codec and
    a container that carry independent closed-GOP pieces; GIF and WebP are one palette or one animation."""
    if out.codec not in SEGMENT_CODECS or out.container not in SEGMENT_CONTAINERS:
        return f"a {out.codec} {out.container} export is rendered in one piece (split renders make H.264 or HEVC in MP4, MOV or MKV)"
    if out.has_audio and out.audio != "aac":
        return f"{out.audio} sound is rendered in one piece"
    return None


def planned_spans(draft: Draft, out: Output, settings: SplitSettings) -> list[tuple[int, int]] | None:
    """The segments to render, or None for a single-process render (short, `off`, no allowed cut, not splittable)."""
    if settings.mode == "off" or (settings.mode == "auto" and draft.d <= settings.threshold_s * 1000):
        return None
    if why_not(draft, out) is not None:
        return None
    spans = spans_of(draft, cut_points(draft, out.fps, round(settings.segment_s * 1000), centiseconds=_libass_text(draft)))
    return spans if len(spans) > 1 else None


def _libass_text(draft: Draft) -> bool:
    """Whether some text is drawn by libass (text.py's rule), whose times are whole centiseconds: cuts must be too."""
    from .text import _LAYOUT_KEYS, missing_glyphs

    for seg in draft.segments(TEXT):
        style = seg.m.get("style") or {}
        if any(style.get(k) is not None for k in _LAYOUT_KEYS):
            return True
        if not style.get("font") and missing_glyphs(seg.m["text"], bold=style.get("role") == "title"):
            return True
    return False


# -- segments ---------------------------------------------------------------------------------------------------


@attrs.frozen
class SegmentJob:
    """One segment to render: everything a worker needs, picklable (JSON text and paths)."""

    key: str
    draft_json: str  # the slice, picture only (canonical JSON)
    output_json: str
    dest: Path  # cache_dir/segments/<key>.mp4
    cache_dir: Path
    transforms: tuple[tuple[int, str], ...]  # stabilized clips of the slice: clip index -> transforms file
    what: str
    seconds: float


@attrs.frozen
class SegmentDone:
    key: str
    path: Path
    rendered: bool  # False: the file was already there (another run, or another worker, made it)


@attrs.frozen
class SoundJob:
    """The programme's sound, rendered once for the whole timeline: a part of the same spread as the segments (first,
    being the longest), so a cluster renders it beside them instead of after them."""

    key: str
    draft_json: str  # the whole draft without text (text never changes the sound)
    output_json: str
    dest: Path  # cache_dir/sound/<key>.m4a
    cache_dir: Path
    loudness: tuple[str, ...]
    what: str
    seconds: float


_PROGRESS: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar("nemoflow_segment_progress", default=None)


def segment_args(out: Output) -> list[str]:
    """Options every segment adds: a closed GOP (each starts on an IDR frame anyway, as a new encode), so no frame
    refers across a join; and one MP4 time scale for all, whatever time base its graph ended in (a segment with a
    transition counts in frames, one without in FFmpeg's default), because the concat demuxer copies timestamps in
    the first file's scale."""
    return ["-flags", "+cgop", "-video_track_timescale", str(timescale(out.fps))]  # x265: `open-gop=0` (render_segment)


def timescale(fps: float) -> int:
    """A time scale (ticks per second) in which every frame of `fps` lasts a whole number of ticks, about 10000+."""
    num = exact_rate(fps).numerator
    return num * max(1, 10_000 // num)


def render_part(job: SegmentJob | SoundJob) -> SegmentDone:
    """What the spreader runs: a segment's picture or the programme's sound (module level, so it pickles by name)."""
    return render_sound(job) if isinstance(job, SoundJob) else render_segment(job)


def render_segment(job: SegmentJob) -> SegmentDone:
    """Render one slice to its cache file, atomically; a file already there is used as it is (same key, same
    content). Runs wherever the spreader sends it: it reads only the job and the files it names."""
    if job.dest.is_file() and job.dest.stat().st_size > 0:
        return SegmentDone(job.key, job.dest, rendered=False)
    draft = Draft.from_json(json.loads(job.draft_json))
    out = Output(**json.loads(job.output_json))
    transforms = {i: Path(p) for i, p in job.transforms}
    job.dest.parent.mkdir(parents=True, exist_ok=True)
    # written in a locked work directory and renamed into place: a killed worker leaves no file under a key's name,
    # and its directory is reaped by the next run (media/workdir.py), on whichever machine that runs
    with workdir.work_dir(job.dest.parent, "segment") as work:
        tmp = work / "segment.mp4"
        cmd = build_command(draft, out, tmp, what=job.what, cache_dir=job.cache_dir, transforms=transforms, work=work)
        args = list(cmd.args)
        if out.codec == "hevc" and "log-level=error" in args:
            args[args.index("log-level=error")] = "log-level=error:open-gop=0"
        at = len(args) - 1 - args[::-1].index("-t")
        args[at:at] = segment_args(out)
        args = smart_segments.with_segment_headers(args, out)
        if os.environ.get("NEMOFLOW_DEBUG"):
            print("ffmpeg " + " ".join(args), flush=True)
        progress = _PROGRESS.get()
        run_ffmpeg(args, what=job.what, on_progress=progress.segment if progress is not None else None)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RenderError(f"{job.what}: FFmpeg reported success but wrote nothing; nothing was saved")
        os.chmod(tmp, 0o644)
        os.replace(tmp, job.dest)
    return SegmentDone(job.key, job.dest, rendered=True)


def picture_only(draft: Draft) -> Draft:
    """The slice as far as its picture depends on it: no sound track, no clip levels, no loudness, no name, and only
    the media it shows (so a new music bed or a louder clip re-renders no segment)."""
    def quiet(seg):
        m = {k: v for k, v in seg.m.items() if k not in _SOUND_KEYS}
        if isinstance(m.get("caption"), dict):  # a cue's number and file name only label messages: not its picture
            m["caption"] = {k: v for k, v in m["caption"].items() if k not in ("cue", "source")}
        return attrs.evolve(seg, m=m)

    tracks = [attrs.evolve(tr, sg=tuple(quiet(s) for s in tr.sg)) for tr in draft.t if tr.tt != AUDIO]
    used = {s.m["src"] for tr in tracks if tr.tt == VIDEO for s in tr.sg}
    m = {k: v for k, v in draft.m.items() if k not in ("loudness", "name", "output", "next_tr", "caption_notes")}
    m["media"] = {k: v for k, v in draft.media.items() if k in used}
    return attrs.evolve(draft, t=tuple(tracks), m=m)


def _files_read(draft: Draft) -> list[Any]:
    """The identities of the files a slice's picture reads: media, LUTs, font files (path, size, mtime)."""
    from .export import content_id

    found: list[Any] = [content_id(draft.media_entry(k)) for k in sorted(draft.media)]
    paths = set()
    for tr in draft.t:
        for seg in tr.sg:
            paths |= {e["lut"] for e in seg.m.get("fx", []) if e.get("lut")}
            font = (seg.m.get("style") or {}).get("font") or ((seg.m.get("caption") or {}).get("style") or {}).get("font")
            if font and tr.tt == TEXT:  # a title's, or a caption's (media/captions.py)
                paths.add(font)
    for p in sorted(paths):
        try:
            st = Path(p).stat()
            found.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            found.append([p, None])
    return found


def segment_key(piece: Draft, video_out: Output, transforms: dict[int, Path]) -> str:
    from .engine import ENGINE_REVISION

    parts = [SPLIT_REVISION, ENGINE_REVISION, ffmpeg_version(), piece.to_json(), video_out.to_json(), _files_read(piece),
             sorted((i, p.name) for i, p in transforms.items())]
    if video_out.codec == "h264":  # their headers (smart_segments.with_segment_headers): new keys for H.264 segments only
        parts.append(smart_segments.SEGMENT_X264_PARAMS)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()[:32]


@attrs.frozen
class SplitResult:
    segments: int
    rendered: int
    reused: int
    copied: int = 0  # segments copied from their sources (smart_segments.py), neither rendered nor reused
    copied_s: float = 0.0  # seconds of those copied as they are
    reencoded_s: float = 0.0  # and re-encoded where a copied run starts or ends between keyframes

    def detail(self) -> str:
        text = f"split into {self.segments} segments: {self.rendered} rendered, {self.reused} reused"
        if self.copied:
            text += (f", {self.copied} copied from the source ({self.copied_s:.1f}s copied, {self.reencoded_s:.1f}s "
                     "re-encoded at keyframe edges)")
        return text


def split_render(step: Step[ExportSpec], draft: Draft, out: Output, spans: list[tuple[int, int]], report: Reporter,
                 cache_dir: Path, *, stabilize: Callable[[Draft], dict[int, Path]], loudness: tuple[str, ...] = ()
                 ) -> SplitResult:
    """Render `draft` to the step's file in segments `spans` (see the module's docstring)."""
    dest = step.spec.path
    video_out = attrs.evolve(out, audio="none", volume=100.0)
    seg_dir = cache_dir / "segments"
    seg_dir.mkdir(parents=True, exist_ok=True)
    workdir.reap(seg_dir)
    jobs: list[SegmentJob] = []
    copies: dict[int, tuple[Piece, ...]] = {}  # segments shown as they are in their sources: copied, not rendered
    copying = copy_enabled()
    for n, (a, b) in enumerate(spans, 1):
        piece = picture_only(slice_draft(draft, a, b, fps=out.fps))
        transforms = stabilize(piece)
        key = segment_key(piece, video_out, transforms)
        jobs.append(SegmentJob(key, json.dumps(piece.to_json(), sort_keys=True), json.dumps(attrs.asdict(video_out)),
                               seg_dir / f"{key}.mp4", cache_dir, tuple((i, str(p)) for i, p in sorted(transforms.items())),
                               f"{step.id} (segment {n}/{len(spans)}, {a / 1000:g}-{b / 1000:g}s)", (b - a) / 1000))
        if copying and (found := smart_segments.copy_pieces(piece, video_out)) is not None:
            copies[n - 1] = found
    copies = smart_segments.keep_joinable(copies) if copies else {}
    missing: list[SegmentJob | SoundJob] = [j for n, j in enumerate(jobs) if n not in copies and not _have(j.dest)]
    total = sum(j.seconds for j in missing)
    sound = _sound_job(step, draft, out, cache_dir, loudness) if out.has_audio else None
    sound_missing = sound is not None and not _have(sound.dest)
    report.message(Message.NOTE, f"split into {len(jobs)} segments at "
                   + ", ".join(f"{a / 1000:g}s" for a, _ in spans[1:]) + f"; {len(missing)} to render, "
                   f"{len(jobs) - len(copies) - len(missing)} cached"
                   + (f"; {len(copies)} copied from the source" if copies else "")
                   + ("; the sound to render" if sound_missing else ""))
    if sound is not None and sound_missing:
        missing.insert(0, sound)
    rendered = _render_parts(step, report, missing, total, sound)
    rate = exact_rate(out.fps)
    frames = [frame_index(b, rate) - frame_index(a, rate) for a, b in spans]
    with atomic_output(dest) as tmp, workdir.work_dir(dest.parent, "join") as work:
        joined: smartcut.SmartCutReport | None = None
        if copies:
            made = _copying_join(step, draft, out, jobs, copies, frames, work, report)
            if isinstance(made, str):  # never seen: a rendered segment reads otherwise than planned; render the rest
                report.message(Message.NOTE, f"no segment copied from the source ({made}): all are rendered")
                rendered += _render_parts(step, report, [j for n, j in enumerate(jobs) if n in copies and not _have(j.dest)],
                                          sum(jobs[n].seconds for n in copies), None)
                copies = {}
            else:
                video, joined = made
                inputs = ["-i", ffmpeg_path(video)]
        if joined is None:
            listing = work / "segments.txt"
            listing.write_text("ffconcat version 1.0\n"
                               + "".join(f"file {_concat_quote(ffmpeg_path(j.dest))}\n" for j in jobs), encoding="utf-8")
            inputs = ["-f", "concat", "-safe", "0", "-i", str(listing)]
        maps = ["-map", "0:v:0"]
        if sound is not None:
            inputs += ["-i", ffmpeg_path(sound.dest)]
            maps += ["-map", "1:a:0"]
        muxer = {"mp4": ["-movflags", "+faststart", "-f", "mp4"], "mov": ["-movflags", "+faststart", "-f", "mov"],
                 "mkv": ["-f", "matroska"]}[out.container]
        tag = ["-tag:v", "hvc1"] if out.codec == "hevc" and out.container in ("mp4", "mov") else []
        if out.container in ("mp4", "mov"):
            tag += ["-video_track_timescale", str(timescale(out.fps))]
        run_ffmpeg([*inputs, *maps, "-c", "copy", *tag, *muxer, "-y", str(tmp)], what=f"{step.id} (joining segments)")
    if joined is None:
        return SplitResult(len(jobs), rendered, len(jobs) - rendered)
    copied_s = sum(frames[n] for n in copies) / float(rate)
    reencoded = min(joined.reencoded_seconds, copied_s)
    return SplitResult(len(jobs), rendered, len(jobs) - len(copies) - rendered, len(copies), copied_s - reencoded, reencoded)


def _copying_join(step: Step, draft: Draft, out: Output, jobs: list[SegmentJob], copies: dict[int, tuple[Piece, ...]],
                  frames: list[int], work: Path, report: Reporter) -> tuple[Path, smartcut.SmartCutReport] | str:
    """The programme's picture as one H.264 track in `work`: rendered segments and the copied ranges of the others,
    joined by smart cut (smart_segments.py); or why they cannot share one track."""
    parts = [smart_segments.JoinPart(frames[n], copied=copies[n]) if n in copies
             else smart_segments.JoinPart(frames[n], rendered=j.dest) for n, j in enumerate(jobs)]
    pieces = smart_segments.join_pieces(parts, out.fps, work, what=f"{step.id} (joining segments)")
    reason = smartcut.incompatibility(pieces, audio=False)
    if reason is not None:
        return reason
    video = work / "video.mp4"
    crf = out.crf if out.crf is not None else X264_QUALITY[out.quality][1]
    done = smart_segments.smart_join(pieces, video, work, crf=crf,
                                     on_progress=ffmpeg_progress(report, draft.d / 1000, "join (copying)"))
    return video, done


def copy_enabled() -> bool:
    """Whether segments may be copied from their sources (smart rendering): `[local] split_copy` or NEMOFLOW_SPLIT_COPY,
    on by default; off renders every segment (one encoder's settings over the whole picture)."""
    raw = setting("local", "split_copy", env="NEMOFLOW_SPLIT_COPY", default=True)
    value = {"1": True, "true": True, "on": True, "yes": True, "0": False, "false": False, "off": False, "no": False
             }.get(str(raw).lower())
    if value is None:
        raise ConfigError(f"`split_copy` must be on or off (from `[local] split_copy` or NEMOFLOW_SPLIT_COPY); got {raw!r}")
    return value


def _have(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _render_parts(step: Step, report: Reporter, missing: list[SegmentJob | SoundJob], total: float,
                  sound: SoundJob | None) -> int:
    """Render the parts through the installed spreader; returns how many segments (not the sound) were rendered."""
    if not missing:
        return 0
    token = _PROGRESS.set(_Progress(report, total, sound.seconds if sound is not None else 0.0))
    try:
        done = spread.current().map(render_part, missing, label=step.id)
    finally:
        _PROGRESS.reset(token)
    return sum(1 for d in done if d.rendered and not d.key.startswith("sound:"))


class _Progress:
    """Parts rendered in this process report as two phases: the segments (seconds of picture done out of those to
    render) and the sound (seconds of the programme)."""

    def __init__(self, report: Reporter, total: float, sound_s: float) -> None:
        self.report, self.total, self.sound_s, self.base, self.last = report, total, sound_s, 0.0, 0.0

    def segment(self, p: Any) -> None:
        if p.seconds < self.last:  # a new segment began
            self.base += self.last
        self.last = p.seconds
        self.report.progress(min(self.base + p.seconds, self.total), self.total, "render (segments)", fps=p.fps,
                             speed=p.speed)

    def sound(self, p: Any) -> None:
        self.report.progress(min(p.seconds, self.sound_s), self.sound_s, "render (sound)", fps=p.fps, speed=p.speed)


def _concat_quote(path: str) -> str:
    return "'" + path.replace("'", "'\\''") + "'"


def _sound_job(step: Step, draft: Draft, out: Output, cache_dir: Path, loudness: tuple[str, ...]) -> SoundJob:
    """The programme's sound as a job, keyed by its render command (with the files it reads, the FFmpeg build and the
    engine revision): a change to a title or a grade renders no sound again."""
    from .engine import ENGINE_REVISION
    from .export import _measuring_size, content_id

    quiet = draft.with_segments(TEXT, []) if draft.track(TEXT) is not None else draft
    probe = build_command(quiet, _measuring_size(out), Path("sound.m4a"), what=step.id, cache_dir=cache_dir,
                          loudness=loudness, stand_in=True)
    key = hashlib.sha256(json.dumps([SPLIT_REVISION, ENGINE_REVISION, ffmpeg_version(), probe.args,
                                     [content_id(quiet.media_entry(k)) for k in sorted(quiet.media)]],
                                    sort_keys=True, default=str).encode()).hexdigest()[:32]
    return SoundJob(f"sound:{key}", json.dumps(quiet.to_json(), sort_keys=True), json.dumps(attrs.asdict(out)),
                    cache_dir / "sound" / f"{key}.m4a", cache_dir, tuple(loudness), f"{step.id} (sound)", draft.d / 1000)


def render_sound(job: SoundJob) -> SegmentDone:
    """Render the programme's sound to its cache file, atomically (as `render_segment` does for a picture)."""
    if job.dest.is_file() and job.dest.stat().st_size > 0:
        return SegmentDone(job.key, job.dest, rendered=False)
    quiet = Draft.from_json(json.loads(job.draft_json))
    out = Output(**json.loads(job.output_json))
    job.dest.parent.mkdir(parents=True, exist_ok=True)
    with workdir.work_dir(job.dest.parent, "sound") as work:
        made = work / "sound.m4a"
        progress = _PROGRESS.get()
        _render_sound(job.what, quiet, out, made, job.cache_dir, work, job.loudness,
                      progress.sound if progress is not None else None)
        if not made.is_file() or made.stat().st_size == 0:
            raise RenderError(f"{job.what}: FFmpeg reported success but wrote nothing; nothing was saved")
        os.chmod(made, 0o644)
        os.replace(made, job.dest)
    return SegmentDone(job.key, job.dest, rendered=True)


def _render_sound(what: str, quiet: Draft, out: Output, dest: Path, cache_dir: Path, work: Path,
                  loudness: tuple[str, ...], on_progress: Callable[[Any], None] | None) -> None:
    """The programme's sound, once, by the single-process render's own graph and encoder arguments: its picture (a
    stand-in of as many frames per clip, graph.py `stand_in`: no source frame decoded) goes to FFmpeg's null muxer,
    its sound to `dest`."""
    from .export import _measuring_size

    small = _measuring_size(out)
    cmd = build_command(quiet, small, dest, what=what, cache_dir=cache_dir, work=work, loudness=loudness, stand_in=True)
    args = list(cmd.args)
    try:
        at = args.index("-map")
        vmap, amap = args[at + 1], args[at + 3]
        if args[at + 2] != "-map":
            raise ValueError("one -map")
        rest = args[at + 4:]
        vargs = video_args(small)
        if rest[:len(vargs)] != vargs:
            raise ValueError("video arguments")
        rest = rest[len(vargs):]
        t = rest.index("-t")
        audio, duration = rest[:t], rest[t + 1]
    except ValueError as err:  # graph.build_command changed shape: refuse rather than mux the wrong sound
        raise RenderError(f"{what}: the split render could not separate the sound of the render command ({err}); "
                          "render it in one piece with --no-split") from None
    args = [*args[:at], "-map", vmap, "-c:v", "wrapped_avframe", "-f", "null", "-",
            "-map", amap, *audio, "-t", duration, "-f", "mp4", "-y", str(dest)]
    run_ffmpeg(args, what=what, on_progress=on_progress)
