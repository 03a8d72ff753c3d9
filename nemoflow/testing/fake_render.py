"""The fake NemoVideo service's renders: a job per render id, rendered for real by the local engine in a background thread.

A job is `queued` for quirks.queue_seconds, then `rendering` (progress 0..1 from
FFmpeg's own progress, never ahead of quirks.render_seconds), then `completed`
with a /files/ URL or `failed` with an error text. Credits are frozen while the
job runs, spent when it completes and released when it fails.
"""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..draft import ops
from ..draft.model import VIDEO, Draft
from ..draft.output import Output
from ..engines.local.graph import build_command
from ..engines.nemo import contract
from ..errors import NemoflowError
from ..media.ffmpeg import Progress, atomic_output, run_ffmpeg
from . import fake_timeline
from .fake_files import Upload, probe_upload

if TYPE_CHECKING:
    from .fake_nemo import FakeNemo

QUEUED, RENDERING, COMPLETED, FAILED = contract.RENDER_STATUSES
LOCAL_QUALITY = "draft"  # the fake renders fast whatever the body asks: picture quality is not what it tests


class RenderFailure(Exception):
    """Why a render cannot be done (its text becomes the job's `error`)."""


@attrs.define
class RenderJob:
    """One render, as the service tracks it; `created`/`finished` are time.monotonic() values."""

    id: str
    session_id: str
    account: str  # the owning account's id (never its token)
    draft: dict[str, Any]
    format: str
    quality: str
    cost: int
    created: float
    status: str = QUEUED
    progress: float = 0.0  # what FFmpeg reached, 0..1
    url: str | None = None
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    output: Path | None = None

    def elapsed(self, now: float | None = None) -> float:
        end = self.finished if self.finished is not None else (now if now is not None else time.monotonic())
        return end - self.created

    def data(self, render_seconds: float) -> dict[str, Any]:
        """The status `data`: id, status, progress (never ahead of render_seconds), url or error, plus `elapsed`."""
        now = time.monotonic()
        progress = {QUEUED: 0.0, COMPLETED: 1.0}.get(self.status, self.progress)
        if self.status == RENDERING and render_seconds > 0:
            progress = min(progress, self.elapsed(now) / render_seconds)
        out: dict[str, Any] = {"id": self.id, "status": self.status, "progress": round(max(0.0, min(progress, 1.0)), 4),
                               "elapsed": round(self.elapsed(now), 3)}
        if self.status == COMPLETED:
            out["url"] = self.url
        if self.status == FAILED:
            out["error"] = self.error
        return out


def start(fake: FakeNemo, job: RenderJob) -> threading.Thread:
    thread = threading.Thread(target=_work, args=(fake, job), name=f"fake-render-{job.id}", daemon=True)
    thread.start()
    return thread


def _wait_until(fake: FakeNemo, moment: float) -> bool:
    """Sleep until time.monotonic() reaches `moment`; False if the fake is stopping."""
    return not fake._stopping.wait(max(0.0, moment - time.monotonic()))


def _work(fake: FakeNemo, job: RenderJob) -> None:
    q = fake.quirks
    if not _wait_until(fake, job.created + q.queue_seconds):
        return
    with fake._lock:
        job.status, job.started = RENDERING, time.monotonic()
    error = None
    try:
        if q.fail_renders:
            raise RenderFailure("the render failed on the render farm (GPU worker lost); try again")
        _render(fake, job)
    except (RenderFailure, NemoflowError) as exc:
        error = str(exc)
    except Exception as exc:  # a bug in the fake or the engine: still a failed job, never a stuck one
        error = f"internal render error: {type(exc).__name__}: {exc}"
    if not _wait_until(fake, job.created + q.render_seconds):
        return
    fake._finish_render(job, error)


def _render(fake: FakeNemo, job: RenderJob) -> None:
    try:
        internal = fake_timeline.to_internal(job.draft, fake.library())
    except fake_timeline.Unresolved as exc:
        raise RenderFailure(str(exc)) from None
    draft = Draft.from_json(resolve_media(fake, internal))
    q = fake.quirks
    if q.render_cut_ms and draft.d > q.render_cut_ms:
        draft = ops.normalize(ops.trim(draft, 0, draft.d - q.render_cut_ms))
    if not draft.segments(VIDEO) or draft.d <= 0:
        raise RenderFailure("the draft has no video clip to render")
    canvas = draft.canvas or _canvas_from_media(draft)
    w, h = int(canvas["w"]), int(canvas["h"])
    if q.render_max_edge and max(w, h) > q.render_max_edge:  # "up to 1080x1920": a larger frame comes back scaled down
        scale = q.render_max_edge / max(w, h)
        w, h = ops.even(w * scale), ops.even(h * scale)
    out = Output(width=w, height=h, fps=float(canvas["fps"]), container="mp4", codec="h264", quality=LOCAL_QUALITY, audio="aac")
    what = f"fake render {job.id}"
    dest = fake.root / "files" / job.id / f"{job.id}.mp4"
    with atomic_output(dest) as tmp:
        cmd = build_command(draft, out, tmp, what=what, cache_dir=fake.root / "cache")

        def progress(snap: Progress) -> None:
            if cmd.duration > 0:
                job.progress = max(job.progress, min(snap.seconds / cmd.duration, 1.0))

        run_ffmpeg(cmd.args, what=what, on_progress=progress, on_start=fake._track_process, run_scoped=False)  # a run's cancel is not ours
    job.output = dest


def _canvas_from_media(draft: Draft) -> dict[str, Any]:
    for seg in draft.segments(VIDEO):
        entry = draft.media.get(seg.m["src"], {})
        if entry.get("w") and entry.get("h"):
            return {"w": entry["w"], "h": entry["h"], "fps": entry.get("fps") or 30.0}
    raise RenderFailure("the draft has no canvas (m.canvas) and its clips do not say their size")


def resolve_media(fake: FakeNemo, draft: dict[str, Any]) -> dict[str, Any]:
    """The draft with each media entry's /files/ URL mapped to the stored file (`path`), missing facts filled in."""
    out = copy.deepcopy(draft)
    media = (out.get("m") or {}).get("media") or {}
    for key, entry in media.items():
        if "gen" in entry:
            continue
        url = entry.get("url")
        if not url:
            raise RenderFailure(f"media `{key}` has no url: upload it to the session first (the service cannot read local paths)")
        stored = fake.stored_file(url)
        if stored is None:
            raise RenderFailure(f"media `{key}`: cannot fetch {url}")
        entry["path"] = str(stored.path)
        for fact, value in stored.entry.items():
            entry.setdefault(fact, value)
    return out


def store_output(fake: FakeNemo, job: RenderJob) -> Upload:
    """Register a finished render's file so that /files/ serves it."""
    assert job.output is not None
    facts = probe_upload(job.output)
    return Upload(id=job.id, name=job.output.name, path=job.output, size=job.output.stat().st_size, kind=facts["kind"],
                  duration=facts["duration"], width=facts["width"], height=facts["height"], entry=facts["entry"])

