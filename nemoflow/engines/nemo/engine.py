"""The nemo engine: the same recipes, run on the NemoVideo cloud.

Per step (DESIGN.md's table): media are validated here and uploaded (files
streamed, generated sources encoded first, URLs handed over as URLs); an
edit's Draft is put into its session and checked against the session's state;
an `ask` sends the instruction and reads the state to learn what changed;
an export renders in the cloud, with the render id on disk before the
request, then downloads with resume and lands atomically.

The parts: service.py (client, ledger, locks), sessions.py (which session
holds which timeline), uploads.py, timeline.py (edits and asks in sessions),
renders.py.
"""

from __future__ import annotations

from ...core.model import AskSpec, EditSpec, ExportSpec, MediaSpec, Step, StepKind
from ...draft.diff import summary
from ...draft.model import Draft
from ...draft.output import Output
from ..base import DraftResult, Engine, EngineContext, MediaResult, Memo, RenderResult, Reporter, Resource, Resources
from .client import NemoClient
from .renders import Renders
from .service import Service
from .sessions import Sessions
from .settings import NemoSettings
from .timeline import Timelines
from .uploads import Uploads

# Part of every cache key: bump when the same recipe would give a different result on this engine.
ENGINE_REVISION = 1


class NemoEngine(Engine):
    name = "nemo"

    def __init__(self, context: EngineContext, *, settings: NemoSettings | None = None, client: NemoClient | None = None) -> None:
        super().__init__(context)
        self.service = Service(context.state_dir, context.options, settings=settings, client=client)
        self.sessions = Sessions(self.service, context.recipe)
        self.uploads = Uploads(self.service, self.sessions, context)
        self.timelines = Timelines(self.service, self.sessions, self.uploads, context.recipe)
        self.renders = Renders(self.service, self.sessions, self.uploads, context)

    @property
    def settings(self) -> NemoSettings:
        return self.service.settings

    @property
    def client(self) -> NemoClient:
        return self.service.client

    def identity(self, memo: Memo) -> dict[str, str]:
        """The service's address, and the local FFmpeg (generated sources are encoded here before upload)."""
        from ... import __version__
        from ...media.ffmpeg import ffmpeg_identity

        return {"engine": f"nemo {__version__} r{ENGINE_REVISION} {self.settings.api_url}", "ffmpeg": ffmpeg_identity(memo)}

    def resources(self, step: Step) -> Resources:
        return Resources() if step.kind == StepKind.EXPECT else Resources(Resource.NET)

    def start(self) -> None:
        from ...media.ffmpeg import allow_start

        allow_start()

    def cancel(self) -> None:
        """Stop waiting (polls, backoffs) and kill local FFmpeg work; the runner calls this on Ctrl-C or a failure."""
        from ...media.ffmpeg import stop_all

        self.service.stop.set()
        stop_all()

    def close(self) -> None:
        self.service.close()

    def media(self, step: Step[MediaSpec], report: Reporter) -> MediaResult:
        return MediaResult(self.uploads.media(step, report), note="uploaded")

    def timeline(self, step: Step[EditSpec], draft: Draft, report: Reporter) -> DraftResult:
        made = self.timelines.push(step, draft, report)
        return DraftResult(made, f"in session: {summary(made)}")

    def ask(self, step: Step[AskSpec], base: Draft, report: Reporter) -> DraftResult:
        after, changed = self.timelines.ask(step, base, report)
        return DraftResult(after, changed or summary(after))

    def render(self, step: Step[ExportSpec], draft: Draft, output: Output, report: Reporter) -> RenderResult:
        return self.renders.render(step, draft, output, report)
