"""A protocol-faithful fake of the NemoVideo cloud API (../shared/nemo-api.md), for nemoflow's own tests and benchmarks.

Every path, header, code and assumption comes from nemoflow.engines.nemo.contract,
so the fake and the client change together. The fake is deliberately awkward
where the contract allows it: error envelopes alternate between HTTP 200 and a
4xx (clients must read `code`), every JSON object carries fields clients do not
know, SSE streams may stall on heartbeats, close with no text, or be cut; all of
it driven by `Quirks`, deterministic for a given seed.

Standard-library HTTP/1.1: non-streamed answers carry Content-Length; SSE is
chunked, so a normal end (the zero chunk) differs from a dropped stream
(fake_http.py). Renders are real: the local engine renders the draft with
FFmpeg (fake_render.py). The agent's answers come from fake_agent.py, stored
files and request bodies from fake_files.py.

    with FakeNemo(tmp_path).start() as fake:
        fake.add_user_token("tok")
        httpx.get(fake.url + contract.CREDITS, headers={"Authorization": "Bearer tok"})

`python -m nemoflow.testing.fake_nemo --root DIR` serves in the foreground (benchmarks).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

from ..engines.nemo import contract
from . import fake_render, fake_timeline
from .fake_files import Upload, file_id
from .fake_render import RenderJob

INVALID_REQUEST = 4000  # ASSUMED: the code for a render body the service refuses (invalid draft, unknown format)
UNKNOWN_RENDER = 4004  # the body code of "no such render" when Quirks.unknown_render is "code"
# Error envelopes alternate between HTTP 200 and this status (per code), so a client must read `code`.
ERROR_STATUS = {contract.BAD_TOKEN: 401, contract.NO_SESSION: 404, contract.NO_CREDITS: 402, INVALID_REQUEST: 400,
                contract.UNSUPPORTED_FILE: 400, contract.FILE_TOO_LARGE: 400, UNKNOWN_RENDER: 200}


@attrs.define
class Quirks:
    """Mutable knobs of the fake's behaviour, all deterministic given `seed`."""

    seed: int = 0
    fail_rate: float = 0.0  # injected HTTP 500 (short HTML, not an envelope) before handling any /api/* or /run_sse request
    fail_after_rate: float = 0.0  # render POST only: the job IS created, but the answer is HTTP 500
    drop_rate: float = 0.0  # SSE streams cut mid-stream (no terminating chunk); the edit has already been applied
    silent_rate: float = 0.3  # SSE streams of edits that end normally with no text part at all
    event_delay: float = 0.01  # seconds between SSE events
    stall_seconds: float = 0.0  # before the reply, only heartbeats (`: ping` comments and empty `data:` lines) this long
    heartbeat_every: float = 0.2  # seconds between heartbeats while stalling
    queue_seconds: float = 0.0  # a render stays `queued` this long
    render_seconds: float = 0.0  # a render takes at least this long in total
    fail_renders: bool = False  # renders end `failed` with an error text
    token_ttl: float = contract.ANONYMOUS_TOKEN_DAYS * 86400.0  # anonymous token lifetime, seconds
    block_exports: bool = False  # render POST answers HTTP 402 even with the attribution headers (free plan)
    max_upload_bytes: int = contract.MAX_UPLOAD_BYTES
    download_drop_after: int | None = None  # the next /files/ download is cut after this many bytes (once)
    render_cost: int = 10  # credits per render
    # ---- readings of what the contract leaves open (docs/nemo.md lists them; VARIANTS names combinations) ----
    media_naming: str = "url"  # how state drafts name a segment's media: url | id | table (fake_timeline.py)
    extra_fields: str = "top"  # the service's own fields in state drafts: top (x_internal, rev) | everywhere (tracks, segments, m)
    upload_on_timeline: bool = False  # an upload also lands on the session's timeline (as some editors do)
    unknown_render: str = "404"  # a render id it does not know: 404 (HTTP 404) | code (HTTP 200, body code UNKNOWN_RENDER)
    render_max_edge: int | None = None  # renders come back at most this many pixels on the long edge ("up to 1080x1920")
    render_cut_ms: int = 0  # renders come back this much shorter than the draft
    lose_render_posts: int = 0  # the next n render POSTs are lost before the service sees them: connection closed, no job
    layer_reading: str = "track"  # "Add … as an overlay on video layer N": track (a new video track) | main | none (fake_agent)
    unknown_words: tuple[str, ...] = ()  # issue-17 words the agent does not know (fake_agent.UNKNOWABLE): refused or left out


# Named readings of the contract's open points; every end-to-end test of the cloud engine runs under each.
VARIANTS: dict[str, dict[str, object]] = {
    "url": {"media_naming": "url"},
    "id": {"media_naming": "id", "extra_fields": "everywhere", "upload_on_timeline": True, "unknown_render": "code"},
    "table": {"media_naming": "table", "extra_fields": "everywhere", "unknown_render": "code", "silent_rate": 1.0},
    "table-placed": {"media_naming": "table", "upload_on_timeline": True, "silent_rate": 0.0},
}
# Chaos on top of a variant: HTTP 500s, streams cut, renders created behind an HTTP 500, a dropped download.
CHAOS: dict[str, object] = {"fail_rate": 0.08, "drop_rate": 0.2, "fail_after_rate": 0.5, "silent_rate": 0.3}


def variant_quirks(name: str, *, chaos: bool = False, seed: int = 0, **more: object) -> Quirks:
    """The quirks of a named variant (VARIANTS), with CHAOS on top if asked, and any other knob given."""
    values: dict[str, object] = {"event_delay": 0.0, "silent_rate": 0.0, **VARIANTS[name]}
    if chaos:
        values.update({k: v for k, v in CHAOS.items() if k != "silent_rate" or values.get("silent_rate", 0.0) < 1.0})
    return Quirks(seed=seed, **{**values, **more})  # type: ignore[arg-type]


@attrs.frozen
class LoggedRequest:
    """One request as the fake saw it. Header VALUES are never kept (tokens and client ids are secrets)."""

    method: str
    path: str
    query: str
    status: int
    code: int | None
    headers: dict[str, bool]
    attribution: bool
    t: float


@attrs.define
class Account:
    id: str
    balance: int  # credits held, frozen ones included
    registered: bool
    expires: float  # time.monotonic() after which the token is refused
    bind_id: str
    frozen: int = 0

    @property
    def available(self) -> int:
        return self.balance - self.frozen


@attrs.define
class Session:
    id: str
    account: str
    bind_id: str
    draft: dict[str, Any]
    rev: int = 0
    uploads: list[str] = attrs.field(factory=list)
    task_name: str = ""
    language: str = ""


@attrs.define
class _Rule:
    code: int
    status: int | None
    path_contains: str
    n: int


class FakeNemo:
    """The fake service: state, public knobs for tests, and the HTTP server (see the module docstring)."""

    def __init__(self, root: Path, quirks: Quirks | None = None, *, port: int = 0) -> None:
        self.root = Path(root)
        self.quirks = quirks or Quirks()
        self.port = port
        self.url = ""
        self.log: list[LoggedRequest] = []
        self.errors: list[str] = []  # tracebacks of the fake's own bugs (each answered HTTP 500): a test can assert it stays empty
        self.sessions: dict[str, Session] = {}
        self.renders: dict[str, RenderJob] = {}
        self.uploads: dict[str, Upload] = {}
        self._files: dict[str, Upload] = {}  # everything /files/ serves: uploads and render outputs
        self._accounts: dict[str, Account] = {}  # token → account
        self._client_tokens: dict[str, str] = {}  # anonymous client id → its token
        self._lock = threading.RLock()
        self._rngs: dict[tuple[int, str], random.Random] = {}
        self._error_counts: Counter[int] = Counter()
        self._rules: list[_Rule] = []
        self._rate_limited = 0
        self._posts: Counter[str] = Counter()
        self._created = 0
        self._black: dict[str, bool] = {}
        self._stopping = threading.Event()
        self._processes: set[subprocess.Popen] = set()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeNemo:
        self.root.mkdir(parents=True, exist_ok=True)
        from .fake_http import Handler

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        server.handle_error = lambda request, address: None  # type: ignore[method-assign]  # dropped clients are normal here
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-nemo", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            processes, connections = list(self._processes), list(self._connections)
        for proc in processes:
            with contextlib.suppress(OSError):
                proc.kill()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeNemo:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- knobs for tests -------------------------------------------------------------------------
    def add_user_token(self, token: str, credits: int = 1000, registered: bool = True) -> None:
        with self._lock:
            self._accounts[token] = Account(new_id("acct"), credits, registered, float("inf"), new_id("bind"))

    def expire_token(self, token: str) -> None:
        with self._lock:
            self._accounts[token].expires = float("-inf")

    def expire_all_tokens(self) -> None:
        with self._lock:
            for account in self._accounts.values():
                account.expires = float("-inf")

    def set_credits(self, token: str, available: int) -> None:
        with self._lock:
            account = self._accounts[token]
            account.balance = available + account.frozen

    def forget_sessions(self) -> None:
        with self._lock:
            self.sessions.clear()

    def rate_limit_next(self, n: int = 1) -> None:
        """The next n /api/* (and /run_sse) requests answer HTTP 429, envelope code 429, Retry-After: 30."""
        with self._lock:
            self._rate_limited += n

    def reject_next(self, code: int, status: int | None = None, path_contains: str = "", n: int = 1) -> None:
        """The next n /api/* or /run_sse requests whose path contains `path_contains` answer envelope `code` (HTTP `status`)."""
        with self._lock:
            self._rules.append(_Rule(code, status, path_contains, n))

    def render_posts(self) -> Counter[str]:
        """Render id → how many render POSTs created or re-posted it."""
        with self._lock:
            return Counter(self._posts)

    def jobs_created(self) -> int:
        """Render jobs actually created. The fake never makes two for one id, so more jobs than the client meant
        means it re-posted under a new id instead of resuming (and paid twice)."""
        return self._created

    def library(self) -> fake_timeline.Library:
        """The uploads, found by id, URL or name (a snapshot: safe to use outside the lock)."""
        with self._lock:
            return fake_timeline.Library(self.url, dict(self.uploads))

    def shaped(self, session: Session, internal: dict[str, Any]) -> dict[str, Any]:
        """A timeline in the internal form, as this variant's state shows it."""
        q = self.quirks
        return fake_timeline.to_service(internal, naming=q.media_naming, extras=q.extra_fields, session_id=session.id,
                                        rev=session.rev, library=self.library())

    def is_black(self, upload: Upload) -> bool:
        """Whether a stored video's first frame is black (mean luma under 24 of 255): what "cut the black frames" removes."""
        with self._lock:
            if upload.id in self._black:
                return self._black[upload.id]
        import av

        black = False
        with contextlib.suppress(Exception), av.open(str(upload.path)) as box:
            frame = next(box.decode(video=0))
            plane = bytes(frame.reformat(format="gray").planes[0])
            black = sum(plane) / max(len(plane), 1) < 24
        with self._lock:
            self._black[upload.id] = black
        return black

    def render_bodies(self, failed: bool = True) -> list[dict[str, Any]]:
        """The draft of every render job created, as the client sent it (without the jobs that ended `failed`, if asked)."""
        with self._lock:
            return [job.draft for job in self.renders.values() if failed or job.status != fake_render.FAILED]

    def stored_file(self, url: str) -> Upload | None:
        """The stored file a /files/ URL of this fake names, or None."""
        ids = file_id(self.url, url)
        if ids is None:
            return None
        with self._lock:
            stored = self._files.get(ids[0])
        return stored if stored is not None and stored.name == ids[1] else None

    # ---- internals shared with the handler and the render threads -------------------------------------
    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def _roll(self, kind: str, rate: float) -> bool:
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        return self._rng(kind).random() < rate

    def _pick(self, kind: str, n: int) -> int:
        return self._rng(kind).randrange(n)

    def _rng(self, kind: str) -> random.Random:
        key = (self.quirks.seed, kind)
        with self._lock:
            if key not in self._rngs:
                self._rngs[key] = random.Random(f"{self.quirks.seed}:{kind}")
            return self._rngs[key]

    def _error_status(self, code: int) -> int:
        """HTTP status for an error envelope: service codes alternate 200 / 4xx (200 first); HTTP-like codes are themselves."""
        if code not in ERROR_STATUS:
            return code if 400 <= code <= 599 else HTTPStatus.OK
        with self._lock:
            self._error_counts[code] += 1
            return HTTPStatus.OK if self._error_counts[code] % 2 else ERROR_STATUS[code]

    def _account(self, token: str | None) -> Account | None:
        with self._lock:
            account = self._accounts.get(token or "")
            return account if account is not None and time.monotonic() < account.expires else None

    def _anonymous_token(self, client_id: str) -> str | None:
        """A new token for this client id, or None when its previous one is still valid (one per client per TTL)."""
        with self._lock:
            old = self._client_tokens.get(client_id)
            if old is not None and self._account(old) is not None:
                return None
            token = secrets.token_urlsafe(32)
            self._accounts[token] = Account(new_id("acct"), contract.ANONYMOUS_CREDITS, False,
                                            time.monotonic() + self.quirks.token_ttl, new_id("bind"))
            self._client_tokens[client_id] = token
            return token

    def _track_process(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._processes.add(proc)
        if self._stopping.is_set():
            proc.kill()

    def _finish_render(self, job: RenderJob, error: str | None) -> None:
        stored = None
        if error is None:
            try:
                stored = fake_render.store_output(self, job)
            except Exception as exc:
                error = f"the rendered file cannot be read back: {exc}"
        with self._lock:
            account = next((a for a in self._accounts.values() if a.id == job.account), None)
            if account is not None:
                account.frozen -= job.cost
                if stored is not None:
                    account.balance -= job.cost
            if stored is not None:
                self._files[stored.id] = stored
                job.url, job.status = stored.url(self.url), fake_render.COMPLETED
            else:
                job.error, job.status = error, fake_render.FAILED
            job.finished = time.monotonic()
            self._processes = {p for p in self._processes if p.poll() is None}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


# ---- command line ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nemoflow.testing.fake_nemo", description="Serve a fake NemoVideo API.")
    parser.add_argument("--root", type=Path, required=True, help="where uploads and renders are stored")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user-token", action="append", default=[], help="a registered account's token (repeatable)")
    parser.add_argument("--render-seconds", type=float, default=0.0)
    parser.add_argument("--silent-rate", type=float, default=Quirks().silent_rate)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="a named reading of the contract's open points (docs/nemo.md)")
    args = parser.parse_args(argv)
    quirks = Quirks(seed=args.seed, render_seconds=args.render_seconds, silent_rate=args.silent_rate, drop_rate=args.drop_rate,
                    fail_rate=args.fail_rate, **(VARIANTS[args.variant] if args.variant else {}))  # type: ignore[arg-type]
    fake = FakeNemo(args.root, quirks, port=args.port)
    for token in args.user_token:
        fake.add_user_token(token)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    fake.start()
    print(f"listening on {fake.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":  # run the package's module, not a second copy of it as __main__ (fake_http imports it)
    from nemoflow.testing.fake_nemo import main as package_main

    raise SystemExit(package_main())
