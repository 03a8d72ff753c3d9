"""Builders: how the match of a phrase becomes intents (kind, args), and the words whose meaning they read.

Each rule of the phrase table (vocabulary.py) pairs a pattern with one of these builders. A builder reads its match
(the normalised instruction: NFKC, lower case) into (kind, args) pairs; when a value is out of range it raises
Complaint, naming the group that holds the value when there is one, and the scanner (scanner.py) reports it as
BadValue with the words' span in the original instruction. The word tables a builder reads (the things cut, the
looks, the export sizes and qualities, quoted text) live here, beside their readers; the phrase table takes its
words for them from here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .numerals import DUR_RE, alt, factor_of, fmt, percent_of, seconds_of

Args = dict[str, Any]
Built = list[tuple[str, Args]]
# What a builder is given besides its match: original(start, end), the words as typed for normalised [start, end)
# (a title keeps its case and width).
Original = Callable[[int, int], str]
Build = Callable[[re.Match[str], Original], Built]


class Complaint(Exception):
    """A builder's complaint about a value; the scanner turns it into BadValue with the original span."""

    def __init__(self, message: str, group: str | None = None) -> None:
        self.message, self.group = message, group
        super().__init__(message)


# ---------------------------------------------------------------------------------------------- values


def _check(value: float, low: float, high: float, message: str, group: str | None = None) -> float:
    """The value, or Complaint(message) when it is outside [low, high]."""
    if not low <= value <= high:
        raise Complaint(message, group)
    return value


def _percent(m: re.Match[str], what: str, high: float) -> float | None:
    """The percent the match says (group "pct"), within 0%–high; None when it says none."""
    said = m.groupdict().get("pct")
    if said is None:
        return None
    value = percent_of(said)
    return _check(value, 0, high, f"{what} {fmt(value)}% is out of range: use 0%–{fmt(high)}%", "pct")


def _duration(said: str | None, complaint: str, default: float = 0.0, group: str | None = None) -> float:
    """The seconds said (default when nothing is), or Complaint(complaint, its {} the seconds) when not more than 0s."""
    seconds = seconds_of(said) if said else default
    if seconds <= 0:
        raise Complaint(complaint.format(fmt(seconds)), group)
    return seconds


def _first_duration(text: str) -> str | None:
    """The words of the first duration in text, if any."""
    found = DUR_RE.search(text)
    return found.group() if found else None


# ---------------------------------------------------------------------------------------------- quoted text

QUOTE = (r"(?P<q>(?<![a-z0-9])'[^\n]*?'(?![a-z0-9])|\"[^\"\n]*\"|“[^”\n]*”|‘[^\n]*?’(?![a-z0-9])|"
         r"「[^」\n]*」|『[^』\n]*』|《[^》\n]*》|〈[^〉\n]*〉|«[^»\n]*»)")
QUOTE_RE = re.compile(QUOTE)
OPENERS = "'\"“‘「『《〈«"


def _without_quote(m: re.Match[str]) -> str:
    """The match's text with the quoted words blanked, so words inside a title never read as options."""
    text = m.group(0)
    if m.group("q") is None:
        return text
    a, b = m.start("q") - m.start(), m.end("q") - m.start()
    return text[:a] + " " * (b - a) + text[b:]


# ---------------------------------------------------------------------------------------------- builders


def fixed(kind: str, args: Args) -> Build:
    """A phrase that always means the same intent."""
    def build(m: re.Match[str], original: Original) -> Built:
        return [(kind, dict(args))]
    return build


CUT_THINGS: dict[str, str] = {
    "shaky": r"shaky|shaking|wobbly|jittery|unsteady|抖动|晃动|手抖|抖|晃|不稳定?",
    "black": r"blackness|black|blank|黑屏|黑场|黑帧|黑画面|黑色画面|全黑",
    "frozen": r"frozen|freezes|freeze|stills|still|stuck|卡顿|卡住|卡帧|静止画面|静止|定格|冻结|冻帧",
    "silence": r"silences|silence|silent|quiet|pauses|pause|dead[-\s]air|静音|无声|没有声音|没声音|停顿|沉默",
}
_THING_KIND = re.compile("|".join(f"(?P<{k}>(?<![a-z])(?:{v})(?![a-z]))" for k, v in CUT_THINGS.items()))


def cut(m: re.Match[str], original: Original) -> Built:
    """One cut per thing named, in the order named ("black and frozen parts" → black, frozen)."""
    seen: list[str] = []
    for t in _THING_KIND.finditer(m.group(0)):
        if t.lastgroup and t.lastgroup not in seen:
            seen.append(t.lastgroup)
    return [("cut", {"what": what}) for what in seen]


LOOKS_EN: dict[str, str] = {
    "teal-orange": r"teal[-\s]?(?:and[-\s]|&\s?|/|\+\s?)?orange|orange[-\s]?(?:and[-\s]|&\s?|/)?teal",
    "warm": r"warm(?:er|th)?",
    "cool": r"cool(?:er)?|cold(?:er)?",
    "vivid": r"vivid|vibrant|punchy",
    "muted": r"muted|desaturated|washed[-\s]out",
    "bw": r"black[-\s]?(?:and|&|n)[-\s]?white|b\s?&\s?w|b/w|bw|monochrome|gr[ae]yscale",
    "vintage": r"vintage|retro|old[-\s]school",
    "film": r"filmic|film|cinematic|movie[-\s]like",
    "neutral": r"neutral|natural",
}
LOOKS_ZH: dict[str, str] = {
    "teal-orange": r"青橙|橙青",
    "warm": r"暖色调|暖色系?|暖调|偏暖|温暖",
    "cool": r"冷色调|冷色系?|冷调|偏冷|清冷",
    "vivid": r"鲜艳|艳丽|高饱和度?",
    "muted": r"低饱和度?|淡雅|莫兰迪",
    "bw": r"黑白",
    "vintage": r"复古|怀旧|老电影",
    "film": r"电影感|电影风格?|电影色调|电影质感|电影效果|胶片感?",
    "neutral": r"中性|自然色调?",
}
LOOKS = {name: f"{LOOKS_EN[name]}|{LOOKS_ZH[name]}" for name in LOOKS_EN}


def _look_of(text: str) -> str:
    """The preset name a look's words mean."""
    for name, pattern in LOOKS.items():
        if re.fullmatch(f"(?:{pattern})", text.strip()):
            return name
    raise Complaint(f"no look called “{text}”")  # unreachable: the phrase table's looks are the words above


def grade(m: re.Match[str], original: Original) -> Built:
    """A named look, with an optional amount (0–100%)."""
    args: Args = {"look": _look_of(m.group("look"))}
    if (amount := _percent(m, "grade amount", 100)) is not None:
        args["amount"] = amount
    return [("grade", args)]


def stabilize(m: re.Match[str], original: Original) -> Built:
    """Stabilize, with an optional strength (0–100%)."""
    strength = _percent(m, "stabilize strength", 100)
    return [("stabilize", {} if strength is None else {"strength": strength})]


def _mode_of(m: re.Match[str]) -> str:
    """crop (the default), pad (bars, letterbox) or blur (a blurred copy behind)."""
    words = m.groupdict().get("mode") or ""
    if re.search(r"blur|模糊", words):
        return "blur"
    if re.search(r"bar|letterbox|pillarbox|pad|fit|黑边|黑框", words) or re.match(r"pad|letterbox", m.group(0)):
        return "pad"
    return "crop"


def reframe(num: int | None = None, den: int | None = None) -> Build:
    """A reframe to a fixed aspect (vertical = 9:16), or to the ratio said ("4:5")."""
    def build(m: re.Match[str], original: Original) -> Built:
        n, d = (num, den) if num is not None and den is not None else (int(m.group("num")), int(m.group("den")))
        if n <= 0 or d <= 0 or not 0.25 <= n / d <= 4:
            raise Complaint(f"aspect {n}:{d} is out of range: use a ratio between 1:4 and 4:1, e.g. 9:16")
        return [("reframe", {"num": n, "den": d, "mode": _mode_of(m)})]
    return build


_END_WORDS = re.compile(r"(?<![a-z])(?:closing|ending|end|outro|close)(?![a-z])|片尾|结尾|最后|末尾|结束")


def title(m: re.Match[str], original: Original) -> Built:
    """A title: the quoted words (as typed), for N seconds (default 3), at the start or the end."""
    if m.group("q") is None:
        if m.string[m.end():].lstrip()[:1] in tuple(OPENERS):
            raise Complaint("the title's quotes are not closed: end its words with the same kind of quote")
        raise Complaint("say the title's words in quotes, e.g. title 'Urban Dreams' for 3 seconds (标题「城市之梦」3秒)")
    words = original(m.start("q") + 1, m.end("q") - 1)
    if not words.strip():
        raise Complaint("the title is empty: put its words inside the quotes", "q")
    options = _without_quote(m)
    seconds = _duration(_first_duration(options), "a title needs more than 0s on screen, not {}s", default=3.0)
    return [("title", {"text": words.strip(), "seconds": seconds, "at": "end" if _END_WORDS.search(options) else "start"})]


def music_volume(m: re.Match[str], original: Original) -> Built:
    """The music bed's level, 0–400%."""
    return [("music", {"volume": _percent(m, "music volume", 400)})]


def music_fade(m: re.Match[str], original: Original) -> Built:
    """The music fades out over its last N seconds (default 2)."""
    seconds = _duration(_first_duration(m.group(0)), "a music fade of {}s is out of range: use more than 0s", default=2.0)
    return [("music", {"fade_out": seconds})]


def speed(direction: str | None = None) -> Build:
    """A speed factor; slowing down BY 2x means 0.5, a percent after "by" is relative ("speed up by 50%" = 1.5)."""
    def build(m: re.Match[str], original: Original) -> Built:
        g = m.groupdict()
        how = g.get("how") or ""
        way = direction or ("down" if re.search(r"slow|慢|减", how) else "up" if re.search(r"fast|quick|快|加速|提速", how) else None)
        said = g.get("f") or g.get("f2")
        group = "f" if g.get("f") else "f2" if g.get("f2") else None
        if g.get("half"):
            factor = 0.5
        elif said is None:
            factor = 2.0 if way == "up" else 0.5
        elif re.search(r"%|percent|per\s*cent|pct|百分之", said):
            share = percent_of(said) / 100
            relative = g.get("prep") != "to" and way is not None
            factor = (1 + share if way == "up" else 1 - share) if relative else share
        else:
            factor = factor_of(said)
            if way == "down" and factor > 1:
                factor = 1 / factor
            elif direction == "up" and said.strip() == "half":
                factor = 1.5
        factor = round(factor, 6)
        return [("speed", {"factor": _check(factor, 0.1, 10, f"speed {fmt(factor)}x is out of range: use 0.1x–10x", group)})]
    return build


def length(m: re.Match[str], original: Original) -> Built:
    """Keep the first N seconds."""
    return [("length", {"seconds": _duration(m.group("d"), "length {}s is out of range: it must be more than 0s", group="d")})]


def fade(m: re.Match[str], original: Original) -> Built:
    """Fade in and/or out, in the order said, over N seconds (default 1)."""
    def way(word: str) -> str:
        return "in" if re.match(r"in|from|up|淡入|渐入|渐显", word) else "out"

    dirs = [way(m.group("a"))]
    if m.group("b") and way(m.group("b")) not in dirs:
        dirs.append(way(m.group("b")))
    seconds = _duration(m.group("d") or m.group("d0"), "a fade of {}s is out of range: use more than 0s", default=1.0)
    return [("fade", {"dir": d, "seconds": seconds}) for d in dirs]


# Export sizes: the long edge, the name people know it by, the words that say it (English, then Chinese).
_SIZES: tuple[tuple[int, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (3840, "4K", ("4k", "uhd", r"ultra[-\s]?hd", "2160p?"), ("超高清", "超清")),
    (2560, "1440p", ("2k", "qhd", "1440p?"), ()),
    (1920, "1080p", ("1080p?", r"full[-\s]?hd", "fhd"), ("全高清", "高清")),
    (1280, "720p", ("720p?", "hd"), ()),
    (854, "480p", ("480p?", "sd"), ("标清",)),
)
SIZE_NAMES = {edge: name for edge, name, _, _ in _SIZES}


def _sizes(alone: bool) -> str:
    """Every size's words as one pattern (see SIZE and SIZE_ALONE)."""
    en = [w.replace("p?", "p") if alone else w for _, _, words, _ in _SIZES for w in words if not (alone and w == "sd")]
    return alt(*en, *(w for _, _, _, words in _SIZES for w in words)) + r"(?![a-z0-9])"


def _edge_of(words: str) -> int:
    """The long edge a size's words mean: "1080p" → 1920."""
    return next(edge for edge, _, en, zh in _SIZES if re.fullmatch("|".join((*en, *zh)), words))


_QWORDS = r"(?:highest|high|best|max(?:imum)?|top|premium|medium|normal|standard|default|balanced|draft|lowest|low|" \
          r"quick\s+preview|quick|fast|rough|preview)"
_QUAL_EN = rf"{_QWORDS}[-\s]quality(?![a-z])"
_QUAL_ZH = (r"最高画质|最高质量|最佳画质|最好画质|最佳质量|高画质|高质量|高品质|中等画质|中画质|标准画质|普通画质|标准质量|"
            r"草稿质量|草稿画质|预览质量|预览画质|低画质|低质量")
_DRAFT_EN = r"(?:(?:quick|rough)\s+)?(?:draft|preview)(?![a-z])"
_DRAFT_ZH = r"快速预览|草稿|预览"

# The words of an export size or quality, for the phrase table. Next to "export" (导出) any of them; said alone, only
# words that mean nothing else: a size with its "p" ("1080p", not "1080", and not "sd"), a quality that says so
# ("high quality", 高画质; not a bare "draft").
SIZE, SIZE_ALONE = _sizes(alone=False), _sizes(alone=True)
QUALITY_ALONE = rf"(?:{_QUAL_EN}|{_QUAL_ZH})"
QUALITY = rf"(?:{QUALITY_ALONE}|(?:(?:a|an)\s+)?{_DRAFT_EN}|{_DRAFT_ZH})"

_RES_FIND = re.compile(rf"(?<![a-z0-9]){SIZE}")
_QUAL_FIND = re.compile(rf"(?<![a-z]){_QUAL_EN}|{_QUAL_ZH}|{_DRAFT_ZH}|(?<![a-z]){_DRAFT_EN}")


def _quality_of(words: str) -> str:
    """high, medium or draft, from the words that said it."""
    if re.search(r"draft|low|quick|fast|rough|preview|草稿|预览|低", words):
        return "draft"
    if re.search(r"medium|normal|standard|default|balanced|中|标准|普通", words):
        return "medium"
    return "high"


def export(m: re.Match[str], original: Original) -> Built:
    """An export hint: a size (long edge in pixels) and/or a quality; both None for a plain "export"."""
    text = m.group(0)
    edges = {_edge_of(r.group()) for r in _RES_FIND.finditer(text)}
    qualities = {_quality_of(q.group()) for q in _QUAL_FIND.finditer(text)}
    if len(edges) > 1 or len(qualities) > 1:
        raise Complaint("say one size and one quality for the export, e.g. export in 4K, high quality")
    return [("export", {"long_edge": next(iter(edges), None), "quality": next(iter(qualities), None)})]
