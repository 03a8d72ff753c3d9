"""The NemoVideo HTTP client: one method per endpoint, one place for the envelope, tokens, retries and the error table.

Layering, as in httpx itself: `_send` puts the token and the attribution
headers on a request; `call` adds the contract's error table (1001 renews an
anonymous token once, HTTP 400 renews the client id, 429 waits and retries
once, 402/2001/4001/4002 stop with the contract's remedy) and retries
transient failures where repeating the call is safe; the endpoint methods
above it speak in the contract's terms. Secrets go in headers only.
"""

from __future__ import annotations

import mimetypes
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ... import __version__
from . import contract
from .credentials import CredentialStore, Token, redact, remember_secret
from .errors import ApiError, AuthError, NoCredits, PlanBlocked, RateLimited, ServiceUnavailable, SessionLost, UploadRefused, no_credits
from .settings import NemoSettings

BytesProgress = Callable[[int, int], None]  # (bytes done, bytes total)


def attribution_headers() -> dict[str, str]:
    return {contract.HEADER_SOURCE: contract.SKILL_SOURCE, contract.HEADER_VERSION: __version__,
            contract.HEADER_PLATFORM: contract.PLATFORM_CI if os.environ.get("CI") else contract.PLATFORM_CLI}


class NemoClient:
    """Thread-safe: the runner's steps share one client (one connection pool, one token)."""

    def __init__(self, settings: NemoSettings, store: CredentialStore | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None, token: Token | None = None) -> None:
        self.settings = settings
        self.store = store or CredentialStore()
        self.sleep = sleep
        self.http = httpx.Client(base_url=settings.api_url, headers=attribution_headers(), transport=transport,
                                 timeout=httpx.Timeout(60.0, connect=15.0), follow_redirects=False)
        env = os.environ.get("NEMO_TOKEN", "").strip()
        self._env_token = Token(remember_secret(env), "env") if env else None
        self._token: Token | None = token  # given: use exactly this one (`auth login` checks a token before storing it)
        self._token_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> NemoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens -------------------------------------------------------------------
    def token(self) -> Token:
        with self._token_lock:
            if self._token is None:
                self._token = self._env_token or self.store.token(self.api, "user") or self.store.token(self.api, "anonymous") \
                    or self._fetch_anonymous()
            return self._token

    def sign_in_anonymously(self) -> Token:
        """Fetch an anonymous token now and use it (`nemoflow auth login --anonymous`)."""
        with self._token_lock:
            self._token = self._fetch_anonymous()
            return self._token

    @property
    def api(self) -> str:
        return self.settings.api_url

    def _renew(self, failed: Token) -> None:
        """After 1001 on an anonymous token: fetch one new token (unless another thread already did)."""
        with self._token_lock:
            if self._token is not None and self._token.value != failed.value:
                return
            self._token = self._fetch_anonymous(refused=failed)  # the stored one stays until a new one replaces it

    def _fetch_anonymous(self, refused: Token | None = None) -> Token:
        with self.store.locked():  # another nemoflow process may have fetched one a moment ago
            stored = self.store.token(self.api, "anonymous")
            if stored is not None and (refused is None or stored.value != refused.value):
                return stored
            renewed = False
            while True:
                client_id = self.store.client_id()
                try:
                    data = self.call("POST", contract.ANONYMOUS_TOKEN, headers={contract.HEADER_CLIENT_ID: client_id}, auth=False,
                                     retry=True, what="getting an anonymous token")
                except ApiError as err:
                    if err.status == contract.HTTP_MISSING_CLIENT_ID and not renewed:  # the service did not take our id: new one
                        self.store.client_id(renew=True)
                        renewed = True
                        continue
                    if isinstance(err, RateLimited):
                        raise AuthError("the service issues one anonymous token per client every 7 days and will not issue "
                                        "another yet (HTTP 429); set NEMO_TOKEN to a token from your NemoVideo account, or run "
                                        "`nemoflow auth login`", code=err.code, status=err.status) from None
                    raise
                break
            value = data.get("token") if isinstance(data, dict) else None
            if not isinstance(value, str) or not value:
                raise ApiError("the service's anonymous-token answer has no data.token; the API may have changed "
                               "(see contract.py)")
            ttl = data.get("expires_in")
            ttl = float(ttl) if isinstance(ttl, (int, float)) and ttl > 0 else contract.ANONYMOUS_TOKEN_DAYS * 86400.0
            token = Token(remember_secret(value), "anonymous", time.time() + ttl)
            self.store.put_token(self.api, "anonymous", token.value, token.expires_at)
            return token

    # -- the core -------------------------------------------------------------------
    def _send(self, method: str, path: str, token: Token | None, *, stream: bool = False, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token.value}"
        request = self.http.build_request(method, path, headers=headers, **kw)
        return self.http.send(request, stream=stream)

    def call(self, method: str, path: str, *, what: str, retry: bool, **kw: Any) -> Any:
        """Send one API call and return its envelope's `data` (see `exchange`)."""
        return self.exchange(method, path, what=what, retry=retry, **kw)[1]

    def exchange(self, method: str, path: str, *, what: str, retry: bool, auth: bool = True, body: Callable[[], dict] | None = None,
                 timeout: float | httpx.Timeout | None = None, allow_missing: bool = False, stream: bool = False,
                 **kw: Any) -> tuple[httpx.Response | None, Any]:
        """Send one API call through the contract's error table; return (response, envelope data).

        `retry`: repeating it is harmless, so connection failures and 5xx are
        retried with backoff. `body` rebuilds request arguments per attempt
        (a file to stream again). `allow_missing`: HTTP 404 gives (None, None).
        `stream`: an event stream is returned open, with data None (the caller closes it).
        """
        attempt, renewed, waited = 0, False, 0.0
        while True:
            attempt += 1
            token = self.token() if auth else None
            extra = body() if body else {}
            try:
                resp = self._send(method, path, token, stream=stream, timeout=timeout or httpx.USE_CLIENT_DEFAULT, **kw, **extra)
                if stream:
                    if resp.status_code == 200 and resp.headers.get("content-type", "").startswith("text/event-stream"):
                        return resp, None
                    try:
                        resp.read()
                    finally:
                        resp.close()
            except httpx.TransportError as exc:
                if retry and attempt < self.settings.retries:
                    self._backoff(attempt)
                    continue
                raise ServiceUnavailable(f"{what}: cannot reach the NemoVideo service at {self.api} ({_transport_reason(exc)}); "
                                         "check the network or NEMO_API_URL, and run again (finished steps are kept)") from None
            if resp.status_code >= 500:
                if retry and attempt < self.settings.retries:
                    self._backoff(attempt)
                    continue
                raise ServiceUnavailable(f"{what}: the NemoVideo service failed (HTTP {resp.status_code}) {attempt} time"
                                         f"{'s' if attempt > 1 else ''}; it may be having trouble: run again later (finished steps "
                                         "are kept)")
            if resp.status_code == contract.HTTP_RATE_LIMITED:
                if not waited:
                    waited = _retry_after(resp, self.settings.rate_limit_wait) or 0.001
                    self.sleep(waited)
                    attempt -= 1
                    continue
                raise RateLimited(f"{what}: {contract.REMEDIES[contract.HTTP_RATE_LIMITED]} (HTTP 429 twice, {waited:g} s apart)",
                                  code=contract.HTTP_RATE_LIMITED, status=429)
            if resp.status_code == contract.HTTP_PLAN_BLOCKED and _code(resp) in (None, contract.HTTP_PLAN_BLOCKED):
                raise PlanBlocked(f"{what}: {contract.REMEDIES[contract.HTTP_PLAN_BLOCKED]} (HTTP 402)", code=402, status=402)
            if resp.status_code == 404 and allow_missing and _code(resp) in (None, 404, contract.OK):
                return None, None  # a plain 404 (a body code other than "not found" is read below: it wins)
            code, message, data = envelope(resp, what)
            if code == contract.OK:
                return resp, data
            if code == contract.BAD_TOKEN and token is not None:
                if token.renewable and not renewed:
                    renewed = True
                    self._renew(token)
                    attempt -= 1
                    continue
                if token.renewable:
                    raise AuthError(f"{what}: the service refused a freshly issued anonymous token (code 1001); set NEMO_TOKEN "
                                    "to a token from your NemoVideo account", code=code, status=resp.status_code)
                source = "NEMO_TOKEN" if token.kind == "env" else "the token stored by `nemoflow auth login`"
                raise AuthError(f"{what}: {source} was refused (code 1001): {contract.REMEDIES[contract.BAD_TOKEN]}", code=code,
                                status=resp.status_code)
            raise self._error(code, message, data, resp.status_code, what, token, path)

    def _error(self, code: int, message: str, data: Any, status: int, what: str, token: Token | None, path: str) -> ApiError:
        if code == contract.NO_SESSION:
            return SessionLost(f"{what}: session not found (code 1002)", code=code, status=status)
        if code == contract.NO_CREDITS:
            bind = data.get(contract.BIND_FIELD) if isinstance(data, dict) else None
            return no_credits(token is not None and token.kind != "anonymous", bind or self.bind_id)
        if code in (contract.UNSUPPORTED_FILE, contract.FILE_TOO_LARGE):
            return UploadRefused(f"{what}: the service refused the file (code {code}: {message}); {contract.REMEDIES[code]}",
                                 code=code)
        if path == contract.ANONYMOUS_TOKEN and contract.HTTP_MISSING_CLIENT_ID in (status, code):
            return ApiError(f"{what}: the service says the client id is missing (HTTP 400)", code=code, status=400)
        return ApiError(f"{what}: the service refused it (code {code}: {message or 'no message'})", code=code, status=status)

    bind_id: str | None = None  # from the last session or state answer: used in the registration link on 2001

    def _backoff(self, attempt: int) -> None:
        import random

        base = self.settings.retry_wait * (2 ** (attempt - 1))
        self.sleep(min(8.0, base) * (0.5 + random.random() / 2))

    # -- endpoints --------------------------------------------------------------------
    def create_session(self) -> str:
        data = self.call("POST", contract.CREATE_SESSION, json={"task_name": "project", "language": self.settings.language},
                         retry=True, what="creating a session")  # a repeat at worst leaves an empty session behind
        sid = data.get("session_id") if isinstance(data, dict) else None
        if not isinstance(sid, str) or not sid:
            raise ApiError("the service's create-session answer has no data.session_id; the API may have changed (see contract.py)")
        self._note_bind(data)
        return sid

    def credits(self) -> dict[str, Any]:
        data = self.call("GET", contract.CREDITS, retry=True, what="reading the credit balance")
        return {k: data.get(k) for k in ("available", "frozen", "total")} if isinstance(data, dict) else {}

    def state(self, sid: str) -> dict[str, Any]:
        """The session's timeline state: {draft, video_infos, generated_media} (the draft unvalidated: see drafts.py)."""
        data = self.call("GET", contract.STATE.format(sid=sid), retry=True, what=f"reading the state of session {sid}")
        self._note_bind(data)
        state = data.get("state") if isinstance(data, dict) else None
        if not isinstance(state, dict):
            raise ApiError(f"the state of session {sid} has no data.state; the API may have changed (see contract.py)")
        return state

    def upload_file(self, sid: str, path: Path, on_progress: BytesProgress | None = None, name: str | None = None) -> dict[str, Any]:
        """Stream a file as multipart `file` (64 KiB at a time: memory stays flat whatever the size); `name`: the name to send."""
        size = path.stat().st_size
        name = name or path.name
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"

        def body() -> dict:
            return {"files": {contract.UPLOAD_FIELD_FILE: (name, _CountingReader(path, on_progress, size), ctype)}}

        data = self.call("POST", contract.UPLOAD.format(sid=sid), body=body, retry=True, what=f"uploading {name}",
                         timeout=max(120.0, size / 1_000_000))
        return _upload_data(data, name)

    def upload_url(self, sid: str, url: str) -> dict[str, Any]:
        data = self.call("POST", contract.UPLOAD.format(sid=sid), data={contract.UPLOAD_FIELD_URL: url}, retry=True,
                         what="uploading by URL")
        return _upload_data(data, url.rsplit("/", 1)[-1])

    def render_status(self, rid: str) -> dict[str, Any] | None:
        """The render's status; None when the service does not know the id (HTTP 404, or any non-zero body code
        but those about the account: contract.py's ASSUMED reading of "unknown render"), i.e. it was never created."""
        try:
            data = self.call("GET", contract.RENDER_STATUS.format(id=rid), retry=True, allow_missing=True,
                             what=f"reading render {rid}")
        except (AuthError, NoCredits, PlanBlocked, RateLimited, SessionLost):
            raise
        except ApiError as err:
            if err.code is None:  # not the service's envelope at all: say so, do not guess
                raise
            return None
        return data if isinstance(data, dict) else None

    def start_render(self, rid: str, sid: str, draft: dict[str, Any], output: dict[str, str]) -> dict[str, Any]:
        """POST a render; after an unclear failure (5xx, dropped), ask for the id before posting again: never two renders."""
        body = {"id": rid, "sessionId": sid, "draft": draft, "output": output}
        attempt = 0
        while True:
            attempt += 1
            try:
                data = self.call("POST", contract.RENDER, json=body, retry=False, what=f"starting render {rid}")
                return data if isinstance(data, dict) else {"id": rid, "status": "queued"}
            except ServiceUnavailable:
                if attempt >= self.settings.retries:
                    raise
                self._backoff(attempt)
                known = self.render_status(rid)
                if known is not None:
                    return known

    def download(self, url: str, dest: Path, on_progress: BytesProgress | None = None) -> int:
        """Download to `dest`, resuming what is already there with HTTP Range; returns the size. No token is sent."""
        attempt = 0
        while True:
            attempt += 1
            have = dest.stat().st_size if dest.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with self.http.stream("GET", url, headers=headers) as resp:
                    if resp.status_code == 416 and have:
                        return have  # nothing left to fetch
                    if resp.status_code >= 500:
                        raise _Retry(f"HTTP {resp.status_code}")
                    if resp.status_code not in (200, 206):
                        raise ApiError(f"downloading the render failed: HTTP {resp.status_code} from the output address")
                    start = _range_start(resp) if resp.status_code == 206 else 0
                    mode = "ab" if start == have and have else "wb"
                    done = start if mode == "ab" else 0
                    length = resp.headers.get("Content-Length")
                    total = done + int(length) if length and length.isdigit() else 0
                    with dest.open(mode) as fh:
                        for chunk in resp.iter_bytes():  # as they arrive: a drop keeps what came before it
                            fh.write(chunk)
                            done += len(chunk)
                            if on_progress:
                                on_progress(done, total)
                    if total and done != total:
                        raise _Retry("short read")
                    return done
            except (httpx.TransportError, _Retry) as exc:
                if attempt >= self.settings.retries + 2:
                    raise ServiceUnavailable(f"downloading the render failed {attempt} times ({_transport_reason(exc)}); run "
                                             "again to resume where it stopped") from None
                self._backoff(attempt)

    def _note_bind(self, data: Any) -> None:
        if isinstance(data, dict) and isinstance(data.get(contract.BIND_FIELD), str):
            self.bind_id = data[contract.BIND_FIELD]


class _Retry(Exception):
    pass


class _CountingReader:
    """A file object for httpx's multipart: reads from disk in chunks and reports bytes sent."""

    def __init__(self, path: Path, on_progress: BytesProgress | None, size: int) -> None:
        self._fh = path.open("rb")
        self._done = 0
        self._size = size
        self._on_progress = on_progress

    def read(self, n: int = -1) -> bytes:
        chunk = self._fh.read(n)
        self._done += len(chunk)
        if self._on_progress is not None:
            self._on_progress(self._done, self._size)
        if not chunk:
            self._fh.close()
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        self._done = 0 if whence == 0 and offset == 0 else self._done
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def fileno(self) -> int:
        return self._fh.fileno()


def envelope(resp: httpx.Response, what: str) -> tuple[int, str, Any]:
    """The one place the contract's envelope is read: (code, message, data); unknown fields are ignored."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        if resp.status_code == contract.HTTP_MISSING_CLIENT_ID:
            return contract.HTTP_MISSING_CLIENT_ID, "bad request", None
        snippet = redact(resp.text[:120].strip().replace("\n", " ")) if resp.content else "an empty body"
        raise ApiError(f"{what}: the service answered HTTP {resp.status_code} with something that is not its JSON envelope "
                       f"({snippet!r}); check NEMO_API_URL points at the NemoVideo API", status=resp.status_code)
    message = body.get("message")
    return body["code"], redact(str(message)) if message is not None else "", body.get("data")


def _code(resp: httpx.Response) -> int | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), int) else None


def _retry_after(resp: httpx.Response, default: float) -> float:
    raw = resp.headers.get("Retry-After", "")
    try:
        return min(max(float(raw), 0.0), 300.0) if raw else default
    except ValueError:
        return default


def _range_start(resp: httpx.Response) -> int:
    raw = resp.headers.get("Content-Range", "")  # bytes 100-199/200
    try:
        return int(raw.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return 0


def _transport_reason(exc: BaseException) -> str:
    name = type(exc).__name__
    text = redact(str(exc)) if str(exc) else ""
    return f"{name}: {text}" if text else name


def _upload_data(data: Any, name: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ApiError(f"the service's answer to uploading {name} has no data.url; the API may have changed (see contract.py)")
    return dict(data)
