"""Media on the service: uploads (files streamed, generated sources encoded first, URLs handed over), each done once.

An upload is recorded in the ledger by content digest and session, so a
re-run sends nothing twice, and content already uploaded to one session
reaches another by URL instead of by bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...core.hashing import sha256_file
from ...core.model import MediaSource, MediaSpec, Recipe, Step, StepKind
from ...core.signatures import kind_of_type
from ...draft.media import MediaEntry, MediaKind
from ...draft.model import Draft
from ...media.entries import media_entry
from ..base import EngineContext, Reporter, bytes_progress, ffmpeg_progress
from . import contract
from .errors import ApiError, SessionLost, UploadRefused
from .service import Service
from .sessions import Sessions


class Uploads:
    def __init__(self, service: Service, sessions: Sessions, context: EngineContext) -> None:
        self.service = service
        self.sessions = sessions
        self.context = context
        self.recipe: Recipe = context.recipe

    def media(self, step: Step[MediaSpec], report: Reporter) -> MediaEntry:
        """A media step's entry once its source is on the service: the facts probed here, plus the upload's URL."""
        spec = step.spec
        if spec.source == MediaSource.URL and spec.url is not None:
            return self._from_url(step, spec.url, report)
        path = self.local_file(step.id, report)
        assert path is not None  # a media step that is not a URL has bytes here
        facts = media_entry(step)
        digest = sha256_file(path)
        name = path.name if spec.source == MediaSource.FILE else f"{step.name}{path.suffix}"  # not the cache's hash name
        info = self.sessions.within(self.sessions.main_slot, report, lambda sid: self.uploaded(sid, digest, path, None, report, name))
        return facts.evolve(path=None, gen=None, url=info["url"], name=name, sha256=digest)

    def _from_url(self, step: Step[MediaSpec], url: str, report: Reporter) -> MediaEntry:
        suffix = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
        kind = kind_of_type(suffix) if suffix in contract.SUPPORTED_TYPES else None
        if kind is None:
            raise UploadRefused(f"{step.span}: media `{step.name}` ({url}) is not a type the service accepts; "
                                f"{contract.REMEDIES[contract.UNSUPPORTED_FILE]}", code=contract.UNSUPPORTED_FILE)
        info = self.sessions.within(self.sessions.main_slot, report, lambda sid: self.uploaded(sid, "url:" + url, None, url, report))
        duration = info.get("duration")
        values: dict[str, Any] = {}
        if isinstance(duration, (int, float)) and kind != "image":
            values["d"] = int(duration)
        for ours, theirs in (("w", "width"), ("h", "height")):
            if isinstance(info.get(theirs), int):
                values[ours] = info[theirs]
        return MediaEntry(MediaKind(kind), audio=kind != "image", url=info["url"], name=info.get("name") or url.rsplit("/", 1)[-1],
                          sha256="url:" + url, **values)

    def local_file(self, mid: str, report: Reporter) -> Path | None:
        """The bytes behind a media step: its file (checked against the upload rules first), or its generator encoded."""
        step = self.recipe.steps.get(mid)
        if step is None or step.kind != StepKind.MEDIA or step.spec.source == MediaSource.URL:
            return None
        if step.spec.source == MediaSource.GENERATED:
            from ...media.generate import generated_file

            entry = media_entry(step)
            made = generated_file(entry, self.context.cache_dir, what=f"{mid} (encoding the generated source for upload)",
                                  on_progress=ffmpeg_progress(report, (entry.d or 0) / 1000, "encode"))
            check_uploadable(made, f"{step.span}: media `{step.name}` (generated, encoded for upload)")
            return made
        path: Path = step.spec.path
        check_uploadable(path, f"{step.span}: media `{step.name}`")
        return path

    def uploaded(self, sid: str, digest: str, path: Path | None, url: str | None, report: Reporter,
                 name: str | None = None) -> dict[str, Any]:
        """This content's upload in session `sid`: recorded, else by URL from an earlier upload, else the file itself."""
        ledger, client = self.service.ledger, self.service.client
        with self.service.keyed(f"upload:{sid}:{digest}"):
            found = ledger.upload(sid, digest)
            if found is not None:
                return found
            earlier = ledger.any_upload(digest)
            source_url = earlier["url"] if earlier else url
            info = None
            if source_url:
                try:
                    info = client.upload_url(sid, source_url)
                except (UploadRefused, ApiError) as err:
                    if isinstance(err, SessionLost) or path is None:
                        raise
            if info is None:
                if path is None:
                    raise UploadRefused(f"{digest}: nothing to upload", code=contract.UNSUPPORTED_FILE)
                info = client.upload_file(sid, path, bytes_progress(report, "upload"), name=name)
            record = {k: info.get(k) for k in contract.UPLOAD_FIELDS}
            ledger.add_upload(sid, digest, record)
            return record

    def for_session(self, draft: Draft, sid: str, report: Reporter) -> Draft:
        """The draft with each media pointing at its upload in `sid` (uploading by URL where it is not there yet)."""
        media = {}
        for mid, entry in draft.media.items():
            digest = entry.get("sha256")
            if not isinstance(digest, str):
                media[mid] = entry  # media the service added itself
                continue
            info = self.uploaded(sid, digest, self.local_file(mid, report) if not digest.startswith("url:") else None,
                                 entry.get("url"), report, entry.get("name"))
            media[mid] = {**entry, "url": info["url"]}
        return draft.with_m(media=media)


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
