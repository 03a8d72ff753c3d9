"""Which engine a run uses, where its state lives, and what the engine says it cannot run, before anything runs.

Light on purpose: `nemoflow check` asks this module for the engine's
diagnostics without loading the runner.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import cache_dir, setting
from ..core import engines
from ..core.diagnostics import Diagnostic
from ..core.model import Recipe
from ..engines.base import EngineContext, create
from ..errors import NemoflowError


class EngineChoiceError(NemoflowError):
    """--engine, NEMOFLOW_ENGINE or the config names no engine."""

    exit_code = 2


def choose_engine(recipe: Recipe, explicit: str | None) -> str:
    """--engine, else NEMOFLOW_ENGINE, else the recipe's `engine` statement, else `[run] engine`, else local."""
    for origin, value in (("--engine", explicit), ("NEMOFLOW_ENGINE", os.environ.get("NEMOFLOW_ENGINE")),
                          ("the recipe's `engine` statement", recipe.engine),
                          ("`[run] engine` in the config file", setting("run", "engine"))):
        if value:
            if value not in engines.names():
                raise EngineChoiceError(f"{origin} names the engine `{value}`; the engines are: {', '.join(engines.names())}")
            return value
    return engines.DEFAULT


def state_root(explicit: Path | None, base: Path) -> Path:
    """`--state-dir`, NEMOFLOW_STATE_DIR or `[run] state_dir` (relative to the recipe), else `.nemoflow/` beside it."""
    chosen = explicit or setting("run", "state_dir", env="NEMOFLOW_STATE_DIR")
    if not chosen:
        return base / ".nemoflow"
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else base / path


def engine_diagnostics(recipe: Recipe, engine: str | None = None) -> list[Diagnostic]:
    """What the engine a run would use says it cannot run (`nemoflow check` reports these; `plan` stops on them)."""
    chosen = create(choose_engine(recipe, engine), EngineContext(recipe, state_root(None, recipe.path.parent), cache_dir()))
    return [d for d in (chosen.diagnose(step) for step in recipe.steps.values()) if d is not None]
