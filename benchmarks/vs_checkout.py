"""This checkout against another one, side by side in one run: did a change make nemoflow slower?

The commands of benchmarks/cli_speed.py and benchmarks/runner_speed.py, run
through `python -m nemoflow` from each checkout (PYTHONPATH), alternating A
and B case by case and swapping who goes first every round, so drift in the
machine's speed falls on both. Reported per case: each side's median and the
median of the per-round ratios A/B.

    python benchmarks/vs_checkout.py OTHER_CHECKOUT [--rounds 5] [--json]

    git worktree add /tmp/before HEAD~5 && python benchmarks/vs_checkout.py /tmp/before

Each side proves it ran its own code (`nemoflow.__file__` under its
checkout), every re-run must say "nothing to do" and start no FFmpeg, and the
50 exports must all be written, or the benchmark stops with the command that
broke the rule: a figure is only printed for a case that really ran.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cli_speed import thousand_step_recipe  # benchmarks/ is sys.path[0] when a script here runs
from runner_speed import EXAMPLES, SCRUBBED_ENV, Failed, Wrapper, copy_example, exports_recipe
from table import print_table

ROOT = Path(__file__).resolve().parent.parent


class Side:
    """One checkout: its environment, its copies of the examples and state, its samples."""

    def __init__(self, name: str, checkout: Path, work: Path, wrapper: Wrapper) -> None:
        self.name, self.checkout, self.work, self.wrapper = name, checkout, work, wrapper
        self.env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        (work / "empty-config.toml").write_text("")
        # Each side its own caches: the Lark parse tables are kept per Lark version and rebuilt whenever the grammar text
        # differs, so two checkouts sharing one cache file would rebuild it on every alternate run.
        self.env.update(PYTHONPATH=str(checkout), NEMOFLOW_FFMPEG=str(wrapper.path), NEMOFLOW_CONFIG=str(work / "empty-config.toml"),
                        NEMOFLOW_CACHE_DIR=str(work / "cache"), XDG_CACHE_HOME=str(work / "xdg-cache"))
        if self.env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:  # as runner_speed.py: compiled once, like an installed copy
            self.env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        self.samples: dict[str, list[float]] = {}

    def nemoflow(self, *args: str, cwd: Path, expect: str | None = None) -> float:
        """Run `python -m nemoflow ARGS`; seconds. `expect`: the last stderr line must start with it."""
        cmd = [sys.executable, "-m", "nemoflow", *args]
        started = self.wrapper.count()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, errors="replace", check=False)
        seconds = time.perf_counter() - t0
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        if proc.returncode != 0 or (expect is not None and not last.startswith(expect)):
            raise Failed(f"[{self.name}] `{' '.join(cmd)}` in {cwd} exited {proc.returncode}; last line: {last!r}")
        if expect == "nothing to do" and self.wrapper.count() != started:
            raise Failed(f"[{self.name}] an unchanged re-run started FFmpeg: `{' '.join(cmd)}`")
        return seconds


def _own_code(side: Side) -> str:
    out = subprocess.run([sys.executable, "-c", "import nemoflow; print(nemoflow.__file__)"], env=side.env, capture_output=True,
                         text=True, check=True).stdout.strip()
    if not Path(out).resolve().is_relative_to(side.checkout.resolve()):
        raise Failed(f"[{side.name}] imports nemoflow from {out}, not from {side.checkout}")
    return out


def measure(a: Side, b: Side, rounds: int) -> list[dict]:
    cases: list[tuple[str, Callable[[Side], float]]] = []
    for side in (a, b):
        side.examples = {}
        for name, sets in EXAMPLES.items():
            where = side.work / "examples" / Path(name).stem
            recipe = copy_example((ROOT / "examples" / name).resolve(), where)
            side.nemoflow("run", recipe.name, *sets, cwd=where)  # the first render: not timed
            side.examples[name] = (where, recipe.name, sets)
        side.plan_dir = side.work / "plan"
        side.plan_dir.mkdir()
        thousand_step_recipe(side.plan_dir / "big.nemo")
        side.fifty_dir = side.work / "fifty"
        side.fifty_dir.mkdir()
        exports_recipe(side.fifty_dir / "fifty.nemo", 2.0)
        side.cold = 0

    def plan_cold(side: Side) -> float:
        side.cold += 1
        return side.nemoflow("plan", "big.nemo", "--state-dir", str(side.plan_dir / f"cold-{side.cold}"), cwd=side.plan_dir)

    def fifty(side: Side) -> float:
        shutil.rmtree(side.fifty_dir / "out", ignore_errors=True)
        shutil.rmtree(side.fifty_dir / "state", ignore_errors=True)
        seconds = side.nemoflow("run", "fifty.nemo", "-j", "2", "--state-dir", str(side.fifty_dir / "state"), cwd=side.fifty_dir,
                                expect="150 ran")
        if len(list((side.fifty_dir / "out").glob("*.mp4"))) != 50:
            raise Failed(f"[{side.name}] the 50-export run did not write 50 files")
        return seconds

    cases.append(("nemoflow --help", lambda s: s.nemoflow("--help", cwd=s.work)))
    cases.append(("check urban_dreams.nemo", lambda s: s.nemoflow("check", "urban_dreams.nemo",
                                                                  cwd=s.examples["urban_dreams.nemo"][0])))
    cases.append(("check big.nemo (1,001 steps)", lambda s: s.nemoflow("check", "big.nemo", cwd=s.plan_dir)))
    cases.append(("plan big.nemo, cold", plan_cold))
    for name in EXAMPLES:
        cases.append((f"re-run {name} (nothing to do)",
                      lambda s, n=name: s.nemoflow("run", s.examples[n][1], *s.examples[n][2], cwd=s.examples[n][0],
                                                   expect="nothing to do")))
    cases.append(("run 50 exports -j 2, fresh", fifty))
    samples: dict[str, dict[str, list[float]]] = {label: {"A": [], "B": []} for label, _ in cases}
    for _label, fn in cases:  # warm the page cache and .pyc files of both sides
        fn(a)
        fn(b)
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
        for label, fn in cases:
            order = (("A", a), ("B", b)) if r % 2 == 0 else (("B", b), ("A", a))
            for key, side in order:
                samples[label][key].append(fn(side))
    rows = []
    for label, _ in cases:
        sa, sb = samples[label]["A"], samples[label]["B"]
        rows.append({"case": label, "a_median_s": statistics.median(sa), "b_median_s": statistics.median(sb),
                     "ratio_median": statistics.median(x / y for x, y in zip(sa, sb, strict=True)),
                     "ratio_min": min(x / y for x, y in zip(sa, sb, strict=True)),
                     "ratio_max": max(x / y for x, y in zip(sa, sb, strict=True)), "runs": len(sa)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="another nemoflow checkout (B); this one is A")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.other / "nemoflow" / "__init__.py").is_file():
        parser.error(f"{args.other} is not a nemoflow checkout")
    import imageio_ffmpeg

    work = Path(tempfile.mkdtemp(prefix="nemoflow-vs-"))
    try:
        a = Side("A", ROOT, work / "A", Wrapper(_mkdir(work / "A"), imageio_ffmpeg.get_ffmpeg_exe()))
        b = Side("B", args.other.resolve(), work / "B", Wrapper(_mkdir(work / "B"), imageio_ffmpeg.get_ffmpeg_exe()))
        code = {side.name: _own_code(side) for side in (a, b)}
        rows = measure(a, b, args.rounds)
    except Failed as exc:
        print(f"vs_checkout: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps({"A": code["A"], "B": code["B"], "rounds": args.rounds, "cases": rows}, indent=2))
        return 0
    print_table(f"A = {code['A']}, B = {code['B']}; {args.rounds} rounds, A and B alternating, medians",
                ("case", "A median", "B median", "A/B median", "A/B min-max"),
                [(r["case"], f"{r['a_median_s']:.3f} s", f"{r['b_median_s']:.3f} s", f"{r['ratio_median']:.3f}",
                  f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}") for r in rows],
                right=("A median", "B median", "A/B median"), width=150)
    return 0


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
