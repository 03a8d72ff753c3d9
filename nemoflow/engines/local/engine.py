"""The local engine: media steps are validated and probed, edits become Drafts, exports become files.

Exports take the cheapest correct path: a smart cut (stream copy except at the
cut points) when the timeline is plain cuts of compatible H.264 files at their
own size and rate, else one FFmpeg filter graph. Either way the file appears
at its destination only when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ...core.model import ExportSpec, Recipe, Step
from ...core.values import Resolution
from ...draft.build import build_edit, media_clip_draft
from ...draft.model import AUDIO, TEXT, VIDEO, Draft
from ...draft.schema import checked
from ...errors import DraftError
from .ffmpeg import atomic_output, run_ffmpeg
from .graph import build_command, detect_command
from .presets import Output, output_for
from .sources import media_entry

ProgressSink = Callable[..., None]  # (step id, snapshot, total, phase[, unit]): unit "s" (default), "MB" or "%"
MessageSink = Callable[[str, str, str], None]  # (step id, kind, text): an ask's "did" lines and its "diff"
CachedResult = Callable[[str], "dict[str, Any] | None"]  # step id → its result from the cache, if it has one

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
        return {"method": self.method, "duration": self.duration, "detail": self.detail, "output": attrs.asdict(self.output)}


@attrs.frozen
class StepOutcome:
    """What running one step produced: a JSON result for the cache, files written, a line for people."""

    result: dict[str, Any]
    outputs: tuple[Path, ...] = ()
    summary: str = ""


def default_cache_dir() -> Path:
    env = os.environ.get("NEMOFLOW_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("nemoflow")) / "local"


class LocalEngine:
    """Runs one recipe's steps on this machine; drafts and media entries are memoised per run."""

    name = "local"

    def __init__(self, recipe: Recipe, *, cache_dir: Path | None = None, on_progress: ProgressSink | None = None,
                 cached: CachedResult | None = None, on_message: MessageSink | None = None,
                 digest_of: Callable[[Path], str | None] | None = None) -> None:
        self.recipe = recipe
        self.cache_dir = cache_dir or default_cache_dir()
        self.on_progress = on_progress
        self.on_message = on_message
        self.cached = cached
        self.digest_of = digest_of  # a file's content digest (the runner's memo), for caches keyed by content
        self._media: dict[str, dict[str, Any]] = {}
        self._drafts: dict[str, Draft] = {}
        self._asked: dict[str, tuple[str, ...]] = {}  # ask step → what it did, line by line

    def cancel(self) -> None:
        """Kill every FFmpeg this run started (Ctrl-C, or a failure without --keep-going)."""
        from .ffmpeg import stop_all

        stop_all()

    def close(self) -> None:
        """Nothing to release: FFmpeg processes end with their steps."""

    # -- what the runner asks before running anything ----------------------
    def identity(self, memo) -> dict[str, str]:
        """Cache-key components naming this engine: nemoflow's engine revision and the FFmpeg build.

        The FFmpeg version is memoized by the binary's size and mtime, so an
        unchanged re-run starts no FFmpeg process at all.
        """
        from ... import __version__
        from .ffmpeg import ffmpeg_exe, ffmpeg_version

        exe = ffmpeg_exe()
        st = os.stat(exe)
        memo_key = f"ffmpeg-version:{exe}:{st.st_size}:{st.st_mtime_ns}"
        version = memo.lookup(memo_key)
        if not isinstance(version, str):
            version = ffmpeg_version()
            memo.store(memo_key, version)
        return {"engine": f"local {__version__} r{ENGINE_REVISION}", "ffmpeg": version}

    def step_identity(self, step: Step) -> dict[str, str]:
        """Key components only some steps have: an ask's result depends on the interpreter and the analysis code."""
        if step.kind != "ask":
            return {}
        from .ask import ASK_REVISION
        from .ask.analysis import ANALYSIS_REVISION

        return {"interpreter": f"ask r{ASK_REVISION}, analysis r{ANALYSIS_REVISION}"}

    def cannot_run(self, step: Step) -> str | None:
        """Why this engine cannot run a step at all (known before running), or None."""
        if step.kind == "ask":
            from .ask.understand import not_understood

            return not_understood(step, self.recipe.sources)
        if step.kind == "media" and step.spec.source == "url":
            return f"media `{step.name}` is a URL; the local engine renders files on this machine only (download it first)"
        return None

    def resources(self, step: Step) -> tuple[str, int]:
        """(class, demand): a render needs every core at 1080p and above, one below; other steps are light."""
        if step.kind != "export":
            return "light", 1
        size = step.spec.settings.size
        pixels = size.width * size.height if isinstance(size, Resolution) else 3840 * 2160
        return "cpu", (os.cpu_count() or 1) if pixels >= HEAVY_PIXELS else 1

    def run_step(self, step: Step) -> StepOutcome:
        """Run a media, edit or export step (expect steps are the runner's: they only probe files)."""
        if step.kind == "media":
            entry = self.media(step.id)
            what = entry.get("kind", "media")
            length = f", {entry['d'] / 1000:.1f}s" if entry.get("d") else ""
            return StepOutcome(entry, summary=f"{what}{length}")
        if step.kind == "edit":
            draft = self.draft(step.id)
            return StepOutcome(draft.to_json(), summary=_clips(draft))
        if step.kind == "ask":
            draft = self.draft(step.id)
            return StepOutcome(draft.to_json(), summary="; ".join(self._asked.get(step.id, ())) or _clips(draft))
        if step.kind == "export":
            result = self.export(step)
            return StepOutcome(result.to_json(), (result.path,), result.summary())
        raise DraftError(f"the local engine does not run {step.kind} steps")

    # -- media and drafts -------------------------------------------------
    def media_entries(self) -> dict[str, dict[str, Any]]:
        """Validate every media step up front, so a bad file fails before any render starts."""
        for step in self.recipe.by_kind("media"):
            self.media(step.id)
        return self._media

    def media(self, step_id: str) -> dict[str, Any]:
        if step_id not in self._media:
            step = self.recipe.steps[step_id]
            entry = self.cached(step_id) if self.cached else None
            if entry is not None and step.spec.source == "file":  # same content (the key says so); maybe moved
                entry = {**entry, "path": str(step.spec.path)}
            self._media[step_id] = entry if entry is not None else media_entry(step)
        return self._media[step_id]

    def draft(self, step_id: str) -> Draft:
        """The Draft a step produces (media: the whole file as one clip)."""
        if step_id in self._drafts:
            return self._drafts[step_id]
        step = self.recipe.steps[step_id]
        stored = self.cached(step_id) if self.cached and step.kind in ("edit", "ask") else None
        if stored is not None:
            draft = Draft.from_json(stored)
            moved = {mid: self.media(mid) for mid, e in draft.media.items()
                     if "path" in e and mid in self.recipe.steps and self.recipe.steps[mid].kind == "media"}
            if moved:  # the key covers content, not place: point file media at where they are now
                draft = draft.with_m(media={**draft.media, **{mid: {**draft.media[mid], "path": e["path"]} for mid, e in moved.items()}})
        elif step.kind == "media":
            draft = checked(media_clip_draft(step_id, self.media(step_id)), f"for {step_id}")
        elif step.kind == "edit":
            media = {s.id: self.media(s.id) for s in self._media_inputs(step)}
            draft = build_edit(step, media, self.draft)
        elif step.kind == "ask":
            draft = self._ask(step)
        else:
            raise DraftError(f"{step_id} does not produce a draft")
        self._drafts[step_id] = draft
        return draft

    def _ask(self, step: Step) -> Draft:
        """Carry out a plain-language instruction: parse it, analyse the footage it needs, report what it did."""
        from ...draft.diff import unified_diff
        from .ask.apply import carry_out
        from .ask.understand import intents_of

        base = self.draft(step.spec.base.id)
        intents = intents_of(step, self.recipe.sources)
        try:
            outcome = carry_out(base, intents, lambda i, mid, entry, start, length: self._analyse(step, i, mid, entry, start, length))
        except DraftError as err:
            raise DraftError(f"{step.span.file}:{step.span.line}:{step.span.column}: `ask {step.name}`: {err}") from None
        draft = checked(outcome.draft.with_m(name=step.id), f"made by {step.id}")
        self._asked[step.id] = outcome.did
        if self.on_message is not None:
            for line in outcome.did:
                self.on_message(step.id, "did", line)
            self.on_message(step.id, "diff", unified_diff(base, draft, before_name=step.spec.base.id, after_name=step.id))
        return draft

    def _analyse(self, step: Step, index: int, media_id: str, entry: dict[str, Any], start_ms: int, length_ms: int):
        """One clip's source window, analysed once per media content (the cache is keyed by the file's digest)."""
        from .ask.analysis import analyse

        if "path" in entry:
            digest = self.digest_of(Path(entry["path"])) if self.digest_of else None
            content = f"sha256:{digest}" if digest else json.dumps(_content_id(entry))
        else:
            content = "gen:" + json.dumps(entry.get("gen", entry), sort_keys=True)
        phase = f"analysing clip {index + 1}"
        return analyse(entry, start_ms, length_ms, cache_dir=self.cache_dir, content_id=content, what=f"{step.id} ({phase})",
                       on_progress=self._progress(step.id, length_ms / 1000, phase))

    def _media_inputs(self, step: Step) -> list[Step]:
        return [self.recipe.steps[i] for i in step.inputs if self.recipe.steps[i].kind == "media"]

    def export_draft(self, step: Step) -> tuple[Draft, Output]:
        spec: ExportSpec = step.spec
        draft = self.draft(spec.base.id)
        return draft, output_for(spec.settings, draft.canvas or {"w": 1920, "h": 1080, "fps": 30}, draft.m.get("output"))

    # -- exports ----------------------------------------------------------
    def export(self, step: Step) -> ExportResult:
        draft, out = self.export_draft(step)
        checked(draft, f"before rendering {step.id}")
        dest: Path = step.spec.path
        pieces = self._smartcut_pieces(draft, out)
        if pieces is not None:
            from . import smartcut

            reason = smartcut.incompatibility(pieces, audio=out.has_audio)
            if reason is None:
                with atomic_output(dest) as tmp:
                    report = smartcut.smart_cut(pieces, tmp, audio=out.has_audio, crf=out.crf if out.crf is not None else 18,
                                                on_progress=self._progress(step.id, draft.d / 1000))
                detail = f"copied {report.copied_seconds:.1f}s, re-encoded {report.reencoded_seconds:.1f}s"
                return ExportResult(step.id, dest, "smartcut", draft.d / 1000, out, detail)
        transforms = self._stabilize(step, draft)
        with atomic_output(dest) as tmp:
            cmd = build_command(draft, out, tmp, what=step.id, cache_dir=self.cache_dir, transforms=transforms)
            if os.environ.get("NEMOFLOW_DEBUG"):
                print("ffmpeg " + " ".join(cmd.args), flush=True)
            run_ffmpeg(cmd.args, what=step.id, on_progress=self._progress(step.id, cmd.duration))
        return ExportResult(step.id, dest, "render", cmd.duration, out)

    def _progress(self, step_id: str, total: float, phase: str = "render"):
        sink = self.on_progress
        if sink is None:
            return None
        return lambda p: sink(step_id, p, total, phase)

    def _smartcut_pieces(self, draft: Draft, out: Output):
        """Pieces for a smart cut, or None when the timeline needs the filter graph."""
        if draft.segments(TEXT) or draft.segments(AUDIO) or out.codec != "h264" or out.container not in ("mp4", "mov", "mkv"):
            return None
        if out.bitrate or out.audio == "opus":
            return None
        pieces = []
        for seg in draft.segments(VIDEO):
            entry = draft.media[seg.m["src"]]
            m = seg.m
            if ("path" not in entry or entry["kind"] != "video" or entry.get("codec") != "h264" or seg.tr or m.get("fx")
                    or m.get("still") or abs(m.get("speed", 1.0) - 1) > 1e-9 or abs(m.get("volume", 100.0) - 100) > 1e-6
                    or (entry.get("w"), entry.get("h")) != (out.width, out.height) or entry.get("vfr")
                    or abs(float(entry.get("fps") or 0) - out.fps) > 0.01 or entry.get("pix_fmt") != "yuv420p" or entry.get("rotation")
                    or (out.has_audio and not entry.get("audio"))):
                return None
            start = m.get("in", 0) / 1000
            pieces.append((Path(entry["path"]), start, start + seg.d / 1000))
        if not pieces:
            return None
        from .smartcut import Piece

        return [Piece(*p) for p in pieces]

    def _stabilize(self, step: Step, draft: Draft) -> dict[int, Path]:
        """Pass 1 of two-pass stabilization for each clip that asks for it; transforms cached by content."""
        found: dict[int, Path] = {}
        for i, seg in enumerate(draft.segments(VIDEO)):
            if not any(e.get("type") == "stabilize" for e in seg.m.get("fx", [])):
                continue
            entry = draft.media[seg.m["src"]]
            key = json.dumps([_content_id(entry), seg.m.get("in", 0), seg.d, seg.m.get("speed", 1.0),
                              [e for e in seg.m.get("fx", []) if e.get("type") == "stabilize"]], sort_keys=True)
            trf = self.cache_dir / "vidstab" / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".trf")
            if not trf.exists():
                trf.parent.mkdir(parents=True, exist_ok=True)
                with atomic_output(trf) as tmp:
                    phase = f"stabilize: analysing clip {i + 1}"
                    cmd = detect_command(entry, seg.to_json(), tmp, f"{step.id} ({phase})")
                    run_ffmpeg(cmd.args, what=cmd.what, on_progress=self._progress(step.id, cmd.duration, phase))
            found[i] = trf
        return found


def _content_id(entry: dict[str, Any]) -> Any:
    """What identifies a media's content cheaply: the generator spec, or path + size + mtime."""
    if "path" not in entry:
        return entry
    st = Path(entry["path"]).stat()
    return [entry["path"], st.st_size, st.st_mtime_ns]



def _clips(draft: Draft) -> str:
    n = len(draft.segments(VIDEO))
    return f"{n} clip{'s' if n != 1 else ''}, {draft.d / 1000:.1f}s"
