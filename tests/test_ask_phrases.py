"""The phrase table: plain words (English and Chinese, mixed) → intents, in the order said, pointing at the words."""

from __future__ import annotations

import pytest

from nemoflow.core.signatures import GRADE_PRESETS
from nemoflow.engines.local.ask.describe import describe
from nemoflow.engines.local.ask.intents import KINDS, Intent, NotUnderstood
from nemoflow.engines.local.ask.scanner import BadValue, parse

SHAKY = ("cut", {"what": "shaky"})
BLACK = ("cut", {"what": "black"})
FROZEN = ("cut", {"what": "frozen"})
SILENCE = ("cut", {"what": "silence"})
AUTO = ("grade", {"look": "auto"})
STAB = ("stabilize", {})
MUTE = ("mute", {})
V916 = ("reframe", {"num": 9, "den": 16, "mode": "crop"})
SQUARE = ("reframe", {"num": 1, "den": 1, "mode": "crop"})
WIDE = ("reframe", {"num": 16, "den": 9, "mode": "crop"})
NO_MUSIC = ("music", {"remove": True})


def look(name: str, amount: float | None = None) -> tuple[str, dict]:
    return ("grade", {"look": name} if amount is None else {"look": name, "amount": amount})


def title(text: str, seconds: float = 3.0, at: str = "start") -> tuple[str, dict]:
    return ("title", {"text": text, "seconds": seconds, "at": at})


def speed(factor: float) -> tuple[str, dict]:
    return ("speed", {"factor": factor})


def length(seconds: float) -> tuple[str, dict]:
    return ("length", {"seconds": seconds})


def fade(way: str, seconds: float = 1.0) -> tuple[str, dict]:
    return ("fade", {"dir": way, "seconds": seconds})


def export(long_edge: int | None = None, quality: str | None = None) -> tuple[str, dict]:
    return ("export", {"long_edge": long_edge, "quality": quality})


EXAMPLES: list[tuple[str, list[tuple[str, dict]]]] = [
    # the phrases
    ("speed up 2x", [speed(2.0)]),
    ("make it 30 seconds", [length(30.0)]),
    ("title 'Urban Dreams' for 3 seconds", [title("Urban Dreams")]),
    ("music at 35%", [("music", {"volume": 35.0})]),
    ("make it vertical", [V916]),
    ("trim the shaky clips, color grade, and export in 4K", [SHAKY, AUTO, export(3840)]),
    ("剪掉抖动，调色，然后导出4K", [SHAKY, AUTO, export(3840)]),
    ("调色导出4K", [AUTO, export(3840)]),
    # cut shaky
    ("trim the shaky clips", [SHAKY]),
    ("cut out shaky parts", [SHAKY]),
    ("remove the shaky footage", [SHAKY]),
    ("drop shaky shots", [SHAKY]),
    ("剪掉抖动", [SHAKY]),
    ("剪掉抖动的片段", [SHAKY]),
    ("去掉抖动的镜头", [SHAKY]),
    ("删除晃动的部分", [SHAKY]),
    # cut black / frozen
    ("cut black frames", [BLACK]),
    ("remove the black", [BLACK]),
    ("trim black at the start and end", [BLACK]),
    ("remove black or frozen spans", [BLACK, FROZEN]),
    ("cut black and frozen parts", [BLACK, FROZEN]),
    ("cut frozen and black parts", [FROZEN, BLACK]),
    ("remove freezes", [FROZEN]),
    ("cut frozen frames", [FROZEN]),
    ("去掉黑屏", [BLACK]),
    ("去掉黑场", [BLACK]),
    ("删除黑帧", [BLACK]),
    ("去掉卡顿", [FROZEN]),
    ("去掉静止画面", [FROZEN]),
    ("去掉定格", [FROZEN]),
    ("去掉黑屏和卡顿", [BLACK, FROZEN]),
    # silence
    ("remove silence", [SILENCE]),
    ("cut the silent parts", [SILENCE]),
    ("trim silences", [SILENCE]),
    ("cut out pauses", [SILENCE]),
    ("remove dead air", [SILENCE]),
    ("去掉静音", [SILENCE]),
    ("删除无声部分", [SILENCE]),
    ("剪掉停顿", [SILENCE]),
    # grade, automatic
    ("color grade", [AUTO]),
    ("colour grade", [AUTO]),
    ("grade the colors", [AUTO]),
    ("color correct", [AUTO]),
    ("color correction", [AUTO]),
    ("auto color", [AUTO]),
    ("fix the colors", [AUTO]),
    ("调色", [AUTO]),
    ("校色", [AUTO]),
    ("自动调色", [AUTO]),
    ("调一下颜色", [AUTO]),
    # grade, a look
    ("color grade teal-orange", [look("teal-orange")]),
    ("teal orange look", [look("teal-orange")]),
    ("grade it warm", [look("warm")]),
    ("make it warmer", [look("warm")]),
    ("black and white", [look("bw")]),
    ("b&w", [look("bw")]),
    ("vintage look", [look("vintage")]),
    ("give it a cinematic look", [look("film")]),
    ("cool tones", [look("cool")]),
    ("电影感", [look("film")]),
    ("黑白", [look("bw")]),
    ("暖色调", [look("warm")]),
    ("冷色调", [look("cool")]),
    ("复古", [look("vintage")]),
    ("青橙", [look("teal-orange")]),
    ("调成青橙色调", [look("teal-orange")]),
    ("teal-orange at 70%", [look("teal-orange", 70.0)]),
    ("teal-orange 70%", [look("teal-orange", 70.0)]),
    # stabilize
    ("stabilize", [STAB]),
    ("stabilise", [STAB]),
    ("stabilize the footage", [STAB]),
    ("steady the shots", [STAB]),
    ("remove camera shake", [STAB]),
    ("remove the shake", [STAB]),
    ("fix the shake", [STAB]),
    ("reduce shake", [STAB]),
    ("stabilize at 50%", [("stabilize", {"strength": 50.0})]),
    ("防抖", [STAB]),
    ("稳定画面", [STAB]),
    ("去抖", [STAB]),
    # reframe
    ("vertical", [V916]),
    ("portrait", [V916]),
    ("for tiktok", [V916]),
    ("for reels", [V916]),
    ("for youtube shorts", [V916]),
    ("square", [SQUARE]),
    ("make it square", [SQUARE]),
    ("widescreen", [WIDE]),
    ("landscape", [WIDE]),
    ("horizontal", [WIDE]),
    ("reframe to 4:5", [("reframe", {"num": 4, "den": 5, "mode": "crop"})]),
    ("crop to 1:1", [SQUARE]),
    ("aspect 21:9", [("reframe", {"num": 21, "den": 9, "mode": "crop"})]),
    ("9:16", [V916]),
    ("竖屏", [V916]),
    ("竖版", [V916]),
    ("改成竖屏", [V916]),
    ("方形", [SQUARE]),
    ("正方形", [SQUARE]),
    ("横屏", [WIDE]),
    ("横版", [WIDE]),
    ("make it vertical with a blurred background", [("reframe", {"num": 9, "den": 16, "mode": "blur"})]),
    ("vertical, blurred", [("reframe", {"num": 9, "den": 16, "mode": "blur"})]),
    ("竖屏模糊背景", [("reframe", {"num": 9, "den": 16, "mode": "blur"})]),
    ("widescreen letterbox", [("reframe", {"num": 16, "den": 9, "mode": "pad"})]),
    ("make it square with bars", [("reframe", {"num": 1, "den": 1, "mode": "pad"})]),
    ("pad to 16:9", [("reframe", {"num": 16, "den": 9, "mode": "pad"})]),
    ("竖屏加黑边", [("reframe", {"num": 9, "den": 16, "mode": "pad"})]),
    # title
    ("title 'Urban Dreams' for 3 seconds", [title("Urban Dreams")]),
    ("add the title “Urban Dreams”", [title("Urban Dreams")]),
    ("add a title 'X' at the end", [title("X", at="end")]),
    ("title 'X' for 2s", [title("X", 2.0)]),
    ("put 'X' as the title", [title("X")]),
    ("title 'Urban Dreams, Part 2'", [title("Urban Dreams, Part 2")]),
    ("title 'Don't Stop' for 4 seconds", [title("Don't Stop", 4.0)]),
    ("title 'The End'", [title("The End")]),
    ("标题「城市之梦」3秒", [title("城市之梦")]),
    ("加标题“城市之梦”", [title("城市之梦")]),
    ("添加标题《城市之梦》持续3秒", [title("城市之梦")]),
    ("片尾标题「完」", [title("完", at="end")]),
    ("片头标题「开始」两秒", [title("开始", 2.0)]),
    # music
    ("music volume 35%", [("music", {"volume": 35.0})]),
    ("set the music to 35%", [("music", {"volume": 35.0})]),
    ("lower the music to 35%", [("music", {"volume": 35.0})]),
    ("turn the music down to 35%", [("music", {"volume": 35.0})]),
    ("music 35%", [("music", {"volume": 35.0})]),
    ("music at 35 percent", [("music", {"volume": 35.0})]),
    ("背景音乐35%", [("music", {"volume": 35.0})]),
    ("音乐音量调到35%", [("music", {"volume": 35.0})]),
    ("背景音乐调到百分之三十五", [("music", {"volume": 35.0})]),
    ("fade out the music", [("music", {"fade_out": 2.0})]),
    ("fade out the music over 3s", [("music", {"fade_out": 3.0})]),
    ("music fade out 2s", [("music", {"fade_out": 2.0})]),
    ("音乐淡出", [("music", {"fade_out": 2.0})]),
    ("remove the music", [NO_MUSIC]),
    ("no music", [NO_MUSIC]),
    ("mute the music", [NO_MUSIC]),
    ("去掉背景音乐", [NO_MUSIC]),
    ("不要音乐", [NO_MUSIC]),
    # mute
    ("mute", [MUTE]),
    ("mute the original sound", [MUTE]),
    ("mute the original audio", [MUTE]),
    ("mute the clips", [MUTE]),
    ("静音", [MUTE]),
    ("关掉原声", [MUTE]),
    ("去掉原声", [MUTE]),
    # speed
    ("speed it up by 1.5x", [speed(1.5)]),
    ("2x speed", [speed(2.0)]),
    ("double the speed", [speed(2.0)]),
    ("play it twice as fast", [speed(2.0)]),
    ("slow down 0.5x", [speed(0.5)]),
    ("slow it down 2x", [speed(0.5)]),
    ("slow down to 0.5x", [speed(0.5)]),
    ("half speed", [speed(0.5)]),
    ("slow motion", [speed(0.5)]),
    ("speed up", [speed(2.0)]),
    ("slow down", [speed(0.5)]),
    ("speed x2", [speed(2.0)]),
    ("speed ×1.5", [speed(1.5)]),
    ("speed up 2 times", [speed(2.0)]),
    ("speed up by 50%", [speed(1.5)]),
    ("2倍速", [speed(2.0)]),
    ("两倍速", [speed(2.0)]),
    ("加速2倍", [speed(2.0)]),
    ("快放", [speed(2.0)]),
    ("慢放", [speed(0.5)]),
    ("放慢一半", [speed(0.5)]),
    ("0.5倍速", [speed(0.5)]),
    # length
    ("make it 30s long", [length(30.0)]),
    ("cut it to 30 seconds", [length(30.0)]),
    ("shorten it to 15s", [length(15.0)]),
    ("keep the first 20 seconds", [length(20.0)]),
    ("trim to 1 minute", [length(60.0)]),
    ("trim to 1:30", [length(90.0)]),
    ("make it 1m30s", [length(90.0)]),
    ("30-second version", [length(30.0)]),
    ("make it thirty seconds", [length(30.0)]),
    ("剪成30秒", [length(30.0)]),
    ("控制在30秒", [length(30.0)]),
    ("时长30秒", [length(30.0)]),
    ("缩短到十五秒", [length(15.0)]),
    ("剪成一分半", [length(90.0)]),
    ("剪成1分30秒", [length(90.0)]),
    ("剪成半分钟", [length(30.0)]),
    ("剪成一百二十秒", [length(120.0)]),
    ("剪成1分钟", [length(60.0)]),
    # fade
    ("fade in", [fade("in")]),
    ("fade out", [fade("out")]),
    ("fade in 2s", [fade("in", 2.0)]),
    ("fade out over 1.5 seconds", [fade("out", 1.5)]),
    ("fade in 500ms", [fade("in", 0.5)]),
    ("fade in and out", [fade("in"), fade("out")]),
    ("fade in 2s and fade out", [fade("in", 2.0), fade("out")]),
    ("淡入", [fade("in")]),
    ("淡出", [fade("out")]),
    ("淡入淡出", [fade("in"), fade("out")]),
    ("淡入2秒", [fade("in", 2.0)]),
    # export
    ("export in 4K", [export(3840)]),
    ("export 1080p", [export(1920)]),
    ("render in 720p", [export(1280)]),
    ("export at high quality", [export(None, "high")]),
    ("export in 4k high quality", [export(3840, "high")]),
    ("export in 4K, high quality", [export(3840, "high")]),
    ("4K", [export(3840)]),
    ("in 1080p", [export(1920)]),
    ("full hd", [export(1920)]),
    ("high quality", [export(None, "high")]),
    ("best quality", [export(None, "high")]),
    ("draft quality", [export(None, "draft")]),
    ("quick preview quality", [export(None, "draft")]),
    ("export", [export()]),
    ("render", [export()]),
    ("导出", [export()]),
    ("输出", [export()]),
    ("导出4K", [export(3840)]),
    ("导出1080p", [export(1920)]),
    ("高画质", [export(None, "high")]),
    ("高清", [export(1920)]),
    ("超清", [export(3840)]),
    ("草稿质量", [export(None, "draft")]),
    ("导出4K高画质", [export(3840, "high")]),
    # filler, courtesy, several intents, mixed languages
    ("please stabilize the footage and then export in 1080p", [STAB, export(1920)]),
    ("can you make it vertical, please?", [V916]),
    ("i want it vertical", [V916]),
    ("let's color grade, then just export", [AUTO, export()]),
    ("请把视频调成竖屏", [V916]),
    ("帮我调色一下，再导出4K", [AUTO, export(3840)]),
    ("stabilize 然后 make it square, 导出1080p", [STAB, SQUARE, export(1920)]),
    ("防抖，title 'Hi' 2s, 背景音乐35%", [STAB, title("Hi", 2.0), ("music", {"volume": 35.0})]),
    ("remove silence, mute and fade out", [SILENCE, MUTE, fade("out")]),
    ("去掉静音并静音", [SILENCE, MUTE]),
    ("cut shaky and black parts, stabilize", [SHAKY, BLACK, STAB]),
    ("i'd like it in black and white please", [look("bw")]),
    ("half as fast", [speed(0.5)]),
    ("speed up by half", [speed(1.5)]),
    ("3x slower", [speed(0.333333)]),
    ("slo-mo", [speed(0.5)]),
    ("高清导出", [export(1920)]),
    ("以4K高画质导出", [export(3840, "high")]),
    ("开头淡入2秒，结尾淡出3秒", [fade("in", 2.0), fade("out", 3.0)]),
    ("音乐最后3秒淡出", [("music", {"fade_out": 3.0})]),
]


@pytest.mark.parametrize(("instruction", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_phrases(instruction, expected):
    intents = parse(instruction)
    assert [(i.kind, i.args) for i in intents] == expected
    for intent in intents:
        assert instruction[intent.start:intent.end] == intent.text
        assert intent.text.strip() == intent.text and intent.text


def test_every_intent_kind_is_reachable_and_every_look_is_a_grade_preset():
    kinds = {kind for _, expected in EXAMPLES for kind, _ in expected}
    assert kinds == set(KINDS)
    looks = {args["look"] for _, expected in EXAMPLES for kind, args in expected if kind == "grade"} - {"auto"}
    assert looks <= set(GRADE_PRESETS)
    for preset in GRADE_PRESETS:
        name = {"teal-orange": "teal-orange", "bw": "black and white"}.get(preset, preset)
        assert parse(f"{name} look") == [Intent("grade", {"look": preset}, f"{name} look", 0, len(name) + 5)]


def test_spans_point_into_the_original_string():
    instruction = "Trim the shaky clips, then MAKE IT VERTICAL and export in 4K"
    intents = parse(instruction)
    assert [(i.text, i.start, i.end) for i in intents] == [
        ("Trim the shaky clips", 0, 20), ("MAKE IT VERTICAL", 27, 43), ("export in 4K", 48, 60)]


def test_full_width_and_expanding_characters_keep_original_spans():
    instruction = "调色，导出４Ｋ；ｆａｄｅ ｉｎ　５００㎳！"
    intents = parse(instruction)
    assert [(i.kind, i.args) for i in intents] == [AUTO, export(3840), fade("in", 0.5)]
    assert [i.text for i in intents] == ["调色", "导出４Ｋ", "ｆａｄｅ ｉｎ　５００㎳"]
    for intent in intents:
        assert instruction[intent.start:intent.end] == intent.text


def test_runs_of_spaces_read_as_one_but_spans_keep_them():
    instruction = "fade \t  in　　2s\n\nmute"
    intents = parse(instruction)
    assert [(i.kind, i.args, i.text) for i in intents] == [("fade", {"dir": "in", "seconds": 2.0}, "fade \t  in　　2s"), (*MUTE, "mute")]
    assert instruction[intents[1].start:intents[1].end] == "mute"


def test_long_input_stays_fast():
    assert len(parse("cut black" + " and frozen" * 500)) == 2
    with pytest.raises(NotUnderstood):
        parse("music" + " " * 5000 + "x" + " and" * 2000)


def test_title_words_are_kept_as_typed():
    instruction = "ＴＩＴＬＥ 'Urban Dreams, Part 2' for 3 seconds, then 淡出"
    intents = parse(instruction)
    assert intents[0].args == {"text": "Urban Dreams, Part 2", "seconds": 3.0, "at": "start"}
    assert intents[0].text == "ＴＩＴＬＥ 'Urban Dreams, Part 2' for 3 seconds"
    assert intents[1].kind == "fade"


def test_a_combined_phrase_gives_one_intent_per_thing_with_the_same_words():
    intents = parse("please remove black or frozen spans")
    assert [i.args["what"] for i in intents] == ["black", "frozen"]
    assert {(i.text, i.start, i.end) for i in intents} == {("remove black or frozen spans", 7, 35)}


def test_in_the_order_said():
    kinds = [i.kind for i in parse("export in 4K, 淡入, mute, color grade, speed up 2x, 剪掉抖动")]
    assert kinds == ["export", "fade", "mute", "grade", "speed", "cut"]


def parts_of(instruction: str) -> list[str]:
    with pytest.raises(NotUnderstood) as err:
        parse(instruction)
    for start, end, text in err.value.parts:
        assert instruction[start:end] == text
    return [text for _, _, text in err.value.parts]


def test_unknown_phrase():
    with pytest.raises(NotUnderstood) as err:
        parse("make it pop")
    assert err.value.parts == [(0, 11, "make it pop")]
    assert "make it pop" in str(err.value)


def test_every_unknown_part_is_reported_and_nothing_else():
    assert parts_of("trim the shaky clips and make it pop, then sparkle") == ["make it pop", "sparkle"]
    assert parts_of("sparkle, 调色, 闪闪发光") == ["sparkle", "闪闪发光"]


def test_unknown_words_within_a_clause_are_never_dropped():
    assert parts_of("color grade the sky") == ["the sky"]
    assert parts_of("stabilize the") == ["the"]
    assert parts_of("speed up 2x wow") == ["wow"]
    assert parts_of("export to mp4") == ["to mp4"]


def test_unknown_part_keeps_quoted_separators():
    assert parts_of("sparkle 'a, b' then mute") == ["sparkle 'a, b'"]


@pytest.mark.parametrize("instruction", ["", "   ", "please", "and then", "，"])
def test_nothing_to_do_is_not_understood(instruction):
    with pytest.raises(NotUnderstood):
        parse(instruction)


@pytest.mark.parametrize(("instruction", "message", "words"), [
    ("speed up 0x", "speed 0x is out of range: use 0.1x–10x", "0x"),
    ("speed 20x", "speed 20x is out of range: use 0.1x–10x", "20x"),
    ("music at 900%", "music volume 900% is out of range: use 0%–400%", "900%"),
    ("背景音乐百分之五百", "music volume 500% is out of range: use 0%–400%", "百分之五百"),
    ("title for 3 seconds", "say the title's words in quotes", "title for 3 seconds"),
    ("片头标题", "say the title's words in quotes", "片头标题"),
    ("title ''", "the title is empty", "''"),
    ("make it 0 seconds", "length 0s is out of range", "0 seconds"),
    ("aspect 1:30", "aspect 1:30 is out of range", "aspect 1:30"),
    ("teal-orange at 150%", "grade amount 150% is out of range: use 0%–100%", "150%"),
    ("export in 4K and 720p", "say one size", "export in 4K and 720p"),
    ("title 'Urban Dreams", "quotes are not closed", "title"),
    ("make it pop, speed up 0x", "speed 0x is out of range", "0x"),
])
def test_bad_values(instruction, message, words):
    with pytest.raises(BadValue) as err:
        parse(instruction)
    bad = err.value
    assert isinstance(bad, ValueError)
    assert message in bad.message and message in str(bad)
    assert (bad.text, instruction[bad.start:bad.end]) == (words, words)


def test_describe():
    def said(instruction: str) -> list[str]:
        return [describe(i) for i in parse(instruction)]

    assert said("trim the shaky clips, remove silence") == ["cut shaky spans", "cut silent spans"]
    assert said("title 'Urban Dreams' for 3 seconds") == ["title “Urban Dreams” 0–3s"]
    assert said("片尾标题「完」2秒") == ["title “完” for the last 2s"]
    assert said("music at 35%, fade out the music, no music") == ["music at 35%", "fade out the music over 2s", "remove the music"]
    assert said("speed up 2x, slow down 0.5x") == ["speed ×2", "speed ×0.5"]
    assert said("make it vertical, square with a blurred background") == ["reframe to 9:16 (crop)", "reframe to 1:1 (blur)"]
    assert said("export in 1080p high quality") == ["export: 1080p, high quality"]
    assert said("export, 4K") == ["export", "export: 4K"]
    assert said("color grade, teal-orange at 70%, stabilize") == ["color grade (auto)", "grade teal-orange at 70%", "stabilize"]
    assert said("mute, make it 30 seconds, fade in 2s") == ["mute the clips' own sound", "keep the first 30s", "fade in 2s"]


def test_deterministic():
    instruction = "trim the shaky clips, color grade, and export in 4K; 标题「城市之梦」3秒，淡入淡出"
    first, second = parse(instruction), parse(instruction)
    assert first == second
    assert [i.to_json() for i in first] == [i.to_json() for i in second]
