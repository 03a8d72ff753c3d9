"""Where the service is and how patiently to talk to it: flags, then environment, then `[nemo]` in the config file.

The defaults are the contract's (poll every 30 s, a 15-minute stream
timeout, 30 s after a 429); tests and benchmarks shorten them through the
same settings a user would.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

import attrs

from ...config import setting
from ...errors import ConfigError
from . import contract


@attrs.frozen
class NemoSettings:
    api_url: str = contract.DEFAULT_BASE_URL
    language: str = "en"
    poll_interval: float = contract.POLL_INTERVAL
    sse_timeout: float = contract.SSE_TIMEOUT
    heartbeat_notice: float = contract.HEARTBEAT_NOTICE
    rate_limit_wait: float = contract.RATE_LIMIT_WAIT
    retry_wait: float = 0.5  # first backoff after a 5xx or a dropped connection; doubles, with jitter, up to 8 s
    retries: int = 4  # attempts per idempotent call

    @classmethod
    def load(cls, api_url: str | None = None) -> NemoSettings:
        url = api_url or setting("nemo", "api_url", env="NEMO_API_URL", default=contract.DEFAULT_BASE_URL)
        return cls(
            api_url=check_api_url(str(url), "--api-url" if api_url else _origin("NEMO_API_URL", "api_url")),
            language=str(setting("nemo", "language", env="NEMOFLOW_LANGUAGE", default="en")),
            poll_interval=_seconds("poll_interval", "NEMOFLOW_POLL_INTERVAL", contract.POLL_INTERVAL),
            sse_timeout=_seconds("sse_timeout", "NEMOFLOW_SSE_TIMEOUT", contract.SSE_TIMEOUT),
            heartbeat_notice=_seconds("heartbeat_notice", "NEMOFLOW_HEARTBEAT_NOTICE", contract.HEARTBEAT_NOTICE),
            rate_limit_wait=_seconds("rate_limit_wait", "NEMOFLOW_RATE_LIMIT_WAIT", contract.RATE_LIMIT_WAIT, zero=True),
            retry_wait=_seconds("retry_wait", "NEMOFLOW_RETRY_WAIT", 0.5, zero=True),
        )


def _origin(env: str, key: str) -> str:
    return env if os.environ.get(env) else f"`[nemo] {key}` in the config file"


def _seconds(key: str, env: str, default: float, *, zero: bool = False) -> float:
    raw = setting("nemo", key, env=env, default=default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if value < 0 or (value == 0 and not zero) or value != value:
        raise ConfigError(f"{_origin(env, key)} is `{raw}`, which is not a number of seconds{'' if zero else ' above 0'} "
                          f"(the default is {default:g})")
    return value


def check_api_url(url: str, origin: str) -> str:
    """An http(s) base URL with no credentials or query in it; plain http only to this machine (tokens travel in headers)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{origin} is `{url}`, which is not an http(s) address; the service is at {contract.DEFAULT_BASE_URL}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{origin} must be a bare base address like {contract.DEFAULT_BASE_URL} (no user, query or fragment); "
                          "tokens belong in NEMO_TOKEN or `nemoflow auth login`, never in a URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(f"{origin} is `{url}`: plain http to another machine would send your token unencrypted; use https")
    return url.strip().rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
