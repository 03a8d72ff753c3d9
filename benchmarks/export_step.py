"""Time one recipe's export steps inside a single nemoflow process, without interpreter start-up or the recipe check.

Used by render.py to measure the smart cut itself: `nemoflow run` adds a fixed
~0.4 s (Python, imports, checking the recipe, probing the media) that has
nothing to do with how the export is done. Prints `export_seconds=<s>` and,
per export, `method=<render|smartcut>` (how the file was made: render.py
checks it, so a timing is never of something else).

    python benchmarks/export_step.py RECIPE STATE_DIR   (STATE_DIR: a new directory, so nothing is read from a cache;
                                                         an existing non-empty one is refused)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from nemoflow.core.model import StepKind
from nemoflow.lang.check import check_file
from nemoflow.run.workspace import RunOptions, Workspace


def main(recipe_path: str, state_dir: str) -> int:
    if Path(state_dir).exists() and any(Path(state_dir).iterdir()):
        print(f"export_step.py: {state_dir} is not empty; give a new directory, so nothing comes from a cache", file=sys.stderr)
        return 2
    recipe = check_file(Path(recipe_path), {}, None, display=recipe_path)
    with Workspace(recipe, RunOptions(state_dir=Path(state_dir))).reading() as steps:
        for media in recipe.by_kind(StepKind.MEDIA):
            steps.media(media.id)  # probing and validation happen before any export in a real run too
        total = 0.0
        for step in recipe.by_kind(StepKind.EXPORT):
            steps.export_draft(step)
            start = time.perf_counter()
            outcome = steps.run(step)
            total += time.perf_counter() - start
            print(f"{step.id}: {outcome.result['method']} {outcome.result['detail']}", file=sys.stderr)
            print(f"method={outcome.result['method']}")
    print(f"export_seconds={total:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
