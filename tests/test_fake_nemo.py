"""The fake NemoVideo service keeps the contract (../shared/nemo-api.md): raw HTTP against a running fake."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import av
import httpx
import httpx_sse
import pytest

from nemoflow.engines.nemo import contract
from nemoflow.testing.fake_agent import NOTHING
from nemoflow.testing.fake_files import CHUNK, Multipart
from nemoflow.testing.fake_nemo import UNKNOWN_RENDER, FakeNemo, Quirks
from tests.mediagen import make_audio, make_image, make_video

TOKEN = "user-token-5f0c2d9e-do-not-log"
ATTRIBUTION = {contract.HEADER_SOURCE: contract.SKILL_SOURCE, contract.HEADER_VERSION: "0.0-test",
               contract.HEADER_PLATFORM: contract.PLATFORM_CI}
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    return {"clip": make_video(root / "clip.mp4", size=(320, 180), fps=30, duration=2.0),
            "tone": make_audio(root / "tone.wav", duration=3.0),
            "still": make_image(root / "still.png", size=(64, 48))}


@pytest.fixture
def fake(tmp_path):
    with FakeNemo(tmp_path / "fake", Quirks(silent_rate=0.0, event_delay=0.0)) as server:
        server.add_user_token(TOKEN)
        yield server
    assert not server.errors, server.errors[0]


@pytest.fixture
def client(fake):
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {TOKEN}", **ATTRIBUTION}, timeout=TIMEOUT) as c:
        yield c


def ok(resp: httpx.Response) -> dict:
    body = resp.json()
    assert (resp.status_code, body["code"]) == (200, contract.OK), body
    return body["data"]


def code(resp: httpx.Response) -> int:
    return resp.json()["code"]


def balance(client) -> tuple[int, int, int]:
    data = ok(client.get(contract.CREDITS))
    return data["available"], data["frozen"], data["total"]


def new_session(client) -> str:
    data = ok(client.post(contract.CREATE_SESSION, json={"task_name": "project", "language": "en"}))
    assert data["session_id"].startswith("sess_") and data[contract.BIND_FIELD].startswith("bind_")
    return data["session_id"]


def upload(client, sid: str, path: Path) -> dict:
    with path.open("rb") as fh:
        return ok(client.post(contract.UPLOAD.format(sid=sid), files={contract.UPLOAD_FIELD_FILE: (path.name, fh)}))


def state(client, sid: str) -> dict:
    return ok(client.get(contract.STATE.format(sid=sid)))["state"]


def clip_draft(clip: dict, tone: dict, *, d: int = 2000, in_ms: int = 0) -> dict:
    """A valid draft over uploaded media, with a field the service does not know (`client_note`)."""
    return {"v": 1, "d": d, "client_note": {"keep": [1, 2]},
            "m": {"name": "edit.cut", "canvas": {"w": 320, "h": 180, "fps": 30},
                  "media": {"clip": {"kind": "video", "url": clip["url"], "d": clip["duration"], "w": 320, "h": 180, "fps": 30.0,
                                     "audio": True, "pix_fmt": "yuv420p"},
                            "tone": {"kind": "audio", "url": tone["url"], "d": tone["duration"], "audio": True}}},
            "t": [{"tt": 0, "m": {"name": "Video"}, "sg": [{"st": 0, "d": d, "m": {"src": "clip", "in": in_ms}}]},
                  {"tt": 1, "m": {"name": "Audio"}, "sg": [{"st": 0, "d": d, "m": {"src": "tone", "volume": 35}}]}]}


def sse(client, sid: str, text: str) -> tuple[list[str], list[dict]]:
    """Raw lines of a stream that ends normally, and its decoded events."""
    with client.stream("POST", contract.RUN_SSE, json=contract.message_body(sid, text), headers={"Accept": "text/event-stream"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["transfer-encoding"] == "chunked" and "content-length" not in r.headers
        lines = list(r.iter_lines())
    events = [json.loads(line[5:]) for line in lines if line.startswith("data:") and line[5:].strip()]
    return lines, events


def final_texts(events: list[dict]) -> list[str]:
    return [p["text"] for e in events if not e["partial"] for p in e["content"]["parts"] if "text" in p]


def clip_and_music(clip: dict, tone: dict) -> list[str]:
    """The plain instructions that put 0-2 s of the clip on the video track and the tone under it at 35%."""
    return [f"Add the clip “clip.mp4” (upload {clip['id']}) at the end of the video track: 0 s to 2 s of the source.",
            f"Set the background music to “tone.wav” (upload {tone['id']}) at 35%."]


@pytest.fixture
def timeline(client, media):
    """A session holding the clip and the tone, put there by plain instructions; and a render draft over them."""
    sid = new_session(client)
    clip, tone = upload(client, sid, media["clip"]), upload(client, sid, media["tone"])
    for text in clip_and_music(clip, tone):
        _, events = sse(client, sid, text)
        assert final_texts(events)[0].startswith(("Added the clip clip.mp4", "Set the music to tone.wav")), final_texts(events)
    return sid, clip_draft(clip, tone), clip, tone


# ---- envelope, auth, sessions ---------------------------------------------------------------

def test_envelope_has_unknown_fields_and_content_length(client):
    resp = client.get(contract.CREDITS)
    body = resp.json()
    assert int(resp.headers["content-length"]) == len(resp.content)
    assert {"code", "message", "data", "request_id", "server_time"} <= body.keys() and body["code"] == contract.OK
    assert {k: body["data"][k] for k in ("available", "frozen", "total")} == {"available": 1000, "frozen": 0, "total": 1000}
    assert set(body["data"]) - {"available", "frozen", "total"}, "data must carry a field clients do not know"


def test_anonymous_tokens(fake):
    url = fake.url + contract.ANONYMOUS_TOKEN
    missing = httpx.post(url)
    assert (missing.status_code, code(missing)) == (contract.HTTP_MISSING_CLIENT_ID, contract.HTTP_MISSING_CLIENT_ID)
    not_uuid = httpx.post(url, headers={contract.HEADER_CLIENT_ID: "not-a-uuid"})
    assert not_uuid.status_code == contract.HTTP_MISSING_CLIENT_ID
    client_id = str(uuid.uuid4())
    data = ok(httpx.post(url, headers={contract.HEADER_CLIENT_ID: client_id}))
    assert (data["credits"], data["expires_in"]) == (contract.ANONYMOUS_CREDITS, contract.ANONYMOUS_TOKEN_DAYS * 86400)
    token = data["token"]
    credits = ok(httpx.get(fake.url + contract.CREDITS, headers={"Authorization": f"Bearer {token}"}))
    assert (credits["available"], credits["plan"]) == (contract.ANONYMOUS_CREDITS, "free")
    again = httpx.post(url, headers={contract.HEADER_CLIENT_ID: client_id})
    assert (again.status_code, code(again)) == (contract.HTTP_RATE_LIMITED, contract.HTTP_RATE_LIMITED)
    fake.expire_token(token)
    refused = [httpx.get(fake.url + contract.CREDITS, headers={"Authorization": f"Bearer {token}"}) for _ in range(2)]
    assert [code(r) for r in refused] == [contract.BAD_TOKEN] * 2
    assert sorted(r.status_code for r in refused) == [200, 401], "error statuses alternate: clients must read `code`"
    assert ok(httpx.post(url, headers={contract.HEADER_CLIENT_ID: client_id}))["token"] != token


def test_expired_and_missing_tokens_answer_1001(fake, client):
    assert code(httpx.get(fake.url + contract.CREDITS)) == contract.BAD_TOKEN
    fake.expire_all_tokens()
    assert code(client.get(contract.CREDITS)) == contract.BAD_TOKEN


def test_forgotten_sessions_answer_1002(fake, client, media):
    sid = new_session(client)
    assert state(client, sid)["draft"] == {"v": 1, "d": 0, "m": {}, "t": [], "rev": 0,
                                           "x_internal": {"session": sid, "rev": 0, "editor": "fake-nemo 1.0"}}
    fake.forget_sessions()
    assert code(client.get(contract.STATE.format(sid=sid))) == contract.NO_SESSION
    with media["still"].open("rb") as fh:
        resp = client.post(contract.UPLOAD.format(sid=sid), files={"file": ("still.png", fh)})
    assert code(resp) == contract.NO_SESSION
    streamed = client.post(contract.RUN_SSE, json=contract.message_body(sid, "grade"), headers={"Accept": "text/event-stream"})
    assert code(streamed) == contract.NO_SESSION and streamed.headers["content-type"].startswith("application/json")


# ---- uploads and downloads ---------------------------------------------------------------------

def test_upload_by_file_and_by_url(client, media):
    sid = new_session(client)
    clip = upload(client, sid, media["clip"])
    assert set(contract.UPLOAD_FIELDS) <= clip.keys()
    assert (clip["name"], clip["width"], clip["height"]) == ("clip.mp4", 320, 180)
    assert abs(clip["duration"] - 2000) <= 50
    assert httpx.get(clip["url"]).content == media["clip"].read_bytes()
    tone = upload(client, sid, media["tone"])
    assert (tone["width"], tone["height"]) == (None, None) and abs(tone["duration"] - 3000) <= 50
    still = upload(client, sid, media["still"])
    assert (still["duration"], still["width"], still["height"]) == (None, 64, 48)
    by_form = ok(client.post(contract.UPLOAD.format(sid=sid), data={contract.UPLOAD_FIELD_URL: clip["url"]}))
    by_multipart = ok(client.post(contract.UPLOAD.format(sid=sid), files={contract.UPLOAD_FIELD_URL: (None, clip["url"])}))
    facts = ("name", "duration", "width", "height")
    for again in (by_form, by_multipart):
        assert again["id"] != clip["id"] and [again[k] for k in facts] == [clip[k] for k in facts]
        assert httpx.get(again["url"]).content == media["clip"].read_bytes()
    assert [v["id"] for v in state(client, sid)["video_infos"]] == [clip["id"], tone["id"], still["id"], by_form["id"], by_multipart["id"]]


def test_upload_refusals(fake, client, media, tmp_path):
    sid = new_session(client)
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with path.open("rb") as fh:
        resp = client.post(contract.UPLOAD.format(sid=sid), files={"file": ("notes.txt", fh)})
    assert code(resp) == contract.UNSUPPORTED_FILE
    foreign = client.post(contract.UPLOAD.format(sid=sid), data={"url": "https://example.com/a.mp4"})
    assert code(foreign) == contract.UNSUPPORTED_FILE and "cannot fetch" in foreign.json()["message"]
    fake.quirks.max_upload_bytes = 10_000
    small_over = tmp_path / "small.mp4"
    small_over.write_bytes(os.urandom(20_000))  # read, then measured
    huge = tmp_path / "huge.mp4"
    huge.write_bytes(os.urandom(300_000))  # refused from Content-Length alone
    for p in (small_over, huge):
        with p.open("rb") as fh:
            resp = client.post(contract.UPLOAD.format(sid=sid), files={"file": (p.name, fh)})
        assert code(resp) == contract.FILE_TOO_LARGE, p
    assert state(client, sid)["video_infos"] == []
    assert ok(client.get(contract.CREDITS))["available"] == 1000, "the connection after a refusal still works"


def test_multipart_parts_are_found_across_block_edges(tmp_path):
    payload = os.urandom(CHUNK - 180) + b"\r\n--notTheBoundary\r\n" + os.urandom(99)
    for shift in (-40, -17, 0, 23):
        data = payload[:len(payload) + shift]
        body = (b'--B0und\r\nContent-Disposition: form-data; name="url"\r\n\r\nhttp://x/y\r\n'
                b'--B0und\r\nContent-Disposition: form-data; name="file"; filename="a b.mp4"\r\n\r\n' + data + b"\r\n--B0und--\r\n")
        (tmp_path / "body").write_bytes(body)
        with Multipart(tmp_path / "body", "multipart/form-data; boundary=B0und") as form:
            assert form.text(form.field("url")) == "http://x/y"
            part = form.field("file")
            assert (part.filename, part.size) == ("a b.mp4", len(data))
            form.copy(part, tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == data


def test_range_download_and_drop_once(fake, client, media):
    sid = new_session(client)
    clip = upload(client, sid, media["clip"])
    data = media["clip"].read_bytes()
    part = httpx.get(clip["url"], headers={"Range": "bytes=100-"})
    assert part.status_code == 206 and part.content == data[100:]
    assert part.headers["content-range"] == f"bytes 100-{len(data) - 1}/{len(data)}" and part.headers["accept-ranges"] == "bytes"
    assert httpx.get(clip["url"], headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    fake.quirks.download_drop_after = 1000
    got = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", clip["url"]) as resp:
        assert int(resp.headers["content-length"]) == len(data)
        for piece in resp.iter_raw():
            got += piece
    assert len(got) == 1000 and fake.quirks.download_drop_after is None
    rest = httpx.get(clip["url"], headers={"Range": f"bytes={len(got)}-"})
    assert rest.status_code == 206 and bytes(got) + rest.content == data
    assert httpx.get(clip["url"]).content == data, "the drop happens once"


# ---- messages over SSE -------------------------------------------------------------------------

@pytest.mark.parametrize("naming", ["url", "id", "table"])
@pytest.mark.parametrize("extras", ["top", "everywhere"])
def test_state_drafts_take_the_shape_of_the_variant(fake, client, media, naming, extras):
    """The same instructions, shown in each reading of how a service draft names media and which fields it adds."""
    fake.quirks.media_naming, fake.quirks.extra_fields = naming, extras
    sid = new_session(client)
    clip, tone = upload(client, sid, media["clip"]), upload(client, sid, media["tone"])
    for text in clip_and_music(clip, tone):
        sse(client, sid, text)
    draft = state(client, sid)["draft"]
    video, audio = draft["t"][0]["sg"][0], draft["t"][1]["sg"][0]
    assert (draft["d"], video["d"], audio["d"]) == (2000, 2000, 2000) and draft["x_internal"]["session"] == sid
    if naming == "url":
        assert (video["m"]["src"], audio["m"]["src"], audio["m"]["volume"], video["st"]) == (clip["url"], tone["url"], 35.0, 0)
    elif naming == "id":
        assert (video["m"]["material_id"], audio["m"]["material_id"], audio["m"]["vol"]) == (clip["id"], tone["id"], 0.35)
        assert video["start"] == 0 and "st" not in video and "src" not in video["m"]
    else:
        table = draft["m"]["media"]
        assert table[video["m"]["src"]] == {"id": clip["id"], "url": clip["url"], "name": "clip.mp4", "type": "video"}
        assert table[audio["m"]["src"]]["id"] == tone["id"]
    extra = {"uid", "x_ai", "x_editor", "locked"} & set(json.dumps(draft).replace('"', " ").split())
    assert bool(extra) == (extras == "everywhere")


def test_uploads_can_land_on_the_timeline(fake, client, media):
    fake.quirks.upload_on_timeline = True
    sid = new_session(client)
    clip, tone, still = (upload(client, sid, media[k]) for k in ("clip", "tone", "still"))
    draft = state(client, sid)["draft"]
    assert [(t["tt"], [s["d"] for s in t["sg"]]) for t in draft["t"]] == [(0, [clip["duration"], 3000]), (1, [tone["duration"]])]
    assert [s["m"]["src"] for t in draft["t"] for s in t["sg"]] == [clip["url"], still["url"], tone["url"]]
    _, events = sse(client, sid, "Clear the timeline: remove every clip, text and sound from it.")
    assert state(client, sid)["draft"]["t"] == [] and final_texts(events)[0].startswith("Cleared the timeline")


def test_stream_shape_and_heartbeats(fake, client, timeline):
    sid, *_ = timeline
    fake.quirks.stall_seconds, fake.quirks.heartbeat_every = 0.3, 0.05
    lines, events = sse(client, sid, "color grade please")
    assert ": ping" in lines and "data: " in lines, "both heartbeat forms"
    assert sum(line in (": ping", "data: ") for line in lines) >= 6, "heartbeats while stalling"
    kinds = [next(iter(e["content"]["parts"][0])) for e in events]
    assert kinds[:2] == ["functionCall", "functionResponse"] and set(kinds[2:]) == {"text"}
    assert all(e["author"] == contract.APP_NAME and e["content"]["role"] == "model" and "invocation_id" in e for e in events)
    partial = "".join(e["content"]["parts"][0]["text"] for e in events[2:] if e["partial"])
    assert partial == final_texts(events)[0] and events[-1]["partial"] is False
    assert final_texts(events)[0].startswith("Applied a film color grade to 1 clip(s).")


def test_an_instruction_about_media_the_session_lacks_changes_nothing(client, timeline):
    sid, *_ = timeline
    before = state(client, sid)["draft"]
    _, events = sse(client, sid, "Add the clip “other.mp4” (upload upl_nowhere) at the end of the video track: 0 s to 1 s of the source.")
    assert "not among this session's uploads" in final_texts(events)[0]
    assert state(client, sid)["draft"] == before


def test_silent_and_dropped_streams_still_apply_the_edit(fake, client, timeline):
    sid, *_ = timeline
    fake.quirks.silent_rate = 1.0
    lines, events = sse(client, sid, "调色")
    assert final_texts(events) == [] and len(events) == 2 and ": ping" in lines
    assert [e["type"] for e in state(client, sid)["draft"]["t"][0]["sg"][0]["m"]["fx"]] == ["grade"]
    fake.quirks.silent_rate, fake.quirks.drop_rate = 0.0, 1.0
    seen = []
    with pytest.raises(httpx.RemoteProtocolError), httpx_sse.connect_sse(
            client, "POST", contract.RUN_SSE, json=contract.message_body(sid, 'title "Cut Off"')) as source:
        for event in source.iter_sse():
            seen.append(event.data)
    assert seen, "the stream was cut after some events, not before"
    text = state(client, sid)["draft"]["t"][2]
    assert (text["tt"], text["sg"][0]["m"]["text"]) == (7, "Cut Off")


def test_interpreter(client, timeline):
    sid, *_ = timeline
    _, events = sse(client, sid, 'Please color grade it and add the title "Urban Dreams"')
    reply = final_texts(events)[0]
    assert "film color grade" in reply and 'title "Urban Dreams"' in reply
    assert reply.endswith(("Done! Click Export to render your video.", "Open the timeline preview to check it."))
    draft = state(client, sid)["draft"]
    assert draft["t"][0]["sg"][0]["m"]["fx"] == [{"type": "grade", "preset": "film", "amount": 60}]
    title = draft["t"][2]
    assert (title["tt"], title["m"]["name"]) == (7, "Title")
    seg = title["sg"][0]
    assert (seg["st"], seg["d"], seg["m"]) == (0, 3000, {"text": "Urban Dreams", "style": {"role": "title"}})
    _, events = sse(client, sid, "trim to 1.5 seconds and mute")
    draft = state(client, sid)["draft"]
    assert [tr["tt"] for tr in draft["t"]] == [0, 7] and draft["d"] == 1500
    assert [(s["st"], s["d"]) for tr in draft["t"] for s in tr["sg"]] == [(0, 1500), (0, 1500)], "the title is cut at the new end"
    rev = draft["rev"]
    _, events = sse(client, sid, "make it sparkle")
    assert final_texts(events) == [NOTHING] and state(client, sid)["draft"]["rev"] == rev


# ---- renders ---------------------------------------------------------------------------------------

def render_body(rid: str, sid: str, draft: dict, fmt: str = "mp4") -> dict:
    return {"id": rid, "sessionId": sid, "draft": draft, "output": {"format": fmt, "quality": contract.OUTPUT_QUALITY}}


def wait_render(client, rid: str) -> list[dict]:
    seen = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        seen.append(ok(client.get(contract.RENDER_STATUS.format(id=rid))))
        if seen[-1]["status"] in ("completed", "failed"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"render {rid} did not finish: {seen[-1]}")


def test_render_lifecycle_produces_the_draft(fake, client, timeline):
    sid, _, clip, tone = timeline
    fake.quirks.render_seconds = 1.0
    draft = clip_draft(clip, tone, d=1500, in_ms=250)
    rid = contract.render_id(1_700_000_000_000)
    data = ok(client.post(contract.RENDER, json=render_body(rid, sid, draft)))
    assert (data["id"], data["status"]) == (rid, "queued")
    assert balance(client) == (990, 10, 1000)
    seen = wait_render(client, rid)
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and all(0 <= p <= 1 for p in progress)
    assert {s["status"] for s in seen} <= set(contract.RENDER_STATUSES) and "rendering" in {s["status"] for s in seen}
    done = seen[-1]
    assert (done["status"], done["progress"]) == ("completed", 1.0) and done["elapsed"] >= 1.0
    job = fake.renders[rid]
    assert job.finished - job.created >= 1.0
    assert balance(client) == (990, 0, 990)
    assert done["url"] == f"{fake.url}/files/{rid}/{rid}.mp4"
    out = fake.root / "download.mp4"
    out.write_bytes(httpx.get(done["url"]).content)
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", 320, 180)
        assert container.streams.audio, "the draft's audio is rendered"
        assert abs(container.duration / 1e6 - 1.5) < 0.1


def test_render_refusals(fake, client, timeline):
    sid, draft, *_ = timeline
    rid = contract.render_id(1)
    bare = httpx.post(fake.url + contract.RENDER, json=render_body(rid, sid, draft), headers={"Authorization": f"Bearer {TOKEN}"})
    assert (bare.status_code, code(bare)) == (contract.HTTP_PLAN_BLOCKED, contract.HTTP_PLAN_BLOCKED)
    fake.quirks.block_exports = True
    blocked = client.post(contract.RENDER, json=render_body(rid, sid, draft))
    assert (blocked.status_code, code(blocked)) == (contract.HTTP_PLAN_BLOCKED, contract.HTTP_PLAN_BLOCKED)
    fake.quirks.block_exports = False
    bad = copy.deepcopy(draft)
    bad["t"][0]["sg"][0]["d"] = -5
    invalid = client.post(contract.RENDER, json=render_body(rid, sid, bad))
    assert code(invalid) == 4000 and "t/0/sg/0/d" in invalid.json()["message"]
    assert code(client.post(contract.RENDER, json=render_body(rid, sid, draft, fmt="mov"))) == 4000
    nowhere = copy.deepcopy(draft)
    nowhere["m"]["media"]["clip"]["url"] = "https://elsewhere.example/clip.mp4"
    refused = client.post(contract.RENDER, json=render_body(rid, sid, nowhere))
    assert code(refused) == 4000 and "names no media this service has" in refused.json()["message"]
    assert code(client.post(contract.RENDER, json={**render_body(rid, sid, draft), "output": {"format": "mp4", "quality": "low"}})) \
        == 4000, "the contract shows quality `high` only"
    fake.set_credits(TOKEN, 9)
    broke = client.post(contract.RENDER, json=render_body(rid, sid, draft))
    assert code(broke) == contract.NO_CREDITS and contract.BIND_FIELD not in broke.json()["data"], "registered: no bind id"
    unknown = client.get(contract.RENDER_STATUS.format(id="render_404"))
    assert (unknown.status_code, code(unknown)) == (404, 404)
    fake.quirks.unknown_render = "code"
    unknown = client.get(contract.RENDER_STATUS.format(id="render_404"))
    assert (unknown.status_code, code(unknown)) == (200, UNKNOWN_RENDER)
    assert fake.jobs_created() == 0 and not fake.renders


def test_anonymous_accounts_get_a_bind_id_on_2001(fake, timeline):
    _, draft, *_ = timeline
    token = ok(httpx.post(fake.url + contract.ANONYMOUS_TOKEN, headers={contract.HEADER_CLIENT_ID: str(uuid.uuid4())}))["token"]
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {token}", **ATTRIBUTION}) as anon:
        created = ok(anon.post(contract.CREATE_SESSION, json={"task_name": "project", "language": "en"}))
        fake.set_credits(token, 3)
        resp = anon.post(contract.RENDER, json=render_body(contract.render_id(2), created["session_id"], draft))
    assert code(resp) == contract.NO_CREDITS and resp.json()["data"][contract.BIND_FIELD] == created[contract.BIND_FIELD]


def test_reposting_a_render_id_creates_no_second_job(fake, client, timeline):
    sid, draft, *_ = timeline
    fake.quirks.fail_after_rate = 1.0
    rid = contract.render_id(3)
    failed = client.post(contract.RENDER, json=render_body(rid, sid, draft))
    assert failed.status_code == 500 and failed.headers["content-type"].startswith("text/html")
    assert fake.jobs_created() == 1, "the job exists although the answer was a 500"
    assert ok(client.get(contract.RENDER_STATUS.format(id=rid)))["id"] == rid
    again = ok(client.post(contract.RENDER, json=render_body(rid, sid, draft)))
    assert again["id"] == rid and (fake.jobs_created(), fake.render_posts()[rid]) == (1, 2)
    assert wait_render(client, rid)[-1]["status"] == "completed"
    assert ok(client.get(contract.CREDITS))["total"] == 990, "charged once"


def test_failed_renders_release_credits(fake, client, timeline):
    sid, draft, *_ = timeline
    fake.quirks.fail_renders = True
    rid = contract.render_id(4)
    ok(client.post(contract.RENDER, json=render_body(rid, sid, draft)))
    done = wait_render(client, rid)[-1]
    assert done["status"] == "failed" and "render failed" in done["error"] and "url" not in done
    assert balance(client) == (1000, 0, 1000)


# ---- injected failures and the log -----------------------------------------------------------------------

def test_injected_failures(fake, client, timeline):
    sid, *_ = timeline
    fake.rate_limit_next(1)
    limited = client.get(contract.CREDITS)
    assert (limited.status_code, code(limited), limited.headers["retry-after"]) == (429, 429, "30")
    fake.reject_next(contract.NO_SESSION, status=410, path_contains="/state/")
    assert ok(client.get(contract.CREDITS))["available"] == 1000
    rejected = client.get(contract.STATE.format(sid=sid))
    assert (rejected.status_code, code(rejected)) == (410, contract.NO_SESSION)
    assert state(client, sid)["draft"]["rev"] == 2
    fake.quirks.fail_rate = 1.0
    for resp in (client.get(contract.CREDITS), client.post(contract.RUN_SSE, json=contract.message_body(sid, "grade"))):
        assert resp.status_code == 500 and resp.headers["content-type"].startswith("text/html")
        with pytest.raises(json.JSONDecodeError):
            resp.json()
    assert httpx.get(fake.url + "/files/nothing/here.mp4").status_code == 404, "/files/ is not subject to injected failures"
    deadline = time.monotonic() + 10  # the server's thread logs a request after replying: under load, a moment later
    while (not fake.log or fake.log[-1].path != "/files/nothing/here.mp4") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(e.path, e.status, e.code) for e in fake.log[-3:]] == [
        (contract.CREDITS, 500, None), (contract.RUN_SSE, 500, None), ("/files/nothing/here.mp4", 404, 404)]


def test_quirks_are_deterministic_for_a_seed(tmp_path):
    def statuses(seed: int) -> list[int]:
        with FakeNemo(tmp_path / str(seed), Quirks(seed=seed, fail_rate=0.5)) as server:
            server.add_user_token(TOKEN)
            return [httpx.get(server.url + contract.CREDITS, headers={"Authorization": f"Bearer {TOKEN}"}).status_code
                    for _ in range(16)]

    first = statuses(7)
    assert set(first) == {200, 500} and statuses(7) == first and statuses(8) != first


def test_log_holds_no_secret(fake, client, timeline):
    client_id = str(uuid.uuid4())
    anon = ok(httpx.post(fake.url + contract.ANONYMOUS_TOKEN, headers={contract.HEADER_CLIENT_ID: client_id}))["token"]
    httpx.get(fake.url + contract.CREDITS, headers={"Authorization": f"Bearer {anon}"})
    logged = str(fake.log)
    assert fake.log and TOKEN not in logged and anon not in logged and client_id not in logged
    assert all(entry.headers.get("authorization") for entry in fake.log if entry.path == contract.CREDITS)
    assert all(e.attribution for e in fake.log if e.path == contract.CREATE_SESSION)
    assert TOKEN not in str(fake.sessions) + str(fake.renders) + str(fake.uploads)


def test_command_line_serves_until_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "nemoflow.testing.fake_nemo", "--root", str(tmp_path), "--user-token", TOKEN],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert ok(httpx.get(url + contract.CREDITS, headers={"Authorization": f"Bearer {TOKEN}"}))["available"] == 1000
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
