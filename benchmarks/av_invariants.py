"""The A/V invariants property test, at scale: many random edits, a table of invariants x pass/fail.

Each case is a random edit (tests/avkit.py `random_case`: clips on and off the frame grid, speed, transitions,
fades, music, reframe, timeline speed and trim, output rate) of generated sources whose every frame and click
can be read back; it is checked, rendered with the local engine, and measured from the outside with PyAV and
numpy (never nemoflow's own probe). Case i uses seed S + i, so `--seed S+i --cases 1` reproduces one case.

    python benchmarks/av_invariants.py [--cases 120] [--seed 1633] [--keep DIR] [--simple] [--json]

Failing cases' recipes (and their verdicts) are saved under --keep (default: a folder under the system's temp
dir, printed). Exit 1 when any invariant failed or any case did not render; a case that did not produce a file
with frames is never a pass: it fails `renders` and its other invariants count as failed too.

To measure another checkout (e.g. `git archive HEAD | tar -x -C /tmp/head`), run with PYTHONPATH=/tmp/head.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import avkit  # noqa: E402
from table import print_table  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1633)
    ap.add_argument("--keep", type=Path, default=None, help="where failing cases' recipes and verdicts go")
    ap.add_argument("--simple", action="store_true", help="only clips and hard cuts (no speed, transitions, fades, ...)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line per case")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="av-invariants-"))
    keep = args.keep or work / "failed"
    keep.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NEMOFLOW_CACHE_DIR", str(work / "cache"))  # analyses stay out of the user's cache
    import nemoflow

    print(f"nemoflow from {Path(nemoflow.__file__).parent}; sources and renders in {work}")
    sources = avkit.make_sources(work / "src")
    counts = {inv: [0, 0, 0] for inv in avkit.INVARIANTS}  # pass, fail, n/a
    failed_cases: list[int] = []
    started = time.monotonic()
    for i in range(args.cases):
        seed = args.seed + i
        case = avkit.random_case(seed, sources, rich=not args.simple)
        folder = work / "cases" / str(seed)
        out, log = avkit.render(case, folder)
        verdicts = avkit.evaluate(case, out)
        rendered = verdicts[0].ok is True
        bad = []
        for v in verdicts:
            ok = v.ok if rendered or v.invariant == "renders" else False  # no file with frames: nothing passes
            counts[v.invariant][0 if ok else 1 if ok is False else 2] += 1
            if ok is False:
                bad.append(v)
        if args.json:
            print(json.dumps({"seed": seed, "ok": not bad, "verdicts": [[v.invariant, v.ok, v.detail] for v in verdicts]}))
        if bad:
            failed_cases.append(seed)
            (keep / f"case-{seed}.nemo").write_text(case.recipe(), encoding="utf-8")
            report = [f"{v.invariant}: {'FAIL' if v in bad else 'pass' if v.ok else 'n/a'} {v.detail}" for v in verdicts]
            if not rendered:
                report.append(log)
            (keep / f"case-{seed}.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
            print(f"seed {seed}: FAIL " + "; ".join(f"{v.invariant}: {v.detail}" for v in bad), flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    elapsed = time.monotonic() - started
    rows = [[inv, str(p), str(f), str(na), "PASS" if f == 0 else "FAIL"] for inv, (p, f, na) in counts.items()]
    print_table(f"A/V invariants: {args.cases} cases, seeds {args.seed}..{args.seed + args.cases - 1}"
                f"{' (simple)' if args.simple else ''}, {elapsed:.0f} s", ["invariant", "pass", "fail", "n/a", "verdict"], rows,
                right=("pass", "fail", "n/a"))
    if failed_cases:
        print(f"{len(failed_cases)} failing cases: seeds {', '.join(map(str, failed_cases))}; recipes and verdicts in {keep}")
    shutil.rmtree(work / "cases", ignore_errors=True)
    if not failed_cases and args.keep is None:
        shutil.rmtree(work, ignore_errors=True)  # nothing to look at; failing recipes name the sources kept here
    return 1 if failed_cases else 0


if __name__ == "__main__":
    sys.exit(main())
