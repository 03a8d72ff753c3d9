"""Reading back the state directory: every file is untrusted input, read bounded, parsed, and validated, or ignored.

`.nemoflow/` may come from a CI cache, another machine, another nemoflow
version, a run killed mid-write, or someone who edited it. So each JSON file
nemoflow reads from it must match its definition in schemas/state.schema.json
(the one place those shapes are written down) before any field is used; a file
that does not is reported (`Loaded.problem`) and treated as absent: a cache
miss, never a crash and never an instruction. Reads are bounded (a state file
is never a FIFO, a device or gigabytes of JSON) and do not follow a symbolic
link in the last component: nemoflow never writes one there.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from functools import cache
from pathlib import Path
from typing import Any

import attrs

from ..resources import resource_path

LIMIT = 64 << 20  # bytes: far above any state file nemoflow writes (a Draft of thousands of clips is a few MB)
_building = threading.Lock()


@attrs.frozen
class Loaded:
    """What a state file held: `data` if it was there and valid; else `problem` says why not (None: simply absent)."""

    data: Any = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.data is not None


def read_bytes(path: Path, limit: int = LIMIT) -> bytes | None:
    """A regular file's bytes (at most `limit`), not through a final symbolic link; None if absent.

    Raises ValueError with the reason for anything else (a link, a folder, a FIFO, too large, unreadable).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("it is a symbolic link, which nemoflow never writes there") from None
        if exc.errno == errno.ENOTDIR:
            return None
        raise ValueError(f"it cannot be read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("it is not a regular file")
        if st.st_size > limit:
            raise ValueError(f"it is {st.st_size} bytes, more than the {limit} nemoflow ever writes")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise ValueError(f"it holds more than the {limit} bytes nemoflow ever writes")
        return b"".join(chunks)
    except OSError as exc:
        raise ValueError(f"it cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def parse(text: bytes | str) -> Any:
    """JSON from an untrusted source; ValueError (never RecursionError or UnicodeError) for anything that is not JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    except ValueError as exc:
        raise ValueError(f"it is not whole JSON ({exc})") from None


def problem(data: Any, definition: str) -> str | None:
    """The first way `data` breaks schemas/state.schema.json#/$defs/<definition>, as `where: what`; None if it fits."""
    import jsonschema

    try:
        err = jsonschema.exceptions.best_match(_validator(definition).iter_errors(data))
    except RecursionError:
        return "it is nested too deeply"
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
    message = err.message if len(err.message) <= 200 else err.message[:199] + "…"
    return f"{where}: {message}"


def load(path: Path, definition: str, *, limit: int = LIMIT) -> Loaded:
    """Read, parse and validate one state file; never raises for what the file holds."""
    try:
        raw = read_bytes(path, limit)
        if raw is None:
            return Loaded()
        data = parse(raw)
    except ValueError as exc:
        return Loaded(problem=str(exc))
    found = problem(data, definition)
    return Loaded(problem=found) if found is not None else Loaded(data)


def _validator(definition: str):
    with _building:
        return _build(definition)


@cache
def _build(definition: str):
    import jsonschema

    schema = json.loads(resource_path("schemas/state.schema.json").read_text(encoding="utf-8"))
    if definition not in schema["$defs"]:
        raise KeyError(f"schemas/state.schema.json has no definition `{definition}`")
    cls = jsonschema.validators.validator_for(schema)  # the schema itself is checked by tests/test_cache_trust.py, not here
    return cls({**schema, "$ref": f"#/$defs/{definition}"})
