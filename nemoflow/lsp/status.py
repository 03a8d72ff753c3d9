"""A step's cache status for hover: what `nemoflow plan` would say of it (run, cached, …, and why).

Planning hashes media and reads the state directory, which can take longer
than a hover may; so it runs on a worker thread (it reads no grammar, so it
may overlap a check), once per checked text, and a hover shows it when it is
ready. It writes nothing: no `.nemoflow/` appears because a recipe was hovered.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from ..core.model import Recipe


class Statuses:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nemoflow-plan")
        self._plans: dict[int, tuple[Recipe, Future]] = {}  # id(recipe) -> its plan (the recipe kept, so the id stays its)
        self._lock = threading.Lock()

    def of(self, recipe: Recipe, name: str, kind: str) -> str:
        """A line on the steps of a kind named `name`: their status and first reason, or that the plan is being worked out."""
        with self._lock:
            found = self._plans.get(id(recipe))
            if found is None:
                if len(self._plans) > 8:  # only the last few texts are hovered
                    self._plans.pop(next(iter(self._plans)))
                found = self._plans[id(recipe)] = (recipe, self._pool.submit(_plan, recipe))
        future = found[1]
        if not future.done():
            return "cache status: being worked out (hover again in a moment)"
        try:
            plan = future.result()
        except Exception as exc:  # a recipe that checks but cannot be planned here (an engine not installed, …)
            return f"cache status unknown: {exc}"
        lines = []
        for sid, planned in plan.steps.items():
            if recipe.steps[sid].name == name and recipe.steps[sid].kind == kind:
                why = planned.reasons[0].text if planned.reasons else ""
                lines.append(f"`{sid}`: **{planned.status}**" + (f" — {why}" if why else ""))
        shown = lines[:6] + ([f"… and {len(lines) - 6} more"] if len(lines) > 6 else [])
        return "\n".join(f"- {line}" for line in shown) if shown else ""

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _plan(recipe: Recipe):
    from ..run.workspace import Workspace  # the runner and the engines: loaded on the first hover that asks, not at start

    return Workspace(recipe).plan()
