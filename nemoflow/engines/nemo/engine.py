"""The nemo engine: the same recipes, run on the NemoVideo cloud.

Per step (DESIGN.md's table): media are validated here and uploaded (files
streamed, generated sources encoded first, URLs handed over as URLs); edits
become the same Draft the local engine builds, sent to the session and
checked against its state; `ask` sends the instruction and reads the state to
learn what changed; exports render in the cloud, with the render id on disk
before the request, then download with resume and land atomically.

Sessions: one per timeline (an edit and the asks that continue it share one;
an independent branch gets its own), remembered in the recipe's state
directory with what was uploaded to each, so a re-run sends nothing twice.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...core.graph import topological_order
from ...core.model import ExportSpec, Recipe, Step
from ...draft.build import build_edit, media_clip_draft
from ...draft.diff import changes, mismatches, same_timeline, summary, unified_diff
from ...draft.model import TEXT, VIDEO, Draft
from ...draft.schema import checked
from ...errors import DraftError, NemoflowError, RenderError
from ..local.engine import CachedResult, LocalEngine, ProgressSink, StepOutcome
from ..local.ffmpeg import Progress, atomic_output, run_ffmpeg, stop_all
from ..local.presets import Output, output_for
from . import contract
from .client import NemoClient
from .drafts import read_state_draft
from .errors import ApiError, ServiceUnavailable, SessionLost, StreamDropped, UploadRefused
from .ledger import Ledger
from .settings import NemoSettings
from .sse import Reply, send_message

MessageSink = Callable[[str, str, str], None]  # (step id, kind: text | call | heartbeat | action | note, text)

# Part of every cache key: bump when the same recipe would give a different result on this engine.
ENGINE_REVISION = 1


class NemoEngine:
    name = "nemo"

    def __init__(self, recipe: Recipe, *, state_dir: Path, settings: NemoSettings | None = None,
                 on_progress: ProgressSink | None = None, on_message: MessageSink | None = None,
                 cached: CachedResult | None = None, key_of: Callable[[str], str] | None = None,
                 client: NemoClient | None = None) -> None:
        self.recipe = recipe
        self.settings = settings or NemoSettings.load()
        self.state_dir = state_dir
        self.on_progress = on_progress
        self.on_message = on_message
        self.cached = cached
        self.key_of = key_of or (lambda sid: sid)
        self.local = LocalEngine(recipe, cached=None)  # probing and validation only: its media entries hold local paths
        self.ledger = Ledger(state_dir / "nemo.json", self.settings.api_url)
        self.slots = timeline_slots(recipe)
        self.main_slot = next(iter(self.slots.values()), "main")
        self._client = client
        self._lock = threading.RLock()
        self._keyed: dict[str, threading.Lock] = {}
        self._media: dict[str, dict[str, Any]] = {}
        self._drafts: dict[str, Draft] = {}
        self._changes: dict[str, str] = {}  # ask step → what it changed, in words
        self._stop = threading.Event()
        self._last_ms = 0

    # -- what the runner asks ------------------------------------------------------------
    @property
    def client(self) -> NemoClient:
        with self._lock:
            if self._client is None:
                self._client = NemoClient(self.settings)
            return self._client

    def identity(self, memo) -> dict[str, str]:
        from ... import __version__

        local = self.local.identity(memo)  # generated sources are encoded here, by this FFmpeg
        return {"engine": f"nemo {__version__} r{ENGINE_REVISION} {self.settings.api_url}", "ffmpeg": local["ffmpeg"]}

    def step_identity(self, step: Step) -> dict[str, str]:
        """Nothing per step: the service interprets `ask` (its answer is cached by the instruction and the inputs)."""
        return {}

    def cannot_run(self, step: Step) -> str | None:
        return None

    def resources(self, step: Step) -> tuple[str, int]:
        return ("light", 1) if step.kind == "expect" else ("net", 1)

    def cancel(self) -> None:
        """Stop waiting (polls, backoffs) and kill local FFmpeg work; the runner calls this on Ctrl-C or a failure."""
        self._stop.set()
        stop_all()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def run_step(self, step: Step) -> StepOutcome:
        if step.kind == "media":
            entry = self.media(step.id)
            length = f", {entry['d'] / 1000:.1f}s" if entry.get("d") else ""
            return StepOutcome(entry, summary=f"{entry.get('kind', 'media')}{length}, uploaded")
        if step.kind == "edit":
            draft = self.draft(step.id)
            return StepOutcome(draft.to_json(), summary=f"in session: {summary(draft)}")
        if step.kind == "ask":
            draft = self.draft(step.id)
            return StepOutcome(draft.to_json(), summary=self._changes.get(step.id) or summary(draft))
        if step.kind == "export":
            return self.export(step)
        raise DraftError(f"the nemo engine does not run {step.kind} steps")

    # -- messages and progress -----------------------------------------------------------------
    def _say(self, step_id: str, kind: str, text: str) -> None:
        if self.on_message is not None:
            self.on_message(step_id, kind, text)

    def _progress(self, step_id: str, done: float, total: float, phase: str, unit: str, finished: bool = False) -> None:
        if self.on_progress is not None:
            self.on_progress(step_id, Progress(seconds=done, fps=0.0, speed=0.0, frame=0, done=finished), total, phase, unit)

    def _bytes_progress(self, step_id: str, phase: str):
        return lambda done, total: self._progress(step_id, done / 1e6, max(total, done) / 1e6, phase, "MB", total > 0 and done >= total)

    def _keyed_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._keyed.setdefault(key, threading.Lock())

    # -- sessions ------------------------------------------------------------------------------
    def session(self, slot: str) -> str:
        with self._keyed_lock(f"session:{slot}"):
            sid = self.ledger.session(slot)
            if sid is None:
                sid = self.client.create_session()
                self.ledger.set_session(slot, sid)
                self._remember_last(sid)
            return sid

    def _replace_session(self, slot: str, lost: str, step_id: str) -> str:
        """After 1002: a new session for the slot (once, however many threads noticed), uploads redone on demand."""
        with self._keyed_lock(f"session:{slot}"):
            current = self.ledger.session(slot)
            if current and current != lost:
                return current
            sid = self.client.create_session()
            self.ledger.set_session(slot, sid)
            self._remember_last(sid)
        self._say(step_id, "note", f"session {lost} no longer exists on the service (code 1002); continuing in a new session "
                                   f"{sid}, re-uploading by URL what it needs")
        return sid

    def _in_session(self, slot: str, step_id: str, work: Callable[[str], Any]) -> Any:
        sid = self.session(slot)
        try:
            return work(sid)
        except SessionLost:
            return work(self._replace_session(slot, sid, step_id))

    def _remember_last(self, sid: str) -> None:
        from .credentials import credentials_path

        path = credentials_path().parent / "last-session.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"api": self.settings.api_url, "session": sid, "recipe": str(self.recipe.path)}))
        except OSError:
            pass  # only a convenience for `nemoflow state`

    # -- media ------------------------------------------------------------------------------------
    def media(self, mid: str) -> dict[str, Any]:
        with self._keyed_lock(f"media:{mid}"):
            if mid not in self._media:
                stored = self.cached(mid) if self.cached else None
                self._media[mid] = stored if isinstance(stored, dict) and "url" in stored else self._upload_media(self.recipe.steps[mid])
            return self._media[mid]

    def _upload_media(self, step: Step) -> dict[str, Any]:
        spec = step.spec
        where = f"{step.span.file}:{step.span.line}"
        if spec.source == "url":
            kind = _kind_of(spec.url)
            if kind is None:
                raise UploadRefused(f"{where}: media `{step.name}` ({spec.url}) is not a type the service accepts; "
                                    f"{contract.REMEDIES[contract.UNSUPPORTED_FILE]}", code=contract.UNSUPPORTED_FILE)
            info = self._in_session(self.main_slot, step.id, lambda sid: self._uploaded(sid, "url:" + spec.url, None, spec.url, step.id))
            entry: dict[str, Any] = {"kind": kind, "url": info["url"], "name": info.get("name") or spec.url.rsplit("/", 1)[-1],
                                     "audio": kind != "image", "sha256": "url:" + spec.url}
            if isinstance(info.get("duration"), (int, float)) and kind != "image":
                entry["d"] = int(info["duration"])
            for ours, theirs in (("w", "width"), ("h", "height")):
                if isinstance(info.get(theirs), int):
                    entry[ours] = info[theirs]
            return entry
        path = self._local_file(step.id)
        facts = self.local.media(step.id)
        from ...plan.digests import sha256_file

        digest = sha256_file(path)
        name = path.name if spec.source == "file" else f"{step.name}{path.suffix}"  # not the cache's hash name
        info = self._in_session(self.main_slot, step.id, lambda sid: self._uploaded(sid, digest, path, None, step.id, name))
        entry = {k: v for k, v in facts.items() if k not in ("path", "gen")}
        entry.update(url=info["url"], name=name, sha256=digest)
        return entry

    def _local_file(self, mid: str) -> Path | None:
        """The bytes behind a media step: its file (checked against the upload rules first), or its generator encoded."""
        step = self.recipe.steps.get(mid)
        if step is None or step.kind != "media" or step.spec.source == "url":
            return None
        if step.spec.source == "generated":
            from ..local.generate import generated_file

            entry = self.local.media(mid)
            made = generated_file(entry, self.local.cache_dir, what=f"{mid} (encoding the generated source for upload)",
                                  on_progress=lambda p: self._progress(mid, p.seconds, entry.get("d", 0) / 1000, "encode", "s"))
            check_uploadable(made, f"{step.span.file}:{step.span.line}: media `{step.name}` (generated, encoded for upload)")
            return made
        path: Path = step.spec.path
        check_uploadable(path, f"{step.span.file}:{step.span.line}: media `{step.name}`")
        return path

    def _uploaded(self, sid: str, digest: str, path: Path | None, url: str | None, step_id: str,
                  name: str | None = None) -> dict[str, Any]:
        """This content's upload in session `sid`: recorded, else by URL from an earlier upload, else the file itself."""
        with self._keyed_lock(f"upload:{sid}:{digest}"):
            found = self.ledger.upload(sid, digest)
            if found is not None:
                return found
            earlier = self.ledger.any_upload(digest)
            source_url = earlier["url"] if earlier else url
            info = None
            if source_url:
                try:
                    info = self.client.upload_url(sid, source_url)
                except (UploadRefused, ApiError) as err:
                    if isinstance(err, SessionLost) or path is None:
                        raise
            if info is None:
                if path is None:
                    raise UploadRefused(f"{step_id}: nothing to upload", code=contract.UNSUPPORTED_FILE)
                info = self.client.upload_file(sid, path, self._bytes_progress(step_id, "upload"), name=name)
            record = {k: info.get(k) for k in contract.UPLOAD_FIELDS}
            self.ledger.add_upload(sid, digest, record)
            return record

    def _for_session(self, draft: Draft, sid: str, step_id: str) -> Draft:
        """The draft with each media pointing at its upload in `sid` (uploading by URL where it is not there yet)."""
        media = {}
        for mid, entry in draft.media.items():
            digest = entry.get("sha256")
            if not isinstance(digest, str):
                media[mid] = entry  # media the service added itself
                continue
            info = self._uploaded(sid, digest, self._local_file(mid) if not digest.startswith("url:") else None,
                                  entry.get("url"), step_id, entry.get("name"))
            media[mid] = {**entry, "url": info["url"]}
        return draft.with_m(media=media)

    # -- drafts --------------------------------------------------------------------------------------
    def draft(self, step_id: str) -> Draft:
        with self._keyed_lock(f"draft:{step_id}"):
            if step_id not in self._drafts:
                self._drafts[step_id] = self._make_draft(self.recipe.steps[step_id])
            return self._drafts[step_id]

    def _make_draft(self, step: Step) -> Draft:
        stored = self.cached(step.id) if self.cached and step.kind in ("edit", "ask") else None
        if stored is not None:
            return Draft.from_json(stored)
        if step.kind == "media":
            return checked(media_clip_draft(step.id, self.media(step.id)), f"for {step.id}")
        if step.kind == "edit":
            media = {i: self.media(i) for i in step.inputs if self.recipe.steps[i].kind == "media"}
            expected = build_edit(step, media, self.draft)
            _portable(expected, step)
            return self._push(step, expected)
        if step.kind == "ask":
            return self._ask(step)
        raise DraftError(f"{step.id} does not produce a draft")

    def _state(self, sid: str) -> Draft:
        return read_state_draft(self.client.state(sid), f"read from session {sid} (the service's timeline state)")

    def _apply(self, step: Step, sid: str, expected: Draft) -> tuple[Draft, Reply]:
        text = contract.apply_draft_message(json.dumps(expected.to_json(), ensure_ascii=False, separators=(",", ":")))
        reply = send_message(self.client, sid, text, on_event=lambda kind, t: self._say(step.id, kind, t))
        return self._state(sid), reply

    def _push(self, step: Step, expected: Draft) -> Draft:
        """Send a structured edit to the step's session; the session's state must then hold exactly that draft."""
        slot = self.slots[step.id]
        for attempt in range(3):
            sid = self.session(slot)
            try:
                target = self._for_session(expected, sid, step.id)
                actual, reply = self._apply(step, sid, target)
            except SessionLost:
                self._replace_session(slot, sid, step.id)
                continue
            problems = mismatches(target.to_json(), actual.to_json())
            if not problems:
                return actual
            if reply.ending in ("dropped", "unsent", "timeout") and attempt < 2:
                self._say(step.id, "note", f"the message stream {_ending(reply)} before the draft arrived; sending it again")
                continue
            shown = "\n".join("    " + p for p in problems[:8])
            raise DraftError(f"{step.span.file}:{step.span.line}: the NemoVideo session {sid} did not take {step.id}'s timeline as "
                             f"sent ({len(problems)} difference{'s' if len(problems) != 1 else ''}):\n{shown}\n"
                             f"{unified_diff(target, actual, before_name='sent', after_name='session state')}\n"
                             "The service may have changed how it applies drafts (see engines/nemo/contract.py), or the edit uses "
                             "something it does not support; run it on the local engine (--engine local) meanwhile.")
        raise StreamDropped(f"{step.id}: the session {sid} lost its timeline three times in a row; run again")

    def _ask(self, step: Step) -> Draft:
        base = self.draft(step.spec.base.id)
        slot = self.slots[step.id]
        where = f"{step.span.file}:{step.span.line}:{step.span.column}"
        for attempt in range(3):
            sid = self.session(slot)
            try:
                target = self._for_session(base, sid, step.id)
                before = self._state(sid)
                if mismatches(target.to_json(), before.to_json()):
                    before, _ = self._apply(step, sid, target)
                reply = send_message(self.client, sid, step.spec.instruction, on_event=lambda kind, t: self._say(step.id, kind, t))
                after = self._state(sid)
                if reply.ending in ("dropped", "unsent", "timeout") and same_timeline(before, after):
                    self._stop.wait(min(self.settings.poll_interval, 5.0))  # the backend may still be applying it
                    after = self._state(sid)
            except SessionLost:
                self._replace_session(slot, sid, step.id)
                continue
            if not (same_timeline(before, after) and same_timeline(after, before)):
                done = changes(before, after)
                for line in done:
                    self._say(step.id, "note", line)
                self._act(step, reply, after)
                self._changes[step.id] = "; ".join(done)
                return after
            if reply.ending in ("dropped", "unsent", "timeout") and attempt < 2:
                self._say(step.id, "note", f"the message stream {_ending(reply)} and the timeline is unchanged; sending the "
                                           "instruction again")
                continue
            said = " ".join(reply.texts)[:300] or "nothing (the stream closed without a reply)"
            raise NemoflowError(f"{where}: `ask {step.name}` changed nothing: the session's timeline is the same as before the "
                                f"instruction {step.spec.instruction!r}. The service said: {said}. Rephrase the instruction, or "
                                "write the edit as clauses in an `edit` block.")
        raise StreamDropped(f"{where}: `ask {step.name}`: the message stream dropped three times with no change; run again")

    def _act(self, step: Step, reply: Reply, after: Draft) -> None:
        """GUI phrasing is an instruction to the client: export → the export steps; preview/open → summarise the state."""
        for action in reply.actions:
            if action == "preview":
                self._say(step.id, "action", f"preview: {summary(after)}")
            elif action == "export":
                exports = [s.id for s in self.recipe.by_kind("export") if s.spec.base.id == step.id]
                self._say(step.id, "action", f"export: done by {', '.join(exports)}" if exports else
                          f"export: no export step renders {step.id} yet; add `export NAME = {step.name} {{ … }}` to render it")

    # -- export --------------------------------------------------------------------------------------
    def export(self, step: Step) -> StepOutcome:
        spec: ExportSpec = step.spec
        base = self.draft(spec.base.id)
        out = output_for(spec.settings, base.canvas or {"w": 1920, "h": 1080, "fps": 30}, base.m.get("output"))
        draft = checked(base.with_m(canvas={"w": out.width, "h": out.height, "fps": out.fps}), f"before rendering {step.id}")
        slot = self.slots.get(spec.base.id, self.main_slot)
        key = self.key_of(step.id)
        rid, resumed = self._resume(step, key)
        if rid is None:
            rid = self._start(step, key, slot, draft, out)
        status = self._poll(step, rid, draft.d / 1000)
        part = self.state_dir / "downloads" / f"{rid}.mp4.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        self.client.download(status["url"], part, self._bytes_progress(step.id, "download"))
        self.ledger.update_render(rid, status="completed", url=status["url"])
        dest: Path = spec.path
        converted = self._deliver(step, part, dest, out)
        self.ledger.update_render(rid, status="saved", t=time.time())
        info = _probe(dest, step.id)
        how = f"cloud render {rid}" + (", resumed" if resumed else "")
        if converted:
            how += f", converted here to {out.container}/{out.codec}"
        result = {"method": "cloud", "render": rid, "duration": info.duration, "converted": converted,
                  "output": {"width": out.width, "height": out.height, "fps": out.fps, "container": out.container, "codec": out.codec}}
        return StepOutcome(result, (dest,), f"{info.duration or 0:.1f}s at {out.width}x{out.height}, {how}")

    def _resume(self, step: Step, key: str) -> tuple[str | None, bool]:
        """A render an earlier (killed) run started for this very step key: poll it instead of paying again."""
        pending = self.ledger.pending_render(key)
        if pending is None:
            return None, False
        rid = pending["id"]
        status = self.client.render_status(rid)
        if status is None or status.get("status") == "failed":
            self.ledger.update_render(rid, status="lost" if status is None else "failed")
            return None, False
        self._say(step.id, "note", f"resuming cloud render {rid}, started by an earlier run that did not finish (no second render "
                                   "is paid for)")
        return rid, True

    def _start(self, step: Step, key: str, slot: str, draft: Draft, out: Output) -> str:
        output = {"format": contract.OUTPUT_FORMATS[0], "quality": contract.OUTPUT_QUALITIES.get(out.quality, "high")}
        for _ in range(3):
            sid = self.session(slot)
            try:
                body = self._for_session(draft, sid, step.id).to_json()
            except SessionLost:
                self._replace_session(slot, sid, step.id)
                continue
            rid = self._new_render_id()
            self.ledger.begin_render(rid, key, step.id, sid)  # on disk before the request leaves
            try:
                self.client.start_render(rid, sid, body, output)
            except SessionLost:
                self.ledger.update_render(rid, status="lost")
                self._replace_session(slot, sid, step.id)
                continue
            except ServiceUnavailable:
                raise  # it may exist after all: left as requested, so the retry asks for it before posting again
            except ApiError:
                self.ledger.update_render(rid, status="failed")
                raise
            self.ledger.update_render(rid, status="started")
            return rid
        raise StreamDropped(f"{step.id}: the session was lost three times while starting the render; run again")

    def _new_render_id(self) -> str:
        with self._lock:
            ms = max(int(time.time() * 1000), self._last_ms + 1)
            self._last_ms = ms
            return contract.render_id(ms)

    def _poll(self, step: Step, rid: str, seconds: float) -> dict[str, Any]:
        while True:
            status = self.client.render_status(rid)
            if status is None:
                self.ledger.update_render(rid, status="lost")
                raise StreamDropped(f"{step.id}: the service no longer knows render {rid}; run again to start a new one")
            state = status.get("status")
            progress = status.get("progress")
            if isinstance(progress, (int, float)):
                self._progress(step.id, max(0.0, min(1.0, float(progress))) * 100, 100.0, f"cloud render ({state})", "%")
            if state == "completed":
                if not isinstance(status.get("url"), str):
                    raise RenderError(f"{step.id}: render {rid} completed without an output url; the API may have changed")
                return status
            if state == "failed":
                self.ledger.update_render(rid, status="failed")
                raise RenderError(f"{step.id}: the cloud render {rid} failed: {status.get('error') or 'no reason given'}; "
                                  "run again to retry, or render it locally with --engine local")
            if self._stop.wait(self.settings.poll_interval):
                raise RenderError(f"{step.id}: stopped waiting for cloud render {rid}: the run was cancelled; the render id is "
                                  "kept, and the next run resumes it instead of starting another")

    def _deliver(self, step: Step, part: Path, dest: Path, out: Output) -> bool:
        """Move the download into place, or convert it here when the export asks for more than H.264 MP4 at the service's quality."""
        convert = out.container != "mp4" or out.codec != "h264" or out.audio != "aac" or out.crf is not None or out.bitrate
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(dest) as tmp:
            if convert:
                maps = ["-map", "0:v:0"] + (["-map", "0:a:0?"] if out.has_audio else [])
                run_ffmpeg(["-i", str(part), *maps, *out.video_args(), *out.audio_args(), *out.container_args(), "-y", str(tmp)],
                           what=f"{step.id} (converting the cloud render to {out.container}/{out.codec})")
                part.unlink()
            else:
                try:
                    os.replace(part, tmp)
                except OSError:  # another file system
                    shutil.move(str(part), str(tmp))
        return bool(convert)


def timeline_slots(recipe: Recipe) -> dict[str, str]:
    """Which session each edit/ask uses: a step continues its base's session unless a sibling already did."""
    slots: dict[str, str] = {}
    claimed: set[str] = set()
    for sid in topological_order(recipe):
        step = recipe.steps[sid]
        if step.kind not in ("edit", "ask"):
            continue
        base = step.spec.base.id if step.spec.base else None
        if base in slots and base not in claimed:
            slots[sid] = slots[base]
            claimed.add(base)
        else:
            slots[sid] = sid
    return slots


def check_uploadable(path: Path, what: str) -> None:
    """Type and size, before a byte is sent (the service's 4001 and 4002)."""
    suffix = path.suffix.lower().lstrip(".")
    suffix = "jpg" if suffix == "jpeg" else suffix
    if suffix not in contract.SUPPORTED_TYPES:
        raise UploadRefused(f"{what}: {path.name} is a .{suffix or '(no extension)'} file; "
                            f"{contract.REMEDIES[contract.UNSUPPORTED_FILE]}", code=contract.UNSUPPORTED_FILE)
    try:
        size = path.stat().st_size
    except OSError:
        return  # the probe that follows says what is wrong with it
    if size > contract.MAX_UPLOAD_BYTES:
        raise UploadRefused(f"{what}: {path.name} is {size / 1e6:.0f} MB; {contract.REMEDIES[contract.FILE_TOO_LARGE]}",
                            code=contract.FILE_TOO_LARGE)


def _kind_of(url: str) -> str | None:
    suffix = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    if suffix not in contract.SUPPORTED_TYPES:
        return None
    return "image" if suffix in ("jpg", "png", "gif", "webp") else "audio" if suffix in ("mp3", "wav", "m4a", "aac") else "video"


def _portable(draft: Draft, step: Step) -> None:
    """Local files a draft would point at (LUTs, font files) cannot reach the service."""
    for seg in draft.segments(VIDEO):
        for fx in seg.m.get("fx", []):
            if fx.get("lut"):
                raise DraftError(f"{step.span.file}:{step.span.line}: {step.id} grades with the LUT file {fx['lut']}, which the nemo "
                                 "engine cannot send (the service takes media uploads only); use a preset grade, or run on the "
                                 "local engine")
    for seg in draft.segments(TEXT):
        font = (seg.m.get("style") or {}).get("font", "")
        if isinstance(font, str) and (os.sep in font or font.lower().endswith((".ttf", ".otf"))):
            raise DraftError(f"{step.span.file}:{step.span.line}: {step.id} uses the font file {font}, which the nemo engine "
                             "cannot send; use a font family name, or run on the local engine")


def _probe(path: Path, step_id: str):
    from ..local.media import validate_media

    try:
        return validate_media(path)
    except NemoflowError as err:
        raise RenderError(f"{step_id}: the file the service rendered is not a usable video ({err})") from None


def _ending(reply: Reply) -> str:
    return {"dropped": "dropped", "unsent": "could not be sent", "timeout": "timed out"}.get(reply.ending, "ended")
