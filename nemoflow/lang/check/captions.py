"""`captions` in the checker: the file or inline list a clause names, read and checked; and `expect … caption`.

A subtitle file is read here (core/subtitles.py), so `nemoflow check` and the editor report a malformed cue at its
file:line:column, with a note naming the clause that reads it. The clause keeps the file's absolute path: the edit's
cache key then holds the file by its content (plan/keys.py reads paths in clauses), and the Draft builder reads it
again into caption segments (draft/captions.py). An inline list becomes typed lines in the clause itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...core import codes
from ...core.diagnostics import Related, Span
from ...core.model import CaptionAt, Check, CheckKind, CheckOp
from ...core.signatures import Slot
from ...core.subtitles import SUFFIXES, InlineCaptions, SubtitleError, TimedLine, read_subtitles
from ...core.values import Duration
from .. import ast
from . import cells
from .state import FAIL, Instance, State
from .text import describe_item, keyword_span, sibling, similar_file

_LINE_HELP = 'write each line as `[START, END, "text"]`, e.g. `captions [[0s, 2s, "Hello"], [2s, 4.5s, "World"]]`'
# `text` look keywords that a player ignores for a subtitle stream (mov_text, WebVTT) drawn in its own style
_LOOKS = ("at", "size", "color", "font", "box", "wrap", "x", "y", "align", "outline")


def captions_source(st: State, item, inst: Instance, slot: Slot, what: str):
    """A `captions` clause's source: a subtitle file's absolute Path (read and checked), or InlineCaptions; FAIL."""
    if isinstance(item, ast.ListLit):
        return _inline(st, item, inst)
    from .coerce import coerce  # coerce calls this module for the `captions` type

    if isinstance(item, ast.Var) and cells.is_cell(item):  # `captions $row.subs`: errors at the cell, "used here"
        before = len(st.diags)
        cell = cells.item_for(st, item, inst.env, ("path",))
        value = FAIL if cell is FAIL else captions_source(st, cell, inst, slot, what)
        if cell is not FAIL:
            cells.note_use(st, before, cell.span, item.span)
        return value
    if isinstance(item, (ast.StringLit, ast.Var)):
        name = coerce(st, item, "path", inst, slot, what)
        if name is FAIL:
            return FAIL
        return _file(st, name, item.span, inst)
    st.error(item.span, f"{what} takes an .srt/.vtt file in quotes or a list of timed lines, got {describe_item(item)}",
             codes.TYPE_MISMATCH, help=_LINE_HELP.replace("write each line as", "a list holds lines"))
    return FAIL


def _file(st: State, name: str, span: Span, inst: Instance):
    path = (inst.base_dir / os.path.expanduser(name)).resolve()  # as media: relative to the file that names it
    if path.suffix.lower() not in SUFFIXES:
        st.error(span, f"captions are read from .srt or .vtt files, not {path.suffix or 'a file without a suffix'}: {name}",
                 codes.CAPTIONS_FILE_TYPE, help="export the subtitles as SubRip (.srt) or WebVTT (.vtt)")
        return FAIL
    if not os.path.isfile(path):
        near = similar_file(path)
        st.error(span, f"captions file not found: {name}", codes.CAPTIONS_NOT_FOUND,
                 help=f"did you mean `{sibling(name, near)}`?" if near else
                 f"looked for {path} (a captions file's path is relative to the recipe)")
        return FAIL
    shown = _shown(path)
    try:
        subs = read_subtitles(path, shown)
    except SubtitleError as err:
        try:
            st.sources.add(shown, path.read_text(encoding="utf-8-sig"))  # so the diagnostic quotes the cue's line
        except (OSError, UnicodeDecodeError):
            pass
        st.error(err.span, err.message, codes.CAPTIONS_UNREADABLE, help=err.help,
                 related=(Related(span, "read by this clause"),))
        return FAIL
    if not subs.cues:
        st.error(span, f"{name} holds no cues", codes.CAPTIONS_EMPTY,
                 help="a cue is a timing line (`00:00:01,000 --> 00:00:02,500`) and its text")
        return FAIL
    if path not in st.files:
        st.files.append(path)  # `preview --watch` re-renders when the subtitles change
    return path


def _inline(st: State, lst: ast.ListLit, inst: Instance):
    from .coerce import coerce

    if not lst.items:
        st.error(lst.span, "`captions []` holds no lines", codes.CAPTIONS_EMPTY, help=_LINE_HELP)
        return FAIL
    lines = []
    ok = True
    for entry in lst.items:
        if not isinstance(entry, ast.ListLit) or len(entry.items) != 3:
            got = f"a list of {len(entry.items)}" if isinstance(entry, ast.ListLit) else describe_item(entry)
            st.error(entry.span, f"a caption line is `[START, END, \"text\"]`, got {got}", codes.CAPTION_LINE_FORM,
                     help=_LINE_HELP)
            ok = False
            continue
        start_i, end_i, text_i = entry.items
        start = coerce(st, start_i, "duration", inst, Slot("start", "duration"), "a caption's start")
        end = coerce(st, end_i, "duration", inst, Slot("end", "duration"), "a caption's end")
        text = coerce(st, text_i, "string", inst, Slot("text", "string"), "a caption's text")
        if FAIL in (start, end, text):
            ok = False
            continue
        if start.seconds < 0:
            st.error(start_i.span, f"a caption cannot start before 0s ({start})", codes.EXPECT_VALUE_RANGE)
            ok = False
            continue
        if end.seconds <= start.seconds:
            st.error(end_i.span, f"the caption ends ({end}) {'before' if end.seconds < start.seconds else 'when'} it "
                     f"starts ({start})", codes.OUT_BEFORE_IN, help="the end comes after the start")
            ok = False
            continue
        if not text.strip():
            st.error(text_i.span, "a caption line with no text", codes.CAPTION_LINE_FORM, help="give its text, or remove the line")
            ok = False
            continue
        lines.append(TimedLine(_ms(start), _ms(end), text))
    return InlineCaptions(tuple(lines)) if ok else FAIL


def caption_rules(st: State, args: dict, clause: ast.Clause) -> bool:
    """Warn about look keywords on soft captions: a player shows a subtitle stream in its own style."""
    if args.get("soft"):
        for name in _LOOKS:
            if name in args:
                st.warn(keyword_span(clause, name), f"`{name}` has no effect on `soft` captions: the player draws a "
                        "subtitle track in its own style", codes.CAPTION_STYLE_SOFT,
                        help="remove it, or leave out `soft` to burn the captions in with this look")
    return True


_CHECK_HELP = 'write `caption "Hello" at 3s` (that caption is on screen then) or `no caption at 3s`'


def caption_check(st: State, a: ast.Assertion, inst: Instance, text_of) -> Check | None:
    """`caption "Hello" at 3s` (op "") and `no caption at 3s` (op "no"): a CaptionAt (core/model.py)."""
    from .coerce import coerce

    items = [*a.subject, a.value] if a.value is not None else list(a.subject)
    if a.op == "" and items and _word(items[0], "frame"):
        st.error(a.span, "a frame check reads `frame at TIME looks like \"PICTURE.png\" METRIC >= NUMBER`",
                 codes.LOOKS_LIKE_FORM, help='write e.g. `frame at 5s looks like "golden/5s.png" ssim >= 0.97`')
        return None
    negated = a.op == "no"
    shape_ok = (len(items) == 3 and _word(items[0], "caption") and _word(items[1], "at") and negated) or \
        (len(items) == 4 and _word(items[0], "caption") and isinstance(items[1], (ast.StringLit, ast.Var))
         and _word(items[2], "at") and not negated and not a.op)
    if not shape_ok or isinstance(items[-1], ast.Word):
        st.error(a.span, "a caption check reads `caption \"TEXT\" at TIME` or `no caption at TIME`", codes.CAPTION_CHECK_FORM,
                 help=_CHECK_HELP)
        return None
    at = coerce(st, items[-1], "duration", inst, Slot("at", "duration"), "`caption … at`")
    text = None if negated else coerce(st, items[1], "string", inst, Slot("caption", "string"), "`caption`")
    if FAIL in (at, text):
        return None
    if at.seconds < 0:
        st.error(items[-1].span, "`caption … at` takes a time of 0s or more", codes.EXPECT_VALUE_RANGE)
        return None
    return Check("caption", CheckOp.HAS_NO if negated else CheckOp.EQ, CaptionAt(text, _ms(at)), text_of(st, a), a.span,
                 CheckKind.CAPTION)


def is_caption_check(a: ast.Assertion) -> bool:
    """The caption forms; any other line without a comparison is one written wrong (the grammar allows no other)."""
    return a.op == "" or (a.op == "no" and bool(a.subject) and _word(a.subject[0], "caption"))


def _word(item, name: str) -> bool:
    return isinstance(item, ast.Word) and not item.index and item.name == name


def _ms(value: Duration) -> int:
    return round(value.seconds * 1000)


def _shown(path: Path) -> str:
    """The subtitle file's name in diagnostics: relative to the current folder when it is below it."""
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()

