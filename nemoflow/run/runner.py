"""The runner: plan a recipe against its cache, then run what changed, in parallel.

A `Workspace` is one recipe with its state directory. `plan()` computes every
step's key and says, per step, run / cached / restore / blocked / error, with
reasons; `run()` takes the recipe's lock, journals, runs the planned work on
the executor and records each finished step in the store; `explain()` says
which key component changed; `clean()` drops store entries no key uses.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ..config import setting
from ..core import engines
from ..core.graph import topological_order
from ..core.model import Recipe, Step
from ..errors import NemoflowError
from ..plan.digests import DigestMemo
from ..plan.keys import StepKey, compute_keys, describe_change, describe_value
from .events import EventBus, Sink, new_run_id
from .executor import CPU, NET, Executor, Hooks, Task, TaskResult
from .journal import Interrupted, Journal, last_interrupted
from .lock import RunLock
from .store import StateDir, read_json, write_json

STATUSES = ("run", "restore", "cached", "blocked", "error")


class TargetError(NemoflowError):
    exit_code = 2


class StateError(NemoflowError):
    exit_code = 2


class ChecksFailed(NemoflowError):
    """An expect step whose assertions did not all hold (each one is reported as a `check` event)."""

    exit_code = 1


@attrs.define
class RunOptions:
    targets: tuple[str, ...] = ()
    force: tuple[str, ...] = ()
    jobs: int | None = None  # default: twice the cores, at least 4 (renders are limited by the cpu budget)
    cpus: int | None = None  # cpu budget; default: the cores this machine has
    keep_going: bool = False
    state_dir: Path | None = None
    retries: int = 3  # for steps the engine marks retryable (network)
    engine: str | None = None  # local | nemo; default: NEMOFLOW_ENGINE, the recipe's `engine`, `[run] engine`, else local
    api_url: str | None = None  # the nemo engine's service address (--api-url)


@attrs.frozen
class PlannedStep:
    id: str
    kind: str
    status: str  # one of STATUSES
    reasons: tuple[str, ...]
    key: StepKey
    record: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"step": self.id, "kind": self.kind, "status": self.status, "reasons": list(self.reasons), "key": self.key.key}


@attrs.frozen
class Plan:
    steps: dict[str, PlannedStep]  # in dependency order

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.steps.values())

    @property
    def changes(self) -> bool:
        return any(s.status in ("run", "restore") for s in self.steps.values())

    @property
    def errors(self) -> bool:
        return any(s.status in ("error", "blocked") for s in self.steps.values())


@attrs.define
class RunResult:
    run_id: str
    status: str = "ok"  # ok | failed | interrupted
    exit_code: int = 0
    seconds: float = 0.0
    steps: dict[str, str] = attrs.field(factory=dict)  # step → final status
    checks: list[dict[str, Any]] = attrs.field(factory=list)
    errors: list[tuple[str, str]] = attrs.field(factory=list)  # (step, message)

    def count(self, status: str) -> int:
        return sum(s == status for s in self.steps.values())


def default_jobs() -> int:
    return max(4, 2 * (os.cpu_count() or 1))


class Workspace:
    """One recipe and its `.nemoflow/` state: plan, run, explain, clean."""

    def __init__(self, recipe: Recipe, options: RunOptions | None = None) -> None:
        self.recipe = recipe
        self.options = options or RunOptions()
        self.base = recipe.path.resolve().parent
        self.state = StateDir(_state_root(self.options.state_dir, self.base), recipe.path)
        self.digests = DigestMemo(self.state.digests_file)
        self.engine = self._make_engine(choose_engine(recipe, self.options.engine))
        self.order = topological_order(recipe)
        self.last: dict[str, Any] = (read_json(self.state.last_file) or {}).get("steps", {})
        self._keys: dict[str, StepKey] | None = None
        self._records: dict[str, dict[str, Any]] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.bus: EventBus | None = None

    def _make_engine(self, name: str):
        if name == "nemo":
            from ..engines.nemo.engine import NemoEngine
            from ..engines.nemo.settings import NemoSettings

            return NemoEngine(self.recipe, state_dir=self.state.recipe_dir, settings=NemoSettings.load(self.options.api_url),
                              on_progress=self._on_progress, on_message=self._on_message, cached=self._cached_result,
                              key_of=lambda sid: self.keys()[sid].key)
        from ..engines.local.engine import LocalEngine

        return LocalEngine(self.recipe, on_progress=self._on_progress, cached=self._cached_result, on_message=self._on_message,
                           digest_of=self.digests.digest)

    # -- keys and plans ------------------------------------------------------
    def keys(self) -> dict[str, StepKey]:
        if self._keys is None:
            self._keys = compute_keys(self.recipe, self.order, self.digests, self.engine.identity(self.digests),
                                      self.engine.step_identity)
        return self._keys

    def select(self) -> set[str]:
        """The steps a run covers: all, or the targets, what they need, and the expect blocks checking them."""
        if not self.options.targets:
            return set(self.order)
        chosen: set[str] = set()
        for target in self.options.targets:
            matched = self.match(target)
            if not matched:
                raise self._unknown(target)
            chosen.update(matched)
        closure: set[str] = set()
        stack = list(chosen)
        while stack:
            sid = stack.pop()
            if sid not in closure:
                closure.add(sid)
                stack.extend(self.recipe.steps[sid].inputs)
        for step in self.recipe.by_kind("expect"):
            if step.spec.target.id in closure:
                closure.add(step.id)
        return closure

    def match(self, pattern: str) -> list[str]:
        """Step ids a target or --force names: `export.final`, `export.final[a]`, `final`, or a glob like `export.*`."""
        ids = self.order
        if pattern in ("*", "all"):
            return list(ids)
        if any(c in pattern for c in "*?[") and pattern not in self.recipe.steps:
            return [s for s in ids if fnmatch.fnmatchcase(s, pattern)]
        return [s for s in ids if s == pattern or s.split("[")[0] == pattern or self.recipe.steps[s].name == pattern]

    def _unknown(self, name: str, option: str = "") -> TargetError:
        from ..core.diagnostics import suggestion

        hint = suggestion(name, self.recipe.steps) or "steps: " + ", ".join(self.order[:12])
        return TargetError(f"{option}no step `{name}` in {self.recipe.path}; {hint} (`nemoflow graph FILE` lists them all)")

    def plan(self, selected: set[str] | None = None) -> Plan:
        keys = self.keys()
        selected = self.select() if selected is None else selected
        forced = {s for pattern in self.options.force for s in self._forced(pattern)}
        out: dict[str, PlannedStep] = {}
        for sid in self.order:
            if sid not in selected:
                continue
            step, key = self.recipe.steps[sid], keys[sid]
            problem = self.engine.cannot_run(step)
            stuck = next((d for d in step.inputs if d in out and out[d].status in ("error", "blocked")), None)
            if problem:
                where = f"{step.span.file}:{step.span.line}:{step.span.column}"
                out[sid] = PlannedStep(sid, step.kind, "error", (f"{where}: {problem}",), key)
            elif stuck:
                out[sid] = PlannedStep(sid, step.kind, "blocked", (f"needs {stuck}, which cannot run",), key)
            elif sid in forced:
                out[sid] = PlannedStep(sid, step.kind, "run", ("forced with --force",), key)
            else:
                out[sid] = self._status(step, key)
        return Plan(out)

    def _forced(self, pattern: str) -> list[str]:
        matched = self.match(pattern)
        if not matched:
            raise self._unknown(pattern, "--force ")
        return matched

    def _status(self, step: Step, key: StepKey) -> PlannedStep:
        record = self.state.store.get(key.key)
        if record is None:
            return PlannedStep(step.id, step.kind, "run", self._why(step.id, key), key)
        self._records[key.key] = record
        found = self.state.store.check_outputs(record, self.base, self.digests)
        if found.ok:
            return PlannedStep(step.id, step.kind, "cached", ("unchanged",), key, record)
        if found.restorable:
            return PlannedStep(step.id, step.kind, "restore", (f"{found.reason}; a copy is in the cache",), key, record)
        return PlannedStep(step.id, step.kind, "run", (found.reason,), key, record)

    def _why(self, sid: str, key: StepKey) -> tuple[str, ...]:
        prev = self.last.get(sid)
        if not isinstance(prev, dict):
            return ("not run before",)
        before = self.state.store.components(prev.get("key", ""))
        if before is not None:
            changes = [c.reason for c in diff_components(before, key.components, self.recipe.steps.get(sid))]
            if changes:
                return tuple(changes)
        status = prev.get("status")
        if status == "failed":
            return (f"failed in the last run: {(prev.get('error') or '').splitlines()[0][:120]}",)
        if status in ("interrupted", "cancelled"):
            return ("did not finish in the last run",)
        if before is None and prev.get("key") != key.key:
            return ("changed since the last run (its details were cleaned from the cache)",)
        return ("no result in the cache (cleaned, or another state directory)",)

    def save_memo(self) -> None:
        """Keep digests computed while planning (only where a state directory already exists: plan creates none)."""
        if self.state.exists():
            with contextlib.suppress(OSError):
                self.digests.save()

    # -- explain ------------------------------------------------------------
    def explain(self, sid: str) -> dict[str, Any]:
        """Why `sid` runs or not: its status and which key components changed since it last ran, down to the root cause."""
        matched = self.match(sid) if sid not in self.recipe.steps else [sid]
        if not matched:
            raise self._unknown(sid)
        if len(matched) != 1:
            raise TargetError(f"`{sid}` names {len(matched)} steps ({', '.join(matched[:6])}); name one")
        sid = matched[0]
        planned = self.plan(set(self.order)).steps[sid]
        prev = self.last.get(sid) if isinstance(self.last.get(sid), dict) else None
        out: dict[str, Any] = {"step": sid, "status": planned.status, "reasons": list(planned.reasons), "key": planned.key.key,
                               "last": None, "changes": []}
        if prev is not None:
            out["last"] = {k: prev.get(k) for k in ("run", "t", "status", "key", "seconds", "error")}
            out["changes"] = self._changes(sid, prev.get("key", ""), depth=0)
        return out

    def _changes(self, sid: str, old_key: str, depth: int) -> list[dict[str, Any]]:
        keys = self.keys()
        before = self.state.store.components(old_key)
        if before is None or old_key == keys[sid].key:
            return []
        out = []
        for change in diff_components(before, keys[sid].components, self.recipe.steps[sid]):
            item = change.to_json()
            if change.input and depth < 20:
                item["because"] = self._changes(change.input, change.before or "", depth + 1)
            out.append(item)
        return out

    # -- running ------------------------------------------------------------
    def run(self, sinks: list[Sink]) -> RunResult:
        from ..engines.local.ffmpeg import allow_start

        try:
            self.state.create()
        except OSError as exc:
            raise StateError(f"cannot write nemoflow's state directory {self.state.root} ({exc.strerror or exc}); "
                             "make it writable, or put the state elsewhere with --state-dir DIR or NEMOFLOW_STATE_DIR") from None
        bus = self.bus = EventBus(new_run_id(), sinks)
        result = RunResult(bus.run_id)
        started = time.monotonic()
        notes: list[str] = []  # said while taking the lock, reported after run-started
        with RunLock(self.state.lock_file, say=notes.append):
            journal = Journal(self.state.journal_dir, bus.run_id)
            previous = last_interrupted(self.state.journal_dir, exclude=journal.path)
            bus.sinks.append(journal.write)
            allow_start()
            plan: Plan | None = None
            try:
                bus.emit("run-started", recipe=str(self.recipe.path), pid=os.getpid(), engine=self.engine.name,
                         jobs=self._jobs(), cpus=self._cpus(), targets=list(self.options.targets),
                         state_dir=str(self.state.root), resumed_from=previous.run if previous else None)
                for note in notes:
                    bus.emit("note", message=note)
                if previous is not None:
                    self._recover(previous, bus)
                plan = self.plan()
                for planned in plan.steps.values():
                    bus.emit("plan", **planned.to_json())
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
                self._finish(plan, result)
                bus.emit("run-finished", status=result.status, exit_code=result.exit_code, seconds=round(result.seconds, 3),
                         counts={s: result.count(s) for s in ("ok", "cached", "restored", "failed", "blocked", "cancelled")},
                         checks={"passed": sum(c["ok"] for c in result.checks), "failed": sum(not c["ok"] for c in result.checks)})
                journal.close()
                self.engine.close()
        return result

    def _jobs(self) -> int:
        return self.options.jobs or int(setting("run", "jobs", env="NEMOFLOW_JOBS", default=0) or 0) or default_jobs()

    def _cpus(self) -> int:
        return self.options.cpus or (os.cpu_count() or 1)

    def _recover(self, previous: Interrupted, bus: EventBus) -> None:
        """A killed run: say so, drop the partial files of what it was rendering, remember how its steps ended."""
        removed = []
        for sid in previous.unfinished:
            step = self.recipe.steps.get(sid)
            if step is not None and step.kind == "export":
                dest: Path = step.spec.path
                for partial in dest.parent.glob(f".{glob.escape(dest.stem)}.*.partial{dest.suffix}"):
                    with contextlib.suppress(OSError):
                        partial.unlink()
                        removed.append(partial.name)
        for event in previous.events:
            sid = event.get("step")
            if event.get("event") == "step-started" and sid:
                self.last[sid] = {"key": event.get("key"), "status": "interrupted", "run": previous.run, "t": event.get("t")}
            elif event.get("event") == "step-finished" and sid and event.get("status") != "cached":
                self.last[sid] = {"key": event.get("key"), "status": event.get("status"), "run": previous.run,
                                  "t": event.get("t"), "seconds": event.get("seconds"), "error": event.get("error")}
        what = ", ".join(previous.unfinished) or "no step"
        bus.emit("note", message=f"the previous run ({previous.run}, pid {previous.pid}) was killed while running {what}; "
                                 f"its {len(previous.finished)} finished steps are cached, unfinished ones run again"
                                 + (f" (removed {len(removed)} partial file{'s' if len(removed) != 1 else ''})" if removed else ""))

    def _execute(self, plan: Plan, bus: EventBus, result: RunResult) -> None:
        tasks = []
        position = {sid: i for i, sid in enumerate(self.order)}
        for planned in plan.steps.values():
            step = self.recipe.steps[planned.id]
            if planned.status == "cached":
                record = planned.record or {}
                result.steps[planned.id] = "cached"
                bus.emit("step-finished", step=planned.id, kind=step.kind, key=planned.key.key, status="cached", seconds=0.0,
                         outputs=[str(self.base / o["path"]) for o in record.get("outputs", [])], summary=record.get("summary", ""))
                for check in record.get("result", {}).get("checks", []) if step.kind == "expect" else []:
                    self._check_event(bus, result, step, check, cached=True)
            elif planned.status in ("error", "blocked"):
                status = "failed" if planned.status == "error" else "blocked"
                result.steps[planned.id] = status
                if status == "failed":
                    result.errors.append((planned.id, planned.reasons[0]))
                    result.exit_code = 2
                bus.emit("step-finished", step=planned.id, kind=step.kind, key=planned.key.key, status=status, seconds=0.0,
                         outputs=[], error=planned.reasons[0], exit_code=2 if status == "failed" else None)
            else:
                resource, demand = self.engine.resources(step)
                tasks.append(Task(planned.id, tuple(d for d in step.inputs if d in plan.steps), self._work(planned, bus, result),
                                  priority=position[planned.id], resource=resource, demand=demand,
                                  retries=self.options.retries if resource == NET else 0))
        if not tasks:
            self._settle(result)
            return

        def started(task: Task, attempt: int) -> None:
            step = self.recipe.steps[task.id]
            bus.emit("step-started", step=task.id, kind=step.kind, key=plan.steps[task.id].key.key, attempt=attempt,
                     resource=task.resource, demand=task.demand, action=plan.steps[task.id].status)

        def finished(task: Task, done: TaskResult) -> None:
            step = self.recipe.steps[task.id]
            fields: dict[str, Any] = {"outputs": [], "summary": ""}
            status = done.status
            if done.status == "ok":
                status, record = done.value
                fields.update(outputs=[str(self.base / o["path"]) for o in record.get("outputs", [])], summary=record.get("summary", ""))
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
                fields.update(error=f"not run: {done.blocked_by} failed")
            result.steps[task.id] = status
            bus.emit("step-finished", step=task.id, kind=step.kind, key=plan.steps[task.id].key.key, status=status,
                     seconds=round(done.seconds, 3), attempts=done.attempts, **fields)

        def retrying(task: Task, attempt: int, error: BaseException, wait: float) -> None:
            bus.emit("step-retry", step=task.id, attempt=attempt, error=str(error), wait=round(wait, 2))

        budgets = {CPU: self._cpus(), NET: 8}
        executor = Executor(jobs=self._jobs(), budgets=budgets, keep_going=self.options.keep_going,
                            hooks=Hooks(started=started, finished=finished, retrying=retrying, cancel=self.engine.cancel))
        executor.run(tasks)
        self._settle(result)

    def _settle(self, result: RunResult) -> None:
        failed = any(s in ("failed", "cancelled") for s in result.steps.values()) or any(not c["ok"] for c in result.checks)
        if failed:
            result.status = "failed"
            result.exit_code = result.exit_code or 1

    def _work(self, planned: PlannedStep, bus: EventBus, result: RunResult) -> Callable[[int], tuple[str, dict]]:
        step = self.recipe.steps[planned.id]
        store = self.state.store

        def work(attempt: int) -> tuple[str, dict]:
            if planned.status == "restore" and planned.record is not None and store.restore(planned.record, self.base, self.digests):
                return "restored", planned.record
            with self._key_lock(planned.key.key):  # steps with equal keys (identical fan-out items) run once
                if "forced with --force" not in planned.reasons:
                    done = store.get(planned.key.key)
                    if done is not None and store.check_outputs(done, self.base, self.digests).ok:
                        return "cached", done
                return "ok", self._run_and_record(planned, step, bus, result)

        return work

    def _key_lock(self, key: str) -> threading.Lock:
        with self._locks_lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _run_and_record(self, planned: PlannedStep, step: Step, bus: EventBus, result: RunResult) -> dict:
        store = self.state.store
        if step.kind == "export":  # long enough to be killed: keep its key's parts for explain
            store.note_components(planned.key.key, planned.key.components)
        if step.kind == "expect":
            outcome_result, outputs, summary = self._expect(step, bus, result)
        else:
            outcome = self.engine.run_step(step)
            outcome_result, outputs, summary = outcome.result, list(outcome.outputs), outcome.summary
        record = {"step": step.id, "kind": step.kind, "summary": summary, "result": outcome_result, "run": bus.run_id,
                  "components": planned.key.components}
        return store.put(planned.key.key, record, outputs, self.base, self.digests)

    def _expect(self, step: Step, bus: EventBus, result: RunResult) -> tuple[dict, list[Path], str]:
        from .expect import evaluate

        target = self.recipe.steps[step.spec.target.id]
        path: Path = target.spec.path
        if not path.is_file():
            raise ChecksFailed(f"{step.id}: {os.path.relpath(path)} does not exist, so nothing could be checked")
        checks = []
        for res in evaluate(path, step.spec.checks):
            item = {"check": res.expected, "ok": res.ok, "expected": res.expected, "actual": res.actual,
                    "file": res.check.span.file, "line": res.check.span.line}
            checks.append(item)
            self._check_event(bus, result, step, item, cached=False)
        bad = [c for c in checks if not c["ok"]]
        if bad:
            raise ChecksFailed(f"{len(bad)} of {len(checks)} checks failed in {step.id}: "
                               + "; ".join(f"{c['check']} (actual: {c['actual']})" for c in bad))
        return {"checks": checks}, [], f"{len(checks)} checks passed"

    def _check_event(self, bus: EventBus, result: RunResult, step: Step, check: dict[str, Any], *, cached: bool) -> None:
        result.checks.append({**check, "step": step.id})
        bus.emit("check", step=step.id, target=step.spec.target.id, cached=cached, **check)

    def _on_progress(self, step_id: str, snapshot, total: float, phase: str, unit: str = "s") -> None:
        if self.bus is not None:
            self.bus.progress(step_id, snapshot.seconds, total, snapshot.fps, snapshot.speed, phase, snapshot.done, unit)

    def _on_message(self, step_id: str, kind: str, text: str) -> None:
        """What a cloud step says: the agent's text, its function calls, heartbeats, notes (schemas/events.schema.json)."""
        if self.bus is not None:
            self.bus.emit("step-message", step=step_id, kind=kind, text=text)

    def _cached_result(self, sid: str) -> dict[str, Any] | None:
        """An input's result from the store, so a step that runs can build on steps that did not."""
        if self._keys is None or sid not in self._keys:
            return None
        key = self._keys[sid].key
        record = self._records.get(key) or self.state.store.get(key)
        return record.get("result") if record else None

    def _finish(self, plan: Plan | None, result: RunResult) -> None:
        """Remember how each step ended (for `explain` and the next plan) and save the digest memo."""
        keys = self._keys or {}
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for sid, status in result.steps.items():
            if sid in keys:
                entry = {"key": keys[sid].key, "status": status, "run": result.run_id, "t": now}
                err = next((m for s, m in result.errors if s == sid), None)
                if err:
                    entry["error"] = err
                self.last[sid] = entry
        with contextlib.suppress(OSError):
            write_json(self.state.last_file, {"format": 1, "recipe": str(self.recipe.path), "steps": self.last})
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
class Change:
    component: str
    kind: str  # changed | added | removed
    before: str | None
    after: str | None
    reason: str
    input: str | None = None  # the input step, for `input X` components

    def to_json(self) -> dict[str, Any]:
        return {"component": self.component, "change": self.kind, "before": self.before, "after": self.after,
                "reason": self.reason}


def diff_components(before: dict[str, str], after: dict[str, str], step: Step | None) -> list[Change]:
    """What differs between two keys' components, in words: "param size changed: 3840x2160 → 1920x1080"."""
    out = []
    media = step is not None and step.kind == "media"
    for name in list(dict.fromkeys([*after, *before])):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        kind = "added" if old is None else "removed" if new is None else "changed"
        label = name
        if name.startswith(("clause ", "check ")):
            what, number, verb = name.split(" ", 2)
            label = f"{what} {number} (`{verb}`)"
        if name.startswith("file "):
            path = name[5:]
            label = f"media {path}" if media else f"file {path}"
            reason = f"{label} {'content changed' if kind == 'changed' else kind}"
        elif name.startswith("input "):
            reason = f"input {name[6:]} {kind}"
        elif name in ("engine", "ffmpeg"):
            reason = f"{'FFmpeg' if name == 'ffmpeg' else 'engine'} {kind}: {old} → {new}" if kind == "changed" else f"{name} {kind}"
        elif name == "format":
            reason = "nemoflow's cache format changed"
        elif kind == "changed":
            reason = f"{label} changed: {describe_change(old, new)}"
        else:
            reason = f"{label} {kind}" + (f": {describe_value(new)}" if new is not None else "")
        out.append(Change(name, kind, old, new, reason, name[6:] if name.startswith("input ") else None))
    return out


def choose_engine(recipe: Recipe, explicit: str | None) -> str:
    """--engine, else NEMOFLOW_ENGINE, else the recipe's `engine` statement, else `[run] engine`, else local."""
    for origin, value in (("--engine", explicit), ("NEMOFLOW_ENGINE", os.environ.get("NEMOFLOW_ENGINE")),
                          ("the recipe's `engine` statement", getattr(recipe, "engine", None)),
                          ("`[run] engine` in the config file", setting("run", "engine"))):
        if value:
            if value not in engines.names():
                raise TargetError(f"{origin} names the engine `{value}`; the engines are: {', '.join(engines.names())}")
            return value
    return "local"


def _state_root(explicit: Path | None, base: Path) -> Path:
    """`--state-dir`, NEMOFLOW_STATE_DIR or `[run] state_dir` (relative to the recipe), else `.nemoflow/` beside it."""
    chosen = explicit or setting("run", "state_dir", env="NEMOFLOW_STATE_DIR")
    if not chosen:
        return base / ".nemoflow"
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else base / path
