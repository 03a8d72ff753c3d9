"""The fake NemoVideo service's HTTP side: one handler per request, routed by the contract's paths.

HTTP/1.1 with keep-alive: every non-streamed answer carries Content-Length and
an unread request body is read away (or the connection closed) before the
answer. SSE answers are chunked, so a normal end (the zero chunk) differs from a
dropped stream (socket closed mid-body). Header values are never logged.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import re
import socket
import time
import traceback
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..draft.schema import schema_problems
from ..engines.nemo import contract
from ..errors import MediaError
from . import fake_agent, fake_render, fake_timeline
from .fake_files import (
    CHUNK,
    MULTIPART_SLACK,
    BadBody,
    Multipart,
    Part,
    TooLarge,
    Upload,
    byte_range,
    extension,
    place,
    probe_upload,
    pump,
    safe_name,
    supported,
    temp_body,
)
from .fake_nemo import INVALID_REQUEST, UNKNOWN_RENDER, Account, FakeNemo, LoggedRequest, Session, new_id
from .fake_render import RenderJob

JSON_LIMIT = 16 * 1024 * 1024  # JSON bodies (drafts) larger than this are refused
DRAIN_LIMIT = 8 * 1024 * 1024  # an unread body up to this size is read away to keep the connection; larger: close it
LINGER_SECONDS = 30.0  # after refusing a large body, keep reading (discarding) it this long so that the client sees the answer
_ERROR_PAGE = b"<html><head><title>500 Internal Server Error</title></head><body><h1>500 Internal Server Error</h1></body></html>"


_FAMILIES = ({"mp4", "mov", "m4a"}, {"mkv", "webm"}, {"jpg", "jpeg"})


def _content_matches(path: Path, name: str) -> bool:
    """Whether a stored file's magic bytes are of the type its name says (one container family counts as one type)."""
    from ..media.validate import sniff

    real, said = sniff(path), extension(name)
    return real is None or real == said or any(real in f and said in f for f in _FAMILIES)


def _route(template: str) -> re.Pattern[str]:
    pattern = re.escape(template)
    for name in ("sid", "id"):
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)")
    return re.compile(pattern + "$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeNemo/1.0"
    timeout = 120  # an idle keep-alive connection is closed after this long
    disable_nagle_algorithm = True  # headers and body go out as separate writes: without this, each answer waits ~40 ms for an ACK

    ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
        ("POST", _route(contract.ANONYMOUS_TOKEN), "anonymous_token"),
        ("POST", _route(contract.CREATE_SESSION), "create_session"),
        ("POST", _route(contract.UPLOAD), "upload"),
        ("GET", _route(contract.CREDITS), "credits"),
        ("GET", _route(contract.STATE), "state"),
        ("POST", _route(contract.RUN_SSE), "run_sse"),
        ("POST", _route(contract.RENDER), "render"),
        ("GET", _route(contract.RENDER_STATUS), "render_status"),
    )

    @property
    def fake(self) -> FakeNemo:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the fake keeps its own log
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.fake._lock:
            self.fake._connections.discard(self.connection)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    # ---- request plumbing -------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        t = time.monotonic()
        split = urlsplit(self.path)
        self._status, self._code, self._read = 0, None, False
        self._linger = False
        try:
            self._dispatch(method, split.path)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a bug in the fake: answer 500 if nothing went out yet, say what, keep the traceback
            self.close_connection = True
            self.fake.errors.append(traceback.format_exc())
            if not self._status:
                with contextlib.suppress(OSError):
                    self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"fake server error: {type(exc).__name__}: {exc}")
        finally:
            self.fake._record(LoggedRequest(method=method, path=split.path, query=split.query, status=self._status, code=self._code,
                                            headers={k.lower(): True for k in self.headers},
                                            attribution=all(self.headers.get(h) for h in contract.ATTRIBUTION_HEADERS), t=t))

    def _dispatch(self, method: str, path: str) -> None:
        if path.startswith("/files/"):
            if method in ("GET", "HEAD"):
                return self._serve_file(path, head=method == "HEAD")
            return self._error(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed")
        if (path.startswith("/api/") or path == contract.RUN_SSE) and self._injected(path):
            return None
        allowed = False
        for route_method, pattern, name in self.ROUTES:
            m = pattern.match(path)
            if m:
                allowed = True
                if route_method == method:
                    return getattr(self, "_do_" + name)(**m.groupdict())
        if allowed:
            return self._error(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed")
        return self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")

    def _injected(self, path: str) -> bool:
        """Answer an injected failure (rate_limit_next, reject_next, fail_rate) instead of the request; True if one was."""
        fake = self.fake
        with fake._lock:
            limited = fake._rate_limited > 0
            fake._rate_limited -= limited
            rule = None if limited else next((r for r in fake._rules if r.path_contains in path), None)
            if rule is not None:
                rule.n -= 1
                if rule.n <= 0:
                    fake._rules.remove(rule)
        if limited:
            self._error(contract.HTTP_RATE_LIMITED, "too many requests", headers={"Retry-After": str(int(contract.RATE_LIMIT_WAIT))})
            return True
        if rule is not None:
            self._error(rule.code, f"injected error {rule.code}", status=rule.status)
            return True
        if fake._roll("fail", fake.quirks.fail_rate):
            self._server_error()
            return True
        return False

    def _length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value and value.strip().isdigit() else None

    def _chunked(self) -> bool:
        return "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()

    def _pump(self, sink: Callable[[bytes], Any] | None, limit: int) -> int:
        self._read = True
        return pump(self.rfile, sink, length=self._length(), chunked=self._chunked(), limit=limit)

    def _body_bytes(self, limit: int = JSON_LIMIT) -> bytes:
        pieces: list[bytes] = []
        self._pump(pieces.append, limit)
        return b"".join(pieces)

    def _json_body(self) -> Any:
        """The JSON body; None after answering 400 when it is not JSON."""
        try:
            data = json.loads(self._body_bytes() or b"null")
        except (TooLarge, BadBody) as exc:
            self._abandon_body()
            self._error(HTTPStatus.BAD_REQUEST, f"the request body cannot be read: {exc or 'larger than 16 MiB'}")
            return None
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"the request body is not valid JSON: {exc}")
            return None
        if not isinstance(data, dict):
            self._error(HTTPStatus.BAD_REQUEST, "the request body must be a JSON object")
            return None
        return data

    def _abandon_body(self) -> None:
        """Stop reading a body part-way (too large, or broken): answer, read the rest away for a while, then close."""
        self._read = self._linger = self.close_connection = True

    def _settle_body(self) -> None:
        """Before answering: read away a small unread body (keep-alive), or plan to close after a large one."""
        if self._read or (not self._length() and not self._chunked()):
            return
        try:
            if (self._length() or 0) <= DRAIN_LIMIT:
                self._pump(None, DRAIN_LIMIT)
                return
        except (TooLarge, BadBody):
            pass
        self._abandon_body()

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self._settle_body()
        self._status = int(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if self._linger:
            self._lingering_close()

    def _lingering_close(self) -> None:
        """Refused before reading a large body: read it away (discarded) for a while so the client can read the answer."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            self.connection.settimeout(1.0)
            while time.monotonic() < deadline and not self.fake._stopping.is_set():
                if not self.connection.recv(CHUNK):
                    break

    def _envelope(self, code: int, message: str, data: Any, status: int, headers: dict[str, str] | None = None) -> None:
        self._code = code
        body = {"code": code, "message": message, "data": data, "request_id": new_id("req"), "server_time": int(time.time() * 1000)}
        self._send(status, json.dumps(body, ensure_ascii=False).encode(), "application/json; charset=utf-8", headers)

    def _ok(self, data: dict[str, Any]) -> None:
        self._envelope(contract.OK, "success", {**data, "region": "fake-1"}, HTTPStatus.OK)

    def _error(self, code: int, message: str, *, status: int | None = None, data: Any = None,
               headers: dict[str, str] | None = None) -> None:
        self._envelope(int(code), message, data, status if status is not None else self.fake._error_status(int(code)), headers)

    def _server_error(self) -> None:
        self.close_connection = True
        self._send(HTTPStatus.INTERNAL_SERVER_ERROR, _ERROR_PAGE, "text/html; charset=utf-8")

    def _auth(self) -> Account | None:
        """The caller's account; None after answering 1001."""
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        account = self.fake._account(token.strip()) if scheme.lower() == "bearer" else None
        if account is None:
            self._error(contract.BAD_TOKEN, "invalid or expired token")
        return account

    def _session(self, sid: Any, account: Account) -> Session | None:
        """The caller's session; None after answering 1002."""
        with self.fake._lock:
            session = self.fake.sessions.get(sid) if isinstance(sid, str) else None
        if session is None or session.account != account.id:
            self._error(contract.NO_SESSION, "session not found")
            return None
        return session

    # ---- endpoints --------------------------------------------------------------------------------
    def _do_anonymous_token(self) -> None:
        client_id = self.headers.get(contract.HEADER_CLIENT_ID) or ""
        try:
            uuid.UUID(client_id.strip())
        except ValueError:
            return self._error(contract.HTTP_MISSING_CLIENT_ID, f"missing or invalid {contract.HEADER_CLIENT_ID} header")
        token = self.fake._anonymous_token(client_id.strip().lower())
        if token is None:
            return self._error(contract.HTTP_RATE_LIMITED, "this client already has a valid anonymous token")
        ttl = self.fake.quirks.token_ttl
        return self._ok({"token": token, "credits": contract.ANONYMOUS_CREDITS, "expires_in": int(ttl) if ttl == int(ttl) else ttl})

    def _do_create_session(self) -> None:
        account = self._auth()
        body = self._json_body() if account else None
        if body is None or account is None:
            return
        sid = new_id("sess")
        q = self.fake.quirks
        session = Session(sid, account.id, account.bind_id, fake_timeline.blank(sid, q.media_naming, q.extra_fields),
                          task_name=str(body.get("task_name", "")), language=str(body.get("language", "")))
        with self.fake._lock:
            self.fake.sessions[session.id] = session
        self._ok({"session_id": session.id, contract.BIND_FIELD: session.bind_id, "task_name": session.task_name, "status": "active"})

    def _do_credits(self) -> None:
        account = self._auth()
        if account is not None:
            with self.fake._lock:
                data = {"available": account.available, "frozen": account.frozen, "total": account.balance,
                        "plan": "pro" if account.registered else "free"}
            self._ok(data)

    def _do_state(self, sid: str) -> None:
        account = self._auth()
        session = self._session(sid, account) if account else None
        if session is None:
            return
        with self.fake._lock:
            infos = [self.fake.uploads[u].data(self.fake.url) for u in session.uploads if u in self.fake.uploads]
            state = {"draft": json.loads(json.dumps(session.draft)), "video_infos": infos, "generated_media": []}
        self._ok({"state": state, contract.BIND_FIELD: session.bind_id, "rev": session.rev})

    def _do_upload(self, sid: str) -> None:
        account = self._auth()
        session = self._session(sid, account) if account else None
        if session is None:
            return None
        ctype = (self.headers.get("Content-Type") or "").lower()
        limit = self.fake.quirks.max_upload_bytes
        if ctype.startswith("multipart/form-data"):
            length = self._length()
            if length is not None and length > limit + MULTIPART_SLACK:
                return self._too_large(limit)
            with temp_body(self.fake.root / "tmp", new_id("body")) as tmp:
                try:
                    with open(tmp, "wb") as out:
                        self._pump(out.write, limit + MULTIPART_SLACK)
                    with Multipart(tmp, self.headers.get("Content-Type", "")) as form:
                        part = form.field(contract.UPLOAD_FIELD_FILE)
                        if part is not None and part.filename is not None:
                            return self._store_part(session, form, part, limit)
                        url_part = form.field(contract.UPLOAD_FIELD_URL)
                        url = form.text(url_part) if url_part is not None else None
                except TooLarge:
                    self._abandon_body()
                    return self._too_large(limit)
                except BadBody as exc:
                    self._abandon_body()
                    return self._error(HTTPStatus.BAD_REQUEST, f"malformed multipart body: {exc}")
        elif ctype.startswith("application/x-www-form-urlencoded"):
            try:
                fields = parse_qs(self._body_bytes(1024 * 1024).decode("utf-8", "replace"))
            except (TooLarge, BadBody):
                self._abandon_body()
                return self._error(HTTPStatus.BAD_REQUEST, "the form is larger than 1 MiB or broken")
            url = (fields.get(contract.UPLOAD_FIELD_URL) or [None])[0]
        else:
            return self._error(HTTPStatus.BAD_REQUEST, "expected multipart/form-data (field `file`) or a form field `url`")
        if not url:
            return self._error(HTTPStatus.BAD_REQUEST, f"no `{contract.UPLOAD_FIELD_FILE}` part and no `{contract.UPLOAD_FIELD_URL}` field")
        return self._store_url(session, url, limit)

    def _too_large(self, limit: int) -> None:
        self._error(contract.FILE_TOO_LARGE, f"file too large: the limit is {limit} bytes")

    def _store_part(self, session: Session, form: Multipart, part: Part, limit: int) -> None:
        name = safe_name(part.filename)
        if not supported(name):
            return self._error(contract.UNSUPPORTED_FILE, f"unsupported file type: {name}; accepted: {contract.SUPPORTED_LIST}")
        if part.size > limit:
            return self._too_large(limit)
        upload_id = new_id("upl")
        dest = self.fake.root / "files" / upload_id / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        form.copy(part, dest)
        if not _content_matches(dest, name):  # the service transcodes by the name's type: a PNG named .mp4 fails there
            dest.unlink()
            return self._error(contract.UNSUPPORTED_FILE, f"{name} is not a valid {extension(name)} file")
        return self._register(session, upload_id, name, dest)

    def _store_url(self, session: Session, url: str, limit: int) -> None:
        source = self.fake.stored_file(url)
        if source is None:
            return self._error(contract.UNSUPPORTED_FILE, f"cannot fetch {url}")
        if source.size > limit:
            return self._too_large(limit)
        upload_id = new_id("upl")
        dest = self.fake.root / "files" / upload_id / source.name
        place(source.path, dest)
        facts = {"kind": source.kind, "duration": source.duration, "width": source.width, "height": source.height,
                 "entry": dict(source.entry)}
        return self._register(session, upload_id, source.name, dest, facts)

    def _register(self, session: Session, upload_id: str, name: str, dest: Path, facts: dict[str, Any] | None = None) -> None:
        try:
            facts = facts or probe_upload(dest)
        except MediaError as exc:
            dest.unlink()
            return self._error(contract.UNSUPPORTED_FILE, f"cannot read {name} as media: {exc}")
        upload = Upload(id=upload_id, name=name, path=dest, size=dest.stat().st_size, session_id=session.id, **facts)
        with self.fake._lock:
            self.fake.uploads[upload_id] = self.fake._files[upload_id] = upload
            session.uploads.append(upload_id)
            if self.fake.quirks.upload_on_timeline:
                self._place(session, upload)
        return self._ok(upload.data(self.fake.url))

    def _place(self, session: Session, upload: Upload) -> None:
        """Quirks.upload_on_timeline: the upload appended to the session's timeline (a still for 3 s, audio from 0 s)."""
        from ..draft import ops
        from ..draft.model import Draft

        draft = Draft.from_json(fake_timeline.to_internal(session.draft, self.fake.library()))
        entry = {**upload.entry, "url": upload.url(self.fake.url)}
        if upload.kind == "audio":
            draft = ops.add_sound(draft, upload.id, entry)
        else:
            draft = ops.add_clip(draft, upload.id, entry, d_ms=3000 if upload.kind == "image" else None, still=upload.kind == "image")
        session.rev += 1
        session.draft = self.fake.shaped(session, draft.to_json())

    def _serve_file(self, path: str, *, head: bool) -> None:
        parts = path.split("/")
        stored = self.fake.stored_file(self.fake.url + path) if len(parts) == 4 else None
        if stored is None or not stored.path.exists():
            return self._error(HTTPStatus.NOT_FOUND, "no such file")
        size = stored.path.stat().st_size
        try:
            rng = byte_range(self.headers.get("Range"), size)
        except ValueError:
            return self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
        first, last = rng if rng is not None else (0, size - 1)
        self._settle_body()
        self._status = HTTPStatus.PARTIAL_CONTENT if rng is not None else HTTPStatus.OK
        self.send_response(self._status)
        self.send_header("Content-Type", mimetypes.guess_type(stored.name)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        if rng is not None:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if head:
            return None
        with self.fake._lock:
            cut = self.fake.quirks.download_drop_after
            self.fake.quirks.download_drop_after = None
        budget = last - first + 1 if cut is None else min(cut, last - first + 1)
        with open(stored.path, "rb") as fh:
            fh.seek(first)
            while budget > 0:
                piece = fh.read(min(CHUNK, budget))
                if not piece:
                    break
                self.wfile.write(piece)
                budget -= len(piece)
        self.wfile.flush()
        if cut is not None and cut < last - first + 1:
            self._drop()
        return None

    def _drop(self) -> None:
        """Cut the connection mid-body: no terminating chunk, or fewer bytes than Content-Length."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def _do_run_sse(self) -> None:
        account = self._auth()
        body = self._json_body() if account else None
        if body is None or account is None:
            return None
        session = self._session(body.get("session_id"), account)
        if session is None:
            return None
        message = body.get("new_message") or {}
        parts = message.get("parts") if isinstance(message, dict) else None
        text = "\n".join(p.get("text", "") for p in parts or [] if isinstance(p, dict) and isinstance(p.get("text"), str))
        fake = self.fake
        with fake._lock:  # the edit is applied first: a dropped stream still leaves it in the state
            library = fake.library()
            context = fake_agent.Context([u for u in library.uploads.values() if u.id in session.uploads], fake.is_black,
                                         lambda n: fake._pick("closing", n), fake.quirks.layer_reading,
                                         frozenset(fake.quirks.unknown_words))
            try:
                current = fake_timeline.to_internal(session.draft, library)
            except fake_timeline.Unresolved as exc:
                current, reply = None, fake_agent.Reply(None, f"Something is wrong with this timeline ({exc}).", "edit_timeline", {})
            if current is not None:
                reply = fake_agent.respond(text, current, context)
            if reply.draft is not None:
                session.rev += 1
                session.draft = fake.shaped(session, reply.draft)
            rev = session.rev
        q = fake.quirks
        silent = reply.changed and fake._roll("silent", q.silent_rate)
        drop = fake._roll("drop", q.drop_rate)
        return self._stream(reply, rev, silent=silent, drop=drop)

    def _stream(self, reply: fake_agent.Reply, rev: int, *, silent: bool, drop: bool) -> None:
        q, fake = self.fake.quirks, self.fake
        self._status = HTTPStatus.OK
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        n = len(fake.log)

        def chunk(data: str, pause: float = q.event_delay) -> None:
            if fake._stopping.is_set():
                raise BrokenPipeError("the fake is stopping")
            raw = data.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
            self.wfile.flush()
            if pause > 0:
                time.sleep(pause)

        def send(ev: dict[str, Any]) -> None:
            chunk(f"data: {json.dumps(ev, ensure_ascii=False)}\n\n")

        chunk(": ping\n\n")
        stall_end, beat, every = time.monotonic() + q.stall_seconds, 0, max(q.heartbeat_every, 0.005)
        while time.monotonic() < stall_end:
            chunk("data: \n\n" if beat % 2 == 0 else ": ping\n\n", pause=min(every, max(0.0, stall_end - time.monotonic())))
            beat += 1
        call, response = fake_agent.call_events(reply, rev, n)
        send(call)
        chunk("data: \n\n")
        send(response)
        texts = [] if silent else fake_agent.text_events(reply.text, n)
        if drop:
            if texts:
                send(texts[0])
            return self._drop()
        for ev in texts:
            send(ev)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        return None

    def _do_render(self) -> None:
        fake = self.fake
        with fake._lock:
            lost = fake.quirks.lose_render_posts > 0
            fake.quirks.lose_render_posts -= lost
        if lost:  # as if the client died, or the network ate the request, before the service created anything
            self._status = 0
            return self._drop()
        account = self._auth()
        if account is None:
            return None
        if fake.quirks.block_exports or not all(self.headers.get(h) for h in contract.ATTRIBUTION_HEADERS):
            why = "export is blocked on the free plan" if fake.quirks.block_exports else "missing attribution headers"
            return self._error(contract.HTTP_PLAN_BLOCKED, f"{why}: register or upgrade your plan to unlock export")
        body = self._json_body()
        if body is None:
            return None
        rid = body.get("id")
        if not isinstance(rid, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{1,128}", rid):
            return self._error(INVALID_REQUEST, "the render id must be 1-128 letters, digits, _ or -")
        existing = self._existing_render(rid, account)
        if existing is not None:
            return self._ok(existing) if existing else self._error(INVALID_REQUEST, f"render id {rid} is already in use")
        session = self._session(body.get("sessionId"), account)
        if session is None:
            return None
        cost, available = fake.quirks.render_cost, account.available
        if available < cost:
            data = {"required": cost, "available": available, **({} if account.registered else {contract.BIND_FIELD: account.bind_id})}
            return self._error(contract.NO_CREDITS, f"not enough credits: a render costs {cost}, {available} available", data=data)
        draft = body.get("draft")
        found = schema_problems(draft, "service-draft.schema.json")
        if found:
            return self._error(INVALID_REQUEST, "invalid draft: " + "; ".join(found[:5]))
        try:
            fake_timeline.to_internal(draft, fake.library())
        except fake_timeline.Unresolved as exc:
            return self._error(INVALID_REQUEST, f"invalid draft: {exc}")
        output = body.get("output") or {}
        fmt, quality = output.get("format", contract.OUTPUT_FORMATS[0]), output.get("quality", contract.OUTPUT_QUALITY)
        if fmt not in contract.OUTPUT_FORMATS or quality != contract.OUTPUT_QUALITY:
            return self._error(INVALID_REQUEST, f"unsupported output {fmt}/{quality}: formats {', '.join(contract.OUTPUT_FORMATS)}, "
                                                f"quality {contract.OUTPUT_QUALITY}")
        with fake._lock:
            existing = self._existing_render(rid, account)  # the same id may have raced in from another connection
            if existing is None:
                job = RenderJob(rid, session.id, account.id, draft, fmt, quality, cost, time.monotonic())
                fake.renders[rid] = job
                fake._posts[rid] += 1
                fake._created += 1
                account.frozen += cost
                answer = job.data(fake.quirks.render_seconds)  # `queued`, whatever the thread does first
        if existing is not None:
            return self._ok(existing) if existing else self._error(INVALID_REQUEST, f"render id {rid} is already in use")
        fake_render.start(fake, job)
        if fake._roll("fail_after", fake.quirks.fail_after_rate):
            return self._server_error()
        return self._ok(answer)

    def _existing_render(self, rid: str, account: Account) -> dict[str, Any] | None:
        """A re-posted render id: the job's status data (counted as a post), {} if another account owns it, None if new."""
        fake = self.fake
        with fake._lock:
            job = fake.renders.get(rid)
            if job is None or job.account != account.id:
                return None if job is None else {}
            fake._posts[rid] += 1
            return job.data(fake.quirks.render_seconds)

    def _do_render_status(self, id: str) -> None:
        account = self._auth()
        if account is None:
            return None
        with self.fake._lock:
            job = self.fake.renders.get(id)
            data = job.data(self.fake.quirks.render_seconds) if job is not None and job.account == account.id else None
        if data is None:
            if self.fake.quirks.unknown_render == "code":
                return self._error(UNKNOWN_RENDER, f"render {id} not found", status=HTTPStatus.OK)
            return self._error(HTTPStatus.NOT_FOUND, f"no render {id}")
        return self._ok(data)
