"""The phrase table: which words, in English and Chinese, mean which intent.

RULES is the table the scanner (scanner.py) tries at every position of the normalised instruction (NFKC, lower
case): each Rule is one phrasing, a pattern anchored at the scan position, and the builder (builders.py) that turns
its match into intents. The longest match wins and a tie goes to the earlier rule, so the table's order only matters
between phrasings that can match the same words. Above the table, the pieces its phrasings share.
"""

from __future__ import annotations

import re

import attrs

from . import builders
from .builders import CUT_THINGS, LOOKS, LOOKS_EN, LOOKS_ZH, QUALITY, QUALITY_ALONE, QUOTE, SIZE, SIZE_ALONE, Build
from .numerals import DUR, FACTOR, NUM, PCT, alt

# ---------------------------------------------------------------------------------------------- the pieces phrasings share

_DET = r"(?:(?:the|any|all(?:\s+the)?|those|these|every)\s+)?"
_THING = alt(*CUT_THINGS.values()) + r"(?![a-z])"
_PARTS = (r"(?:\s+(?:clips?|parts?|sections?|segments?|bits?|footage|shots?|frames?|spans?|moments?|scenes?|portions?|screens?|"
          r"stretches|periods?|pieces?|spots?)(?![a-z])(?:\s+(?:of|in|from)\s+(?:the\s+)?(?:video|footage|clips?|audio))?"
          r"|\s*(?:的)?(?:片段|镜头|部分|画面|地方|帧|段落|段|内容))")
_THING_P = rf"{_THING}{_PARTS}?"
_JOIN = rf"(?:\s*[,/&+、]\s*(?:(?:and|or)\s+)?|\s+(?:and|or|plus|as\s+well\s+as)\s+|\s*(?:和|或者?|与|跟|以及|及)\s*){_DET}"
_THINGS = rf"{_THING_P}(?:{_JOIN}{_THING_P})*"  # "black and frozen parts", "黑屏和卡顿"
_CUT_WHERE = (r"(?:\s+(?:at|from|in)\s+(?:the\s+)?(?:very\s+)?(?:start|beginning|end|ends|edges)(?:\s+(?:and|&|or)\s+(?:the\s+)?"
              r"(?:start|beginning|end))?(?:\s+of\s+(?:the\s+|each\s+)?(?:video|clips?|footage))?)?")
_CUT_EN = (rf"(?:trim|cut|remove|drop|delete|skip|strip|lose|ditch|get\s+rid\s+of|take\s+out|clean\s+up|edit\s+out)"
           rf"(?:\s+(?:out|away|off))?\s+{_DET}{_THINGS}{_CUT_WHERE}")
_CUT_ZH = (rf"(?:剪掉|剪去|剪除|去掉|去除|删掉|删除|删去|移除|切掉|裁掉|拿掉|不要|清除|干掉|过滤掉?)\s*"
           rf"(?:(?:开头和结尾|开头|结尾|首尾|前后|两头)(?:的)?)?\s*(?:所有|全部)?(?:的)?\s*{_THINGS}")

_GRADE_OBJ = r"(?:\s+(?:it|everything|the\s+(?:video|footage|clips?|shots?)))?"
_AUTO_GRADE = (
    rf"(?:auto(?:matic(?:ally)?)?[-\s]?)?colou?r[-\s]?(?:grade|grading|correct(?:ion|ed)?|balance|fix){_GRADE_OBJ}",
    r"(?:auto(?:matically)?[-\s]?)?(?:grade|correct|fix|balance|adjust)\s+(?:the\s+|its\s+)?colou?rs?",
    r"auto[-\s]?(?:colou?r|grade)",
    rf"grade{_GRADE_OBJ}",
    r"(?:自动)?(?:调色|校色|调颜色|调整颜色|调一下(?:颜色|色彩|色)|调调颜色|调个色|色彩校正|颜色校正|校正颜色|修正颜色|调色彩|调整色彩|修色)",
)
_LOOK_ALL = alt(*LOOKS.values()) + r"(?![a-z])"
# Looks that mean a grade on their own ("vintage", "黑白"); "warm" or "cool" alone need "look", "tones", "grade it" …
_SOLO_LOOKS = "|".join((LOOKS_EN["teal-orange"], LOOKS_EN["bw"], LOOKS_EN["vintage"], r"warmer|cooler|vivid|vibrant|filmic|cinematic",
                        *LOOKS_ZH.values()))
_LOOK_PREFIX = (r"(?:(?:(?:colou?r[-\s]?)?grade|colou?r|make|turn|give|apply|add|use|go\s+for|style|do)"
                r"(?:\s+(?:it|this|everything|the\s+(?:video|footage|clips?|shots?|colou?rs?|look)))?"
                r"(?:\s+(?:to|as|with|in|using|into|a|an|the|some|more|look|slightly)){0,2}\s+"
                r"|(?:调色(?:成|为|用)?|(?:调|改|变|换|做|弄|处理)(?:成|为)|用|来个|来点|加个|加上|加点|加)\s*)")
_LOOK_SUFFIX = (r"(?:[-\s]?(?:look|style|grade|preset|tones?|filter|vibe|feel|colou?rs?|grading)(?![a-z])"
                r"|\s*(?:的)?(?:色调|风格|风|滤镜|效果|调色|感觉?|色系|画面))")
_LOOK_IN = r"(?:(?:it\s+)?in\s+(?:an?\s+)?|it\s+)?"  # "(I'd like) it in black and white", "in a vintage style"


def _amount(preps: str, nouns: str) -> str:
    """An optional percent after a phrase: ", at 70%", "with 50% strength" (group "pct")."""
    return rf"(?:\s*,?\s*(?:(?:{preps})\s+)?(?P<pct>{PCT})(?:\s+(?:{nouns}))?)?"


_LOOK_AMOUNT = _amount("at|with", "strength|intensity|amount")

_OBJ = r"(?:\s+(?:it|this|everything|the\s+(?:whole\s+)?(?:video|footage|clips?|shots?|camera|image|picture)))?"
_STRENGTH = _amount("at|with|by|to", "strength|intensity")

_MODE = (r"(?:\s*,?\s*(?:(?:with|using|and|plus|in|via|by)\s+)?(?:(?:a|an|the)\s+)?(?:加上?|用|带|配|留)?\s*"
         r"(?P<mode>blurr?(?:ed|y)?(?:\s+(?:background|backdrop|bg|sides|edges|bars))?|background\s+blur|black\s+bars|"
         r"letterbox(?:ing|ed)?|pillarbox(?:ing|ed)?|bars|padding|padded|pad|fit|crop(?:ping|ped)?|"
         r"模糊背景|背景模糊|模糊|黑边|黑框|裁切|裁剪)(?![a-z]))?")
_RVERB = (r"(?:(?:make|turn|change|convert|switch|reframe|crop|format|put|set|resize|pad|letterbox)"
          r"(?:\s+(?:it|this|everything|the\s+(?:video|footage|clips?|frame)))?(?:\s+(?:to|into|as|for|in))?(?:\s+(?:an?|the))?\s+"
          r"|it\s+|(?:改成|变成|转成|转为|做成|调成|裁成|切成|剪成|设为|设置为|设成|换成|弄成|改为|转换成|转换为|裁剪成|裁剪为)\s*)?")


def _shape(names: str, nouns: str) -> str:
    """A reframe to a shape said by name, an optional noun after it ("vertical video", 竖屏模式), then a mode."""
    return rf"{_RVERB}(?:{names})(?:\s*(?:{nouns})(?![a-z]))?{_MODE}"


_QUOTE_TITLE_OPTS = alt(
    rf"(?:(?:for|lasting|over|during|(?:on\s+screen|shown|displayed|visible)\s+for|持续|显示|停留|时长|共|长)\s*)?{DUR}(?:\s+long)?",
    r"(?:at|in|on)\s+(?:the\s+)?(?:very\s+)?(?:start|beginning|opening|end|ending|close)(?:\s+of\s+(?:the\s+)?(?:video|clip|film|edit|it))?",
    r"as\s+(?:an?\s+|the\s+)?(?:intro|outro|opening|ending|closing)(?:\s+title)?",
    r"在?(?:片头|开头|开场|最前面?|片尾|结尾|最后|末尾)(?:显示|出现|放)?",
)
_TOPTS = rf"(?:\s*,?\s*{_QUOTE_TITLE_OPTS})*"
_TITLE_WHERE = r"(?:(?:opening|closing|ending|end|intro|outro|start|main|big)\s+)?"

_MUSIC = r"(?:(?:the|its|my)\s+)?(?:background\s+|bg\s+)?(?:music|soundtrack|bgm|song)(?:'s)?(?![a-z])"
_MUSIC_ZH = r"(?:背景音乐|背景乐|配乐|音乐|bgm)"
_MUSIC_FADE_TAIL = rf"(?:\s+out)?(?:\s+at\s+the\s+end)?(?:\s+(?:(?:over|in|across|for|during|of)\s+)?(?:the\s+last\s+)?(?P<d>{DUR}))?"

_SOUND = (r"(?:(?:the|its|their)\s+)?(?:(?:original|source|camera|clips'?|clip's|video's|natural|own|recorded|live|ambient|"
          r"in-camera|on-camera)\s+){0,3}(?:sound|audio)(?:\s+track)?(?![a-z])")
_CLIPS = r"(?:it|everything|all(?:\s+the)?\s+clips|the\s+(?:clips?|video|footage))(?![a-z])"

_SOBJ = r"(?:\s+(?:it|this|everything|the\s+(?:whole\s+)?(?:video|clips?|footage|thing|playback)))?"
_SVAL = rf"(?:\s+(?P<prep>by|to)\s+(?P<f>{PCT}|{FACTOR}|{NUM})|\s*(?P<f2>{PCT}|{FACTOR}))?"
_ZH_TO = r"\s*(?:到|成|为|至)?\s*"
_ZH_TIMES = rf"(?P<f>{NUM})\s*倍(?:速)?"

_LEN_TAIL = r"(?:\s+(?:long|total|max(?:imum)?|or\s+less|in\s+length))?"

_EXP_PREP = r"(?:(?:in|at|as|to|with|for)\s+(?:(?:a|an|the)\s+)?)?"
_RES_WORD = r"(?:\s*(?:resolution|res|quality|video|分辨率)(?![a-z]))?"
_EXP_JOIN = r"(?:\s*,\s*|\s+and\s+|\s*和\s*|\s*的\s*|\s*)"


def _export_options(size: str, quality: str) -> str:
    """One or two export options, each a size or a quality: "in 4K", "1080p and high quality", "4K高画质"."""
    one = rf"{_EXP_PREP}(?:{size}{_RES_WORD}|{quality})"
    return rf"{one}(?:{_EXP_JOIN}{one})?"


_EXPORT_OPTS = _export_options(SIZE, QUALITY)
_EXPORT_OPTS_ALONE = _export_options(SIZE_ALONE, QUALITY_ALONE)

# ---------------------------------------------------------------------------------------------- the phrase table

# A boundary at the end of every phrase: a match may not stop inside an English word or number ("mute" in "muted").
_BOUND = r"(?:(?<=[a-z0-9])(?![a-z0-9])|(?<![a-z0-9]))"


@attrs.frozen
class Rule:
    """One phrasing: its pattern (matched at the scan position) and how its match becomes intents."""

    kind: str
    pattern: re.Pattern[str]
    build: Build


def _rules(kind: str, build: Build, *patterns: str) -> list[Rule]:
    """Rules sharing a builder, one per pattern, each ending at a word boundary."""
    return [Rule(kind, re.compile(f"(?:{p}){_BOUND}"), build) for p in patterns]


RULES: tuple[Rule, ...] = tuple(
    _rules("cut", builders.cut, _CUT_EN, _CUT_ZH)
    + _rules("stabilize", builders.stabilize,
             rf"(?:(?:image|video|camera)\s+)?stabili[sz](?:e|ation|ing){_OBJ}{_STRENGTH}",
             r"(?:steady|smooth(?:\s+out)?)\s+(?:it|the\s+(?:shots?|footage|camera|video|clips?|image|picture))",
             r"(?:remove|fix|reduce|cut|eliminate|smooth(?:\s+out)?|get\s+rid\s+of|correct|minimi[sz]e|lessen|kill|stop)\s+"
             r"(?:the\s+|any\s+|all\s+(?:the\s+)?)?(?:camera[-\s]?)?(?:shake|shakiness|jitter|wobble|judder)(?![a-z])"
             r"(?:\s+(?:from|in)\s+the\s+(?:video|footage|clips?|shots?))?",
             rf"(?:(?:(?:视频|画面|镜头)?防抖(?:动|处理)?|稳定(?:一下)?(?:画面|视频|镜头)|(?:画面|视频|镜头)稳定(?:一下)?|去抖(?:动)?|增稳|"
             rf"(?:消除|减少|减轻|修复|减弱)(?:画面|镜头|相机)?(?:的)?(?:抖动|晃动|抖)))(?:\s*(?:强度)?\s*(?P<pct>{PCT}))?")
    + _rules("music", builders.music_volume,
             rf"(?:(?:set|lower|turn|bring|put|drop|reduce|raise|boost|make|keep|change|adjust|have|increase|decrease|duck)"
             rf"(?:\s+(?:down|up))?\s+)?{_MUSIC}(?:\s+(?:volume|level|track|loudness))?(?:\s+(?:down|up))?(?:\s+(?:to|at))?\s*:?\s*"
             rf"(?P<pct>{PCT})(?:\s+(?:volume|level|loudness))?",
             rf"(?:(?:set|lower|turn|bring|put|reduce|raise|change|adjust)\s+)?(?:the\s+)?(?:volume|level)\s+of\s+{_MUSIC}"
             rf"(?:\s+(?:down|up))?(?:\s+(?:to|at))?\s*(?P<pct>{PCT})",
             rf"{_MUSIC_ZH}(?:的)?(?:音量|声音|声)?\s*(?:调到|调成|调为|调至|设为|设成|设置为|设置成|降到|降低到|降至|调低到|调小到|调大到|"
             rf"调整到|调高到|提高到|提升到|减到|减小到|改成|改为|放到|在|为|是|到|:)?\s*(?P<pct>{PCT})")
    + _rules("music", builders.music_fade,
             rf"fade(?:\s+out)?\s+{_MUSIC}{_MUSIC_FADE_TAIL}",
             rf"{_MUSIC}\s+(?:fades?|fading){_MUSIC_FADE_TAIL}",
             rf"{_MUSIC_ZH}\s*(?:在)?(?:结尾|最后|末尾)?\s*(?:{DUR}\s*)?(?:淡出|渐出|渐弱|渐隐)(?:\s*{DUR})?",
             rf"(?:淡出|渐出)\s*{_MUSIC_ZH}(?:\s*{DUR})?")
    + _rules("music", builders.fixed("music", {"remove": True}),
             rf"(?:remove|drop|delete|cut|kill|lose|mute|silence|take\s+out|get\s+rid\s+of|turn\s+off|disable|strip(?:\s+out)?|ditch)"
             rf"\s+(?:all\s+)?{_MUSIC}(?:\s+track)?",
             r"no\s+(?:background\s+)?(?:music|soundtrack|bgm)(?![a-z])",
             rf"without\s+(?:any\s+)?{_MUSIC}",
             rf"(?:去掉|去除|删掉|删除|移除|关掉|关闭|不要|取消|拿掉|撤掉|静音)\s*{_MUSIC_ZH}",
             rf"{_MUSIC_ZH}\s*(?:去掉|关掉|删掉|不要了?|关闭|静音|取消)",
             r"(?:无|没有|不加|不用)(?:背景)?音乐|不要配乐")
    + _rules("mute", builders.fixed("mute", {}),
             rf"mute(?:\s+(?:{_SOUND}|{_CLIPS}))?",
             rf"(?:remove|drop|kill|cut|turn\s+off|strip(?:\s+out)?|lose|get\s+rid\s+of|take\s+out|disable)\s+{_SOUND}",
             rf"silence\s+{_CLIPS}",
             r"(?:no|without(?:\s+the)?)\s+(?:original\s+)?(?:sound|audio)(?![a-z])",
             r"静音|消音|(?:关掉|关闭|去掉|去除|删除|删掉|不要)(?:视频)?(?:的)?(?:原声|原音|原始声音|声音|音频)|(?:原声|原音)(?:静音|去掉|关掉|关闭)|"
             r"(?:视频|片段|素材)静音")
    + _rules("title", builders.title,
             rf"(?:(?:add|put|insert|show|use|make|create|display|include|place|set|give\s+it|put\s+in)\s+(?:in\s+)?"
             rf"(?:(?:a|an|the|some)\s+)?)?{_TITLE_WHERE}title(?:\s+(?:card|text))?"
             rf"(?:\s+(?:saying|that\s+says|which\s+says|reading|of|with\s+the\s+text|with))?\s*:?\s*(?:{QUOTE})?{_TOPTS}",
             rf"(?:(?:put|use|add|show|set|make|have)\s+)?{QUOTE}\s+as\s+(?:(?:the|a|an)\s+)?{_TITLE_WHERE}title(?:\s+card)?{_TOPTS}",
             rf"(?:在\s*)?(?:(?:片头|开头|开场|片尾|结尾|最后|末尾)\s*)?(?:(?:加上?|添加|加个|加一个|放|放个|显示|打上|插入|做个|写|来个)\s*)?"
             rf"(?:(?:片头|片尾|开头|结尾|开场|结束)\s*)?(?:的)?(?:标题字幕|字幕标题|大标题|标题)\s*(?::|是|为|叫|写着?|内容是)?\s*"
             rf"(?:{QUOTE})?{_TOPTS}",
             rf"(?:加上?|添加|放|显示|打上|用)\s*{QUOTE}\s*(?:作为|当|做)\s*(?:片头|片尾)?\s*标题{_TOPTS}")
    + _rules("speed", builders.speed("up"), rf"speed{_SOBJ}\s+up{_SOBJ}{_SVAL}", r"速度(?:加倍|翻倍)")
    + _rules("speed", builders.speed("down"), rf"slow{_SOBJ}\s+down{_SOBJ}{_SVAL}",
             r"(?:(?:in|into|as|with|make\s+it(?:\s+in)?|put\s+it\s+in)\s+)?(?:slow[-\s]?mo(?:tion)?|slo[-\s]?mo)(?![a-z])",
             r"半速|速度减半")
    + _rules("speed", builders.speed(),
             rf"(?:(?:play|run|make|set|put|have)(?:\s+(?:it|this|everything|the\s+(?:video|clips?|footage)))?\s+)?(?:at\s+)?"
             rf"(?P<f>{FACTOR})\s+(?P<how>speed|faster|slower|as\s+fast|as\s+slow|the\s+speed|normal\s+speed|playback(?:\s+speed)?|fast|slow)"
             r"(?![a-z])",
             rf"(?:(?:set|change|make|put)\s+)?(?:the\s+)?(?:playback\s+)?speed(?:\s+(?:to|at|of|=)|\s*:)?\s*(?P<f>{FACTOR}|{PCT})",
             rf"play(?:\s+(?:it|this|everything|the\s+video))?(?:\s+back)?\s+at\s+(?P<f>{FACTOR}|{PCT})(?:\s+(?:the\s+)?speed)?",
             r"make\s+(?:it|this|the\s+video|everything)\s+(?P<how>faster|quicker|slower)",
             rf"(?:以|用|按|调成|调到|改成)?\s*(?P<f>{NUM})\s*倍速(?:度|播放)?",
             rf"(?P<f>{NUM})\s*倍(?P<how>快放|慢放|播放)",
             rf"(?P<how>加速|快放|提速|加快(?:速度|播放)?|快进|变快|快速播放){_ZH_TO}(?:{_ZH_TIMES}|(?P<f2>{PCT}))?",
             rf"(?P<how>减速|慢放|放慢(?:速度|播放)?|变慢|慢速(?:播放)?|慢动作|慢镜头){_ZH_TO}"
             rf"(?:{_ZH_TIMES}|(?P<half>一半)|(?P<f2>{PCT}))?",
             rf"速度\s*(?:调到|调成|调为|设为|改成|改为|变成|是|为|:)?\s*(?:(?P<f>{NUM})\s*倍|(?P<f2>{PCT}))")
    + _rules("length", builders.length,
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
    + _rules("fade", builders.fade,
             rf"(?:(?:add|put)\s+(?:a\s+)?)?(?:(?P<d0>{DUR})\s+)?fades?[-\s]?(?P<a>in|out|from\s+black|to\s+black|up)(?![a-z])"
             r"(?:\s*(?:and|&|/|\+)\s*(?:fades?[-\s]?)?(?P<b>in|out)(?![a-z]))?"
             r"(?:\s+(?:at\s+the\s+(?:start|beginning|end)|from\s+black|to\s+black))?"
             rf"(?:\s+(?:(?:over|of|for|lasting|in|taking)\s+)?(?P<d>{DUR}))?",
             rf"(?:(?:加上?|添加|加个|做)\s*)?(?:(?:开头|片头|开场|结尾|片尾|最后)(?:的)?\s*)?(?:(?P<d0>{DUR})\s*(?:的)?\s*)?"
             r"(?P<a>淡入|渐入|渐显|淡出|渐出|渐隐)(?:\s*(?:和|与|、|/|加|跟)?\s*(?P<b>淡入|渐入|渐显|淡出|渐出|渐隐))?"
             rf"(?:\s*(?P<d>{DUR}))?(?:的?效果)?")
    + _rules("reframe", builders.reframe(9, 16),
             _shape("vertical|portrait|竖屏|竖版|竖向|竖幅|竖构图|竖的",
                    r"video|format|mode|orientation|version|aspect(?:\s+ratio)?|frame|视频|版本?|格式|画面|模式"),
             r"(?:(?:make|format|reframe|crop|cut|edit|optimi[sz]e)(?:\s+(?:it|this|the\s+video))?\s+)?(?:for|as\s+an?)\s+"
             r"(?:tik[-\s]?tok|(?:instagram\s+|ig\s+)?reels?|(?:youtube\s+|yt\s+)?shorts|(?:instagram\s+|ig\s+)?stor(?:y|ies)|douyin|"
             rf"snapchat|kuaishou)(?:\s+(?:video|format))?(?![a-z]){_MODE}",
             rf"(?:适配|适合|用于|发到?|给|做成|改成)\s*(?:抖音|快手|视频号)(?:的)?(?:格式|尺寸|比例|竖屏|版本?)?{_MODE}")
    + _rules("reframe", builders.reframe(1, 1),
             _shape("square|正方形|方形|方屏|方版", r"video|format|crop|frame|aspect(?:\s+ratio)?|version|视频|版本?|格式|画面|比例"))
    + _rules("reframe", builders.reframe(16, 9),
             _shape(r"widescreen|wide[-\s]screen|landscape|horizontal|横屏|横版|横向|宽屏|横幅",
                    r"video|format|mode|orientation|version|aspect(?:\s+ratio)?|视频|版本?|格式|画面|模式"),
             rf"(?:(?:make|format)(?:\s+it)?\s+)?for\s+youtube(?:\s+video)?{_MODE}")
    + _rules("reframe", builders.reframe(),
             rf"{_RVERB}(?:(?:aspect(?:\s+ratio)?|ratio|画幅|比例|宽高比|画面比例)\s*(?:of|to|=|:|为|改成|改为|调成|设为|调到)?\s*)?"
             rf"(?P<num>\d{{1,3}})\s*:\s*(?P<den>\d{{1,3}})(?:\s*(?:aspect(?:\s+ratio)?|ratio|format|比例|画幅)(?![a-z]))?{_MODE}")
    + _rules("grade", builders.fixed("grade", {"look": "auto"}), *_AUTO_GRADE)
    + _rules("grade", builders.grade,
             rf"{_LOOK_PREFIX}(?P<look>{_LOOK_ALL}){_LOOK_SUFFIX}?{_LOOK_AMOUNT}",
             rf"{_LOOK_IN}(?P<look>{_LOOK_ALL}){_LOOK_SUFFIX}{_LOOK_AMOUNT}",
             rf"{_LOOK_IN}(?P<look>(?:{_SOLO_LOOKS})(?![a-z])){_LOOK_SUFFIX}?{_LOOK_AMOUNT}")
    + _rules("export", builders.export,
             rf"(?:export|render|output|save|deliver|encode|produce|导出|输出|渲染|保存|导成|出片)"
             rf"(?:\s+(?:it|this|everything|the\s+(?:video|result|file|edit|final\s+(?:video|cut))|a\s+(?:video|file)))?"
             rf"(?:\s*(?:为|成|到)?\s*{_EXPORT_OPTS})?(?:视频|版本|格式)?",
             rf"(?:make\s+it\s+)?{_EXPORT_OPTS_ALONE}",
             rf"(?:(?:以|用|按)\s*)?{_EXPORT_OPTS}\s*(?:导出|输出|渲染|出片)")
)
