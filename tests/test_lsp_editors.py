"""Editor support files: the TextMate grammar tokenizes recipes as it should, the VS Code manifest holds together,
the Vim syntax file gives the right groups in a real Vim, and the generated files are current."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from conftest import EXAMPLES, ROOT

from nemoflow.core import signatures as sig
from nemoflow.lsp import textmate

VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "nemo.tmLanguage.json"
VIM = ROOT / "editors" / "vim"

SAMPLE = '''# a comment
nemo 1
param look: string = "warm"
media clip = pattern bars duration 10s size 1080p fps 30 tone 440hz
media logo = "brand/logo.png"
edit cut {
  video clip from 00:00:01.5 to 4s speed 1.5x mute
  transition crossfade 500ms ease in-out
  text "Hi ${look}\\" there" at lower-third color #ffcc00 # trailing
  reframe 9:16 blur
  loudness -14 LUFS
}
export web = cut {
  save "out/${look}.mp4"
  volume $gain
}
expect web {
  duration <= 12s
  has audio
}
'''


def tokenize(text: str, grammar: dict) -> list[tuple[int, int, str, str]]:
    """A small TextMate engine (match, captures, begin/end, include): at each position the earliest match wins,
    the first listed on a tie, as in VS Code. Returns (line, column, text, scope) for each token."""
    repo = grammar["repository"]

    def rules(patterns):
        return [repo[p["include"][1:]] if "include" in p else p for p in patterns]

    top = rules(grammar["patterns"])
    out: list[tuple[int, int, str, str]] = []
    inside = None

    def earliest(candidates, line, pos):
        best = None
        for rule in candidates:
            m = re.compile(rule.get("match") or rule["begin"]).search(line, pos)
            if m and (best is None or m.start() < best[1].start()):
                best = (rule, m)
        return best

    def record(n, rule, m):
        if "captures" in rule:
            for group, cap in rule["captures"].items():
                if m.group(int(group)) is not None:
                    out.append((n, m.start(int(group)), m.group(int(group)), cap["name"]))
        else:
            out.append((n, m.start(), m.group(), rule["name"]))

    for n, line in enumerate(text.split("\n")):
        pos = 0
        while pos <= len(line):
            if inside is not None:
                end = re.compile(inside["end"]).search(line, pos)
                inner = earliest(rules(inside.get("patterns", [])), line, pos)
                if inner and (end is None or inner[1].start() < end.start()):
                    record(n, *inner)
                    pos = inner[1].end()
                    continue
                if end is None:
                    break
                out.append((n, end.start(), end.group(), inside["name"] + " end"))
                inside, pos = None, max(end.end(), pos + (end.end() == end.start()))
                continue
            found = earliest(top, line, pos)
            if found is None:
                break
            rule, m = found
            if "begin" in rule:
                out.append((n, m.start(), m.group(), rule["name"]))
                inside, pos = rule, m.end()
                continue
            record(n, rule, m)
            pos = m.end() if m.end() > m.start() else m.start() + 1
    return out


def scopes(text: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for _, _, token, scope in tokenize(text, json.loads(GRAMMAR.read_text())):
        found.setdefault(token.strip(), set()).add(scope)
    return found


def test_generated_files_are_current():
    assert GRAMMAR.read_text() == textmate.render(), "run: python3 -m nemoflow.lsp.textmate > " + str(GRAMMAR.relative_to(ROOT))
    assert (VIM / "syntax" / "nemo.vim").read_text() == textmate.vim(), "run: python3 -m nemoflow.lsp.textmate --vim > …"


def test_every_pattern_compiles():
    for name, rule in json.loads(GRAMMAR.read_text())["repository"].items():
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key]), name


def test_grammar_scopes_what_a_recipe_holds():
    s = scopes(SAMPLE)
    assert s["# a comment"] == {"comment.line.number-sign.nemo"}
    assert s["# trailing"] == {"comment.line.number-sign.nemo"}
    assert s["nemo"] == {"keyword.other.header.nemo"}
    for word in ("media", "edit", "export", "param"):
        assert s[word] == {"keyword.control.nemo"}, word
    assert s["expect"] == {"keyword.control.nemo"}
    for name in ("clip", "logo", "cut", "web", "look"):
        assert "entity.name.function.nemo" in s[name], name
    for verb in ("video", "transition", "text", "reframe", "loudness", "save", "volume", "pattern"):
        assert "support.function.nemo" in s[verb], verb
    for keyword in ("from", "to", "speed", "ease", "at", "color", "duration", "tone"):
        assert "variable.parameter.keyword.nemo" in s[keyword], keyword
    for constant in ("crossfade", "in-out", "lower-third", "blur", "bars", "1080p"):
        assert s[constant] & {"constant.language.nemo", "constant.numeric.nemo"}, constant
    assert s["mute"] == {"variable.parameter.keyword.nemo"}
    for number in ("10s", "30", "440hz", "1.5x", "500ms", "-14 LUFS", "12s"):
        assert s[number] == {"constant.numeric.nemo"}, number
    assert s["00:00:01.5"] == {"constant.numeric.timecode.nemo"}
    assert s["9:16"] == {"constant.numeric.ratio.nemo"}
    assert s["#ffcc00"] == {"constant.other.color.nemo"}
    assert s["${look}"] == {"variable.other.interpolation.nemo"}
    assert s["\\\""] == {"constant.character.escape.nemo"}
    assert s["$gain"] == {"variable.other.nemo"}
    assert s["<="] == {"keyword.operator.comparison.nemo"}
    assert s["has"] == {"keyword.other.expect.nemo"}
    # the words inside strings are string, not keywords: `there` and `out/` never get a scope of their own
    assert "there" not in s and "at" in s and not any(k.startswith("out/") for k in s)


def test_every_operation_is_highlighted_as_one():
    text = "nemo 1\nedit e {\n" + "".join(f"  {verb} x\n" for verb in sig.EDIT_OPS) + "}\n"
    tokens = tokenize(text, json.loads(GRAMMAR.read_text()))
    verbs = {tok for _, col, tok, scope in tokens if scope == "support.function.nemo" and col == 2}
    assert verbs == set(sig.EDIT_OPS)


def test_examples_tokenize_without_leaving_a_string_open():
    grammar = json.loads(GRAMMAR.read_text())
    for path in sorted(EXAMPLES.glob("*.nemo")):
        tokens = tokenize(path.read_text(encoding="utf-8"), grammar)
        opened = sum(1 for *_, scope in tokens if scope.startswith("string.") and not scope.endswith(" end"))
        closed = sum(1 for *_, scope in tokens if scope.startswith("string.") and scope.endswith(" end"))
        assert opened == closed, path


def test_vscode_manifest_points_at_real_files():
    manifest = json.loads((VSCODE / "package.json").read_text())
    language = manifest["contributes"]["languages"][0]
    assert language["extensions"] == [".nemo"] and language["id"] == "nemo"
    assert (VSCODE / language["configuration"]).is_file()
    json.loads((VSCODE / language["configuration"]).read_text())
    grammar = manifest["contributes"]["grammars"][0]
    assert grammar["language"] == "nemo" and (VSCODE / grammar["path"]).resolve() == GRAMMAR
    assert json.loads(GRAMMAR.read_text())["scopeName"] == grammar["scopeName"]
    assert (VSCODE / manifest["main"]).is_file()
    command = manifest["contributes"]["configuration"]["properties"]["nemoflow.server.command"]["default"]
    assert command == ["nemoflow", "lsp"]
    if shutil.which("node"):
        subprocess.run(["node", "--check", str(VSCODE / manifest["main"])], check=True, timeout=30)


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
def test_vim_syntax_groups_in_a_real_vim(tmp_path):
    recipe = tmp_path / "r.nemo"
    recipe.write_text(SAMPLE)
    probes = {(1, 1): "nemoComment", (2, 1): "nemoStatement", (4, 1): "nemoStatement", (7, 3): "nemoVerb",
              (7, 19): "nemoNumber", (8, 3): "nemoVerb", (8, 14): "nemoConstant", (9, 8): "nemoString",
              (9, 12): "nemoInterpolation", (9, 32): "nemoConstant", (9, 50): "nemoColor", (15, 10): "nemoVariable"}
    script = tmp_path / "probe.vim"
    lines = [f"set runtimepath^={VIM}", "filetype on", "syntax on", f"edit {recipe}"]
    lines += [f'call add(g:out, "{line},{col}=" . synIDattr(synID({line}, {col}, 1), "name"))' for line, col in probes]
    script.write_text("let g:out = []\n" + "\n".join(lines) + f'\ncall writefile(g:out, "{tmp_path / "out.txt"}")\nqa!\n')
    subprocess.run(["vim", "-u", "NONE", "-N", "-i", "NONE", "-es", "-S", str(script)], check=False, timeout=30,
                   stdin=subprocess.DEVNULL, capture_output=True)
    got = dict(line.split("=", 1) for line in (tmp_path / "out.txt").read_text().splitlines())
    assert got == {f"{line},{col}": group for (line, col), group in probes.items()}
