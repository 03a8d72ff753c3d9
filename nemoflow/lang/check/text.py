"""Words for diagnostics: how a value or item is described, what a slot expects, an example, a verb's usage.

Kept apart so every message describes things the same way ("a duration `2s`",
"the name of a media, edit or ask").
"""

from __future__ import annotations

import os
from pathlib import Path

from ...core import signatures as sig
from ...core.diagnostics import Span, did_you_mean
from ...core.values import KIND_NAMES, kind_of
from .. import ast


def describe(value) -> str:
    """A value in words, with its kind: "a duration `2s`"."""
    kind = kind_of(value)
    if kind == "string":
        return f'the string "{value}"'
    if kind == "list":
        return "a list"
    if kind == "bool":
        return f"`{str(value).lower()}`"
    word = {"percent": "percentage", "filesize": "file size", "fps": "frame rate", "number": "number",
            "truepeak": "true-peak level", "decibels": "level in decibels"}.get(kind, kind)
    article = "an" if word[0] in "aeiou" else "a"
    return f"{article} {word} `{value}`"


def describe_item(item) -> str:
    """An item in words, as the user wrote it."""
    if isinstance(item, ast.Word):
        return f"the name `{item.text}`"
    if isinstance(item, ast.StringLit):
        return f"the string {item.text}"
    if isinstance(item, ast.Var):
        return f"`${item.name}`"
    if isinstance(item, ast.ListLit):
        return "a list"
    if isinstance(item, ast.Literal) and item.value is not None:
        return describe(item.value).replace(f"`{item.value}`", f"`{item.text}`")
    return f"`{getattr(item, 'text', '?')}`"


def expected_text(spec) -> str:
    """What a slot type accepts, in words."""
    if isinstance(spec, tuple):
        return "one of " + ", ".join(f"`{c}`" for c in spec)
    if spec in ("media", "draft", "source"):
        return f"the name of a {want_text(spec)}"
    if spec == "path":
        return "a path in quotes"
    if spec == "look":
        return "a look name or a .cube file"
    if spec == "captions":
        return 'an .srt/.vtt file in quotes or a list of `[START, END, "text"]` lines'
    names = []
    for kind in (spec if isinstance(spec, list) else spec.split("|")):
        if kind == "frame":
            names.append("`vertical`, `square`")
        elif kind == "int":
            names.append("a whole number")
        else:
            names.append(KIND_NAMES.get(kind, kind))
    return " or ".join(names)


def short(spec) -> str:
    return "|".join(spec) if isinstance(spec, tuple) else spec.split("|")[0]


_EXAMPLES = {"duration": "2s", "percent": "35%", "resolution": "1080p", "aspect": "9:16", "color": "white",
             "string": '"Hello"', "number": "1", "int": "20", "filesize": "50MB", "bitrate": "8Mbps",
             "frequency": "440hz", "fps": "30fps", "pixels": "48px", "factor": "2x", "media": "clip",
             "draft": "cut", "source": "clip", "look": '"warm"', "path": '"out/final.mp4"', "bool": "true",
             "loudness": "-14 LUFS", "truepeak": "-1 dBTP", "captions": '"talk.srt"'}


def example(spec) -> str:
    if isinstance(spec, tuple):
        return spec[0]
    return _EXAMPLES.get(spec.split("|")[0], "…")


def slot_text(slot: sig.Slot) -> str:
    return expected_text(slot.type)


def want_text(want: str) -> str:
    return {"media": "media", "draft": "edit or ask", "source": "media, edit or ask"}.get(want, want)


def article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def usage(signature: sig.Signature) -> str:
    """A verb's slots in short form: `<media> from <duration> mute`."""
    parts = [f"<{short(s.type)}>" if s.required else f"[{short(s.type)}]" for s in signature.positional]
    parts += [f"{s.name} <{short(s.type)}>" + (f" [{short(s.then)}]" if s.then else "") for s in signature.keywords]
    parts += list(signature.flags)
    return " ".join(parts) if parts else "nothing"


def unit_hint(expected: str, value) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "duration" in expected:
            return f"add a unit: `{value}s`"
        if "percentage" in expected:
            return f"add a unit: `{value}%`"
        if "pixels" in expected:
            return f"add a unit: `{value}px`"
        if "loudness" in expected:
            return f"add a unit: `{value} LUFS`"
        if "true-peak" in expected:
            return f"add a unit: `{value} dBTP`"
    if kind_of(value) == "decibels" and ("loudness" in expected or "true-peak" in expected):
        unit = "LUFS" if "loudness" in expected else "dBTP"
        return f"write the level in {unit}: `{value.value:g} {unit}`"
    return None


def end_of(span: Span) -> Span:
    return Span(span.file, span.end_line, span.end_column, span.end_line, span.end_column + 1)


def keyword_span(clause: ast.Clause, keyword: str) -> Span:
    """The span of `keyword value` in a clause (the whole clause if the keyword is absent)."""
    items = clause.items
    for i, item in enumerate(items):
        if isinstance(item, ast.Word) and item.name == keyword:
            last = items[i + 1] if i + 1 < len(items) else item
            return Span(item.span.file, item.span.line, item.span.column, last.span.end_line, last.span.end_column)
    return clause.span


def similar_file(path: Path) -> str | None:
    """A file beside `path` with a similar name, for "did you mean"."""
    parent = path.parent
    if not os.path.isdir(parent):
        return None
    try:
        names = [p.name for p in parent.iterdir()][:2000]
    except OSError:
        return None
    return did_you_mean(path.name, names)


def sibling(written: str, name: str) -> str:
    """`written` with its file name replaced: a suggestion in the user's own terms."""
    head = os.path.dirname(written)
    return f"{head}/{name}" if head else name
