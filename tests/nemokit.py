"""Running recipes on the nemo engine against the fake service (nemoflow.testing.fake_nemo) on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nemoflow.testing.fake_nemo import FakeNemo, Quirks


def fast_cloud(monkeypatch, fake: FakeNemo) -> None:
    """Point nemoflow at the fake, with the contract's waits shortened (poll 30 s → 0.05 s, 429 wait 30 s → 0.05 s)."""
    monkeypatch.setenv("NEMO_API_URL", fake.url)
    monkeypatch.setenv("NEMOFLOW_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("NEMOFLOW_RETRY_WAIT", "0.01")
    monkeypatch.setenv("NEMOFLOW_RATE_LIMIT_WAIT", "0.05")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A started fake with no random quirks (tests turn on what they exercise); nemoflow pointed at it."""
    with FakeNemo(tmp_path / "fake", Quirks(silent_rate=0.0, event_delay=0.0)).start() as server:
        fast_cloud(monkeypatch, server)
        yield server


def ledger(recipe: Path) -> dict:
    """The recipe's nemo.json (sessions, uploads, renders)."""
    found = list((recipe.parent / ".nemoflow" / "recipes").glob("*/nemo.json"))
    assert len(found) == 1, found
    return json.loads(found[0].read_text())


def quiet(fake: FakeNemo) -> list:
    """The fake's log once it has stopped growing: the fake logs a request after answering it, from the serving thread."""
    import time

    seen, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        if len(fake.log) != seen:
            seen, stable_since = len(fake.log), time.monotonic()
        elif time.monotonic() - stable_since >= 0.15:
            break
        time.sleep(0.02)
    return sorted(fake.log, key=lambda r: r.t)


def requests(fake: FakeNemo, method: str, contains: str) -> list:
    return [r for r in quiet(fake) if r.method == method and contains in r.path]


# An edit → ask → export chain: an edit, two asks on it, exports of each (the variants test and benchmark run it).
CHAIN = """nemo 1

param closing = "Bye"

media clip = "clip.mp4"
media still = "still.png"
media tone = tone 220hz duration 10s volume 50%
media beep = tone 880hz duration 1s

edit cut {
  video clip from 0.5s to 2.5s
  transition crossfade 500ms
  image still for 1s
  grade warm 60%
  title "Hello" from 0s to 1s
  text "World" at bottom from 1s to 2s
  music tone volume 35% fade out 1s
  audio beep at 1s volume 80%
}

ask polish = cut "color grade it"
ask more = polish "title '${closing}' for 1 seconds"

export plain = cut {
  size 320x180
  save "out/plain.mp4"
}

export final = polish {
  size 320x180
  save "out/final.mp4"
}

export later = more {
  size 320x180
  save "out/later.mp4"
}

expect final {
  duration ~= 2.5s
  size == 320x180
  has audio
}
"""
