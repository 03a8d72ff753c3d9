"""The local engine: FFmpeg on this machine.

Media are validated and probed here; an `ask` is carried out by a
deterministic interpreter that measures the footage (ask/); an export takes
the cheapest correct path: a smart cut (stream copy except at the cut points)
when the timeline is plain cuts of compatible H.264 files at their own size
and rate, else one FFmpeg filter graph. Either way the file appears at its
destination only when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import attrs

from ...core import codes
from ...core.diagnostics import Diagnostic
from ...core.model import AskSpec, ExportSpec, MediaSource, MediaSpec, Step, StepKind
from ...draft.media import MediaEntry, MediaKind
from ...draft.model import AUDIO, TEXT, VIDEO, Draft
from ...draft.output import Output
from ...media.entries import media_entry
from ...media.ffmpeg import atomic_output, run_ffmpeg
from ..base import DraftResult, Engine, MediaResult, Memo, Message, RenderResult, Reporter, Resource, Resources, ffmpeg_progress
from .graph import build_command, detect_command

# Part of every cache key: bump it when the same Draft would render differently
# (a filter graph change), so caches built by older code are not trusted.
ENGINE_REVISION = 1
HEAVY_PIXELS = 1_500_000  # outputs this big keep every core busy on their own (1080p and up)


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


class LocalEngine(Engine):
    """Renders on this machine with the FFmpeg that comes with nemoflow."""

    name = "local"

    @property
    def cache_dir(self) -> Path:
        return self.context.cache_dir

    # -- before anything runs ------------------------------------------------------------------
    def identity(self, memo: Memo) -> dict[str, str]:
        """nemoflow's engine revision and the FFmpeg build (memoised: an unchanged re-run starts no FFmpeg)."""
        from ... import __version__
        from ...media.ffmpeg import ffmpeg_identity

        return {"engine": f"local {__version__} r{ENGINE_REVISION}", "ffmpeg": ffmpeg_identity(memo)}

    def step_identity(self, step: Step) -> dict[str, str]:
        """An ask's result depends on the interpreter and the analysis code too."""
        if step.kind != StepKind.ASK:
            return {}
        from .ask import ASK_REVISION
        from .ask.analysis import ANALYSIS_REVISION

        return {"interpreter": f"ask r{ASK_REVISION}, analysis r{ANALYSIS_REVISION}"}

    def diagnose(self, step: Step) -> Diagnostic | None:
        if step.kind == StepKind.ASK:
            from .ask.understand import diagnose

            return diagnose(step, self.recipe.sources)
        if step.kind == StepKind.MEDIA and step.spec.source == MediaSource.URL:
            return Diagnostic(step.span, f"media `{step.name}` is a URL; the local engine renders files on this machine only",
                              codes.MEDIA_URL_ON_LOCAL.id, help="download it and give its path, or run this recipe on the "
                              "nemo engine (`--engine nemo`, or `engine nemo` in the recipe)")
        return None

    def resources(self, step: Step) -> Resources:
        """A render needs every core at 1080p and above, one below; other steps are light."""
        if step.kind != StepKind.EXPORT:
            return Resources()
        size = step.spec.settings.size
        pixels = size.width * size.height if size is not None else 3840 * 2160
        return Resources(Resource.CPU, (os.cpu_count() or 1) if pixels >= HEAVY_PIXELS else 1)

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        from ...media.ffmpeg import allow_start

        allow_start()

    def cancel(self) -> None:
        """Kill every FFmpeg this run started (Ctrl-C, or a failure without --keep-going)."""
        from ...media.ffmpeg import stop_all

        stop_all()

    def media(self, step: Step[MediaSpec], report: Reporter) -> MediaResult:
        return MediaResult(media_entry(step))

    def ask(self, step: Step[AskSpec], base: Draft, report: Reporter) -> DraftResult:
        """Carry out a plain-language instruction: parse it, analyse the footage it needs, report what it did."""
        from ...draft.diff import unified_diff
        from ...draft.schema import checked
        from ...errors import DraftError
        from .ask.apply import carry_out
        from .ask.understand import intents_of

        intents = intents_of(step, self.recipe.sources)
        try:
            outcome = carry_out(base, intents, lambda i, mid, entry, start, length: self._analyse(step, report, i, entry, start, length))
        except DraftError as err:
            raise DraftError(f"{step.span}: `ask {step.name}`: {err}") from None
        draft = checked(outcome.draft.with_m(name=step.id), f"made by {step.id}")
        for line in outcome.did:
            report.message(Message.DID, line)
        report.message(Message.DIFF, unified_diff(base, draft, before_name=step.spec.base.id, after_name=step.id))
        return DraftResult(draft, "; ".join(outcome.did) or None)

    def _analyse(self, step: Step, report: Reporter, index: int, entry: dict[str, Any], start_ms: int, length_ms: int):
        """One clip's source window, analysed once per media content (the cache is keyed by the file's digest)."""
        from .ask.analysis import analyse

        media = MediaEntry.from_json(entry)
        if media.path is not None:
            digest = self.context.digest_of(Path(media.path))
            content = f"sha256:{digest}" if digest else json.dumps(_content_id(media))
        else:
            content = "gen:" + json.dumps(dict(media.gen or {}), sort_keys=True)
        phase = f"analysing clip {index + 1}"
        return analyse(media, start_ms, length_ms, cache_dir=self.cache_dir, content_id=content, what=f"{step.id} ({phase})",
                       on_progress=ffmpeg_progress(report, length_ms / 1000, phase))

    def render(self, step: Step[ExportSpec], draft: Draft, output: Output, report: Reporter) -> RenderResult:
        done = self._export(step, draft, output, report)
        return RenderResult(done.path, done.to_json(), done.summary())

    def _export(self, step: Step[ExportSpec], draft: Draft, out: Output, report: Reporter) -> ExportResult:
        dest = step.spec.path
        pieces = self._smartcut_pieces(draft, out)
        if pieces is not None:
            from . import smartcut

            reason = smartcut.incompatibility(pieces, audio=out.has_audio)
            if reason is None:
                with atomic_output(dest) as tmp:
                    done = smartcut.smart_cut(pieces, tmp, audio=out.has_audio, crf=out.crf if out.crf is not None else 18,
                                              on_progress=ffmpeg_progress(report, draft.d / 1000, "render"))
                detail = f"copied {done.copied_seconds:.1f}s, re-encoded {done.reencoded_seconds:.1f}s"
                return ExportResult(step.id, dest, "smartcut", draft.d / 1000, out, detail)
        transforms = self._stabilize(step, draft, report)
        with atomic_output(dest) as tmp:
            cmd = build_command(draft, out, tmp, what=step.id, cache_dir=self.cache_dir, transforms=transforms)
            if os.environ.get("NEMOFLOW_DEBUG"):
                print("ffmpeg " + " ".join(cmd.args), flush=True)
            run_ffmpeg(cmd.args, what=step.id, on_progress=ffmpeg_progress(report, cmd.duration, "render"))
        return ExportResult(step.id, dest, "render", cmd.duration, out)

    def _smartcut_pieces(self, draft: Draft, out: Output):
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

    def _stabilize(self, step: Step, draft: Draft, report: Reporter) -> dict[int, Path]:
        """Pass 1 of two-pass stabilization for each clip that asks for it; transforms cached by content."""
        found: dict[int, Path] = {}
        for i, seg in enumerate(draft.segments(VIDEO)):
            if not any(e.get("type") == "stabilize" for e in seg.m.get("fx", [])):
                continue
            entry = draft.media_entry(seg.m["src"])
            key = json.dumps([_content_id(entry), seg.m.get("in", 0), seg.d, seg.m.get("speed", 1.0),
                              [e for e in seg.m.get("fx", []) if e.get("type") == "stabilize"]], sort_keys=True)
            trf = self.cache_dir / "vidstab" / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".trf")
            if not trf.exists():
                trf.parent.mkdir(parents=True, exist_ok=True)
                with atomic_output(trf) as tmp:
                    phase = f"stabilize: analysing clip {i + 1}"
                    cmd = detect_command(entry, seg.to_json(), tmp, f"{step.id} ({phase})")
                    run_ffmpeg(cmd.args, what=cmd.what, on_progress=ffmpeg_progress(report, cmd.duration, phase))
            found[i] = trf
        return found



def _content_id(entry: MediaEntry) -> Any:
    """What identifies a media's content cheaply: the generator spec, or path + size + mtime."""
    if entry.path is None:
        return entry.to_json()
    st = Path(entry.path).stat()
    return [entry.path, st.st_size, st.st_mtime_ns]
