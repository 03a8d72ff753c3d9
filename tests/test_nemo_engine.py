"""The nemo engine end to end: recipes run against the fake NemoVideo service on 127.0.0.1, over real HTTP.

The fake renders with the local engine, so outputs are real MP4s: they are
probed, and compared with what the local engine makes of the same recipe.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from mediagen import make_image, make_video
from nemokit import fake, fast_cloud, ledger, quiet, requests  # noqa: F401  (fixture)
from runnerkit import events, finished, nf
from test_nemo_variants import small_examples

from nemoflow.engines.nemo import contract
from nemoflow.testing.fake_nemo import FakeNemo, Quirks

RECIPE = """nemo 1

param headline = "Hello"

media clip = "clip.mp4"
media tone = tone 220hz duration 10s volume 50%

edit cut {
  video clip from 0s to 2s
  title $headline from 0s to 1s
  music tone volume 35%
}

ask polish = cut "color grade it"

export final = polish {
  size 320x180
  quality draft
  save "out/final.mp4"
}

expect final {
  duration ~= 2s
  size == 320x180
  has audio
}
"""


def project(root: Path, recipe: str = RECIPE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    make_video(root / "clip.mp4", size=(320, 180), duration=3.0)
    path = root / "r.nemo"
    path.write_text(recipe, encoding="utf-8")
    return path


def run(recipe: Path, *args: str):
    return nf("run", recipe, "--engine", "nemo", "--json", *args)


def messages(result, kind: str | None = None) -> list[dict]:
    return [e for e in events(result) if e["event"] == "step-message" and (kind is None or e["kind"] == kind)]


def facts(path: Path) -> dict:
    """Duration, size and tracks, as the comparison between engines needs them."""
    with av.open(str(path)) as box:
        video = box.streams.video[0]
        return {"duration": float(box.duration / av.time_base), "size": (video.width, video.height), "codec": video.codec_context.name,
                "tracks": sorted(s.type for s in box.streams)}


# -- a whole recipe ------------------------------------------------------------------------
def test_a_recipe_runs_in_the_cloud_and_a_rerun_sends_nothing(tmp_path, fake):  # noqa: F811
    recipe = project(tmp_path / "p")
    first = run(recipe)
    assert first.exit_code == 0, first.output
    assert finished(first) == {"media.clip": "ok", "media.tone": "ok", "edit.cut": "ok", "ask.polish": "ok",
                               "export.final": "ok", "expect.final": "ok"}
    got = facts(recipe.parent / "out" / "final.mp4")
    assert got["size"] == (320, 180) and abs(got["duration"] - 2.0) < 0.1 and got["tracks"] == ["audio", "video"]
    # what the service did is reported: the agent's words, the change it made, the GUI phrasing turned into actions
    notes = [m["text"] for m in messages(first, "note")]
    assert any("added grade film" in n for n in notes), notes
    assert messages(first, "text"), "the agent's text parts are shown"
    # the draft the service rendered carries the ask's grade
    job = next(iter(fake.renders.values()))
    assert job.draft["t"][0]["sg"][0]["m"]["fx"] == [{"type": "grade", "preset": "film", "amount": 60}]
    uploads, renders, messages_sent = len(requests(fake, "POST", "upload")), fake.jobs_created(), len(requests(fake, "POST", "run_sse"))
    assert (uploads, renders) == (2, 1)

    again = run(recipe)
    assert again.exit_code == 0 and set(finished(again).values()) == {"cached"}
    assert (len(requests(fake, "POST", "upload")), fake.jobs_created(), len(requests(fake, "POST", "run_sse"))) == \
        (uploads, renders, messages_sent)

    # a new title: the edit is sent again and re-rendered, but nothing is uploaded twice to the session
    third = run(recipe, "--set", "headline=Bye")
    assert third.exit_code == 0, third.output
    assert finished(third)["media.clip"] == "cached" and finished(third)["export.final"] == "ok"
    assert len(requests(fake, "POST", "upload")) == uploads
    assert fake.jobs_created() == 2
    assert len(ledger(recipe)["sessions"]) == 1


def test_recipe_engine_statement_chooses_the_cloud(tmp_path, fake):  # noqa: F811
    recipe = project(tmp_path / "p", RECIPE.replace("nemo 1\n", "nemo 1\nengine nemo\n"))
    result = nf("run", recipe, "--json")
    assert result.exit_code == 0, result.output
    assert next(e for e in events(result) if e["event"] == "run-started")["engine"] == "nemo"
    assert fake.jobs_created() == 1
    # and --engine overrides it: the local engine plans the same recipe, and stops at words only the cloud's agent takes
    assert nf("plan", recipe, "--engine", "local").exit_code == 0
    recipe.write_text(recipe.read_text().replace('"color grade it"', '"make it sparkle like a unicorn"'), encoding="utf-8")
    assert nf("plan", recipe).exit_code == 0
    local = nf("plan", recipe, "--engine", "local")
    assert local.exit_code == 1 and "does not understand “make it sparkle like a unicorn”" in local.output


# -- the examples, on both engines ----------------------------------------------------------
EXAMPLE_RUNS = [  # generated footage at 320x180 (tests/test_nemo_variants.py): the recipes' steps are their own
    ("urban_dreams.nemo", ("--set", "size=640x360"), ["out/urban_dreams.mp4"]),
    ("travel_reel.nemo", ("export.web",), ["out/travel_reel.mp4"]),
    ("batch_social.nemo", ("--set", 'looks=["bars"]'), ["out/batch/bars-wide.mp4", "out/batch/bars-vertical.webm",
                                                         "out/batch/compilation.mp4"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "args", "outputs"), EXAMPLE_RUNS, ids=[e[0] for e in EXAMPLE_RUNS])
def test_examples_agree_on_both_engines(tmp_path, fake, name, args, outputs):  # noqa: F811
    made = {}
    for engine in ("local", "nemo"):
        where = small_examples(tmp_path / engine)
        result = nf("run", where / name, "--engine", engine, *args)
        assert result.exit_code == 0, f"{engine}: {result.output}"
        made[engine] = {out: facts(where / out) for out in outputs}
    for out in outputs:
        local, cloud = made["local"][out], made["nemo"][out]
        assert local["size"] == cloud["size"] and local["tracks"] == cloud["tracks"] and local["codec"] == cloud["codec"], (out, made)
        assert abs(local["duration"] - cloud["duration"]) <= 0.1, (out, made)


# -- streams, sessions, renders ---------------------------------------------------------------
def test_silent_closes_and_dropped_streams_are_resolved_by_reading_the_state(tmp_path, fake):  # noqa: F811
    fake.quirks.silent_rate = 1.0
    recipe = project(tmp_path / "silent")
    result = run(recipe)
    assert result.exit_code == 0, result.output
    assert not messages(result, "text"), "every stream closed without text"
    assert any("added grade film" in m["text"] for m in messages(result, "note")), "the change was read from the state"

    fake.quirks.silent_rate, fake.quirks.drop_rate = 0.0, 1.0
    recipe = project(tmp_path / "dropped")
    result = run(recipe)
    assert result.exit_code == 0, result.output
    assert finished(result)["ask.polish"] == "ok"


def test_an_ask_that_changes_nothing_fails_clearly(tmp_path, fake):  # noqa: F811
    fake.quirks.silent_rate = 1.0  # the worst case: no text either
    recipe = project(tmp_path / "p", RECIPE.replace('"color grade it"', '"make it sparkle like a unicorn"'))
    result = run(recipe)
    assert result.exit_code == 1
    error = next(e for e in events(result) if e["event"] == "step-finished" and e["step"] == "ask.polish")["error"]
    assert "changed nothing" in error and "make it sparkle like a unicorn" in error and "r.nemo:" in error
    assert fake.jobs_created() == 0


def test_a_lost_session_is_replaced_and_media_reuploaded_by_url(tmp_path, fake):  # noqa: F811
    recipe = project(tmp_path / "p")
    assert run(recipe).exit_code == 0
    first_session = ledger(recipe)["sessions"]["edit.cut"]
    fake.forget_sessions()
    result = run(recipe, "--set", "headline=Again")
    assert result.exit_code == 0, result.output
    second_session = ledger(recipe)["sessions"]["edit.cut"]
    assert second_session != first_session
    assert any("1002" in m["text"] for m in messages(result, "note"))
    moved = [u for u in fake.uploads.values() if u.session_id == second_session]
    originals = [u for u in fake.uploads.values() if u.session_id == first_session]
    assert len(moved) == 2
    assert all(any(os.path.samefile(m.path, o.path) for o in originals) for m in moved), "re-uploaded by URL, not sent again"


def test_download_resumes_with_range(tmp_path, fake):  # noqa: F811
    fake.quirks.download_drop_after = 4000
    recipe = project(tmp_path / "p")
    result = run(recipe)
    assert result.exit_code == 0, result.output
    gets = [r for r in quiet(fake) if r.method == "GET" and r.path.startswith("/files/render_")]
    assert len(gets) == 2 and "range" in gets[1].headers
    assert facts(recipe.parent / "out" / "final.mp4")["size"] == (320, 180)


def test_a_failed_cloud_render_is_a_clear_failure_and_nothing_is_written(tmp_path, fake):  # noqa: F811
    fake.quirks.fail_renders = True
    recipe = project(tmp_path / "p")
    result = run(recipe)
    assert result.exit_code == 1
    error = next(e for e in events(result) if e["event"] == "step-finished" and e["step"] == "export.final")["error"]
    assert "cloud render" in error and "failed" in error and "--engine local" in error
    assert not (recipe.parent / "out" / "final.mp4").exists()
    assert [r["status"] for r in ledger(recipe)["renders"].values()] == ["failed"]
    fake.quirks.fail_renders = False  # the service recovers: the next run asks for a new render, once
    again = run(recipe)
    assert again.exit_code == 0, again.output
    assert sorted(r["status"] for r in ledger(recipe)["renders"].values()) == ["failed", "saved"] and fake.jobs_created() == 2
    assert facts(recipe.parent / "out" / "final.mp4")["size"] == (320, 180)


@pytest.mark.parametrize("unknown", ["404", "code"])
def test_a_render_id_the_service_never_created_is_replaced_never_stuck(tmp_path, fake, unknown):  # noqa: F811
    """A run that dies after persisting a render id but before the service created the job (here: every render POST
    lost on the way) leaves that id pending; the next run asks for it, hears "unknown", and renders under a new id."""
    fake.quirks.unknown_render, fake.quirks.lose_render_posts = unknown, 10_000
    recipe = project(tmp_path / "p")
    first = run(recipe)
    assert first.exit_code == 1 and fake.jobs_created() == 0
    pending = [rid for rid, r in ledger(recipe)["renders"].items() if r["status"] == "requested"]
    assert len(pending) == 1, ledger(recipe)["renders"]
    fake.quirks.lose_render_posts = 0
    second = run(recipe)
    assert second.exit_code == 0, second.output
    assert any(pending[0] in m["text"] and "unknown to the service" in m["text"] for m in messages(second, "note"))
    renders = ledger(recipe)["renders"]
    assert renders[pending[0]]["status"] == "lost" and [r["status"] for r in renders.values()].count("saved") == 1
    assert fake.jobs_created() == 1
    assert set(finished(run(recipe)).values()) == {"cached"}


def test_a_smaller_or_shorter_render_is_a_warning_and_expect_decides(tmp_path, fake):  # noqa: F811
    fake.quirks.render_max_edge, fake.quirks.render_cut_ms = 160, 500  # "up to 1080x1920", at this test's scale
    recipe = project(tmp_path / "p")
    result = run(recipe)
    [warning] = [m["text"] for m in messages(result, "warning")]
    assert "160x90 (asked 320x180)" in warning and "1.50s long (asked 2.00s)" in warning, warning
    done = next(e for e in events(result) if e["event"] == "step-finished" and e["step"] == "export.final")
    assert done["summary"].startswith("1.5s at 160x90"), done["summary"]
    assert result.exit_code == 1 and finished(result)["expect.final"] == "failed"
    assert facts(recipe.parent / "out" / "final.mp4")["size"] == (160, 90)


def test_a_png_named_mp4_is_sent_as_what_it_is(tmp_path, fake):  # noqa: F811
    root = tmp_path / "p"
    root.mkdir()
    make_image(root / "clip.png", size=(64, 48)).rename(root / "clip.mp4")
    recipe = root / "r.nemo"
    recipe.write_text('nemo 1\nmedia clip = "clip.mp4"\nedit cut {\n  image clip for 2s\n}\nexport final = cut {\n  size 160x120\n'
                      '  save "out.mp4"\n}\n', encoding="utf-8")
    result = run(recipe)
    assert result.exit_code == 0, result.output
    assert any("clip.mp4 is a PNG file by its content; it is uploaded as clip.png" in m["text"] for m in messages(result, "note"))
    assert [u.name for u in fake.uploads.values()] == ["clip.png"]
    assert (root / "clip.mp4").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "the source is never changed"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_a_killed_run_resumes_polling_its_render_instead_of_paying_again(tmp_path, monkeypatch, sig):
    with FakeNemo(tmp_path / "fake", Quirks(silent_rate=0.0, render_seconds=4.0)).start() as server:
        fast_cloud(monkeypatch, server)
        recipe = project(tmp_path / "p")
        proc = subprocess.Popen([sys.executable, "-m", "nemoflow.cli", "run", str(recipe), "--engine", "nemo"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        deadline = time.monotonic() + 60
        while not server.renders and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert server.renders, "the render never started"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        if sig == signal.SIGINT:  # the truth: the render goes on in the cloud and is resumed; FFmpeg has nothing to do with it
            assert proc.returncode == 130 and "the cloud render goes on in the service" in err and "FFmpeg" not in err, err
        [rid] = server.renders
        assert ledger(recipe)["renders"][rid]["status"] in ("requested", "started")

        result = run(recipe)
        assert result.exit_code == 0, result.output
        assert any(f"resuming cloud render {rid}" in m["text"] for m in messages(result, "note"))
        assert server.jobs_created() == 1 and server.render_posts()[rid] == 1
        assert facts(recipe.parent / "out" / "final.mp4")["size"] == (320, 180)


CHAOS = """nemo 1

media clip = "clip.mp4"

edit a {
  video clip from 0s to 1s
}

ask b = a "color grade it"

edit c {
  video clip from 1s to 2s
  title "C" from 0s to 1s
}

export one = a {
  size 160x90
  quality draft
  save "out/one.mp4"
}

export two = b {
  size 160x90
  quality draft
  save "out/two.mp4"
}

export three = c {
  size 160x90
  quality draft
  save "out/three.mp4"
}
"""


def test_chaos_still_completes_with_no_duplicate_renders(tmp_path, monkeypatch):
    quirks = Quirks(seed=7, fail_rate=0.05, fail_after_rate=0.05, drop_rate=0.10, silent_rate=0.3, event_delay=0.0)
    with FakeNemo(tmp_path / "fake", quirks).start() as server:
        fast_cloud(monkeypatch, server)
        for round_ in range(3):
            recipe = project(tmp_path / f"p{round_}", CHAOS)
            result = run(recipe)
            assert result.exit_code == 0, result.output
            for out in ("one", "two", "three"):
                assert facts(recipe.parent / "out" / f"{out}.mp4")["size"] == (160, 90)
        injected = [r for r in quiet(server) if r.status == 500]
        assert injected, "the chaos was real: some requests failed"
        assert server.jobs_created() == 9, "one render per export, none twice"
        assert all(n >= 1 for n in server.render_posts().values())


def test_secrets_never_reach_output_logs_reports_or_urls(tmp_path, fake, monkeypatch, capfd):  # noqa: F811
    recipe = project(tmp_path / "p")
    anonymous = nf("run", recipe, "--engine", "nemo", "--junit", tmp_path / "junit.xml")
    assert anonymous.exit_code == 0, anonymous.output
    user_token = "tok-user-" + "s3cr3t" * 4
    fake.add_user_token(user_token)
    monkeypatch.setenv("NEMO_TOKEN", user_token)
    recipe2 = project(tmp_path / "q")
    as_user = nf("run", recipe2, "--engine", "nemo", "--json")
    assert as_user.exit_code == 0, as_user.output
    extra = [nf("auth", "status"), nf("auth", "status", "--json"), nf("credits", "--json"), nf("state"), nf("state", "--json")]
    assert all(r.exit_code == 0 for r in extra), [r.output for r in extra]

    home = Path(os.environ["NEMOFLOW_CONFIG"]).parent
    stored = json.loads((home / "credentials.json").read_text())
    assert oct((home / "credentials.json").stat().st_mode & 0o777) == "0o600"
    secrets = [user_token, stored["client_id"], *(t["token"] for api in stored["tokens"].values() for t in api.values())]
    assert len(secrets) >= 3
    captured = capfd.readouterr()
    written = [anonymous.output, as_user.output, *(r.output for r in extra), captured.out, captured.err, str(quiet(fake))]
    for root in (tmp_path / "p", tmp_path / "q", tmp_path / "junit.xml"):
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        written += [f.read_bytes().decode("latin-1") for f in files]
    for text in written:
        for secret in secrets:
            assert secret not in text
    assert all(contract.HEADER_CLIENT_ID.lower() not in r.query.lower() and "token" not in r.query.lower() for r in fake.log)


def test_heartbeats_show_still_working_and_gui_phrasing_becomes_actions(tmp_path, fake, monkeypatch):  # noqa: F811
    fake.quirks.stall_seconds, fake.quirks.heartbeat_every = 0.8, 0.1
    monkeypatch.setenv("NEMOFLOW_HEARTBEAT_NOTICE", "0.3")
    recipe = project(tmp_path / "p")
    result = run(recipe)
    assert result.exit_code == 0, result.output
    assert any(m["text"].startswith("still working") for m in messages(result, "heartbeat"))
    actions = [m["text"] for m in messages(result, "action")]
    assert actions and all(a.startswith(("preview: Timeline (", "export: done by export.final")) for a in actions), actions
    calls = messages(result, "call")
    assert calls, "function calls are reported as events (the display shows them with -v only)"


def test_cloud_commands_summarise_state_and_credits(tmp_path, fake):  # noqa: F811
    recipe = project(tmp_path / "p")
    assert run(recipe).exit_code == 0
    session = ledger(recipe)["sessions"]["edit.cut"]
    shown = nf("state", session)
    assert shown.exit_code == 0
    assert f"session {session}: Timeline (3 tracks, 2.0s): 1. Video clip.mp4 0–2s 2. BGM tone.m4a 0–2s at 35% " \
           "3. Title \"Hello\" 0–1s" in shown.output
    assert "other fields: v, rev, x_internal" in shown.output
    as_json = json.loads(nf("state", "--json").stdout)
    assert as_json["session"] == session and as_json["draft"]["t"][0]["sg"][0]["m"]["fx"][0]["preset"] == "film"
    balance = json.loads(nf("credits", "--json").stdout)
    assert balance == {"available": 90, "frozen": 0, "total": 90}
    status = json.loads(nf("auth", "status", "--json").stdout)
    assert status["using"] == "anonymous" and status["file_mode"] == "0600" and status["client_id"] is True
    missing = nf("state", "sess_nope")
    assert missing.exit_code == 1 and "session not found (code 1002)" in missing.output
    out = nf("auth", "logout", "--json")
    assert json.loads(out.stdout)["removed"] == [f"anonymous token for {fake.url}"]
    assert json.loads(nf("auth", "status", "--json").stdout)["using"] is None
    refused = nf("credits")  # the service gives one anonymous token per client per 7 days
    assert refused.exit_code == 2 and "NEMO_TOKEN" in refused.output and "429" in refused.output
