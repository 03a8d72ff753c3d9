"""How the local engine makes an export: a smart cut when the timeline is plain cuts of files it can copy, else one filter graph.

Either way the file appears at its destination only when complete. Stabilized
clips get their first (analysis) pass here, cached by content.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from ...core import units
from ...core.model import ExportSpec, Step
from ...draft import mix
from ...draft.captions import caption_notes
from ...draft.layers import has_layers
from ...draft.media import MediaEntry, MediaKind
from ...draft.model import AUDIO, TEXT, VIDEO, Draft
from ...draft.output import Output
from ...draft.transitions import transition_notes
from ...errors import DraftError
from ...media import captions as subs
from ...media import loudness as _loudness
from ...media import workdir
from ...media.encode import audio_args
from ...media.ffmpeg import atomic_output, ffmpeg_version, run_ffmpeg
from ...media.timing import exact_rate, first_source_frame, frame_index
from ..base import Message, Reporter, ffmpeg_progress
from . import chunked
from .captions import script_file
from .channels import stereo_filters, track_notes
from .chunked import SplitSettings
from .graph import build_command, detect_command, late_start
from .text import text_notes


@attrs.frozen
class ExportResult:
    step: str
    path: Path
    method: str  # "render" | "smartcut"
    duration: float
    output: Output
    detail: str = ""
    captions: dict[str, Any] = attrs.field(factory=dict)  # burned: the ASS script and cues (`expect caption`); soft: count

    def summary(self) -> str:
        how = f"smart cut: {self.detail}" if self.method == "smartcut" else f"{self.output.codec}, {self.output.quality}"
        if self.method == "render" and self.detail:
            how += f", {self.detail}"
        return f"{self.duration:.1f}s at {self.output.width}x{self.output.height}, {how}"

    def to_json(self) -> dict[str, Any]:
        out = {"method": self.method, "duration": self.duration, "detail": self.detail, "output": self.output.to_json()}
        return {**out, "captions": self.captions} if self.captions else out


def export(step: Step[ExportSpec], draft: Draft, out: Output, report: Reporter, cache_dir: Path,
           split: SplitSettings | None = None) -> ExportResult:
    """Render `draft` to the step's file: by smart cut when the timeline allows it, else one filter graph.

    Intermediate files (a smart cut's pieces, title text, a long filter graph) go in a hidden, locked work
    directory beside the output: on the disk the output needs anyway (a smart cut's video track is as big as
    the output), not in the state directory, whose being full must not fail a render. A killed run's are
    reaped here and at the engine's start (media/workdir.py).
    """
    dest = step.spec.path
    work_root = dest.parent
    if subs.cues(draft, out.fps, subs.SOFT):  # a subtitle stream: the picture made without them, then muxed
        return _with_soft_captions(step, draft, out, report, cache_dir, split)
    # the checker's E371, for a Draft whose target it could not see (one an `ask` returned)
    if draft.m.get("loudness") and out.has_audio and abs(out.volume - 100) > 1e-6:
        raise DraftError(f"{step.id}: the export's master `volume` would move the programme off the `loudness` "
                         "target its edit sets; remove one of them (for a quieter programme, lower the target)")
    if out.has_audio:
        for line in track_notes(draft):  # a source with several audio tracks: say which one its clips play
            report.message(Message.NOTE, line)
    for kind, line in rate_notes(step, draft, out):  # a variable-rate source: which rate the output has, and why
        report.message(kind, line)
    for line in text_notes(subs.without_captions(draft), out.width, out.height):  # too wide: wrapped, and said so
        report.message(Message.WARNING, line)
    for line in transition_notes(draft):  # a transition longer than half a clip: shortened to that, and said so
        report.message(Message.WARNING, line)
    for line in caption_notes(draft):  # cues left out or cut at the end of the timeline they were put on
        report.message(Message.NOTE, line)
    workdir.reap(work_root)
    _remove_legacy_work_dirs(dest)
    pieces = _smartcut_pieces(draft, out)
    if pieces is not None:
        from . import smartcut

        reason = smartcut.incompatibility(pieces, audio=out.has_audio)
        if reason is None:
            with atomic_output(dest) as tmp:
                done = smartcut.smart_cut(pieces, tmp, audio=out.has_audio, crf=out.crf if out.crf is not None else 18,
                                          on_progress=ffmpeg_progress(report, draft.d / 1000, "render"), work_root=work_root)
            detail = f"copied {done.copied_seconds:.1f}s, re-encoded {done.reencoded_seconds:.1f}s"
            return ExportResult(step.id, dest, "smartcut", draft.d / 1000, out, detail)
    transforms = _stabilize(step, draft, report, cache_dir)
    level = _loudness_pass(step, draft, out, report, cache_dir, work_root, transforms)
    spans = chunked.planned_spans(draft, out, split) if split is not None else None
    if split is not None and split.mode == "on" and spans is None:
        report.message(Message.NOTE, "rendered in one piece: "
                       + (chunked.why_not(draft, out) or "no instant to cut at (transitions, fades or motion everywhere)"))
    if spans is not None:  # a long export: segments, each cached by content (engines/local/chunked.py)
        done = chunked.split_render(step, draft, out, spans, report, cache_dir,
                                    stabilize=lambda piece: _stabilize(step, piece, report, cache_dir),
                                    loudness=level.filters if level else ())
        detail = ", ".join(x for x in (done.detail(), _loudness_detail(level)) if x)
        return _with_burned(ExportResult(step.id, dest, "render", draft.d / 1000, out, detail), draft, cache_dir)
    with atomic_output(dest) as tmp, workdir.work_dir(work_root, "render") as work:
        cmd = build_command(draft, out, tmp, what=step.id, cache_dir=cache_dir, transforms=transforms, work=work,
                            loudness=level.filters if level else ())
        if os.environ.get("NEMOFLOW_DEBUG"):
            print("ffmpeg " + " ".join(cmd.args), flush=True)
        run_ffmpeg(cmd.args, what=step.id, on_progress=ffmpeg_progress(report, cmd.duration, "render"))
    return _with_burned(ExportResult(step.id, dest, "render", cmd.duration, out, _loudness_detail(level)), draft, cache_dir)


def _with_soft_captions(step: Step[ExportSpec], draft: Draft, out: Output, report: Reporter, cache_dir: Path,
                        split: SplitSettings | None) -> ExportResult:
    """Soft captions: the export made without them (by any path: smart cut, graph, segments) into a work file, then
    the cues added as a subtitle stream by stream copy, into the destination atomically (media/captions.py)."""
    dest = step.spec.path
    subs.check_soft(out, step.id)
    if out.container == "webm":
        subs.check_sidecar(dest.with_suffix(".vtt"))
    soft = subs.cues(draft, out.fps, subs.SOFT)
    with workdir.work_dir(dest.parent, "captions") as work:
        picture = work / f"picture{dest.suffix}"
        made = export(attrs.evolve(step, spec=attrs.evolve(step.spec, path=picture)),
                      subs.without_captions(draft, subs.SOFT), out, report, cache_dir, split)
        subs.deliver_soft(picture, soft, dest, out.container, work, step.id)
    said = f"{len(soft)} soft caption{'s' if len(soft) != 1 else ''}"
    return attrs.evolve(made, path=dest, detail=", ".join(x for x in (made.detail, said) if x),
                        captions={**made.captions, "soft": len(soft)})


def _with_burned(done: ExportResult, draft: Draft, cache_dir: Path) -> ExportResult:
    """The result with what `expect caption` needs of burned captions (the export's whole ASS script, kept in the
    cache, and its cues) and their count in the summary."""
    out = done.output
    path = script_file(draft, out, cache_dir)
    if path is None:
        return done
    burned = subs.cues(draft, out.fps, subs.BURN)
    said = f"{len(burned)} caption{'s' if len(burned) != 1 else ''} burned in"
    return attrs.evolve(done, detail=", ".join(x for x in (done.detail, said) if x),
                        captions={"ass": str(path), "fps": out.fps, "cues": [c.to_json() for c in burned]})


def _remove_legacy_work_dirs(dest: Path) -> None:
    """Smart-cut directories that nemoflow before issue 15 made beside the output (`..name.*.partial.smartcut.*/`)
    and a kill -9 left there. The run holds the recipe's lock, and nothing makes such directories any more."""
    for old in dest.parent.glob(f"..{glob.escape(dest.stem)}.*.partial.smartcut.*"):
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)


def rate_notes(step: Step[ExportSpec], draft: Draft, out: Output) -> list[tuple[Message, str]]:
    """One line per variable-frame-rate file in the edit: the rates the probe found and the output's rate.

    When the export sets no `fps`, the output takes the edit's rate (its first clip's); for a VFR clip that is
    its fastest rate, not its average, so no frame of its fast parts is dropped (docs/engine.md "Frame timing").
    """
    notes: list[tuple[Message, str]] = []
    seen: set[str] = set()
    for seg in draft.segments(VIDEO):
        entry = draft.media_entry(seg.m["src"])
        if not entry.vfr or entry.path is None or entry.path in seen or entry.is_still:
            continue
        seen.add(entry.path)
        fastest = float(entry.fps or 0)
        found = f"{_fps(entry.fps_min)}–{_fps(fastest)} fps" if entry.fps_min and entry.fps_min < fastest * 0.99 else \
            f"about {_fps(fastest)} fps"
        if entry.fps_avg:
            found += f", {_fps(entry.fps_avg)} on average"
        if step.spec.settings.fps is not None:
            notes.append((Message.NOTE, f"{entry.path} has a variable frame rate ({found}); the export's `fps` makes the "
                                        f"output {_fps(out.fps)} fps"))
        elif out.fps + 0.01 >= fastest:
            notes.append((Message.NOTE, f"{entry.path} has a variable frame rate ({found}); the output is {_fps(out.fps)} fps, "
                                        "its fastest rate, so no frame is dropped; to choose another rate, set `fps` in the "
                                        f"export (e.g. `fps {_fps(round(out.fps))}fps`)"))
        else:
            notes.append((Message.WARNING, f"{entry.path} has a variable frame rate ({found}); the output is {_fps(out.fps)} fps "
                                           "(the edit's rate, from its first clip), slower than its fastest parts, so frames of "
                                           f"those are dropped; to keep them, set `fps {_fps(round(fastest))}fps` in the export"))
    return notes


def _fps(value: float | None) -> str:
    return f"{float(value or 0):.3f}".rstrip("0").rstrip(".")


def _smartcut_pieces(draft: Draft, out: Output):
    """Pieces for a smart cut, or None when the timeline needs the filter graph."""
    if draft.segments(TEXT) or draft.segments(AUDIO) or out.codec != "h264" or out.container not in ("mp4", "mov", "mkv"):
        return None
    if has_layers(draft):  # an overlay changes the picture it covers: nothing under it can be copied
        return None
    if draft.m.get("loudness") and out.has_audio:  # the sound is re-levelled: nothing to copy
        return None
    top = mix.heaviest(draft)
    if out.has_audio and (abs(out.volume - 100) > 1e-6 or any(abs(mix.gain(s, top) - 1) > 1e-8 for s in draft.segments(VIDEO))):
        return None  # a master volume, or clips lowered by their weights: the sound is re-encoded
    if out.bitrate or out.audio == "opus":
        return None
    pieces = []
    for seg in draft.segments(VIDEO):
        entry = draft.media_entry(seg.m["src"])
        m = seg.m
        if (entry.path is None or entry.kind != MediaKind.VIDEO or entry.codec != "h264" or seg.tr or m.get("fx")
                or m.get("still") or abs(m.get("speed", 1.0) - 1) > 1e-9 or abs(m.get("volume", 100.0) - 100) > 1e-6
                or (entry.w, entry.h) != (out.width, out.height) or entry.vfr
                or abs(float(entry.fps or 0) - out.fps) > 0.01 or entry.pix_fmt != "yuv420p" or entry.rotation
                or (out.has_audio and not entry.audio)):
            return None
        track = entry.audio_track(m.get("track")) if out.has_audio else None
        if out.has_audio and track is None:
            return None  # which stream is the clip's track is not known (an old Draft): the graph reads the first
        # the filter graph's frames (docs/engine.md "Frame timing"): from the source frame nearest the in-point
        # (smart cut's own rule), as many as the clip spans on the output's frame grid
        rate = exact_rate(out.fps)
        # smart cut times the picture from its first frame; the in-point is on the file's timeline, which starts
        # before the picture when the sound does (MPEG-TS: late_start), so the same frame as the graph's is chosen.
        # A clip from the file's start begins at the first frame, with the sound from that instant (nothing to hold)
        first = Fraction(max(0, first_source_frame(Fraction(m.get("in", 0)) - late_start(entry) * 1000, rate))) / rate
        frames = frame_index(seg.end, rate) - frame_index(seg.st, rate)
        if not frames and len(draft.segments(VIDEO)) > 1:
            continue  # under half a frame: no frame, as in the graph (graph.kept_clips)
        frames = max(1, frames)
        pieces.append((Path(entry.path), float(first), float(first + frames / rate), track.index if track else None,
                       tuple(stereo_filters(entry, m)) if track else ()))
    if not pieces:
        return None
    from .smartcut import Piece

    return [Piece(*p) for p in pieces]


STABILIZE_REVISION = 2  # in the cache key of a clip's motion analysis: bump when stabilize.detect_filter changes


def _stabilize(step: Step, draft: Draft, report: Reporter, cache_dir: Path) -> dict[int, Path]:
    """Pass 1 of two-pass stabilization for each clip that asks for it; transforms cached by content."""
    found: dict[int, Path] = {}
    for i, seg in enumerate(draft.segments(VIDEO)):
        if not any(e.get("type") == "stabilize" for e in seg.m.get("fx", [])) or seg.m.get("still"):
            continue  # a still has no shake
        entry = draft.media_entry(seg.m["src"])
        key = json.dumps([STABILIZE_REVISION, content_id(entry), seg.m.get("in", 0), seg.d, seg.m.get("speed", 1.0),
                          [e for e in seg.m.get("fx", []) if e.get("type") == "stabilize"]], sort_keys=True)
        trf = cache_dir / "vidstab" / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".trf")
        if not trf.exists():
            trf.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(trf) as tmp:
                phase = f"stabilize: analysing clip {i + 1}"
                cmd = detect_command(entry, seg.to_json(), tmp, f"{step.id} ({phase})")
                run_ffmpeg(cmd.args, what=cmd.what, on_progress=ffmpeg_progress(report, cmd.duration, phase))
        found[i] = trf
    return found


LOUDNESS_FIT_REVISION = 1  # in the cache key of a loudness plan: bump when fit() or the meter changes


def _loudness_pass(step: Step, draft: Draft, out: Output, report: Reporter, cache_dir: Path, work_root: Path,
                   transforms: dict[int, Path]) -> _loudness.Plan | None:
    """Pass 1 of `loudness`: the mixed programme's sound rendered to a file, measured, and fitted to the target.

    The plan (filters and what they measured to give) is cached by content: the pass-1 command (the whole audio
    graph), the sources' identities, the target, the audio encoder and the FFmpeg build. A re-render with only a
    title changed, or a second export of the same draft at another size, measures nothing again.
    """
    spec = draft.m.get("loudness")
    if not spec or not out.has_audio:
        return None
    target, peak = float(spec["i"]), float(spec.get("tp", _loudness.DEFAULT_PEAK_DBTP))
    encode = audio_args(out)
    out = _measuring_size(out)
    draft = draft.with_segments(TEXT, [])  # text never changes the sound: not drawn, and not in the key
    probe = build_command(draft, out, Path("programme.wav"), what=step.id, cache_dir=cache_dir, transforms=transforms,
                          programme_audio=True)
    key = json.dumps([LOUDNESS_FIT_REVISION, probe.args, [content_id(draft.media_entry(k)) for k in sorted(draft.media)],
                      target, peak, encode, ffmpeg_version()], sort_keys=True, default=str)
    cached = cache_dir / "loudness" / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".json")
    try:
        return _loudness.Plan.from_json(json.loads(cached.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    with workdir.work_dir(work_root, "loudness") as work:
        programme = work / "programme.wav"
        phase = "loudness: measuring the programme"
        cmd = build_command(draft, out, programme, what=f"{step.id} ({phase})", cache_dir=cache_dir, transforms=transforms,
                            work=work, programme_audio=True)
        run_ffmpeg(cmd.args, what=cmd.what, on_progress=ffmpeg_progress(report, cmd.duration, phase))
        plan = _loudness.fit(programme, target, peak, encode, work / "candidate.mkv",
                             run=lambda args: run_ffmpeg(args, what=f"{step.id} (loudness: fitting)"))
    cached.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(cached) as tmp:
        tmp.write_text(json.dumps(plan.to_json()), encoding="utf-8")
    return plan


def _loudness_detail(plan: _loudness.Plan | None) -> str:
    """`-14.0 LUFS, -1.2 dBTP (gain +5.3 dB, limited)`: what the fitted sound measured, for the run's summary."""
    if plan is None:
        return ""
    if plan.mode == "none":
        return "loudness: silent programme, left as it is"
    got = plan.result
    if got is None or got.integrated is None:
        return ""
    peak = f", {units.true_peak(got.true_peak, 1)}" if got.true_peak is not None else ""
    return f"{units.loudness(got.integrated, 1)}{peak} (gain {plan.gain:+.1f} dB, {plan.mode})"


def _measuring_size(out: Output) -> Output:
    """The output at 180 lines for pass 1: its picture is thrown away, but FFmpeg still runs the video filters of the
    graph, so they run small (at 4K they cost the measuring pass ~10% of a render; at 180 lines, little). The sound
    does not depend on the frame size: the same samples either way."""
    if out.height <= 180:
        return out
    return attrs.evolve(out, width=max(2, round(out.width * 180 / out.height / 2) * 2), height=180)


def content_id(entry: MediaEntry) -> Any:
    """What identifies a media's content cheaply: the generator spec, or path + size + mtime."""
    if entry.path is None:
        return entry.to_json()
    st = Path(entry.path).stat()
    return [entry.path, st.st_size, st.st_mtime_ns]
