"""Which executor runs a recipe's steps: `local` (a thread pool here, the default) or a Dask cluster by its address.

Chosen by `--executor`, else NEMOFLOW_EXECUTOR, else `[run] executor` in the config file. A cluster is named
`dask://HOST:PORT` (or the scheduler's own `tcp://HOST:PORT` / `tls://HOST:PORT`). The Dask executor is imported
only when chosen, so the base install needs no `distributed`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from ..config import setting
from ..errors import NemoflowError
from .executor import Executor, Hooks, Places, StepExecutor

LOCAL = "local"
_CLUSTER = re.compile(r"(dask|tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})/?")


class ExecutorChoiceError(NemoflowError):
    """--executor, NEMOFLOW_EXECUTOR or `[run] executor` names no executor nemoflow knows, or one it cannot use."""

    exit_code = 2


def choose(explicit: str | None) -> str:
    """The executor's normalised name: `local`, or the scheduler's address as `tcp://HOST:PORT` (`tls://…`)."""
    for origin, value in (("--executor", explicit), ("NEMOFLOW_EXECUTOR", os.environ.get("NEMOFLOW_EXECUTOR")),
                          ("`[run] executor` in the config file", setting("run", "executor"))):
        if value:
            return normalise(str(value), origin)
    return LOCAL


def normalise(value: str, origin: str = "--executor") -> str:
    """`local` or a scheduler address; anything else is an error saying what is accepted."""
    text = value.strip()
    if text == LOCAL:
        return LOCAL
    match = _CLUSTER.fullmatch(text)
    if match is None or not 0 < int(match.group(3)) < 65536:
        raise ExecutorChoiceError(f"{origin} names the executor `{value}`; use `local` (the default) or a Dask scheduler's "
                                  "address, dask://HOST:PORT (e.g. dask://10.0.0.5:8786)")
    scheme = "tls" if match.group(1) == "tls" else "tcp"
    return f"{scheme}://{match.group(2)}:{int(match.group(3))}"


def create(name: str, *, jobs: int | None, default_jobs: int, budgets: dict[str, int], keep_going: bool, hooks: Hooks,
           places: Callable[[], Places], cancel_remote: Callable[[], None] | None = None) -> StepExecutor:
    """The executor `name` (from `choose`), ready to run: a cluster is reached and checked (`places`) here.

    `jobs` is `-j` or its setting (None: the executor's default); `places` lists what the run reads and writes (asked
    only by an executor that runs steps elsewhere); `cancel_remote` stops work a cluster's workers started.
    """
    if name == LOCAL:
        return Executor(jobs=jobs or default_jobs, budgets=budgets, keep_going=keep_going, hooks=hooks)
    from .dask_executor import DaskExecutor

    return DaskExecutor(name, jobs=jobs, default_jobs=default_jobs, budgets=budgets, keep_going=keep_going, hooks=hooks,
                        places=places(), cancel_remote=cancel_remote)
