"""The null engine: renders every export as a black picture (and silence) of the right size and length.

It imports only the engine interface and the shared parts below it (the
media toolkit, the Draft, core types), never another engine or the runner.
"""

from __future__ import annotations

from nemoflow.core.model import AskSpec, ExportSpec, MediaSpec, Step
from nemoflow.draft.model import Draft
from nemoflow.draft.output import Output
from nemoflow.engines.base import DraftResult, Engine, MediaResult, Memo, Message, RenderResult, Reporter, ffmpeg_progress
from nemoflow.media.encode import audio_args, container_args, video_args
from nemoflow.media.entries import media_entry
from nemoflow.media.escape import lavfi_number
from nemoflow.media.ffmpeg import atomic_output, run_ffmpeg

REVISION = 1


class NullEngine(Engine):
    name = "null"

    def identity(self, memo: Memo) -> dict[str, str]:
        return {"engine": f"null r{REVISION}"}

    def media(self, step: Step[MediaSpec], report: Reporter) -> MediaResult:
        return MediaResult(media_entry(step), note="described by the null engine")

    def ask(self, step: Step[AskSpec], base: Draft, report: Reporter) -> DraftResult:
        report.message(Message.NOTE, f"the null engine leaves the timeline as it is: {step.spec.instruction!r}")
        return DraftResult(base.with_m(name=step.id), "unchanged")

    def render(self, step: Step[ExportSpec], draft: Draft, output: Output, report: Reporter) -> RenderResult:
        seconds = lavfi_number(draft.d / 1000)
        size = f"{output.width}x{output.height}"
        inputs = ["-f", "lavfi", "-i", f"color=c=black:s={size}:r={lavfi_number(output.fps)}:d={seconds}"]
        if output.has_audio:
            inputs += ["-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={seconds}"]
        with atomic_output(step.spec.path) as tmp:
            run_ffmpeg([*inputs, *video_args(output), *audio_args(output), "-t", seconds, *container_args(output), "-y", str(tmp)],
                       what=step.id, on_progress=ffmpeg_progress(report, draft.d / 1000, "render"))
        return RenderResult(step.spec.path, {"method": "null", "duration": draft.d / 1000, "output": output.to_json()},
                            f"{draft.d / 1000:.1f}s of black at {size}")
