"""Completion: what may come next where the cursor is, read from the signature table and the recipe's names."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lsprotocol import types as lsp

from ..core import engines
from ..core import signatures as sig
from ..core.values import NAMED_COLORS, NAMED_RESOLUTIONS
from ..lang.check.coerce import FRAME_PRESETS
from ..lang.check.text import expected_text, usage
from ..lang.literals import KNOWN_UNITS
from ..lang.parser import STATEMENT_KEYWORDS
from .columns import column_items
from .context import Cursor, cursor_at
from .index import Index

K = lsp.CompletionItemKind
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([A-Za-z%]*)$")
_STATEMENT_DOCS = {
    "include": 'include "other.nemo": splice another recipe\'s statements in here',
    "engine": "engine local|nemo: which engine runs the recipe",
    "param": "param NAME[: type] = default: a value `--set` may change",
    "media": 'media NAME = "file.mp4" | generator …: a source',
    "edit": "edit NAME [= base] { … }: a timeline",
    "ask": 'ask NAME = base "instruction": an edit described in words',
    "export": "export NAME = edit { … }: a rendered file",
    "expect": "expect EXPORT { … }: checks on the written file",
    "for": 'for x in glob("*.mp4") { … }: one set of steps per item',
}
_UNIT_DOCS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "%": "percent", "x": "factor",
              "fps": "frames per second", "hz": "hertz", "khz": "kilohertz", "px": "pixels", "dB": "decibels",
              "p": "lines (1080p)", "k": "4k, 8k", "LUFS": "integrated loudness", "dBTP": "true peak"}
# Units that fit a slot's type, in the order they are offered.
_UNITS_FOR = {"duration": ("s", "ms", "m", "h"), "percent": ("%",), "pixels": ("px",), "factor": ("x",), "fps": ("fps",),
              "frequency": ("hz", "khz"), "decibels": ("dB",), "loudness": (" LUFS",), "truepeak": (" dBTP",),
              "filesize": ("MB", "GB", "kB"), "bitrate": ("Mbps", "kbps"), "resolution": ("p", "k")}
MEDIA_FILES = tuple(f".{e}" for e in sig.MEDIA_EXTENSIONS)


def complete(text: str, line: int, column: int, index: Index, folder: Path) -> list[lsp.CompletionItem]:
    """Items for 0-based `line` and code-point `column` of `text`."""
    columns = column_items(text, line, column, index, folder)  # `$row.` in a table loop (docs/variants.md)
    if columns is not None:
        return columns
    cur = cursor_at(text, line, column)
    if cur.in_string:
        return _paths(cur, folder)
    dollar = re.search(r"\$\{?([A-Za-z_][\w-]*)?$", cur.partial)
    if dollar:
        return [_item(s.name, K.Variable, s.detail) for s in index.names("param", "loop")]
    number = _NUMBER.match(cur.partial)
    if number:
        return _units(cur, number)
    words = cur.words
    if cur.block == "top":
        return _top(words, index)
    if cur.block == "edit":
        return _clause(words, sig.EDIT_OPS, index, "edit operation")
    if cur.block == "export":
        return _clause(words, sig.EXPORT_SETTINGS, index, "export setting")
    if cur.block == "expect":
        return _expect(words)
    return []


def _item(label: str, kind: lsp.CompletionItemKind, detail: str = "", doc: str = "", insert: str | None = None,
          sort: str | None = None, filter_text: str | None = None) -> lsp.CompletionItem:
    return lsp.CompletionItem(label=label, kind=kind, detail=detail or None,
                              documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=doc) if doc else None,
                              insert_text=insert, sort_text=sort, filter_text=filter_text)


def _words(choices, kind=K.EnumMember, detail: str = "") -> list[lsp.CompletionItem]:
    return [_item(c, kind, detail, sort=f"{n:03d}") for n, c in enumerate(choices)]


def _steps(index: Index, *kinds: str) -> list[lsp.CompletionItem]:
    return [_item(s.name, K.Reference if s.kind != "loop" else K.Variable, s.detail) for s in index.names(*kinds)]


def _top(words: tuple[str, ...], index: Index) -> list[lsp.CompletionItem]:
    if not words:
        return [_item(k, K.Keyword, _STATEMENT_DOCS[k]) for k in STATEMENT_KEYWORDS]
    head = words[0]
    if head == "engine" and len(words) == 1:
        return _words(engines.names(), K.Module)
    if head == "param" and len(words) == 2 and words[1].endswith(":"):
        return _words(sig.PARAM_TYPES, K.TypeParameter)
    if head == "param" and len(words) >= 2 and words[-1] == ":":
        return _words(sig.PARAM_TYPES, K.TypeParameter)
    if head in ("edit", "export", "ask") and len(words) == 3 and words[2] == "=":
        return _steps(index, "media", "edit", "ask", "loop") if head == "edit" else _steps(index, "edit", "ask", "media", "loop")
    if head == "expect" and len(words) == 1:
        return _steps(index, "export")
    if head == "media" and len(words) >= 3 and words[2] == "=":
        rest = words[3:]
        if not rest:
            items = [_item(g.verb, K.Function, g.doc, f"`{g.verb} {usage(g)}`") for g in sig.GENERATORS.values()]
            return [*items, _item('"…"', K.File, "a file, in quotes", insert='"', sort="zzz")]
        generator = sig.GENERATORS.get(rest[0])
        if generator is not None:
            return _after(generator, rest[1:], index)
    return []


def _clause(words: tuple[str, ...], table: dict[str, sig.Signature], index: Index, what: str) -> list[lsp.CompletionItem]:
    if not words:
        return [_item(s.verb, K.Function, f"{what}: {s.doc}", f"`{s.verb} {usage(s)}`\n\n{s.doc}") for s in table.values()]
    signature = table.get(words[0])
    return _after(signature, words[1:], index) if signature is not None else []


def _after(signature: sig.Signature, words: tuple[str, ...], index: Index) -> list[lsp.CompletionItem]:
    """What may follow `words` after a verb: the value its last keyword wants, a positional slot, or keywords."""
    if words:
        last, pair = words[-1], " ".join(words[-2:])
        slot = signature.keyword(pair) if len(words) >= 2 else None
        slot = slot or signature.keyword(last)
        if slot is not None:
            values = _values(slot.type, index)
            if values is not None:
                return values
            return []  # a number or a string comes next: the units are offered once its digits are typed
    used = set(words)
    pending = _pending_positional(signature, words)
    out: list[lsp.CompletionItem] = []
    if pending is not None:
        out += _values(pending.type, index) or []
    for slot in signature.keywords:
        if slot.name.split(" ")[0] not in used or " " in slot.name:
            out.append(_item(slot.name, K.Property, f"{slot.name} <{expected_text(slot.type)}>", slot.doc, sort="1" + slot.name))
    out += [_item(f, K.Keyword, "flag", sort="2" + f) for f in signature.flags if f not in used]
    return out


def _pending_positional(signature: sig.Signature, words: tuple[str, ...]) -> sig.Slot | None:
    """The first positional slot nothing has filled yet (a rough count: words that are not keywords or their values)."""
    filled = 0
    skip = 0
    for w in words:
        if skip:
            skip -= 1
            continue
        if signature.keyword(w):
            skip = 1
            continue
        if w in signature.flags:
            continue
        filled += 1
    positional = signature.positional
    if filled < len(positional):
        return positional[filled]
    if positional and positional[-1].many:
        return positional[-1]
    return None


def _values(spec, index: Index) -> list[lsp.CompletionItem] | None:
    """The words a slot type takes, or None when it takes a number or a string (nothing to list)."""
    if isinstance(spec, tuple):
        return _words(spec)
    if spec == "media":
        return _steps(index, "media", "loop")
    if spec == "draft":
        return _steps(index, "edit", "ask")
    if spec == "source":
        return _steps(index, "media", "edit", "ask", "loop")
    if spec == "look":
        return [*_words(sig.GRADE_PRESETS), _item('"….cube"', K.File, "a LUT file", insert='"', sort="zzz")]
    kinds = spec.split("|")
    out: list[lsp.CompletionItem] = []
    if "color" in kinds:
        out += _words(NAMED_COLORS, K.Color)
    if "frame" in kinds:
        out += _words(FRAME_PRESETS)
    if "resolution" in kinds:
        out += _words(NAMED_RESOLUTIONS, K.Constant)
    if "bool" in kinds:
        out += _words(("true", "false"), K.Constant)
    return out or None


def _units(cur: Cursor, number: re.Match) -> list[lsp.CompletionItem]:
    """A number being typed: the units the slot before it takes (all known units when that is unclear)."""
    digits, typed = number.group(0)[: len(number.group(0)) - len(number.group(2))], number.group(2)
    units: tuple[str, ...] = KNOWN_UNITS
    table = sig.EDIT_OPS if cur.block == "edit" else sig.EXPORT_SETTINGS if cur.block == "export" else None
    signature = table.get(cur.words[0]) if table and cur.words else None
    if cur.block == "top" and len(cur.words) >= 4 and cur.words[0] == "media":
        signature = sig.GENERATORS.get(cur.words[3])
    if signature is not None:
        words = cur.words[1:] if cur.block != "top" else cur.words[4:]
        slot = (signature.keyword(words[-1]) or (signature.keyword(" ".join(words[-2:])) if len(words) >= 2 else None)) \
            if words else None
        slot = slot or _pending_positional(signature, words)
        if slot is not None and not isinstance(slot.type, tuple):
            fitting = [u for k in slot.type.split("|") for u in _UNITS_FOR.get(k, ())]
            if fitting:
                units = tuple(fitting)
    out = []
    for n, unit in enumerate(units):
        if unit.strip().lower().startswith(typed.lower()):
            out.append(_item(digits + unit, K.Unit, _UNIT_DOCS.get(unit.strip(), ""), sort=f"{n:03d}"))
    return out


def _expect(words: tuple[str, ...]) -> list[lsp.CompletionItem]:
    if not words:
        subjects = [_item(s, K.Property, f"compares {expected_text(t)}") for s, (t, _) in sig.EXPECT_SUBJECTS.items()]
        return [*subjects, _item("has", K.Keyword, "has audio | has video"), _item("no", K.Keyword, "no black frames …")]
    if words == ("has",) or words == ("has", "no"):
        return _words(sig.EXPECT_HAS)
    if words == ("no",):
        return _words(sig.EXPECT_NO)
    return []


def _paths(cur: Cursor, folder: Path) -> list[lsp.CompletionItem]:
    """Files for `media x = "…`, `include "…`, `grade "…`: the folder typed so far, relative to the recipe's."""
    head = cur.words[0] if cur.words else ""
    if head == "include":
        wanted: tuple[str, ...] = (".nemo",)
    elif head == "media" or (cur.block == "edit" and head in ("overlay", "pip", "image")):
        wanted = MEDIA_FILES
    elif head == "grade":
        wanted = (".cube",)
    elif head == "font" or (cur.words and cur.words[-1] == "font"):
        wanted = (".ttf", ".otf", ".ttc")
    else:
        return []
    typed_dir = os.path.dirname(cur.partial)
    where = folder / typed_dir
    out: list[lsp.CompletionItem] = []
    try:
        entries = sorted(os.scandir(where), key=lambda e: e.name)[:500]
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        rel = f"{typed_dir}/{entry.name}" if typed_dir else entry.name
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir:
            out.append(_item(rel + "/", K.Folder, insert=entry.name + "/", sort="0" + entry.name, filter_text=entry.name))
        elif entry.name.lower().endswith(wanted):  # the editor replaces the name typed after the last `/`
            out.append(_item(rel, K.File, insert=entry.name, sort="1" + entry.name, filter_text=entry.name))
    return out
