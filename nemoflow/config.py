"""User configuration: one TOML file in the platform's config dir.

`NEMOFLOW_CONFIG` points elsewhere (tests, CI). Environment variables win over
the file, so a CI job can change one setting without writing config.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from .errors import ConfigError


def config_path() -> Path:
    env = os.environ.get("NEMOFLOW_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("nemoflow")) / "config.toml"


@cache
def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}; fix or remove it (NEMOFLOW_CONFIG chooses another)") from None


def setting(section: str, key: str, env: str | None = None, default: Any = None) -> Any:
    """`env` if set, else `[section] key` from the config file, else `default`."""
    if env and os.environ.get(env):
        return os.environ[env]
    value = _load(config_path()).get(section, {}).get(key)
    return default if value is None else value


def output_roots() -> tuple[Path, ...]:
    """Folders exports may go under besides the recipe's own: NEMOFLOW_OUTPUT_ROOT (several joined by the OS path
    separator), else `[run] output_root` (a folder, or a list of them). Relative ones are relative to the recipe."""
    env = os.environ.get("NEMOFLOW_OUTPUT_ROOT")
    if env:
        return tuple(Path(part) for part in env.split(os.pathsep) if part)
    raw = setting("run", "output_root")
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ConfigError(f"`output_root` under [run] in {config_path()} must be a folder, or a list of folders, as "
                          f'strings (e.g. output_root = "~/renders"); got {raw!r}')
    return tuple(Path(item) for item in items)


def cache_dir() -> Path:
    """Where content-addressed work is kept across recipes (analyses, stabilization passes, encoded sources).

    NEMOFLOW_CACHE_DIR, else the platform's user cache dir.
    """
    env = os.environ.get("NEMOFLOW_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("nemoflow")) / "local"
