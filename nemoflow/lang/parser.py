"""Text → syntax tree: the Lark parser, its error messages, and recovery.

Syntax errors are turned into diagnostics that name the file, line and
column, say what was expected in words (never `__ANON_0`), and suggest the
fix for known mistakes (Lark's `match_examples`). To report several
independent errors in one pass, the offending statement is blanked out
(positions kept) and the text parsed again from the top-level statement
that holds it, so the work stays proportional to the file's length.

The limits of core/limits.py that concern the text itself (tokens, nesting
depth, string and name length) are counted while the lexer runs, so a
hostile file stops at the limit instead of being read to its end first.
"""

from __future__ import annotations

import bisect
import os
import re
from functools import lru_cache
from pathlib import Path

import attrs
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .. import resources
from ..core import codes, engines, limits
from ..core.diagnostics import Diagnostic, RecipeError, Sources, Span, line_starts, suggestion
from . import ast
from .literals import LiteralError, read_color, read_quantity, read_ratio, read_string, read_timecode

MAX_RECIPE_BYTES = limits.RECIPE_BYTES.default
MAX_SYNTAX_ERRORS = limits.SYNTAX_ERRORS.default

_PUNCTUATION = {"NEMO", "INCLUDE", "ENGINE", "PARAM", "MEDIA", "EDIT", "ASK", "EXPORT", "EXPECT", "FOR", "IN", "GLOB", "TABLE", "KEY",
                "EQUAL", "COLON", "COMMA", "LBRACE", "RBRACE", "LPAR", "RPAR", "LSQB", "RSQB"}
STATEMENT_KEYWORDS = ("include", "engine", "param", "media", "edit", "ask", "export", "expect", "for")

_VALUE_TERMINALS = {"STRING", "LONG_STRING", "QUANTITY", "TIMECODE", "RATIO", "COLOR", "VAR", "TRUE", "FALSE", "LSQB"}
_READABLE = {
    "NAME": "a name",
    "INDEXED": "a name",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "QUANTITY": "a number or quantity (`2s`, `35%`, `4k`)",
    "TIMECODE": "a timecode (`00:01:02.5`)",
    "RATIO": "an aspect ratio (`9:16`)",
    "COLOR": "a color (`#ffcc00`)",
    "VAR": "a `$param`",
    "CMP": "a comparison (`==`, `<=`, …)",
    "_NL": "end of line",
    "$END": "end of file",
}


class _LimitHit(Exception):
    """The text went over a limit while it was lexed; the parse stops at the token that did."""

    def __init__(self, limit: limits.Limit, tok: Token, message: str, help: str):
        super().__init__(message)
        self.limit = limit
        self.line, self.column = tok.line, tok.column
        self.message = message
        self.help = help

    def diagnostic(self, file: str, shift: int = 0) -> Diagnostic:
        assert self.limit.code is not None
        return Diagnostic(Span.point(file, self.line + shift, self.column), self.message, self.limit.code.id, help=self.help)


@attrs.define
class _Lexing:
    """What one parse counts while the lexer runs: tokens against the check's budget, and where statements start."""

    budget: limits.Budget
    recovering: bool = False  # a re-parse to find more errors: running out of tokens ends the search quietly
    starts: list[int] = attrs.field(factory=list)  # lines on which a top-level statement starts, in order


_NESTS = {"LBRACE", "LSQB", "LPAR"}
_UNNESTS = {"RBRACE", "RSQB", "RPAR"}
_STRINGS = {"STRING", "LONG_STRING"}


_WORDY = re.compile(r"[A-Za-z0-9_]")
_WORD_END = re.compile(r"[A-Za-z0-9_-]*")


@lru_cache(maxsize=1)
def _keyword_types() -> frozenset[str]:
    """The grammar's keyword terminals (`param`, `media`, `for`, `key` …): its plain-word string terminals."""
    return frozenset(t.name for t in _lark().terminals if t.pattern.type == "str" and t.pattern.value.isalpha())


def _unglued(stream, text: str | None):
    """A keyword run into the word after it (`paramsize`, `mediab`) is one name, as written, not `param size`.

    The contextual lexer tries only the terminals the parser can take next, so at a statement's start it would
    match the keyword `param` inside `paramsize` and go on with `size`: a typo would be read as another statement.
    Where a name may stand, the lexer already reads the whole word, so a glued keyword is always a mistake: it is
    passed on as the name written, and the parser reports it (with the space as the fix).
    """
    for tok in stream:
        if (text is not None and tok.type in _keyword_types() and tok.end_pos < len(text)
                and _WORDY.match(text, tok.end_pos)):
            end = _WORD_END.match(text, tok.end_pos).end()
            word = text[tok.start_pos:end]
            tok = Token("NAME", word, tok.start_pos, tok.line, tok.column, tok.line, tok.column + len(word), end)
        yield tok


class BracketNewlines:
    """Postlexer: newlines inside ( ) and [ ] do not end a statement; and the text's limits are counted here."""

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.lexing: _Lexing | None = None  # set for the length of one parse (see _parse)
        self.text: str | None = None  # the text being parsed, to see what follows a keyword

    def process(self, stream):
        lexing = self.lexing
        stream = _unglued(stream, self.text)
        if lexing is None:  # the known-mistake examples: small, counted against nothing
            yield from self._newlines(stream)
            return
        yield from self._counted(stream, lexing)

    @staticmethod
    def _newlines(stream):
        depth = 0
        for tok in stream:
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif tok.type == "_NL" and depth:
                continue
            yield tok

    @staticmethod
    def _counted(stream, lexing: _Lexing):
        budget = lexing.budget
        max_nesting = limits.NESTING.value()
        max_string = limits.STRING_CHARS.value()
        max_word = limits.TOKEN_CHARS.value()
        depth = 0  # ( and [ only: the newline rule
        nesting = 0  # every bracket and brace: how deep the syntax tree will be
        begun = False  # a statement start is a line after the header, not the blank lines before it
        for tok in stream:
            kind = tok.type
            budget.tokens -= 1
            if budget.tokens < 0:
                if lexing.recovering:
                    raise _LimitHit(limits.TOKENS, tok, "", "")
                raise _LimitHit(
                        limits.TOKENS, tok,
                        f"this recipe is too large to check: more than {budget.limit:,} tokens (names, values and symbols), "
                        "counting the files it includes",
                        f"split it into recipes checked and run on their own; or {limits.TOKENS.how_to_raise()}")
            if kind == "_NL":
                if depth:
                    continue
                if begun and not nesting:
                    lexing.starts.append(tok.end_line)
            else:
                begun = True
                if kind in _NESTS:
                    nesting += 1
                    if nesting > max_nesting:
                        raise _LimitHit(
                            limits.NESTING, tok,
                            f"nested too deeply: `{tok.value}` opens level {nesting}; lists, brackets and blocks nest at most "
                            f"{max_nesting} levels deep",
                            f"flatten the lists or loops; {limits.NESTING.how_to_raise()}")
                    if kind != "LBRACE":
                        depth += 1
                elif kind in _UNNESTS:
                    nesting = max(0, nesting - 1)
                    if kind != "RBRACE":
                        depth = max(0, depth - 1)
                elif len(tok.value) > (max_string if kind in _STRINGS else max_word):
                    raise _too_long(tok)
            yield tok


def _too_long(tok: Token) -> _LimitHit | None:
    """The limit a string, name or number goes over, if it does (None otherwise)."""
    if tok.type == "_NL":
        return None
    if tok.type in _STRINGS:
        most = limits.STRING_CHARS.value()
        if len(tok.value) <= most:
            return None
        return _LimitHit(limits.STRING_CHARS, tok, f"this string is {len(tok.value):,} characters long; a string holds at most {most:,}",
                         f"keep long text in a file and name the file; {limits.STRING_CHARS.how_to_raise()}")
    most = limits.TOKEN_CHARS.value()
    if len(tok.value) <= most:
        return None
    what = "number" if tok.type == "QUANTITY" else "word"
    return _LimitHit(limits.TOKEN_CHARS, tok, f"this {what} is {len(tok.value):,} characters long; a name or number has at most {most:,}",
                     f"use a shorter one; {limits.TOKEN_CHARS.how_to_raise()}")


class _CommentSink:
    """Collects comments from newline tokens while lexing (for the formatter)."""

    def __init__(self) -> None:
        self.tokens: list[Token] = []

    def __call__(self, tok: Token) -> Token:
        if "#" in tok.value:
            self.tokens.append(tok)
        return tok


_SINK = _CommentSink()
_POSTLEX = BracketNewlines()


def _cache_file(grammar: str) -> str | bool:
    """Where Lark keeps its parse tables between runs (saves ~25 ms per start).

    In the user's own cache dir, never a shared temp dir: the cache is a
    pickle. Lark checks a hash of the grammar and options before using it; the
    grammar's own hash in the name lets two nemoflow versions on one machine
    keep their tables side by side instead of rebuilding each other's.
    """
    import hashlib

    import lark
    from platformdirs import user_cache_dir

    folder = Path(user_cache_dir("nemoflow"))
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not os.access(folder, os.W_OK):
            return False
    except OSError:
        return False
    return str(folder / f"grammar-lark{lark.__version__}-{hashlib.sha256(grammar.encode()).hexdigest()[:12]}.cache")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.grammar_text()
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        postlex=_POSTLEX,
        lexer_callbacks={"_NL": _SINK},
        cache=_cache_file(grammar),
    )


@lru_cache(maxsize=1)
def _terminal_names() -> dict[str, str]:
    """Readable names for terminals: keywords and punctuation shown as written."""
    names = dict(_READABLE)
    for term in _lark().terminals:
        if term.name in names:
            continue
        pat = term.pattern
        if pat.type == "str":
            names[term.name] = f"`{pat.value}`"
        elif term.name == "CMP":
            names[term.name] = _READABLE["CMP"]
        else:
            names[term.name] = term.name.lower().replace("_", " ")
    return names


def readable_expected(expected) -> tuple[str, ...]:
    names = _terminal_names()
    exp = set(expected)
    out: list[str] = []
    if len(exp & _VALUE_TERMINALS) >= 5:
        exp -= _VALUE_TERMINALS
        out.append("a value")
    seen = set(out)
    for term in sorted(exp, key=lambda t: (not t.isalpha() or t.startswith("_"), names.get(t, t))):
        label = names.get(term, term)
        if label not in seen:
            seen.add(label)
            out.append(label)
    return tuple(out)


# ---- reading files ----------------------------------------------------------

def decode_source(data: bytes, file: str) -> str:
    """Bytes → text, with clear errors for non-UTF-8, binary and oversized files; CRLF line ends read as LF."""
    most = limits.RECIPE_BYTES.value()
    if len(data) > most:
        raise RecipeError([Diagnostic(
            Span.point(file, 1, 1),
            f"file is {len(data) / 1e6:.1f} MB; a recipe is a text file of at most {most / 1e6:g} MB",
            codes.RECIPE_TOO_LARGE.id,
            help="check that this is the recipe you meant to pass",
        )])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        sources = Sources()
        sources.add(file, data.decode("utf-8", "replace"))
        raise RecipeError([Diagnostic(
            Span.point(file, line, col),
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, column {col})",
            codes.NOT_UTF8.id,
            help="save the recipe as UTF-8 text",
        )], sources) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    # A file saved on Windows reads as the same recipe: no `\r` ends up in a title or a comment.
    return text.replace("\r\n", "\n")


def read_source(path: Path, display: str | None = None) -> str:
    file = display or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecipeError([Diagnostic(Span.point(file, 1, 1), f"no such recipe file: {file}", codes.NO_SUCH_FILE.id,
                                      help="check the path; recipes usually end in .nemo")]) from None
    except IsADirectoryError:
        raise RecipeError([Diagnostic(Span.point(file, 1, 1), f"{file} is a directory, not a recipe file",
                                      codes.RECIPE_IS_DIRECTORY.id)]) from None
    except OSError as exc:
        raise RecipeError([Diagnostic(Span.point(file, 1, 1), f"cannot read {file}: {exc.strerror}",
                                      codes.UNREADABLE_FILE.id)]) from None
    return decode_source(data, file)


# ---- parsing ---------------------------------------------------------------

def parse_module(text: str, file: str, budget: limits.Budget | None = None, *, comments: bool = True) -> ast.Module:
    """Parse one file's text into a Module, or raise RecipeError with every syntax error found.

    `budget` is the check's token allowance, shared with the files it includes; a fresh one if not given.
    `comments=False` leaves the Module's comments empty: only the formatter needs them.
    """
    sources = Sources()
    sources.add(file, text)
    if not _SOMETHING.search(text):
        raise RecipeError([Diagnostic(
            Span.point(file, 1, 1), "empty recipe", codes.EMPTY_RECIPE.id,
            help="a recipe starts with the version header `nemo 1`, then media, edit and export blocks",
        )], sources)
    bad = _control_character(text, file)
    if bad is not None:
        raise RecipeError([bad], sources)

    work = text if text.endswith("\n") else text + "\n"
    lexing = _Lexing(budget or limits.Budget.fresh())
    _SINK.tokens = []
    with limits.gc_paused():
        try:
            tree = _parse(work, lexing)
            found = _comments(_SINK.tokens, file, lexing.budget) if comments else ()
        except _LimitHit as hit:
            raise RecipeError([hit.diagnostic(file)], sources) from None
        except UnexpectedInput as exc:
            raise RecipeError(_recover(exc, work, file, lexing), sources) from None
        finally:
            _SINK.tokens = []
        builder = _Builder(file)
        module = builder.module(tree, found)
    if builder.diags:
        raise RecipeError(limits.capped(builder.diags), sources)
    return module


def _parse(text: str, lexing: _Lexing | None) -> Tree:
    """One Lark parse, with the postlexer counting for `lexing` (None: count nothing)."""
    _POSTLEX.lexing, _POSTLEX.text = lexing, text
    try:
        return _lark().parse(text)
    finally:
        _POSTLEX.lexing, _POSTLEX.text = None, None


_FAKE_HEADER = "nemo 1\n"


def _recover(exc: UnexpectedInput, work: str, file: str, lexing: _Lexing) -> list[Diagnostic]:
    """Every syntax error, up to SYNTAX_ERRORS: blank the failing statement, parse again, repeat.

    Each new parse starts at the top-level statement that held the error (the
    text before it already parsed, so only a header is put in front, and line
    numbers are shifted back), not at the top of the file: 25 errors in a
    1 MB file cost about one reading of it, not 25. The re-parses draw on the
    check's token budget too; when it runs out, the errors found so far are
    the report.
    """
    lines = _TextLines(work)
    starts = lexing.starts  # absolute line numbers of top-level statement starts seen so far
    diags: list[Diagnostic] = []
    seen: set[tuple[int, int]] = set()
    chunk, shift = work, 0
    most = limits.SYNTAX_ERRORS.value()
    while True:
        diag, fatal = _syntax_diagnostic(exc, chunk, file)
        diag = _shifted(diag, shift)
        where = (diag.span.line, diag.span.column)
        if where in seen:
            break
        seen.add(where)
        diags.append(diag)
        if fatal or len(diags) >= most:
            break
        line = exc.line + shift if exc.line > 0 else diag.span.line
        if diag.code == codes.UNTERMINATED_STRING.id:
            if not _blank_string(lines, diag.span.line, diag.span.column):  # with the lines its text went on over
                break
        elif not _blank_statement(lines, line):
            break
        top_at = bisect.bisect_right(starts, line) - 1
        if top_at >= 0:
            top = starts[top_at]
            del starts[top_at:]
            chunk, shift = _FAKE_HEADER + lines.text[lines.starts[top - 1]:], top - 2
        else:  # the error is in the first statement or the header: parse it all again
            starts.clear()
            chunk, shift = lines.text, 0
        again = _Lexing(lexing.budget, recovering=True)
        try:
            _parse(chunk, again)
            break
        except UnexpectedInput as err:
            exc = err
        except _LimitHit as hit:
            if hit.limit is not limits.TOKENS:  # out of tokens: the errors so far are the report
                diags.append(hit.diagnostic(file, shift))
            break
        finally:
            starts.extend(s + shift for s in again.starts if s + shift >= 2)
    return diags


def _shifted(diag: Diagnostic, shift: int) -> Diagnostic:
    if not shift:
        return diag
    sp = diag.span
    return attrs.evolve(diag, span=attrs.evolve(sp, line=sp.line + shift, end_line=sp.end_line + shift))


def parse_value(text: str, file: str = "<value>") -> ast.Item:
    """Parse a single value (for `--set name=value`): a literal, a string, a list or a bare word."""
    src = f"nemo 1\nmedia _ = _ {text}\n"
    whole = Span(file, 1, 1, 1, len(text) + 1)
    try:
        module = parse_module(src, file)
    except RecipeError as err:
        over = [attrs.evolve(d, span=whole) for d in err.diagnostics if d.code in _LIMIT_CODES]
        if over:  # a limit says more than "not a value"
            raise RecipeError(over[:1]) from None
        shown = text if len(text) <= 60 else text[:57] + "…"
        raise RecipeError([Diagnostic(whole, f"`{shown}` is not a value", codes.NOT_A_VALUE.id,
                                      help="write a literal like `1080p`, `2s`, `35%` or a quoted string")]) from None
    items = module.statements[0].source.items
    if len(items) != 2:
        raise RecipeError([Diagnostic(Span(file, 1, 1, 1, len(text) + 1), f"`{text}` is not a single value", codes.NOT_A_VALUE.id,
                                      help="quote text that contains spaces")])
    return _reposition(items[1], file)


_LIMIT_CODES = frozenset(c.id for c in (codes.NUMBER_TOO_LARGE, codes.NESTING_TOO_DEEP, codes.STRING_TOO_LONG,
                                        codes.NUL_IN_STRING, codes.RECIPE_TOO_MANY_TOKENS))


def _reposition(item, file):
    """Move a value parsed inside a wrapper back to column 1 of its own text."""
    shift = len("media _ = _ ")

    def fix(sp: Span) -> Span:
        return Span(file, 1, sp.column - shift, 1, sp.end_column - shift)

    import attrs

    if isinstance(item, ast.ListLit):
        return attrs.evolve(item, span=fix(item.span), items=tuple(_reposition(i, file) for i in item.items))
    return attrs.evolve(item, span=fix(item.span))


_SOMETHING = re.compile(r"^[^\S\n]*+[^#\s]", re.M)
"""A line with something other than blanks or a comment (found without splitting a 10 MB file into lines)."""


def _control_character(text: str, file: str) -> Diagnostic | None:
    m = re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", text)
    if not m:
        return None
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    return Diagnostic(Span.point(file, line, col), f"control character U+{ord(m.group()):04X} in recipe", codes.CONTROL_CHARACTER.id,
                      help="a recipe is plain text; is this a binary file?")


# Known mistakes, recognised by the parser state they fail in (Lark's match_examples).
_KNOWN_MISTAKES: dict[str, tuple[str, str, list[str]]] = {
    "media_missing_equal": ("missing `=` in media declaration", 'write `media NAME = "path/to/file.mp4"`',
                            ['nemo 1\nmedia city "a.mp4"\n', "nemo 1\nmedia bars pattern\n"]),
    "param_missing_equal": ("missing `=` in param declaration", "write `param NAME = default` or `param NAME: type = default`",
                            ["nemo 1\nparam size 4k\n", 'nemo 1\nparam t "x"\n']),
    "export_needs_source": ("an export needs the draft it renders", "write `export NAME = EDIT {`",
                            ["nemo 1\nexport final {\n}\n"]),
    "edit_block": ("an edit needs a `{ … }` block", "write `edit NAME {`, one operation per line, then `}`",
                   ["nemo 1\nedit cut\n", 'nemo 1\nedit cut "x"\n']),
    "ask_needs_source": ("an ask needs the draft it works on", 'write `ask NAME = EDIT "instruction"`',
                         ['nemo 1\nask polish "make it pop"\n']),
    "ask_needs_text": ("an ask needs an instruction", 'write `ask NAME = EDIT "instruction"`',
                       ["nemo 1\nask polish = cut\n"]),
    "body_on_open_line": ("put each line of a block on its own line after `{`", "break the line after `{`",
                          ["nemo 1\nedit a {video b\n}\n", "nemo 1\nexport a = b {format mp4\n}\n",
                           "nemo 1\nexpect a {duration < 2s\n}\n"]),
    "close_on_clause_line": ("put `}` on its own line", "break the line before `}`",
                             ["nemo 1\nedit a {\nvideo b }\n", "nemo 1\nexport a = b {\nformat mp4 }\n"]),
    "expect_no_equal": ("an expect names the export it checks, without `=`", "write `expect EXPORT {`",
                        ["nemo 1\nexpect checks = final {\n}\n"]),
    "assertion_missing_value": ("missing value after the comparison", "write e.g. `duration <= 12s`",
                                ["nemo 1\nexpect a {\nduration <=\n}\n",
                                 'nemo 1\nexpect a {\nframe at 5s looks like "g.png" ssim >=\n}\n']),
    "assertion_missing_comparison": ("an expect line compares a property with a value",
                                     "write e.g. `duration <= 12s`, `frame at 5s looks like \"golden/5s.png\" ssim >= 0.97`, "
                                     "`no black frames`, `av sync within 20ms` or `caption \"Hello\" at 3s`",
                                     ["nemo 1\nexpect a {\nduration\n}\n", "nemo 1\nexpect a {\nduration 12s\n}\n",
                                      'nemo 1\nexpect a {\nframe at 5s looks like "g.png"\n}\n',
                                      'nemo 1\nexpect a {\nframe at 5s looks like "g.png" ssim\n}\n']),
    "within_needs_value": ("`within` takes a duration", "write e.g. `av sync within 20ms`",
                           ["nemo 1\nexpect a {\nav sync within\n}\n", "nemo 1\nexpect a {\nav sync within ms\n}\n"]),
    "no_needs_what": ("`no` names what must not be in the file", "write `no black frames`, `no frozen frames` or "
                      "`no silence longer than 2s`", ["nemo 1\nexpect a {\nno\n}\n"]),
    "engine_needs_name": ("`engine` takes the name of an engine", "write " + " or ".join(f"`engine {e}`" for e in engines.names()),
                          ["nemo 1\nengine\n", 'nemo 1\nengine "nemo"\n', "nemo 1\nengine = nemo\n"]),
    "for_syntax": ("a for loop reads `for NAME in [ … ] {` or `for NAME in glob(\"…\") {`", None,
                   ['nemo 1\nfor x ["a"] {\n}\n', 'nemo 1\nfor x in "a" {\n}\n']),
}


@lru_cache(maxsize=1)
def _example_states() -> dict[tuple[int, str], str]:
    """(LALR state, token type) → known-mistake label, from failing examples.

    Lark's own `match_examples` also compares the depth of the parser stack,
    so an example would only match a mistake made in a file's first
    statement; the state number alone identifies the situation.
    """
    table: dict[tuple[int, str], str] = {}
    for label, (_, _, examples) in _KNOWN_MISTAKES.items():
        for example in examples:
            try:
                _parse(example, None)
            except UnexpectedToken as exc:
                table.setdefault((exc.state.position, exc.token.type), label)
            except UnexpectedInput:  # pragma: no cover - examples are token errors
                pass
    return table


def _syntax_diagnostic(exc: UnexpectedInput, text: str, file: str) -> tuple[Diagnostic, bool]:
    """A readable diagnostic for a Lark error; the bool says whether to stop recovering."""
    if isinstance(exc, UnexpectedCharacters):
        line, col = exc.line, exc.column
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if ch == '"':
            end = text.find("\n", exc.pos_in_stream)
            end_col = col + ((end if end >= 0 else len(text)) - exc.pos_in_stream)
            if col > 2 and text[exc.pos_in_stream - 2:exc.pos_in_stream] == '""':
                # `"""` that nothing closes: the lexer took `""` as an empty string and failed on the third quote
                return Diagnostic(Span(file, line, col - 2, line, end_col), "unterminated string", codes.UNTERMINATED_STRING.id,
                                  help='no `"""` after it closes this text: add `"""` where the text ends'), False
            return Diagnostic(Span(file, line, col, line, end_col), "unterminated string", codes.UNTERMINATED_STRING.id,
                              help='close it with `"` on the same line, or use """…""" for text over several lines'), False
        if ch == "#":
            return Diagnostic(Span.point(file, line, col), "`#` here starts neither a comment nor a color", codes.UNEXPECTED_CHARACTER.id,
                              help="colors are `#rgb`, `#rrggbb` or `#rrggbbaa`; a comment is `#` then a space"), False
        shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
        return Diagnostic(Span.point(file, line, col), f"unexpected character `{shown}`", codes.UNEXPECTED_CHARACTER.id,
                          expected=readable_expected(exc.allowed or ())), False

    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        opener = _unclosed_brace(text, file)
        if opener is not None:
            return Diagnostic(opener, "this block is never closed", codes.UNCLOSED_BLOCK.id,
                              help="add `}` on its own line after the block's last line"), True
        end_line = text.count("\n") or 1
        return Diagnostic(Span.point(file, end_line, 1), "unexpected end of file", codes.UNEXPECTED_END.id,
                          expected=readable_expected(getattr(exc, "expected", ()) or ())), True

    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    over = _too_long(tok)  # a token the parser did not expect reaches here before the postlexer measures it
    if over is not None:
        return over.diagnostic(file), True
    expected = set(exc.accepts or exc.expected or ())
    span = _token_span(tok, file)
    if tok.type == "_NL":
        # Point just after the last thing on the line, where the value is missing.
        span = Span.point(file, tok.line, tok.column)
    label = _example_states().get((exc.state.position, tok.type)) if exc.state is not None else None
    if label is not None:
        message, help_text, _ = _KNOWN_MISTAKES[label]
        return Diagnostic(span, message, codes.KNOWN_MISTAKE.id, expected=readable_expected(expected), help=help_text), False

    if exc.state is not None and tok.line == 1 and "NEMO" in expected:
        return Diagnostic(span, "a recipe must start with the version header `nemo 1`", codes.MISSING_HEADER.id,
                          help="add `nemo 1` as the first line"), True
    if "MEDIA" in expected and tok.type in ("NAME", "INDEXED"):
        hint = next((f"did you mean `{k} {tok.value[len(k):]}`? a keyword needs a space after it"
                     for k in STATEMENT_KEYWORDS if tok.value.startswith(k) and tok.value[len(k):] not in ("", "s")),
                    None) or suggestion(tok.value, STATEMENT_KEYWORDS)
        return Diagnostic(span, f"unknown statement `{tok.value}`", codes.UNKNOWN_STATEMENT.id,
                          expected=tuple(f"`{k}`" for k in STATEMENT_KEYWORDS),
                          help=hint or "each statement starts with one of the keywords above"), False
    if "RBRACE" in expected and tok.type in ("NEMO",):
        return Diagnostic(span, "`nemo` header inside a block", codes.HEADER_IN_BLOCK.id), False
    if tok.type == "_NL":
        message = "unexpected end of line"
        if expected & _VALUE_TERMINALS:
            message = "missing value: the line ends here"
    else:
        message = "unexpected " + _describe_token(tok).removeprefix("a ").removeprefix("an ")
    return Diagnostic(span, message, codes.UNEXPECTED_TOKEN.id, expected=readable_expected(expected)), False


def _describe_token(tok: Token) -> str:
    names = _terminal_names()
    if tok.type in ("NAME", "INDEXED"):
        return f"name `{tok.value}`"
    if tok.type in names and names[tok.type].startswith("`"):
        return names[tok.type]
    text = tok.value if len(tok.value) <= 40 else tok.value[:37] + "…"
    return f"{names.get(tok.type, tok.type)} `{text}`" if tok.type not in ("STRING", "LONG_STRING") else f"string {text}"


def _token_span(tok: Token, file: str) -> Span:
    end_line = tok.end_line or tok.line
    end_col = tok.end_column or (tok.column + max(1, len(tok.value)))
    if end_line != tok.line:
        end_line, end_col = tok.line, tok.column + len(tok.value.split("\n")[0])
    return Span(file, tok.line, tok.column, end_line, max(end_col, tok.column + 1))


_BRACE_SCAN = re.compile(
    r'"""(?:[\s\S]*?"""|[\s\S]*)'  # a long string, to the end of the text if it is never closed
    r'|"(?:[^"\\\n]++|\\[\s\S])*+"?'  # a string, to the end of its line if it is never closed
    r"|#[0-9A-Fa-f]{3,8}(?![\w-])"  # a color
    r"|#[^\n]*+"  # a comment
    r"|([{}])"
)


def _scan_braces(text: str):
    """Yield (offset, char) for braces outside strings and comments (the regex skips the rest at C speed)."""
    for m in _BRACE_SCAN.finditer(text):
        if m.group(1):
            yield m.start(), m.group(1)


def _unclosed_brace(text: str, file: str) -> Span | None:
    stack: list[int] = []
    for pos, ch in _scan_braces(text):
        if ch == "{":
            stack.append(pos)
        elif stack:
            stack.pop()
    if not stack:
        return None
    pos = stack[-1]
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return Span(file, line, col, line, col + 1)


class _TextLines:
    """A text's lines by index without splitting it into millions of strings; blanking keeps each line's length."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = line_starts(text)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, k: int) -> str:
        end = self.starts[k + 1] - 1 if k + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[k]:end]

    def replace(self, first: int, new: list[str]) -> None:
        """Lines first, first+1, … become `new` (each as long as the line it replaces): one copy of the text."""
        start = self.starts[first]
        end = start + len("\n".join(new))
        self.text = self.text[:start] + "\n".join(new) + self.text[end:]


def _blank_statement(lines: _TextLines, line: int) -> bool:
    """Replace the given line (and the block it opens, if any) with spaces, in place, keeping positions.

    False when that changes nothing (the line is blank already), so recovery stops.
    """
    if not 1 <= line <= len(lines):
        return False
    first = last = line - 1
    depth = 0
    for _, ch in _scan_braces(lines[first]):
        depth += 1 if ch == "{" else -1
    if depth == 0 and lines[first].rstrip().endswith("{") and len(_QUOTE.findall(lines[first])) % 2:
        depth = 1  # a quote missing earlier on the line took its `{` into a string (`["warm, "cool"] {`): still a block
    if depth > 0:
        j = first + 1
        while j < len(lines) and depth > 0:
            for _, ch in _scan_braces(lines[j]):
                depth += 1 if ch == "{" else -1
            j += 1
        last = j - 1
    changed = False
    blanked = []
    for k in range(first, last + 1):
        old = lines[k]
        keep = sorted(pos for pos, ch in _scan_braces(old) if ch == "}") if depth < 0 else []
        new = " " * len(old)
        for pos in keep:
            new = new[:pos] + "}" + new[pos + 1:]
        changed |= new != old
        blanked.append(new)
    lines.replace(first, blanked)
    return changed


def _blank_string(lines: _TextLines, line: int, column: int) -> bool:
    """Blank the statement of an unterminated string at line:column, with the lines its text most likely went on over.

    The lexer sees every line after an unclosed long string (three quotes) as text, and the rest of a line after an
    unclosed `"`; left in place, those lines give follow-on errors ("unknown statement `make`") for one mistake. A
    long string's text runs to the next line that starts a statement or closes a block at the string's own
    indentation or less; a `"` string whose text goes on to a later line that closes it (`and the second" from 0s`)
    takes that line with it; a `{` that ended up inside the string still opens the block it was meant to. False:
    recovery stops (the string runs to the end of the file, or there is nothing left to blank).
    """
    if not 1 <= line <= len(lines):
        return False
    first = line - 1
    text = lines[first]
    start = column - 1
    indent = len(text) - len(text.lstrip())
    if text.startswith('"""', start):
        end = _statement_after(lines, first + 1, indent)
        return end is not None and _blank_lines(lines, first, end - 1)
    if text.rstrip().endswith("{"):  # `for x in glob("*.mp4) {`: the block is the statement to blank
        lines.replace(first, [text[:start] + " " + text[start + 1:]])
        return _blank_statement(lines, line)
    closing = _closing_line(lines, first + 1, indent)
    return _blank_lines(lines, first, closing) if closing is not None else _blank_statement(lines, line)


def _statement_after(lines: _TextLines, k: int, indent: int) -> int | None:
    """The first line from k that starts a statement or closes a block at `indent` or less; None: none does."""
    while k < len(lines):
        text = lines[k]
        stripped = text.lstrip()
        if stripped and len(text) - len(stripped) <= indent and (
                stripped.startswith("}") or stripped.split(None, 1)[0] in STATEMENT_KEYWORDS):
            return k
        k += 1
    return None


_QUOTE = re.compile(r'(?<!\\)"')


def _closing_line(lines: _TextLines, k: int, indent: int) -> int | None:
    """A later line that closes a `"` string left open (its first quote follows text, not a space: a closing quote),
    before any blank line, quoted line, statement or block end; None if there is none."""
    while k < len(lines):
        text = lines[k]
        stripped = text.lstrip()
        if not stripped or (len(text) - len(stripped) <= indent and (
                stripped.startswith("}") or stripped.split(None, 1)[0] in STATEMENT_KEYWORDS)):
            return None
        quotes = [m.start() for m in _QUOTE.finditer(text)]
        if quotes:
            before = text[quotes[0] - 1] if quotes[0] > 0 else " "
            return k if len(quotes) % 2 == 1 and not before.isspace() and before not in "=([," else None
        k += 1
    return None


def _blank_lines(lines: _TextLines, first: int, last: int) -> bool:
    """Lines first..last (0-based) become spaces, keeping positions; False if they were blank already."""
    old = [lines[k] for k in range(first, last + 1)]
    new = [" " * len(t) for t in old]
    lines.replace(first, new)
    return new != old


_COMMENT = re.compile(r"#[^\n]*+")


def _comments(tokens: list[Token], file: str, budget: limits.Budget) -> tuple[ast.Comment, ...]:
    """Every comment with its place, for the formatter; each one costs a token of the budget (a file of
    millions of `#` lines would otherwise build millions of objects that no token limit counted)."""
    out: list[ast.Comment] = []
    for tok in tokens:
        value = tok.value
        line, line_start, pos = tok.line, -(tok.column - 1), 0
        for m in _COMMENT.finditer(value):
            start = m.start()
            newlines = value.count("\n", pos, start)
            if newlines:
                line += newlines
                line_start = value.rfind("\n", pos, start) + 1
            pos = start
            body = m.group().rstrip()
            col = start - line_start + 1
            budget.tokens -= 1
            if budget.tokens < 0:
                raise _LimitHit(limits.TOKENS, Token("COMMENT", body, line=line, column=col),
                                f"this recipe is too large to format: more than {budget.limit:,} tokens and comments",
                                f"split it into several recipes; or {limits.TOKENS.how_to_raise()}")
            out.append(ast.Comment(body, Span(file, line, col, line, col + len(body))))
    return tuple(out)


# ---- tree → AST ---------------------------------------------------------------

class _Builder:
    """Turns the Lark tree into ast nodes, collecting literal errors as it goes."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.diags: list[Diagnostic] = []

    def span(self, node) -> Span:
        if isinstance(node, Token):
            return _token_span(node, self.file)
        m = node.meta
        return Span(self.file, m.line, m.column, m.end_line, m.end_column)

    def module(self, tree: Tree, comments) -> ast.Module:
        kids = [k for k in tree.children if isinstance(k, Tree)]
        header = self.header(kids[0])
        statements = tuple(self.statement(k) for k in kids[1:])
        return ast.Module(self.file, header, statements, comments)

    def header(self, tree: Tree) -> ast.Header:
        tok = tree.children[1]
        lit = ast.Literal("quantity", str(tok), self._quantity(tok), self.span(tok))
        if lit.value != 1:
            self.diags.append(Diagnostic(lit.span, f"unsupported recipe version `{tok}`", codes.UNSUPPORTED_VERSION.id,
                                         help="this nemoflow reads `nemo 1` recipes"))
        return ast.Header(lit, self.span(tree))

    def statement(self, tree: Tree):
        return getattr(self, "st_" + tree.data)(tree)

    def _trees(self, tree: Tree) -> list[Tree]:
        return [k for k in tree.children if isinstance(k, Tree)]

    def _names(self, tree: Tree) -> list[Token]:
        return [k for k in tree.children if isinstance(k, Token) and k.type == "NAME"]

    def _content(self, tree: Tree) -> list:
        """Children that carry meaning: keywords and punctuation dropped."""
        return [k for k in tree.children if not (isinstance(k, Token) and k.type in _PUNCTUATION)]

    def _close(self, tree: Tree) -> Span:
        tok = [k for k in tree.children if isinstance(k, Token) and k.type == "RBRACE"][-1]
        return self.span(tok)

    def ident(self, tok: Token) -> ast.Ident:
        return ast.Ident(str(tok), self.span(tok))

    def st_include(self, tree: Tree) -> ast.Include:
        return ast.Include(self.value(self._content(tree)[0]), self.span(tree))

    def st_engine(self, tree: Tree) -> ast.Engine:
        return ast.Engine(self.ident(self._names(tree)[0]), self.span(tree))

    def st_param(self, tree: Tree) -> ast.Param:
        kids = self._content(tree)
        names = [k for k in kids if isinstance(k, Token) and k.type == "NAME"]
        values = [k for k in kids if not (isinstance(k, Token) and k.type == "NAME")]
        return ast.Param(
            self.ident(names[0]),
            self.ident(names[1]) if len(names) > 1 else None,
            self.value(values[0]) if values else None,
            self.span(tree),
        )

    def st_media(self, tree: Tree) -> ast.Media:
        return ast.Media(self.ident(self._names(tree)[0]), self.clause(self._trees(tree)[0]), self.span(tree))

    def st_edit(self, tree: Tree) -> ast.Edit:
        trees = self._trees(tree)
        base = self.ref(trees[0]) if trees and trees[0].data == "ref" else None
        body = tuple(self.clause(t) for t in trees if t.data == "clause")
        return ast.Edit(self.ident(self._names(tree)[0]), base, body, self.span(tree), self._close(tree))

    def st_ask(self, tree: Tree) -> ast.Ask:
        kids = self._content(tree)  # NAME, ref, value
        return ast.Ask(self.ident(kids[0]), self.ref(kids[1]), self.value(kids[2]), self.span(tree))

    def st_export(self, tree: Tree) -> ast.Export:
        trees = self._trees(tree)
        body = tuple(self.clause(t) for t in trees[1:])
        return ast.Export(self.ident(self._names(tree)[0]), self.ref(trees[0]), body, self.span(tree), self._close(tree))

    def st_expect(self, tree: Tree) -> ast.Expect:
        trees = self._trees(tree)
        body = tuple(self.assertion(t) for t in trees[1:])
        return ast.Expect(self.ref(trees[0]), body, self.span(tree), self._close(tree))

    def st_for_loop(self, tree: Tree) -> ast.ForLoop:
        kids = self._content(tree)  # NAME, iterable, statements…
        it = kids[1]
        if isinstance(it, Tree) and it.data == "glob":
            iterable = ast.Glob(self.value(self._content(it)[0]), self.span(it))
        elif isinstance(it, Tree) and it.data == "table":
            iterable = self._table(it)
        else:
            iterable = self.value(it)
        body = tuple(self.statement(t) for t in kids[2:])
        return ast.ForLoop(self.ident(kids[0]), iterable, body, self.span(tree), self._close(tree))

    def _table(self, tree: Tree) -> ast.Table:
        """`table("f.csv") key row.sku`: the key keeps the column (after the dot) and its span."""
        kids = self._content(tree)
        if len(kids) > 1:
            tok = kids[1]
            span = self.span(tok)
            dot = str(tok).index(".")
            key = ast.Ident(str(tok)[dot + 1:], Span(span.file, span.line, span.column + dot + 1, span.end_line, span.end_column))
            key_var = ast.Ident(str(tok)[:dot], Span(span.file, span.line, span.column, span.line, span.column + dot))
            return ast.Table(self.value(kids[0]), self.span(tree), key, key_var)
        return ast.Table(self.value(kids[0]), self.span(tree))

    def ref(self, node) -> ast.Ref:
        tok = node.children[0] if isinstance(node, Tree) else node
        text = str(tok)
        if tok.type == "INDEXED":
            name = text[: text.index("[")]
            index = tuple(re.findall(r"\[([^\]]+)\]", text))
        else:
            name, index = text, ()
        return ast.Ref(name, index, self.span(tok))

    def clause(self, tree: Tree) -> ast.Clause:
        return ast.Clause(tuple(self.item(k) for k in tree.children), self.span(tree))

    def item(self, node):
        if isinstance(node, Token) and node.type in ("NAME", "INDEXED"):
            ref = self.ref(node)
            return ast.Word(ref.name, ref.span, ref.index)
        return self.value(node)

    def assertion(self, tree: Tree) -> ast.Assertion:
        kids = tree.children
        if isinstance(kids[0], Token) and kids[0].type in ("HAS", "NO"):
            words = tuple(self.item(t) for t in kids[1:])
            return ast.Assertion(words, kids[0].type.lower(), None, self.span(tree))
        at = next((i for i, k in enumerate(kids) if isinstance(k, Token) and k.type in ("CMP", "WITHIN")), None)
        if at is None:  # `caption "Hello" at 3s`: words and values, no comparison (op "")
            return ast.Assertion(tuple(self.item(t) for t in kids[:-1]), "", self.item(kids[-1]), self.span(tree))
        words = tuple(self.item(t) for t in kids[:at])
        op = "within" if kids[at].type == "WITHIN" else str(kids[at])
        more = tuple(ast.Word("+", self.span(k)) if isinstance(k, Token) and k.type == "PLUS" else self.item(k)
                     for k in kids[at + 2:])
        return ast.Assertion(words, op, self.item(kids[at + 1]), self.span(tree), more)

    def value(self, node):
        if isinstance(node, Tree):  # a list
            return ast.ListLit(tuple(self.value(k) for k in self._content(node)), self.span(node))
        tok = node
        span = self.span(tok)
        text = str(tok)
        kind = tok.type
        if kind in ("STRING", "LONG_STRING"):
            try:
                parts, plain = read_string(text)
            except LiteralError as err:
                self._literal_error(err, span, text)
                parts, plain = (text,), text
            return ast.StringLit(text, parts, plain, span)
        if kind == "VAR":
            return ast.Var(text[1:], span)
        if kind in ("TRUE", "FALSE"):
            return ast.Literal("boolean", text, text == "true", span)
        reader = {"QUANTITY": read_quantity, "TIMECODE": read_timecode, "RATIO": read_ratio, "COLOR": read_color}[kind]
        try:
            value = reader(text)
        except LiteralError as err:
            self._literal_error(err, span, text)
            value = None
        return ast.Literal(kind.lower(), text, value, span)

    def _quantity(self, tok: Token):
        try:
            return read_quantity(str(tok))
        except LiteralError:
            return None

    def _literal_error(self, err: LiteralError, span: Span, text: str) -> None:
        if err.length:
            before = text[: err.offset]
            lines = before.count("\n")
            line = span.line + lines
            col = span.column + err.offset if not lines else err.offset - before.rfind("\n")
            span = Span(span.file, line, col, line, col + err.length)
        self.diags.append(Diagnostic(span, err.message, err.code.id, help=err.help))
