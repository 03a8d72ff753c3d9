"""Where a step's independent sub-jobs run: here, in order, unless an executor installs something wider.

A split export renders its segments with `current().map(render_segment, jobs, label=step_id)`; the
engine never learns whether that is this thread or a cluster. The Dask executor installs its own
`Spreader` (with `using`) around the steps it runs, so one long export's segments reach several
workers; everything else keeps the serial default. Functions and items must be picklable
(module-level functions; attrs, JSON values, Paths) because a spreader may run them in another process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Spreader(Protocol):
    """Runs `fn(item)` for each item, possibly elsewhere; results come back in item order."""

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, label: str) -> list[R]:
        """`[fn(i) for i in items]`, maybe in parallel; the first exception is raised after the others are cancelled."""
        ...


class SerialSpreader:
    """In this thread, in order: the default, and what a run without a cluster gets."""

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, label: str) -> list[R]:
        """Stops at the first exception (nothing else has started, so nothing needs cancelling)."""
        return [fn(item) for item in items]


_CURRENT: ContextVar[Spreader | None] = ContextVar("nemoflow_spreader", default=None)


def current() -> Spreader:
    """The spreader installed by the innermost `using`, else a `SerialSpreader`."""
    spreader = _CURRENT.get()
    return spreader if spreader is not None else SerialSpreader()


@contextmanager
def using(spreader: Spreader) -> Iterator[None]:
    """Installs `spreader` for this context (thread/task) until the block ends."""
    token = _CURRENT.set(spreader)
    try:
        yield
    finally:
        _CURRENT.reset(token)
