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
from pathlib import Path
from typing import Any

from ...core.model import ExportSpec, Step
from ...draft.model import Draft
from ...draft.output import Output
from ...draft.schema import checked
from ...errors import NemoflowError, RenderError
from ...media.ffmpeg import atomic_output
from ..base import EngineContext, Message, RenderResult, Reporter, bytes_progress
from . import contract
from .errors import ApiError, ServiceUnavailable, SessionLost, StreamDropped
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

    def render(self, step: Step[ExportSpec], base: Draft, out: Output, report: Reporter) -> RenderResult:
        spec = step.spec
        draft = checked(base.with_m(canvas={"w": out.width, "h": out.height, "fps": out.fps}), f"before rendering {step.id}")
        slot = self.sessions.slot_of(spec.base.id)
        key = self.context.key_of(step.id)
        rid, resumed = self._resume(step, key, report)
        if rid is None:
            rid = self._start(step, key, slot, draft, out, report)
        status = self._poll(step, rid, report)
        part = self.context.state_dir / "downloads" / f"{rid}.mp4.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        ledger = self.service.ledger
        self.service.client.download(status["url"], part, bytes_progress(report, "download"))
        ledger.update_render(rid, status="completed", url=status["url"])
        converted = self._deliver(step, part, spec.path, out)
        ledger.update_render(rid, status="saved", t=time.time())
        info = _probe(spec.path, step.id)
        how = f"cloud render {rid}" + (", resumed" if resumed else "")
        if converted:
            how += f", converted here to {out.container}/{out.codec}"
        result = {"method": "cloud", "render": rid, "duration": info.duration, "converted": converted,
                  "output": {"width": out.width, "height": out.height, "fps": out.fps, "container": out.container, "codec": out.codec}}
        return RenderResult(spec.path, result, f"{info.duration or 0:.1f}s at {out.width}x{out.height}, {how}")

    def _resume(self, step: Step, key: str, report: Reporter) -> tuple[str | None, bool]:
        """A render an earlier (killed) run started for this very step key: poll it instead of paying again."""
        pending = self.service.ledger.pending_render(key)
        if pending is None:
            return None, False
        rid = pending["id"]
        status = self.service.client.render_status(rid)
        if status is None or status.get("status") == "failed":
            self.service.ledger.update_render(rid, status="lost" if status is None else "failed")
            return None, False
        report.message(Message.NOTE, f"resuming cloud render {rid}, started by an earlier run that did not finish (no second render "
                                     "is paid for)")
        return rid, True

    def _start(self, step: Step, key: str, slot: str, draft: Draft, out: Output, report: Reporter) -> str:
        output = {"format": contract.OUTPUT_FORMATS[0], "quality": contract.OUTPUT_QUALITIES.get(out.quality, "high")}
        ledger, client = self.service.ledger, self.service.client
        for _ in range(3):
            sid = self.sessions.get(slot)
            try:
                body = self.uploads.for_session(draft, sid, report).to_json()
            except SessionLost:
                self.sessions.replace(slot, sid, report)
                continue
            rid = self._new_render_id()
            ledger.begin_render(rid, key, step.id, sid)  # on disk before the request leaves
            try:
                client.start_render(rid, sid, body, output)
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

    def _poll(self, step: Step, rid: str, report: Reporter) -> dict[str, Any]:
        while True:
            status = self.service.client.render_status(rid)
            if status is None:
                self.service.ledger.update_render(rid, status="lost")
                raise StreamDropped(f"{step.id}: the service no longer knows render {rid}; run again to start a new one")
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
                raise RenderError(f"{step.id}: stopped waiting for cloud render {rid}: the run was cancelled; the render id is "
                                  "kept, and the next run resumes it instead of starting another")

    def _deliver(self, step: Step, part: Path, dest: Path, out: Output) -> bool:
        """Move the download into place, or convert it here when the export asks for more than H.264 MP4 at the service's quality."""
        convert = out.container != "mp4" or out.codec != "h264" or out.audio != "aac" or out.crf is not None or out.bitrate
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


def _probe(path: Path, step_id: str):
    from ...media.validate import validate_media

    try:
        return validate_media(path)
    except NemoflowError as err:
        raise RenderError(f"{step_id}: the file the service rendered is not a usable video ({err})") from None
