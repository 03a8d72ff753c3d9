"""Where the cursor is, read from the text around it: which block, which verb, which keyword came last.

Completion runs while a line is half typed, when the buffer often does not
parse; so it reads the lines themselves: the enclosing block is found by
counting braces above the cursor (outside strings and comments), and the
current line is cut into words. Names come from the last index that parsed.
"""

from __future__ import annotations

import re

import attrs

_HEADER = re.compile(r"^\s*(edit|export|expect|for)\b([^#]*)\{\s*(?:#.*)?$")
_WORD = re.compile(r'"(?:[^"\\]|\\.)*"?|[^\s"]+')


@attrs.frozen
class Cursor:
    block: str  # "top" | "edit" | "export" | "expect" | "for"
    words: tuple[str, ...]  # the complete words before the cursor on its line
    partial: str  # the word being typed ("" right after a space)
    in_string: bool  # inside an open "…": `partial` is the text typed after the quote


def _strip(line: str) -> str:
    """The line without strings and its comment (braces inside them do not count)."""
    out = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    at = out.find("#")
    while at >= 0:  # `#fff` is a colour; a comment's `#` is followed by a space or ends the line
        if at + 1 >= len(out) or out[at + 1] in " \t#!":
            return out[:at]
        at = out.find("#", at + 1)
    return out


def cursor_at(text: str, line: int, column: int) -> Cursor:
    """The context at 0-based `line` and code-point `column`."""
    lines = text.split("\n")
    current = lines[line] if line < len(lines) else ""
    prefix = current[:column]
    blocks: list[str] = []
    for above in lines[:line]:
        bare = _strip(above)
        head = _HEADER.match(bare)
        opens, closes = bare.count("{"), bare.count("}")
        if head and opens == 1 and closes == 0:
            blocks.append(head.group(1))
            continue
        for _ in range(closes - opens):
            if blocks:
                blocks.pop()
        for _ in range(opens - closes):
            blocks.append("other")
    block = blocks[-1] if blocks and blocks[-1] != "other" else ("top" if not blocks else "other")
    if block == "for":
        block = "top"
    quotes = len(re.findall(r'(?<!\\)"', prefix))
    if quotes % 2 == 1:
        start = prefix.rfind('"')
        words = tuple(w for w in _WORD.findall(prefix[:start]))
        return Cursor(block, words, prefix[start + 1:], True)
    words = _WORD.findall(prefix)
    if prefix and not prefix[-1].isspace() and words:
        return Cursor(block, tuple(words[:-1]), words[-1], False)
    return Cursor(block, tuple(words), "", False)
