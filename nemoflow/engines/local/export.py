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
from pathlib import Path
from typing import Any

import attrs

from ...core.model import ExportSpec, Step
from ...draft.media import MediaEntry, MediaKind
from ...draft.model import AUDIO, TEXT, VIDEO, Draft
from ...draft.output import Output
from ...media import workdir
from ...media.ffmpeg import atomic_output, run_ffmpeg
from ..base import Reporter, ffmpeg_progress
from .graph import build_command, detect_command


@attrs.frozen
class ExportResult:
    step: str
    path: Path
    method: str  # "render" | "smartcut"
    duration: float
    output: Output
    detail: str = ""

    def summary(self) -> str:
        how = f"smart cut: {self.detail}" if self.method == "smartcut" else f"{self.output.codec}, {self.output.quality}"
        return f"{self.duration:.1f}s at {self.output.width}x{self.output.height}, {how}"

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "duration": self.duration, "detail": self.detail, "output": self.output.to_json()}


def export(step: Step[ExportSpec], draft: Draft, out: Output, report: Reporter, cache_dir: Path) -> ExportResult:
    """Render `draft` to the step's file: by smart cut when the timeline allows it, else one filter graph.

    Intermediate files (a smart cut's pieces, title text, a long filter graph) go in a hidden, locked work
    directory beside the output: on the disk the output needs anyway (a smart cut's video track is as big as
    the output), not in the state directory, whose being full must not fail a render. A killed run's are
    reaped here and at the engine's start (media/workdir.py).
    """
    dest = step.spec.path
    work_root = dest.parent
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
    with atomic_output(dest) as tmp, workdir.work_dir(work_root, "render") as work:
        cmd = build_command(draft, out, tmp, what=step.id, cache_dir=cache_dir, transforms=transforms, work=work)
        if os.environ.get("NEMOFLOW_DEBUG"):
            print("ffmpeg " + " ".join(cmd.args), flush=True)
        run_ffmpeg(cmd.args, what=step.id, on_progress=ffmpeg_progress(report, cmd.duration, "render"))
    return ExportResult(step.id, dest, "render", cmd.duration, out)


def _remove_legacy_work_dirs(dest: Path) -> None:
    """Smart-cut directories that nemoflow before issue 15 made beside the output (`..name.*.partial.smartcut.*/`)
    and a kill -9 left there. The run holds the recipe's lock, and nothing makes such directories any more."""
    for old in dest.parent.glob(f"..{glob.escape(dest.stem)}.*.partial.smartcut.*"):
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)


def _smartcut_pieces(draft: Draft, out: Output):
    """Pieces for a smart cut, or None when the timeline needs the filter graph."""
    if draft.segments(TEXT) or draft.segments(AUDIO) or out.codec != "h264" or out.container not in ("mp4", "mov", "mkv"):
        return None
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
        start = m.get("in", 0) / 1000
        pieces.append((Path(entry.path), start, start + seg.d / 1000))
    if not pieces:
        return None
    from .smartcut import Piece

    return [Piece(*p) for p in pieces]


def _stabilize(step: Step, draft: Draft, report: Reporter, cache_dir: Path) -> dict[int, Path]:
    """Pass 1 of two-pass stabilization for each clip that asks for it; transforms cached by content."""
    found: dict[int, Path] = {}
    for i, seg in enumerate(draft.segments(VIDEO)):
        if not any(e.get("type") == "stabilize" for e in seg.m.get("fx", [])):
            continue
        entry = draft.media_entry(seg.m["src"])
        key = json.dumps([content_id(entry), seg.m.get("in", 0), seg.d, seg.m.get("speed", 1.0),
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


def content_id(entry: MediaEntry) -> Any:
    """What identifies a media's content cheaply: the generator spec, or path + size + mtime."""
    if entry.path is None:
        return entry.to_json()
    st = Path(entry.path).stat()
    return [entry.path, st.st_size, st.st_mtime_ns]
