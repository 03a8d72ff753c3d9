"""CLI start-up and check speed, measured side by side with bare Python start-up.

Targets (issue #2): `nemoflow --help` and `nemoflow check EXAMPLE` each in 0.3 s
or less; `nemoflow check` on a generated 1,000-step recipe in 0.5 s or less.
The machine is noisy, so commands are interleaved, each run N times, and the
median reported, with the ratio to `python -c pass` measured in the same run.

    python benchmarks/cli_speed.py [--runs 15] [--assert]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def thousand_step_recipe(path: Path) -> Path:
    lines = ["nemo 1", "", "param size: resolution = 1080p", "media src = pattern testsrc duration 10s size 1080p tone 440hz",
             "media bed = tone 220hz duration 1m", ""]
    for i in range(333):  # 1 + 333 * 3 = 1,000 steps
        lines += [f"edit e{i} {{", "  video src from 1s to 3s", "  grade warm 50%", f'  title "Clip {i}" from 0s to 1s',
                  "  music bed volume 30%", "}", f"export x{i} = e{i} {{", "  size $size", f'  save "out/{i}.mp4"', "}",
                  f"expect x{i} {{", "  duration <= 3s", "  has audio", "}", ""]
    path.write_text("\n".join(lines))
    return path


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.decode()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--assert", dest="check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    exe = shutil.which("nemoflow")
    if exe is None:
        raise SystemExit("install nemoflow first: pip install -e .")
    with tempfile.TemporaryDirectory() as tmp:
        big = thousand_step_recipe(Path(tmp) / "big.nemo")
        cases = {
            "python -c pass (reference)": ([sys.executable, "-c", "pass"], None),
            "nemoflow --help": ([exe, "--help"], 0.3),
            "nemoflow check examples/urban_dreams.nemo": ([exe, "check", str(ROOT / "examples/urban_dreams.nemo")], 0.3),
            "nemoflow check (1,000 steps)": ([exe, "check", str(big)], 0.5),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for cmd, _ in cases.values():  # warm the page cache and .pyc files
            timed(cmd)
        for _ in range(args.runs):
            for name, (cmd, _) in cases.items():
                samples[name].append(timed(cmd))
    ref = statistics.median(samples["python -c pass (reference)"])
    missed = 0
    print(f"{'case':<44} {'median':>8} {'min':>8} {'target':>8} {'x python':>9}")
    for name, (_, target) in cases.items():
        med = statistics.median(samples[name])
        status = ""
        if target is not None:
            status = "ok" if med <= target else "MISSED"
            missed += med > target
        print(f"{name:<44} {med:8.3f} {min(samples[name]):8.3f} {target if target else '':>8} {med / ref:9.1f}  {status}")
    print(f"({args.runs} runs each, interleaved; seconds)")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
