"""One message to the agent over SSE (httpx-sse), and how its stream ended.

The stream is not the source of truth: about 30% of edits close with no text,
and connections drop. So this module only reports what it saw (texts,
function calls, the ending: complete | silent | dropped | timeout); the engine
then reads the session state to learn what actually changed. A watchdog
thread prints a "still working" line every couple of minutes and enforces the
15-minute limit by closing the response, which ends the read loop.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import httpx

from . import contract
from .client import NemoClient
from .errors import ServiceUnavailable

MessageSink = Callable[[str, str], None]  # (kind: text | call | heartbeat | action, text)


@attrs.define
class Reply:
    texts: list[str] = attrs.field(factory=list)
    calls: list[str] = attrs.field(factory=list)
    ending: str = "complete"  # complete | silent | dropped | timeout | unsent
    heartbeats: int = 0
    detail: str = ""

    @property
    def actions(self) -> list[str]:
        """What the agent's GUI phrasing asks the client to do ("click Export" → export), in order, once each."""
        found: list[str] = []
        for text in self.texts:
            for action, pattern in contract.GUI_ACTIONS:
                if pattern.search(text) and action not in found:
                    found.append(action)
        return found


def send_message(client: NemoClient, sid: str, text: str, *, on_event: MessageSink | None = None,
                 timeout: float | None = None, notice_every: float | None = None) -> Reply:
    """POST one message and read its stream to the end (or until it drops, or the limit passes)."""
    from httpx_sse import EventSource, SSEError

    say = on_event or (lambda kind, text: None)
    limit = timeout or client.settings.sse_timeout
    every = notice_every or client.settings.heartbeat_notice
    try:
        resp, _ = client.exchange("POST", contract.RUN_SSE, json=contract.message_body(sid, text), retry=False, stream=True,
                                     headers={"Accept": "text/event-stream", "Cache-Control": "no-store"},
                                     timeout=httpx.Timeout(limit, connect=15.0), what=f"sending a message to session {sid}")
    except ServiceUnavailable as err:
        return Reply(ending="unsent", detail=str(err))
    if resp is None or not resp.headers.get("content-type", "").startswith("text/event-stream"):
        return Reply(ending="silent", detail="the service answered without a stream")
    reply = Reply()
    done = threading.Event()
    timed_out = threading.Event()
    started = time.monotonic()

    def watchdog() -> None:
        last = started
        while not done.wait(min(1.0, every)):
            now = time.monotonic()
            if now - started >= limit:
                timed_out.set()
                resp.close()
                return
            if now - last >= every:
                last = now
                say("heartbeat", f"still working ({_clock(now - started)}; the service sends heartbeats)")

    guard = threading.Thread(target=watchdog, name="nemo-sse-watchdog", daemon=True)
    guard.start()
    partial: list[str] = []
    try:
        for sse in EventSource(resp).iter_sse():
            if not sse.data.strip():
                reply.heartbeats += 1
                continue
            try:
                event = json.loads(sse.data)
            except ValueError:
                continue  # not an agent event; the contract says nothing of other kinds
            for part in _parts(event):
                if isinstance(part.get("text"), str) and part["text"].strip():
                    if event.get("partial"):
                        partial.append(part["text"])
                    else:
                        partial.clear()
                        reply.texts.append(part["text"])
                        say("text", part["text"])
                elif isinstance(part.get("functionCall"), dict):
                    call = part["functionCall"]
                    reply.calls.append(str(call.get("name")))
                    say("call", f"{call.get('name')}({_short(call.get('args'))})")
                elif isinstance(part.get("functionResponse"), dict):
                    say("call", f"{part['functionResponse'].get('name')} answered")
        reply.ending = "complete" if reply.texts or partial else "silent"
    except (httpx.TransportError, httpx.StreamError, SSEError) as exc:
        reply.ending = "timeout" if timed_out.is_set() else "dropped"
        reply.detail = type(exc).__name__
    finally:
        done.set()
        resp.close()
    if partial:  # the final text never came: what arrived is still what the agent said
        text = "".join(partial)
        reply.texts.append(text)
        say("text", text)
    return reply


def _parts(event: Any) -> list[dict[str, Any]]:
    content = event.get("content") if isinstance(event, dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
