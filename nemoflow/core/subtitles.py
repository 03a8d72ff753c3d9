"""SRT and WebVTT subtitle files read into timed cues, each with the file:line:column it came from.

Written here rather than taken from a library because the ones on PyPI (srt, webvtt-py, pysubs2) say *that* a file is
malformed, not *where*: a caption file is hand-edited as often as a recipe, and a bad timestamp must point at its
line and column like a recipe error does. In core so that both the checker (`nemoflow check` reports a malformed
file) and the Draft builder (which turns cues into caption segments) read files the same way.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import attrs

from ..errors import NemoflowError
from .diagnostics import Span

SUFFIXES = (".srt", ".vtt")
MAX_BYTES = 20_000_000  # a 3-hour film's subtitles are well under 1 MB; a bigger file is not subtitles
MAX_CUES = 50_000


class SubtitleError(NemoflowError):
    """A subtitle file that cannot be read, at `span` (the subtitle file's line and column)."""

    exit_code = 2

    def __init__(self, message: str, span: Span, help: str | None = None) -> None:
        super().__init__(f"{span}: {message}" + (f"; {help}" if help else ""))
        self.message = message
        self.span = span
        self.help = help


@attrs.frozen
class Cue:
    """One cue: its times in ms from the file's 0, its text (lines joined by \\n, tags removed), and where it stands."""

    start: int
    end: int
    text: str
    span: Span = attrs.field(eq=False)  # the cue's timing line


@attrs.frozen
class TimedLine:
    """One line of an inline `captions [[0s, 2s, "Hello"], …]` list, as checked (ms from the list's 0)."""

    start: int
    end: int
    text: str


@attrs.frozen
class InlineCaptions:
    """A `captions` clause's inline list: what the edit's Op holds instead of a file's path (its key is the lines)."""

    lines: tuple[TimedLine, ...]


@attrs.frozen
class Subtitles:
    cues: tuple[Cue, ...]
    file: str  # the name spans carry
    text: str = attrs.field(default="", repr=False, eq=False)  # for quoting lines in diagnostics


# `00:00:01,000` (SRT) or `00:01.000` / `00:00:01.000` (WebVTT); SRT files in the wild also use `.`, and some writers
# drop digits of the fraction: read 1 to 3 digits as the fraction of a second they say
_TIME = re.compile(r"(?:(\d+):)?(\d+):(\d+)(?:[,.](\d+))?$")
_ARROW = re.compile(r"\s*-->\s*")
# SRT: the HTML-like tags players honour (<i>, <font color=…>) and ASS overrides ({\an8}); other `<…>` is text.
# WebVTT: every tag (<c.red>, <v Roger>, <00:01.500>); a literal `<` is written `&lt;` there.
_SRT_TAG = re.compile(r"</?(?:i|b|u|s|font)(?:\s[^>]*)?>|\{\\[^}]*\}", re.IGNORECASE)
_VTT_TAG = re.compile(r"<[^>\n]*>")


def read_subtitles(path: Path, shown: str) -> Subtitles:
    """Read an .srt or .vtt file (by its suffix); `shown` is the name spans carry. SubtitleError says what and where."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SubtitleError(f"{shown} is {size:,} bytes; a subtitle file is at most {MAX_BYTES:,}",
                                Span.point(shown, 1, 1))
        data = path.read_bytes()
    except OSError as err:
        raise SubtitleError(f"cannot read {shown}: {err.strerror or err}", Span.point(shown, 1, 1)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise SubtitleError(f"{shown} is not UTF-8 text (byte 0x{data[err.start]:02x})", Span.point(shown, line, column),
                            help="save it as UTF-8") from None
    return parse_subtitles(text, shown, vtt=path.suffix.lower() == ".vtt")


def parse_subtitles(text: str, shown: str, *, vtt: bool) -> Subtitles:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues = _vtt(lines, shown) if vtt else _srt(lines, shown)
    return Subtitles(tuple(cues), shown, text)


def _blocks(lines: list[str], first: int = 0) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines: (0-based index of the first line, the lines)."""
    out: list[tuple[int, list[str]]] = []
    cur: list[str] = []
    start = first
    for i in range(first, len(lines)):
        if lines[i].strip():
            if not cur:
                start = i
            cur.append(lines[i])
        elif cur:
            out.append((start, cur))
            cur = []
    if cur:
        out.append((start, cur))
    return out


def _srt(lines: list[str], shown: str) -> list[Cue]:
    cues = []
    for start, block in _blocks(lines):
        at = 0
        if "-->" not in block[0]:
            if not block[0].strip().isdigit():
                raise SubtitleError(f"expected a cue number or a timing line `00:00:01,000 --> 00:00:02,500`, got "
                                    f"`{_short(block[0])}`", _span(shown, start, block[0]),
                                    help="each SRT cue is a number, a timing line, then its text, and a blank line")
            at = 1
            if len(block) == 1 or "-->" not in block[1]:
                line = start + 1 if len(block) > 1 else start
                got = f"`{_short(block[1])}`" if len(block) > 1 else "nothing"
                raise SubtitleError(f"cue {block[0].strip()} needs a timing line `00:00:01,000 --> 00:00:02,500`, got {got}",
                                    _span(shown, line, lines[line]))
        cues.append(_cue(shown, start + at, block[at], block[at + 1:], vtt=False))
        _limit(cues, shown, start)
    return cues


def _vtt(lines: list[str], shown: str) -> list[Cue]:
    head = lines[0] if lines else ""
    if not (head == "WEBVTT" or head.startswith(("WEBVTT ", "WEBVTT\t"))):
        raise SubtitleError(f"a WebVTT file starts with `WEBVTT`, got `{_short(head)}`", Span.point(shown, 1, 1),
                            help="write `WEBVTT` on the first line (or name the file .srt if it is SubRip)")
    cues = []
    blocks = _blocks(lines, 1)
    if blocks and blocks[0][0] == 1:  # header lines right under WEBVTT (old metadata) belong to the header
        blocks = blocks[1:]
    for start, block in blocks:
        first = block[0]
        if first.startswith(("NOTE", "STYLE", "REGION")) and (len(first) == len(first.split()[0]) or first[len(first.split()[0])] in " \t"):
            if "-->" in first:
                raise SubtitleError("a NOTE, STYLE or REGION block may not hold `-->`", _span(shown, start, first))
            continue
        at = 0 if "-->" in first else 1
        if at == 1 and (len(block) == 1 or "-->" not in block[1]):
            line = start + 1 if len(block) > 1 else start
            raise SubtitleError(f"expected a timing line `00:01.000 --> 00:02.500` after the cue id `{_short(first)}`",
                                _span(shown, line, lines[line]))
        cues.append(_cue(shown, start + at, block[at], block[at + 1:], vtt=True))
        _limit(cues, shown, start)
    return cues


def _limit(cues: list[Cue], shown: str, index: int) -> None:
    if len(cues) > MAX_CUES:
        raise SubtitleError(f"{shown} has more than {MAX_CUES:,} cues", Span.point(shown, index + 1, 1))


def _cue(shown: str, index: int, timing: str, body: list[str], *, vtt: bool) -> Cue:
    """A cue from its timing line (0-based `index`) and its text lines."""
    parts = _ARROW.split(timing.strip(), maxsplit=1)
    lead = len(timing) - len(timing.lstrip())
    left = parts[0]
    right_all = parts[1] if len(parts) > 1 else ""
    right = right_all.split()[0] if right_all.split() else ""  # after it: WebVTT cue settings, SRT X1:… Y1:… (not used)
    start = _time(shown, index, lead + 1, left)
    right_col = timing.find(right, lead + len(left)) + 1 if right else len(timing) + 1
    if not right:
        raise SubtitleError("the timing line has no end time after `-->`", Span.point(shown, index + 1, len(timing.rstrip()) + 1),
                            help="write e.g. `00:00:01,000 --> 00:00:02,500`")
    end = _time(shown, index, right_col, right)
    if end <= start:
        raise SubtitleError(f"the cue ends ({right}) before it starts ({left})" if end < start else
                            f"the cue ends when it starts ({left}): it would never show",
                            Span(shown, index + 1, right_col, index + 1, right_col + len(right)),
                            help="the end time comes after the start time")
    words = [_clean(line, vtt) for line in body]
    text = "\n".join(w for w in words if w)
    if not text:
        raise SubtitleError("the cue has no text", _span(shown, index, timing),
                            help="put its text on the lines under the timing line, or remove the cue")
    return Cue(start, end, text, _span(shown, index, timing))


def _time(shown: str, index: int, column: int, text: str) -> int:
    """A timestamp in ms; a malformed one is an error at its column."""
    m = _TIME.match(text)
    bad = m is None or int(m.group(3)) >= 60 or (m.group(1) is not None and int(m.group(2)) >= 60) \
        or (m.group(4) is not None and len(m.group(4)) > 3)
    if bad:
        raise SubtitleError(f"bad timestamp `{_short(text)}`", Span(shown, index + 1, column, index + 1, column + max(len(text), 1)),
                            help="write hours:minutes:seconds,milliseconds like `00:01:02,500` (WebVTT: `00:01:02.500` "
                                 "or `01:02.500`)")
    hours = int(m.group(1) or 0)
    frac = m.group(4) or "0"
    return ((hours * 60 + int(m.group(2))) * 60 + int(m.group(3))) * 1000 + int(frac.ljust(3, "0"))


def _clean(line: str, vtt: bool) -> str:
    """A text line as it shows: formatting tags removed (the caption's style is the recipe's), entities decoded."""
    if vtt:
        return html.unescape(_VTT_TAG.sub("", line)).strip()
    return _SRT_TAG.sub("", line).strip()


def _span(shown: str, index: int, line: str) -> Span:
    lead = len(line) - len(line.lstrip())
    return Span(shown, index + 1, lead + 1, index + 1, max(len(line.rstrip()), lead) + 1)


def _short(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
