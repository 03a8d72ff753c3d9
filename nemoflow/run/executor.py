"""Run a DAG of tasks on a thread pool, within resource budgets.

Engine-agnostic: a task is a callable plus what it needs. Threads suit the
work, which happens in FFmpeg processes or on the network; Python only
waits. Two limits apply at once: `jobs` (tasks at a time) and a budget per
resource class. A render declares how many CPU cores it needs (a 4K encode:
all of them), so `-j 4` on two cores still runs one 4K encode at a time
while light steps and network transfers overlap it.

Failure: without keep-going, the first failure cancels what is running (the
`cancel` hook kills FFmpeg) and starts nothing new; with it, only the
failed task's dependents are skipped. Ctrl-C cancels everything and is
re-raised once running tasks have stopped.

`StepExecutor` is what the runner asks of an executor; `Executor` (this thread
pool) is the default. Another executor (run/executors.py chooses one by name)
may run each task's body in other processes: then it says so (`elsewhere`),
the runner gives every task a picklable `job`, and `offload(task)` returns what
that job returned there. Scheduling, hooks and results stay the same.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

import attrs

from ..errors import NemoflowError, TransientError

CPU, NET, LIGHT = "cpu", "net", "light"


class ProcessLost(NemoflowError):
    """The process running a task died (a cluster's worker killed, its machine gone); the executor runs the task again.

    Passed to `Hooks.retrying`: the runner says so and, once the task ends, removes the partial files it left.
    """

    exit_code = 1


@attrs.define
class Task:
    id: str
    deps: tuple[str, ...]
    run: Callable[[int], Any]  # called with the attempt number (1, 2, …)
    priority: int = 0  # lower runs first among ready tasks (topological position)
    resource: str = LIGHT
    demand: int = 1
    retries: int = 0  # extra attempts for TransientError (network steps)
    job: Callable[[], Any] | None = None  # picklable: the task's body for another process (executors with `elsewhere`)


@attrs.define
class TaskResult:
    id: str
    status: str  # ok | failed | blocked | cancelled
    value: Any = None
    error: BaseException | None = None
    started: float = 0.0
    seconds: float = 0.0
    attempts: int = 0
    blocked_by: str | None = None


@attrs.define
class Hooks:
    started: Callable[[Task, int], None] = lambda task, attempt: None
    finished: Callable[[Task, TaskResult], None] = lambda task, result: None
    retrying: Callable[[Task, int, BaseException, float], None] = lambda task, attempt, error, wait: None
    progress: Callable[[Task, dict[str, Any]], None] = lambda task, fields: None  # a step-progress said elsewhere
    cancel: Callable[[], None] = lambda: None


@attrs.frozen
class Places:
    """What a run's steps read and write on disk: an executor running them elsewhere checks it can reach each place."""

    reads: tuple[Path, ...] = ()  # files (the recipe's media)
    writes: tuple[Path, ...] = ()  # folders (state, cache, each export's folder)


class StepExecutor(Protocol):
    """Runs a DAG of tasks; the runner knows executors only through this."""

    elsewhere: bool  # some task bodies run in other processes (`sends`): those carry a picklable `job`, run by `offload`

    def sends(self, task: Task) -> bool:
        """Does this task's body run elsewhere (then the runner gives it a `job` and calls `offload`)?"""
        ...

    def run(self, tasks: Iterable[Task]) -> dict[str, TaskResult]:
        """Every task's result; `hooks` say when each starts, retries and ends."""
        ...

    def offload(self, task: Task) -> Any:
        """Runs `task.job` where this executor runs things and returns its value (or raises its error)."""
        ...

    def close(self) -> None:
        """Lets go of what the executor holds (threads, a cluster connection)."""
        ...


class Executor:
    """The default: a thread pool in this process."""

    elsewhere = False

    def __init__(self, *, jobs: int, budgets: dict[str, int], keep_going: bool = False, hooks: Hooks | None = None,
                 backoff: float = 1.0) -> None:
        self.jobs = max(1, jobs)
        self.backoff = backoff  # first retry wait in seconds; doubles each time, with jitter, up to 30x
        self.budgets = budgets
        self.keep_going = keep_going
        self.hooks = hooks or Hooks()
        self.stopping = False

    def run(self, tasks: Iterable[Task]) -> dict[str, TaskResult]:
        tasks = {t.id: t for t in tasks}
        waiting = {tid: {d for d in t.deps if d in tasks} for tid, t in tasks.items()}
        users: dict[str, list[str]] = {tid: [] for tid in tasks}
        for tid, deps in waiting.items():
            for d in deps:
                users[d].append(tid)
        ready = [(t.priority, tid) for tid, t in tasks.items() if not waiting[tid]]
        heapq.heapify(ready)
        results: dict[str, TaskResult] = {}
        running: dict[Future, Task] = {}
        used = {name: 0 for name in self.budgets}

        def block_dependents(tid: str, root: str) -> None:
            for user in users[tid]:
                if user not in results:
                    results[user] = TaskResult(user, "blocked", blocked_by=root)
                    self.hooks.finished(tasks[user], results[user])
                    block_dependents(user, root)

        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="nemoflow-step")
        try:
            while True:
                if not self.stopping:
                    self._launch(ready, tasks, running, used, pool)
                if not running:
                    break
                done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = running.pop(fut)
                    used[task.resource] = used.get(task.resource, 0) - self._demand(task)
                    result: TaskResult = fut.result()
                    if result.status == "failed" and self.stopping:
                        result.status = "cancelled"
                    results[task.id] = result
                    self.hooks.finished(task, result)
                    if result.status == "ok":
                        for user in users[task.id]:
                            waiting[user].discard(task.id)
                            if not waiting[user] and user not in results:
                                heapq.heappush(ready, (tasks[user].priority, user))
                    else:
                        block_dependents(task.id, task.id)
                        if result.status == "failed" and not self.keep_going:
                            self._stop()
        except BaseException:  # Ctrl-C, SIGTERM: stop FFmpeg, let the threads unwind, then re-raise
            self._stop()
            for fut, task in list(running.items()):
                try:
                    result = fut.result(timeout=30)
                except Exception:
                    result = TaskResult(task.id, "cancelled")
                result.status = "cancelled" if result.status != "ok" else "ok"
                results[task.id] = result
                self.hooks.finished(task, result)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        for tid in tasks:  # never started: stopped early
            if tid not in results:
                results[tid] = TaskResult(tid, "cancelled")
                self.hooks.finished(tasks[tid], results[tid])
        return results

    def sends(self, task: Task) -> bool:
        return False

    def offload(self, task: Task) -> Any:
        """Here, in this thread: what a job means when nothing is elsewhere."""
        assert task.job is not None
        return task.job()

    def close(self) -> None:
        return

    def _stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self.hooks.cancel()

    def _demand(self, task: Task) -> int:
        budget = self.budgets.get(task.resource)
        return task.demand if budget is None else min(task.demand, budget)

    def _launch(self, ready: list, tasks: dict[str, Task], running: dict, used: dict[str, int], pool: ThreadPoolExecutor) -> None:
        """Start ready tasks in priority order while slots and budgets allow; a class that is full waits in order."""
        held: list = []
        full: set[str] = set()
        while ready and len(running) < self.jobs:
            item = heapq.heappop(ready)
            task = tasks[item[1]]
            budget = self.budgets.get(task.resource)
            if task.resource in full or (budget is not None and used.get(task.resource, 0) + self._demand(task) > budget):
                full.add(task.resource)  # no overtaking within a class: a 4K render is not starved by small ones
                held.append(item)
                continue
            used[task.resource] = used.get(task.resource, 0) + self._demand(task)
            running[pool.submit(self._attempts, task)] = task
        for item in held:
            heapq.heappush(ready, item)

    def _attempts(self, task: Task) -> TaskResult:
        """Run a task, retrying TransientError with exponential backoff and jitter (tenacity) if it allows retries."""
        started = time.time()
        t0 = time.monotonic()
        attempt = 0

        def once() -> Any:
            nonlocal attempt
            attempt += 1
            self.hooks.started(task, attempt)
            return task.run(attempt)

        try:
            if task.retries > 0:
                import tenacity

                retrying = tenacity.Retrying(
                    stop=tenacity.stop_after_attempt(task.retries + 1),
                    wait=(tenacity.wait_exponential(multiplier=self.backoff, max=30 * self.backoff)
                          + tenacity.wait_random(0, self.backoff)),
                    retry=tenacity.retry_if_exception(lambda e: isinstance(e, TransientError) and not self.stopping),
                    before_sleep=lambda state: self.hooks.retrying(task, state.attempt_number, state.outcome.exception(),
                                                                   state.upcoming_sleep),
                    reraise=True)
                value = retrying(once)
            else:
                value = once()
        except Exception as exc:
            return TaskResult(task.id, "failed", error=exc, started=started, seconds=time.monotonic() - t0, attempts=attempt)
        return TaskResult(task.id, "ok", value=value, started=started, seconds=time.monotonic() - t0, attempts=attempt)
