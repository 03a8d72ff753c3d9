"""The local engine: FFmpeg on this machine.

Media are validated and probed here; an `ask` is carried out by a
deterministic interpreter that measures the footage (ask/); an export takes
the cheapest correct path: a smart cut (stream copy except at the cut points)
when the timeline is plain cuts of compatible H.264 files at their own size
and rate, else one FFmpeg filter graph. Either way the file appears at its
destination only when complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core import codes
from ...core.diagnostics import Diagnostic
from ...core.model import AskSpec, ExportSpec, MediaSource, MediaSpec, Step, StepKind
from ..base import DraftResult, Engine, MediaResult, Memo, Message, RenderResult, Reporter, Resource, Resources, ffmpeg_progress

if TYPE_CHECKING:  # rendering code (export.py, ask/) loads when a step runs: `nemoflow check` builds this engine only to ask
    from ...draft.model import Draft  # it for diagnostics
    from ...draft.output import Output

# Part of every cache key: bump it when the same Draft would render differently
# (a filter graph change), so caches built by older code are not trusted.
ENGINE_REVISION = 4  # 2: text DejaVu lacks drawn by libass with font fallback; stills opened by content (issue 15)
# 3: one audio track, stereo kept, frame-exact cuts, VFR at the fastest rate, stills looped, stabilize without zoom,
#    limited-range yuv420p, loudness (issue 16)
# 4: text wrapped and centred per line, transitions capped at half the shorter clip, deterministic gradients,
#    layers, x264 lossless profile (issue 17)
HEAVY_PIXELS = 1_500_000  # outputs this big keep every core busy on their own (1080p and up)


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
        """An ask's result depends on the interpreter and the analysis code too; a preview render on its size (proxy.py)."""
        if step.kind == StepKind.EXPORT:
            from .proxy import Proxy

            proxy = Proxy.from_options(self.context.options)
            return proxy.identity() if proxy is not None else {}
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
        """Allow FFmpeg to start again; remove the work directories a killed run left beside this recipe's outputs
        (only those no living process holds: media/workdir.py)."""
        from ...media import workdir
        from ...media.ffmpeg import allow_start

        allow_start()
        for folder in {step.spec.path.parent for step in self.recipe.steps.values() if step.kind == StepKind.EXPORT}:
            workdir.reap(folder)

    def cancel(self) -> None:
        """Kill every FFmpeg this run started (Ctrl-C, or a failure without --keep-going)."""
        from ...media.ffmpeg import stop_all

        stop_all()

    def media(self, step: Step[MediaSpec], report: Reporter) -> MediaResult:
        from ...media.entries import media_entry

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
        from ...draft.media import MediaEntry
        from .ask.analysis import analyse
        from .export import content_id

        media = MediaEntry.from_json(entry)
        if media.path is not None:
            digest = self.context.digest_of(Path(media.path))
            content = f"sha256:{digest}" if digest else json.dumps(content_id(media))
        else:
            content = "gen:" + json.dumps(dict(media.gen or {}), sort_keys=True)
        phase = f"analysing clip {index + 1}"
        return analyse(media, start_ms, length_ms, cache_dir=self.cache_dir, content_id=content, what=f"{step.id} ({phase})",
                       on_progress=ffmpeg_progress(report, length_ms / 1000, phase))

    def render(self, step: Step[ExportSpec], draft: Draft, output: Output, report: Reporter) -> RenderResult:
        from ...media.captions import burned_for_preview
        from .chunked import SplitSettings
        from .export import export
        from .proxy import Proxy, proxied

        proxy = Proxy.from_options(self.context.options)
        if proxy is not None:  # `nemoflow preview`: small, fast, from small copies of big sources (proxy.py)
            output = proxy.output(output)
            draft = proxied(draft, proxy, self.cache_dir, report, what=step.id, digest_of=self.context.digest_of)
            draft = burned_for_preview(draft)  # a browser shows no subtitle stream: soft captions drawn in
        done = export(step, draft, output, report, self.cache_dir, split=SplitSettings.from_options(self.context.options))
        return RenderResult(done.path, done.to_json(), done.summary())
