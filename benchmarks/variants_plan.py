"""Variants from a table (issue 21): `plan` time for a 1,000-row table, and renders after a one-cell change.

1. `nemoflow plan` on a recipe that fans a 1,000-row CSV out into 2,001 steps (target: ≤ 1 s, median),
   measured interleaved with two references in the same run: `python -c pass`, and the same 2,001 steps
   written out by hand (no table), so the table's own cost shows. It asserts the plan really planned
   1,000 rows (2,001 steps, "1000 new").
2. A real render with the local engine of a few rows (320x180, 1 s each), one cell edited, run again:
   the exports started are counted from the run journal (target: exactly 1).

    python benchmarks/variants_plan.py [--runs 7] [--rows 5] [--assert]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEDIA = "media src = pattern testsrc duration 10s size 320x180 fps 30 tone 440hz\n"
BODY = """  edit cut {{
    video src from {start} to {end}
    title "{title}" from 0s to 1s color {tint}
    volume {volume}
  }}
  export ad = cut {{
    size 320x180
    quality draft
    save "out/{key}.mp4"
  }}
"""


def rows(n: int) -> list[dict[str, str]]:
    return [{"sku": f"sku-{i}", "title": f"Product {i}", "start": f"{i % 3}s", "end": f"{i % 3 + 1}s",
             "volume": f"{30 + i % 50}%", "tint": f"#{i % 256:02x}8040"} for i in range(n)]


def table_project(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = rows(n)
    lines = [",".join(data[0])] + [",".join(r.values()) for r in data]
    (folder / "shots.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    body = BODY.format(start="$row.start", end="$row.end", title="${row.title}", tint="$row.tint", volume="$row.volume",
                       key="${row}")
    path = folder / "table.nemo"
    path.write_text("nemo 1\n" + MEDIA + 'for row in table("shots.csv") key row.sku {\n' + body + "}\n", encoding="utf-8")
    return path


def written_out(folder: Path, n: int) -> Path:
    """The reference: the same steps without a table, one block per row written out (distinct names)."""
    parts = ["nemo 1\n", MEDIA]
    for r in rows(n):
        block = BODY.format(start=r["start"], end=r["end"], title=r["title"], tint=r["tint"], volume=r["volume"], key=r["sku"])
        parts.append(block.replace("edit cut", f"edit cut_{r['sku']}").replace("export ad = cut", f"export ad_{r['sku']} = cut_{r['sku']}")
                     .replace("\n  ", "\n").lstrip())
    path = folder / "written.nemo"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def plan_time(exe: str, runs: int, folder: Path) -> tuple[dict[str, float], list[str]]:
    table = table_project(folder / "plan", 1000)
    reference = written_out(folder / "plan", 1000)
    cases = {"python -c pass (reference)": [sys.executable, "-c", "pass"],
             "nemoflow plan, 2,001 steps written out (reference)": [exe, "plan", str(reference)],
             "nemoflow plan, 1,000-row table": [exe, "plan", str(table)]}
    _, out = timed(cases["nemoflow plan, 1,000-row table"])  # warm, and prove it planned every row
    problems = []
    if "2001 to run" not in out or "1000 new" not in out:
        problems.append(f"the plan did not plan 1,000 rows: {out.splitlines()[-2:]}")
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, cmd in cases.items():
            samples[name].append(timed(cmd)[0])
    return {name: statistics.median(s) for name, s in samples.items()}, problems


def _started(project: Path) -> list[str]:
    journal = max((project / ".nemoflow" / "recipes").glob("*/journal/*.jsonl"), key=lambda p: p.stat().st_mtime_ns)
    events = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [e["step"] for e in events if e.get("event") == "step-started" and e["step"].startswith("export.")]


def one_cell(exe: str, n: int, folder: Path) -> tuple[int, int, float, float]:
    """(exports in the first run, exports after one edited cell, seconds of each run)."""
    project = folder / "render"
    recipe = table_project(project, n)
    first, _ = timed([exe, "run", str(recipe)])
    rendered_first = len(_started(project))
    table = project / "shots.csv"
    table.write_text(table.read_text(encoding="utf-8").replace("Product 1,", "Product one,", 1), encoding="utf-8")
    second, _ = timed([exe, "run", str(recipe)])
    return rendered_first, len(_started(project)), first, second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=5, help="rows rendered for the one-cell figure")
    parser.add_argument("--assert", dest="check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    exe = shutil.which("nemoflow")
    if exe is None:
        raise SystemExit("install nemoflow first: pip install -e .")
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        medians, problems = plan_time(exe, args.runs, Path(tmp))
        missed += problems
        print(f"{'case':<52} {'median s':>9}")
        for name, value in medians.items():
            print(f"{name:<52} {value:9.3f}")
        table_s = medians["nemoflow plan, 1,000-row table"]
        print(f"1,000-row plan: {table_s:.3f} s (target ≤ 1 s); vs written out: "
              f"{table_s / medians['nemoflow plan, 2,001 steps written out (reference)']:.2f}x ({args.runs} runs each, interleaved)")
        if table_s > 1.0:
            missed.append(f"plan took {table_s:.3f} s")
        first, after, s1, s2 = one_cell(exe, args.rows, Path(tmp))
        print(f"one-cell change: first run rendered {first} exports ({s1:.1f} s), after editing one cell {after} ({s2:.1f} s)")
        if first != args.rows or after != 1:
            missed.append(f"renders: {first} then {after} (want {args.rows} then 1)")
    for m in missed:
        print("MISSED:", m)
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
