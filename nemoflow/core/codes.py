"""Every diagnostic code, declared once: its id, title, severity, who finds it, and an example.

A code names exactly one kind of problem, so a user (or an editor, or CI)
can look it up in docs/errors.md and a test can prove the example really
produces it. The parser and checker pass these constants, never a bare
"E206"; `Diagnostic.code` still holds the plain id string, which is what
`check --json` prints.

This module is on `nemoflow check`'s start-up path: plain Python and attrs only.
Regenerate the reference with `python3 -m nemoflow.core.codes > docs/errors.md`.
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

FoundBy = Literal["parser", "checker", "engine"]

_ID = re.compile(r"^[EW][0-9]{3}$")  # the pattern schemas/diagnostics.schema.json allows


def _pairs(value) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(value.items())) if isinstance(value, dict) else tuple(value)


# A text file `check` takes for a video (three MPEG-TS packets' sync bytes, `G` every 188 bytes; it reads no further),
# for examples that need a media file to exist.
_A_VIDEO = ("G" + "." * 187) * 3


@attrs.frozen
class Code:
    """One kind of problem. `E…` codes are errors, `W…` codes warnings.

    An example is either a small recipe (`example`, checked by tests/test_codes.py,
    with any `files` it needs beside it, `--set` values and a `--params` file), or,
    where no small recipe can show it (a 10 MB file, a file that is not UTF-8),
    a sentence in `words`.
    """

    id: str = attrs.field()
    title: str
    found_by: FoundBy = "checker"
    example: str | None = None
    words: str | None = None
    files: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)  # (name, text); a name ending in / is a folder
    sets: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)  # --set NAME=VALUE
    params_file: str | None = None  # --params FILE (FILE is one of `files`, or missing on purpose)

    @id.validator
    def _check_id(self, _attribute, value: str) -> None:
        if not _ID.match(value):
            raise ValueError(f"a diagnostic code is E or W and three digits, got {value!r}")

    @property
    def severity(self) -> str:
        return "warning" if self.id.startswith("W") else "error"

    def __str__(self) -> str:
        return self.id


# ---- reading the file (parser) ------------------------------------------------------------------------------

RECIPE_TOO_LARGE = Code("E001", "recipe file too large", "parser",
                        words="a file over 10 MB given as a recipe, e.g. `nemoflow check clip.mp4`")
NOT_UTF8 = Code("E002", "recipe is not UTF-8", "parser",
                words="a recipe saved in another encoding, e.g. Latin-1 text with `é` in a title")
NO_SUCH_FILE = Code("E003", "no such recipe file", "parser",
                    words="`nemoflow check missing.nemo` where there is no file `missing.nemo`")
CONTROL_CHARACTER = Code("E004", "control character in recipe", "parser",
                         example='nemo 1\nmedia a = "a.mp4"\x1b\n')
RECIPE_IS_DIRECTORY = Code("E005", "recipe path is a directory", "parser",
                           words="`nemoflow check footage/`, a folder rather than a recipe file")
UNREADABLE_FILE = Code("E006", "cannot read recipe file", "parser",
                       words="a recipe file this user may not read (permission denied)")

# ---- syntax (parser) -----------------------------------------------------------------------------------------

EMPTY_RECIPE = Code("E100", "empty recipe", "parser", example="# nothing here yet\n")
UNEXPECTED_CHARACTER = Code("E101", "unexpected character", "parser", example='nemo 1\nmedia a = "a.mp4" ;\n')
UNTERMINATED_STRING = Code("E102", "unterminated string", "parser", example='nemo 1\nmedia a = "a.mp4\n')
UNCLOSED_BLOCK = Code("E103", "block never closed", "parser", example="nemo 1\nedit cut {\n  video a\n")
UNEXPECTED_END = Code("E104", "unexpected end of file", "parser", example='nemo 1\nfor x in ["a"\n')
KNOWN_MISTAKE = Code("E105", "common syntax mistake", "parser", example='nemo 1\nmedia city "city.mp4"\n')
MISSING_HEADER = Code("E106", "missing `nemo 1` header", "parser", example='media city = "city.mp4"\n')
UNKNOWN_STATEMENT = Code("E107", "unknown statement", "parser", example='nemo 1\nmedai city = "city.mp4"\n')
HEADER_IN_BLOCK = Code("E108", "`nemo` header inside a block", "parser", example='nemo 1\nfor x in ["a"] {\nnemo 1\n}\n')
UNEXPECTED_TOKEN = Code("E109", "unexpected token", "parser", example='nemo 1\nmedia city = "city.mp4" = 2s\n')
NOT_A_VALUE = Code("E110", "not a single value", "parser",
                   words="`parse_value(\"4k 2\")`, reading a `--set` value that is not one value; "
                         "`nemoflow check` reports such a `--set` as E216")
UNSUPPORTED_VERSION = Code("E120", "unsupported recipe version", "parser", example="nemo 2\n")
BAD_LITERAL = Code("E130", "malformed literal", "parser", example="nemo 1\nmedia bed = tone 440hz duration 10sec\n")
NUL_IN_STRING = Code("E131", "string holds a NUL character", "parser", example='nemo 1\nparam t = "a\\0b"\n')

# ---- includes and engine -------------------------------------------------------------------------------------

INCLUDE_INTERPOLATED = Code("E201", "include path uses `${…}`",
                            example='nemo 1\nparam part = "intro"\ninclude "${part}.nemo"\n')
INCLUDE_CYCLE = Code("E202", "include cycle", example='nemo 1\ninclude "recipe.nemo"\n')
INCLUDE_NOT_FOUND = Code("E203", "included file not found", example='nemo 1\ninclude "common.nemo"\n')
INCLUDE_IN_LOOP = Code("E204", "`include` inside a `for` loop",
                       example='nemo 1\nfor x in ["a"] {\n  include "common.nemo"\n}\n')
ENGINE_IN_LOOP = Code("E205", "`engine` inside a `for` loop", example='nemo 1\nfor x in ["a"] {\n  engine nemo\n}\n')
UNKNOWN_ENGINE = Code("E206", "unknown engine", example="nemo 1\nengine clod\n")
SECOND_ENGINE = Code("E207", "a second `engine` statement", example="nemo 1\nengine local\nengine nemo\n")
INCLUDE_IS_DIRECTORY = Code("E208", "included path is a directory", example='nemo 1\ninclude "parts"\n', files={"parts/": ""})
INCLUDE_NOT_RECIPE = Code("E209", "included file is not a recipe", example='nemo 1\ninclude "notes.txt"\n',
                          files={"notes.txt": "milk, eggs\n"})

# ---- params --------------------------------------------------------------------------------------------------

PARAM_IN_LOOP = Code("E210", "`param` inside a `for` loop", example='nemo 1\nfor x in ["a"] {\n  param size = 4k\n}\n')
DUPLICATE_PARAM = Code("E211", "duplicate param", example="nemo 1\nparam size = 4k\nparam size = 1080p\n")
UNKNOWN_PARAM_TYPE = Code("E212", "unknown param type", example="nemo 1\nparam size: dimension = 4k\n")
PARAM_WITHOUT_VALUE = Code("E213", "param has no value", example="nemo 1\nparam size: resolution\n")
NO_SUCH_PARAM = Code("E214", "`--set` or params file names no param of the recipe",
                     example="nemo 1\nparam size = 4k\n", sets={"sise": "1080p"})
PARAMS_FILE_UNREADABLE = Code("E215", "cannot read params file", example="nemo 1\nparam size = 4k\n",
                              params_file="missing.toml")
PARAM_TYPE_MISMATCH = Code("E216", "param value does not fit its type", example="nemo 1\nparam count: int = 2s\n")
PARAM_NOT_LITERAL = Code("E217", "param value is not a literal", example="nemo 1\nparam a = 4k\nparam b = $a\n")
PARAMS_FILE_INVALID = Code("E218", "params file is not valid TOML or JSON", example="nemo 1\nparam size = 4k\n",
                           files={"params.toml": "size = \n"}, params_file="params.toml")
PARAMS_FILE_NOT_TABLE = Code("E219", "params file is not a table of values", example="nemo 1\nparam size = 4k\n",
                             files={"params.json": '["4k"]\n'}, params_file="params.json")

# ---- declarations and loops ----------------------------------------------------------------------------------

NAME_IS_LOOP_VARIABLE = Code("E220", "step named like the loop variable",
                             example='nemo 1\nfor clip in ["a"] {\n  media clip = "a.mp4"\n}\n')
DUPLICATE_NAME = Code("E221", "duplicate step name",
                      example="nemo 1\nmedia a = pattern bars duration 5s\nmedia a = pattern grid duration 5s\n")
LOOP_VARIABLE_HIDES_PARAM = Code("E222", "loop variable hides a param",
                                 example='nemo 1\nparam look = "warm"\nfor look in ["cool"] {\n}\n')
DUPLICATE_LOOP_KEY = Code("E223", "two loop items give the same step name", example='nemo 1\nfor x in ["a", "a"] {\n}\n')
GLOB_NAME_CLASH = Code("E224", "two globbed files get the same step name",
                       example='nemo 1\nfor clip in glob("a/*.mp4") {\n}\nfor clip in glob("b/*.mp4") {\n}\n',
                       files={"a/city.mp4": _A_VIDEO, "b/city.mp4": _A_VIDEO})
GLOB_NO_MATCH = Code("E225", "glob matched no files", example='nemo 1\nfor clip in glob("footage/*.mp4") {\n}\n')
FANOUT_TOO_LARGE = Code("E226", "loop over too many items",
                        words="a `for` loop over a list, a list param or a glob of more than 10,000 items")
LOOP_OVER_NON_LIST = Code("E227", "loop over something that is not a list",
                          example="nemo 1\nparam n = 3\nfor x in $n {\n}\n")
BAD_LOOP_KEY = Code("E228", "loop item cannot name a step", example='nemo 1\nfor x in ["a]"] {\n}\n')
LOOP_VARIABLE_HIDES_STEP = Code("E229", "loop variable hides a step",
                                example='nemo 1\nmedia bars = pattern bars duration 5s\nfor bars in ["a"] {\n}\n')

# ---- values --------------------------------------------------------------------------------------------------

UNKNOWN_PARAM = Code("E230", "unknown param", example="nemo 1\nparam n = [1, 2]\nfor x in $m {\n}\n")
UNKNOWN_INTERPOLATION = Code("E231", "unknown name in `${…}`",
                             example='nemo 1\nfor x in ["a"] {\n  media m = "${y}.mp4"\n}\n')
UNKNOWN_FIELD = Code("E232", "unknown field in `${…}`",
                     example='nemo 1\nfor clip in glob("*.mp4") {\n  media m = "${clip.stm}.mp4"\n}\n',
                     files={"a.mp4": _A_VIDEO})
BARE_NAME_IN_LOOP = Code("E233", "bare name in a loop's list",
                         words="a loop item written as a bare name; the grammar admits only values in a list, "
                               "so this is a safeguard that no recipe reaches today")
TEXT_NEEDS_QUOTES = Code("E240", "text without quotes",
                         example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  title Hello\n}\n")
UNKNOWN_COLOR = Code("E241", "unknown color name", example="nemo 1\nmedia bg = color blu duration 5s\n")
NOT_POSITIVE_DURATION = Code("E242", "duration not longer than 0s", example="nemo 1\nmedia bars = pattern bars duration 0s\n")
OUT_OF_RANGE = Code("E243", "value out of range",
                    example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  volume 900%\n}\n")
TYPE_MISMATCH = Code("E244", "value of the wrong type",
                     example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  volume 2s\n}\n")
NOT_A_CHOICE = Code("E245", "not one of the words it takes",
                    example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  transition 2s\n"
                            "  video bars\n}\n")
UNKNOWN_CHOICE = Code("E246", "word it does not take",
                      example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  transition swirl\n"
                              "  video bars\n}\n")
LUT_NOT_FOUND = Code("E247", "LUT file not found",
                     example='nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  grade "looks/film.cube"\n}\n')
FONT_NOT_FOUND = Code("E239", "font file not found",
                      example='nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n'
                              '  title "Hi" font "fonts/brand.ttf"\n}\n')
UNKNOWN_LOOK = Code("E248", "unknown look",
                    example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  grade sepia\n}\n")
UNKNOWN_SIZE = Code("E249", "unknown size name",
                    example='nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n}\n'
                            'export final = cut {\n  size huge\n  save "out/final.mp4"\n}\n')

# ---- references ----------------------------------------------------------------------------------------------

NOT_A_STEP_NAME = Code("E250", "a step name expected", example='nemo 1\nedit cut {\n  video "city.mp4"\n}\n')
LOOP_VALUE_NOT_STEP = Code("E251", "loop value used as a step",
                           example='nemo 1\nfor x in ["a"] {\n  edit cut {\n    video x\n  }\n}\n')
WRONG_STEP_KIND = Code("E252", "step of the wrong kind",
                       example='nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n}\n'
                               'export final = cut {\n  save "out/final.mp4"\n}\nedit again {\n  video final\n}\n')
UNKNOWN_NAME = Code("E253", "unknown name", example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bras\n}\n")
NO_SUCH_INSTANCE = Code("E254", "no such fanned-out step",
                        example='nemo 1\nfor look in ["warm", "cool"] {\n  media bars = pattern bars duration 5s\n}\n'
                                "edit cut {\n  video bars[hot]\n}\n")
FANNED_OUT_NAME = Code("E255", "fanned-out name used outside its loop",
                       example='nemo 1\nfor look in ["warm", "cool"] {\n  media bars = pattern bars duration 5s\n}\n'
                               "edit cut {\n  video bars\n}\n")

# ---- clauses (signature matching) ----------------------------------------------------------------------------

GIVEN_TWICE = Code("E260", "option given twice",
                   example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars from 1s from 2s\n}\n")
MISSING_KEYWORD_VALUE = Code("E261", "missing value after a keyword",
                             example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars from\n}\n")
MISSING_ARGUMENT = Code("E262", "missing required argument", example="nemo 1\nedit cut {\n  video\n}\n")
NEEDS_ONE_OF = Code("E263", "needs at least one option",
                    example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  trim\n}\n")
UNEXPECTED_ARGUMENT = Code("E264", "argument not taken here",
                           example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars frm 1s\n}\n")
CLAUSE_NOT_A_VERB = Code("E265", "line does not start with an operation",
                         example='nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  "hello"\n}\n')
UNKNOWN_OPERATION = Code("E266", "unknown operation or setting",
                         example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  sharpen 10%\n}\n")

# ---- media ---------------------------------------------------------------------------------------------------

MEDIA_NOT_A_PATH = Code("E270", "media source is not a path", example="nemo 1\nmedia clip = 3s\n")
MEDIA_FILE_OPTIONS = Code("E271", "options on a media file", example='nemo 1\nmedia clip = "clip.mp4" from 2s\n',
                          files={"clip.mp4": ""})
UNKNOWN_GENERATOR = Code("E272", "unknown media source", example="nemo 1\nmedia clip = noize duration 2s\n")
UNSUPPORTED_URL = Code("E273", "unsupported URL", example='nemo 1\nmedia clip = "ftp://example.com/clip.mp4"\n')
EMPTY_MEDIA_PATH = Code("E274", "empty media path", example='nemo 1\nmedia clip = ""\n')
UNSUPPORTED_MEDIA_TYPE = Code("E275", "unsupported media type", example='nemo 1\nmedia notes = "notes.txt"\n')
MEDIA_IS_DIRECTORY = Code("E276", "media path is a directory", example='nemo 1\nmedia clip = "footage.mp4"\n',
                          files={"footage.mp4/": ""})
MEDIA_NOT_FOUND = Code("E277", "media file not found", example='nemo 1\nmedia clip = "footage/clip.mp4"\n')
BROKEN_MEDIA = Code("E278", "media file that no render can use", example='nemo 1\nmedia clip = "clip.mp4"\n',
                    files={"clip.mp4": "notes from the shoot, not a video\n"})
MEDIA_WRONG_KIND = Code("E279", "media used as another kind than it holds",
                        example='nemo 1\nmedia song = "song.mp3"\nedit cut {\n  video song\n}\n',
                        files={"song.mp3": "ID344     an MP3 file's tag, then its sound"})

# ---- edits and asks ------------------------------------------------------------------------------------------

TRANSITION_FIRST = Code("E280", "transition before any clip",
                        example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  transition crossfade\n  video bars\n}\n")
TRANSITION_LAST = Code("E281", "nothing follows a transition",
                       example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  transition crossfade\n}\n")
EDIT_WITHOUT_CLIPS = Code("E282", "edit has no clips", example="nemo 1\nedit cut {\n  mute\n}\n")
TO_AND_FOR = Code("E283", "both `to` and `for`",
                  example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars from 1s to 3s for 2s\n}\n")
OUT_BEFORE_IN = Code("E284", "out-point not after in-point",
                     example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars from 3s to 1s\n}\n")
POINT_PAST_END = Code("E285", "in- or out-point past the end of the source",
                      example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars from 1s to 8s\n}\n")
EMPTY_INSTRUCTION = Code("E286", "empty instruction",
                         example='nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n}\nask polish = cut ""\n')
LENGTH_PAST_END = Code("E287", "`for` runs past the end of the source",
                       example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars from 2s for 4s\n}\n")
AUDIO_CODEC_CONTAINER = Code("E288", "audio codec the container cannot hold",
                             example='nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n}\n'
                                     'export final = cut {\n  format mp4\n  audio opus\n}\n')

# ---- exports -------------------------------------------------------------------------------------------------

_EXPORT = "nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n}\nexport final = cut {\n"

SETTING_TWICE = Code("E290", "export setting given twice", example=_EXPORT + "  format mp4\n  format mov\n}\n")
SAVE_WITHOUT_NAME = Code("E291", "`save` without a file name", example=_EXPORT + '  save "out/"\n}\n')
SAVE_WITHOUT_EXTENSION = Code("E292", "`save` without a file extension", example=_EXPORT + '  save "out/final"\n}\n')
UNKNOWN_SAVE_EXTENSION = Code("E293", "`save` to a file type exports cannot write", example=_EXPORT + '  save "out/final.avi"\n}\n')
SAVE_FORMAT_MISMATCH = Code("E294", "`save` extension and `format` disagree",
                            example=_EXPORT + '  format mov\n  save "out/final.mp4"\n}\n')
SAVE_IS_DIRECTORY = Code("E295", "`save` points at a directory", example=_EXPORT + '  save "final.mp4"\n}\n',
                         files={"final.mp4/": ""})
SAVE_IN_CACHE = Code("E296", "`save` inside the .nemoflow cache", example=_EXPORT + '  save ".nemoflow/final.mp4"\n}\n')
VIDEO_CODEC_CONTAINER = Code("E297", "video codec the container cannot hold", example=_EXPORT + "  format webm\n  codec h264\n}\n")
SIZE_NOT_ENCODABLE = Code("E298", "output size not encodable", example=_EXPORT + "  size 1081x1920\n}\n")
CRF_AND_BITRATE = Code("E299", "both `crf` and `bitrate`", example=_EXPORT + "  crf 20\n  bitrate 8Mbps\n}\n")

# ---- expects -------------------------------------------------------------------------------------------------

_EXPECT = _EXPORT + '  save "out/final.mp4"\n}\n'

SECOND_EXPECT = Code("E300", "a second `expect` for one export",
                     example=_EXPECT + "expect final {\n  has audio\n}\nexpect final {\n  has video\n}\n")
EXPECT_LOOP_VARIABLE = Code("E301", "`expect` names the loop variable",
                            example='nemo 1\nfor x in ["a"] {\n  expect x {\n    has audio\n  }\n}\n')
EXPECT_NOT_EXPORT = Code("E302", "`expect` names a step that is not an export",
                         example="nemo 1\nmedia bars = pattern bars duration 5s\nexpect bars {\n  has audio\n}\n")
UNKNOWN_HAS_CHECK = Code("E310", "unknown `has` check", example=_EXPECT + "expect final {\n  has subtitles\n}\n")
UNKNOWN_PROPERTY = Code("E311", "unknown property", example=_EXPECT + "expect final {\n  colour == red\n}\n")
UNORDERED_COMPARISON = Code("E312", "ordered comparison of an unordered property",
                            example=_EXPECT + "expect final {\n  codec < h264\n}\n")
APPROX_NOT_APPLICABLE = Code("E313", "`~=` on a property it does not apply to",
                             example=_EXPECT + "expect final {\n  width ~= 1080\n}\n")
UNKNOWN_NO_CHECK = Code("E314", "unknown `no` check", example=_EXPECT + "expect final {\n  no subtitles\n}\n")
LOOKS_LIKE_FORM = Code("E315", "malformed `frame at … looks like` check",
                       example=_EXPECT + 'expect final {\n  frame at 2s looks like "golden/2s.png" sharpness >= 0.9\n}\n')
EXPECT_VALUE_RANGE = Code("E316", "expect threshold out of range",
                          example=_EXPECT + 'expect final {\n  frame at 2s looks like "golden/2s.png" ssim >= 1.5\n}\n')
GOLDEN_NOT_PNG = Code("E317", "golden picture that is not a .png file",
                      example=_EXPECT + 'expect final {\n  frame at 2s looks like "golden/2s.jpg" ssim >= 0.9\n}\n')
TRACKS_FORM = Code("E318", "malformed `tracks` value, or several values for a one-value property",
                   example=_EXPECT + "expect final {\n  tracks == 1 video + audio\n}\n")
UNKNOWN_WITHIN_CHECK = Code("E319", "unknown `within` check", example=_EXPECT + "expect final {\n  lip sync within 20ms\n}\n")

# ---- the whole recipe ----------------------------------------------------------------------------------------

DEPENDENCY_CYCLE = Code("E320", "dependency cycle", example="nemo 1\nedit a = b {\n  mute\n}\nedit b = a {\n  mute\n}\n")
OVERWRITES_SOURCE = Code("E330", "export would overwrite source media",
                         example='nemo 1\nmedia clip = "clip.mp4"\nedit cut {\n  video clip\n}\n'
                                 'export final = cut {\n  save "clip.mp4"\n}\n',
                         files={"clip.mp4": _A_VIDEO})
SAME_OUTPUT = Code("E331", "two exports write the same file",
                   example=_EXPECT + 'export again = cut {\n  save "out/final.mp4"\n}\n')
SAVE_OUTSIDE = Code("E332", "`save` outside the recipe's folder", example=_EXPORT + '  save "../final.mp4"\n}\n')

# ---- limits (nemoflow/core/limits.py) -----------------------------------------------------------------------

RECIPE_TOO_MANY_TOKENS = Code("E340", "recipe too large to check", "parser",
                              words="a recipe (with its includes) of more than 150,000 tokens, e.g. 30,000 `media` lines")
NESTING_TOO_DEEP = Code("E341", "nested too deeply", "parser", example="nemo 1\nparam p = " + "[" * 33 + "]" * 33 + "\n")
STRING_TOO_LONG = Code("E342", "string, name or number too long", "parser",
                       words="a string of more than 100,000 characters, or a name or number of more than 1,000")
NUMBER_TOO_LARGE = Code("E343", "number too large", "parser", example="nemo 1\nparam n = 1000000000000000000\n")
TOO_MANY_STEPS = Code("E344", "too many steps after fan-out",
                      words="six nested `for` loops over 20 items each: 64 million steps, over the limit of 50,000")
DURATION_TOO_LONG = Code("E345", "duration longer than the limit", example="nemo 1\nmedia bars = pattern bars duration 10000h\n")
PARAMS_FILE_TOO_LARGE = Code("E346", "params file too large", words="`--params` naming a file of more than 1 MB")
EXPANDED_TOO_LARGE = Code("E348", "recipe too large after fan-out",
                          words="a loop of 2,000 items around an edit of 3,000 lines: 6 million clauses once expanded, "
                                "over the limit of 1,000,000 values")
TOO_MANY_REFERENCES = Code("E347", "too many references after fan-out",
                           words="`concat m` inside a loop of 4,000 items, where `m` is fanned out over 4,000: "
                                 "16 million references, over the limit of 200,000")
GLOB_TOO_WIDE = Code("E349", "glob searches too many folders",
                     words="`glob(\"/**/*.mp4\")`: a search of the whole file system, over the limit of 10,000 folders")

# ---- warnings ------------------------------------------------------------------------------------------------

EMPTY_LOOP = Code("W201", "loop over nothing", example="nemo 1\nfor x in [] {\n}\n")
UNUSED_PARAM = Code("W210", "param never used", example=_EXPECT + "param size = 4k\n")
UNUSED_MEDIA = Code("W211", "media never used", example=_EXPECT + "media bed = tone 220hz duration 5s\n")
NO_EXPORT = Code("W212", "recipe has no export", example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n}\n")
MEDIA_CONTENT_MISMATCH = Code("W213", "media content does not match its file name",
                              example='nemo 1\nmedia pic = "pic.mp4"\nedit cut {\n  image pic for 2s\n}\n'
                                      'export final = cut {\n  save "out/final.mp4"\n}\n', files={"pic.mp4": "GIF89a, a picture"})

# ---- layers (issue 17) ------------------------------------------------------------------------------------------

EASE_WITHOUT_MOTION = Code("E350", "`ease` on an overlay that does not move",
                           example="nemo 1\nmedia bars = pattern bars duration 5s\nmedia logo = color red duration 5s\n"
                                   "edit cut {\n  video bars\n  overlay logo at top-right ease in-out\n}\n")
PLACE_OVERRIDDEN = Code("W220", "`at` (or `move`) with both x and y given: it has no effect",
                        example=_EXPECT.replace("  video bars\n", "  video bars\n  overlay bars width 20% at top x 5% y 5%\n"))
LAYER_KEYWORD_NO_EFFECT = Code("W221", "an overlay keyword with no effect (`fit`, `origin`, or `skip`/`volume` on a still)",
                               example=_EXPECT.replace("  video bars\n", "  video bars\n  overlay bars width 20% fit crop\n"))
CAPTION_STYLE_SOFT = Code("W222", "a look keyword on `soft` captions (the player draws them in its own style)",
                         example='nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n'
                                 '  captions [[0s, 2s, "Hello"]] soft color yellow\n}\nexport out = cut {\n  save "out.mp4"\n}\n')

# ---- transitions (issue 17) -----------------------------------------------------------------------------------

EASE_ON_A_CUT = Code("E358", "`ease` on a `transition cut`",
                     example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n"
                             "  transition cut ease in\n  video bars\n}\n")

# ---- motion and backgrounds (issue 17) ------------------------------------------------------------------------

KENBURNS_PAN_WITHOUT_ROOM = Code("E363", "`kenburns … pan` with no room to pan (100% zoom at both ends)",
                                 example="nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n"
                                         "  kenburns from 100% to 100% pan left\n}\n")
GRADIENT_ANGLE_ON_RADIAL = Code("E364", "`angle` on a radial gradient",
                                example="nemo 1\nmedia bg = gradient radial #ffffff #000000 angle 45 duration 2s\n"
                                        "edit cut {\n  video bg\n}\n")
GRADIENT_COLOR_COUNT = Code("E365", "a gradient of fewer than 2 or more than 8 colours",
                            example="nemo 1\nmedia bg = gradient #1e3c72 duration 2s\nedit cut {\n  video bg\n}\n")

# ---- mix and output (issue 17) ---------------------------------------------------------------------------------

MASTER_VOLUME_WITH_LOUDNESS = Code("E371", "master `volume` on an export whose edit sets `loudness`",
                                   example="nemo 1\nmedia bars = pattern bars duration 5s tone 440hz\nedit cut {\n  video bars\n"
                                           "  loudness -14 LUFS\n}\nexport final = cut {\n  volume -3dB\n}\n")
SOUND_SETTING_SILENT_FORMAT = Code("E372", "a sound setting on a GIF or WebP export (they hold no sound)",
                                   example=_EXPORT + "  format gif\n  audio aac\n}\n")
RATE_SETTING_PICTURE_FORMAT = Code("E373", "`crf` or `bitrate` on a GIF or WebP export",
                                   example=_EXPORT + "  format webp\n  crf 20\n}\n")
AUDIO_CHECK_SILENT_FORMAT = Code("E374", "a sound check on a GIF or WebP export",
                                 example=_EXPORT + '  save "out/final.gif"\n}\nexpect final {\n  has audio\n}\n')
AUDIO_FIT_WITH_AT = Code("E375", "`audio … fit` with `at`",
                         example="nemo 1\nmedia bars = pattern bars duration 5s\nmedia fx = tone 440hz duration 2s\n"
                                 "edit cut {\n  video bars\n  audio fx at 1s fit cut\n}\n")

# ---- variants from a table (issue 21, docs/variants.md) --------------------------------------------------------

_ROWS = 'nemo 1\nfor row in table("shots.csv") {\n}\n'
_SHOTS = "sku,title,end\nmug-1,Mug,2s\nhat-2,Hat,3s\n"

TABLE_NOT_FOUND = Code("E380", "table file not found", example=_ROWS)
TABLE_UNREADABLE = Code("E381", "table file cannot be read (not CSV/JSON/JSONL/TOML, or malformed)",
                        example=_ROWS, files={"shots.csv": 'sku,title\nmug-1,"Mug\n'})
EMPTY_TABLE = Code("E382", "table with no rows", example=_ROWS, files={"shots.csv": "sku,title\n"})
UNKNOWN_COLUMN = Code("E383", "a column the table does not have",
                      example='nemo 1\nfor row in table("shots.csv") key row.skew {\n}\n', files={"shots.csv": _SHOTS})
DUPLICATE_ROW_KEY = Code("E384", "two rows with the same key", example=_ROWS,
                         files={"shots.csv": "sku,title\nmug-1,Mug\nmug-1,Cup\n"})
BAD_CELL = Code("E385", "a cell that cannot be read as a value (unknown unit)",
                example='nemo 1\nmedia bars = pattern bars duration 5s\nfor row in table("shots.csv") {\n'
                        '  edit cut {\n    video bars\n    trim to $row.end\n  }\n'
                        '  export final = cut {\n    save "out/${row.sku}.mp4"\n  }\n}\n',
                files={"shots.csv": "sku,end\nmug-1,2sec\n"})
KEY_NOT_LOOP_VARIABLE = Code("E386", "`key` names another variable than the loop's",
                             example='nemo 1\nfor row in table("shots.csv") key line.sku {\n}\n',
                             files={"shots.csv": _SHOTS})

# ---- captions (issue 21, docs/captions.md) ---------------------------------------------------------------------

_CAPTIONS = 'nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n  captions "talk.srt"\n}\n'
_CAPTIONS_CHECK = ('nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n'
                   '  captions [[0s, 2s, "Hello"]]\n}\nexport out = cut {\n  save "out.mp4"\n}\nexpect out {\n')

CAPTIONS_NOT_FOUND = Code("E390", "captions file not found", example=_CAPTIONS)
CAPTIONS_FILE_TYPE = Code("E391", "a captions file that is not .srt or .vtt",
                          example=_CAPTIONS.replace("talk.srt", "talk.txt"), files={"talk.txt": "Hello\n"})
CAPTIONS_UNREADABLE = Code("E392", "a malformed subtitle file (bad timestamp, end before start, cue without text…)",
                           example=_CAPTIONS, files={"talk.srt": "1\n00:00:01,000 --> 00:00:0x,500\nHello\n"})
CAPTIONS_EMPTY = Code("E393", "captions with no cues", example=_CAPTIONS, files={"talk.srt": "\n"})
CAPTION_LINE_FORM = Code("E394", "an inline caption line that is not `[START, END, \"text\"]`",
                         example=_CAPTIONS.replace('"talk.srt"', '[[0s, "Hello"]]'))
CAPTION_CHECK_FORM = Code("E395", "an expect caption line that is not `caption \"TEXT\" at TIME` / `no caption at TIME`",
                          example=_CAPTIONS_CHECK + '  caption "Hello" on 1s\n}\n')

# ---- found when a step runs (engines) --------------------------------------------------------------------------

_ASK = "nemo 1\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n}\n"

INSTRUCTION_NOT_UNDERSTOOD = Code("E401", "instruction not understood", "engine",
                                  example=_ASK + 'ask polish = cut "add a dancing unicorn"\n')
INSTRUCTION_OUT_OF_RANGE = Code("E402", "instruction value out of range", "engine",
                                example=_ASK + 'ask polish = cut "speed up 500x"\n')
MEDIA_URL_ON_LOCAL = Code("E403", "media URL on the local engine", "engine",
                          example='nemo 1\nengine local\nmedia clip = "https://example.com/clip.mp4"\n'
                                  "edit cut {\n  video clip\n}\n")
EDIT_AFTER_ASK_IN_CLOUD = Code("E404", "an edit continues an ask on the nemo engine", "engine",
                               example="nemo 1\nengine nemo\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n}\n"
                                       'ask polish = cut "color grade it"\nedit more = polish {\n  fade out 1s\n}\n')
LOCAL_FILE_IN_CLOUD = Code("E405", "a local file the service cannot receive", "engine",
                           example='nemo 1\nengine nemo\nmedia bars = pattern bars duration 5s\nedit cut {\n  video bars\n'
                                   '  grade "film.cube"\n}\n', files={"film.cube": "LUT_3D_SIZE 2\n" + "0 0 0\n" * 8})
NOT_ON_SERVICE = Code("E406", "an operation the NemoVideo service cannot perform", "engine",
                      example="nemo 1\nengine nemo\nmedia bars = pattern bars duration 5s tone 440hz\nedit cut {\n  video bars\n"
                              "  loudness -14 LUFS\n}\n")


# ---- the table -----------------------------------------------------------------------------------------------

def _collect() -> tuple[dict[str, Code], dict[str, str]]:
    table: dict[str, Code] = {}
    names: dict[str, str] = {}
    for name, value in globals().items():
        if isinstance(value, Code) and name.isupper() and not name.startswith("_"):
            if value.id in table:
                raise ValueError(f"{name} and {names[value.id]} both use {value.id}")
            table[value.id] = value
            names[value.id] = name
    return dict(sorted(table.items())), names


CODES, NAMES = _collect()
"""Every code by id (sorted), and the constant that declares each."""


def get(code_id: str) -> Code:
    """The code with this id; KeyError if there is none."""
    return CODES[code_id]


# ---- docs/errors.md ------------------------------------------------------------------------------------------

_SECTIONS = (
    ("E0", "Reading the file"),
    ("E1", "Syntax"),
    ("E20", "Includes and engine"),
    ("E21", "Params"),
    ("E22", "Declarations and loops"),
    ("E23", "Values"),
    ("E24", "Values"),
    ("E25", "References"),
    ("E26", "Clauses"),
    ("E27", "Media"),
    ("E28", "Edits and asks"),
    ("E29", "Exports"),
    ("E30", "Expects"),
    ("E31", "Expects"),
    ("E32", "The whole recipe"),
    ("E33", "The whole recipe"),
    ("E34", "Limits"),
    *((f"E35{n}", "Layers") for n in range(0, 8)),
    ("E358", "Transitions"),
    *((f"E36{n}", "Motion and backgrounds") for n in range(3, 7)),
    *((f"E37{n}", "Mix and output") for n in range(1, 6)),
    ("E38", "Variants from a table"),
    ("E39", "Captions"),
    ("E4", "Found when a step runs"),
    ("W", "Warnings"),
)


def _section(code: Code) -> str:
    return next(title for prefix, title in _SECTIONS if code.id.startswith(prefix))


def _shown(text: str) -> str:
    """Example text for Markdown: control characters (other than newline) written as \\xNN."""
    return "".join(ch if ch == "\n" or ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def _holding(name: str, text: str) -> str:
    """`clip.mp4` holding `…`; a long text shown by its start and length."""
    shown = text.strip()
    if len(shown) <= 200:
        return f"`{name}` holding `{shown}`"
    return f"`{name}` holding {len(text)} characters of text starting `{shown[:24]}`"


def markdown() -> str:
    """docs/errors.md: a summary table, then each code with its example."""
    by_finder = {"parser": "the parser", "checker": "the checker", "engine": "the engine, when the step runs"}
    out = [
        "# Diagnostic codes",
        "",
        "<!-- Generated by `python3 -m nemoflow.core.codes > docs/errors.md` from nemoflow/core/codes.py; do not edit. -->",
        "",
        "Every problem nemoflow reports carries a code: `E…` for errors, `W…` for warnings.",
        "`nemoflow check --json` prints it as `code`. Each code names one kind of problem;",
        "the examples below are recipes that produce it (tests/test_codes.py checks them).",
        "",
        "| Code | Title | Severity | Found by |",
        "| --- | --- | --- | --- |",
    ]
    for code in CODES.values():
        title = code.title.replace("|", "\\|")
        out.append(f"| [{code.id}](#{code.id.lower()}) | {title} | {code.severity} | {code.found_by} |")
    section = None
    for code in CODES.values():
        if _section(code) != section:
            section = _section(code)
            out += ["", f"## {section}"]
        out += ["", f"### {code.id}", "", f"**{code.title}** · {code.severity} · found by {by_finder[code.found_by]} · `{NAMES[code.id]}`"]
        if code.words:
            out += ["", f"Example: {code.words}."]
        if code.example is not None:
            shown = _shown(code.example)
            out += ["", "```nemo", *shown.rstrip("\n").split("\n"), "```"]
            if shown != code.example:
                out += ["", "(`\\xNN` stands for the control character with that code.)"]
        if code.files:
            beside = [f"a folder `{name}`" if name.endswith("/") else _holding(name, text) if text.strip()
                      else f"a file `{name}`" for name, text in code.files]
            out += ["", "Beside the recipe: " + "; ".join(beside) + "."]
        if code.sets:
            out += ["", "Checked with " + " ".join(f"`--set {k}={v}`" for k, v in code.sets) + "."]
        if code.params_file:
            missing = all(name != code.params_file for name, _ in code.files)
            out += ["", f"Checked with `--params {code.params_file}`" + (" (no such file)." if missing else ".")]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
