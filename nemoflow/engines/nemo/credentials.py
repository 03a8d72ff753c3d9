"""Tokens and the client id, kept where only this user can read them.

`credentials.json` sits beside the config file (platformdirs' config dir, or
next to NEMOFLOW_CONFIG), mode 0600 in a 0700 directory, written atomically
under a file lock so two runs never fetch two anonymous tokens (the service
allows one per client per 7 days). Tokens are stored per API address, so a
token for one service is never sent to another. Nothing here prints a secret:
the `Token` repr hides its value.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import attrs

from ...config import config_path
from ...errors import ConfigError

FORMAT = 1


@attrs.frozen
class Token:
    value: str = attrs.field(repr=False)
    kind: str  # "env" (NEMO_TOKEN) | "user" (auth login) | "anonymous"
    expires_at: float | None = None

    @property
    def renewable(self) -> bool:
        """Only anonymous tokens may be replaced on 1001; a user's own token is theirs to fix."""
        return self.kind == "anonymous"


def credentials_path() -> Path:
    return config_path().parent / "credentials.json"


class CredentialStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or credentials_path()
        self._lock = None

    # -- reading --------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"v": FORMAT, "tokens": {}}
        except (OSError, ValueError):
            raise ConfigError(f"cannot read the credentials file {self.path}; remove it (`nemoflow auth logout --all`) "
                              "and log in again") from None
        if not isinstance(data, dict) or not isinstance(data.get("tokens", {}), dict):
            raise ConfigError(f"the credentials file {self.path} is not in nemoflow's format; remove it and log in again")
        data.setdefault("tokens", {})
        return data

    def token(self, api: str, kind: str, now: float | None = None) -> Token | None:
        """The stored token of `kind` for this API, if it has not expired (with a minute to spare)."""
        entry = self.load()["tokens"].get(api, {}).get(kind)
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str) or not entry["token"]:
            return None
        expires = entry.get("expires_at")
        if isinstance(expires, (int, float)) and expires - 60 <= (now or time.time()):
            return None
        return Token(remember_secret(entry["token"]), kind, expires if isinstance(expires, (int, float)) else None)

    def describe(self, api: str) -> dict[str, Any]:
        """What is stored for `api`, without any secret: kinds, dates, whether a client id exists."""
        data = self.load()
        out: dict[str, Any] = {"file": str(self.path), "client_id": bool(data.get("client_id")), "tokens": {}}
        for kind, entry in data["tokens"].get(api, {}).items():
            if isinstance(entry, dict) and entry.get("token"):
                out["tokens"][kind] = {k: entry[k] for k in ("expires_at", "saved_at") if k in entry}
        return out

    # -- writing --------------------------------------------------------------
    def locked(self):
        """A cross-process lock for read-modify-write (and for fetching an anonymous token exactly once).

        One FileLock per store: re-entrant in the thread holding it, exclusive across threads and processes.
        """
        from filelock import FileLock

        if self._lock is None:
            self._ensure_dir()
            self._lock = FileLock(str(self.path) + ".lock", timeout=60)
        return self._lock

    def client_id(self, *, renew: bool = False) -> str:
        """This client's persistent UUID, created on first use (or anew when the service refused the old one)."""
        with self.locked():
            data = self.load()
            current = data.get("client_id")
            if renew or not isinstance(current, str) or not current:  # a malformed one is sent as is: the service's 400 renews it
                data["client_id"] = str(uuid.uuid4())
                self._save(data)
            return remember_secret(data["client_id"])

    def put_token(self, api: str, kind: str, value: str, expires_at: float | None = None) -> None:
        with self.locked():
            data = self.load()
            entry: dict[str, Any] = {"token": value, "saved_at": time.time()}
            if expires_at is not None:
                entry["expires_at"] = expires_at
            data["tokens"].setdefault(api, {})[kind] = entry
            self._save(data)

    def drop(self, api: str | None, kinds: tuple[str, ...] = ("anonymous", "user"), *, client_id: bool = False) -> list[str]:
        """Forget tokens (for one API, or all when api is None); returns what was removed, in words."""
        removed = []
        with self.locked():
            data = self.load()
            for where in [api] if api else list(data["tokens"]):
                tokens = data["tokens"].get(where, {})
                for kind in kinds:
                    if tokens.pop(kind, None) is not None:
                        removed.append(f"{kind} token for {where}")
                if not tokens:
                    data["tokens"].pop(where, None)
            if client_id and data.pop("client_id", None):
                removed.append("client id")
            self._save(data)
        return removed

    def _ensure_dir(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(parents=True, mode=0o700)

    def _save(self, data: dict[str, Any]) -> None:
        """Write 0600 from the first byte (never chmod after the fact) and rename into place."""
        self._ensure_dir()
        fd, tmp = tempfile.mkstemp(prefix=".credentials.", suffix=".tmp", dir=self.path.parent)  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({**data, "v": FORMAT}, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


# Every secret this process has seen, so text from outside (a service message, an exception) can be scrubbed.
_SECRETS: set[str] = set()


def remember_secret(value: str) -> str:
    if value and len(value) >= 6:
        _SECRETS.add(value)
    return value


def redact(text: str) -> str:
    """`text` with every token and client id this process knows replaced by [redacted]."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text
