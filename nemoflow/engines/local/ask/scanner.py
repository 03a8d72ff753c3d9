"""Words → intents: a deterministic interpreter for plain-language edit instructions, in English and Chinese.

The instruction is normalised (NFKC, lower case) one character at a time, keeping where each normalised
character came from, so every span reported (Intent.text/start/end, NotUnderstood parts, BadValue) points
into the ORIGINAL string. It is then scanned left to right: at each position every rule of RULES is tried
anchored there, and the longest match wins (a tie goes to the earlier rule). Between intents, separators
(punctuation, "and", "then", 然后 …), courtesy ("please", 请 …) and a short explicit list of filler words
("the", "just", 把 …) are skipped; anything else, up to the next separator, is an unknown part, and every
unknown part is reported at once (NotUnderstood). A value out of range stops the parse at once (BadValue).
The words themselves are in the phrase table (vocabulary.py), numbers and units in numerals.py.
"""

from __future__ import annotations

import re
import unicodedata

import attrs

from .builders import OPENERS, QUOTE_RE, Complaint
from .intents import Intent, NotUnderstood
from .vocabulary import RULES, Rule


class BadValue(ValueError):
    """A recognised phrase with a value out of range; start/end/text locate it in the original instruction."""

    def __init__(self, start: int, end: int, text: str, message: str) -> None:
        self.start, self.end, self.text, self.message = start, end, text, message
        super().__init__(message)


# ---------------------------------------------------------------------------------------------- normalising


@attrs.frozen
class _Norm:
    """The normalised text and, per normalised character, the original [start, end) it came from."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalised [start, end): NFKC may turn one character into several ("㎳" → "ms")."""
        if start >= end:
            at = self.starts[start] if start < len(self.text) else len(self.original)
            return at, at
        return self.starts[start], self.ends[end - 1]

    def part(self, start: int, end: int) -> tuple[int, int, str]:
        """(start, end, words) in the original, for errors and intents."""
        a, b = self.span(start, end)
        return a, b, self.original[a:b]

    def words(self, start: int, end: int) -> str:
        """The original words of normalised [start, end), as typed (what a builder is given to read a title)."""
        return self.part(start, end)[2]

    def unknown(self, start: int, end: int) -> tuple[int, int, str]:
        """An unknown part: part() of normalised [start, end) less its trailing spaces."""
        return self.part(start, _rstrip(self.text, end, start))


def _normalise(instruction: str) -> _Norm:
    """NFKC + lower case character by character, so full-width "４Ｋ，" reads "4k," and every index maps back.

    A run of spaces (tabs, full-width spaces) reads as one space, so patterns never backtrack over long blanks;
    a newline stays a newline (it separates).
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(instruction):
        for c in unicodedata.normalize("NFKC", ch).lower():
            if c.isspace() and c not in "\n\r":
                if chars and chars[-1] == " ":
                    ends[-1] = i + 1
                    continue
                c = " "
            chars.append(c)
            starts.append(i)
            ends.append(i + 1)
    return _Norm(instruction, "".join(chars), tuple(starts), tuple(ends))


# ---------------------------------------------------------------------------------------------- between intents

_SPACE = re.compile(r"\s+")
_SEP_CHAR = re.compile(r"[,;!?、。|&+/\n\r—]|(?<!\d)\.|\.(?!\d)")
_SEP_WORD = re.compile(r"(?:and\s+then|and|then|also|plus|after\s+that|afterwards|next|finally|as\s+well|too)(?![a-z0-9])|"
                       r"然后|并且|并|再|和|同时|还有|以及|接着|之后|另外|最后|还要|还|跟|与|及")
_COURTESY = re.compile(r"(?:please|pls|plz|kindly|thanks|thank\s+you|thx)(?![a-z0-9])|"
                       r"请你|请|谢谢|谢了|麻烦你|麻烦您|麻烦|好吗|好不好|可以吗|行吗|一下|吧|啊|呀|哦|呢|了")
_FILLER = re.compile(r"(?:can\s+you|could\s+you|would\s+you|will\s+you|can\s+we|could\s+we|i\s+want(?:\s+you)?(?:\s+to)?|"
                     r"i\s+need(?:\s+you)?(?:\s+to)?|i['’]?d\s+like(?:\s+you)?(?:\s+to)?|i\s+would\s+like(?:\s+you)?(?:\s+to)?|"
                     r"let['’]?s|let\s+us|go\s+ahead\s+and|make\s+sure\s+(?:to|you)|try\s+to|just|now|first|the|a|an)(?![a-z0-9])|"
                     r"帮我|帮忙|给我|替我|我要|我想要|我想|想要|需要|要|能不能|能否|可不可以|可以|把|将|这个视频|整个视频|这段视频|视频|这段|画面|"
                     r"也|都|就|先|全部")


def _is_word_char(c: str) -> bool:
    """ASCII letters and digits: the characters an English word boundary is about."""
    return c.isascii() and c.isalnum()


def _skip_space(s: str, pos: int) -> int:
    """The first non-space position at or after pos."""
    m = _SPACE.match(s, pos)
    return m.end() if m else pos


def _rstrip(s: str, end: int, start: int) -> int:
    """end moved back over trailing spaces, never before start."""
    while end > start and s[end - 1].isspace():
        end -= 1
    return end


def _at_break(s: str, pos: int) -> bool:
    """At the end, or at a separator: where a run of filler words with no intent after it stops."""
    return pos >= len(s) or bool(_SEP_CHAR.match(s, pos) or _SEP_WORD.match(s, pos))


def _clause_end(s: str, pos: int) -> int:
    """Where an unknown part stops: the next separator (quoted text is skipped whole), or the end."""
    i = pos
    while i < len(s):
        if s[i] in OPENERS and (q := QUOTE_RE.match(s, i)):
            i = q.end()
            continue
        if _SEP_CHAR.match(s, i):
            break
        if i > pos and _SEP_WORD.match(s, i) and (not _is_word_char(s[i]) or not _is_word_char(s[i - 1])):
            break
        i += 1
    return max(i, pos + 1)


# ---------------------------------------------------------------------------------------------- intents


def _longest(s: str, pos: int) -> tuple[Rule, re.Match[str], int] | None:
    """The rule whose match at pos is longest (ties: table order), with the match's end less trailing spaces."""
    best: tuple[Rule, re.Match[str], int] | None = None
    for rule in RULES:
        m = rule.pattern.match(s, pos)
        if m is None:
            continue
        end = _rstrip(s, m.end(), pos)
        if end > pos and (best is None or end > best[2]):
            best = (rule, m, end)
    return best


def _emit(rule: Rule, m: re.Match[str], end: int, norm: _Norm) -> list[Intent]:
    """The intents a match means, each carrying the original words; BadValue for a value out of range."""
    try:
        built = rule.build(m, norm.words)
    except Complaint as bad:
        span = m.span(bad.group) if bad.group and m.group(bad.group) is not None else (m.start(), end)
        start, stop, text = norm.part(*span)
        raise BadValue(start, stop, text, bad.message) from None
    start, stop, text = norm.part(m.start(), end)
    return [Intent(kind, args, text, start, stop) for kind, args in built]


def parse(instruction: str) -> list[Intent]:
    """The intents an instruction asks for, in the order said; NotUnderstood lists every part that means none."""
    norm = _normalise(instruction)
    s = norm.text
    intents: list[Intent] = []
    unknown: list[tuple[int, int, str]] = []
    pos, filler_from = 0, None
    while True:
        pos = _skip_space(s, pos)
        if filler_from is not None and _at_break(s, pos):
            unknown.append(norm.unknown(filler_from, pos))
            filler_from = None
        if pos >= len(s):
            break
        if sep := _SEP_CHAR.match(s, pos):
            pos = sep.end()
            continue
        if found := _longest(s, pos):
            rule, m, end = found
            intents.extend(_emit(rule, m, end, norm))
            pos, filler_from = end, None
            continue
        if skip := _SEP_WORD.match(s, pos) or _COURTESY.match(s, pos):
            pos = skip.end()
            continue
        if filler := _FILLER.match(s, pos):
            filler_from = pos if filler_from is None else filler_from
            pos = filler.end()
            continue
        end = _clause_end(s, pos)
        unknown.append(norm.unknown(pos if filler_from is None else filler_from, end))
        pos, filler_from = end, None
    if unknown:
        raise NotUnderstood(instruction, unknown)
    if not intents:
        lead = len(instruction) - len(instruction.lstrip())
        tail = len(instruction.rstrip())
        raise NotUnderstood(instruction, [(lead, tail, instruction[lead:tail])] if tail > lead else [(0, 0, "")])
    return intents
