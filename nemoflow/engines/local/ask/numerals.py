"""Numbers and units in English and Chinese: the patterns that find them in an instruction, and the functions that read them.

Every pattern here works on the normalised instruction (NFKC, lower case: see scanner.py), so "４Ｋ" and "2X" are
never seen. NUM is one number (digits, Chinese numerals, English number words), DUR a duration, PCT a percent and
FACTOR a speed factor; seconds_of, percent_of and factor_of read what those patterns matched.
"""

from __future__ import annotations

import re


def alt(*parts: str) -> str:
    """A non-capturing alternation, tried in the order given."""
    return "(?:" + "|".join(parts) + ")"


_EN_NUMS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen".split())} | {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
                                    "eighty": 80, "ninety": 90}
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}

_NUM_D = r"(?:\d+(?:\.\d+)?|\.\d+)"
_NUM_ZH = r"(?:[零〇一二两三四五六七八九十百千]+(?:点[零〇一二三四五六七八九]+)?)"
_NUM_EN = (alt(*(w for w, v in _EN_NUMS.items() if v >= 20)) + r"(?:[-\s]" + alt(*(w for w, v in _EN_NUMS.items() if 1 <= v <= 9))
           + r"(?![a-z]))?(?![a-z])|" + alt(*sorted((w for w, v in _EN_NUMS.items() if v < 20), key=len, reverse=True)) + r"(?![a-z])")
NUM = f"(?:{_NUM_D}|{_NUM_ZH}|{_NUM_EN})"

_U_MS = r"(?:milliseconds?|millisecs?|msecs?|ms|毫秒)(?![a-z])"
_U_S = r"(?:seconds?|secs?|s|秒钟?)(?![a-z])"
_U_M = r"(?:minutes?|mins?|m|分钟?)(?![a-z])"
_GAP = r"\s*-?\s*"
DUR = alt(
    r"\d+:[0-5]\d(?:\.\d+)?",
    r"半分钟?|半秒钟?",
    rf"{NUM}{_GAP}{_U_M}(?:\s*(?:and\s+)?{NUM}{_GAP}{_U_S}|半钟?)?",
    rf"{NUM}{_GAP}{_U_MS}",
    rf"{NUM}{_GAP}{_U_S}",
)
PCT = rf"(?:{NUM}\s*(?:%|percent|per\s*cent|pct)(?![a-z])|百分之{NUM})"
FACTOR = rf"(?:{NUM}\s*(?:x|×|times|倍)(?![a-z])|[x×]\s*{NUM}|twice|double|half)(?![a-z])"

_NUM_RE = re.compile(NUM)
DUR_RE = re.compile(DUR)
_DUR_PART = re.compile(rf"(?P<n>{NUM}|半){_GAP}(?P<u>{_U_MS}|{_U_M}|{_U_S})")


def _zh_digits(text: str) -> str:
    """Chinese digits read one by one, as decimal digits: 一五 → "15", 零五 → "05"."""
    return "".join(str(_ZH_DIGITS[c]) for c in text)


def _zh_int(text: str) -> int:
    """Chinese numerals: 十五 = 15, 三十 = 30, 一百零五 = 105; digits alone read positionally (一五 = 15)."""
    if not any(c in _ZH_UNITS for c in text):
        return int(_zh_digits(text))
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
        return value + float("0." + _zh_digits(frac)) if frac else value
    return float(sum(_EN_NUMS[w] for w in re.split(r"[-\s]+", t)))


def _first_num(text: str) -> float:
    """The first number in a matched fragment (a factor, a percent)."""
    found = _NUM_RE.search(text)
    assert found is not None, text  # the fragment's pattern contains NUM
    return _num(found.group())


def seconds_of(text: str) -> float:
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


def percent_of(text: str) -> float:
    """A percent as matched by PCT: "35%", "35 percent", "百分之三十五"."""
    return _num(text.split("百分之", 1)[1]) if "百分之" in text else _first_num(text)


def factor_of(text: str) -> float:
    """A factor as matched by FACTOR: "2x", "×2", "2 times", "2倍", "twice", "double", "half"."""
    if re.search(r"twice|double", text):
        return 2.0
    if "half" in text:
        return 0.5
    return _first_num(text)


def fmt(value: float) -> str:
    """A number as people write it: 2 not 2.0."""
    return f"{value:g}"
