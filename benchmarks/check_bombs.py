"""`nemoflow check` on hostile inputs: every shape must end in ≤ 5 s and ≤ 500 MB, with exit 2 (a limit) or 0.

Builds each shape of issue 15 (a 9 MB string, 2.4 MB of `\\u{41}` escapes, 1 MB with 25 syntax errors, six
nested 20-item loops, a valid 10 MB recipe, 500-deep nesting, 309-digit numbers, …) plus the largest recipes
the limits still accept, runs `python -m nemoflow check FILE` on each in a subprocess, and measures wall time
and peak memory (the child's ru_maxrss, from wait4). With `--vs DIR` the same shapes run against another
checkout too (for example the commit before issue 15, `git worktree add /tmp/pre15 <commit>`), side by side.

    python benchmarks/check_bombs.py [--vs /tmp/pre15] [--timeout 60] [--only NAME ...] [--json]

Each side runs from a folder outside both checkouts with PYTHONPATH set to its checkout, and proves which
code it imported (`nemoflow.__file__`) before anything is timed. A run over the timeout is killed and shown
as "> 60 s"; every child has an address-space cap (--memory-cap-gb) so a bomb cannot take the machine down.
A shape PASSes only if this checkout ran it to the end within 5 s and 500 MB and exited as expected.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from table import print_table  # benchmarks/ is sys.path[0] when a script here runs

ROOT = Path(__file__).resolve().parent.parent
TIME_BOUND_S = 5.0
MEMORY_BOUND_MB = 500.0
SCRUBBED_ENV = ("NEMOFLOW_STATE_DIR", "NEMOFLOW_JOBS", "NEMOFLOW_DEBUG", "NEMOFLOW_FFMPEG", "NEMOFLOW_MAX_TOKENS",
                "NEMOFLOW_MAX_STEPS", "NEMOFLOW_MAX_DURATION", "NEMOFLOW_ENGINE", "PYTHONPATH")

BARS = "nemo 1\nmedia bars = pattern bars duration 5s\n"


@attrs.frozen
class Shape:
    """One hostile input: how to write it, the extra arguments to `check`, and the exit code this checkout must give."""

    name: str
    about: str
    write: Callable[[Path], str | bytes]
    expect: int
    args: tuple[str, ...] = ()


def _items(n: int, prefix: str = "v") -> str:
    return ", ".join(f'"{prefix}{i}"' for i in range(n))


def _string_9mb(_: Path) -> str:
    return BARS + 'edit cut {\n  video bars\n  title "' + "A" * 9_000_000 + '"\n}\n'


def _escapes_2_4mb(_: Path) -> str:
    return BARS + 'edit cut {\n  video bars\n  title "' + "\\u{41}" * 400_000 + '"\n}\n'


def _syntax_errors_1mb(_: Path) -> str:
    lines = ["nemo 1"]
    n = 26_000
    for i in range(n):
        bad = i % (n // 25) == n // 50
        lines.append(f"media m{i} pattern bars duration 5s" if bad else f"media m{i} = pattern bars duration 5s")
    return "\n".join(lines) + "\n"


def _nested_loops(_: Path) -> str:
    names = "pqrstu"
    out = ["nemo 1"]
    for level, var in enumerate(names):
        out.append("  " * level + f"for {var} in [{', '.join(str(i) for i in range(1, 21))}] {{")
    pad = "  " * len(names)
    out += [pad + "media m = pattern bars duration 5s", pad + "edit e {", pad + "  video m", pad + "}",
            pad + "export x = e {", pad + '  save "out/${p}${q}${r}${s}${t}${u}.mp4"', pad + "}"]
    out += ["  " * level + "}" for level in reversed(range(len(names)))]
    return "\n".join(out) + "\n"


def _valid_10mb(_: Path) -> str:
    lines = ["nemo 1"]
    size, i = 7, 0
    while size < 10_000_000 - 64:
        line = f"media m{i} = pattern bars duration 5s"
        lines.append(line)
        size += len(line) + 1
        i += 1
    return "\n".join(lines) + "\n"


def _comments_10mb(_: Path) -> str:
    comment = "# " + "the quick brown fox jumps over the lazy dog " * 2 + "\n"
    return BARS + comment * (9_900_000 // len(comment)) + "edit cut {\n  video bars\n}\n"


def _blank_lines_10mb(_: Path) -> str:
    return BARS + "\n" * 9_900_000 + "edit cut {\n  video bars\n}\n"


def _largest_valid(_: Path) -> str:
    """18,500 statements of 8 tokens: 148,000 tokens, just under the token limit; every step unused (capped warnings)."""
    return "nemo 1\n" + "".join(f"media m{i} = pattern bars duration 5s\n" for i in range(18_500))


def _fanout_at_limit(_: Path) -> str:
    """A loop of 9,000 items with four statements: 36,000 steps and 9,000 iterations, under the 50,000 limit."""
    return ("nemo 1\nparam n = 1\nfor clip in [" + _items(9_000, "c") + "] {\n  media m = pattern bars duration 5s\n"
            "  edit e {\n    video m\n  }\n  export x = e {\n    format mp4\n  }\n  expect x {\n    has video\n  }\n}\n"
            "edit used {\n  video m[c0]\n}\n")


def _deep_list(_: Path) -> str:
    return "nemo 1\nparam p = " + "[" * 500 + "]" * 500 + "\n"


def _deep_loops(_: Path) -> str:
    return "nemo 1\n" + "".join("  " * d + f'for x{d} in ["a"] {{\n' for d in range(500)) + \
        "".join("  " * d + "}\n" for d in reversed(range(500)))


def _huge_numbers(_: Path) -> str:
    big = "9" * 309
    return (f"nemo 1\nmedia bars = pattern bars duration {big}s\nedit cut {{\n  video bars volume {big}%\n"
            f"  speed {big}x\n}}\nexport f = cut {{\n  size 1920x{big}\n  fps {big}\n  bitrate {big}Mbps\n}}\n")


def _fractional_size(_: Path) -> str:
    return BARS + 'edit cut {\n  video bars\n}\nexport f = cut {\n  size 1.5x1080\n  save "out/f.mp4"\n}\n'


def _duration_10000h(_: Path) -> str:
    return BARS.replace("5s", "10000h") + 'edit cut {\n  video bars\n}\nexport f = cut {\n  save "out/f.mp4"\n}\n'


def _params_dev_zero(_: Path) -> str:
    return BARS + "param n = 2\nedit cut {\n  video bars\n}\n"


def _nul_escape(_: Path) -> str:
    return BARS + 'edit cut {\n  video bars\n  title "a\\0b"\n}\nexport f = cut {\n  save "out/f.mp4"\n}\n'


def _loop_body(_: Path) -> str:
    body = "".join('    title "t" from 0s to 1s\n' for _ in range(3000))
    return BARS + f"for x in [{', '.join(str(i) for i in range(2000))}] {{\n  edit e {{\n    video bars\n{body}  }}\n}}\n"


def _interpolations(_: Path) -> str:
    return ("nemo 1\nfor x in [" + ", ".join(str(i) for i in range(2000)) + "] {\n  media m = pattern bars duration 5s\n"
            '  edit e {\n    video m\n    title "' + "${x}" * 20_000 + '"\n  }\n}\n')


def _concat_fan_in(_: Path) -> str:
    items = ", ".join(str(i) for i in range(4000))
    return (f"nemo 1\nfor a in [{items}] {{\n  media m = pattern bars duration 1s\n}}\n"
            f"for b in [{items}] {{\n  edit e {{\n    concat m\n  }}\n}}\n")


def _expanded_at_limit(_: Path) -> str:
    """55 copies of a 3,000-line edit: 990,000 values once expanded, just under the 1,000,000 limit."""
    body = "".join('    title "t" from 0s to 1s\n' for _ in range(3000))
    return BARS + f"for x in [{', '.join(str(i) for i in range(55))}] {{\n  edit e {{\n    video bars\n{body}  }}\n}}\n" \
        "edit used {\n  video bars\n}\n"


def _references_at_limit(_: Path) -> str:
    """`concat m` in 440 items over an m of 440: 193,600 references, just under the 200,000 limit."""
    items = ", ".join(str(i) for i in range(440))
    return (f"nemo 1\nfor a in [{items}] {{\n  media m = pattern bars duration 1s\n}}\n"
            f"for b in [{items}] {{\n  edit e {{\n    concat m\n  }}\n  export x = e {{\n    format mp4\n  }}\n}}\n")


def _unknown_in_loop(_: Path) -> str:
    """An unknown `$q1234` in a loop of 10,000 items, beside 15,000 params: each item looked for a "did you mean"."""
    params = "".join(f"param p{i} = {i}\n" for i in range(15_000))
    items = ", ".join(str(i) for i in range(10_000))
    return "nemo 1\n" + params + f"for x in [{items}] {{\n  media m = pattern bars duration 5s size $q1234\n}}\n"


def _comment_lines(_: Path) -> str:
    return BARS + "##\n" * 3_300_000 + "edit cut {\n  video bars\n}\n"


def _short_bad_lines(_: Path) -> str:
    return "nemo 1\n" + "xy\n" * 3_300_000


def _long_name_9mb(_: Path) -> str:
    return "nemo 1\n" + "a" * 9_000_000 + " = 2\n"


SHAPES = (
    Shape("string_9mb", "one 9 MB string literal", _string_9mb, 2),
    Shape("escapes_2_4mb", "2.4 MB of \\u{41} escapes in one string", _escapes_2_4mb, 2),
    Shape("syntax_errors_1mb", "1 MB recipe with 25 syntax errors", _syntax_errors_1mb, 2),
    Shape("nested_loops_6x20", "six nested 20-item loops (64 million steps)", _nested_loops, 2),
    Shape("valid_10mb", "a valid 10 MB recipe (260,000 unused media)", _valid_10mb, 2),
    Shape("comments_10mb", "a small recipe with 10 MB of comments", _comments_10mb, 0),
    Shape("blank_lines_10mb", "a small recipe with 9.9 million blank lines", _blank_lines_10mb, 0),
    Shape("largest_valid", "18,500 statements, just under the token limit", _largest_valid, 0),
    Shape("fanout_at_limit", "9,000-item loop: 45,000 steps and iterations", _fanout_at_limit, 0),
    Shape("deep_list_500", "a list nested 500 deep", _deep_list, 2),
    Shape("deep_loops_500", "loops nested 500 deep", _deep_loops, 2),
    Shape("numbers_309_digits", "309-digit numbers as durations, sizes, rates", _huge_numbers, 2),
    Shape("fractional_size", "`size 1.5x1080`", _fractional_size, 2),
    Shape("duration_10000h", "`duration 10000h`", _duration_10000h, 2),
    Shape("params_dev_zero", "`--params /dev/zero`", _params_dev_zero, 2, ("--params", "/dev/zero")),
    Shape("nul_escape", 'a `"\\0"` in a title', _nul_escape, 2),
    Shape("long_name_9mb", "a 9 MB name", _long_name_9mb, 2),
    Shape("loop_body_2000x3000", "2,000 items around a 3,000-line edit", _loop_body, 2),
    Shape("interpolations", "2,000 items, a title of 20,000 `${x}`", _interpolations, 2),
    Shape("concat_fan_in", "`concat m` in 4,000 items, m over 4,000", _concat_fan_in, 2),
    Shape("expanded_at_limit", "55 copies of a 3,000-line edit (990,000 values)", _expanded_at_limit, 0),
    Shape("references_at_limit", "`concat m` in 440 items, m over 440 (193,600 refs)", _references_at_limit, 0),
    Shape("unknown_in_loop", "unknown `$q` in 10,000 items, 15,000 params", _unknown_in_loop, 2),
    Shape("comment_lines_10mb", "3.3 million comment lines", _comment_lines, 0),
    Shape("bad_lines_10mb", "3.3 million lines of garbage", _short_bad_lines, 2),
)


@attrs.frozen
class Result:
    seconds: float
    peak_mb: float
    exit: int | None  # None: killed at the timeout
    signal: int | None
    stderr_lines: int

    def shown_time(self, timeout: float) -> str:
        return f"> {timeout:g} s" if self.exit is None and self.signal == signal.SIGKILL else f"{self.seconds:.2f} s"

    def shown_exit(self) -> str:
        if self.exit is None:
            return "timeout" if self.signal == signal.SIGKILL else f"signal {self.signal}"
        return str(self.exit)


class Side:
    """One checkout: the environment that makes `python -m nemoflow` import it, run from a neutral folder."""

    def __init__(self, name: str, checkout: Path, work: Path, memory_cap_gb: float) -> None:
        self.name, self.checkout, self.work = name, checkout.resolve(), work
        work.mkdir(parents=True, exist_ok=True)
        (work / "empty-config.toml").write_text("")
        self.env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        self.env.update(PYTHONPATH=str(self.checkout), NEMOFLOW_CONFIG=str(work / "empty-config.toml"),
                        NEMOFLOW_CACHE_DIR=str(work / "cache"), XDG_CACHE_HOME=str(work / "xdg-cache"))
        self.cap = int(memory_cap_gb * 2**30)

    def imported(self, cwd: Path) -> str:
        """Where `import nemoflow` resolves for this side; it must be this checkout."""
        out = subprocess.run([sys.executable, "-c", "import nemoflow; print(nemoflow.__file__)"], cwd=cwd, env=self.env,
                             capture_output=True, text=True, check=True).stdout.strip()
        if not Path(out).resolve().is_relative_to(self.checkout):
            sys.exit(f"{self.name}: `import nemoflow` found {out}, not the checkout {self.checkout}; run from elsewhere")
        return out

    def check(self, path: Path, args: tuple[str, ...], cwd: Path, timeout: float) -> Result:
        """`python -m nemoflow check PATH ARGS`: wall time, peak RSS (wait4), exit code; killed at the timeout."""
        cap = self.cap

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        err_path = self.work / "stderr.txt"
        with open(err_path, "wb") as err, open(os.devnull, "wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "nemoflow", "check", str(path), *args], cwd=cwd, env=self.env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, preexec_fn=limit, start_new_session=True)
            deadline = t0 + timeout
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.01)
            seconds = time.perf_counter() - t0
        proc.returncode = 0  # reaped by wait4 above; keep Popen from waiting again
        with open(err_path, "rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        code = os.waitstatus_to_exitcode(status)
        exit_code, sig = (code, None) if code >= 0 else (None, -code)
        return Result(seconds, usage.ru_maxrss / 1024, exit_code, sig, lines)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} B"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vs", type=Path, help="another checkout to compare with (e.g. a worktree of the commit before issue 15)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a run is killed (default 60)")
    ap.add_argument("--memory-cap-gb", type=float, default=8.0, help="address-space cap for every run (default 8 GB)")
    ap.add_argument("--only", nargs="*", help="run only these shapes")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    opts = ap.parse_args()
    shapes = [s for s in SHAPES if not opts.only or s.name in opts.only]
    with tempfile.TemporaryDirectory(prefix="check-bombs-") as tmp:
        base = Path(tmp)
        inputs = base / "inputs"
        inputs.mkdir()
        sides = [Side("this", ROOT, base / "this", opts.memory_cap_gb)]
        if opts.vs:
            sides.append(Side("before", opts.vs, base / "before", opts.memory_cap_gb))
        for side in sides:
            print(f"{side.name}: imports {side.imported(inputs)}", file=sys.stderr)
            warm = inputs / "warm.nemo"
            warm.write_text(BARS)
            side.check(warm, (), inputs, opts.timeout)  # builds its Lark table cache once, outside the figures
        rows, records = [], []
        for shape in shapes:
            text = shape.write(inputs)
            path = inputs / f"{shape.name}.nemo"
            data = text.encode("utf-8") if isinstance(text, str) else text
            path.write_bytes(data)
            results = {side.name: side.check(path, shape.args, inputs, opts.timeout) for side in sides}
            new = results["this"]
            ok = (new.exit is not None and new.exit == shape.expect and new.seconds <= TIME_BOUND_S
                  and new.peak_mb <= MEMORY_BOUND_MB)
            row = [shape.name, _size(len(data))]
            if opts.vs:
                old = results["before"]
                row += [old.shown_time(opts.timeout), f"{old.peak_mb:,.0f}", old.shown_exit(), f"{old.stderr_lines:,}"]
            row += [new.shown_time(opts.timeout), f"{new.peak_mb:,.0f}", f"{new.shown_exit()} (want {shape.expect})",
                    f"{new.stderr_lines:,}", "PASS" if ok else "FAIL"]
            rows.append(row)
            records.append({"shape": shape.name, "about": shape.about, "bytes": len(data), "expect": shape.expect, "pass": ok,
                            **{name: attrs.asdict(r) for name, r in results.items()}})
            path.unlink()
            print(f"  {shape.name}: {' | '.join(row[2:])}", file=sys.stderr)
    headers = ["shape", "input"]
    if opts.vs:
        headers += ["before: time", "before: peak MB", "before: exit", "before: lines"]
    headers += ["now: time", "now: peak MB", "now: exit", "now: lines", f"≤{TIME_BOUND_S:g} s, ≤{MEMORY_BOUND_MB:g} MB, exit"]
    print_table("nemoflow check on hostile inputs (lines: of stderr)", headers, rows,
                right=("input", "before: time", "before: peak MB", "before: lines", "now: time", "now: peak MB", "now: lines"),
                width=180)
    if opts.json:
        print(json.dumps(records, indent=2))
    if not all(r["pass"] for r in records):
        sys.exit(1)


if __name__ == "__main__":
    main()
