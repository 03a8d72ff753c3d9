"""The nemo engine: the same recipes, run on the NemoVideo cloud.

Per step (DESIGN.md's table): media are sniffed here and uploaded (files
streamed, generated sources encoded first, URLs handed over as URLs); an
edit's Draft stays nemoflow's until something needs it in the service; an
`ask` brings a session to its base with plain instructions, sends the
instruction and keeps the service's draft (every field) as the step's result;
an export renders in the cloud (nemoflow's Draft with the service's media
references, or the service's draft untouched), with the render id on disk
before the request, then downloads with resume, probes what came back and
lands atomically.

The parts: service.py (client, ledger, locks), sessions.py (which session
holds which timeline), uploads.py, timeline.py and instructions.py (asks and
the words that set a session's timeline), drafts.py (the service's drafts),
renders.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core import codes
from ...core.diagnostics import Diagnostic
from ...core.model import AskSpec, ExportSpec, MediaSource, MediaSpec, Step, StepKind
from ...core.sniff import media_type
from ...draft.output import Output
from ..base import DraftResult, Engine, EngineContext, MediaResult, Memo, RenderResult, Reporter, Resource, Resources, Timeline
from .client import NemoClient
from .drafts import ServiceDraft
from .renders import BURNED_IN_CLOUD, BURNED_IN_CLOUD_HELP, Renders
from .service import Service
from .sessions import Sessions
from .settings import NemoSettings
from .timeline import Timelines
from .uploads import Uploads

# Part of every cache key: bump when the same recipe would give a different result on this engine.
# r2: asks keep the service's own draft; edits are no longer pushed into a session.
# r3: layers, kenburns, the full transition set and text styles mapped onto the render draft (issue 17).
ENGINE_REVISION = 3
FONT_FILES = (".ttf", ".otf", ".ttc")


class NemoEngine(Engine):
    name = "nemo"
    interrupted = ("the cloud render goes on in the service: its id is kept, and the next run resumes it instead of paying "
                   "for another; no partial output was kept")

    def __init__(self, context: EngineContext, *, settings: NemoSettings | None = None, client: NemoClient | None = None) -> None:
        super().__init__(context)
        self.service = Service(context.state_dir, context.options, settings=settings, client=client)
        self.sessions = Sessions(self.service, context.recipe)
        self.uploads = Uploads(self.service, self.sessions, context)
        self.timelines = Timelines(self.service, self.sessions, self.uploads, context)
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

    def diagnose(self, step: Step) -> Diagnostic | None:
        """What the service cannot be given: nemoflow's clauses on the service's own timeline, and files it cannot receive."""
        if step.kind == StepKind.MEDIA:
            return _svg(step)
        if step.kind != StepKind.EDIT:
            return None
        recipe = self.context.recipe
        asks = [recipe.steps[i] for i in step.inputs if i in recipe.steps and recipe.steps[i].kind == StepKind.ASK]
        if asks:
            return Diagnostic(step.span, f"`edit {step.name}` builds on `ask {asks[0].label}`, whose timeline is the NemoVideo "
                              "service's own: nemoflow's clauses cannot be applied to it", codes.EDIT_AFTER_ASK_IN_CLOUD.id,
                              help="put these clauses in the edit before the ask, say them in words in an `ask`, or run this "
                                   "recipe on the local engine (`--engine local`)")
        for op in step.spec.ops:
            if op.verb == "loudness":
                return Diagnostic(op.span, "the NemoVideo service has no loudness normalization: its timeline keeps no "
                                  "loudness target and its renders cannot be asked for one, so `loudness` cannot be applied "
                                  "there", codes.NOT_ON_SERVICE.id,
                                  help="run this recipe on the local engine (`--engine local`), which measures and levels "
                                       "the programme in two passes; `expect … loudness ~= -14 LUFS` still checks a cloud render")
            if op.verb in ("video", "music", "audio") and op.args.get("track") is not None:
                return Diagnostic(op.span, "the NemoVideo service's timeline names an upload, not one of its audio tracks, so "
                                  f"`track {op.args['track']}` cannot be applied there", codes.NOT_ON_SERVICE.id,
                                  help="leave `track` out (the service decides which track it plays), or run this recipe on the "
                                       "local engine (`--engine local`)")
            if op.verb == "captions" and not op.args.get("soft"):  # renders.py says why: BURNED_IN_CLOUD
                return Diagnostic(op.span, f"burned captions on the NemoVideo service: {BURNED_IN_CLOUD}",
                                  codes.NOT_ON_SERVICE.id, help=BURNED_IN_CLOUD_HELP)
            look = op.args.get("look") if op.verb == "grade" else None
            if isinstance(look, Mapping) and "lut" in look:
                return Diagnostic(op.span, f"the LUT file {look['lut']} is on this machine; the NemoVideo service cannot read it "
                                  "(a draft names media by upload, and LUTs are not an upload type)", codes.LOCAL_FILE_IN_CLOUD.id,
                                  help="use a preset look (e.g. `grade warm 60%`), or run this recipe on the local engine "
                                       "(`--engine local`)")
            font = op.args.get("font") if op.verb in ("title", "text") else None
            if isinstance(font, str) and font.lower().endswith(FONT_FILES):
                return Diagnostic(op.span, f"the font file {font} is on this machine; the NemoVideo service cannot read it",
                                  codes.LOCAL_FILE_IN_CLOUD.id,
                                  help="name a font family instead (e.g. `font \"DejaVu Sans\"`), or run this recipe on the "
                                       "local engine (`--engine local`)")
        return None

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

    def restore(self, step: Step, data: dict[str, Any]) -> Timeline:
        """An ask's cached result is the service's draft (its tolerant schema); an edit's is nemoflow's Draft."""
        if step.kind == StepKind.ASK:
            return ServiceDraft.load(data, f"read from the cache for {step.id}")
        return super().restore(step, data)

    def ask(self, step: Step[AskSpec], base: Timeline, report: Reporter) -> DraftResult:
        after, changed, names = self.timelines.ask(step, base, report)
        from .drafts import summary

        return DraftResult(after, changed or summary(after, names))

    def render(self, step: Step[ExportSpec], draft: Timeline, output: Output, report: Reporter) -> RenderResult:
        return self.renders.render(step, draft, output, report)


def _svg(step: Step[MediaSpec]) -> Diagnostic | None:
    """An SVG drawing: not among the upload types the service takes, and the local engine rasterises it at the output's
    size when it renders, which a file uploaded once per media cannot follow (judged by content, else by its name)."""
    path = step.spec.path
    if step.spec.source != MediaSource.FILE or path is None:
        return None
    try:
        with open(path, "rb") as fh:
            svg = media_type(fh.read(4096)) == "svg"
    except OSError:
        svg = path.suffix.lower() in (".svg", ".svgz")
    if not svg:
        return None
    return Diagnostic(step.span, f"media `{step.name}` is an SVG drawing ({path.name}); the NemoVideo service does not take SVG "
                      "uploads (its types are video, JPEG, PNG, GIF, WebP and audio)", codes.LOCAL_FILE_IN_CLOUD.id,
                      help="convert it to PNG at the size you need (e.g. `rsvg-convert -w 1920 logo.svg -o logo.png`), or run "
                           "this recipe on the local engine (`--engine local`), which rasterises it sharp at the output's size")
