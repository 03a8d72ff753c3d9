"""A coverage-guided fuzz campaign against the recipe checker, the formatter and `--set`/`--params` values (issue 15).

Seeds are the examples (examples/*.nemo, examples/include, examples/ci) and the
broken-recipe corpus (tests/corpus/bad). Each input is bytes, read as the CLI
reads a file (`decode_source`), then:

- `check_source` must end in a Recipe or a RecipeError whose diagnostics render;
- a recipe that parses must format (`format_source`) to text that formats to
  itself, and that checks the same (same steps and params, or the same error codes);
- comment lines `#!set NAME=VALUE` are passed through the CLI's `--set` parser
  and into the check; `#!params.json …` / `#!params.toml …` lines become a params file.

Anything else is a finding: a *crash* (any exception other than RecipeError,
RecursionError and MemoryError included; the address space is capped so a memory
bomb raises MemoryError instead of taking the machine), a *property* failure
(formatter), a *hang* (an input over --timeout seconds of CPU time, interrupted by
SIGPROF, so a busy machine does not make slow inputs look hung; an input blocked or
stuck in C is caught by faulthandler's wall-clock watchdog and the worker restarted).
Findings are deduplicated by class + exception type + innermost nemoflow frame,
minimised (ddmin over lines, then characters) and kept under --out, with the
slowest inputs (CPU time: top 10 by time per byte, inputs of 100 bytes or more, and top 10 overall),
re-timed at the end outside the instrumented workers.

Coverage guidance: libFuzzer through `atheris` when it is installed (`pip install atheris`;
nemoflow instrumented, `--instrument nemoflow,lark` adds the parser library at ~2.5x
the cost per input; a grammar-aware custom mutator and dictionary); otherwise
a built-in loop that keeps inputs reaching new line-to-line arcs of nemoflow,
traced with sys.settrace. Counts are of inputs executed, never of inputs planned.

    python benchmarks/fuzz_campaign.py [--inputs 500000] [--jobs 2] [--seed 1] [--time-limit SEC] [--out DIR]

Progress is rewritten every few seconds to DIR/progress.txt; the final report is DIR/report.json.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import hashlib
import heapq
import io
import json
import math
import mmap
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = str(ROOT / "nemoflow") + os.sep
SEED_SOURCES = (("examples", "*.nemo"), ("examples/include", "**/*"), ("examples/ci", "**/*"), ("tests/corpus/bad", "*.nemo"))
COVERAGE_PREFIXES = (str(ROOT / "nemoflow" / "lang") + os.sep, str(ROOT / "nemoflow" / "core") + os.sep)
SLOW_MIN_BYTES = 100
TOP = 10


# ---- seeds and the checking workspace ------------------------------------------------

def seed_inputs() -> list[tuple[str, bytes]]:
    """(name, bytes) of every seed file, in a fixed order."""
    out = []
    for folder, pattern in SEED_SOURCES:
        for path in sorted((ROOT / folder).glob(pattern)):
            if path.is_file():
                out.append((str(path.relative_to(ROOT)), path.read_bytes()))
    return out


def make_workspace(out: Path) -> Path:
    """A folder holding (links to) every seed file and the media they name, so includes and media checks resolve.

    Both seed folders are merged: `include "include/brand.nemo"` and `media clip = "overwrite_source_clip.mp4"` both work.
    Nothing else is put there, so `glob()` loops see the same files in every run.
    """
    ws = out / "workspace"
    if ws.exists():
        return ws
    tmp = out / "workspace.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for folder in ("examples", "tests/corpus/bad"):
        src = ROOT / folder
        for path in sorted(src.rglob("*")):
            if path.is_file() and ".nemoflow" not in path.parts and "out" not in path.relative_to(src).parts:
                dest = tmp / path.relative_to(src)
                dest.parent.mkdir(parents=True, exist_ok=True)
                if not dest.exists():
                    dest.symlink_to(path)
    tmp.rename(ws)
    return ws


# ---- the dictionary and the mutator -------------------------------------------------------

INTERESTING_NUMBERS = ("0", "-0", "-1", "1", "00", "0.0", "1.5", "0.001", "255", "256", "65535", "65536", "2147483648",
                       "4294967296", "18446744073709551616", "9" * 20, "9" * 308, "9" * 309, "1" + "0" * 400,
                       "0." + "0" * 30 + "1", "1" * 4000)
INTERESTING_UNITS = ("", "ms", "s", "m", "h", "%", "x", "k", "p", "fps", "hz", "khz", "px", "dB", "B", "kB", "MB", "GB", "KiB",
                     "MiB", "GiB", "kbps", "Mbps", "x1080", "x0", "x-1", "x1.5", "x" + "9" * 309, "e308", "sec", "mss", "%%", "pp",
                     "1m30s", "h59m", "hms")
INTERESTING_STRINGS = ('""', '"${x}"', '"${"', '"${}"', '"$"', '"${looks}"', '"\\u{41}"', '"\\u{110000}"', '"\\u{d800}"',
                       '"\\u{}"', '"\\u{' + "0" * 40 + '41}"', '"\\q"', '"\\\\"', '"\\"', '"""a\r\nb"""', '"""\n"""',
                       '""""""', '"\\n\\t\\r"', '"a.mp4"', '"../a.mp4"', '"/etc/passwd"', '"~/x.mp4"', '"https://"',
                       '"http://x/a.mp4"', '"ftp://x"', '"out/x.mp4"', '"include/brand.nemo"', '"*.nemo"', '"**/*.nemo"',
                       '"\U0001F3AC é \u202e"', '"\t"', '"%{pts}"', "'x'")
OTHER_VALUES = ("00:00:00", "99:99:99.999", "0:60:60", "1:00:00.5", "0:0", "9:16", "1.5:0", "2.39:1", "#fff", "#ffffffff",
                "#12345", "#gggggg", "#", "true", "false", "$looks", "$", "[]", "[1,]", "[,]", '["a", "b"]', "[[1], [2]]",
                "1920x1080", "3840x2160", "0x0", "1.5x1080", "4k", "1080p", "720x1280")


def grammar_tokens() -> list[str]:
    """Words, punctuation and values of the language, from the grammar and the signature tables."""
    from nemoflow.core import signatures as sig
    from nemoflow.lang.literals import KNOWN_UNITS

    words = ["nemo 1", "nemo", "include", "engine", "param", "media", "edit", "ask", "export", "expect", "for", "in", "glob",
             "has", "true", "false", "local", "=", ":", ",", "{", "}", "(", ")", "[", "]", "==", "!=", "<=", ">=", "~=", "<", ">",
             "#", "# c", "\n", "\r\n", " ", "\t", "\\", '"', '"""', "${", "}", "$x", "glob(\"*.nemo\")", "[a]", "x[a]", "x[a][b]"]
    words += list(sig.EDIT_OPS) + list(sig.EXPORT_SETTINGS) + list(sig.GENERATORS) + list(sig.EXPECT_SUBJECTS)
    for table in (sig.EDIT_OPS, sig.EXPORT_SETTINGS, sig.GENERATORS):
        for s in table.values():
            words += list(s.words)
    words += [*sig.TRANSITIONS, *sig.POSITIONS, *sig.GRADE_PRESETS, *sig.REFRAME_MODES, *sig.PATTERNS, *sig.FORMATS, *sig.CODECS,
              *sig.QUALITIES, *sig.AUDIO_CODECS, *sig.EXPECT_HAS, *sig.PARAM_TYPES]
    words += [f"1{u}" for u in KNOWN_UNITS] + list(OTHER_VALUES) + list(INTERESTING_STRINGS[:20])
    return sorted(set(words))


_TOKEN_RE = re.compile(rb'\s+|[A-Za-z_][\w-]*|\d+(?:\.\d+)?[A-Za-z%][\w.%]*|\d+(?:\.\d+)?|"(?:[^"\\\n]|\\.)*"|.', re.S)
_NUMBER_RE = re.compile(rb"(?<![\w.])([+-]?\d+(?:\.\d+)?)([A-Za-z%][A-Za-z0-9.%]*)?")
_STRING_RE = re.compile(rb'"(?:[^"\\\n]|\\.)*"')
_PARAM_RE = re.compile(rb"param\s+([A-Za-z_][\w-]*)")
_STATEMENT_START = re.compile(rb"(?m)^(?=(?:nemo|include|engine|param|media|edit|ask|export|expect|for)\b)")
_VALUE_RE = re.compile(rb'"(?:[^"\\\n]|\\.)*"|\$[A-Za-z_][\w-]*|\d[\w.%:]*|#[0-9a-fA-F]{3,8}\b|\[[^\[\]\n]*\]')


class Mutator:
    """Grammar-aware mutations of bytes; every choice comes from the `rng` it is given (reproducible)."""

    def __init__(self, tokens: Sequence[str], corpus: Callable[[], Sequence[bytes]] | None = None):
        self.tokens = [t.encode() for t in tokens]
        self.corpus = corpus or (lambda: ())
        self.words = [t for t in self.tokens if re.fullmatch(rb"[A-Za-z_][\w-]*", t)]
        self.values = [v.encode() for v in (*OTHER_VALUES, *INTERESTING_STRINGS)] + [t for t in self.tokens if t[:1].isdigit()]
        # Most mutations keep the text close to the grammar, so inputs get past the parser to the checker and formatter.
        self.ops: list[tuple[Callable[[bytes, random.Random, int], bytes], int]] = [
            (self.byte_op, 4), (self.token_insert, 6), (self.token_edit, 8), (self.word_swap, 12), (self.value_swap, 12),
            (self.line_op, 10), (self.number_op, 8), (self.string_op, 6), (self.nesting, 2), (self.long_run, 2),
            (self.whitespace, 3), (self.set_line, 5), (self.splice_other, 6),
        ]
        self._weights = [w for _, w in self.ops]

    def mutate(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3))):
            op = rng.choices(self.ops, self._weights)[0][0]
            data = op(data, rng, max_size)
        return data[:max_size]

    def crossover(self, a: bytes, b: bytes, rng: random.Random, max_size: int) -> bytes:
        """Mostly whole statements of one input, then of the other (so the result often parses); sometimes lines or bytes."""
        sa, sb = _STATEMENT_START.split(a), _STATEMENT_START.split(b)
        if len(sa) > 1 and len(sb) > 1 and rng.random() < 0.6:
            i, j = rng.randint(1, len(sa)), rng.randint(1, len(sb))
            return b"".join(sa[:i] + sb[j:])[:max_size]
        la, lb = a.splitlines(keepends=True), b.splitlines(keepends=True)
        if la and lb and rng.random() < 0.7:
            i, j = rng.randint(0, len(la)), rng.randint(0, len(lb))
            return b"".join(la[:i] + lb[j:])[:max_size]
        return (a[: rng.randint(0, len(a))] + b[rng.randint(0, len(b)):])[:max_size]

    # each op: (data, rng, max_size) -> bytes

    def byte_op(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        buf = bytearray(data)
        kind = rng.randrange(4)
        pos = rng.randint(0, len(buf))
        if kind == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1 and buf:
            buf[min(pos, len(buf) - 1)] = rng.choice(b"\x00\t\n\r\x0b\x1b\x7f\x80\xc3\xff\"\\{}[]$#=:")
        elif kind == 2:
            buf[pos:pos] = rng.choice((b"\x00", b"\r", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\xe2\x80\xae", b"\t", b"\xf0\x9f\x8e\xac"))
        else:
            del buf[pos:pos + rng.randint(1, 16)]
        return bytes(buf)

    def _tokens_of(self, data: bytes) -> list[bytes]:
        return _TOKEN_RE.findall(data)

    def token_insert(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        toks = self._tokens_of(data)
        i = rng.randint(0, len(toks))
        new = rng.choice(self.tokens)
        if rng.random() < 0.5:
            new = b" " + new + b" "
        toks[i:i] = [new]
        return b"".join(toks)

    def token_edit(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        toks = self._tokens_of(data)
        if not toks:
            return data
        i = rng.randrange(len(toks))
        kind = rng.randrange(4)
        if kind == 0:
            del toks[i]
        elif kind == 1:
            toks.insert(i, toks[i])
        elif kind == 2:
            toks[i] = rng.choice(self.tokens)
        else:
            j = rng.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
        return b"".join(toks)

    def word_swap(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        """A name or keyword replaced by another one: from the input itself (references) or from the language."""
        found = list(re.finditer(rb"(?<![\w$#.\-])[A-Za-z_][\w-]*", data))
        if not found:
            return self.token_insert(data, rng, max_size)
        m = rng.choice(found)
        new = rng.choice(found).group() if rng.random() < 0.4 else rng.choice(self.words)
        return data[:m.start()] + new + data[m.end():]

    def value_swap(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        """A value (number, quantity, string, color, list, `$param`) replaced by another value."""
        found = list(_VALUE_RE.finditer(data))
        if not found:
            return self.token_insert(data, rng, max_size)
        m = rng.choice(found)
        new = rng.choice(found).group() if rng.random() < 0.3 else rng.choice(self.values)
        return data[:m.start()] + new + data[m.end():]

    def line_op(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        lines = data.splitlines(keepends=True)
        if not lines:
            return data
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        kind = rng.randrange(5)
        if kind == 0:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[i])
        elif kind == 2:
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 3:
            block = lines[i:i + rng.randint(1, 8)]
            lines[j:j] = block * rng.choice((1, 2, 3, 20))
        else:
            other = self.corpus()
            if other:
                src = rng.choice(other).splitlines(keepends=True)
                if src:
                    k = rng.randrange(len(src))
                    lines[i:i] = src[k:k + rng.randint(1, 6)]
        return b"".join(lines)

    def number_op(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        found = list(_NUMBER_RE.finditer(data))
        if not found:
            return self.token_insert(data, rng, max_size)
        m = rng.choice(found)
        num, unit = m.group(1), m.group(2) or b""
        kind = rng.randrange(3)
        if kind == 0:
            num = rng.choice(INTERESTING_NUMBERS).encode()
        elif kind == 1:
            unit = rng.choice(INTERESTING_UNITS).encode()
        else:
            num, unit = rng.choice(INTERESTING_NUMBERS).encode(), rng.choice(INTERESTING_UNITS).encode()
        return data[:m.start()] + num + unit + data[m.end():]

    def string_op(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        found = list(_STRING_RE.finditer(data))
        if not found:
            return self.token_insert(data, rng, max_size)
        m = rng.choice(found)
        kind = rng.randrange(4)
        if kind == 0:
            new = rng.choice(INTERESTING_STRINGS).encode()
        elif kind == 1:  # an escape or interpolation inside the string
            inner = m.group()[1:-1]
            k = rng.randint(0, len(inner))
            piece = rng.choice((b"\\u{41}", b"\\u{1F3AC}", b"\\n", b"${x}", b"${", b"\\", b"\\\"", b"%", b"'", b":", b"\\t"))
            new = b'"' + inner[:k] + piece * rng.choice((1, 1, 2, 50, 500)) + inner[k:] + b'"'
        elif kind == 2:  # a long string
            n = rng.choice((100, 100, 1000, 1000, 5000, max_size))
            new = b'"' + rng.choice((b"a", b"\\u{41}", b"${x}", b"\xc3\xa9", b" ")) * n + b'"'
        else:  # as a """ string, maybe with CRLF
            inner = m.group()[1:-1]
            nl = rng.choice((b"\n", b"\r\n", b"\r"))
            new = b'"""' + nl + inner + nl + b'"""'
        return data[:m.start()] + new[:max_size] + data[m.end():]

    def nesting(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        depth = min(rng.choice((3, 10, 10, 50, 100, 200, 400, 600, 1000, 3000)), max(1, max_size // 8))
        kind = rng.randrange(3)
        if kind == 0:  # a value inside deep lists
            found = list(_VALUE_RE.finditer(data))
            if found:
                m = rng.choice(found)
                return data[:m.start()] + b"[" * depth + m.group() + b"]" * rng.choice((depth, depth, 0)) + data[m.end():]
            return data + b"\nparam deep = " + b"[" * depth + b"1" + b"]" * depth + b"\n"
        if kind == 1:  # statements inside deep for-loops
            lines = data.splitlines(keepends=True)
            i = rng.randint(0, len(lines))
            j = rng.randint(i, min(len(lines), i + 10))
            head = b"".join(b"for v%d in [1] {\n" % k for k in range(depth))
            return b"".join(lines[:i]) + head + b"".join(lines[i:j]) + b"\n" + b"}\n" * depth + b"".join(lines[j:])
        opener = rng.choice((b"(", b"[", b"{", b"${", b'"${', b"glob(", b"[["))
        pos = rng.randint(0, len(data))
        return data[:pos] + opener * depth + data[pos:]

    def long_run(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        n = rng.choice((16, 64, 64, 256, 256, 1024, 4096, max_size))
        piece = rng.choice((b"a", b"9", b" ", b"\n", b"#", b"x-", b"\t", b"\xc3\xa9", b"}", b"]"))
        pos = rng.randint(0, len(data))
        return data[:pos] + piece * max(1, n // len(piece)) + data[pos:]

    def whitespace(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        kind = rng.randrange(5)
        if kind == 0:
            return data.replace(b"\n", b"\r\n")
        if kind == 1:
            return b"\xef\xbb\xbf" + data
        if kind == 2:
            return data.rstrip(b"\n")
        if kind == 3:
            return data.replace(b"  ", b"\t")
        return data.replace(b"\n", b" \n")

    def set_line(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        """A `#!set NAME=VALUE` or `#!params.*` line: the value paths of `--set` and `--params`."""
        names = _PARAM_RE.findall(data) or [b"looks", b"x"]
        name = rng.choice(names)
        value = rng.choice((*OTHER_VALUES, *INTERESTING_STRINGS, *INTERESTING_NUMBERS[:12], "1.5x1080", "", "=", "a b")).encode()
        kind = rng.randrange(4)
        if kind == 0:
            line = b"#!set " + name + b"=" + value
        elif kind == 1:
            line = b"#!set " + rng.choice((b"", b"=", b"1x", b"a b", name + b" ")) + b"=" + value
        elif kind == 2:
            jv = rng.choice((json.dumps(value.decode(errors="replace")), "1", "1.5", "true", "null", "[1, 2]", '{"a": 1}', "1e999",
                             "9" * 400, '"' + "a" * 5000 + '"'))
            line = b'#!params.json {"' + name + b'": ' + jv.encode() + b"}"
        else:
            line = b"#!params.toml " + name + b" = " + rng.choice((b'"' + value.replace(b'"', b"") + b'"', b"1", b"1.5", b"true",
                                                                 b"[1, 2]", b"1979-05-27", b"inf", b"nan", value))
        return data.rstrip(b"\n") + b"\n" + line + b"\n"

    def splice_other(self, data: bytes, rng: random.Random, max_size: int) -> bytes:
        other = self.corpus()
        if not other:
            return self.line_op(data, rng, max_size)
        return self.crossover(data, rng.choice(other), rng, max_size)


def dictionary_file(tokens: Iterable[str], path: Path) -> Path:
    """A libFuzzer -dict file of the tokens."""
    lines = []
    for tok in tokens:
        raw = tok.encode()
        if not raw or len(raw) > 64:
            continue
        esc = "".join(chr(b) if 32 <= b < 127 and b not in (0x22, 0x5C) else f"\\x{b:02x}" for b in raw)
        lines.append(f'"{esc}"')
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- the target: what must hold for every input ---------------------------------------------

class PropertyFailure(AssertionError):
    """A property of the checker or formatter did not hold (not an exception of nemoflow itself)."""

    def __init__(self, prop: str, detail: str = ""):
        super().__init__(f"{prop}: {detail}" if detail else prop)
        self.prop = prop


class Hang(BaseException):
    """Raised by the per-input timer. A BaseException, so nemoflow's `except Exception` cannot swallow it."""


_DIRECTIVE = re.compile(r"^[ \t]*#!(set|params\.json|params\.toml)[ \t]?(.*?)\r?$", re.M)


def meaning(recipe) -> tuple:
    """What a checked recipe means, without source positions: equal before and after formatting."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("range", "file", "line")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    steps = [strip(s.to_json()) for s in recipe.steps.values()]
    params = sorted((p.name, p.type, repr(p.value)) for p in recipe.params.values())
    warnings = sorted(d.code for d in recipe.warnings)
    return json.dumps(steps, sort_keys=True, default=str), params, recipe.engine, warnings


class NemoTarget:
    """One input through decode → (`--set`, `--params`) → check → render → format → re-check."""

    def __init__(self, base_dir: Path, scratch: Path):
        from nemoflow.core.diagnostics import RecipeError, Sources, render_all
        from nemoflow.lang import check as check_mod
        from nemoflow.lang.fmt import format_source
        from nemoflow.lang.parser import decode_source

        self.base_dir, self.scratch = base_dir, scratch
        self.counts: Counter[str] = Counter()  # how far inputs got: not UTF-8, parse error, check error, checked
        scratch.mkdir(parents=True, exist_ok=True)
        self.RecipeError, self.Sources, self.render_all = RecipeError, Sources, render_all
        self.check_mod, self.format_source, self.decode_source = check_mod, format_source, decode_source
        # Record whether the check's own parse succeeded, so the formatter is tried only on text that parses
        # (the checker's call goes through unchanged; this avoids parsing failing inputs twice).
        self._parsed: str | None = None
        original = check_mod.parse_module

        def probe(text, file, *args, **kwargs):
            module = original(text, file, *args, **kwargs)
            if file == "recipe.nemo":
                self._parsed = text
            return module

        check_mod.parse_module = probe

    def survive(self, fn: Callable[[], object]):
        """Run fn: a result, or a RecipeError with diagnostics that render; anything else propagates."""
        try:
            result = fn()
        except self.RecipeError as err:
            if not err.diagnostics:
                raise PropertyFailure("error-without-diagnostics") from err
            if not self.render_all(err.diagnostics, err.sources or self.Sources()):
                raise PropertyFailure("diagnostics-render-empty") from err
            return err
        warnings = getattr(result, "warnings", ())
        if warnings:
            self.render_all(warnings, result.sources)
        return result

    def overrides(self, raws: list[str]) -> dict[str, str] | None:
        """The CLI's own `--set` parser; None when it refuses the pairs (with exit code 2, else a finding)."""
        import typer

        from nemoflow.cli.common import overrides

        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
                return overrides(raws)
        except typer.Exit as exc:
            if exc.exit_code != 2:
                raise PropertyFailure("set-parser-exit-code", str(exc.exit_code)) from exc
            return None

    def check(self, text: str, overrides: dict[str, str], params_file: Path | None):
        """`check_source`, or with a params file `check_file` (the only entry taking one) on a hidden copy in the workspace."""
        if params_file is None:
            return self.check_mod.check_source(text, "recipe.nemo", self.base_dir, overrides)
        path = self.base_dir / f".fuzz-{os.getpid()}.nemo"  # hidden: glob() loops of other inputs never see it
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return self.check_mod.check_file(path, overrides, params_file, display="recipe.nemo")

    def __call__(self, data: bytes) -> None:
        decoded = self.survive(lambda: self.decode_source(data, "recipe.nemo"))
        if not isinstance(decoded, str):
            self.counts["not UTF-8"] += 1
            return
        text = decoded
        sets, params, params_kind = [], [], None
        for m in _DIRECTIVE.finditer(text):
            if m.group(1) == "set":
                sets.append(m.group(2))
            else:
                params_kind = m.group(1).split(".")[1]
                params.append(m.group(2))
        overrides = self.overrides(sets) if sets else {}
        params_file = None
        if params_kind:
            params_file = self.scratch / f"params.{params_kind}"
            params_file.write_text(params[-1] if params_kind == "json" else "\n".join(params), encoding="utf-8", errors="surrogatepass")
        self._parsed = None
        first = self.survive(lambda: self.check(text, overrides or {}, params_file))
        if self._parsed != text:
            self.counts["parse error" if isinstance(first, self.RecipeError) else "other"] += 1
            return  # did not parse: nothing to format
        self.counts["check error" if isinstance(first, self.RecipeError) else "checked"] += 1
        try:
            once = self.format_source(text)
        except self.RecipeError as err:
            raise PropertyFailure("fmt-rejects-what-parses", str(err)[:200]) from None
        try:
            twice = self.format_source(once)
        except self.RecipeError as err:
            raise PropertyFailure("fmt-output-does-not-parse", str(err)[:200]) from None
        if twice != once:
            raise PropertyFailure("fmt-not-idempotent")
        again = self.survive(lambda: self.check(once, overrides or {}, params_file))
        if isinstance(first, self.RecipeError) != isinstance(again, self.RecipeError):
            raise PropertyFailure("fmt-changes-outcome", f"{type(first).__name__} became {type(again).__name__}")
        if isinstance(first, self.RecipeError):
            before = sorted({d.code for d in first.diagnostics})
            after = sorted({d.code for d in again.diagnostics})
            if before != after:
                raise PropertyFailure("fmt-changes-errors", f"{before} became {after}")
        elif meaning(first) != meaning(again):
            raise PropertyFailure("fmt-changes-meaning")


# ---- running one input: timing, the alarm, classification ----------------------------------------------------

@dataclass
class Outcome:
    elapsed: float  # CPU seconds
    kind: str | None = None  # None (fine) | crash | property | hang
    signature: str = ""
    where: str = ""
    detail: str = ""


def classify(exc: BaseException) -> tuple[str, str, str, str]:
    """(kind, signature, innermost nemoflow frame, traceback text) of an exception that escaped the target."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(PACKAGE)]
    inner = ours[-1] if ours else (frames[-1] if frames else None)
    if isinstance(exc, RecursionError) and ours:  # where the stack ran out is arbitrary: name the function that recursed
        counts = Counter((f.filename, f.name) for f in ours)
        top = max(counts.values())
        recursing = min(k for k, n in counts.items() if n >= top - 1)  # mutual recursion: the same pick whatever the depth
        inner = next(f for f in reversed(ours) if (f.filename, f.name) == recursing)
    where = "?"
    if inner is not None:
        name = os.path.relpath(inner.filename, ROOT) if inner.filename.startswith(str(ROOT)) else os.path.basename(inner.filename)
        where = f"{name}:{inner.lineno} in {inner.name}"
    frame_key = where.split(":", 1)[0] + ":" + where.rsplit(" in ", 1)[-1] if inner is not None else "?"
    if isinstance(exc, Hang):
        kind, what = "hang", "Hang"
    elif isinstance(exc, PropertyFailure):
        kind, what, frame_key = "property", exc.prop, "-"
    else:
        kind, what = "crash", type(exc).__name__
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-12))
    return kind, f"{kind}:{what}:{frame_key}", where, text[-6000:]


class Runner:
    """Runs a target on one input under a CPU-time timer (SIGPROF), and classifies what escapes."""

    def __init__(self, target: Callable[[bytes], None], timeout: float):
        self.target, self.timeout = target, timeout
        signal.signal(signal.SIGPROF, self._alarm)

    @staticmethod
    def _alarm(signum, frame):
        raise Hang()

    def run(self, data: bytes) -> Outcome:
        start = time.process_time()  # CPU time: on a shared machine, wall time ranks the neighbours' load, not the input
        try:
            signal.setitimer(signal.ITIMER_PROF, self.timeout)
            try:
                self.target(data)
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            kind, sig, where, text = classify(exc)
            return Outcome(time.process_time() - start, kind, sig, where, text)
        return Outcome(time.process_time() - start)


# ---- minimisation -------------------------------------------------------------------------

def ddmin(items: list, test: Callable[[list], bool], budget: list[int]) -> list:
    """Zeller's delta debugging: a 1-minimal sublist of items for which test holds (while budget[0] > 0 tests remain)."""
    n = 2
    while len(items) >= 2 and budget[0] > 0:
        size = math.ceil(len(items) / n)
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        for i, chunk in enumerate(chunks):
            rest = [x for c in chunks[:i] + chunks[i + 1:] for x in c]
            for candidate, next_n in ((chunk, 2), (rest, max(n - 1, 2))):
                if budget[0] <= 0 or not candidate:
                    continue
                budget[0] -= 1
                if test(candidate):
                    items, n = candidate, next_n
                    break
            else:
                continue
            break
        else:
            if n >= len(items):
                break
            n = min(len(items), 2 * n)
    return items


def minimize(data: bytes, still_fails: Callable[[bytes], bool], max_tests: int = 4000) -> bytes:
    """The smallest input ddmin finds that still fails: first whole lines, then characters (bytes if not UTF-8)."""
    budget = [max_tests]
    lines = data.splitlines(keepends=True)
    data = b"".join(ddmin(lines, lambda ls: still_fails(b"".join(ls)), budget))
    try:
        chars: list = list(data.decode("utf-8"))
        join: Callable[[list], bytes] = lambda cs: "".join(cs).encode("utf-8")  # noqa: E731
    except UnicodeDecodeError:
        chars = [bytes([b]) for b in data]
        join = b"".join
    return join(ddmin(chars, lambda cs: still_fails(join(cs)), budget))


# ---- statistics one worker keeps ------------------------------------------------------------------

@dataclass
class Stats:
    executed: int = 0
    started: float = field(default_factory=time.time)
    findings: dict[str, dict] = field(default_factory=dict)
    slow_per_byte: list[tuple[float, str]] = field(default_factory=list)  # min-heaps of (score, key)
    slow_total: list[tuple[float, str]] = field(default_factory=list)
    inputs: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # key -> (data, seconds) for the heaps
    coverage: int = 0
    corpus: int = 0
    stages: Counter[str] = field(default_factory=Counter)  # how far inputs got (the target's own counts)
    peak_rss_mb: float = 0.0  # the process's high-water mark, and the input that last raised it
    peak_input: bytes = b""

    def record(self, data: bytes, out: Outcome) -> bool:
        """Count one executed input; True when it is the first of a new finding."""
        self.executed += 1
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if rss > self.peak_rss_mb:
            self.peak_rss_mb, self.peak_input = rss, data
        key = None
        if len(data) >= SLOW_MIN_BYTES:
            key = self._keep(self.slow_per_byte, out.elapsed / len(data), data, out.elapsed)
        self._keep(self.slow_total, out.elapsed, data, out.elapsed, key)
        if out.kind is None:
            return False
        entry = self.findings.get(out.signature)
        if entry is None:
            self.findings[out.signature] = {"kind": out.kind, "count": 1, "where": out.where, "traceback": out.detail,
                                            "input": data.hex(), "seconds": out.elapsed}
            return True
        entry["count"] += 1
        if len(data) < len(bytes.fromhex(entry["input"])):
            entry["input"] = data.hex()
        return False

    def _keep(self, heap: list, score: float, data: bytes, seconds: float, key: str | None = None) -> str | None:
        if len(heap) >= TOP and score <= heap[0][0]:
            return key
        key = key or hashlib.sha1(data).hexdigest()[:16]
        self.inputs[key] = (data, seconds)
        if len(heap) >= TOP:
            heapq.heapreplace(heap, (score, key))
        else:
            heapq.heappush(heap, (score, key))
        if len(self.inputs) > 4 * TOP:
            live = {k for _, k in self.slow_per_byte} | {k for _, k in self.slow_total}
            self.inputs = {k: v for k, v in self.inputs.items() if k in live}
        return key

    def to_json(self) -> dict:
        def slow(heap):
            return [{"key": k, "seconds": self.inputs[k][1], "bytes": len(self.inputs[k][0]), "score": s}
                    for s, k in sorted(heap, reverse=True)]

        return {"executed": self.executed, "started": self.started, "updated": time.time(), "findings": self.findings,
                "slow_per_byte": slow(self.slow_per_byte), "slow_total": slow(self.slow_total),
                "coverage": self.coverage, "corpus": self.corpus, "stages": dict(self.stages), "peak_rss_mb": self.peak_rss_mb,
                "peak_input_bytes": len(self.peak_input)}

    def dump(self, folder: Path, inputs: bool = False) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if inputs:
            for key, (data, _) in self.inputs.items():
                (folder / f"slow-{key}.bin").write_bytes(data)
            (folder / "peak-rss-input.bin").write_bytes(self.peak_input)
        tmp = folder / "stats.json.tmp"
        tmp.write_text(json.dumps(self.to_json()))
        os.replace(tmp, folder / "stats.json")


# ---- the built-in coverage-guided loop -------------------------------------------------------------

class ArcCoverage:
    """Line-to-line arcs executed in files under the given prefixes (sys.settrace; Python 3.11 has no sys.monitoring)."""

    def __init__(self, prefixes: Sequence[str]):
        self.prefixes = tuple(prefixes)
        self.seen: set[tuple] = set()
        self._wanted: dict = {}
        self._arcs: set[tuple] = set()

    def _global(self, frame, event, arg):
        code = frame.f_code
        wanted = self._wanted.get(code)
        if wanted is None:
            wanted = self._wanted[code] = code.co_filename.startswith(self.prefixes)
        if not wanted:
            return None
        arcs, prev = self._arcs, [-1]

        def local(frame, event, arg):
            if event == "line":
                line = frame.f_lineno
                arcs.add((code, prev[0], line))
                prev[0] = line
            return local

        return local

    def run(self, fn: Callable[[], object]) -> object:
        self._arcs = set()
        sys.settrace(self._global)
        try:
            return fn()
        finally:
            sys.settrace(None)

    def new(self) -> int:
        """How many arcs of the last run were never seen before (and remember them)."""
        fresh = self._arcs - self.seen
        self.seen |= fresh
        return len(fresh)


def fuzz_builtin(runner: Runner, seeds: Sequence[bytes], mutator: Mutator, stats: Stats, *, inputs: int, seed: int,
                 max_len: int, deadline: float = math.inf, prefixes: Sequence[str] = COVERAGE_PREFIXES,
                 on_input: Callable[[bytes], None] | None = None, on_finding: Callable[[bytes, Outcome], None] | None = None,
                 tick: Callable[[], None] | None = None, stop: Callable[[], bool] = lambda: False) -> list[bytes]:
    """Run seeds, then mutants of the corpus, keeping inputs that reach new arcs; stops after `inputs` executions. Returns the corpus."""
    rng = random.Random(seed)
    cov = ArcCoverage(prefixes)
    corpus: list[bytes] = []
    mutator.corpus = lambda: corpus

    def one(data: bytes) -> None:
        if on_input:
            on_input(data)
        out = cov.run(lambda: runner.run(data))
        assert isinstance(out, Outcome)
        if stats.record(data, out) and on_finding:
            on_finding(data, out)
        if cov.new() and out.kind is None:
            corpus.append(data)
        stats.coverage, stats.corpus = len(cov.seen), len(corpus)

    for data in seeds:
        if stats.executed >= inputs or time.time() >= deadline or stop():
            return corpus
        one(data[:max_len])
        if data not in corpus:
            corpus.append(data[:max_len])
    while stats.executed < inputs and time.time() < deadline and not stop():
        parent = rng.choice(corpus) if corpus else b""
        if rng.random() < 0.1 and len(corpus) > 1:
            data = mutator.crossover(parent, rng.choice(corpus), rng, max_len)
        else:
            data = mutator.mutate(parent, rng, max_len)
        one(data)
        if tick and stats.executed % 200 == 0:
            tick()
    return corpus


# ---- a worker process ---------------------------------------------------------------------

class Worker:
    """One fuzzing process: its stats, its 'current input' slot for post-mortems, its stop condition."""

    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.folder = self.out / f"worker-{args.worker}" / f"run-{args.run}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stats = Stats()
        self.deadline = args.deadline
        self.last_dump = 0.0
        slot = self.folder / "current.bin"
        slot.write_bytes(b"\0" * (4 + args.max_len + 64))
        self._slot_file = open(slot, "r+b")  # kept open for the life of the process
        self.slot = mmap.mmap(self._slot_file.fileno(), 0)
        self.log = open(self.folder / "faulthandler.log", "w")
        self.hard_timeout = max(10.0, args.timeout * 5)
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def on_input(self, data: bytes) -> None:
        """Remember the input about to run (a parent reads it if this process dies) and arm the hard watchdog."""
        data = data[: len(self.slot) - 4]
        self.slot[:4] = struct.pack("<I", len(data))
        self.slot[4:4 + len(data)] = data
        faulthandler.dump_traceback_later(self.hard_timeout, exit=True, file=self.log)

    def on_finding(self, data: bytes, out: Outcome) -> None:
        self.tick(force=True)

    def tick(self, force: bool = False) -> None:
        now = time.time()
        if force or now - self.last_dump > 2:
            self.last_dump = now
            self.stats.dump(self.folder)

    def done(self) -> bool:
        return self.stopping or self.stats.executed >= self.args.budget or time.time() >= self.deadline

    def _stop(self, signum, frame) -> None:
        self.stopping = True  # finish after the input in hand, writing stats and slowest inputs

    def finish(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        self.stats.dump(self.folder, inputs=True)
        (self.folder / "finished").write_text("ok\n")


def limit_memory(mb: int) -> None:
    if mb > 0:
        limit = mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker_main(args) -> None:
    """Entry point of `--worker N`: fuzz until the budget or the deadline, writing stats as it goes."""
    engine = args.engine
    out = Path(args.out)
    if engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=args.instrument.split(",")):
            import nemoflow.cli.common
            import nemoflow.lang.check
            import nemoflow.lang.fmt  # noqa: F401
    worker = Worker(args)
    limit_memory(args.memory_limit_mb)
    target = NemoTarget(out / "workspace", worker.folder / "scratch")
    runner = Runner(target, args.timeout)
    tokens = grammar_tokens()
    seeds = [p.read_bytes() for p in sorted((out / "seeds").iterdir())]
    for data in seeds:  # warm-up (lazy imports, Lark's tables), neither counted nor timed: the first input is not "slow"
        runner.run(data)
    target.counts.clear()
    worker.stats.stages = target.counts
    if engine == "builtin":
        mutator = Mutator(tokens)
        corpus = fuzz_builtin(runner, seeds, mutator, worker.stats, inputs=args.budget, seed=args.seed, max_len=args.max_len,
                              deadline=worker.deadline, on_input=worker.on_input, on_finding=worker.on_finding, tick=worker.tick,
                              stop=lambda: worker.stopping)
        shared = out / "corpus"
        for data in corpus:
            (shared / hashlib.sha1(data).hexdigest()).write_bytes(data)
        worker.finish()
        return
    run_atheris(args, worker, runner, tokens)


def run_atheris(args, worker: Worker, runner: Runner, tokens: list[str]) -> None:
    import atheris

    out = Path(args.out)
    seeds = [p.read_bytes() for p in sorted((out / "seeds").iterdir())]
    mutator = Mutator(tokens, corpus=lambda: seeds)  # lines and splices come from the seeds; libFuzzer crosses corpus entries

    def test_one(data: bytes) -> None:
        worker.on_input(data)
        outcome = runner.run(data)
        if worker.stats.record(data, outcome):
            worker.on_finding(data, outcome)
        worker.tick()
        if worker.done():
            worker.finish()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.2:
            return atheris.Mutate(data, max_size)
        return mutator.mutate(data, rng, max_size)

    def custom_crossover(a: bytes, b: bytes, max_size: int, seed: int) -> bytes:
        return mutator.crossover(a, b, random.Random(seed), max_size)

    dict_path = dictionary_file(tokens, worker.folder / "nemo.dict")
    # atheris's own wall-clock timeout (SIGALRM) backs up faulthandler's; the per-input limit is the runner's CPU-time timer
    argv = [sys.argv[0], f"-seed={args.seed}", f"-max_len={args.max_len}", f"-timeout={int(worker.hard_timeout) + 10}",
            "-rss_limit_mb=0", "-malloc_limit_mb=0", "-mutate_depth=2", "-handle_term=0", "-handle_int=0",
            f"-dict={dict_path}", "-reload=30", "-print_final_stats=1", f"-artifact_prefix={worker.folder}/",
            str(out / "corpus"), str(out / "seeds")]
    atheris.Setup(argv, test_one, custom_mutator=custom_mutator, custom_crossover=custom_crossover)
    atheris.Fuzz()
    worker.finish()


# ---- the parent: workers, progress, findings, report ------------------------------------------------------------

def _worker_stats(out: Path) -> list[dict]:
    found = []
    for path in sorted(out.glob("worker-*/run-*/stats.json")):
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(path.read_text()))
    return found


def merge(out: Path) -> dict:
    """Every worker run's stats as one: executed inputs summed, findings merged by signature, slowest re-ranked."""
    executed, findings, stages, peak = 0, {}, Counter(), 0.0
    slow_pb, slow_total = [], []
    for stats_path in sorted(out.glob("worker-*/run-*/stats.json")):
        try:
            st = json.loads(stats_path.read_text())
        except (OSError, ValueError):
            continue
        executed += st["executed"]
        stages.update(st.get("stages", {}))
        peak = max(peak, st.get("peak_rss_mb", 0.0))
        for sig, f in st["findings"].items():
            have = findings.get(sig)
            if have is None:
                findings[sig] = dict(f)
            else:
                have["count"] += f["count"]
                if len(f["input"]) < len(have["input"]):
                    have["input"] = f["input"]
        for item in st["slow_per_byte"]:
            slow_pb.append({**item, "file": str(stats_path.parent / f"slow-{item['key']}.bin")})
        for item in st["slow_total"]:
            slow_total.append({**item, "file": str(stats_path.parent / f"slow-{item['key']}.bin")})
    for death in sorted(out.glob("worker-*/run-*/death.json")):
        d = json.loads(death.read_text())
        have = findings.setdefault(d["signature"], {**d, "count": 0})
        have["count"] += 1
    slow_pb = sorted(slow_pb, key=lambda i: -i["score"])[:TOP]
    slow_total = sorted(slow_total, key=lambda i: -i["seconds"])[:TOP]
    return {"executed": executed, "findings": findings, "slow_per_byte": slow_pb, "slow_total": slow_total, "stages": dict(stages),
            "peak_rss_mb": peak}


def coverage_figure(out: Path) -> str:
    """libFuzzer's last `cov:`/`ft:`/`corp:` figures per worker (atheris), or the built-in arc counts."""
    parts = []
    for log in sorted(out.glob("worker-*/run-*/libfuzzer.log")):
        last = None
        with contextlib.suppress(OSError):
            with open(log, "rb") as fh:
                fh.seek(max(0, log.stat().st_size - 200_000))
                for line in fh.read().decode(errors="replace").splitlines():
                    m = re.search(r"cov: (\d+) ft: (\d+) corp: (\d+)", line)
                    if m:
                        last = m.groups()
        if last:
            parts.append(f"{log.parent.parent.name}/{log.parent.name}: cov {last[0]}, ft {last[1]}, corpus {last[2]}")
    for st in _worker_stats(out):
        if st.get("coverage"):
            parts.append(f"arcs {st['coverage']}, corpus {st['corpus']}")
    return "; ".join(parts)


def _launch(args, worker: int, run: int, budget: int, deadline: float) -> subprocess.Popen:
    folder = Path(args.out) / f"worker-{worker}" / f"run-{run}"
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--worker", str(worker), "--run", str(run), "--budget", str(budget), "--deadline", str(deadline),
           "--out", str(args.out), "--seed", str(args.seed * 1000 + worker * 100 + run + 1), "--engine", args.engine,
           "--timeout", str(args.timeout), "--max-len", str(args.max_len), "--memory-limit-mb", str(args.memory_limit_mb),
           "--instrument", args.instrument]
    log = open(folder / "libfuzzer.log", "wb")  # the child inherits it
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
    finally:
        log.close()


def _post_mortem(out: Path, worker: int, run: int, code: int) -> None:
    """A worker that died (faulthandler's hard timeout, a signal): keep the input it was running."""
    folder = out / f"worker-{worker}" / f"run-{run}"
    data = b""
    with contextlib.suppress(OSError, struct.error):
        raw = (folder / "current.bin").read_bytes()
        data = raw[4:4 + struct.unpack("<I", raw[:4])[0]]
    fault = ""
    for name in ("faulthandler.log", "libfuzzer.log"):  # faulthandler's watchdog, or atheris's own (-timeout), or a libFuzzer error
        with contextlib.suppress(OSError):
            text = (folder / name).read_text(errors="replace")
            fault += "\n".join(line for line in text.splitlines()[-60:] if not line.startswith("#"))
    frames = re.findall(r'File "([^"]+)", line (\d+) in (\w+)', fault)
    ours = [f for f in frames if f[0].startswith(PACKAGE)]
    where = f"{os.path.relpath(ours[0][0], ROOT)}:{ours[0][1]} in {ours[0][2]}" if ours else "?"
    kind = "hang" if "Timeout" in fault else "death"
    key = where.split(":", 1)[0] + ":" + where.rsplit(" in ", 1)[-1] if ours else f"exit {code}"
    record = {"kind": kind, "signature": f"{kind}:{'HardTimeout' if kind == 'hang' else 'Died'}:{key}", "where": where,
              "traceback": fault[-6000:] or f"exit code {code}", "input": data.hex(), "seconds": None}
    (folder / "death.json").write_text(json.dumps(record))


def _progress(args, out: Path, start: float, final: bool = False) -> dict:
    merged = merge(out)
    elapsed = time.time() - start
    by_kind: dict[str, int] = {}
    for f in merged["findings"].values():
        by_kind[f["kind"]] = by_kind.get(f["kind"], 0) + 1
    rate = merged["executed"] / elapsed if elapsed > 0 else 0.0
    lines = [f"{'final' if final else 'running'}: {merged['executed']:,} of {args.inputs:,} inputs executed in {elapsed:,.0f} s "
             f"({rate:,.0f} inputs/s, engine {args.engine}, {args.jobs} jobs)",
             "distinct findings: " + (", ".join(f"{k} {v}" for k, v in sorted(by_kind.items())) or "none"),
             "coverage: " + (coverage_figure(out) or "-")]
    if merged["slow_total"]:
        s = merged["slow_total"][0]
        lines.append(f"slowest input: {s['seconds']:.3f} s ({s['bytes']:,} bytes)")
    (out / "progress.txt").write_text("\n".join(lines) + "\n")
    merged.update(elapsed=elapsed, rate=rate, by_kind=by_kind)
    return merged


def parent_main(args) -> int:
    out = Path(args.out).resolve()
    args.out = str(out)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("seeds", "corpus"):
        (out / sub).mkdir(exist_ok=True)
    for name, data in seed_inputs():
        (out / "seeds" / name.replace("/", "__")).write_bytes(data)
    make_workspace(out)
    if args.engine == "auto":
        try:
            import atheris  # noqa: F401

            args.engine = "atheris"
        except ImportError:
            args.engine = "builtin"
    start = time.time()
    deadline = start + args.time_limit if args.time_limit else start + 10 * 365 * 86400
    share = [args.inputs // args.jobs + (1 if i < args.inputs % args.jobs else 0) for i in range(args.jobs)]
    runs = [0] * args.jobs
    done_before = [0] * args.jobs  # inputs executed by earlier runs of each worker
    procs = {i: _launch(args, i, 0, share[i], deadline) for i in range(args.jobs) if share[i]}

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Explicit handlers: a campaign started in the background (`nohup … &`) inherits SIGINT ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while procs:
            time.sleep(2)
            _progress(args, out, start)
            for i, proc in list(procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                folder = out / f"worker-{i}" / f"run-{runs[i]}"
                executed = 0
                with contextlib.suppress(OSError, ValueError):
                    executed = json.loads((folder / "stats.json").read_text())["executed"]
                done_before[i] += executed
                del procs[i]
                if code == 0 and (folder / "finished").exists():
                    continue
                _post_mortem(out, i, runs[i], code)
                left = share[i] - done_before[i]
                if left > 0 and time.time() < deadline and runs[i] < args.max_restarts:
                    runs[i] += 1
                    procs[i] = _launch(args, i, runs[i], left, deadline)
    except KeyboardInterrupt:  # stop: each worker finishes the input in hand and writes its stats
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=args.timeout * 5 + 15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    merged = _progress(args, out, start, final=True)
    report = finish_report(args, out, merged)
    print(summary(report))
    return 0


def finish_report(args, out: Path, merged: dict) -> dict:
    """Minimise every distinct finding (in a fresh process, with the same limits) and write DIR/report.json."""
    findings_dir = out / "findings"
    findings_dir.mkdir(exist_ok=True)
    todo = []
    for sig, f in merged["findings"].items():
        slug = re.sub(r"[^\w.-]+", "_", sig)[:120]
        folder = findings_dir / slug
        folder.mkdir(exist_ok=True)
        (folder / "input.bin").write_bytes(bytes.fromhex(f["input"]))
        (folder / "traceback.txt").write_text(f["traceback"])
        todo.append((sig, folder))
        f["folder"] = str(folder)
    slow_files = sorted({i["file"] for i in merged["slow_per_byte"] + merged["slow_total"] if os.path.exists(i["file"])})
    if (todo and not args.no_minimize) or slow_files:
        jobs = out / "minimize.json"
        jobs.write_text(json.dumps({"findings": [] if args.no_minimize else [[sig, str(folder)] for sig, folder in todo],
                                    "slow": slow_files}))
        subprocess.run([sys.executable, __file__, "--minimize", str(jobs), "--out", str(out), "--timeout", str(args.timeout),
                        "--memory-limit-mb", str(args.memory_limit_mb)], cwd=str(ROOT), check=False)
    for sig, folder in todo:
        result = folder / "minimized.json"
        if result.exists():
            merged["findings"][sig].update(json.loads(result.read_text()))
    retimed = out / "retimed.json"
    if retimed.exists():
        again = json.loads(retimed.read_text())
        for item in merged["slow_per_byte"] + merged["slow_total"]:
            item["uninstrumented"] = again.get(item["file"])
    report = {"engine": args.engine, "jobs": args.jobs, "memory_limit_mb": args.memory_limit_mb, "instrument": args.instrument,
              "seed": args.seed, "timeout": args.timeout, "inputs_requested": args.inputs,
              "executed": merged["executed"], "elapsed": merged["elapsed"], "rate": merged["rate"], "by_kind": merged["by_kind"],
              "coverage": coverage_figure(out), "stages": merged["stages"], "peak_rss_mb": merged["peak_rss_mb"],
              "findings": merged["findings"], "slow_per_byte": merged["slow_per_byte"],
              "slow_total": merged["slow_total"], "seeds": [n for n, _ in seed_inputs()]}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report


def summary(report: dict) -> str:
    lines = [f"inputs run: {report['executed']:,} (requested {report['inputs_requested']:,}) in {report['elapsed']:,.0f} s",
             f"inputs/s: {report['rate']:,.0f} (engine {report['engine']}, {report['jobs']} jobs)",
             f"coverage: {report['coverage'] or '-'}",
             "how far inputs got: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report["stages"].items())),
             f"peak RSS of a fuzzing process: {report['peak_rss_mb']:.0f} MB (address space capped at {report['memory_limit_mb']} MB)"]
    kinds = report["by_kind"]
    lines.append(f"crashes (distinct): {kinds.get('crash', 0)}, property failures: {kinds.get('property', 0)}, "
                 f"hangs (> {report['timeout']} s): {kinds.get('hang', 0)}, worker deaths: {kinds.get('death', 0)}")
    for sig, f in sorted(report["findings"].items()):
        mini = f.get("minimized")
        shown = repr(bytes.fromhex(mini))[:160] if mini is not None else "(not minimised)"
        if f.get("reproduced") is False:
            shown = f"(did not reproduce in a fresh, uninstrumented process: {f.get('rerun') or 'no error'})"
        lines.append(f"  {sig}  ×{f['count']}  at {f['where']}\n      minimised: {shown}")
    def again(s: dict) -> str:
        return f", {s['uninstrumented']:.3f} s re-run uninstrumented" if s.get("uninstrumented") is not None else ""

    if report["slow_total"]:
        s = report["slow_total"][0]
        lines.append(f"slowest input: {s['seconds']:.3f} s in the campaign{again(s)}, {s['bytes']:,} bytes ({s['file']})")
    if report["slow_per_byte"]:
        s = report["slow_per_byte"][0]
        lines.append(f"slowest per byte (≥ {SLOW_MIN_BYTES} bytes): {s['score'] * 1e6:.2f} µs/byte, {s['seconds']:.3f} s{again(s)} for "
                     f"{s['bytes']:,} bytes ({s['file']})")
    return "\n".join(lines)


def minimize_main(args) -> None:
    """Entry point of `--minimize JOBS`: reproduce each finding in a fresh process and shrink it, keeping its signature."""
    out = Path(args.out)
    limit_memory(args.memory_limit_mb)
    target = NemoTarget(out / "workspace", out / "findings" / "scratch")
    runner = Runner(target, args.timeout)
    jobs = json.loads(Path(args.minimize).read_text())
    for data in (p.read_bytes() for p in sorted((out / "seeds").iterdir())):
        runner.run(data)  # warm-up, as the workers do
    retimed = {}
    for name in jobs["slow"]:
        data = Path(name).read_bytes()
        retimed[name] = min(runner.run(data).elapsed for _ in range(3))
    (out / "retimed.json").write_text(json.dumps(retimed))
    for sig, folder in jobs["findings"]:
        folder = Path(folder)
        data = (folder / "input.bin").read_bytes()
        first = runner.run(data)
        hang = sig.startswith(("hang:", "death:"))
        if first.signature != sig and not (hang and first.kind == "hang"):
            (folder / "minimized.json").write_text(json.dumps({"reproduced": False, "rerun": first.signature}))
            continue

        def still(candidate: bytes, sig: str = sig, hang: bool = hang) -> bool:
            got = runner.run(candidate)
            return got.signature == sig or (hang and got.kind == "hang")

        small = minimize(data, still, max_tests=30 if hang else 4000)
        last = runner.run(small)
        (folder / "minimized.bin").write_bytes(small)
        (folder / "minimized-traceback.txt").write_text(last.detail)
        (folder / "minimized.json").write_text(json.dumps({"reproduced": True, "minimized": small.hex(), "minimized_where": last.where}))


def parse_args(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inputs", type=int, default=500_000, help="inputs to execute in all (default 500,000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2, help="fuzzing processes (default 2)")
    p.add_argument("--time-limit", type=float, default=0, help="stop after this many seconds, whatever the count (default: none)")
    p.add_argument("--timeout", type=float, default=2.0, help="an input running longer is a hang (default 2 s)")
    p.add_argument("--out", default=str(ROOT / "out" / "fuzz"), help="where crashers, hangs, slowest inputs and the report go")
    p.add_argument("--engine", choices=("auto", "atheris", "builtin"), default="auto")
    p.add_argument("--max-len", type=int, default=8192, help="longest input generated (bytes; default 8192)")
    p.add_argument("--memory-limit-mb", type=int, default=2048, help="address-space cap per process: a bomb becomes MemoryError")
    p.add_argument("--max-restarts", type=int, default=50, help="restarts of a worker that died")
    p.add_argument("--no-minimize", action="store_true")
    p.add_argument("--instrument", default="nemoflow", help="packages atheris instruments for coverage (default nemoflow; "
                   "nemoflow,lark also guides by the lexer's and parser's paths, at ~2.5x the cost per input)")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--budget", type=int, help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    p.add_argument("--minimize", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        worker_main(args)
        return 0
    if args.minimize:
        minimize_main(args)
        return 0
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
