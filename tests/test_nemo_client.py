"""NemoClient against the fake service: one test (or more) per row of the contract's error table (../shared/nemo-api.md).

Each test asserts what the client sent (the fake's log, or the wire through a recording transport), what it
stored (credentials.json), what it asked to wait (a recording `sleep`), and what it raised: the error class, its
exit code and the contract's remedy wording (contract.REMEDIES).
"""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from pathlib import Path

import httpx
import pytest
from mediagen import make_audio, make_image
from nemokit import fake  # noqa: F401  (the fixture)

from nemoflow import __version__
from nemoflow.engines.nemo import contract
from nemoflow.engines.nemo.client import NemoClient, attribution_headers
from nemoflow.engines.nemo.credentials import CredentialStore, credentials_path
from nemoflow.engines.nemo.errors import (
    ApiError,
    AuthError,
    NoCredits,
    PlanBlocked,
    RateLimited,
    ServiceUnavailable,
    SessionLost,
    UploadRefused,
)
from nemoflow.engines.nemo.settings import NemoSettings
from nemoflow.engines.nemo.uploads import check_uploadable, upload_name
from nemoflow.errors import MediaError, TransientError
from nemoflow.testing.fake_nemo import FakeNemo, LoggedRequest

USER_TOKEN = "user-token-7c1e9a40-never-print-me"
RETRY_WAIT = 0.001
RATE_LIMIT_WAIT = 0.01
DRAFT = {"v": 1, "d": 1000, "m": {"canvas": {"w": 64, "h": 48, "fps": 10}}, "t": []}
OUTPUT = {"format": "mp4", "quality": contract.OUTPUT_QUALITY}


class Sleeps(list):
    """A `sleep` that records the waits asked for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Wire(httpx.HTTPTransport):
    """A real transport that also records each request as sent (method, path, headers with their values)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, httpx.Headers]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, httpx.Headers(request.headers)))
        return super().handle_request(request)


# The fake appends a request to its log just after answering it (from the thread that served it), so a test that
# reads the log right after a call could miss the last entry, or see two entries swapped: every HTTP client here
# counts the answers it receives, and `settled` waits for the log to hold that many, then orders it by arrival.
_ANSWERED: dict[int, int] = {}  # id(fake) → answers received from it


def _counting(server: FakeNemo):
    def hook(response: httpx.Response) -> None:
        _ANSWERED[id(server)] = _ANSWERED.get(id(server), 0) + 1

    return hook


def settled(server: FakeNemo) -> list[LoggedRequest]:
    """The fake's log, once it holds every request answered so far, in the order the requests arrived."""
    deadline = time.monotonic() + 5.0
    while len(server.log) < _ANSWERED.get(id(server), 0) and time.monotonic() < deadline:
        time.sleep(0.001)
    return sorted(server.log, key=lambda r: r.t)  # a dropped connection's entry can be appended after the next request's


@pytest.fixture(autouse=True)
def _fake_has_no_bugs(fake):  # noqa: F811
    _ANSWERED[id(fake)] = 0
    yield
    _ANSWERED.pop(id(fake), None)
    assert not fake.errors, fake.errors[0]


@pytest.fixture
def clients(fake):  # noqa: F811
    """Make clients with the waits shortened (retry_wait 0.001 s, rate_limit_wait 0.01 s) and a recording sleep; all closed after."""
    made: list[NemoClient] = []

    def make(*, transport: httpx.BaseTransport | None = None, **overrides) -> NemoClient:
        settings = NemoSettings(**{"api_url": fake.url, "retry_wait": RETRY_WAIT, "rate_limit_wait": RATE_LIMIT_WAIT, **overrides})
        client = NemoClient(settings, CredentialStore(), sleep=Sleeps(), transport=transport)
        client.http.event_hooks["response"].append(_counting(fake))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def calls(server: FakeNemo, path: str, method: str | None = None, since: int = 0) -> list[tuple[str, int, int | None]]:
    """(method, HTTP status, envelope code) of each logged request to exactly `path`."""
    return [(r.method, r.status, r.code) for r in settled(server)[since:] if r.path == path and (method is None or r.method == method)]


def anonymous_posts(server: FakeNemo, since: int = 0) -> list[tuple[str, int, int | None]]:
    return calls(server, contract.ANONYMOUS_TOKEN, "POST", since)


def stored() -> dict:
    return json.loads(credentials_path().read_text(encoding="utf-8"))


def stored_anonymous(api: str) -> str:
    return stored()["tokens"][api]["anonymous"]["token"]


def accepted(server: FakeNemo, token: str) -> bool:
    """Does the fake take this token right now (asked directly, not through the client)?"""
    with httpx.Client(event_hooks={"response": [_counting(server)]}) as http:
        return http.get(server.url + contract.CREDITS, headers={"Authorization": f"Bearer {token}"}).json()["code"] == contract.OK


def junk(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


# ---- code 0 -----------------------------------------------------------------------------------------------

def test_code_0_returns_data_and_tolerates_unknown_fields(fake, clients):  # noqa: F811
    client = clients()
    balance = client.credits()
    assert balance == {"available": contract.ANONYMOUS_CREDITS, "frozen": 0, "total": contract.ANONYMOUS_CREDITS}
    resp, data = client.exchange("GET", contract.CREDITS, what="reading credits", retry=True)
    envelope = resp.json()
    assert envelope["code"] == contract.OK and {"request_id", "server_time"} <= set(envelope), "the envelope carries unknown fields"
    assert data["available"] == contract.ANONYMOUS_CREDITS and {"plan", "region"} <= set(data), "unknown data fields are passed through"
    sid = client.create_session()
    assert sid in fake.sessions and client.bind_id == fake.sessions[sid].bind_id
    assert fake.sessions[sid].task_name == "project" and fake.sessions[sid].language == "en"
    # One anonymous token, fetched with a client id and no bearer token; every other call carried the token.
    assert [(r.method, r.path) for r in settled(fake)] == [("POST", contract.ANONYMOUS_TOKEN), ("GET", contract.CREDITS),
                                                          ("GET", contract.CREDITS), ("POST", contract.CREATE_SESSION)]
    first = settled(fake)[0]
    assert first.headers.get(contract.HEADER_CLIENT_ID.lower()) and "authorization" not in first.headers
    assert all(r.headers.get("authorization") for r in settled(fake)[1:])
    saved = stored()
    assert uuid.UUID(saved["client_id"]) and accepted(fake, stored_anonymous(fake.url))
    assert saved["tokens"][fake.url]["anonymous"]["expires_at"] > saved["tokens"][fake.url]["anonymous"]["saved_at"]


# ---- 1001 ------------------------------------------------------------------------------------------------------

def test_1001_on_an_anonymous_token_fetches_one_new_token_and_retries_once(fake, clients):  # noqa: F811
    client = clients()
    client.credits()
    old, client_id = stored_anonymous(fake.url), stored()["client_id"]
    fake.expire_all_tokens()
    mark = len(settled(fake))
    assert client.credits()["available"] == contract.ANONYMOUS_CREDITS
    assert [(r.method, r.path, r.code) for r in settled(fake)[mark:]] == [("GET", contract.CREDITS, contract.BAD_TOKEN),
                                                                          ("POST", contract.ANONYMOUS_TOKEN, contract.OK),
                                                                          ("GET", contract.CREDITS, contract.OK)]
    new = stored_anonymous(fake.url)
    assert new != old and accepted(fake, new) and not accepted(fake, old)
    assert client.token().value == new and client.token().kind == "anonymous"
    assert stored()["client_id"] == client_id, "the client id is kept: it identifies this client"
    assert client.sleep == [], "1001 is not a wait"


def test_1001_on_a_freshly_issued_anonymous_token_stops_with_auth_error(fake, clients):  # noqa: F811
    client = clients()
    client.credits()
    fake.expire_all_tokens()
    fake.reject_next(contract.BAD_TOKEN, path_contains=contract.CREDITS, n=5)  # more than a correct client uses: a loop would eat them
    mark = len(settled(fake))
    with pytest.raises(AuthError) as caught:
        client.credits()
    err = caught.value
    assert (err.exit_code, err.code) == (2, contract.BAD_TOKEN)
    assert "freshly issued anonymous token" in str(err) and "set NEMO_TOKEN" in str(err)
    assert calls(fake, contract.CREDITS, since=mark) == [("GET", 200, contract.BAD_TOKEN), ("GET", 401, contract.BAD_TOKEN)]
    assert anonymous_posts(fake, mark) == [("POST", 200, contract.OK)], "exactly one renewal"
    assert len(settled(fake)) - mark == 3


@pytest.mark.parametrize("where", ["env", "login"])
def test_1001_on_a_user_token_stops_and_says_get_a_new_token(fake, clients, monkeypatch, where):  # noqa: F811
    fake.add_user_token(USER_TOKEN)
    fake.expire_token(USER_TOKEN)
    if where == "env":
        monkeypatch.setenv("NEMO_TOKEN", USER_TOKEN)
    else:
        CredentialStore().put_token(fake.url, "user", USER_TOKEN)
    client = clients()
    with pytest.raises(AuthError) as caught:
        client.credits()
    err, message = caught.value, str(caught.value)
    assert (err.exit_code, err.code) == (2, contract.BAD_TOKEN)
    assert ("NEMO_TOKEN was refused" if where == "env" else "the token stored by `nemoflow auth login` was refused") in message
    assert "get a new token from your NemoVideo account and set it again" in message  # contract.REMEDIES[BAD_TOKEN]'s remedy
    assert USER_TOKEN not in message
    assert [(r.method, r.path, r.code) for r in settled(fake)] == [("GET", contract.CREDITS, contract.BAD_TOKEN)], "no renewal, no retry"
    assert anonymous_posts(fake) == []
    assert "anonymous" not in (stored()["tokens"].get(fake.url, {}) if credentials_path().exists() else {})


# ---- 1002 ------------------------------------------------------------------------------------------------------

def test_1002_session_lost_from_state_and_uploads(fake, clients, tmp_path):  # noqa: F811
    client = clients()
    sid = client.create_session()
    assert client.state(sid)["draft"]["t"] == []
    fake.forget_sessions()
    mark = len(settled(fake))
    attempts = [lambda: client.state(sid), lambda: client.upload_url(sid, fake.url + "/files/x/clip.mp4"),
                lambda: client.upload_file(sid, junk(tmp_path / "clip.mp4", 2000))]
    for attempt in attempts:
        with pytest.raises(SessionLost) as caught:
            attempt()
        assert (caught.value.code, caught.value.exit_code) == (contract.NO_SESSION, 1)
        assert "session not found (code 1002)" in str(caught.value)
    logged = [(r.method, r.path, r.code) for r in settled(fake)[mark:]]
    upload = contract.UPLOAD.format(sid=sid)
    assert logged == [("GET", contract.STATE.format(sid=sid), contract.NO_SESSION), ("POST", upload, contract.NO_SESSION),
                      ("POST", upload, contract.NO_SESSION)], "each tried once; the client itself opens no new session"


# ---- 2001 ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["render-answer", "session"])
def test_2001_anonymous_shows_the_registration_link_with_the_bind_id(fake, clients, source):  # noqa: F811
    client = clients()
    sid = client.create_session()
    bind = fake.sessions[sid].bind_id
    assert bind.startswith("bind_")
    if source == "render-answer":  # the fake's render refusal carries data.bind_id
        fake.set_credits(stored_anonymous(fake.url), 0)
    else:  # an envelope with no data: the client uses the bind id of its session
        fake.reject_next(contract.NO_CREDITS, path_contains=contract.RENDER)
    with pytest.raises(NoCredits) as caught:
        client.start_render(contract.render_id(1), sid, DRAFT, OUTPUT)
    err, message = caught.value, str(caught.value)
    assert (err.exit_code, err.code) == (2, contract.NO_CREDITS)
    assert contract.REGISTER_URL.format(bind=bind) in message and f"?bind={bind}" in message
    assert contract.REMEDIES[contract.NO_CREDITS] not in message
    assert fake.jobs_created() == 0 and calls(fake, contract.RENDER) == [("POST", 200, contract.NO_CREDITS)], "not retried"


def test_2001_registered_says_top_up_and_has_no_registration_link(fake, clients, monkeypatch):  # noqa: F811
    fake.add_user_token(USER_TOKEN, credits=0, registered=True)
    monkeypatch.setenv("NEMO_TOKEN", USER_TOKEN)
    client = clients()
    sid = client.create_session()
    assert client.bind_id, "the session answer carried a bind id; a registered user must still not be sent to register"
    for n in (2, 3):  # the fake answers 2001 with HTTP 200, then with HTTP 402: still no credits, not a plan block
        with pytest.raises(NoCredits) as caught:
            client.start_render(contract.render_id(n), sid, DRAFT, OUTPUT)
        err, message = caught.value, str(caught.value)
        assert (err.exit_code, err.code) == (2, contract.NO_CREDITS)
        assert contract.REMEDIES[contract.NO_CREDITS] in message and "top up credits" in message
        assert "register" not in message and "bind" not in message and contract.REGISTER_URL.split("?")[0] not in message
    assert calls(fake, contract.RENDER) == [("POST", 200, contract.NO_CREDITS), ("POST", 402, contract.NO_CREDITS)]
    assert anonymous_posts(fake) == [] and fake.jobs_created() == 0


# ---- 4001 ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content", "seems"), [
    ("notes.txt", b"hello, just text\n" * 8, "plain text"),
    ("clip.mp4", b"%PDF-1.7\n" + bytes(200), "a PDF document"),  # the name says mp4; the content decides
    ("clip", os.urandom(100), "not a media type the service knows"),
    ("clip.mp4.exe", b"MZ" + bytes(200), "a Windows program"),
])
def test_4001_check_uploadable_refuses_by_content_before_any_request(fake, clients, tmp_path, name, content, seems):  # noqa: F811
    clients()
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UploadRefused) as caught:
        check_uploadable(path, "step `cut`")
    err, message = caught.value, str(caught.value)
    assert isinstance(err, MediaError) and (err.code, err.exit_code) == (contract.UNSUPPORTED_FILE, 2)
    assert contract.REMEDIES[contract.UNSUPPORTED_FILE] in message and contract.SUPPORTED_LIST in message
    assert message.startswith("step `cut`: ") and name in message and seems in message
    assert settled(fake) == []


def test_files_are_sent_under_the_type_their_content_has(tmp_path):
    png = make_image(tmp_path / "clip.png", size=(32, 24)).rename(tmp_path / "clip.mp4")  # a PNG named .mp4: sent as clip.png
    assert check_uploadable(png, "step `cut`") == "png"
    assert upload_name("clip.mp4", "png") == "clip.png"
    jpeg = tmp_path / "still.JPEG"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    assert check_uploadable(jpeg, "step `cut`") == "jpg" and upload_name("still.JPEG", "jpg") == "still.JPEG"
    assert upload_name("take.mov", "mp4") == "take.mov" and upload_name("take.webm", "mkv") == "take.webm", "one container family"
    assert upload_name("take", "mp4") == "take.mp4"


@pytest.mark.parametrize("how", ["url", "file"])
def test_4001_from_the_service_is_upload_refused_with_the_formats(fake, clients, tmp_path, how):  # noqa: F811
    client = clients()
    sid = client.create_session()
    mark = len(settled(fake))
    for _ in range(2):  # the fake answers 4001 with HTTP 200, then with HTTP 400: the code decides
        with pytest.raises(UploadRefused) as caught:
            if how == "url":
                client.upload_url(sid, "https://media.example.invalid/clip.mp4")  # an address the fake cannot fetch
            else:
                client.upload_file(sid, junk(tmp_path / "notes.txt", 500))  # the client leaves the type check to check_uploadable
        err, message = caught.value, str(caught.value)
        assert (err.code, err.exit_code) == (contract.UNSUPPORTED_FILE, 2)
        assert "code 4001" in message and contract.REMEDIES[contract.UNSUPPORTED_FILE] in message
        assert contract.SUPPORTED_LIST in message and "client id" not in message
    assert [(r.method, r.status, r.code) for r in settled(fake)[mark:]] == [("POST", 200, contract.UNSUPPORTED_FILE),
                                                                            ("POST", 400, contract.UNSUPPORTED_FILE)], "each refused once"


# ---- 4002 ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [contract.MAX_UPLOAD_BYTES + 1, 510_000_000, 524_288_000])  # 500 MB is 500,000,000 bytes, not MiB
def test_4002_check_uploadable_refuses_a_file_over_500_mb_before_any_request(fake, clients, tmp_path, size):  # noqa: F811
    clients()
    big = tmp_path / "huge.mp4"
    big.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")  # an MP4's first box: the type check alone passes
    os.truncate(big, size)  # sparse: no disk used
    with pytest.raises(UploadRefused) as caught:
        check_uploadable(big, "step `cut`")
    err, message = caught.value, str(caught.value)
    assert (err.code, err.exit_code) == (contract.FILE_TOO_LARGE, 2)
    assert contract.REMEDIES[contract.FILE_TOO_LARGE] in message
    assert "trim" in message and "compress" in message and "huge.mp4" in message and f"({size:,} bytes)" in message
    assert "500 MB (500,000,000 bytes)" in message and "MiB" not in message, "one unit in every message"
    assert settled(fake) == []
    os.truncate(big, contract.MAX_UPLOAD_BYTES)
    assert check_uploadable(big, "step `cut`") == "mp4"  # exactly at the limit: accepted


@pytest.mark.parametrize("size", [5_000, 300_000])  # read then measured; and refused from Content-Length before reading
def test_4002_from_the_service_is_upload_refused(fake, clients, tmp_path, size):  # noqa: F811
    client = clients()
    sid = client.create_session()
    fake.quirks.max_upload_bytes = 1_000
    mark = len(settled(fake))
    for _ in range(2):  # the fake answers 4002 with HTTP 200, then with HTTP 400: the code decides
        with pytest.raises(UploadRefused) as caught:
            client.upload_file(sid, junk(tmp_path / "clip.mp4", size))
        err, message = caught.value, str(caught.value)
        assert (err.code, err.exit_code) == (contract.FILE_TOO_LARGE, 2)
        assert "code 4002" in message and contract.REMEDIES[contract.FILE_TOO_LARGE] in message and "client id" not in message
    assert [(r.method, r.status, r.code) for r in settled(fake)[mark:]] == [("POST", 200, contract.FILE_TOO_LARGE),
                                                                            ("POST", 400, contract.FILE_TOO_LARGE)], "each refused once"
    assert not fake.uploads


# ---- HTTP 400 ----------------------------------------------------------------------------------------------------

def test_http_400_on_a_malformed_client_id_renews_the_id_and_retries(fake, clients):  # noqa: F811
    path = credentials_path()
    path.write_text(json.dumps({"v": 1, "tokens": {}, "client_id": "not-a-uuid"}), encoding="utf-8")
    path.chmod(0o600)
    client = clients()
    assert client.credits()["available"] == contract.ANONYMOUS_CREDITS
    assert anonymous_posts(fake) == [("POST", 400, contract.HTTP_MISSING_CLIENT_ID), ("POST", 200, contract.OK)]
    assert all(r.headers.get(contract.HEADER_CLIENT_ID.lower()) for r in settled(fake) if r.path == contract.ANONYMOUS_TOKEN)
    renewed = stored()["client_id"]
    assert renewed != "not-a-uuid" and str(uuid.UUID(renewed)) == renewed
    assert accepted(fake, stored_anonymous(fake.url)) and client.sleep == []


def test_http_400_twice_stops_instead_of_looping(fake, clients):  # noqa: F811
    fake.reject_next(contract.HTTP_MISSING_CLIENT_ID, path_contains=contract.ANONYMOUS_TOKEN, n=5)
    client = clients()
    with pytest.raises(ApiError) as caught:
        client.credits()
    assert (caught.value.status, caught.value.exit_code) == (400, 1) and "client id" in str(caught.value)
    assert anonymous_posts(fake) == [("POST", 400, 400)] * 2, "one renewal of the client id, then stop"
    assert calls(fake, contract.CREDITS) == []


def test_http_400_from_another_endpoint_is_not_blamed_on_the_client_id(fake, clients):  # noqa: F811
    client = clients()
    sid = client.create_session()
    messages = []
    for n in (1, 2):  # the fake answers a refused render body (code 4000) with HTTP 200, then with HTTP 400
        with pytest.raises(ApiError) as caught:
            client.start_render(contract.render_id(n), sid, {"v": 1, "t": "none"}, OUTPUT)  # `t` is not a list: an invalid draft
        assert caught.value.code == 4000
        messages.append(str(caught.value))
    assert calls(fake, contract.RENDER) == [("POST", 200, 4000), ("POST", 400, 4000)]
    assert "invalid draft" in messages[0] and "client id" not in messages[0]
    assert "invalid draft" in messages[1] and "client id" not in messages[1]


# ---- HTTP 402 ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ci", [None, "true"])
def test_http_402_plan_blocked_and_the_attribution_headers(fake, clients, monkeypatch, ci):  # noqa: F811
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    platform = contract.PLATFORM_CI if ci else contract.PLATFORM_CLI
    assert attribution_headers() == {contract.HEADER_SOURCE: contract.SKILL_SOURCE, contract.HEADER_VERSION: __version__,
                                     contract.HEADER_PLATFORM: platform}
    wire = Wire()
    client = clients(transport=wire)
    sid = client.create_session()
    fake.quirks.block_exports = True
    with pytest.raises(PlanBlocked) as caught:
        client.start_render(contract.render_id(3), sid, DRAFT, OUTPUT)
    err, message = caught.value, str(caught.value)
    assert (err.exit_code, err.code, err.status) == (2, contract.HTTP_PLAN_BLOCKED, 402)
    assert "register or upgrade your plan to unlock export" in message and contract.REMEDIES[contract.HTTP_PLAN_BLOCKED] in message
    assert "credits" not in message.replace("not credits", ""), "a plan issue, not credits"
    assert calls(fake, contract.RENDER) == [("POST", 402, contract.HTTP_PLAN_BLOCKED)] and fake.jobs_created() == 0
    assert len(settled(fake)) == 3 and all(r.attribution for r in settled(fake)), "every request carried the three attribution headers"
    assert len(wire.sent) == 3
    for _, _, headers in wire.sent:
        assert (headers[contract.HEADER_SOURCE], headers[contract.HEADER_VERSION], headers[contract.HEADER_PLATFORM]) == (
            contract.SKILL_SOURCE, __version__, platform)


# ---- HTTP 429 ----------------------------------------------------------------------------------------------------

def test_429_waits_as_retry_after_says_once_and_succeeds(fake, clients):  # noqa: F811
    client = clients()
    client.token()
    fake.rate_limit_next(1)  # the fake's 429 carries Retry-After: 30
    assert client.credits()["available"] == contract.ANONYMOUS_CREDITS
    assert client.sleep == [contract.RATE_LIMIT_WAIT], "Retry-After (30 s) wins over the configured wait"
    assert calls(fake, contract.CREDITS) == [("GET", 429, 429), ("GET", 200, 0)]


@pytest.mark.parametrize("wait", [RATE_LIMIT_WAIT, 0.25])
def test_429_without_retry_after_waits_the_configured_time(fake, clients, wait):  # noqa: F811
    assert NemoSettings().rate_limit_wait == contract.RATE_LIMIT_WAIT == 30.0, "30 s by default"
    client = clients(rate_limit_wait=wait)
    client.token()
    fake.reject_next(contract.HTTP_RATE_LIMITED, path_contains=contract.CREDITS)  # a 429 with no Retry-After header
    assert client.credits()["available"] == contract.ANONYMOUS_CREDITS
    assert client.sleep == [wait]
    assert calls(fake, contract.CREDITS) == [("GET", 429, 429), ("GET", 200, 0)]


def test_429_twice_raises_rate_limited(fake, clients):  # noqa: F811
    client = clients()
    client.token()
    fake.rate_limit_next(2)
    with pytest.raises(RateLimited) as caught:
        client.credits()
    err, message = caught.value, str(caught.value)
    assert (err.exit_code, err.code, err.status) == (1, 429, 429)
    assert contract.REMEDIES[contract.HTTP_RATE_LIMITED] in message
    assert client.sleep == [contract.RATE_LIMIT_WAIT], "one wait, one retry"
    assert calls(fake, contract.CREDITS) == [("GET", 429, 429)] * 2


def test_429_twice_reports_the_wait_actually_made(fake, clients):  # noqa: F811
    client = clients(rate_limit_wait=0.25)
    client.token()
    fake.reject_next(contract.HTTP_RATE_LIMITED, path_contains=contract.CREDITS, n=2)  # no Retry-After
    with pytest.raises(RateLimited) as caught:
        client.credits()
    assert client.sleep == [0.25]
    assert "30 s" not in str(caught.value)


def test_429_from_the_anonymous_token_endpoint_is_auth_error(fake, clients):  # noqa: F811
    first = clients()
    first.credits()
    CredentialStore().drop(fake.url, ("anonymous",))  # the token is lost, the client id kept: the service has one valid already
    mark = len(settled(fake))
    second = clients()
    with pytest.raises(AuthError) as caught:
        second.credits()
    err, message = caught.value, str(caught.value)
    assert (err.exit_code, err.status) == (2, 429)
    assert "set NEMO_TOKEN" in message and "one anonymous token per client every 7 days" in message
    assert second.sleep == [RATE_LIMIT_WAIT], "no Retry-After on this answer: the configured wait"
    assert anonymous_posts(fake, mark) == [("POST", 429, 429)] * 2 and calls(fake, contract.CREDITS, since=mark) == []
    assert "anonymous" not in stored()["tokens"].get(fake.url, {})


# ---- transient failures --------------------------------------------------------------------------------------------

def test_5xx_on_a_get_gives_up_after_the_configured_attempts(fake, clients):  # noqa: F811
    client = clients()
    client.token()
    fake.quirks.fail_rate = 1.0
    with pytest.raises(ServiceUnavailable) as caught:
        client.credits()
    err = caught.value
    assert isinstance(err, TransientError) and err.exit_code == 1
    retries = client.settings.retries
    assert f"HTTP 500) {retries} times" in str(err)
    assert calls(fake, contract.CREDITS) == [("GET", 500, None)] * retries
    assert len(client.sleep) == retries - 1, "a backoff between attempts, none after the last"
    for n, slept in enumerate(client.sleep, start=1):
        base = RETRY_WAIT * 2 ** (n - 1)
        assert base / 2 <= slept <= base, "the retry_wait setting, doubled each time, with jitter"


def test_5xx_half_the_time_with_a_fixed_seed_still_succeeds(fake, clients):  # noqa: F811
    client = clients()
    client.token()
    fake.quirks.seed = 4  # random.Random("4:fail") rolls fail, fail, pass
    fake.quirks.fail_rate = 0.5
    assert client.credits()["available"] == contract.ANONYMOUS_CREDITS
    assert calls(fake, contract.CREDITS) == [("GET", 500, None), ("GET", 500, None), ("GET", 200, 0)]
    assert len(client.sleep) == 2


def test_render_post_failing_after_the_job_is_created_is_not_posted_again(fake, clients):  # noqa: F811
    client = clients()
    sid = client.create_session()
    fake.quirks.fail_after_rate = 1.0
    rid = contract.render_id(1_700_000_000_123)
    answer = client.start_render(rid, sid, DRAFT, OUTPUT)
    assert answer["id"] == rid and answer["status"] in contract.RENDER_STATUSES
    assert fake.jobs_created() == 1 and fake.render_posts()[rid] == 1
    assert calls(fake, contract.RENDER) == [("POST", 500, None)]
    assert calls(fake, contract.RENDER_STATUS.format(id=rid)) == [("GET", 200, 0)], "asked for the id instead of posting again"


# ---- download ------------------------------------------------------------------------------------------------------

@pytest.fixture
def served(fake, clients, tmp_path):  # noqa: F811
    """A file the fake serves under /files/ (an upload: only real media is stored), and its bytes."""
    client = clients()
    sid = client.create_session()
    data = client.upload_file(sid, make_audio(tmp_path / "tone.wav", duration=0.5))
    source = fake.stored_file(data["url"])
    assert source is not None and source.size > 20_000
    return client, data["url"], source.path.read_bytes()


def files_gets(server: FakeNemo) -> list:
    return [r for r in settled(server) if r.path.startswith("/files/")]


def test_download_resumes_with_a_range_request_after_a_drop(fake, served, tmp_path):  # noqa: F811
    client, url, content = served
    fake.quirks.download_drop_after = 5_000  # the next /files/ answer is cut after 5000 bytes
    dest = tmp_path / "out.wav"
    progress: list[tuple[int, int]] = []
    assert client.download(url, dest, on_progress=lambda done, total: progress.append((done, total))) == len(content)
    assert dest.read_bytes() == content, "byte-identical to the served file"
    first, second = files_gets(fake)
    assert (first.status, second.status) == (200, 206)
    assert "range" not in first.headers and second.headers.get("range"), "the second GET resumes with Range"
    assert progress[0] == (5_000, len(content)) and progress[-1] == (len(content), len(content)), "the 5000 bytes were kept"
    assert client.sleep and all("authorization" not in r.headers for r in (first, second)), "no token to the output address"


# ---- secrets -------------------------------------------------------------------------------------------------------

def test_no_secret_in_messages_log_output_or_readable_file(fake, clients, monkeypatch, capsys, caplog, tmp_path):  # noqa: F811
    caplog.set_level("DEBUG")
    secrets: set[str] = set()
    messages: list[str] = []

    def expect(kind: type[Exception], action) -> None:
        with pytest.raises(kind) as caught:
            action()
        messages.append(str(caught.value))
        messages.append(repr(caught.value))

    def remember() -> None:
        data = stored()
        secrets.add(data["client_id"])
        secrets.update(entry["token"] for tokens in data["tokens"].values() for entry in tokens.values())

    path = credentials_path()
    path.write_text(json.dumps({"v": 1, "tokens": {}, "client_id": str(uuid.uuid4()).replace("-", "")[:20]}), encoding="utf-8")
    path.chmod(0o600)
    remember()
    wire = Wire()
    client = clients(transport=wire)
    client.credits()  # HTTP 400 on the malformed client id, a new id, an anonymous token
    remember()
    assert repr(client.token()).count(client.token().value) == 0, "the Token repr hides its value"
    fake.expire_all_tokens()
    client.credits()  # 1001: a renewed anonymous token (a new account: sessions are made after this)
    remember()
    sid = client.create_session()
    fake.reject_next(contract.BAD_TOKEN, path_contains=contract.CREDITS)
    expect(AuthError, client.credits)  # 1001 on a valid token: the renewal is refused with a 429 (one token per client id)
    fake.set_credits(client.token().value, 0)
    expect(NoCredits, lambda: client.start_render(contract.render_id(9), sid, DRAFT, OUTPUT))
    expect(UploadRefused, lambda: client.upload_url(sid, "https://media.example.invalid/clip.mp4"))
    fake.rate_limit_next(2)
    expect(RateLimited, client.credits)
    fake.quirks.fail_rate = 1.0
    expect(ServiceUnavailable, client.credits)
    fake.quirks.fail_rate = 0.0
    fake.forget_sessions()
    expect(SessionLost, lambda: client.state(sid))
    CredentialStore().drop(fake.url, ("anonymous",))
    expect(AuthError, lambda: clients().credits())  # the anonymous-token endpoint's own 429

    fake.add_user_token(USER_TOKEN)
    secrets.add(USER_TOKEN)
    monkeypatch.setenv("NEMO_TOKEN", USER_TOKEN)
    user = clients(transport=wire)
    user_sid = user.create_session()
    fake.quirks.block_exports = True
    expect(PlanBlocked, lambda: user.start_render(contract.render_id(10), user_sid, DRAFT, OUTPUT))
    fake.expire_token(USER_TOKEN)
    expect(AuthError, user.credits)

    assert len(secrets) >= 5 and all(len(s) >= 6 for s in secrets)
    out, err = capsys.readouterr()
    logged = str(settled(fake))
    for secret in secrets:
        for where, text in (("an error message", "\n".join(messages)), ("the fake's log", logged), ("stdout", out), ("stderr", err),
                            ("python logging", caplog.text)):
            assert secret not in text, f"a secret is in {where}"
    # On the wire, secrets travel in headers only: the token as the bearer, the client id as X-Client-Id.
    for _, request_path, headers in wire.sent:
        for secret in secrets:
            assert secret not in request_path
            assert {name for name, value in headers.items() if secret in value} <= {"authorization", contract.HEADER_CLIENT_ID.lower()}
    assert not [r for r in settled(fake) if r.query], "no query strings at all"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(path.parent.glob(".credentials.*")), "no temporary copy left behind"
