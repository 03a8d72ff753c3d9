"""A workspace: one recipe, its engine and its state directory; plan, run, explain, clean, draft.

The flow of one run goes down once: keys (plan/keys.py) → a plan (plan/planner.py)
→ tasks on the executor → each task runs its step by the step-kind table
(run/steps.py) on the chosen engine → its record goes into the store. The
runner knows engines only through engines/base.py and the table in
core/engines.py.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from ..config import cache_dir, setting
from ..core.graph import topological_order
from ..core.model import CheckKind, Recipe, Step, StepKind
from ..core.outputs import OutputPolicy
from ..engines.base import Engine, EngineContext, Message, Resource
from ..engines.base import create as create_engine
from ..errors import NemoflowError
from ..plan.digests import DigestMemo
from ..plan.keys import StepKey, compute_keys, files_claimed
from ..plan.planner import LastRun, Plan, PlannedStep, Planner, Status, TargetError
from . import executors
from .destinations import OwnOutputs, check_destinations
from .engines import choose_engine, state_root
from .events import EventBus, Sink, new_run_id
from .executor import Hooks, Places, ProcessLost, StepExecutor, Task, TaskResult
from .expect import ExpectOptions
from .journal import Interrupted, Journal, last_interrupted
from .lock import RunLock
from .steps import Outcome, Steps
from .store import Expected, NotCached, StateDir, StoreHistory, write_json

_KEY = re.compile(r"[0-9a-f]{64}")


class StateError(NemoflowError):
    exit_code = 2


class SourceChanged(NemoflowError):
    """A file a step's key claims changed while the step ran: its result is not what the key says, so it is not cached."""

    exit_code = 2


@attrs.define
class RunOptions:
    targets: tuple[str, ...] = ()
    force: tuple[str, ...] = ()
    jobs: int | None = None  # default: twice the cores, at least 4 (renders are limited by the cpu budget)
    cpus: int | None = None  # cpu budget; default: the cores this machine has
    keep_going: bool = False
    state_dir: Path | None = None
    retries: int = 3  # for steps the engine marks as network steps
    engine: str | None = None  # default: NEMOFLOW_ENGINE, the recipe's `engine`, `[run] engine`, else local
    engine_options: dict[str, str] = attrs.field(factory=dict)  # e.g. {"api_url": …} for the nemo engine
    outputs: OutputPolicy = attrs.field(factory=OutputPolicy)  # where exports may go (--allow-outside, output_root)
    overwrite: bool = False  # replace existing files at export paths that nemoflow did not write (--overwrite)
    expect: ExpectOptions = attrs.field(factory=ExpectOptions)  # golden pictures, failure artifacts (--update-golden)
    executor: str | None = None  # local or dask://HOST:PORT; default: NEMOFLOW_EXECUTOR, `[run] executor`, else local


@attrs.define
class RunResult:
    run_id: str
    status: str = "ok"  # ok | failed | interrupted
    exit_code: int = 0
    seconds: float = 0.0
    steps: dict[str, str] = attrs.field(factory=dict)  # step → final status
    checks: list[dict[str, Any]] = attrs.field(factory=list)
    errors: list[tuple[str, str]] = attrs.field(factory=list)  # (step, message)
    not_run: int = 0  # checks of expect steps that ended without checking (their export failed or was blocked)

    def count(self, status: str) -> int:
        return sum(s == status for s in self.steps.values())


def default_jobs() -> int:
    return max(4, 2 * (os.cpu_count() or 1))


class Workspace:
    """One recipe and its `.nemoflow/` state: plan, run, explain, clean."""

    def __init__(self, recipe: Recipe, options: RunOptions | None = None, *, cache: Path | None = None) -> None:
        self.recipe = recipe
        self.options = options or RunOptions()
        self.base = recipe.path.resolve().parent
        self.state = StateDir(state_root(self.options.state_dir, self.base), recipe.path)
        self.digests = DigestMemo(self.state.digests_file, warn=self.state.warn)
        self.order = topological_order(recipe)
        self.last: dict[str, LastRun] = _read_last(self.state.read_last())
        self.history = StoreHistory(self.state.store, self.base, self.digests, self.last, self._expected)
        self.engine: Engine = create_engine(choose_engine(recipe, self.options.engine), EngineContext(
            recipe, self.state.recipe_dir, cache or cache_dir(), self.options.engine_options, self.digests.digest,
            lambda sid: self.keys()[sid].key, lambda sid: self._current_steps().draft(sid)))
        self._live_steps: Steps | None = None
        self._keys: dict[str, StepKey] | None = None
        self._planner: Planner | None = None
        self._records: dict[str, dict[str, Any]] = {}
        self._expected_by_key: dict[str, Expected] | None = None
        self._key_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.bus: EventBus | None = None
        self._said: dict[str, tuple[list, list, Callable | None]] = {}  # in a worker: step → its events, checks, progress relay

    # -- keys and plans ------------------------------------------------------
    def keys(self) -> dict[str, StepKey]:
        if self._keys is None:
            self._keys = compute_keys(self.recipe, self.order, self.digests, self.engine.identity(self.digests),
                                      self.engine.step_identity)
        return self._keys

    @property
    def planner(self) -> Planner:
        if self._planner is None:
            problems = {sid: d for sid, d in ((s.id, self.engine.diagnose(s)) for s in self.recipe.steps.values()) if d is not None}
            self._planner = Planner(self.recipe, self.order, self.keys(), self.history, problems)
        return self._planner

    def plan(self, selected: set[str] | None = None) -> Plan:
        planner = self.planner
        chosen = planner.select(self.options.targets) if selected is None else selected
        forced = planner.forced(self.options.force)
        if self.options.expect.update_golden:  # golden pictures are (re)written from this render: their expects must run
            forced |= {s.id for s in self.recipe.by_kind("expect") if any(c.kind == CheckKind.LOOKS_LIKE for c in s.spec.checks)}
        plan = planner.plan(chosen, forced)
        for planned in plan.steps.values():
            if planned.record is not None:
                self._records[planned.key.key] = planned.record
        return plan

    def save_memo(self) -> None:
        """Keep digests computed while planning (only where a state directory already exists: plan creates none)."""
        if self.state.exists():
            with contextlib.suppress(OSError):
                self.digests.save()

    # -- explain ------------------------------------------------------------
    def explain(self, sid: str) -> dict[str, Any]:
        """Why `sid` runs or not: its status and which key components changed since it last ran, down to the root cause."""
        planner = self.planner
        matched = planner.match(sid) if sid not in self.recipe.steps else [sid]
        if not matched:
            raise planner.unknown(sid)
        if len(matched) != 1:
            raise TargetError(f"`{sid}` names {len(matched)} steps ({', '.join(matched[:6])}); name one")
        sid = matched[0]
        planned = self.plan(set(self.order)).steps[sid]
        prev = self.last.get(sid)
        out: dict[str, Any] = {"step": sid, "status": planned.status, "reasons": list(planned.texts), "key": planned.key.key,
                               "last": None, "changes": []}
        if prev is not None:
            out["last"] = {k: v for k, v in prev.to_json().items() if k in ("run", "t", "status", "key", "seconds", "error")}
            out["changes"] = planner.changes(sid, prev.key)
        return out

    # -- reading steps' results without a run (`nemoflow draft`, tools) ---------------------------
    @contextlib.contextmanager
    def reading(self) -> Iterator[Steps]:
        """The steps' media and Drafts, from the cache where a step's result is there, else made now (nothing is recorded)."""
        steps = self._steps(reporter=lambda sid: _Quiet())
        self.engine.start()
        try:
            yield steps
        finally:
            self.engine.close()

    def _steps(self, *, reporter: Callable[[str], Any], on_check: Callable[[Step, dict[str, Any]], None] | None = None) -> Steps:
        self._live_steps = Steps(self.recipe, self.engine, cached=self._cached_result, reporter=reporter, on_check=on_check,
                                 expect=self.options.expect)
        return self._live_steps

    def _current_steps(self) -> Steps:
        """The step table of the run (or reading) in progress: what an engine asks for another step's timeline."""
        if self._live_steps is None:
            raise LookupError("no run in progress")
        return self._live_steps

    def _cached_result(self, sid: str) -> dict[str, Any] | None:
        """An input's result from the store, so a step that runs can build on steps that did not."""
        keys = self.keys()
        if sid not in keys:
            return None
        key = keys[sid].key
        record = self._records.get(key) or self.history.record(key)
        result = record.get("result") if record else None
        return result if isinstance(result, dict) else None

    # -- running ------------------------------------------------------------
    def run(self, sinks: list[Sink]) -> RunResult:
        try:
            self.state.create()
        except OSError as exc:
            raise self._unwritable_state(exc) from None
        bus = self.bus = EventBus(new_run_id(), sinks)
        result = RunResult(bus.run_id)
        started = time.monotonic()
        notes: list[str] = []  # said while taking the lock, reported after run-started
        with contextlib.ExitStack() as held:
            try:  # a state directory that is read-only or full stops the run here, before anything renders
                held.enter_context(RunLock(self.state.lock_file, say=notes.append))
                journal = Journal(self.state.journal_dir, bus.run_id)
            except OSError as exc:
                raise self._unwritable_state(exc) from None
            previous = last_interrupted(self.state.journal_dir, exclude=journal.path, warn=self.state.warn)
            journal_failed: list[OSError] = []
            bus.sinks.append(_journal_sink(journal, journal_failed))
            plan: Plan | None = None
            try:
                self.engine.start()
                bus.emit("run-started", recipe=str(self.recipe.path), pid=os.getpid(), engine=self.engine.name,
                         jobs=self._jobs(), cpus=self._cpus(), targets=list(self.options.targets),
                         state_dir=str(self.state.root), resumed_from=previous.run if previous else None)
                for note in notes:
                    bus.emit("note", message=note)
                self._say_warnings(bus)
                if previous is not None:
                    self._recover(previous, bus)
                plan = self.plan()
                for planned in plan.steps.values():
                    bus.emit("plan", **planned.to_json())
                check_destinations(self.recipe, plan, base=self.base, policy=self.options.outputs, overwrite=self.options.overwrite,
                                   ours=OwnOutputs(self.state.store, self.base, self.digests, self.last, plan))
                self._execute(plan, bus, result)
            except KeyboardInterrupt:
                result.status, result.exit_code = "interrupted", 130
                raise
            except NemoflowError as err:  # before any step ran: FFmpeg missing, a bad --force, …
                result.status, result.exit_code = "failed", err.exit_code
                raise
            except Exception:
                result.status, result.exit_code = "failed", 70
                raise
            finally:
                result.seconds = time.monotonic() - started
                self._finish(result)
                if journal_failed:
                    bus.emit("note", message=f"the run's journal could not be written ({journal_failed[0].strerror or journal_failed[0]}"
                                             f", in {self.state.journal_dir}): had this run been killed, the next one could not "
                                             "have removed its partial files. Free space there, or use --state-dir DIR")
                bus.emit("run-finished", status=result.status, exit_code=result.exit_code, seconds=round(result.seconds, 3),
                         counts={s: result.count(s) for s in ("ok", "cached", "restored", "failed", "blocked", "cancelled")},
                         checks={"passed": sum(c["ok"] for c in result.checks), "failed": sum(not c["ok"] for c in result.checks),
                                 "not_run": result.not_run})
                with contextlib.suppress(OSError):  # its last lines may not fit on a full disk
                    journal.close()
                self.state.on_warning = None
                self.engine.close()
        return result

    def _unwritable_state(self, exc: OSError) -> StateError:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        return StateError(f"cannot write nemoflow's state directory {self.state.root} ({exc.strerror or exc}); "
                          + ("free space there" if full else "make it writable")
                          + ", or put the state elsewhere with --state-dir DIR or NEMOFLOW_STATE_DIR")

    def _say_warnings(self, bus: EventBus) -> None:
        """What the state directory held that was ignored as damaged: said now, and from here on as it is found."""
        for text in list(self.state.warnings):
            bus.emit("note", message=text)
        self.state.on_warning = lambda text: bus.emit("note", message=text)

    def _expected(self, key: str) -> Expected | None:
        """The step of this recipe a key belongs to, and where it saves its files: what its record must agree with."""
        if self._expected_by_key is None:
            found: dict[str, Expected] = {}
            for sid, step_key in self.keys().items():
                step = self.recipe.steps[sid]
                outputs = (step.spec.path,) if step.kind == StepKind.EXPORT else ()
                found.setdefault(step_key.key, Expected(sid, str(step.kind), outputs))
            self._expected_by_key = found
        return self._expected_by_key.get(key)

    def _jobs(self) -> int:
        return self.options.jobs or int(setting("run", "jobs", env="NEMOFLOW_JOBS", default=0) or 0) or default_jobs()

    def _cpus(self) -> int:
        return self.options.cpus or (os.cpu_count() or 1)

    def _recover(self, previous: Interrupted, bus: EventBus) -> None:
        """A killed run: say so, drop the partial files of what it was rendering, remember how its steps ended."""
        removed = []
        for sid in previous.unfinished:
            step = self.recipe.steps.get(sid)
            if step is not None:
                removed += self._drop_partials(step)
        self._sweep_state(previous)
        for event in previous.events:
            sid, key = event.get("step"), event.get("key")
            if not isinstance(sid, str) or not isinstance(key, str):
                continue
            if event.get("event") == "step-started":
                self.last[sid] = LastRun(key, "interrupted", previous.run, _text(event.get("t")))
            elif event.get("event") == "step-finished" and event.get("status") != "cached":
                self.last[sid] = LastRun(key, str(event.get("status")), previous.run, _text(event.get("t")),
                                         _number(event.get("seconds")), _text(event.get("error")))
        what = ", ".join(previous.unfinished) or "no step"
        bus.emit("note", message=f"the previous run ({previous.run}, pid {previous.pid}) was killed while running {what}; "
                                 f"its {len(previous.finished)} finished steps are cached, unfinished ones run again"
                                 + (f" (removed {len(removed)} partial file{'s' if len(removed) != 1 else ''})" if removed else ""))

    def _drop_partials(self, step: Step) -> list[str]:
        """An export's partial files (media/ffmpeg.py `atomic_output` names them), left by a process killed mid-render."""
        removed = []
        if step.kind == StepKind.EXPORT:
            dest: Path = step.spec.path
            for partial in dest.parent.glob(f".{glob.escape(dest.stem)}.*.partial{dest.suffix}"):
                with contextlib.suppress(OSError):
                    partial.unlink()
                    removed.append(partial.name)
        return removed

    def _sweep_state(self, previous: Interrupted) -> None:
        """Temporary files a killed run left in the state directory (killed between writing one and renaming it).

        This recipe's own directory is ours while we hold its lock; in the shared store and root, only what the
        killed process named with its pid, or wrote for the keys of the steps it was running.
        """
        state = self.state
        pid = previous.pid if isinstance(previous.pid, int) else None
        keys = {e.get("key") for e in previous.events if e.get("event") == "step-started" and e.get("step") in previous.unfinished}
        places = [(state.recipe_dir, ".*.tmp")]
        places += [(state.store.dir(k), ".*.tmp") for k in keys if isinstance(k, str) and _KEY.fullmatch(k)]
        if pid is not None:
            places.append((state.root, f".*.{pid}.tmp"))  # the digest memo's
        for folder, pattern in places:
            for tmp in folder.glob(pattern) if folder.is_dir() else ():
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _execute(self, plan: Plan, bus: EventBus, result: RunResult) -> None:
        steps = self._steps(reporter=lambda sid: _BusReporter(bus, sid),
                            on_check=lambda step, check: self._check_event(bus, result, step, check, cached=False))
        tasks = []
        position = {sid: i for i, sid in enumerate(self.order)}
        working = {p.id for p in plan.steps.values() if p.status in (Status.RUN, Status.RESTORE)}
        for planned in plan.steps.values():
            step = self.recipe.steps[planned.id]
            deferred = step.kind == StepKind.EXPECT and step.spec.target.id in working
            if planned.status == Status.CACHED and not deferred:
                record = planned.record or {}
                result.steps[planned.id] = "cached"
                bus.emit("step-finished", step=planned.id, kind=step.kind, key=planned.key.key, status="cached", seconds=0.0,
                         outputs=[str(self.base / o["path"]) for o in record.get("outputs", [])], summary=record.get("summary", ""))
                for check in record.get("result", {}).get("checks", []) if step.kind == StepKind.EXPECT else []:
                    self._check_event(bus, result, step, check, cached=True)
            elif planned.status in (Status.ERROR, Status.BLOCKED):
                status = "failed" if planned.status == Status.ERROR else "blocked"
                result.steps[planned.id] = status
                if status == "failed":
                    result.errors.append((planned.id, planned.texts[0]))
                    result.exit_code = 2
                bus.emit("step-finished", step=planned.id, kind=step.kind, key=planned.key.key, status=status, seconds=0.0,
                         outputs=[], error=planned.texts[0], exit_code=2 if status == "failed" else None)
            else:
                needs = self.engine.resources(step)
                tasks.append(Task(planned.id, tuple(d for d in step.inputs if d in plan.steps), self._work(planned, steps, result.steps),
                                  priority=position[planned.id], resource=str(needs.kind), demand=needs.demand,
                                  retries=self.options.retries if needs.kind == Resource.NET else 0))
        if not tasks:
            self._settle(result)
            return
        chosen = executors.choose(self.options.executor)

        def started(task: Task, attempt: int) -> None:
            step = self.recipe.steps[task.id]
            bus.emit("step-started", step=task.id, kind=step.kind, key=plan.steps[task.id].key.key, attempt=attempt,
                     resource=task.resource, demand=task.demand,
                     action="restore" if plan.steps[task.id].status == Status.RESTORE else "run")  # a waiting cached expect: run

        lost: set[str] = set()  # steps whose process died mid-run (a cluster's worker): it may have left a partial file

        def finished(task: Task, done: TaskResult) -> None:
            step = self.recipe.steps[task.id]
            if task.id in lost:
                self._drop_partials(step)
            fields: dict[str, Any] = {"outputs": [], "summary": ""}
            status = done.status
            cached_checks: list[dict[str, Any]] = []
            if done.status == "ok":
                status, record = done.value
                fields.update(outputs=[str(self.base / o["path"]) for o in record.get("outputs", [])], summary=record.get("summary", ""))
                if status == "cached" and step.kind == StepKind.EXPECT:  # found in the store when it started: say its checks
                    cached_checks = record.get("result", {}).get("checks", [])
            elif done.error is not None and done.status == "failed":
                if isinstance(done.error, NemoflowError):
                    code, message = done.error.exit_code, str(done.error)
                else:  # a bug: say so, as the CLI does for bugs outside steps
                    code, message = 70, f"internal error (a bug in nemoflow): {type(done.error).__name__}: {done.error}"
                    if os.environ.get("NEMOFLOW_DEBUG"):
                        import traceback

                        message += "\n" + "".join(traceback.format_exception(done.error))
                fields.update(error=message, exit_code=code)
                result.errors.append((task.id, message))
                result.exit_code = max(result.exit_code, code) if code != 70 else 70
            elif done.status == "blocked":
                fields.update(error=f"{'not checked' if step.kind == StepKind.EXPECT else 'not run'}: {done.blocked_by} failed")
            result.steps[task.id] = status
            bus.emit("step-finished", step=task.id, kind=step.kind, key=plan.steps[task.id].key.key, status=status,
                     seconds=round(done.seconds, 3), attempts=done.attempts, **fields)
            for check in cached_checks:
                self._check_event(bus, result, step, check, cached=True)

        def progress(task: Task, fields: dict[str, Any]) -> None:
            try:
                bus.progress(task.id, float(fields["seconds"]), float(fields["total"]), float(fields.get("fps", 0.0)),
                             float(fields.get("speed", 0.0)), str(fields.get("phase", "")), False, str(fields.get("unit", "s")))
            except (KeyError, TypeError, ValueError):
                return

        def retrying(task: Task, attempt: int, error: BaseException, wait: float) -> None:
            if isinstance(error, ProcessLost):
                lost.add(task.id)
            bus.emit("step-retry", step=task.id, attempt=attempt, error=str(error), wait=round(wait, 2))

        budgets = {str(Resource.CPU): self._cpus(), str(Resource.NET): 8}
        explicit_jobs = self.options.jobs or int(setting("run", "jobs", env="NEMOFLOW_JOBS", default=0) or 0) or None
        executor = executors.create(chosen, jobs=explicit_jobs, default_jobs=default_jobs(), budgets=budgets,
                                    keep_going=self.options.keep_going, places=lambda: self._places(tasks),
                                    hooks=Hooks(started=started, finished=finished, retrying=retrying, cancel=self.engine.cancel,
                                                progress=progress),
                                    cancel_remote=functools.partial(cancel_remote_run, bus.run_id))
        try:
            if executor.elsewhere:
                self.save_memo()  # the digests taken while planning: workers start from them instead of hashing again
                self._send_elsewhere(tasks, executor, plan, steps, bus, result)
            executor.run(tasks)
        finally:
            executor.close()
        self._settle(result)

    def _places(self, tasks: list[Task]) -> Places:
        """The media the tasks' steps read and the folders they write: what a cluster's workers must all reach."""
        keys = self.keys()
        reads: dict[Path, None] = {}
        writes: dict[Path, None] = dict.fromkeys([self.state.root, self.engine.context.cache_dir])
        for task in tasks:
            step = self.recipe.steps[task.id]
            reads.update(dict.fromkeys(p for p in files_claimed(keys, self.recipe, task.id) if p.is_file()))
            if step.kind == StepKind.EXPORT:
                writes[(self.base / step.spec.path).parent] = None
        return Places(tuple(reads), tuple(writes))

    def _send_elsewhere(self, tasks: list[Task], executor: StepExecutor, plan: Plan, steps: Steps, bus: EventBus,
                        result: RunResult) -> None:
        """Each task the executor sends becomes a picklable job another process runs (RemoteStep); what its step said
        there is replayed here. The others (light steps: media, edits, checks) run here, their records in the shared store."""
        recipe = attrs.evolve(self.recipe, path=self.recipe.path.resolve())
        options = attrs.evolve(self.options, state_dir=self.state.root, engine=self.engine.name)
        for task in filter(executor.sends, tasks):
            planned = plan.steps[task.id]
            task.job = RemoteStep(recipe, options, bus.run_id, task.id, planned.key.key, self.engine.context.cache_dir)
            task.run = self._work(planned, steps, result.steps, make=functools.partial(self._offloaded, executor, task, bus, result))

    def _offloaded(self, executor: StepExecutor, task: Task, bus: EventBus, result: RunResult) -> dict:
        """Runs the task's job where the executor runs things, then says here what the step said there."""
        done: StepDone = executor.offload(task)
        step = self.recipe.steps[task.id]
        for event in done.events:
            fields = {k: v for k, v in event.items() if k not in ("v", "event", "t", "run")}
            bus.emit(event["event"], **fields)
        for check in done.checks:
            self._check_event(bus, result, step, check, cached=False)
        if done.error is not None:
            raise done.error
        return done.record

    def _settle(self, result: RunResult) -> None:
        checked = {c["step"] for c in result.checks}
        result.not_run = sum(len(self.recipe.steps[sid].spec.checks) for sid, status in result.steps.items()
                             if self.recipe.steps[sid].kind == StepKind.EXPECT and sid not in checked
                             and status in ("failed", "blocked", "cancelled"))
        failed = any(s in ("failed", "cancelled") for s in result.steps.values()) or any(not c["ok"] for c in result.checks)
        if failed:
            result.status = "failed"
            result.exit_code = result.exit_code or 1

    def _work(self, planned: PlannedStep, steps: Steps, ended: dict[str, str],
              make: Callable[[], dict] | None = None) -> Callable[[int], tuple[str, dict]]:
        """What running a planned step means; `ended` is how the steps that finished so far in this run ended.

        `make` runs the step and returns its record (default: `_run_and_record` here; an executor elsewhere offloads it).
        """
        step = self.recipe.steps[planned.id]

        def work(attempt: int) -> tuple[str, dict]:
            if planned.status == Status.RESTORE and planned.record is not None and self.history.restore(planned.record):
                return "restored", planned.record
            target = ended.get(step.spec.target.id) if step.kind == StepKind.EXPECT else None  # how its export ended
            if planned.status == Status.CACHED and planned.record is not None and target in ("restored", "cached"):
                return "cached", planned.record  # an expect that waited for its export (_execute): the file it checked is back
            with self._key_lock(planned.key.key):  # steps with equal keys (identical fan-out items) run once
                if not planned.must_run and target != "ok":  # an export rendered in this run: check the new file
                    done = self.history.record(planned.key.key)
                    if done is not None and self.history.check_outputs(done).ok:
                        return "cached", done
                return "ok", make() if make is not None else self._run_and_record(planned, step, steps)

        return work

    def run_remote(self, sid: str, key: str, relay: Callable[[dict[str, Any]], None] | None = None) -> StepDone:
        """Runs one step the client planned (in a worker process): its record goes into the shared store, as here."""
        mine = self.keys()[sid].key
        if mine != key:
            raise StateError(f"{sid}: this worker computes the key {mine[:12]}… where the client planned {key[:12]}…: it does not "
                             "see the same files (the recipe's media, its includes) at the same paths; every worker must see "
                             "them on a shared filesystem (docs/cluster.md)")
        said: list[dict[str, Any]] = []
        checks: list[dict[str, Any]] = []
        with self._locks_lock:
            self._said[sid] = (said, checks, relay)
        try:
            step = self.recipe.steps[sid]
            planned = PlannedStep(sid, step.kind, Status.RUN, (), self.keys()[sid])
            record = self._run_and_record(planned, step, self._current_steps())
        except Exception as exc:  # failed checks, a render error: what the step said still counts
            return StepDone({}, tuple(said), tuple(checks), exc)
        finally:
            with self._locks_lock:
                self._said.pop(sid, None)
        return StepDone(record, tuple(said), tuple(checks))

    def _collect(self, event: dict[str, Any]) -> None:
        """A worker's bus: what a step says is kept for the client; its progress goes to the relay, if any, at once."""
        found = self._said.get(event.get("step", ""))
        if found is None:
            return
        if event.get("event") != "step-progress":
            found[0].append(event)
        elif found[2] is not None:
            with contextlib.suppress(Exception):  # progress is a courtesy: never fail a render over it
                found[2](event)

    def _collect_check(self, step: Step, check: dict[str, Any]) -> None:
        found = self._said.get(step.id)
        if found is not None:
            found[1].append(check)

    def _key_lock(self, key: str) -> threading.Lock:
        with self._locks_lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _run_and_record(self, planned: PlannedStep, step: Step, steps: Steps) -> dict:
        store = self.state.store
        if step.kind == StepKind.EXPORT:  # long enough to be killed: keep its key's parts for explain
            with contextlib.suppress(OSError):  # only for explain: a full state disk must not stop the render
                store.note_components(planned.key.key, planned.key.to_json())
        outcome: Outcome = steps.run(step)
        self._refuse_if_sources_changed(step, outcome)
        assert self.bus is not None
        record = {"step": step.id, "kind": str(step.kind), "summary": outcome.summary, "result": outcome.result,
                  "run": self.bus.run_id, "components": planned.key.to_json()}
        try:
            return store.put(planned.key.key, record, list(outcome.outputs), self.base, self.digests)
        except NotCached as missed:  # the step did its work; only caching it failed (state disk full, read-only)
            self.bus.emit("step-message", step=step.id, kind=str(Message.WARNING), text=missed.advice())
            return missed.record

    def _refuse_if_sources_changed(self, step: Step, outcome: Outcome) -> None:
        """A step is recorded only if every file its key claims is still as it was digested (plan/digests.py `changed`).

        Otherwise the step may have read something else than its key says (a clip replaced, even if put back since):
        its result is not cached and the files it wrote are removed, so the next run makes it again.
        """
        moved = self.digests.changed(files_claimed(self.keys(), self.recipe, step.id))
        if not moved:
            return
        removed = []
        for path in outcome.outputs:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(_shown(path, self.base))
        names = " and ".join(_shown(p, self.base) for p in moved[:3]) + (f" and {len(moved) - 3} more" if len(moved) > 3 else "")
        verb = "rendering" if step.kind == StepKind.EXPORT else "running"
        also = f" ({', '.join(removed)}, made while it changed, was removed)" if removed else ""
        raise SourceChanged(f"{names} changed while {step.id} was {verb}; its result was not cached; run again{also}")

    def _check_event(self, bus: EventBus, result: RunResult, step: Step, check: dict[str, Any], *, cached: bool) -> None:
        result.checks.append({**check, "step": step.id})
        bus.emit("check", step=step.id, target=step.spec.target.id, cached=cached, **check)

    def _finish(self, result: RunResult) -> None:
        """Remember how each step ended (for `explain` and the next plan) and save the digest memo."""
        keys = self._keys or {}
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for sid, status in result.steps.items():
            if sid in keys:
                err = next((m for s, m in result.errors if s == sid), None)
                self.last[sid] = LastRun(keys[sid].key, status, result.run_id, now, error=err)
        steps = {sid: {k: v for k, v in last.to_json().items() if v is not None} for sid, last in self.last.items()}
        with contextlib.suppress(OSError):
            write_json(self.state.last_file, {"format": 1, "recipe": str(self.recipe.path), "steps": steps})
        with contextlib.suppress(OSError):
            self.digests.save()

    # -- clean --------------------------------------------------------------
    def clean(self, *, dry_run: bool) -> dict[str, Any]:
        """Remove store entries no current key (of this recipe, or the last run of others sharing the store) uses."""
        keep = {k.key for k in self.keys().values()} | self.state.other_recipes_keys()
        removed, freed = [], 0
        for key in self.state.store.keys():
            if key in keep:
                continue
            record = self.state.store.get(key) or {}
            size = self.state.store.size(key)
            removed.append({"key": key, "step": record.get("step"), "bytes": size})
            freed += size
            if not dry_run:
                self.state.store.remove(key)
        if not dry_run:
            self.digests.save()
        return {"removed": removed, "bytes": freed, "dry_run": dry_run, "state_dir": str(self.state.root)}


@attrs.frozen
class StepDone:
    """What a step run in another process returns: its record, and what it said there (replayed by the client)."""

    record: dict[str, Any]
    events: tuple[dict[str, Any], ...] = ()  # step-message events (progress goes live through the executor's relay)
    checks: tuple[dict[str, Any], ...] = ()  # an expect step's checks, as evaluated
    error: Exception | None = None  # how the step failed there (raised here once what it said is replayed)


@attrs.frozen
class RemoteStep:
    """One planned step, as a picklable job for another process on a shared filesystem (the Dask executor's workers).

    It carries the checked recipe itself (paths absolute), so a worker runs exactly what the client planned, and the
    key the client planned: a worker that computes another key sees other files, and refuses.
    """

    recipe: Recipe
    options: RunOptions
    run_id: str
    step: str
    key: str
    cache: Path

    def __call__(self, relay: Callable[[dict[str, Any]], None] | None = None) -> StepDone:
        """Runs the step here; `relay` gets its step-progress events as they happen (the executor forwards them)."""
        return _remote_workspace(self).run_remote(self.step, self.key, relay)


_REMOTE: dict[tuple[str, str], Workspace] = {}  # (run id, recipe) → the workspace a worker process built for it
_REMOTE_LOCK = threading.Lock()
_REMOTE_KEEP = 4  # runs a worker keeps a workspace for (a cluster may serve several runs at once)


def _remote_workspace(job: RemoteStep) -> Workspace:
    """The workspace of the job's run in this process: built (engine started) by the first of its steps to arrive."""
    ident = (job.run_id, str(job.recipe.path))
    with _REMOTE_LOCK:
        ws = _REMOTE.get(ident)
        if ws is None:
            ws = Workspace(job.recipe, job.options, cache=job.cache)
            ws.bus = EventBus(job.run_id, [ws._collect])
            ws._steps(reporter=lambda sid: _BusReporter(ws.bus, sid), on_check=ws._collect_check)
            ws.engine.start()
            _REMOTE[ident] = ws
            for old in list(_REMOTE)[:-_REMOTE_KEEP]:
                with contextlib.suppress(Exception):
                    _REMOTE.pop(old).engine.close()
        return ws


_CANCELLED: set[str] = set()  # runs cancelled in this worker process: their steps are refused from now on


def cancel_remote_run(run_id: str) -> None:
    """Ctrl-C on the client (or a failure): stop the FFmpeg processes this worker process runs for that run."""
    with _REMOTE_LOCK:
        _CANCELLED.add(run_id)
        found = [_REMOTE.pop(ident) for ident in [i for i in _REMOTE if i[0] == run_id]]
    for ws in found:
        ws.engine.cancel()
        with contextlib.suppress(Exception):
            ws.engine.close()


def remote_run_cancelled(run_id: str | None) -> bool:
    """Was this run cancelled here (`cancel_remote_run`)?"""
    with _REMOTE_LOCK:
        return run_id in _CANCELLED


class _BusReporter:
    """A step's progress and messages, as events on the run's bus."""

    def __init__(self, bus: EventBus, step_id: str) -> None:
        self.bus = bus
        self.step_id = step_id

    def progress(self, done: float, total: float, phase: str, *, unit: str = "s", fps: float = 0.0, speed: float = 0.0,
                 finished: bool = False) -> None:
        self.bus.progress(self.step_id, done, total, fps, speed, phase, finished, unit)

    def message(self, kind: Message, text: str) -> None:
        self.bus.emit("step-message", step=self.step_id, kind=str(kind), text=text)


class _Quiet:
    """Reports nowhere: `nemoflow draft` prints only the Drafts."""

    def progress(self, done: float, total: float, phase: str, *, unit: str = "s", fps: float = 0.0, speed: float = 0.0,
                 finished: bool = False) -> None:
        return

    def message(self, kind: Message, text: str) -> None:
        return


def _journal_sink(journal: Journal, failed: list[OSError]) -> Sink:
    """The journal as a sink that stops at its first write error (a full state disk) instead of failing whoever emitted."""

    def write(event: dict[str, Any]) -> None:
        if failed:
            return
        try:
            journal.write(event)
        except OSError as exc:
            failed.append(exc)

    return write


def _read_last(data: Any) -> dict[str, LastRun]:
    """last.json, read as the untrusted file it is: entries without a key and a status are dropped."""
    steps = data.get("steps") if isinstance(data, dict) else None
    out: dict[str, LastRun] = {}
    for sid, entry in (steps.items() if isinstance(steps, dict) else ()):
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("status"), str):
            out[sid] = LastRun(entry["key"], entry["status"], _text(entry.get("run")), _text(entry.get("t")),
                               _number(entry.get("seconds")), _text(entry.get("error")))
    return out


def _shown(path: Path, base: Path) -> str:
    """A path as people read it: relative to the recipe's folder when it is under it."""
    return os.path.relpath(path, base) if base in path.parents else str(path)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
