"""The fuzz campaign's harness (benchmarks/fuzz_campaign.py) finds, classifies and minimises what it should.

The campaign itself runs for an hour; these few hundred inputs, with fixed
seeds, prove that its parts work: a planted crash is reached through coverage
guidance and shrunk to its core, a hang is interrupted and classified, and the
real target runs on the real seeds.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemoflow.core.diagnostics import RecipeError

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fuzz_campaign", ROOT / "benchmarks" / "fuzz_campaign.py")
fc = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_campaign"] = fc
_spec.loader.exec_module(fc)


def planted(data: bytes) -> None:
    """A bug two steps deep: coverage must keep the input that takes the first step."""
    if b"expect" in data:
        if b"{" in data:
            raise ZeroDivisionError("planted")


def test_planted_crash_is_found_through_coverage_and_minimised():
    stats = fc.Stats()
    runner = fc.Runner(planted, timeout=10)
    mutator = fc.Mutator(["expect", "{", "}", "media", "nemo", "="])
    found = []
    corpus = fc.fuzz_builtin(runner, [b'nemo 1\nmedia a = "x.mp4"\n'], mutator, stats, inputs=300, seed=1, max_len=4096,
                             prefixes=(__file__,), on_finding=lambda data, out: found.append((data, out)))
    assert stats.executed == 300
    assert any(b"expect" in c and b"{" not in c for c in corpus), "the first step was kept for reaching new lines"
    assert len(found) == 1
    data, out = found[0]
    assert out.kind == "crash"
    assert out.signature.startswith("crash:ZeroDivisionError:")
    assert stats.findings[out.signature]["count"] >= 1
    small = fc.minimize(data, lambda d: runner.run(d).signature == out.signature)
    assert sorted(small) == sorted(b"expect{")


def test_minimize_keeps_only_what_fails():
    data = b"nemo 1\nmedia a = 1s\nparam x = [[[[1]]]]\nedit e {\n}\n"
    assert fc.minimize(data, lambda d: b"[[[" in d) == b"[[["
    assert fc.minimize(b"\xff\xfeab\xff", lambda d: b"\xfe" in d) == b"\xfe"


def test_hang_is_interrupted_and_classified():
    def spins(data: bytes) -> None:
        while b"}" in data:
            pass

    runner = fc.Runner(spins, timeout=0.05)
    assert runner.run(b"{").kind is None
    out = runner.run(b"}")
    assert out.kind == "hang"
    assert out.signature.startswith("hang:Hang:")


def test_exceptions_are_told_apart_by_type_and_property():
    runner = fc.Runner(lambda d: [][1] if d else None, timeout=10)
    assert runner.run(b"x").signature.startswith("crash:IndexError:")

    def breaks_property(data: bytes) -> None:
        raise fc.PropertyFailure("fmt-not-idempotent")

    assert fc.Runner(breaks_property, timeout=10).run(b"x").signature == "property:fmt-not-idempotent:-"


def test_real_target_on_real_seeds(tmp_path):
    """A short deterministic campaign on check/format/--set: it runs every input it counts and learns new paths."""
    ws = fc.make_workspace(tmp_path)
    runner = fc.Runner(fc.NemoTarget(ws, tmp_path / "scratch"), timeout=30)
    seeds = [data for _, data in fc.seed_inputs()]
    assert any(name.startswith("tests/corpus/bad/") for name, _ in fc.seed_inputs())
    assert any(name.startswith("examples/include/") for name, _ in fc.seed_inputs())
    stats = fc.Stats()
    corpus = fc.fuzz_builtin(runner, seeds, fc.Mutator(fc.grammar_tokens()), stats, inputs=len(seeds) + 40, seed=5, max_len=1024)
    assert stats.executed == len(seeds) + 40
    assert len(corpus) > len(seeds) // 2
    assert stats.coverage > 500


def test_set_and_params_lines_reach_the_value_parsers(tmp_path):
    target = fc.NemoTarget(fc.make_workspace(tmp_path), tmp_path / "scratch")
    recipe = b'nemo 1\nparam size: resolution = 720p\nmedia a = color #000 duration 1s size $size\n'
    target(recipe + b"#!set size=1080p\n")
    target(recipe + b'#!params.json {"size": "4k"}\n')
    target(recipe + b"#!set =oops\n")  # refused by the --set parser with exit code 2: not a finding
    with pytest.raises(RecipeError, match="not a valid value"):
        target.check("nemo 1\nparam size: resolution = 720p\n", {"size": "1.5 x"}, None)


def test_a_worker_killed_by_the_watchdog_leaves_its_input_as_a_hang(tmp_path):
    """A hang in C (no Python signal handler runs) ends the worker; the input it was running is kept from its slot."""
    folder = tmp_path / "worker-0" / "run-0"
    folder.mkdir(parents=True)
    data = b'nemo 1\nmedia a = "x.mp4"\n'
    (folder / "current.bin").write_bytes(len(data).to_bytes(4, "little") + data + b"\0" * 64)
    (folder / "faulthandler.log").write_text(f'Timeout (0:00:10)!\nThread 0x1 (most recent call first):\n'
                                             f'  File "{fc.ROOT}/nemoflow/lang/parser.py", line 9 in parse_module\n'
                                             f'  File "{fc.ROOT}/benchmarks/fuzz_campaign.py", line 1 in run\n')
    fc._post_mortem(tmp_path, 0, 0, 1)
    merged = fc.merge(tmp_path)
    [(sig, finding)] = merged["findings"].items()
    assert sig == "hang:HardTimeout:nemoflow/lang/parser.py:parse_module"
    assert bytes.fromhex(finding["input"]) == data
    assert merged["executed"] == 0  # a dead worker's inputs count only as far as its last written stats


@pytest.mark.slow
def test_command_line_counts_what_it_ran(tmp_path):
    out = tmp_path / "fuzz"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fuzz_campaign.py"), "--inputs", "120", "--jobs", "2",
                           "--engine", "builtin", "--no-minimize", "--out", str(out), "--seed", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["executed"] == 120
    assert "inputs run: 120 (requested 120)" in proc.stdout
    assert (out / "progress.txt").read_text().startswith("final: 120 of 120 inputs executed")
