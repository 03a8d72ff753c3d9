"""Every resource limit on what a recipe may ask of nemoflow, in one place.

`nemoflow check` promises to finish any input of up to 10 MB in a few seconds
and a few hundred MB of memory (docs/guarantees.md). That holds only if no
shape of input can make the work grow without bound: a string, a number, a
nesting, a fan-out or a render length. Each limit below is one of those
bounds; going over it is a diagnostic (its `code`) that names the limit and,
for the ones a bigger machine may raise, how to raise it: an environment
variable, or `KEY = N` under `[limits]` in the config file. The others guard
nemoflow itself (Python's stack, the range of a float) and are fixed.

Regenerate the table in docs/limits.md with `python3 -m nemoflow.core.limits`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections.abc import Iterable, Iterator

import attrs

from ..config import setting
from ..errors import ConfigError
from . import codes
from .diagnostics import Diagnostic

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(h|m|s)?\s*")
_SECONDS = {"h": 3600, "m": 60, "s": 1, None: 1}


@attrs.frozen
class Limit:
    """One bound: its default, what it counts, the diagnostic for going over it, and how to raise it (if it can be)."""

    key: str  # the name under [limits] in the config file
    default: int
    what: str  # what is counted, for messages and docs: "steps after fan-out"
    code: codes.Code | None  # the error for going over it; None for a cap on what is shown
    env: str | None = None  # the environment variable that raises it; None: a fixed limit
    why_fixed: str | None = None  # for a fixed limit: why it cannot be raised
    duration: bool = False  # the value is seconds, and may be written `48h`

    def value(self) -> int:
        """The limit in force: the environment variable, else `[limits] key` in the config file, else the default."""
        if self.env is None:
            return self.default
        raw = setting("limits", self.key, env=self.env)
        if raw is None:
            return self.default
        where = self.env if os.environ.get(self.env) else f"`{self.key}` under [limits] in the config file"
        value = _read(raw, self.duration)
        if value is None or value <= 0:
            example = "48h" if self.duration else f"{self.default * 2}"
            raise ConfigError(f"{where} is `{raw}`, which is not a {'duration' if self.duration else 'whole number'} "
                              f"above 0; write e.g. {example} (the default is {self.shown(self.default)})")
        return value

    def shown(self, value: int | None = None) -> str:
        """The limit as a person reads it: `50,000`, `24h`."""
        value = self.value() if value is None else value
        if self.duration:
            for unit, size in (("h", 3600), ("m", 60)):
                if value % size == 0:
                    return f"{value // size}{unit}"
            return f"{value}s"
        return f"{value:,}"

    def how_to_raise(self) -> str:
        """One sentence: how to raise it, or why it is fixed."""
        if self.env is None:
            return f"this limit is fixed: {self.why_fixed}"
        example = "48h" if self.duration else f"{self.default * 2}"
        value = f'"{example}"' if self.duration else example
        return f"raise the limit with {self.env}={example}, or `{self.key} = {value}` under [limits] in the config file"


def _read(raw, duration: bool) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    text = str(raw).strip().replace("_", "").replace(",", "")
    if not duration:
        return int(text) if text.isdigit() else None
    m = _DURATION.fullmatch(text)
    return round(float(m.group(1)) * _SECONDS[m.group(2)]) if m else None


RECIPE_BYTES = Limit("recipe_bytes", 10_000_000, "bytes in a recipe file (and in all the files it includes)", codes.RECIPE_TOO_LARGE,
                     why_fixed="a recipe is a text file; anything bigger is almost surely not one")
TOKENS = Limit("max_tokens", 150_000, "tokens (names, values and symbols) in a recipe and its includes",
               codes.RECIPE_TOO_MANY_TOKENS, env="NEMOFLOW_MAX_TOKENS")
NESTING = Limit("max_nesting", 32, "levels of nested brackets, lists and blocks", codes.NESTING_TOO_DEEP,
                why_fixed="deeper nesting would exhaust Python's stack while the recipe is read")
STRING_CHARS = Limit("max_string", 100_000, "characters in one string", codes.STRING_TOO_LONG,
                     why_fixed="longer text is no title, path or instruction")
TOKEN_CHARS = Limit("max_word", 1000, "characters in one name or number", codes.STRING_TOO_LONG,
                    why_fixed="no name or number needs more")
NUMBER_DIGITS = Limit("max_digits", 15, "digits before the decimal point of a number", codes.NUMBER_TOO_LARGE,
                      why_fixed="a number of 16 or more digits is no longer exact, and beyond 308 it is no number at all")
STEPS = Limit("max_steps", 50_000, "steps (and loop iterations) after fan-out", codes.TOO_MANY_STEPS,
              env="NEMOFLOW_MAX_STEPS")
EXPANDED = Limit("max_expanded", 1_000_000, "values in the clauses of all steps once loops are expanded",
                 codes.EXPANDED_TOO_LARGE, env="NEMOFLOW_MAX_EXPANDED")
REFERENCES = Limit("max_references", 200_000, "references from one step to another after fan-out (the graph's edges)",
                   codes.TOO_MANY_REFERENCES, env="NEMOFLOW_MAX_REFERENCES")
FANOUT = Limit("max_fanout", 10_000, "items one `for` loop goes over", codes.FANOUT_TOO_LARGE,
               why_fixed="nest loops, or split the list, to go further (the total is bounded by the steps limit)")
TABLE_ROWS = Limit("max_table_rows", 10_000, "rows one `table(…)` loop reads", codes.FANOUT_TOO_LARGE,
                   env="NEMOFLOW_MAX_TABLE_ROWS")
TABLE_BYTES = Limit("max_table_bytes", 50_000_000, "bytes in a `table(…)` file", codes.TABLE_UNREADABLE,
                    env="NEMOFLOW_MAX_TABLE_BYTES")
GLOB_FOLDERS = Limit("max_glob_folders", 10_000, "folders one `**` glob may search", codes.GLOB_TOO_WIDE,
                     env="NEMOFLOW_MAX_GLOB_FOLDERS")
DURATION = Limit("max_duration", 24 * 3600, "length of a generated source, a duration in the recipe or an edit's timeline",
                 codes.DURATION_TOO_LONG, env="NEMOFLOW_MAX_DURATION", duration=True)
PARAMS_FILE_BYTES = Limit("params_file_bytes", 1_000_000, "bytes in a `--params` file", codes.PARAMS_FILE_TOO_LARGE,
                          why_fixed="a params file holds a few values; anything bigger is almost surely not one")
SYNTAX_ERRORS = Limit("syntax_errors", 20, "syntax errors reported for one file", None,
                      why_fixed="fix these and check again to see the rest")
SHOWN_PER_CODE = Limit("shown_per_code", 20, "diagnostics of one code shown before `… and N more`", None,
                       why_fixed="the rest are counted in the last line")

ALL: tuple[Limit, ...] = (RECIPE_BYTES, TOKENS, NESTING, STRING_CHARS, TOKEN_CHARS, NUMBER_DIGITS, STEPS, EXPANDED, REFERENCES, FANOUT,
                          TABLE_ROWS, TABLE_BYTES, GLOB_FOLDERS, DURATION, PARAMS_FILE_BYTES, SYNTAX_ERRORS, SHOWN_PER_CODE)


@attrs.define
class Budget:
    """The tokens one check may still lex: the recipe, its includes, and the re-reading done to find more than
    one syntax error all draw on it, so no input makes a check lex more than `limit` tokens in all."""

    tokens: int
    limit: int

    @classmethod
    def fresh(cls) -> Budget:
        n = TOKENS.value()
        return cls(n, n)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a recipe is read and checked.

    Reading builds hundreds of thousands of small objects (tokens, tree nodes,
    spans) and no cycles; every full collection walks all of them, which made
    a recipe at the token limit cost 4.6 s of CPU instead of 1.9 s. The work
    under the pause is bounded by the limits above, and collection resumes after.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def capped(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The first SHOWN_PER_CODE diagnostics of each code (in the order given), then one `… and N more` per code.

    A recipe with 250,000 unused media printed 1.3 million lines; the count says as much.
    """
    limit = SHOWN_PER_CODE.default
    out: list[Diagnostic] = []
    kept: dict[str, int] = {}
    hidden: dict[str, list[Diagnostic]] = {}
    for diag in diags:
        if kept.get(diag.code, 0) < limit:
            kept[diag.code] = kept.get(diag.code, 0) + 1
            out.append(diag)
        else:
            hidden.setdefault(diag.code, []).append(diag)
    for code, rest in hidden.items():
        first = rest[0]
        kind = "errors" if first.is_error else "warnings"
        out.append(Diagnostic(first.span, f"… and {len(rest):,} more {kind} like this ({code})", code, first.severity,
                              help=f"the first {limit} are shown; this is where the next one is"))
    return out


def markdown() -> str:
    """docs/limits.md: every limit, its value, and how to raise it."""
    out = [
        "# Limits",
        "",
        "<!-- Generated by `python3 -m nemoflow.core.limits > docs/limits.md` from nemoflow/core/limits.py; do not edit. -->",
        "",
        "Going over a limit is an error with its own code; the raisable ones take an environment variable",
        "or `KEY = N` under `[limits]` in the config file.",
        "",
        "| Limit | Default | Code | How to raise it |",
        "| --- | --- | --- | --- |",
    ]
    for limit in ALL:
        how = f"`{limit.env}` or `[limits] {limit.key}`" if limit.env else f"fixed: {limit.why_fixed}"
        code = f"[{limit.code.id}](errors.md#{limit.code.id.lower()})" if limit.code else "(shown, not an error)"
        out.append(f"| {limit.what} | {limit.shown(limit.default)} | {code} | {how} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
