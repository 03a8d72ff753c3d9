"""What the nemo engine's parts share during one run: settings, the HTTP client, the ledger, locks, the stop flag.

Made on first use, so building the engine does no I/O: `nemoflow check`
builds it only to ask for diagnostics.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from .client import NemoClient
from .ledger import Ledger
from .settings import NemoSettings


class Service:
    def __init__(self, state_dir: Path, options: Mapping[str, str], *, settings: NemoSettings | None = None,
                 client: NemoClient | None = None) -> None:
        self.state_dir = state_dir
        self._options = options
        self._settings = settings
        self._client = client
        self._ledger: Ledger | None = None
        self._lock = threading.RLock()
        self._keyed: dict[str, threading.Lock] = {}
        self.stop = threading.Event()  # set by cancel(): polls and backoffs stop waiting

    @property
    def settings(self) -> NemoSettings:
        with self._lock:
            if self._settings is None:
                self._settings = NemoSettings.load(self._options.get("api_url"))
            return self._settings

    @property
    def client(self) -> NemoClient:
        with self._lock:
            if self._client is None:
                self._client = NemoClient(self.settings)
            return self._client

    @property
    def ledger(self) -> Ledger:
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger(self.state_dir / "nemo.json", self.settings.api_url)
            return self._ledger

    def keyed(self, key: str) -> threading.Lock:
        """One lock per key ("session:main", "upload:SID:DIGEST"): threads of one run do each thing once."""
        with self._lock:
            return self._keyed.setdefault(key, threading.Lock())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
