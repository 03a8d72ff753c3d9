"""Exports on the service: a render started once (its id on disk before the request), polled, downloaded, delivered.

A run killed while the cloud renders resumes polling the same render id on
the next run instead of paying for another; the download resumes by Range
and lands at its destination only when complete.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ...core.model import ExportSpec, Step
from ...draft.captions import caption_notes
from ...draft.model import Draft
from ...draft.output import Output
from ...draft.schema import checked
from ...draft.transitions import transition_notes
from ...errors import DraftError, NemoflowError, RenderError
from ...media import captions as subs
from ...media import workdir
from ...media.ffmpeg import atomic_output
from ..base import EngineContext, Message, RenderResult, Reporter, bytes_progress
from . import contract
from .drafts import ServiceDraft
from .errors import ApiError, ServiceUnavailable, SessionLost, StreamDropped
from .instructions import levelled
from .service import Service
from .sessions import Sessions
from .uploads import Uploads


class Renders:
    def __init__(self, service: Service, sessions: Sessions, uploads: Uploads, context: EngineContext) -> None:
        self.service = service
        self.sessions = sessions
        self.uploads = uploads
        self.context = context
        self._lock = threading.Lock()
        self._last_ms = 0

    def render(self, step: Step[ExportSpec], base: Draft | ServiceDraft, out: Output, report: Reporter) -> RenderResult:
        """Render in the cloud: nemoflow's Draft with the service's media references, or the service's own draft untouched."""
        spec = step.spec
        soft: tuple[subs.Cue, ...] = ()
        if isinstance(base, Draft):  # captions never go to the service: soft ones are muxed here after the download
            base, soft = _captions(step, base, out)
        slot = self.sessions.slot_of(spec.base.id)  # an ask's draft lives in its session; an edit's media were uploaded there
        if isinstance(base, ServiceDraft):
            sent = base.with_canvas(out.width, out.height, out.fps)  # the size asked for: the only field nemoflow adds

            def body(sid: str) -> dict[str, Any]:
                return sent.to_json()
        else:  # weights and the master level worked into plain levels, the service's own terms (instructions.levelled)
            draft = checked(levelled(base, out.volume).with_m(canvas={"w": out.width, "h": out.height, "fps": out.fps}),
                            f"before rendering {step.id}")
            out = attrs.evolve(out, volume=100.0)  # already in the levels: not applied again when delivering
            for line in transition_notes(base):  # said at export, as the local engine says them
                report.message(Message.WARNING, line)
            for line in caption_notes(base):
                report.message(Message.NOTE, line)

            def body(sid: str) -> dict[str, Any]:
                return self.uploads.for_session(draft, sid, report)[0].to_json()
        key = self.context.key_of(step.id)
        rid, resumed = self._resume(step, key, report)
        for _ in range(3):
            if rid is None:
                rid = self._start(step, key, slot, body, report)
            status = self._poll(step, rid, report)
            if status is not None:
                break
            report.message(Message.NOTE, f"the service does not know render {rid} (it was never created, or was forgotten); "
                                         "requesting it again under a new id")
            rid, resumed = None, False
        else:
            raise StreamDropped(f"{step.id}: the service forgot three renders in a row; run again")
        part = self.context.state_dir / "downloads" / f"{rid}.mp4.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        ledger = self.service.ledger
        self.service.client.download(status["url"], part, bytes_progress(report, "download"))
        ledger.update_render(rid, status="completed", url=status["url"])
        got = _probe(part, step.id)
        if soft:  # the download made the picture and sound; the cues added as a subtitle stream by stream copy
            with workdir.work_dir(spec.path.parent, "captions") as work:
                picture = work / f"picture{spec.path.suffix}"
                converted = self._deliver(step, part, picture, out)
                subs.deliver_soft(picture, soft, spec.path, out.container, work, step.id)
        else:
            converted = self._deliver(step, part, spec.path, out)
        ledger.update_render(rid, status="saved", t=time.time())
        video = got.video
        size = (video.width, video.height) if video is not None else (0, 0)
        seconds = got.duration or 0.0
        short = [f"{size[0]}x{size[1]} (asked {out.width}x{out.height})" if size[0] * size[1] < out.width * out.height else "",
                 f"{seconds:.2f}s long (asked {base.d / 1000:.2f}s)" if seconds + 1 / out.fps + 0.05 < base.d / 1000 else ""]
        if any(short):
            report.message(Message.WARNING, f"the service rendered {' and '.join(w for w in short if w)} for {step.id}; "
                                            "the `expect` block decides whether that passes")
        how = f"cloud render {rid}" + (", resumed" if resumed else "")
        if converted:
            how += f", converted here to {out.container}/{out.codec}"
        if soft:
            how += f", {len(soft)} soft caption{'s' if len(soft) != 1 else ''} added here"
        result = {"method": "cloud", "render": rid, "duration": seconds, "converted": converted,
                  "output": {"width": out.width, "height": out.height, "fps": out.fps, "container": out.container, "codec": out.codec},
                  "rendered": {"width": size[0], "height": size[1], "duration": seconds}}
        return RenderResult(spec.path, result, f"{seconds:.1f}s at {size[0]}x{size[1]}, {how}")

    def _resume(self, step: Step, key: str, report: Reporter) -> tuple[str | None, bool]:
        """A render an earlier (killed) run started for this very step key: poll it instead of paying again."""
        pending = self.service.ledger.pending_render(key)
        if pending is None:
            return None, False
        rid = pending["id"]
        status = self.service.client.render_status(rid)
        if status is None or status.get("status") == "failed":
            self.service.ledger.update_render(rid, status="lost" if status is None else "failed", t=time.time())
            if status is None:
                report.message(Message.NOTE, f"render {rid}, recorded by an earlier run, is unknown to the service (that run "
                                             "stopped before the service created it); requesting a new one")
            return None, False
        report.message(Message.NOTE, f"resuming cloud render {rid}, started by an earlier run that did not finish (no second render "
                                     "is paid for)")
        return rid, True

    def _start(self, step: Step, key: str, slot: str, body: Callable[[str], dict[str, Any]], report: Reporter) -> str:
        output = {"format": contract.OUTPUT_FORMATS[0], "quality": contract.OUTPUT_QUALITY}
        ledger, client = self.service.ledger, self.service.client
        for _ in range(3):
            sid = self.sessions.get(slot)
            try:
                draft = body(sid)
            except SessionLost:
                self.sessions.replace(slot, sid, report)
                continue
            rid = self._new_render_id()
            ledger.begin_render(rid, key, step.id, sid)  # on disk before the request leaves
            try:
                client.start_render(rid, sid, draft, output)
            except SessionLost:
                ledger.update_render(rid, status="lost")
                self.sessions.replace(slot, sid, report)
                continue
            except ServiceUnavailable:
                raise  # it may exist after all: left as requested, so the retry asks for it before posting again
            except ApiError:
                ledger.update_render(rid, status="failed")
                raise
            ledger.update_render(rid, status="started")
            return rid
        raise StreamDropped(f"{step.id}: the session was lost three times while starting the render; run again")

    def _new_render_id(self) -> str:
        with self._lock:
            ms = max(int(time.time() * 1000), self._last_ms + 1)
            self._last_ms = ms
            return contract.render_id(ms)

    def _poll(self, step: Step, rid: str, report: Reporter) -> dict[str, Any] | None:
        """The completed render's status; None when the service does not know the id (recorded as lost)."""
        while True:
            status = self.service.client.render_status(rid)
            if status is None:
                self.service.ledger.update_render(rid, status="lost", t=time.time())
                return None
            state = status.get("status")
            progress = status.get("progress")
            if isinstance(progress, (int, float)):
                report.progress(max(0.0, min(1.0, float(progress))) * 100, 100.0, f"cloud render ({state})", unit="%")
            if state == "completed":
                if not isinstance(status.get("url"), str):
                    raise RenderError(f"{step.id}: render {rid} completed without an output url; the API may have changed")
                return status
            if state == "failed":
                self.service.ledger.update_render(rid, status="failed")
                raise RenderError(f"{step.id}: the cloud render {rid} failed: {status.get('error') or 'no reason given'}; "
                                  "run again to retry, or render it locally with --engine local")
            if self.service.stop.wait(self.service.settings.poll_interval):
                raise RenderError(f"{step.id}: stopped waiting for cloud render {rid}: the run was cancelled, and the render goes "
                                  "on in the cloud; its id is kept, and the next run resumes it instead of paying for another")

    def _deliver(self, step: Step, part: Path, dest: Path, out: Output) -> bool:
        """Move the download into place, or convert it here when the export asks for more than H.264 MP4 at the service's quality."""
        convert = (out.container != "mp4" or out.codec != "h264" or out.audio != "aac" or out.crf is not None or out.bitrate
                   or abs(out.volume - 100.0) > 1e-9)  # a master level on the service's own draft: applied here
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(dest) as tmp:
            if convert:
                from ...media.convert import convert as reencode

                reencode(part, tmp, out, what=f"{step.id} (converting the cloud render to {out.container}/{out.codec})")
                part.unlink()
            else:
                try:
                    os.replace(part, tmp)
                except OSError:  # another file system
                    shutil.move(str(part), str(tmp))
        return bool(convert)


BURNED_IN_CLOUD = ("the NemoVideo service draws its own text and cannot be given nemoflow's captions; burning them in here "
                   "after the download would decode and re-encode the whole cloud render on this machine (a second lossy "
                   "encode, and the local work the cloud render was meant to save), so nemoflow refuses instead")
BURNED_IN_CLOUD_HELP = ("make them `soft` (a subtitle stream added to the downloaded file without re-encoding), or run this "
                        "recipe on the local engine (`--engine local`), which burns them in while it renders")


def _captions(step: Step, draft: Draft, out: Output) -> tuple[Draft, tuple[subs.Cue, ...]]:
    """The draft the service renders (no captions) and the soft cues to add after the download; burned ones refused."""
    burned = subs.cues(draft, out.fps, subs.BURN)
    if burned:
        raise DraftError(f"{step.id}: {len(burned)} burned caption{'s' if len(burned) != 1 else ''} (the first "
                         f"{burned[0].text[:40]!r} at {burned[0].start / 1000:g}s): {BURNED_IN_CLOUD}; {BURNED_IN_CLOUD_HELP}")
    soft = subs.cues(draft, out.fps, subs.SOFT)
    if soft:
        subs.check_soft(out, step.id)
        if out.container == "webm":
            subs.check_sidecar(step.spec.path.with_suffix(".vtt"))
    return subs.without_captions(draft), soft


def _probe(path: Path, step_id: str):
    from ...media.validate import validate_media

    try:
        return validate_media(path, max_bytes=1 << 62)  # what came back is judged by its content, not by the upload limit
    except NemoflowError as err:
        raise RenderError(f"{step_id}: the file the service rendered is not a usable video ({err})") from None
