"""Resource limits: hostile recipes end in a clear diagnostic (exit 2) that names the limit, never in a hang,
a memory blow-up or an internal error (exit 70).

Each test builds one hostile shape from issue 15 small enough to run in a moment; benchmarks/check_bombs.py
runs the full-size shapes and measures time and memory.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import attrs
import pytest

from nemoflow.core import codes, limits
from nemoflow.core.diagnostics import RecipeError
from nemoflow.lang import parser
from nemoflow.lang.check import check_file, check_source
from nemoflow.lang.literals import read_string

BARS = "nemo 1\nmedia bars = pattern bars duration 5s\n"


def _codes(text: str, tmp_path: Path | None = None, **kw) -> list[str]:
    try:
        recipe = check_source(text, "recipe.nemo", base_dir=tmp_path, **kw)
    except RecipeError as err:
        return [d.code for d in err.diagnostics]
    return [d.code for d in recipe.warnings]


def _errors(text: str, tmp_path: Path | None = None) -> list:
    with pytest.raises(RecipeError) as info:
        check_source(text, "recipe.nemo", base_dir=tmp_path)
    return list(info.value.diagnostics)


def _cli_check(cli, tmp_path: Path, text: str | bytes, *extra: str):
    path = tmp_path / "recipe.nemo"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return cli("check", str(path), *extra)


# ---- one module holds every limit --------------------------------------------------------------------------

def test_every_limit_is_declared_once_with_a_code_and_a_meaning():
    for limit in limits.ALL:
        assert limit.default > 0 and limit.what and (limit.code is None or limit.code in codes.CODES.values())
        if limit.env:
            assert limit.env.startswith("NEMOFLOW_MAX_") and limit.key
            assert limit.env in limit.how_to_raise()
    assert len({limit.key for limit in limits.ALL}) == len(limits.ALL)


def test_a_raisable_limit_reads_its_environment_variable(monkeypatch):
    monkeypatch.setenv("NEMOFLOW_MAX_STEPS", "123")
    assert limits.STEPS.value() == 123
    monkeypatch.setenv("NEMOFLOW_MAX_STEPS", "lots")
    from nemoflow.errors import ConfigError

    with pytest.raises(ConfigError, match="NEMOFLOW_MAX_STEPS"):
        limits.STEPS.value()
    monkeypatch.setenv("NEMOFLOW_MAX_DURATION", "48h")
    assert limits.DURATION.value() == 48 * 3600


# ---- item 7: time and memory bombs --------------------------------------------------------------------------

def test_a_huge_string_literal_is_refused_and_lexed_in_little_memory():
    """9 MB in one literal took 32 s and 4.6 GB: the lexer's regex kept a backtracking frame per character."""
    text = BARS + 'edit cut {\n  video bars\n  title "' + "A" * 2_000_000 + '"\n}\n'
    tracemalloc.start()
    try:
        with pytest.raises(RecipeError) as info:
            parser.parse_module(text, "recipe.nemo")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [diag] = info.value.diagnostics
    assert diag.code == codes.STRING_TOO_LONG.id
    assert f"{limits.STRING_CHARS.default:,}" in diag.message
    assert (diag.span.line, diag.span.column) == (5, 9)
    assert peak < 60_000_000, f"lexing a 2 MB string peaked at {peak / 1e6:.0f} MB"


def test_a_string_at_the_limit_is_read_correctly():
    body = "\\u{41}" * (limits.STRING_CHARS.default // 7) + "\\n${x}é"
    parts, plain = read_string('"' + body + '"')
    assert plain == "A" * (limits.STRING_CHARS.default // 7) + "\n${x}é"
    assert parts[1].name == "x"


def test_megabytes_of_unicode_escapes_are_refused():
    """2.4 MB of `\\u{41}` was quadratic: read_string copied the rest of the string at every escape."""
    text = BARS + 'edit cut {\n  video bars\n  title "' + "\\u{41}" * 350_000 + '"\n}\n'
    assert _codes(text) == [codes.STRING_TOO_LONG.id]


def test_long_names_and_numbers_are_refused_before_they_reach_a_message():
    assert _codes("nemo 1\n" + "a" * 1_000_000 + " = 2\n") == [codes.STRING_TOO_LONG.id]
    assert _codes(BARS + "param n = 1." + "0" * 1_000_000 + "\n") == [codes.STRING_TOO_LONG.id]


def _tokens_read(text: str) -> int:
    """How many tokens parsing `text` lexes, all attempts together (the budget counts every one)."""
    budget = limits.Budget(10**9, 10**9)
    try:
        parser.parse_module(text, "recipe.nemo", budget)
    except RecipeError:
        pass
    return 10**9 - budget.tokens


def test_syntax_error_recovery_does_linear_work():
    """A 1 MB recipe with 25 syntax errors took 194 s: every error re-parsed the whole file."""
    good = "media m{} = pattern bars duration 5s"
    lines = ["nemo 1"]
    bad_lines = []
    for i in range(2500):
        if i % 100 == 50:
            lines.append(f"media m{i} pattern bars duration 5s")  # missing `=`
            bad_lines.append(len(lines))
        else:
            lines.append(good.format(i))
    text = "\n".join(lines) + "\n"
    with pytest.raises(RecipeError) as info:
        parser.parse_module(text, "recipe.nemo")
    found = [d.span.line for d in info.value.diagnostics]
    assert found == bad_lines[: limits.SYNTAX_ERRORS.default]
    assert all(d.code == codes.KNOWN_MISTAKE.id for d in info.value.diagnostics)
    clean = _tokens_read("\n".join(good.format(i) if n else "nemo 1" for n, i in enumerate(range(2501))) + "\n")
    assert _tokens_read(text) < 1.2 * clean, "finding 20 errors should cost about one reading of the file"


def test_recovery_stops_quietly_when_the_token_budget_is_spent():
    lines = ["nemo 1"] + [f"media m{i} pattern bars duration 5s" if i % 10 == 0 else f"media m{i} = pattern bars duration 5s"
                          for i in range(200)]
    budget = limits.Budget(300, 300)
    with pytest.raises(RecipeError) as info:
        parser.parse_module("\n".join(lines) + "\n", "recipe.nemo", budget)
    assert 1 < len(info.value.diagnostics) < limits.SYNTAX_ERRORS.default
    assert {d.code for d in info.value.diagnostics} == {codes.KNOWN_MISTAKE.id}
    assert budget.tokens < 0


def test_recovery_inside_a_loop_restarts_at_the_loop_and_keeps_positions():
    text = ("nemo 1\nmedia a = pattern bars duration 5s\nfor x in [\"p\", \"q\"] {\n  media b pattern bars duration 5s\n"
            "  media c = pattern bars duration 5s\n  medai d = 2\n}\nmedia e \"x.mp4\"\n")
    with pytest.raises(RecipeError) as info:
        parser.parse_module(text, "recipe.nemo")
    got = [(d.span.line, d.span.column, d.code) for d in info.value.diagnostics]
    assert got == [(4, 11, codes.KNOWN_MISTAKE.id), (6, 3, codes.UNKNOWN_STATEMENT.id), (8, 9, codes.KNOWN_MISTAKE.id)]


def _nested_loops(depth: int, items: int, body: str) -> str:
    lines = ["nemo 1"]
    values = ", ".join(f'"v{i}"' for i in range(items))
    for level in range(depth):
        lines.append("  " * level + f"for x{level} in [{values}] {{")
    lines.append("  " * depth + body)
    for level in reversed(range(depth)):
        lines.append("  " * level + "}")
    return "\n".join(lines) + "\n"


def test_fan_out_stops_at_the_total_steps_limit_before_building_more(monkeypatch):
    """Six nested 20-item loops in 816 bytes reached 3.2 GB: only items per loop were limited."""
    monkeypatch.setenv("NEMOFLOW_MAX_STEPS", "1000")
    from nemoflow.lang.check import state

    made = []
    real = state.State.seq
    monkeypatch.setattr(state.State, "seq", lambda self, inst: (made.append(1), real(self, inst))[1])
    diags = _errors(_nested_loops(6, 20, "media m = pattern bars duration 5s"))
    assert [d.code for d in diags] == [codes.TOO_MANY_STEPS.id]
    assert "1,000" in diags[0].message and "NEMOFLOW_MAX_STEPS" in diags[0].help
    assert (diags[0].span.line, diags[0].span.column) == (2, 1)
    assert len(made) <= 1001


def test_empty_nested_loops_count_their_iterations(monkeypatch):
    monkeypatch.setenv("NEMOFLOW_MAX_STEPS", "1000")
    diags = _errors(_nested_loops(6, 20, "# nothing"))
    assert [d.code for d in diags] == [codes.TOO_MANY_STEPS.id]


def test_fan_out_within_the_limit_still_checks():
    recipe = check_source(_nested_loops(2, 20, "media m = pattern bars duration 5s"), "recipe.nemo")
    assert len(recipe.steps) == 400


def test_repeated_warnings_are_capped_with_a_count():
    """A valid 10 MB recipe printed 1.3 million warning lines."""
    text = "nemo 1\n" + "".join(f"media m{i} = pattern bars duration 5s\n" for i in range(300))
    recipe = check_source(text, "recipe.nemo")
    unused = [d for d in recipe.warnings if d.code == codes.UNUSED_MEDIA.id]
    shown = limits.SHOWN_PER_CODE.default
    assert len(unused) == shown + 1
    assert unused[-1].message == f"… and {300 - shown} more warnings like this ({codes.UNUSED_MEDIA.id})"
    assert [d.code for d in recipe.warnings].count(codes.NO_EXPORT.id) == 1


def test_repeated_errors_are_capped_with_a_count():
    text = BARS + "edit cut {\n" + "".join(f"  video bras{i}\n" for i in range(100)) + "}\n"
    diags = _errors(text)
    assert len(diags) == limits.SHOWN_PER_CODE.default + 1
    assert diags[-1].message == f"… and {100 - limits.SHOWN_PER_CODE.default} more errors like this ({codes.UNKNOWN_NAME.id})"


def test_a_recipe_over_the_token_limit_is_refused_early(monkeypatch):
    monkeypatch.setenv("NEMOFLOW_MAX_TOKENS", "5000")
    text = "nemo 1\n" + "".join(f"media m{i} = pattern bars duration 5s\n" for i in range(2000))
    diags = _errors(text)
    assert [d.code for d in diags] == [codes.RECIPE_TOO_MANY_TOKENS.id]
    assert "5,000" in diags[0].message and "NEMOFLOW_MAX_TOKENS" in diags[0].help


def test_included_files_share_the_token_budget(monkeypatch, tmp_path):
    monkeypatch.setenv("NEMOFLOW_MAX_TOKENS", "5000")
    part = "nemo 1\n" + "".join(f"media p{i} = pattern bars duration 5s\n" for i in range(500))
    for n in range(3):
        (tmp_path / f"part{n}.nemo").write_text(part.replace("media p", f"media p{n}_"), encoding="utf-8")
    main = tmp_path / "main.nemo"
    main.write_text("nemo 1\n" + "".join(f'include "part{n}.nemo"\n' for n in range(3)), encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        check_file(main)
    assert [d.code for d in info.value.diagnostics] == [codes.RECIPE_TOO_MANY_TOKENS.id]


def test_an_hours_long_render_needs_the_limit_raised(monkeypatch):
    """`duration 10000h` started a 10,000-hour render."""
    text = BARS.replace("5s", "10000h")
    diags = _errors(text)
    assert [d.code for d in diags] == [codes.DURATION_TOO_LONG.id]
    assert "24h" in diags[0].message and "NEMOFLOW_MAX_DURATION" in diags[0].help
    monkeypatch.setenv("NEMOFLOW_MAX_DURATION", "20000h")
    assert codes.DURATION_TOO_LONG.id not in _codes(text)


def test_a_draft_longer_than_the_limit_is_not_rendered(monkeypatch):
    """Slowing a long source down computes a timeline longer than any literal in the recipe."""
    from nemoflow.draft.build import build_edit
    from nemoflow.draft.media import MediaEntry, MediaKind
    from nemoflow.errors import DraftError

    recipe = check_source(BARS.replace("5s", "20h") + "edit cut {\n  video bars speed 0.05x\n}\n", "recipe.nemo")
    step = recipe.steps["edit.cut"]
    entry = MediaEntry(MediaKind.VIDEO, d=20 * 3600 * 1000, w=1920, h=1080, fps=30.0, path="/footage/long.mp4")
    with pytest.raises(DraftError, match="NEMOFLOW_MAX_DURATION"):
        build_edit(step, {"media.bars": entry}, lambda _id: None)


# ---- item 6: user input that exited 70 ------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["list", "loop", "loop over a list"])
def test_deep_nesting_is_a_diagnostic(shape, cli, tmp_path):
    if shape == "list":
        text = "nemo 1\nparam p = " + "[" * 500 + "]" * 500 + "\n"
    elif shape == "loop":
        text = _nested_loops(500, 1, "# deep")
    else:
        text = "nemo 1\nfor x in " + "[" * 500 + "]" * 500 + " {\n}\n"
    result = _cli_check(cli, tmp_path, text)
    assert result.exit_code == 2, result.stderr
    assert "nested too deeply" in result.stderr and "Traceback" not in result.stderr
    assert _codes(text) == [codes.NESTING_TOO_DEEP.id]


def test_nesting_up_to_the_limit_is_fine():
    depth = limits.NESTING.default
    ok = "nemo 1\nparam p = " + "[" * depth + "]" * depth + "\n"
    assert codes.NESTING_TOO_DEEP.id not in _codes(ok)
    deeper = "nemo 1\nparam p = " + "[" * (depth + 1) + "]" * (depth + 1) + "\n"
    [diag] = _errors(deeper)
    assert diag.code == codes.NESTING_TOO_DEEP.id and (diag.span.line, diag.span.column) == (2, 11 + depth)


def test_a_fractional_resolution_is_a_diagnostic(cli, tmp_path):
    text = BARS + 'edit cut {\n  video bars\n}\nexport f = cut {\n  size 1.5x1080\n  save "out/f.mp4"\n}\n'
    result = _cli_check(cli, tmp_path, text)
    assert result.exit_code == 2 and "`1.5x1080` is not a valid resolution" in result.stderr


HUGE = "9" * 309


@pytest.mark.parametrize("literal", [
    HUGE, f"{HUGE}s", f"1h{HUGE}m", f"{HUGE}%", f"{HUGE}x", f"{HUGE}fps", f"{HUGE}hz", f"{HUGE}khz", f"{HUGE}px",
    f"{HUGE}dB", f"{HUGE}Mbps", f"{HUGE}MB", f"{HUGE}x1080", f"1920x{HUGE}", f"{HUGE}:00:00", f"{HUGE}:1", f"1:{HUGE}",
    "9" * 900, "0.5" + "0" * 400, "1" + "0" * 15,
], ids=lambda lit: lit if len(lit) < 20 else f"{lit[:6]}…{len(lit)}")
def test_a_huge_number_is_a_diagnostic(literal):
    got = _codes(BARS + f"param n = {literal}\n")
    if literal.startswith("0.5"):
        assert codes.NUMBER_TOO_LARGE.id not in got  # many decimals are not a large number
    else:
        assert got == [codes.NUMBER_TOO_LARGE.id], literal


def test_a_huge_number_exits_2(cli, tmp_path):
    result = _cli_check(cli, tmp_path, BARS.replace("5s", HUGE + "s") + "edit cut {\n  video bars volume " + HUGE + "%\n}\n")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "too large" in result.stderr


@pytest.mark.parametrize(("name", "content"), [
    ("p.json", '{"n": 1e400}'), ("p.json", '{"n": ' + HUGE + "}"), ("p.toml", "n = inf"), ("p.toml", "n = nan"),
])
def test_a_huge_number_in_a_params_file_is_a_diagnostic(tmp_path, name, content):
    (tmp_path / name).write_text(content, encoding="utf-8")
    recipe = tmp_path / "recipe.nemo"
    recipe.write_text(BARS + "param n = 2\n", encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        check_file(recipe, params_file=tmp_path / name)
    assert [d.code for d in info.value.diagnostics] == [codes.NUMBER_TOO_LARGE.id]


def test_params_from_dev_zero_are_refused(cli, tmp_path):
    (tmp_path / "recipe.nemo").write_text(BARS + "param n = 2\n", encoding="utf-8")
    result = cli("check", str(tmp_path / "recipe.nemo"), "--params", "/dev/zero")
    assert result.exit_code == 2
    assert "/dev/zero is not a regular file" in result.stderr
    with pytest.raises(RecipeError) as info:
        check_file(tmp_path / "recipe.nemo", params_file=Path("/dev/zero"))
    assert [d.code for d in info.value.diagnostics] == [codes.PARAMS_FILE_UNREADABLE.id]


def test_a_params_file_over_the_size_limit_is_refused(tmp_path):
    big = tmp_path / "p.toml"
    big.write_text('n = "' + "a" * (limits.PARAMS_FILE_BYTES.default + 10) + '"\n', encoding="utf-8")
    recipe = tmp_path / "recipe.nemo"
    recipe.write_text(BARS + 'param n = "x"\n', encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        check_file(recipe, params_file=big)
    [diag] = info.value.diagnostics
    assert diag.code == codes.PARAMS_FILE_TOO_LARGE.id and "1 MB" in diag.message


def test_deeply_nested_params_file_values_are_refused(tmp_path):
    deep = tmp_path / "p.json"
    deep.write_text(json.dumps({"n": json.loads("[" * 200 + "]" * 200)}), encoding="utf-8")
    recipe = tmp_path / "recipe.nemo"
    recipe.write_text(BARS + "param n = [1]\n", encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        check_file(recipe, params_file=deep)
    assert [d.code for d in info.value.diagnostics] == [codes.NESTING_TOO_DEEP.id]


def test_nul_in_the_recipe_text_is_a_diagnostic(cli, tmp_path):
    result = _cli_check(cli, tmp_path, BARS.encode() + b'edit cut {\n  video bars\n  title "a\x00b"\n}\n')
    assert result.exit_code == 2 and "U+0000" in result.stderr


@pytest.mark.parametrize("escape", ["\\0", "\\u{0}", "\\u0000"])
def test_a_nul_escape_is_a_diagnostic(escape):
    diags = _errors(BARS + 'edit cut {\n  video bars\n  title "a' + escape + 'b"\n}\n')
    assert [d.code for d in diags] == [codes.NUL_IN_STRING.id]
    assert (diags[0].span.line, diags[0].span.column) == (5, 11)


def test_a_nul_in_a_params_file_string_is_a_diagnostic(tmp_path):
    (tmp_path / "p.json").write_text('{"t": "a\\u0000b"}', encoding="utf-8")
    recipe = tmp_path / "recipe.nemo"
    recipe.write_text(BARS + 'param t = "x"\n', encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        check_file(recipe, params_file=tmp_path / "p.json")
    assert [d.code for d in info.value.diagnostics] == [codes.NUL_IN_STRING.id]


# ---- item 8: CRLF ---------------------------------------------------------------------------------------------

def test_crlf_inside_a_long_string_adds_no_line():
    _, plain = read_string('"""one\r\ntwo\r\n"""')
    assert plain == "one\ntwo\n"


def test_a_crlf_recipe_checks_like_its_lf_twin(tmp_path):
    lf = BARS + 'edit cut {\n  video bars\n  title """one\ntwo""" from 0s to 1s\n}\n' \
        'export final = cut {\n  save "out/final.mp4"\n}\n'
    for name, text in (("lf.nemo", lf), ("crlf.nemo", lf.replace("\n", "\r\n"))):
        (tmp_path / name).write_bytes(text.encode())
    a = check_file(tmp_path / "lf.nemo")
    b = check_file(tmp_path / "crlf.nemo")
    title = b.steps["edit.cut"].spec.ops[1].args["text"]
    assert title == "one\ntwo"
    assert [(s.id, s.span) for s in a.steps.values()] == [(s.id, attrs.evolve(s.span, file=a.steps[s.id].span.file))
                                                          for s in b.steps.values()]


def test_limits_examples_in_docs_mention_how_to_raise():
    doc = limits.markdown()
    for limit in limits.ALL:
        assert limit.code is None or limit.code.id in doc
        if limit.env:
            assert limit.env in doc


@pytest.mark.parametrize("limit", [lim for lim in limits.ALL if lim.env], ids=lambda lim: lim.key)
def test_raisable_limits_accept_the_config_file(limit, monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f"[limits]\n{limit.key} = 7\n", encoding="utf-8")
    monkeypatch.setenv("NEMOFLOW_CONFIG", str(config))
    monkeypatch.delenv(limit.env, raising=False)
    from nemoflow import config as config_module

    config_module._load.cache_clear()
    assert limit.value() == 7
    os.environ.pop(limit.env, None)


def test_limits_md_is_generated():
    root = Path(__file__).resolve().parent.parent
    assert (root / "docs" / "limits.md").read_text(encoding="utf-8") == limits.markdown()


def test_references_after_fan_out_are_limited(monkeypatch):
    """`concat m` in a loop of 4,000 over an `m` of 4,000 made 16 million references: over two minutes of checking."""
    monkeypatch.setenv("NEMOFLOW_MAX_REFERENCES", "10000")
    items = ", ".join(str(i) for i in range(200))
    text = (f"nemo 1\nfor a in [{items}] {{\n  media m = pattern bars duration 1s\n}}\n"
            f"for b in [{items}] {{\n  edit e {{\n    concat m\n  }}\n}}\n")
    diags = _errors(text)
    assert [d.code for d in diags] == [codes.TOO_MANY_REFERENCES.id]
    assert "10,000" in diags[0].message and "NEMOFLOW_MAX_REFERENCES" in diags[0].help
    assert (diags[0].span.line, diags[0].span.column) == (7, 12)


def test_includes_count_toward_the_recipe_size(monkeypatch, tmp_path):
    monkeypatch.setattr(limits, "RECIPE_BYTES", attrs.evolve(limits.RECIPE_BYTES, default=2_000))
    for name in ("a", "b"):
        (tmp_path / f"{name}.nemo").write_text("nemo 1\n" + "# padding\n" * 150, encoding="utf-8")
    main = tmp_path / "main.nemo"
    main.write_text('nemo 1\ninclude "a.nemo"\ninclude "b.nemo"\n', encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        check_file(main)
    [diag] = info.value.diagnostics
    assert diag.code == codes.RECIPE_TOO_LARGE.id and diag.span.line == 3 and "0.002 MB" in diag.message


def test_an_include_with_a_million_comment_lines_is_recognised_in_little_memory(tmp_path):
    (tmp_path / "part.nemo").write_text("# note\n" * 1_000_000 + "nemo 1\nmedia p = pattern bars duration 5s\n",
                                        encoding="utf-8")
    main = tmp_path / "main.nemo"
    main.write_text('nemo 1\ninclude "part.nemo"\nedit cut {\n  video p\n}\n', encoding="utf-8")
    tracemalloc.start()
    try:
        recipe = check_file(main)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "media.p" in recipe.steps
    assert peak < 120_000_000, f"peaked at {peak / 1e6:.0f} MB for a 7 MB include"


def test_a_glob_stops_listing_past_the_fan_out_limit(monkeypatch, tmp_path):
    import importlib

    declare = importlib.import_module("nemoflow.lang.check.declare")
    monkeypatch.setattr(declare, "MAX_FANOUT", 3)
    listed = []
    real = declare.globlib.iglob

    def iglob(*a, **kw):
        for path in real(*a, **kw):
            listed.append(path)
            yield path

    monkeypatch.setattr(declare.globlib, "iglob", iglob)
    for i in range(10):
        (tmp_path / f"c{i}.mp4").write_bytes(b"")
    diags = _errors('nemo 1\nfor clip in glob("*.mp4") {\n}\n', tmp_path)
    assert [d.code for d in diags] == [codes.FANOUT_TOO_LARGE.id]
    assert len(listed) == 4


def test_formatting_counts_comments_against_the_token_budget(monkeypatch):
    from nemoflow.lang.fmt import format_source

    monkeypatch.setenv("NEMOFLOW_MAX_TOKENS", "1000")
    with pytest.raises(RecipeError) as info:
        format_source(BARS + "# note\n" * 2000)
    assert [d.code for d in info.value.diagnostics] == [codes.RECIPE_TOO_MANY_TOKENS.id]
    assert format_source(BARS + "# note\n" * 10) == BARS + "# note\n" * 10


def test_quoting_a_line_of_a_file_of_millions_of_lines_does_not_split_it():
    from nemoflow.core.diagnostics import Sources

    text = "ab\n" * 3_000_000 + "the last line"
    sources = Sources()
    sources.add("f", text)
    tracemalloc.start()
    try:
        assert sources.line("f", 3_000_001) == "the last line"
        assert sources.line("f", 2) == "ab" and sources.line("f", 3_000_002) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60_000_000


def test_a_loop_repeating_a_big_body_is_limited(monkeypatch):
    """2,000 items around a 3,000-line edit: 6 million clauses once expanded, 48 s and 1.9 GB to check."""
    monkeypatch.setenv("NEMOFLOW_MAX_EXPANDED", "5000")
    body = "".join('    title "t" from 0s to 1s\n' for _ in range(100))
    text = BARS + f"for x in [{', '.join(str(i) for i in range(100))}] {{\n  edit e {{\n    video bars\n{body}  }}\n}}\n"
    diags = _errors(text)
    assert [d.code for d in diags] == [codes.EXPANDED_TOO_LARGE.id]
    assert "5,000" in diags[0].message and "NEMOFLOW_MAX_EXPANDED" in diags[0].help


def test_interpolations_count_as_values(monkeypatch):
    monkeypatch.setenv("NEMOFLOW_MAX_EXPANDED", "5000")
    text = ("nemo 1\nfor x in [" + ", ".join(str(i) for i in range(100)) + "] {\n  media m = pattern bars duration 5s\n"
            '  edit e {\n    video m\n    title "' + "${x}" * 100 + '"\n  }\n}\n')
    assert [d.code for d in _errors(text)] == [codes.EXPANDED_TOO_LARGE.id]


def test_did_you_mean_is_computed_once_per_place_shown(monkeypatch):
    """An unknown `$name` in a loop of 10,000 over 15,000 params compared each item against every param: 400 s."""
    from nemoflow.lang.check import values

    calls = []
    real = values.did_you_mean
    monkeypatch.setattr(values, "did_you_mean", lambda word, names: calls.append(len(list(names))) or real(word, names))
    params = "".join(f"param p{i} = {i}\n" for i in range(300))
    items = ", ".join(str(i) for i in range(500))
    text = "nemo 1\n" + params + f"for x in [{items}] {{\n  media m = pattern bars duration 5s size $p12x\n}}\n"
    [diag] = _errors(text)
    assert diag.code == codes.UNKNOWN_PARAM.id and diag.help == "did you mean `$p12`?"
    assert sum(1 for n in calls if n) <= 2
