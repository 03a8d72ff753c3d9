"""The Dask executor: each step runs as a task on a `distributed` cluster whose workers share the run's filesystem.

The client (this process) keeps everything a local run has: the plan and its cache hits, the lock, events,
journal, progress, JUnit, exit codes. Only a step's body travels: a `RemoteStep` job (the checked recipe, the
options, the step and its planned key), which a worker runs by rebuilding the workspace once per run and calling
that step's `_run_and_record`; outputs and store records are written on the shared filesystem, atomically as
everywhere. What the step said there comes back with its record and is replayed here.

Scheduling (dependencies, priorities, `-j` tasks in flight, keep-going, retries of network steps) is the thread
pool's own: each in-flight task is one client thread waiting on its Dask future. CPU demand becomes the worker
resource `cpu` only if every worker declares it (`dask worker --resources cpu=8`); otherwise tasks are
unconstrained and Dask's own slots (threads per worker) bound them. A worker that dies mid-task: Dask runs the
task again elsewhere, and a `step-retry` event names the lost worker. Imported only when chosen: `distributed`
comes with `pip install 'nemoflow[dask]'`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .. import __version__
from ..core import spread
from ..errors import NemoflowError
from .executor import CPU, Executor, Hooks, Places, ProcessLost, Task, TaskResult

T = TypeVar("T")
R = TypeVar("R")

CONNECT_TIMEOUT = 5.0  # seconds to reach the scheduler before saying it is unreachable
WORKER_WAIT = 10.0  # seconds to wait for a first worker on a scheduler that has none yet
POLL = 0.5  # seconds between looks at which worker runs what (to notice a lost worker)


class ClusterError(NemoflowError):
    """The cluster cannot run this recipe: unreachable, no workers, a worker that cannot see the files, no `distributed`."""

    exit_code = 2


class WorkerLost(ProcessLost):
    """A worker died while running a step (killed, out of memory, its machine gone); Dask runs the step elsewhere."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError("the Dask executor needs the `distributed` package: pip install 'nemoflow[dask]' "
                           "(on this machine and on every worker)") from None
    return distributed


class DaskExecutor(Executor):
    """Runs task bodies on a Dask cluster; scheduling stays the thread pool's (one client thread per task in flight)."""

    elsewhere = True

    def __init__(self, address: str, *, jobs: int | None, default_jobs: int, budgets: dict[str, int], keep_going: bool,
                 hooks: Hooks, places: Places, cancel_remote: Callable[[], None] | None = None) -> None:
        distributed = _distributed()
        self.address = address
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, a refused or garbled handshake
            raise ClusterError(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); start one "
                               "(`dask scheduler`) or fix --executor / NEMOFLOW_EXECUTOR / `[run] executor`") from None
        try:
            workers = self._workers()
            threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
            declared = [w.get("resources", {}).get(CPU) for w in workers.values()]
            self.cpu_cap: int | None = int(min(declared)) if declared and all(d for d in declared) else None
            self._preflight(places)
        except BaseException:
            self.client.close()
            raise
        # renders in flight: two per cluster slot (one running, one queued at its worker), counted one each (Dask and the
        # `cpu` resource share out the cores); the other client threads stay free for the light steps that run here
        super().__init__(jobs=jobs or 2 * threads + default_jobs, budgets={**budgets, CPU: 2 * threads},
                         keep_going=keep_going, hooks=hooks)
        self.cancel_remote = cancel_remote
        self._lock = threading.Lock()
        self._inflight: dict[str, tuple[Task, Any]] = {}  # Dask key → (task, future)
        self._where: dict[str, str] = {}  # Dask key → the worker last seen running it
        self._lost: set[tuple[str, str]] = set()
        self._retries: dict[str, int] = {}
        self._done = threading.Event()
        self.topic = f"nemoflow-progress-{uuid.uuid4().hex}"  # workers' step-progress, relayed live (structured events)
        self._tasks: dict[str, Task] = {}
        with contextlib.suppress(Exception):
            self.client.subscribe_topic(self.topic, self._progress)

    # -- start: workers, and what they can reach ---------------------------------------------------
    def _workers(self) -> dict[str, dict[str, Any]]:
        info = self.client.scheduler_info(n_workers=-1)
        if not info.get("workers"):
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT)
            except Exception:
                raise ClusterError(f"the Dask scheduler at {self.address} has no workers (waited {WORKER_WAIT:.0f} s); start "
                                   f"some: dask worker {self.address}") from None
            info = self.client.scheduler_info(n_workers=-1)
        return info["workers"]

    def _preflight(self, places: Places) -> None:
        """Every worker reads each media file and writes each folder of the run, with this nemoflow, or the run stops here."""
        try:
            found = self.client.run(preflight, [str(p) for p in places.reads], [str(p) for p in places.writes])
        except Exception as exc:
            raise ClusterError(f"the workers of {self.address} cannot run nemoflow's check ({type(exc).__name__}: {exc}); "
                               "install nemoflow (pip install 'nemoflow[dask]') on every worker") from None
        problems = []
        for worker, (version, trouble) in sorted(found.items()):
            if version != __version__:
                problems.append(f"worker {worker} runs nemoflow {version}, this client {__version__}")
            problems += [f"worker {worker} {text}" for text in trouble]
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise ClusterError("; ".join(problems[:5]) + more + ": every worker must see the recipe's media and write its "
                               "state, cache and export folders at the same paths, on a shared filesystem (docs/cluster.md)")

    # -- running -------------------------------------------------------------------------------------
    def run(self, tasks: Iterable[Task]) -> dict[str, TaskResult]:
        watcher = threading.Thread(target=self._watch, name="nemoflow-dask-watch", daemon=True)
        watcher.start()
        try:
            return super().run(tasks)
        finally:
            self._done.set()
            watcher.join(timeout=5)

    def _demand(self, task: Task) -> int:
        return 1 if task.resource == CPU else super()._demand(task)

    def sends(self, task: Task) -> bool:
        """Renders (CPU work) go to the cluster; light steps (media, edits, checks) stay here: a round trip costs more."""
        return task.resource == CPU

    def offload(self, task: Task) -> Any:
        """Submits the task's job and waits for it in this (client) thread; a worker that dies is Dask's to replace."""
        distributed = _distributed()
        if self.stopping:
            raise ClusterError("cancelled")
        resources = None
        if self.cpu_cap is not None and task.resource == CPU:
            resources = {CPU: max(1, min(task.demand, self.cpu_cap))}
        key = f"nemoflow-{task.id}-{uuid.uuid4().hex[:8]}"
        self._tasks[task.id] = task
        future = self.client.submit(run_job, task.job, self.topic, key=key, pure=False, resources=resources)
        with self._lock:
            self._inflight[key] = (task, future)
        try:
            return future.result()
        except distributed.KilledWorker as exc:
            last = getattr(exc, "last_worker", None)
            raise WorkerLost("the workers running it kept dying (killed, or out of memory?"
                             + (f"; the last was {getattr(last, 'address', last)}" if last is not None else "")
                             + "): Dask gave up on it (its `distributed.scheduler.allowed-failures`)") from None
        finally:
            with self._lock:
                self._inflight.pop(key, None)
                self._where.pop(key, None)

    def _progress(self, event: tuple[float, Any]) -> None:
        """A step-progress a worker logged on our topic: said here as if the step ran here."""
        msg = event[1] if isinstance(event, tuple) and len(event) == 2 else None
        task = self._tasks.get(msg.get("step")) if isinstance(msg, dict) else None
        if task is not None and not self.stopping:
            self.hooks.progress(task, msg)

    def _watch(self) -> None:
        """Notices a worker that disappears while running one of our steps, and says so (`step-retry`)."""
        while not self._done.wait(POLL):
            with self._lock:
                if not self._inflight:
                    continue
            try:
                processing = self.client.processing()
            except Exception:
                continue
            now = {key: worker for worker, keys in processing.items() for key in keys}
            with self._lock:
                inflight = dict(self._inflight)
                for key, (task, _) in inflight.items():
                    before = self._where.get(key)
                    if before is not None and before not in processing and (key, before) not in self._lost:
                        self._lost.add((key, before))
                        self._retries[task.id] = self._retries.get(task.id, 1) + 1
                        lost = (task, before, self._retries[task.id])
                    else:
                        lost = None
                    if key in now:
                        self._where[key] = now[key]
                    if lost is not None:
                        self.hooks.retrying(lost[0], lost[2], WorkerLost(f"worker {lost[1]} was lost while running "
                                            f"{lost[0].id}; Dask runs it again on another worker"), 0.0)

    def _stop(self) -> None:
        """Stops starting tasks, cancels the cluster's futures and the FFmpeg processes workers run for this run."""
        first = not self.stopping
        super()._stop()
        if not first:
            return
        with self._lock:
            futures = [future for _, future in self._inflight.values()]
        with contextlib.suppress(Exception):
            self.client.cancel(futures, force=True)
        if self.cancel_remote is not None:
            with contextlib.suppress(Exception):
                self.client.run(self.cancel_remote)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(self.topic)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)


def run_job(job: Callable[..., R], topic: str | None = None) -> R:
    """On a worker: the step's job, with segments of a split export spread over the cluster and its progress logged
    on the client's `topic` (the scheduler forwards it)."""
    run = getattr(job, "run_id", None)
    _may_start(run)
    with spread.using(DaskSpreader(run)):
        if topic is None:
            return job()
        worker = _distributed().get_worker()

        def relay(event: dict[str, Any]) -> None:
            worker.log_event(topic, {k: v for k, v in event.items() if k not in ("v", "t", "run")})

        return job(relay)


def _may_start(run: str | None) -> None:
    """A task of `run` begins in this worker process: refused if that run was cancelled here; otherwise FFmpeg may
    start again (the engine's cancel stops every FFmpeg of the process, for the cancelled run and until now)."""
    from ..media.ffmpeg import allow_start
    from .workspace import remote_run_cancelled

    if remote_run_cancelled(run):
        raise ClusterError(f"run {run} was cancelled")
    allow_start()


def _part(fn: Callable[[T], R], run: str | None, item: T) -> R:
    _may_start(run)
    return fn(item)


class DaskSpreader:
    """Runs a step's independent sub-jobs (a split export's segments) as tasks of the cluster the step runs on.

    From inside a worker task: the task leaves the worker's thread pool while it waits (`worker_client` secedes),
    so the segments can use that slot too. Outside a worker, in order here.
    """

    def __init__(self, run: str | None = None) -> None:
        self.run = run  # the run the parts belong to (refused on a worker where it was cancelled)

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, label: str) -> list[R]:
        distributed = _distributed()
        try:
            distributed.get_worker()
        except ValueError:
            return spread.SerialSpreader().map(fn, items, label=label)
        if len(items) <= 1:
            return [fn(item) for item in items]
        tag = uuid.uuid4().hex[:8]
        with distributed.worker_client() as client:
            part = functools.partial(_part, fn, self.run)
            futures = [client.submit(part, item, key=f"nemoflow-{label}-part{i}-{tag}", pure=False) for i, item in enumerate(items)]
            try:
                return client.gather(futures)
            except BaseException:
                client.cancel(futures, force=True)
                raise


def preflight(reads: list[str], writes: list[str]) -> tuple[str, list[str]]:
    """On each worker: this nemoflow's version, and what it cannot read or write of the run's places."""
    trouble = []
    for name in reads:
        try:
            with open(name, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            trouble.append(f"cannot read {name} ({exc.strerror or exc})")
    for name in writes:
        folder = Path(name)
        try:
            while not folder.exists() and folder != folder.parent:  # not made yet: whoever makes it writes in its parent
                folder = folder.parent
            with tempfile.NamedTemporaryFile(dir=folder, prefix=f".nemoflow-check-{os.getpid()}-"):
                pass
        except OSError as exc:
            trouble.append(f"cannot write in {name} ({exc.strerror or exc})")
    return __version__, trouble
