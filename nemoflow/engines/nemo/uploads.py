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
from ...core.units import human_bytes
from ...draft.media import MediaEntry, MediaKind
from ...draft.model import Draft
from ...errors import MediaError
from ...media.entries import media_entry
from ...media.validate import looks_like, sniff_head
from ..base import EngineContext, Message, Reporter, bytes_progress, ffmpeg_progress
from . import contract
from .drafts import Names, Upload
from .errors import ApiError, SessionLost, UploadRefused
from .service import Service
from .sessions import Sessions


class Uploads:
    def __init__(self, service: Service, sessions: Sessions, context: EngineContext) -> None:
        self.service = service
        self.sessions = sessions
        self.context = context
        self.recipe: Recipe = context.recipe
        self._known: dict[str, tuple[str, str]] = {}  # content digest → (media step id, how to show it)

    def _learn(self, digest: str, media: str) -> None:
        step = self.recipe.steps.get(media)
        self._known[digest] = (media, step.label if step is not None else media)

    def names(self, sid: str) -> Names:
        """What this run knows of the uploads in session `sid`: the references the service may use, and which media each is."""
        found = []
        for digest, info in self.service.ledger.uploads_in(sid).items():
            media, name = self._known.get(digest, (str(info.get("name") or digest), str(info.get("name") or digest)))
            found.append(Upload.of(media, name, info))
        return Names(found)

    def media(self, step: Step[MediaSpec], report: Reporter) -> MediaEntry:
        """A media step's entry once its source is on the service: the facts probed here, plus the upload's URL."""
        spec = step.spec
        if spec.source == MediaSource.URL and spec.url is not None:
            return self._from_url(step, spec.url, report)
        path, name = self.sendable(step.id, report)
        if spec.source == MediaSource.FILE and name != path.name:
            report.message(Message.NOTE, f"{path.name} is a {name.rsplit('.', 1)[-1].upper()} file by its content; it is uploaded "
                                         f"as {name}, so that the service reads it as what it is (the file is not changed)")
        facts = media_entry(step)  # magic bytes, container and one decoded frame: all before a byte is sent
        digest = sha256_file(path)
        info = self.sessions.within(self.sessions.main_slot, report, lambda sid: self.uploaded(sid, digest, path, None, report, name))
        self._learn(digest, step.id)
        return facts.evolve(path=None, gen=None, url=info["url"], name=name, sha256=digest)

    def _from_url(self, step: Step[MediaSpec], url: str, report: Reporter) -> MediaEntry:
        suffix = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
        kind = kind_of_type(suffix) if suffix in contract.SUPPORTED_TYPES else None
        if kind is None:
            raise UploadRefused(f"{step.span}: media `{step.name}` ({url}) is not a type the service accepts; "
                                f"{contract.REMEDIES[contract.UNSUPPORTED_FILE]}", code=contract.UNSUPPORTED_FILE)
        info = self.sessions.within(self.sessions.main_slot, report, lambda sid: self.uploaded(sid, "url:" + url, None, url, report))
        self._learn("url:" + url, step.id)
        duration = info.get("duration")
        values: dict[str, Any] = {}
        if isinstance(duration, (int, float)) and kind != "image":
            values["d"] = int(duration)
        for ours, theirs in (("w", "width"), ("h", "height")):
            if isinstance(info.get(theirs), int):
                values[ours] = info[theirs]
        return MediaEntry(MediaKind(kind), audio=kind != "image", url=info["url"], name=info.get("name") or url.rsplit("/", 1)[-1],
                          sha256="url:" + url, **values)

    def sendable(self, mid: str, report: Reporter) -> tuple[Path, str]:
        """The bytes behind a media step (its file, or its generator encoded here) and the name to send them under,
        once they pass the service's type and size rules (4001, 4002) judged by content."""
        step = self.recipe.steps[mid]
        assert step.kind == StepKind.MEDIA and step.spec.source != MediaSource.URL
        if step.spec.source == MediaSource.GENERATED:
            from ...media.generate import generated_file

            entry = media_entry(step)
            path = generated_file(entry, self.context.cache_dir, what=f"{mid} (encoding the generated source for upload)",
                                  on_progress=ffmpeg_progress(report, (entry.d or 0) / 1000, "encode"))
            kind = check_uploadable(path, f"{step.span}: media `{step.name}` (generated, encoded for upload)")
            return path, f"{step.name}.{kind}"  # not the cache's hash name
        path = step.spec.path
        kind = check_uploadable(path, f"{step.span}: media `{step.name}`")
        return path, upload_name(path.name, kind)

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

    def for_session(self, draft: Draft, sid: str, report: Reporter) -> tuple[Draft, dict[str, Upload]]:
        """The draft with each media pointing at its upload in `sid` (uploading by URL where it is not there yet), and the uploads."""
        media, uploads = {}, {}
        for mid, entry in draft.media.items():
            digest = entry.get("sha256")
            if not isinstance(digest, str):
                media[mid] = entry  # media the service added itself
                continue
            path = None if digest.startswith("url:") or mid not in self.recipe.steps else self.sendable(mid, report)[0]
            info = self.uploaded(sid, digest, path, entry.get("url"), report, entry.get("name"))
            self._learn(digest, mid)
            media[mid] = {**entry, "url": info["url"], "id": info.get("id")} if info.get("id") else {**entry, "url": info["url"]}
            uploads[mid] = Upload.of(mid, self._known[digest][1], info)
        return draft.with_m(media=media), uploads


def check_uploadable(path: Path, what: str) -> str:
    """The file's type by its content, once its size and type pass the service's rules (4002, 4001): before a byte is sent.

    500 MB is 500,000,000 bytes (contract.MAX_UPLOAD_BYTES); every size is said in MB, with the exact bytes beside it.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as err:
        raise MediaError(f"{what}: cannot read {path}: {err.strerror or err}; check the path and its permissions") from None
    if size > contract.MAX_UPLOAD_BYTES:
        raise UploadRefused(f"{what}: {path.name} is {human_bytes(size)} ({size:,} bytes); "
                            f"{contract.REMEDIES[contract.FILE_TOO_LARGE]}", code=contract.FILE_TOO_LARGE)
    kind = sniff_head(head)
    if kind is None or kind not in contract.SUPPORTED_TYPES:
        seems = looks_like(head) or "not a media type the service knows"
        raise UploadRefused(f"{what}: {path.name} is {seems}, judged by its content (not its name); "
                            f"{contract.REMEDIES[contract.UNSUPPORTED_FILE]}", code=contract.UNSUPPORTED_FILE)
    return kind


# Extensions that name one container family: a file of the family keeps its own spelling.
_FAMILIES = ({"mp4", "mov", "m4a", "m4v", "3gp"}, {"mkv", "webm"}, {"jpg", "jpeg"})


def upload_name(name: str, kind: str) -> str:
    """The name a file is sent under: its own, unless its extension says another type than its content (a PNG named .mp4)."""
    stem, dot, suffix = name.rpartition(".")
    suffix = suffix.lower() if dot else ""
    if suffix == kind or any(suffix in family and kind in family for family in _FAMILIES):
        return name
    return f"{stem if dot else name}.{kind}"
