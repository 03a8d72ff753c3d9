"""What one recipe has on the service: its sessions, what was uploaded to each, and its renders.

Kept in the recipe's state directory (`nemo.json`) so that a re-run reuses
its sessions and uploads instead of sending the same bytes again, and so that
a render id is on disk *before* the render is requested: a run killed while
the cloud renders resumes polling that render instead of paying for another.
Every change is written atomically and fsynced; one lock serialises threads.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FORMAT = 1


class Ledger:
    def __init__(self, path: Path, api: str) -> None:
        self.path = path
        self.api = api
        self._lock = threading.Lock()
        self.data = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        fresh = {"v": FORMAT, "api": self.api, "sessions": {}, "uploads": {}, "renders": {}, "built": {}}
        if not isinstance(data, dict) or data.get("api") != self.api:  # another service: its sessions mean nothing here
            return fresh
        return {"v": FORMAT, "api": self.api, **_valid(data)}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".nemo.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- sessions -------------------------------------------------------------------
    def session(self, slot: str) -> str | None:
        with self._lock:
            return self.data["sessions"].get(slot)

    def set_session(self, slot: str, sid: str) -> None:
        with self._lock:
            self.data["sessions"][slot] = sid
            self._save()

    def sessions(self) -> dict[str, str]:
        with self._lock:
            return dict(self.data["sessions"])

    # -- uploads ----------------------------------------------------------------------
    def upload(self, sid: str, digest: str) -> dict[str, Any] | None:
        with self._lock:
            return self.data["uploads"].get(sid, {}).get(digest)

    def uploads_in(self, sid: str) -> dict[str, dict[str, Any]]:
        """Content digest → the upload's answer, for every upload recorded in session `sid`."""
        with self._lock:
            return dict(self.data["uploads"].get(sid, {}))

    def any_upload(self, digest: str) -> dict[str, Any] | None:
        """The first recorded upload of this content in any session (its URL can seed a URL upload elsewhere)."""
        with self._lock:
            for per_session in self.data["uploads"].values():
                if digest in per_session:
                    return per_session[digest]
        return None

    def add_upload(self, sid: str, digest: str, info: dict[str, Any]) -> None:
        with self._lock:
            self.data["uploads"].setdefault(sid, {})[digest] = info
            self._save()

    # -- what nemoflow built in a session --------------------------------------------
    def built(self, sid: str) -> dict[str, str] | None:
        """The edit nemoflow last brought session `sid` to, and the state it read back then (both as digests)."""
        with self._lock:
            entry = self.data["built"].get(sid)
            return dict(entry) if entry is not None else None

    def set_built(self, sid: str, draft: str, state: str) -> None:
        """Recorded after the last instruction's check: a later state with this very digest still holds that edit."""
        with self._lock:
            self.data["built"][sid] = {"draft": draft, "state": state}
            self._save()

    # -- renders ----------------------------------------------------------------------
    def pending_render(self, key: str) -> dict[str, Any] | None:
        """The render started for this step key and not finished (a killed run's), if any."""
        with self._lock:
            for rid, entry in self.data["renders"].items():
                if entry.get("key") == key and entry.get("status") in ("requested", "started", "completed"):
                    return {"id": rid, **entry}
        return None

    def begin_render(self, rid: str, key: str, step: str, sid: str) -> None:
        """Written (and fsynced) before the request: the id must survive a crash that happens mid-request."""
        with self._lock:
            self.data["renders"][rid] = {"key": key, "step": step, "session": sid, "status": "requested", "t": time.time()}
            self._save()

    def update_render(self, rid: str, **fields: Any) -> None:
        with self._lock:
            entry = self.data["renders"].get(rid)
            if entry is not None:
                entry.update(fields)
                self._prune()
                self._save()

    def _prune(self) -> None:
        """Keep finished renders for a week (for `nemoflow state` and support questions), not forever."""
        cutoff = time.time() - 7 * 86400
        done = [rid for rid, e in self.data["renders"].items() if e.get("status") in ("saved", "failed", "lost") and e.get("t", 0) < cutoff]
        for rid in done:
            del self.data["renders"][rid]


def _valid(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ledger's entries that have the shape nemoflow writes (it is read back from disk: untrusted); the rest is dropped."""
    def table(key: str) -> dict[str, Any]:
        found = data.get(key)
        return found if isinstance(found, dict) else {}

    sessions = {k: v for k, v in table("sessions").items() if isinstance(k, str) and isinstance(v, str) and v}
    uploads = {sid: {d: info for d, info in per.items() if isinstance(info, dict) and isinstance(info.get("url"), str)}
               for sid, per in table("uploads").items() if isinstance(per, dict)}
    renders = {rid: e for rid, e in table("renders").items()
               if isinstance(e, dict) and isinstance(e.get("key"), str) and isinstance(e.get("status"), str)
               and isinstance(e.get("t", 0), (int, float))}
    built = {sid: {"draft": e["draft"], "state": e["state"]} for sid, e in table("built").items()
             if isinstance(e, dict) and isinstance(e.get("draft"), str) and isinstance(e.get("state"), str)}
    return {"sessions": sessions, "uploads": uploads, "renders": renders, "built": built}
