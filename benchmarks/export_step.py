"""Time one recipe's export steps inside a single nemoflow process, without interpreter start-up or the recipe check.

Used by render.py to measure the smart cut itself: `nemoflow run` adds a fixed
~0.4 s (Python, imports, checking the recipe, probing the media) that has
nothing to do with how the export is done. Prints `export_seconds=<s>`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from nemoflow.engines.local.engine import LocalEngine
from nemoflow.lang.check import check_file


def main(recipe_path: str) -> int:
    recipe = check_file(Path(recipe_path), {}, None, display=recipe_path)
    engine = LocalEngine(recipe)
    engine.media_entries()  # probing and validation happen before any export in a real run too
    total = 0.0
    for step in recipe.by_kind("export"):
        engine.export_draft(step)
        start = time.perf_counter()
        result = engine.export(step)
        total += time.perf_counter() - start
        print(f"{step.id}: {result.method} {result.detail}", file=sys.stderr)
    print(f"export_seconds={total:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
