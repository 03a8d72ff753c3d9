"""The executor with fake tasks: concurrency, resource budgets, failure handling, retries. No timing assertions:
concurrency is observed by tasks waiting for each other (an Event with a generous timeout)."""

from __future__ import annotations

import threading

import pytest

from nemoflow.errors import RenderError, TransientError
from nemoflow.run.executor import CPU, NET, Executor, Hooks, Task


class Meter:
    """Counts how many tasks are inside at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.order: list[str] = []

    def task(self, tid: str, *, deps=(), wait_for: threading.Event | None = None, signal: threading.Event | None = None,
             resource: str = "light", demand: int = 1, priority: int = 0, fail: Exception | None = None) -> Task:
        def run(attempt: int):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
                self.order.append(tid)
            try:
                if signal is not None:
                    signal.set()
                if wait_for is not None:
                    wait_for.wait(timeout=2)
                if fail is not None:
                    raise fail
                return tid
            finally:
                with self.lock:
                    self.now -= 1

        return Task(tid, tuple(deps), run, priority=priority, resource=resource, demand=demand)


def test_independent_tasks_overlap_up_to_jobs():
    m = Meter()
    a_in, b_in = threading.Event(), threading.Event()
    tasks = [m.task("a", signal=a_in, wait_for=b_in), m.task("b", signal=b_in, wait_for=a_in)]
    results = Executor(jobs=2, budgets={CPU: 2}).run(tasks)
    assert {r.status for r in results.values()} == {"ok"} and m.peak == 2


def test_one_job_runs_one_task_at_a_time_in_priority_order():
    m = Meter()
    tasks = [m.task(t, priority=p) for t, p in (("c", 2), ("a", 0), ("b", 1))]
    Executor(jobs=1, budgets={CPU: 2}).run(tasks)
    assert m.peak == 1 and m.order == ["a", "b", "c"]


def test_heavy_renders_do_not_share_the_cores_unless_the_budget_allows():
    m = Meter()
    tasks = [m.task(t, resource=CPU, demand=2) for t in ("r1", "r2")]
    Executor(jobs=4, budgets={CPU: 2}).run(tasks)
    assert m.peak == 1  # -j 4 on 2 cores: still one 4K encode at a time
    m2 = Meter()
    e1, e2 = threading.Event(), threading.Event()
    tasks = [m2.task("r1", resource=CPU, demand=2, signal=e1, wait_for=e2), m2.task("r2", resource=CPU, demand=2, signal=e2, wait_for=e1)]
    Executor(jobs=4, budgets={CPU: 4}).run(tasks)  # asked for: --cpus 4
    assert m2.peak == 2


def test_light_and_network_steps_overlap_a_heavy_render():
    m = Meter()
    go = threading.Event()
    started = [threading.Event() for _ in range(3)]
    tasks = [m.task("render", resource=CPU, demand=2, signal=started[0], wait_for=go),
             m.task("upload", resource=NET, signal=started[1], wait_for=go),
             m.task("probe", signal=started[2], wait_for=go)]

    def release():
        for e in started:
            e.wait(timeout=2)
        go.set()

    threading.Thread(target=release).start()
    Executor(jobs=4, budgets={CPU: 2, NET: 8}).run(tasks)
    assert m.peak == 3


def test_dependencies_run_first():
    m = Meter()
    tasks = [m.task("export", deps=("edit",)), m.task("edit", deps=("media",)), m.task("media")]
    results = Executor(jobs=4, budgets={}).run(tasks)
    assert m.order == ["media", "edit", "export"] and all(r.status == "ok" for r in results.values())


def test_a_failure_stops_the_run_and_blocks_dependents():
    m = Meter()
    cancelled = []
    tasks = [m.task("bad", fail=RenderError("boom"), priority=0), m.task("after", deps=("bad",)),
             m.task("other", priority=5)]
    results = Executor(jobs=1, budgets={}, hooks=Hooks(cancel=lambda: cancelled.append(True))).run(tasks)
    assert results["bad"].status == "failed" and str(results["bad"].error) == "boom"
    assert results["after"].status == "blocked" and results["after"].blocked_by == "bad"
    assert results["other"].status == "cancelled" and cancelled == [True]


def test_keep_going_runs_what_does_not_need_the_failure():
    m = Meter()
    tasks = [m.task("bad", fail=RenderError("boom")), m.task("after", deps=("bad",)), m.task("other", priority=5)]
    results = Executor(jobs=1, budgets={}, keep_going=True).run(tasks)
    assert results["other"].status == "ok" and results["after"].status == "blocked"


def test_transient_errors_are_retried_with_backoff_others_are_not():
    calls = {"net": 0, "local": 0}
    retries = []

    def flaky(attempt):
        calls["net"] += 1
        if attempt < 3:
            raise TransientError("connection reset")
        return "ok"

    def broken(attempt):
        calls["local"] += 1
        raise RenderError("bad graph")

    hooks = Hooks(retrying=lambda task, attempt, error, wait: retries.append((task.id, attempt, str(error), wait)))
    tasks = [Task("net", (), flaky, resource=NET, retries=3), Task("local", (), broken, retries=3)]
    results = Executor(jobs=2, budgets={}, keep_going=True, hooks=hooks, backoff=0.01).run(tasks)
    assert results["net"].status == "ok" and results["net"].attempts == 3 and calls["net"] == 3
    assert [r[:3] for r in retries] == [("net", 1, "connection reset"), ("net", 2, "connection reset")]
    assert all(0 < r[3] < 1 for r in retries)
    assert results["local"].status == "failed" and calls["local"] == 1


def test_retries_give_up_after_the_limit():
    def always(attempt):
        raise TransientError("503")

    results = Executor(jobs=1, budgets={}, backoff=0.001).run([Task("net", (), always, resource=NET, retries=2)])
    assert results["net"].status == "failed" and results["net"].attempts == 3


def test_interrupt_cancels_running_tasks_and_reraises(monkeypatch):
    gate = threading.Event()
    cancelled = threading.Event()

    def slow(attempt):
        gate.wait(timeout=5)
        if cancelled.is_set():
            raise RenderError("killed")
        return "ok"

    def cancel():
        cancelled.set()
        gate.set()

    import nemoflow.run.executor as ex

    real_wait = ex.wait
    calls = {"n": 0}

    def interrupting_wait(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(ex, "wait", interrupting_wait)
    finished = []
    with pytest.raises(KeyboardInterrupt):
        Executor(jobs=1, budgets={}, hooks=Hooks(cancel=cancel, finished=lambda t, r: finished.append((t.id, r.status)))).run(
            [Task("render", (), slow)])
    assert cancelled.is_set() and finished == [("render", "cancelled")]
