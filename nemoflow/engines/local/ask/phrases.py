"""Words → intents: a deterministic interpreter for plain-language edit instructions, in English and Chinese.

The instruction is normalised (NFKC, lower case) one character at a time, keeping where each normalised
character came from, so every span reported (Intent.text/start/end, NotUnderstood parts, BadValue) points
into the ORIGINAL string. It is then scanned left to right: at each position every rule of RULES is tried
anchored there, and the longest match wins (a tie goes to the earlier rule). Between intents, separators
(punctuation, "and", "then", 然后 …), courtesy ("please", 请 …) and a short explicit list of filler words
("the", "just", 把 …) are skipped; anything else, up to the next separator, is an unknown part, and every
unknown part is reported at once (NotUnderstood). A value out of range stops the parse at once (BadValue).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import attrs

from .intents import Intent, NotUnderstood

Args = dict[str, Any]
Built = list[tuple[str, Args]]


class BadValue(ValueError):
    """A recognised phrase with a value out of range; start/end/text locate it in the original instruction."""

    def __init__(self, start: int, end: int, text: str, message: str) -> None:
        self.start, self.end, self.text, self.message = start, end, text, message
        super().__init__(message)


class _Bad(Exception):
    """A builder's complaint about a value; the scanner turns it into BadValue with the original span."""

    def __init__(self, message: str, group: str | None = None) -> None:
        self.message, self.group = message, group
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


def _alt(*parts: str) -> str:
    """A non-capturing alternation, tried in the order given."""
    return "(?:" + "|".join(parts) + ")"


# ---------------------------------------------------------------------------------------------- numbers and units

_EN_NUMS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen".split())} | {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
                                    "eighty": 80, "ninety": 90}
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}

_NUM_D = r"(?:\d+(?:\.\d+)?|\.\d+)"
_NUM_ZH = r"(?:[零〇一二两三四五六七八九十百千]+(?:点[零〇一二三四五六七八九]+)?)"
_NUM_EN = (_alt(*(w for w, v in _EN_NUMS.items() if v >= 20)) + r"(?:[-\s]" + _alt(*(w for w, v in _EN_NUMS.items() if 1 <= v <= 9))
           + r"(?![a-z]))?(?![a-z])|" + _alt(*sorted((w for w, v in _EN_NUMS.items() if v < 20), key=len, reverse=True)) + r"(?![a-z])")
NUM = f"(?:{_NUM_D}|{_NUM_ZH}|{_NUM_EN})"

_U_MS = r"(?:milliseconds?|millisecs?|msecs?|ms|毫秒)(?![a-z])"
_U_S = r"(?:seconds?|secs?|s|秒钟?)(?![a-z])"
_U_M = r"(?:minutes?|mins?|m|分钟?)(?![a-z])"
_GAP = r"\s*-?\s*"
DUR = _alt(
    r"\d+:[0-5]\d(?:\.\d+)?",
    r"半分钟?|半秒钟?",
    rf"{NUM}{_GAP}{_U_M}(?:\s*(?:and\s+)?{NUM}{_GAP}{_U_S}|半钟?)?",
    rf"{NUM}{_GAP}{_U_MS}",
    rf"{NUM}{_GAP}{_U_S}",
)
PCT = rf"(?:{NUM}\s*(?:%|percent|per\s*cent|pct)(?![a-z])|百分之{NUM})"
FACTOR = rf"(?:{NUM}\s*(?:x|×|times|倍)(?![a-z])|[x×]\s*{NUM}|twice|double|half)(?![a-z])"

_NUM_RE = re.compile(NUM)
_DUR_RE = re.compile(DUR)
_DUR_PART = re.compile(rf"(?P<n>{NUM}|半){_GAP}(?P<u>{_U_MS}|{_U_M}|{_U_S})")


def _zh_int(text: str) -> int:
    """Chinese numerals: 十五 = 15, 三十 = 30, 一百零五 = 105; digits alone read positionally (一五 = 15)."""
    if not any(c in _ZH_UNITS for c in text):
        return int("".join(str(_ZH_DIGITS[c]) for c in text))
    total = current = 0
    for c in text:
        if c in _ZH_UNITS:
            total += (current or 1) * _ZH_UNITS[c]
            current = 0
        else:
            current = _ZH_DIGITS[c]
    return total + current


def _num(text: str) -> float:
    """One number as matched by NUM: "1.5", "三十", "两点五", "twenty-five"."""
    t = text.strip()
    if re.fullmatch(_NUM_D, t):
        return float(t)
    if t[0] in _ZH_DIGITS or t[0] in _ZH_UNITS:
        whole, _, frac = t.partition("点")
        value = float(_zh_int(whole))
        return value + float("0." + "".join(str(_ZH_DIGITS[c]) for c in frac)) if frac else value
    return float(sum(_EN_NUMS[w] for w in re.split(r"[-\s]+", t)))


def _first_num(text: str) -> float:
    """The first number in a matched fragment (a factor, a percent)."""
    found = _NUM_RE.search(text)
    assert found is not None, text  # the fragment's pattern contains NUM
    return _num(found.group())


def _seconds(text: str) -> float:
    """A duration as matched by DUR: "1:30", "1m30s", "500ms", "一分半", "半分钟", "30-second"."""
    t = text.strip()
    if clock := re.fullmatch(r"(\d+):(\d+(?:\.\d+)?)", t):
        return int(clock[1]) * 60 + float(clock[2])
    total = 0.0
    for p in _DUR_PART.finditer(t):
        n = 0.5 if p["n"] == "半" else _num(p["n"])
        unit = p["u"]
        total += n * (0.001 if unit.startswith(("ms", "msec", "milli", "毫")) else 60 if unit.startswith(("m", "分")) else 1)
    if re.search(r"\S分钟?半", t):
        total += 30
    return total


def _percent(text: str) -> float:
    """A percent as matched by PCT: "35%", "35 percent", "百分之三十五"."""
    return _num(text.split("百分之", 1)[1]) if "百分之" in text else _first_num(text)


def _factor(text: str) -> float:
    """A factor as matched by FACTOR: "2x", "×2", "2 times", "2倍", "twice", "double", "half"."""
    if re.search(r"twice|double", text):
        return 2.0
    if "half" in text:
        return 0.5
    return _first_num(text)


def _fmt(value: float) -> str:
    """A number as people write it: 2 not 2.0."""
    return f"{value:g}"


def _check(value: float, low: float, high: float, message: str, group: str | None = None) -> float:
    """The value, or _Bad(message) when it is outside [low, high]."""
    if not low <= value <= high:
        raise _Bad(message, group)
    return value


# ---------------------------------------------------------------------------------------------- quoted text

QUOTE = (r"(?P<q>(?<![a-z0-9])'[^\n]*?'(?![a-z0-9])|\"[^\"\n]*\"|“[^”\n]*”|‘[^\n]*?’(?![a-z0-9])|"
         r"「[^」\n]*」|『[^』\n]*』|《[^》\n]*》|〈[^〉\n]*〉|«[^»\n]*»)")
_QUOTE_RE = re.compile(QUOTE)
_OPENERS = "'\"“‘「『《〈«"


def _without_quote(m: re.Match[str]) -> str:
    """The match's text with the quoted words blanked, so words inside a title never read as options."""
    text = m.group(0)
    if m.group("q") is None:
        return text
    a, b = m.start("q") - m.start(), m.end("q") - m.start()
    return text[:a] + " " * (b - a) + text[b:]


# ---------------------------------------------------------------------------------------------- builders


def _fixed(kind: str, args: Args) -> Callable[[re.Match[str], _Norm], Built]:
    """A phrase that always means the same intent."""
    def build(m: re.Match[str], norm: _Norm) -> Built:
        return [(kind, dict(args))]
    return build


_CUT_THINGS: dict[str, str] = {
    "shaky": r"shaky|shaking|wobbly|jittery|unsteady|抖动|晃动|手抖|抖|晃|不稳定?",
    "black": r"blackness|black|blank|黑屏|黑场|黑帧|黑画面|黑色画面|全黑",
    "frozen": r"frozen|freezes|freeze|stills|still|stuck|卡顿|卡住|卡帧|静止画面|静止|定格|冻结|冻帧",
    "silence": r"silences|silence|silent|quiet|pauses|pause|dead[-\s]air|静音|无声|没有声音|没声音|停顿|沉默",
}
_THING_KIND = re.compile("|".join(f"(?P<{k}>(?<![a-z])(?:{v})(?![a-z]))" for k, v in _CUT_THINGS.items()))


def _cut(m: re.Match[str], norm: _Norm) -> Built:
    """One cut per thing named, in the order named ("black and frozen parts" → black, frozen)."""
    seen: list[str] = []
    for t in _THING_KIND.finditer(m.group(0)):
        if t.lastgroup and t.lastgroup not in seen:
            seen.append(t.lastgroup)
    return [("cut", {"what": what}) for what in seen]


_LOOKS_EN: dict[str, str] = {
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
_LOOKS_ZH: dict[str, str] = {
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
_LOOKS = {name: f"{_LOOKS_EN[name]}|{_LOOKS_ZH[name]}" for name in _LOOKS_EN}
# Looks that mean a grade on their own ("vintage", "黑白"); "warm" or "cool" alone need "look", "tones", "grade it" …
_SOLO_LOOKS = "|".join((_LOOKS_EN["teal-orange"], _LOOKS_EN["bw"], _LOOKS_EN["vintage"], r"warmer|cooler|vivid|vibrant|filmic|cinematic",
                        *_LOOKS_ZH.values()))


def _look_of(text: str) -> str:
    """The preset name a look's words mean."""
    for name, pattern in _LOOKS.items():
        if re.fullmatch(f"(?:{pattern})", text.strip()):
            return name
    raise _Bad(f"no look called “{text}”")  # unreachable: LOOK only matches the words above


def _grade(m: re.Match[str], norm: _Norm) -> Built:
    """A named look, with an optional amount (0–100%)."""
    args: Args = {"look": _look_of(m.group("look"))}
    if m.group("pct") is not None:
        amount = _percent(m.group("pct"))
        args["amount"] = _check(amount, 0, 100, f"grade amount {_fmt(amount)}% is out of range: use 0%–100%", "pct")
    return [("grade", args)]


def _stabilize(m: re.Match[str], norm: _Norm) -> Built:
    """Stabilize, with an optional strength (0–100%)."""
    args: Args = {}
    if m.groupdict().get("pct") is not None:
        strength = _percent(m.group("pct"))
        args["strength"] = _check(strength, 0, 100, f"stabilize strength {_fmt(strength)}% is out of range: use 0%–100%", "pct")
    return [("stabilize", args)]


def _mode_of(m: re.Match[str]) -> str:
    """crop (the default), pad (bars, letterbox) or blur (a blurred copy behind)."""
    words = m.groupdict().get("mode") or ""
    if re.search(r"blur|模糊", words):
        return "blur"
    if re.search(r"bar|letterbox|pillarbox|pad|fit|黑边|黑框", words) or re.match(r"pad|letterbox", m.group(0)):
        return "pad"
    return "crop"


def _reframe(num: int | None = None, den: int | None = None) -> Callable[[re.Match[str], _Norm], Built]:
    """A reframe to a fixed aspect (vertical = 9:16), or to the ratio said ("4:5")."""
    def build(m: re.Match[str], norm: _Norm) -> Built:
        n, d = (num, den) if num is not None and den is not None else (int(m.group("num")), int(m.group("den")))
        if n <= 0 or d <= 0 or not 0.25 <= n / d <= 4:
            raise _Bad(f"aspect {n}:{d} is out of range: use a ratio between 1:4 and 4:1, e.g. 9:16")
        return [("reframe", {"num": n, "den": d, "mode": _mode_of(m)})]
    return build


_END_WORDS = re.compile(r"(?<![a-z])(?:closing|ending|end|outro|close)(?![a-z])|片尾|结尾|最后|末尾|结束")


def _title(m: re.Match[str], norm: _Norm) -> Built:
    """A title: the quoted words (as typed), for N seconds (default 3), at the start or the end."""
    if m.group("q") is None:
        if m.string[m.end():].lstrip()[:1] in tuple(_OPENERS):
            raise _Bad("the title's quotes are not closed: end its words with the same kind of quote")
        raise _Bad("say the title's words in quotes, e.g. title 'Urban Dreams' for 3 seconds (标题「城市之梦」3秒)")
    _, _, words = norm.part(m.start("q") + 1, m.end("q") - 1)
    if not words.strip():
        raise _Bad("the title is empty: put its words inside the quotes", "q")
    options = _without_quote(m)
    dur = _DUR_RE.search(options)
    seconds = _seconds(dur.group()) if dur else 3.0
    if seconds <= 0:
        raise _Bad(f"a title needs more than 0s on screen, not {_fmt(seconds)}s")
    return [("title", {"text": words.strip(), "seconds": seconds, "at": "end" if _END_WORDS.search(options) else "start"})]


def _music_volume(m: re.Match[str], norm: _Norm) -> Built:
    """The music bed's level, 0–400%."""
    volume = _percent(m.group("pct"))
    return [("music", {"volume": _check(volume, 0, 400, f"music volume {_fmt(volume)}% is out of range: use 0%–400%", "pct")})]


def _music_fade(m: re.Match[str], norm: _Norm) -> Built:
    """The music fades out over its last N seconds (default 2)."""
    dur = _DUR_RE.search(m.group(0))
    seconds = _seconds(dur.group()) if dur else 2.0
    if seconds <= 0:
        raise _Bad(f"a music fade of {_fmt(seconds)}s is out of range: use more than 0s")
    return [("music", {"fade_out": seconds})]


def _speed(direction: str | None = None) -> Callable[[re.Match[str], _Norm], Built]:
    """A speed factor; slowing down BY 2x means 0.5, a percent after "by" is relative ("speed up by 50%" = 1.5)."""
    def build(m: re.Match[str], norm: _Norm) -> Built:
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
            share = _percent(said) / 100
            relative = g.get("prep") != "to" and way is not None
            factor = (1 + share if way == "up" else 1 - share) if relative else share
        else:
            factor = _factor(said)
            if way == "down" and factor > 1:
                factor = 1 / factor
            elif direction == "up" and said.strip() == "half":
                factor = 1.5
        factor = round(factor, 6)
        return [("speed", {"factor": _check(factor, 0.1, 10, f"speed {_fmt(factor)}x is out of range: use 0.1x–10x", group)})]
    return build


def _length(m: re.Match[str], norm: _Norm) -> Built:
    """Keep the first N seconds."""
    seconds = _seconds(m.group("d"))
    if seconds <= 0:
        raise _Bad(f"length {_fmt(seconds)}s is out of range: it must be more than 0s", "d")
    return [("length", {"seconds": seconds})]


def _fade(m: re.Match[str], norm: _Norm) -> Built:
    """Fade in and/or out, in the order said, over N seconds (default 1)."""
    def way(word: str) -> str:
        return "in" if re.match(r"in|from|up|淡入|渐入|渐显", word) else "out"

    dirs = [way(m.group("a"))]
    if m.group("b") and way(m.group("b")) not in dirs:
        dirs.append(way(m.group("b")))
    said = m.group("d") or m.group("d0")
    seconds = _seconds(said) if said else 1.0
    if seconds <= 0:
        raise _Bad(f"a fade of {_fmt(seconds)}s is out of range: use more than 0s")
    return [("fade", {"dir": d, "seconds": seconds}) for d in dirs]


_RES_EDGES: tuple[tuple[int, str, str], ...] = (
    (3840, "4K", r"4k|uhd|ultra[-\s]?hd|2160p?|超高清|超清"),
    (2560, "1440p", r"2k|qhd|1440p?"),
    (1920, "1080p", r"1080p?|full[-\s]?hd|fhd|全高清|高清"),
    (1280, "720p", r"720p?|hd"),
    (854, "480p", r"480p?|sd|标清"),
)
_RES_FIND = re.compile(r"(?<![a-z0-9])(?:4k|uhd|ultra[-\s]?hd|2160p?|2k|qhd|1440p?|1080p?|full[-\s]?hd|fhd|720p?|hd|480p?|sd|"
                       r"超高清|超清|全高清|高清|标清)(?![a-z0-9])")
_QWORDS = r"(?:highest|high|best|max(?:imum)?|top|premium|medium|normal|standard|default|balanced|draft|lowest|low|" \
          r"quick\s+preview|quick|fast|rough|preview)"
_QUAL_ZH = (r"最高画质|最高质量|最佳画质|最好画质|最佳质量|高画质|高质量|高品质|中等画质|中画质|标准画质|普通画质|标准质量|"
            r"草稿质量|草稿画质|预览质量|预览画质|低画质|低质量")
_QUAL_FIND = re.compile(rf"(?<![a-z]){_QWORDS}[-\s]quality(?![a-z])|{_QUAL_ZH}|快速预览|草稿|预览|"
                        r"(?<![a-z])(?:(?:quick|rough)\s+)?(?:draft|preview)(?![a-z])")


def _quality_of(words: str) -> str:
    """high, medium or draft, from the words that said it."""
    if re.search(r"draft|low|quick|fast|rough|preview|草稿|预览|低", words):
        return "draft"
    if re.search(r"medium|normal|standard|default|balanced|中|标准|普通", words):
        return "medium"
    return "high"


def _export(m: re.Match[str], norm: _Norm) -> Built:
    """An export hint: a size (long edge in pixels) and/or a quality; both None for a plain "export"."""
    text = m.group(0)
    edges = {next(edge for edge, _, p in _RES_EDGES if re.fullmatch(p, r.group())) for r in _RES_FIND.finditer(text)}
    qualities = {_quality_of(q.group()) for q in _QUAL_FIND.finditer(text)}
    if len(edges) > 1 or len(qualities) > 1:
        raise _Bad("say one size and one quality for the export, e.g. export in 4K, high quality")
    return [("export", {"long_edge": next(iter(edges), None), "quality": next(iter(qualities), None)})]


# ---------------------------------------------------------------------------------------------- the phrase table

_DET = r"(?:(?:the|any|all(?:\s+the)?|those|these|every)\s+)?"
_THING = "(?:" + "|".join(_CUT_THINGS.values()) + r")(?![a-z])"
_PARTS = (r"(?:\s+(?:clips?|parts?|sections?|segments?|bits?|footage|shots?|frames?|spans?|moments?|scenes?|portions?|screens?|"
          r"stretches|periods?|pieces?|spots?)(?![a-z])(?:\s+(?:of|in|from)\s+(?:the\s+)?(?:video|footage|clips?|audio))?"
          r"|\s*(?:的)?(?:片段|镜头|部分|画面|地方|帧|段落|段|内容))")
_THING_P = rf"{_THING}{_PARTS}?"
_JOIN = rf"(?:\s*[,/&+、]\s*(?:(?:and|or)\s+)?|\s+(?:and|or|plus|as\s+well\s+as)\s+|\s*(?:和|或者?|与|跟|以及|及)\s*){_DET}"
_CUT_WHERE = (r"(?:\s+(?:at|from|in)\s+(?:the\s+)?(?:very\s+)?(?:start|beginning|end|ends|edges)(?:\s+(?:and|&|or)\s+(?:the\s+)?"
              r"(?:start|beginning|end))?(?:\s+of\s+(?:the\s+|each\s+)?(?:video|clips?|footage))?)?")
_CUT_EN = (rf"(?:trim|cut|remove|drop|delete|skip|strip|lose|ditch|get\s+rid\s+of|take\s+out|clean\s+up|edit\s+out)"
           rf"(?:\s+(?:out|away|off))?\s+{_DET}{_THING_P}(?:{_JOIN}{_THING_P})*{_CUT_WHERE}")
_CUT_ZH = (rf"(?:剪掉|剪去|剪除|去掉|去除|删掉|删除|删去|移除|切掉|裁掉|拿掉|不要|清除|干掉|过滤掉?)\s*"
           rf"(?:(?:开头和结尾|开头|结尾|首尾|前后|两头)(?:的)?)?\s*(?:所有|全部)?(?:的)?\s*{_THING_P}(?:{_JOIN}{_THING_P})*")

_AUTO_GRADE = (
    r"(?:auto(?:matic(?:ally)?)?[-\s]?)?colou?r[-\s]?(?:grade|grading|correct(?:ion|ed)?|balance|fix)"
    r"(?:\s+(?:it|everything|the\s+(?:video|footage|clips?|shots?)))?",
    r"(?:auto(?:matically)?[-\s]?)?(?:grade|correct|fix|balance|adjust)\s+(?:the\s+|its\s+)?colou?rs?",
    r"auto[-\s]?(?:colou?r|grade)",
    r"grade(?:\s+(?:it|everything|the\s+(?:video|footage|clips?|shots?)))?",
    r"(?:自动)?(?:调色|校色|调颜色|调整颜色|调一下(?:颜色|色彩|色)|调调颜色|调个色|色彩校正|颜色校正|校正颜色|修正颜色|调色彩|调整色彩|修色)",
)
_LOOK_ALL = "(?:" + "|".join(_LOOKS.values()) + r")(?![a-z])"
_LOOK_PREFIX = (r"(?:(?:(?:colou?r[-\s]?)?grade|colou?r|make|turn|give|apply|add|use|go\s+for|style|do)"
                r"(?:\s+(?:it|this|everything|the\s+(?:video|footage|clips?|shots?|colou?rs?|look)))?"
                r"(?:\s+(?:to|as|with|in|using|into|a|an|the|some|more|look|slightly)){0,2}\s+"
                r"|(?:调色(?:成|为|用)?|(?:调|改|变|换|做|弄|处理)(?:成|为)|用|来个|来点|加个|加上|加点|加)\s*)")
_LOOK_SUFFIX = (r"(?:[-\s]?(?:look|style|grade|preset|tones?|filter|vibe|feel|colou?rs?|grading)(?![a-z])"
                r"|\s*(?:的)?(?:色调|风格|风|滤镜|效果|调色|感觉?|色系|画面))")
_LOOK_IN = r"(?:(?:it\s+)?in\s+(?:an?\s+)?|it\s+)?"  # "(I'd like) it in black and white", "in a vintage style"
_LOOK_AMOUNT = rf"(?:\s*,?\s*(?:(?:at|with)\s+)?(?P<pct>{PCT})(?:\s+(?:strength|intensity|amount))?)?"

_OBJ = r"(?:\s+(?:it|this|everything|the\s+(?:whole\s+)?(?:video|footage|clips?|shots?|camera|image|picture)))?"
_STRENGTH = rf"(?:\s*,?\s*(?:(?:at|with|by|to)\s+)?(?P<pct>{PCT})(?:\s+(?:strength|intensity))?)?"

_MODE = (r"(?:\s*,?\s*(?:(?:with|using|and|plus|in|via|by)\s+)?(?:(?:a|an|the)\s+)?(?:加上?|用|带|配|留)?\s*"
         r"(?P<mode>blurr?(?:ed|y)?(?:\s+(?:background|backdrop|bg|sides|edges|bars))?|background\s+blur|black\s+bars|"
         r"letterbox(?:ing|ed)?|pillarbox(?:ing|ed)?|bars|padding|padded|pad|fit|crop(?:ping|ped)?|"
         r"模糊背景|背景模糊|模糊|黑边|黑框|裁切|裁剪)(?![a-z]))?")
_RVERB = (r"(?:(?:make|turn|change|convert|switch|reframe|crop|format|put|set|resize|pad|letterbox)"
          r"(?:\s+(?:it|this|everything|the\s+(?:video|footage|clips?|frame)))?(?:\s+(?:to|into|as|for|in))?(?:\s+(?:an?|the))?\s+"
          r"|it\s+|(?:改成|变成|转成|转为|做成|调成|裁成|切成|剪成|设为|设置为|设成|换成|弄成|改为|转换成|转换为|裁剪成|裁剪为)\s*)?")

_QUOTE_TITLE_OPTS = _alt(
    rf"(?:(?:for|lasting|over|during|(?:on\s+screen|shown|displayed|visible)\s+for|持续|显示|停留|时长|共|长)\s*)?{DUR}(?:\s+long)?",
    r"(?:at|in|on)\s+(?:the\s+)?(?:very\s+)?(?:start|beginning|opening|end|ending|close)(?:\s+of\s+(?:the\s+)?(?:video|clip|film|edit|it))?",
    r"as\s+(?:an?\s+|the\s+)?(?:intro|outro|opening|ending|closing)(?:\s+title)?",
    r"在?(?:片头|开头|开场|最前面?|片尾|结尾|最后|末尾)(?:显示|出现|放)?",
)
_TOPTS = rf"(?:\s*,?\s*{_QUOTE_TITLE_OPTS})*"
_TITLE_WHERE = r"(?:(?:opening|closing|ending|end|intro|outro|start|main|big)\s+)?"

_MUSIC = r"(?:(?:the|its|my)\s+)?(?:background\s+|bg\s+)?(?:music|soundtrack|bgm|song)(?:'s)?(?![a-z])"
_MUSIC_ZH = r"(?:背景音乐|背景乐|配乐|音乐|bgm)"
_TDUR = rf"(?:\s+(?:(?:over|in|across|for|during|of)\s+)?(?:the\s+last\s+)?(?P<d>{DUR}))?"

_SOUND = (r"(?:(?:the|its|their)\s+)?(?:(?:original|source|camera|clips'?|clip's|video's|natural|own|recorded|live|ambient|"
          r"in-camera|on-camera)\s+){0,3}(?:sound|audio)(?:\s+track)?(?![a-z])")
_CLIPS = r"(?:it|everything|all(?:\s+the)?\s+clips|the\s+(?:clips?|video|footage))(?![a-z])"

_SOBJ = r"(?:\s+(?:it|this|everything|the\s+(?:whole\s+)?(?:video|clips?|footage|thing|playback)))?"
_SVAL = rf"(?:\s+(?P<prep>by|to)\s+(?P<f>{PCT}|{FACTOR}|{NUM})|\s*(?P<f2>{PCT}|{FACTOR}))?"

_LEN_TAIL = r"(?:\s+(?:long|total|max(?:imum)?|or\s+less|in\s+length))?"

_RES_V = (r"(?:4k|uhd|ultra[-\s]?hd|2160p?|2k|qhd|1440p?|1080p?|full[-\s]?hd|fhd|720p?|hd|480p?|sd|超高清|超清|全高清|高清|标清)"
          r"(?![a-z0-9])")
_RES_S = (r"(?:4k|uhd|ultra[-\s]?hd|2160p|2k|qhd|1440p|1080p|full[-\s]?hd|fhd|720p|hd|480p|超高清|超清|全高清|高清|标清)"
          r"(?![a-z0-9])")
_QUAL_S = rf"(?:{_QWORDS}[-\s]quality(?![a-z])|{_QUAL_ZH})"
_QUAL_V = rf"(?:{_QUAL_S}|(?:(?:a|an)\s+)?(?:(?:quick|rough)\s+)?(?:draft|preview)(?![a-z])|快速预览|草稿|预览)"
_EXP_PREP = r"(?:(?:in|at|as|to|with|for)\s+(?:(?:a|an|the)\s+)?)?"
_RES_WORD = r"(?:\s*(?:resolution|res|quality|video|分辨率)(?![a-z]))?"
_OPT_V = rf"{_EXP_PREP}(?:{_RES_V}{_RES_WORD}|{_QUAL_V})"
_OPT_S = rf"{_EXP_PREP}(?:{_RES_S}{_RES_WORD}|{_QUAL_S})"
_EXP_JOIN = r"(?:\s*,\s*|\s+and\s+|\s*和\s*|\s*的\s*|\s*)"

# A boundary at the end of every phrase: a match may not stop inside an English word or number ("mute" in "muted").
_BOUND = r"(?:(?<=[a-z0-9])(?![a-z0-9])|(?<![a-z0-9]))"


@attrs.frozen
class _Rule:
    """One phrasing: its pattern (matched at the scan position) and how its match becomes intents."""

    kind: str
    pattern: re.Pattern[str]
    build: Callable[[re.Match[str], _Norm], Built]


def _rules(kind: str, build: Callable[[re.Match[str], _Norm], Built], *patterns: str) -> list[_Rule]:
    """Rules sharing a builder, one per pattern, each ending at a word boundary."""
    return [_Rule(kind, re.compile(f"(?:{p}){_BOUND}"), build) for p in patterns]


RULES: tuple[_Rule, ...] = tuple(
    _rules("cut", _cut, _CUT_EN, _CUT_ZH)
    + _rules("stabilize", _stabilize,
             rf"(?:(?:image|video|camera)\s+)?stabili[sz](?:e|ation|ing){_OBJ}{_STRENGTH}",
             r"(?:steady|smooth(?:\s+out)?)\s+(?:it|the\s+(?:shots?|footage|camera|video|clips?|image|picture))",
             r"(?:remove|fix|reduce|cut|eliminate|smooth(?:\s+out)?|get\s+rid\s+of|correct|minimi[sz]e|lessen|kill|stop)\s+"
             r"(?:the\s+|any\s+|all\s+(?:the\s+)?)?(?:camera[-\s]?)?(?:shake|shakiness|jitter|wobble|judder)(?![a-z])"
             r"(?:\s+(?:from|in)\s+the\s+(?:video|footage|clips?|shots?))?",
             rf"(?:(?:(?:视频|画面|镜头)?防抖(?:动|处理)?|稳定(?:一下)?(?:画面|视频|镜头)|(?:画面|视频|镜头)稳定(?:一下)?|去抖(?:动)?|增稳|"
             rf"(?:消除|减少|减轻|修复|减弱)(?:画面|镜头|相机)?(?:的)?(?:抖动|晃动|抖)))(?:\s*(?:强度)?\s*(?P<pct>{PCT}))?")
    + _rules("music", _music_volume,
             rf"(?:(?:set|lower|turn|bring|put|drop|reduce|raise|boost|make|keep|change|adjust|have|increase|decrease|duck)"
             rf"(?:\s+(?:down|up))?\s+)?{_MUSIC}(?:\s+(?:volume|level|track|loudness))?(?:\s+(?:down|up))?(?:\s+(?:to|at))?\s*:?\s*"
             rf"(?P<pct>{PCT})(?:\s+(?:volume|level|loudness))?",
             rf"(?:(?:set|lower|turn|bring|put|reduce|raise|change|adjust)\s+)?(?:the\s+)?(?:volume|level)\s+of\s+{_MUSIC}"
             rf"(?:\s+(?:down|up))?(?:\s+(?:to|at))?\s*(?P<pct>{PCT})",
             rf"{_MUSIC_ZH}(?:的)?(?:音量|声音|声)?\s*(?:调到|调成|调为|调至|设为|设成|设置为|设置成|降到|降低到|降至|调低到|调小到|调大到|"
             rf"调整到|调高到|提高到|提升到|减到|减小到|改成|改为|放到|在|为|是|到|:)?\s*(?P<pct>{PCT})")
    + _rules("music", _music_fade,
             rf"fade(?:\s+out)?\s+{_MUSIC}(?:\s+out)?(?:\s+at\s+the\s+end)?{_TDUR}",
             rf"{_MUSIC}\s+(?:fades?|fading)(?:\s+out)?(?:\s+at\s+the\s+end)?{_TDUR}",
             rf"{_MUSIC_ZH}\s*(?:在)?(?:结尾|最后|末尾)?\s*(?:{DUR}\s*)?(?:淡出|渐出|渐弱|渐隐)(?:\s*{DUR})?",
             rf"(?:淡出|渐出)\s*{_MUSIC_ZH}(?:\s*{DUR})?")
    + _rules("music", _fixed("music", {"remove": True}),
             rf"(?:remove|drop|delete|cut|kill|lose|mute|silence|take\s+out|get\s+rid\s+of|turn\s+off|disable|strip(?:\s+out)?|ditch)"
             rf"\s+(?:all\s+)?{_MUSIC}(?:\s+track)?",
             r"no\s+(?:background\s+)?(?:music|soundtrack|bgm)(?![a-z])",
             rf"without\s+(?:any\s+)?{_MUSIC}",
             rf"(?:去掉|去除|删掉|删除|移除|关掉|关闭|不要|取消|拿掉|撤掉|静音)\s*{_MUSIC_ZH}",
             rf"{_MUSIC_ZH}\s*(?:去掉|关掉|删掉|不要了?|关闭|静音|取消)",
             r"(?:无|没有|不加|不用)(?:背景)?音乐|不要配乐")
    + _rules("mute", _fixed("mute", {}),
             rf"mute(?:\s+(?:{_SOUND}|{_CLIPS}))?",
             rf"(?:remove|drop|kill|cut|turn\s+off|strip(?:\s+out)?|lose|get\s+rid\s+of|take\s+out|disable)\s+{_SOUND}",
             rf"silence\s+{_CLIPS}",
             r"(?:no|without(?:\s+the)?)\s+(?:original\s+)?(?:sound|audio)(?![a-z])",
             r"静音|消音|(?:关掉|关闭|去掉|去除|删除|删掉|不要)(?:视频)?(?:的)?(?:原声|原音|原始声音|声音|音频)|(?:原声|原音)(?:静音|去掉|关掉|关闭)|"
             r"(?:视频|片段|素材)静音")
    + _rules("title", _title,
             rf"(?:(?:add|put|insert|show|use|make|create|display|include|place|set|give\s+it|put\s+in)\s+(?:in\s+)?"
             rf"(?:(?:a|an|the|some)\s+)?)?{_TITLE_WHERE}title(?:\s+(?:card|text))?"
             rf"(?:\s+(?:saying|that\s+says|which\s+says|reading|of|with\s+the\s+text|with))?\s*:?\s*(?:{QUOTE})?{_TOPTS}",
             rf"(?:(?:put|use|add|show|set|make|have)\s+)?{QUOTE}\s+as\s+(?:(?:the|a|an)\s+)?{_TITLE_WHERE}title(?:\s+card)?{_TOPTS}",
             rf"(?:在\s*)?(?:(?:片头|开头|开场|片尾|结尾|最后|末尾)\s*)?(?:(?:加上?|添加|加个|加一个|放|放个|显示|打上|插入|做个|写|来个)\s*)?"
             rf"(?:(?:片头|片尾|开头|结尾|开场|结束)\s*)?(?:的)?(?:标题字幕|字幕标题|大标题|标题)\s*(?::|是|为|叫|写着?|内容是)?\s*"
             rf"(?:{QUOTE})?{_TOPTS}",
             rf"(?:加上?|添加|放|显示|打上|用)\s*{QUOTE}\s*(?:作为|当|做)\s*(?:片头|片尾)?\s*标题{_TOPTS}")
    + _rules("speed", _speed("up"), rf"speed{_SOBJ}\s+up{_SOBJ}{_SVAL}")
    + _rules("speed", _speed("down"), rf"slow{_SOBJ}\s+down{_SOBJ}{_SVAL}",
             r"(?:(?:in|into|as|with|make\s+it(?:\s+in)?|put\s+it\s+in)\s+)?(?:slow[-\s]?mo(?:tion)?|slo[-\s]?mo)(?![a-z])",
             r"半速|速度减半")
    + _rules("speed", _speed("up"), r"速度(?:加倍|翻倍)")
    + _rules("speed", _speed(),
             rf"(?:(?:play|run|make|set|put|have)(?:\s+(?:it|this|everything|the\s+(?:video|clips?|footage)))?\s+)?(?:at\s+)?"
             rf"(?P<f>{FACTOR})\s+(?P<how>speed|faster|slower|as\s+fast|as\s+slow|the\s+speed|normal\s+speed|playback(?:\s+speed)?|fast|slow)"
             r"(?![a-z])",
             rf"(?:(?:set|change|make|put)\s+)?(?:the\s+)?(?:playback\s+)?speed(?:\s+(?:to|at|of|=)|\s*:)?\s*(?P<f>{FACTOR}|{PCT})",
             rf"play(?:\s+(?:it|this|everything|the\s+video))?(?:\s+back)?\s+at\s+(?P<f>{FACTOR}|{PCT})(?:\s+(?:the\s+)?speed)?",
             r"make\s+(?:it|this|the\s+video|everything)\s+(?P<how>faster|quicker|slower)",
             rf"(?:以|用|按|调成|调到|改成)?\s*(?P<f>{NUM})\s*倍速(?:度|播放)?",
             rf"(?P<f>{NUM})\s*倍(?P<how>快放|慢放|播放)",
             rf"(?P<how>加速|快放|提速|加快(?:速度|播放)?|快进|变快|快速播放)\s*(?:到|成|为|至)?\s*(?:(?P<f>{NUM})\s*倍(?:速)?|(?P<f2>{PCT}))?",
             rf"(?P<how>减速|慢放|放慢(?:速度|播放)?|变慢|慢速(?:播放)?|慢动作|慢镜头)\s*(?:到|成|为|至)?\s*"
             rf"(?:(?P<f>{NUM})\s*倍(?:速)?|(?P<half>一半)|(?P<f2>{PCT}))?",
             rf"速度\s*(?:调到|调成|调为|设为|改成|改为|变成|是|为|:)?\s*(?:(?P<f>{NUM})\s*倍|(?P<f2>{PCT}))")
    + _rules("length", _length,
             rf"make\s+(?:it|this|the\s+(?:video|edit|cut|whole\s+thing))\s+(?:(?:only|just|exactly|about|around|under|at\s+most)\s+)?"
             rf"(?P<d>{DUR}){_LEN_TAIL}",
             rf"(?:cut|trim|shorten|reduce|edit|bring|get|keep|limit|cap|chop|condense)"
             rf"(?:\s+(?:it|this|everything|the\s+(?:video|edit|whole\s+thing|clip|footage|length)))?(?:\s+(?:down|back))?"
             rf"\s+(?:to|at|under|into|within)\s+(?:(?:the\s+first|only|just|about|around|exactly|a|an|the)\s+)?(?P<d>{DUR}){_LEN_TAIL}",
             rf"keep\s+(?:(?:only|just)\s+)?(?:the\s+)?first\s+(?P<d>{DUR})",
             rf"(?:(?:a|an)\s+)?(?P<d>{DUR})(?:\s+|-)?(?:long\s+)?(?:version|cut|edit|video|clip|montage|reel)(?![a-z])",
             rf"(?:set\s+)?(?:the\s+)?(?:total\s+)?(?:length|duration|runtime)(?:\s+(?:to|of|at)|\s*[:=])?\s*(?P<d>{DUR})",
             rf"(?:keep\s+it\s+)?(?:under|within|at\s+most|no\s+longer\s+than|max(?:imum)?(?:\s+of)?)\s+(?P<d>{DUR})",
             rf"(?:剪成|剪到|剪辑成|剪短到|剪短成|剪短为|缩短到|缩短为|缩短成|缩短至|缩减到|时长控制在|总时长控制在|控制在|压缩到|压缩成|压到|截取|截成|"
             rf"只保留|保留|只要|只留|时长为|时长改为|时长调到|时长设为|总时长|时长|长度|改成|变成|做成)\s*(?:前|最前面的?)?\s*"
             rf"(?P<d>{DUR})(?:以内|之内|内|左右|的版本|版本|长)?",
             rf"(?P<d>{DUR})(?:的)?(?:版本|短片|短视频|视频)")
    + _rules("fade", _fade,
             rf"(?:(?:add|put)\s+(?:a\s+)?)?(?:(?P<d0>{DUR})\s+)?fades?[-\s]?(?P<a>in|out|from\s+black|to\s+black|up)(?![a-z])"
             r"(?:\s*(?:and|&|/|\+)\s*(?:fades?[-\s]?)?(?P<b>in|out)(?![a-z]))?"
             r"(?:\s+(?:at\s+the\s+(?:start|beginning|end)|from\s+black|to\s+black))?"
             rf"(?:\s+(?:(?:over|of|for|lasting|in|taking)\s+)?(?P<d>{DUR}))?",
             rf"(?:(?:加上?|添加|加个|做)\s*)?(?:(?:开头|片头|开场|结尾|片尾|最后)(?:的)?\s*)?(?:(?P<d0>{DUR})\s*(?:的)?\s*)?"
             r"(?P<a>淡入|渐入|渐显|淡出|渐出|渐隐)(?:\s*(?:和|与|、|/|加|跟)?\s*(?P<b>淡入|渐入|渐显|淡出|渐出|渐隐))?"
             rf"(?:\s*(?P<d>{DUR}))?(?:的?效果)?")
    + _rules("reframe", _reframe(9, 16),
             rf"{_RVERB}(?:vertical|portrait|竖屏|竖版|竖向|竖幅|竖构图|竖的)"
             rf"(?:\s*(?:video|format|mode|orientation|version|aspect(?:\s+ratio)?|frame|视频|版本?|格式|画面|模式)(?![a-z]))?{_MODE}",
             r"(?:(?:make|format|reframe|crop|cut|edit|optimi[sz]e)(?:\s+(?:it|this|the\s+video))?\s+)?(?:for|as\s+an?)\s+"
             r"(?:tik[-\s]?tok|(?:instagram\s+|ig\s+)?reels?|(?:youtube\s+|yt\s+)?shorts|(?:instagram\s+|ig\s+)?stor(?:y|ies)|douyin|"
             rf"snapchat|kuaishou)(?:\s+(?:video|format))?(?![a-z]){_MODE}",
             rf"(?:适配|适合|用于|发到?|给|做成|改成)\s*(?:抖音|快手|视频号)(?:的)?(?:格式|尺寸|比例|竖屏|版本?)?{_MODE}")
    + _rules("reframe", _reframe(1, 1),
             rf"{_RVERB}(?:square|正方形|方形|方屏|方版)"
             rf"(?:\s*(?:video|format|crop|frame|aspect(?:\s+ratio)?|version|视频|版本?|格式|画面|比例)(?![a-z]))?{_MODE}")
    + _rules("reframe", _reframe(16, 9),
             rf"{_RVERB}(?:widescreen|wide[-\s]screen|landscape|horizontal|横屏|横版|横向|宽屏|横幅)"
             rf"(?:\s*(?:video|format|mode|orientation|version|aspect(?:\s+ratio)?|视频|版本?|格式|画面|模式)(?![a-z]))?{_MODE}",
             rf"(?:(?:make|format)(?:\s+it)?\s+)?for\s+youtube(?:\s+video)?{_MODE}")
    + _rules("reframe", _reframe(),
             rf"{_RVERB}(?:(?:aspect(?:\s+ratio)?|ratio|画幅|比例|宽高比|画面比例)\s*(?:of|to|=|:|为|改成|改为|调成|设为|调到)?\s*)?"
             rf"(?P<num>\d{{1,3}})\s*:\s*(?P<den>\d{{1,3}})(?:\s*(?:aspect(?:\s+ratio)?|ratio|format|比例|画幅)(?![a-z]))?{_MODE}")
    + _rules("grade", _fixed("grade", {"look": "auto"}), *_AUTO_GRADE)
    + _rules("grade", _grade,
             rf"{_LOOK_PREFIX}(?P<look>{_LOOK_ALL}){_LOOK_SUFFIX}?{_LOOK_AMOUNT}",
             rf"{_LOOK_IN}(?P<look>{_LOOK_ALL}){_LOOK_SUFFIX}{_LOOK_AMOUNT}",
             rf"{_LOOK_IN}(?P<look>(?:{_SOLO_LOOKS})(?![a-z])){_LOOK_SUFFIX}?{_LOOK_AMOUNT}")
    + _rules("export", _export,
             rf"(?:export|render|output|save|deliver|encode|produce|导出|输出|渲染|保存|导成|出片)"
             rf"(?:\s+(?:it|this|everything|the\s+(?:video|result|file|edit|final\s+(?:video|cut))|a\s+(?:video|file)))?"
             rf"(?:\s*(?:为|成|到)?\s*{_OPT_V}(?:{_EXP_JOIN}{_OPT_V})?)?(?:视频|版本|格式)?",
             rf"(?:make\s+it\s+)?{_OPT_S}(?:{_EXP_JOIN}{_OPT_S})?",
             rf"(?:(?:以|用|按)\s*)?{_OPT_V}(?:{_EXP_JOIN}{_OPT_V})?\s*(?:导出|输出|渲染|出片)")
)

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
        if s[i] in _OPENERS and (q := _QUOTE_RE.match(s, i)):
            i = q.end()
            continue
        if _SEP_CHAR.match(s, i):
            break
        if i > pos and _SEP_WORD.match(s, i) and (not _is_word_char(s[i]) or not _is_word_char(s[i - 1])):
            break
        i += 1
    return max(i, pos + 1)


def _longest(s: str, pos: int) -> tuple[_Rule, re.Match[str], int] | None:
    """The rule whose match at pos is longest (ties: table order), with the match's end less trailing spaces."""
    best: tuple[_Rule, re.Match[str], int] | None = None
    for rule in RULES:
        m = rule.pattern.match(s, pos)
        if m is None:
            continue
        end = _rstrip(s, m.end(), pos)
        if end > pos and (best is None or end > best[2]):
            best = (rule, m, end)
    return best


def _emit(rule: _Rule, m: re.Match[str], end: int, norm: _Norm) -> list[Intent]:
    """The intents a match means, each carrying the original words; BadValue for a value out of range."""
    try:
        built = rule.build(m, norm)
    except _Bad as bad:
        span = m.span(bad.group) if bad.group and m.group(bad.group) is not None else (m.start(), end)
        start, stop, text = norm.part(*span)
        raise BadValue(start, stop, text, bad.message) from None
    start, stop, text = norm.part(m.start(), end)
    return [Intent(kind, args, text, start, stop) for kind, args in built]


# ---------------------------------------------------------------------------------------------- public API


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
            unknown.append(norm.part(filler_from, _rstrip(s, pos, filler_from)))
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
        start = pos if filler_from is None else filler_from
        end = _clause_end(s, pos)
        unknown.append(norm.part(start, _rstrip(s, end, start)))
        pos, filler_from = end, None
    if unknown:
        raise NotUnderstood(instruction, unknown)
    if not intents:
        lead = len(instruction) - len(instruction.lstrip())
        tail = len(instruction.rstrip())
        raise NotUnderstood(instruction, [(lead, tail, instruction[lead:tail])] if tail > lead else [(0, 0, "")])
    return intents


_EDGE_NAMES = {edge: name for edge, name, _ in _RES_EDGES}


def describe(intent: Intent) -> str:
    """A short phrase for people: "cut shaky spans", "title “Urban Dreams” 0–3s", "speed ×2"."""
    a = intent.args
    kind = intent.kind
    if kind == "cut":
        return "cut silent spans" if a["what"] == "silence" else f"cut {a['what']} spans"
    if kind == "grade":
        look = a.get("look", "auto")
        base = "color grade (auto)" if look == "auto" else f"grade {look}"
        return base + (f" at {_fmt(a['amount'])}%" if a.get("amount") is not None else "")
    if kind == "stabilize":
        return "stabilize" + (f" at {_fmt(a['strength'])}%" if a.get("strength") is not None else "")
    if kind == "reframe":
        return f"reframe to {a['num']}:{a['den']} ({a.get('mode', 'crop')})"
    if kind == "title":
        seconds = _fmt(a.get("seconds", 3.0))
        where = f"for the last {seconds}s" if a.get("at") == "end" else f"0–{seconds}s"
        return f"title “{a['text']}” {where}"
    if kind == "music":
        if a.get("remove"):
            return "remove the music"
        if a.get("fade_out") is not None:
            return f"fade out the music over {_fmt(a['fade_out'])}s"
        return f"music at {_fmt(a['volume'])}%"
    if kind == "mute":
        return "mute the clips' own sound"
    if kind == "speed":
        return f"speed ×{_fmt(a['factor'])}"
    if kind == "length":
        return f"keep the first {_fmt(a['seconds'])}s"
    if kind == "fade":
        return f"fade {a['dir']} {_fmt(a.get('seconds', 1.0))}s"
    parts = []
    if a.get("long_edge") is not None:
        parts.append(_EDGE_NAMES.get(a["long_edge"], f"{a['long_edge']}px long edge"))
    if a.get("quality") is not None:
        parts.append(f"{a['quality']} quality")
    return "export: " + ", ".join(parts) if parts else "export"
