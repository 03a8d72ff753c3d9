"""The engines nemoflow knows, by name: the one place an engine is registered.

The table names each engine's class by import path, so reading it costs
nothing (the language checks `engine NAME` against it without importing an
engine), and the runner imports only the engine a run chooses. A new engine
is a folder under engines/ plus one line here; a test or a plugin may add
one at run time with `register`.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class EngineEntry:
    name: str
    target: str  # "package.module:Class", imported when a run chooses it
    about: str  # one line, for help texts


DEFAULT = "local"

_ENGINES: dict[str, EngineEntry] = {e.name: e for e in (
    EngineEntry("local", "nemoflow.engines.local.engine:LocalEngine", "FFmpeg on this machine (the default)"),
    EngineEntry("nemo", "nemoflow.engines.nemo.engine:NemoEngine", "the NemoVideo cloud API"),
)}


def names() -> tuple[str, ...]:
    """The names `engine NAME`, `--engine` and NEMOFLOW_ENGINE accept."""
    return tuple(_ENGINES)


def entry(name: str) -> EngineEntry:
    return _ENGINES[name]


def register(name: str, target: str, about: str = "") -> None:
    """Add (or replace) an engine: `target` is "module:Class" of a class implementing engines.base.Engine."""
    _ENGINES[name] = EngineEntry(name, target, about or name)


def unregister(name: str) -> None:
    if name != DEFAULT:
        _ENGINES.pop(name, None)


def described() -> str:
    """"`local` (the default) and `nemo`": for help texts and errors."""
    parts = [f"`{n}`" + (" (the default)" if n == DEFAULT else "") for n in _ENGINES]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
