"""What each verb accepts: the schema that gives clauses their meaning.

A clause is `verb item item …`. Its signature lists positional slots (filled
in order, an optional slot skipped when the item does not fit its type) and
keywords (`from 2s`, `fade out 1s`), each with a type. Keeping this in one
declarative table is what lets errors say exactly what a verb expects, and
lets later issues (engines, docs) read the same facts.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Slot:
    name: str
    type: str | tuple[str, ...]  # a kind of values.KIND_NAMES, a union "a|b", "int", a reference kind ("media", "draft",
    #                              "source"), "look", "path", "frame" (a size preset), or the words of an enum
    required: bool = False
    many: bool = False
    doc: str = ""
    min: float | None = None  # bounds, in the value's natural unit (seconds, percent, …)
    max: float | None = None
    then: str | tuple[str, ...] | None = None  # a keyword's optional second value (`border 4px #fff`): its type


@attrs.frozen
class Signature:
    verb: str
    doc: str
    positional: tuple[Slot, ...] = ()
    keywords: tuple[Slot, ...] = ()
    flags: tuple[str, ...] = ()
    at_least_one: bool = False  # some keyword must be given (`trim`, `adjust`)
    effect: bool = False  # a clip effect: the Draft keeps {"type": verb, slot: value, …} on every clip so far (draft/build.py)

    def keyword(self, name: str) -> Slot | None:
        for slot in self.keywords:
            if slot.name == name:
                return slot
        return None

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.keywords) + self.flags


DUR = "duration"
# `transition NAME`: nemoflow's first eight (their meanings kept: `crossfade` is xfade's `fade`, `fade` goes through
# black, i.e. xfade's `fadeblack`), then every other FFmpeg xfade built-in by its xfade name (engines/local/transitions.py)
TRANSITIONS = ("cut", "crossfade", "fade", "fadewhite", "wipeleft", "wiperight", "slideleft", "slideright",
               "fadeblack", "wipeup", "wipedown", "slideup", "slidedown", "circlecrop", "rectcrop", "distance", "radial",
               "smoothleft", "smoothright", "smoothup", "smoothdown", "circleopen", "circleclose", "vertopen", "vertclose",
               "horzopen", "horzclose", "dissolve", "pixelize", "diagtl", "diagtr", "diagbl", "diagbr", "hlslice",
               "hrslice", "vuslice", "vdslice", "hblur", "fadegrays", "wipetl", "wipetr", "wipebl", "wipebr", "squeezeh",
               "squeezev", "zoomin", "fadefast", "fadeslow", "hlwind", "hrwind", "vuwind", "vdwind", "coverleft",
               "coverright", "coverup", "coverdown", "revealleft", "revealright", "revealup", "revealdown")
TRANSITION_MAX_S = 60.0  # FFmpeg xfade's `duration` limit
POSITIONS = ("center", "top", "bottom", "left", "right", "top-left", "top-right", "bottom-left", "bottom-right", "lower-third")
GRADE_PRESETS = ("teal-orange", "warm", "cool", "vivid", "muted", "bw", "vintage", "film", "neutral")
REFRAME_MODES = ("crop", "pad", "blur", "stretch")  # stretch: scaled to the frame, the aspect ignored
PANS = ("left", "right", "up", "down")  # `kenburns … pan right`: the view moves right, so the picture slides left
GRADIENTS = ("linear", "radial")
GRADIENT_COLORS = (2, 8)  # FFmpeg's `gradients` source draws 2 to 8
GRADIENT_ANGLE = 180.0  # top to bottom, as CSS
KENBURNS_ZOOM = (100.0, 115.0)  # `kenburns` alone: from the whole frame to 115%, centred
PATTERNS = ("testsrc", "bars", "grid", "gradient", "mandelbrot", "noise")
FORMATS = ("mp4", "mov", "webm", "mkv", "gif", "webp")
CODECS = ("h264", "hevc", "vp9", "gif", "webp")
SILENT_FORMATS = ("gif", "webp")
"""Animated-picture outputs: no sound track (engines/local: GIF with its own palette, WebP via libwebp_anim)."""
QUALITIES = ("high", "medium", "draft")
AUDIO_CODECS = ("aac", "opus", "none")

_VOLUME = dict(type="percent|decibels", min=0, max=400)
# Which audio track of a multi-track file plays (1 = the first in the file); without it, the file's default track.
_TRACK = Slot("track", "int", min=1, max=64, doc="which audio track of the file plays (1 = first); default: the file's default track")
# Relative level in the mix (docs/language.md "Mix and output"): each sound plays at volume x weight / the largest
# weight in the edit (default 1 everywhere), so no weight, or weight 1 everywhere, leaves the levels as they were.
_WEIGHT = Slot("weight", "number", min=0, max=100, doc="relative mix weight against the other sounds (default 1)")
TEXT_STYLES = ("box", "bar", "news")
TEXT_ALIGNS = ("left", "center", "right")
TEXT_ANIMATIONS = ("fade", "slide-left", "slide-right", "slide-up", "slide-down", "zoom-in", "zoom-out")
_TEXT_KEYWORDS = (
    Slot("from", DUR, doc="when the text appears"),
    Slot("to", DUR, doc="when it disappears"),
    Slot("at", POSITIONS, doc="where on screen"),
    Slot("size", "pixels|number", min=4, max=2000, doc="font size in pixels at the output size"),
    Slot("color", "color"),
    Slot("font", "string", doc="a font family name or a .ttf/.otf path"),
    Slot("fade", DUR, doc="fade in and out"),
    Slot("box", "color", doc="a box behind the text"),
    Slot("style", TEXT_STYLES, doc="box: a box behind each line; bar: a full-width band (a subtitle bar); news: a lower-third news bar"),
    Slot("bar", "color", doc="the band's colour for style bar or news"),
    Slot("wrap", "percent|pixels", min=1, max=8000, doc="word wrap at this width (of the frame width, or pixels)"),
    Slot("x", "percent|pixels", min=0, max=8000, doc="the text's left edge (of the frame width, or pixels)"),
    Slot("y", "percent|pixels", min=0, max=8000, doc="the text's top edge (of the frame height, or pixels)"),
    Slot("align", TEXT_ALIGNS, doc="the lines within the text (default: as `at`)"),
    Slot("animate", TEXT_ANIMATIONS, doc="how each line enters, one after another"),
    Slot("stagger", DUR, doc="the delay between lines entering (default 250ms)"),
)

# `captions`: the look keywords of `text` that apply to a caption (docs/captions.md), `outline`, and `from`
_CAPTION_KEYWORDS = (
    Slot("from", DUR, doc="where the captions' 0s falls on the timeline so far (default 0s)"),
    *(s for s in _TEXT_KEYWORDS if s.name in ("at", "size", "color", "font", "box", "wrap", "x", "y", "align")),
    Slot("outline", "pixels", min=0, max=100, then="color", doc="an outline this wide round the letters, of a colour "
                                                                "(black if not given)"),
)

EASES = ("linear", "in", "out", "in-out")
ORIGINS = tuple(p for p in POSITIONS if p != "lower-third")
LAYER_FITS = ("stretch", "crop", "pad")
_SPOT = dict(type="percent|pixels", min=-1000, max=10000)  # x/y: % of the frame (or px), its top-left corner
_LAYER_KEYWORDS = (
    Slot("at", POSITIONS, doc="where on screen (6% from the nearest edges)"),
    Slot("x", doc="left edge: % of the frame width, or px", **_SPOT),
    Slot("y", doc="top edge: % of the frame height, or px", **_SPOT),
    Slot("width", "percent|pixels", min=0.1, max=1000, doc="% of the output width, or px; alone, the aspect is kept"),
    Slot("height", "percent|pixels", min=0.1, max=1000, doc="% of the output height, or px; alone, the aspect is kept"),
    Slot("origin", ORIGINS, doc="the point of it that x/y (and move-x/move-y) place; default top-left"),
    Slot("fit", LAYER_FITS, doc="with both width and height: stretch (default), crop to fill, or pad (transparent)"),
    Slot("opacity", "percent", min=0, max=100),
    Slot("fade", DUR, doc="fade in at its start and out at its end, over this long"),
    Slot("from", DUR, doc="when it appears on the timeline (default 0s)"),
    Slot("to", DUR, doc="when it goes (default: the end of the timeline)"),
    Slot("skip", DUR, doc="a video overlay starts this far into its source"),
    Slot("volume", doc="its own sound (overlays are silent without it)", **_VOLUME),
    Slot("border", "pixels", min=0, max=500, then="color", doc="a border this wide, of a colour (white if not given)"),
    Slot("move", POSITIONS, doc="where it is at its end (`to`): it moves there"),
    Slot("move-x", doc="its left edge at its end", **_SPOT),
    Slot("move-y", doc="its top edge at its end", **_SPOT),
    Slot("scale", "percent|pixels", min=0.1, max=1000, doc="its width at its end (% of the output width, or px)"),
    Slot("ease", EASES, doc="how it moves: linear (default), in, out, in-out"),
)

EDIT_OPS: dict[str, Signature] = {s.verb: s for s in (
    Signature("video", "Add a clip of a media or draft to the timeline.",
              positional=(Slot("source", "source", required=True),),
              keywords=(Slot("from", DUR, doc="in-point in the source"), Slot("to", DUR, doc="out-point in the source"),
                        Slot("for", DUR, doc="length, instead of `to`"), Slot("speed", "factor|percent", min=0.05, max=100),
                        Slot("volume", **_VOLUME), _TRACK, _WEIGHT),
              flags=("mute",)),
    Signature("image", "Add a still image for a duration.",
              positional=(Slot("source", "media", required=True),),
              keywords=(Slot("for", DUR, required=True, doc="how long it shows"), Slot("fit", REFRAME_MODES))),
    Signature("concat", "Append other drafts or media, in order (a fanned-out name adds every instance).",
              positional=(Slot("sources", "source", required=True, many=True),)),
    Signature("transition", "How the previous clip gives way to the next.",
              positional=(Slot("kind", TRANSITIONS, required=True),
                          Slot("duration", DUR, doc="how long the clips overlap (at most 60s, FFmpeg's xfade's limit)")),
              keywords=(Slot("ease", EASES, doc="how it runs: linear (default), in (slow start), out (slow end), in-out"),)),
    Signature("grade", "Color grade with a named look or a .cube LUT.",
              positional=(Slot("look", "look", required=True), Slot("amount", "percent", min=0, max=100))),
    Signature("adjust", "Brightness, contrast, saturation, gamma.",
              keywords=(Slot("brightness", "percent", min=-100, max=100), Slot("contrast", "percent", min=0, max=400),
                        Slot("saturation", "percent", min=0, max=400), Slot("gamma", "number", min=0.1, max=10)),
              at_least_one=True, effect=True),
    Signature("stabilize", "Remove camera shake (two-pass), without zooming in; from/to: only that part of the timeline.",
              keywords=(Slot("strength", "percent", min=0, max=100), Slot("smoothing", "int", min=1, max=100,
                                                                               doc="frames each side (default: half a second's)"),
                        Slot("from", DUR, doc="where the shaky part starts on the timeline so far"),
                        Slot("to", DUR, doc="where it ends")), effect=True),
    Signature("blur", "Blur the picture of the clips so far (a background, a face, a screen that must not be read).",
              positional=(Slot("strength", "percent", min=0, max=100, doc="how much: 100% is about 2% of the frame height"),),
              effect=True),
    Signature("overlay", "A picture or video over the main picture, for a time: a logo, a badge, a second camera.",
              positional=(Slot("source", "media", required=True, doc="an image or video (a PNG's or WebM's alpha is kept)"),),
              keywords=_LAYER_KEYWORDS),
    Signature("pip", "Picture-in-picture: an overlay at bottom-right, 30% wide, with a thin white border by default.",
              positional=(Slot("source", "media", required=True, doc="an image or video"),),
              keywords=_LAYER_KEYWORDS),
    Signature("title", "A large centred title.", positional=(Slot("text", "string", required=True),), keywords=_TEXT_KEYWORDS),
    Signature("text", "A text overlay.", positional=(Slot("text", "string", required=True),), keywords=_TEXT_KEYWORDS),
    Signature("captions", "Captions from an .srt/.vtt file or an inline list, timed on the timeline so far; burned in, "
              "or `soft`: a subtitle track.",
              positional=(Slot("source", "captions", required=True,
                               doc='a "talk.srt" / "talk.vtt" file, or `[[0s, 2s, "Hello"], …]`'),),
              keywords=_CAPTION_KEYWORDS, flags=("soft",)),
    Signature("music", "A music bed under the whole timeline.",
              positional=(Slot("source", "media", required=True),),
              keywords=(Slot("volume", **_VOLUME), Slot("fade in", DUR), Slot("fade out", DUR),
                        Slot("from", DUR, doc="in-point in the music"), Slot("duck", "percent", min=0, max=100,
                                                                             doc="lower the music to this level under speech"),
                        _TRACK, _WEIGHT),
              flags=("loop",)),
    Signature("audio", "A sound placed at a time on the timeline.",
              positional=(Slot("source", "media", required=True),),
              keywords=(Slot("at", DUR), Slot("volume", **_VOLUME), Slot("from", DUR), Slot("to", DUR),
                        Slot("fade in", DUR), Slot("fade out", DUR), _TRACK, _WEIGHT,
                        Slot("fit", ("cut", "stretch"), doc="start with the last clip so far and end with it: cut there, "
                                                            "or tempo-changed to span it")),),
    Signature("volume", "Level of the clips' own audio.", positional=(Slot("level", required=True, **_VOLUME),),
              keywords=(_WEIGHT,)),
    Signature("mute", "Drop the clips' own audio."),
    Signature("reframe", "Change the aspect ratio.",
              positional=(Slot("aspect", "aspect", required=True), Slot("mode", REFRAME_MODES)),
              keywords=(Slot("color", "color", doc="pad color"),)),
    Signature("speed", "Play the whole timeline faster or slower.",
              positional=(Slot("factor", "factor|percent", required=True, min=0.05, max=100),)),
    Signature("trim", "Keep part of the timeline.", keywords=(Slot("from", DUR), Slot("to", DUR)), at_least_one=True),
    Signature("fade", "Fade the picture in from, or out to, black.",
              positional=(Slot("direction", ("in", "out"), required=True), Slot("duration", DUR, required=True))),
    Signature("loudness", "Bring the whole programme's sound to a loudness (two-pass EBU R128), under a true-peak ceiling.",
              positional=(Slot("target", "loudness", required=True, min=-70, max=-5,
                               doc="integrated loudness: -14 LUFS for the web, -23 LUFS for broadcast"),),
              keywords=(Slot("peak", "truepeak", min=-9, max=0, doc="true-peak ceiling (default -1 dBTP)"),)),
    Signature("kenburns", "A slow zoom and pan over the last clip so far (a still or a video); `all`: every clip so far.",
              keywords=(Slot("from", "percent", min=100, max=400, doc="zoom at the clip's start (default 100%: the whole frame)"),
                        Slot("to", "percent", min=100, max=400, doc="zoom at its end (default 115%)"),
                        Slot("pan", PANS, doc="which way the view travels across the picture (default: stays centred)")),
              flags=("all",)),
)}

EXPORT_SETTINGS: dict[str, Signature] = {s.verb: s for s in (
    Signature("format", "Container.", positional=(Slot("value", FORMATS, required=True),)),
    Signature("codec", "Video codec.", positional=(Slot("value", CODECS, required=True),)),
    Signature("size", "Output frame size.", positional=(Slot("value", "resolution|frame", required=True),)),
    Signature("quality", "Encoder effort and quality.", positional=(Slot("value", QUALITIES, required=True),)),
    Signature("crf", "Constant rate factor (lower is better).", positional=(Slot("value", "int", required=True, min=0, max=51),)),
    Signature("fps", "Output frame rate.", positional=(Slot("value", "fps|number", required=True, min=1, max=240),)),
    Signature("bitrate", "Target video bitrate.", positional=(Slot("value", "bitrate", required=True),)),
    Signature("audio", "Audio codec, or none.", positional=(Slot("value", AUDIO_CODECS, required=True),)),
    Signature("volume", "Master output level, after the mix (`volume -3dB`).",
              positional=(Slot("value", required=True, **_VOLUME),)),
    Signature("save", "Where the file is written.", positional=(Slot("value", "path", required=True),)),
)}

GENERATORS: dict[str, Signature] = {s.verb: s for s in (
    Signature("pattern", "A generated test pattern.",
              positional=(Slot("kind", PATTERNS),),
              keywords=(Slot("duration", DUR, required=True), Slot("size", "resolution"),
                        Slot("fps", "fps|number", min=1, max=240), Slot("tone", "frequency", doc="add a sine tone"))),
    Signature("color", "A solid color.",
              positional=(Slot("color", "color", required=True),),
              keywords=(Slot("duration", DUR, required=True), Slot("size", "resolution"), Slot("fps", "fps|number", min=1, max=240))),
    Signature("gradient", "A still gradient background of 2 to 8 colours: linear (along `angle`) or radial (centre to corners).",
              positional=(Slot("kind", GRADIENTS), Slot("colors", "color", required=True, many=True, doc="2 to 8 colours, in order")),
              keywords=(Slot("angle", "number", min=0, max=360, doc="linear only: degrees as in CSS (180, the default: top "
                                                                    "to bottom; 90: left to right)"),
                        Slot("duration", DUR, required=True), Slot("size", "resolution"), Slot("fps", "fps|number", min=1, max=240))),
    Signature("tone", "A sine tone.",
              positional=(Slot("frequency", "frequency", required=True),),
              keywords=(Slot("duration", DUR, required=True), Slot("volume", **_VOLUME))),
    Signature("silence", "Silent audio.", keywords=(Slot("duration", DUR, required=True),)),
)}

# expect subjects: type of the value compared, and whether it is ordered.
EXPECT_SUBJECTS: dict[str, tuple[object, bool]] = {
    "duration": ("duration", True),
    "size": ("resolution", False),
    "width": ("pixels|number", True),
    "height": ("pixels|number", True),
    "fps": ("fps|number", True),
    "codec": (CODECS, False),
    "audio codec": (("aac", "opus", "mp3"), False),
    "file size": ("filesize", True),
    "bitrate": ("bitrate", True),
    "frames": ("int", True),
    "aspect": ("aspect", False),
    "audio channels": ("int", True),
    "loudness": ("loudness", True),  # integrated, EBU R128 (ebur128 on the file's first audio track)
    "true peak": ("truepeak", True),  # the file's highest true peak
}
EXPECT_HAS = ("audio", "video")
LOUDNESS_TOLERANCE_LU = 1.0
"""`loudness ~= -14 LUFS` passes within this many LU of the value (EBU R128 s1's tolerance for live programmes)."""

# `no …` checks, measured by FFmpeg's detectors in one decode pass (run/expect.py): what each means by default,
# i.e. the `longer than` a run may be when the recipe does not say.
EXPECT_NO: dict[str, float] = {
    "black frames": 0.0,  # any black frame, except fades: see FADE_SECONDS
    "frozen frames": 1.0,  # a picture that does not change for more than 1 s
    "silence": 2.0,  # sound under -50 dB for more than 2 s
}
FADE_SECONDS = 1.0
"""`no black frames` without `longer than`: a black run touching the very start or end, shorter than this, is a fade."""
BLACK_PIXEL = 0.10  # blackdetect pix_th: a pixel darker than 10% of the luma range is black
BLACK_PICTURE = 0.98  # blackdetect pic_th: a frame with 98% black pixels is black
FROZEN_NOISE_DB = -60.0  # freezedetect n: frames differing by less than this are the same picture
SILENCE_DB = -50.0  # silencedetect n

# `frame at 5s looks like "golden/5s.png" ssim >= 0.97`: the metrics and the range of their thresholds.
LOOKS_LIKE_METRICS: dict[str, tuple[float, float]] = {"ssim": (0.0, 1.0), "psnr": (0.0, 100.0)}
GOLDEN_TYPES = (".png",)
EXPECT_TRACK_TYPES = ("video", "audio", "subtitle", "data")
"""`tracks == 1 video + 1 audio`: the stream types counted; a type not written must be absent."""

MEDIA_TYPES = ("mp4", "mov", "avi", "webm", "mkv", "ts", "m2ts", "jpg", "png", "gif", "webp", "svg", "mp3", "wav", "m4a",
               "aac")
"""What a media file may hold, judged by its content (media/validate.py sniffs these).

`ts` is an MPEG transport stream (188-byte packets, as broadcast and many cameras write), `m2ts` the same with a
4-byte timecode before each packet (192 bytes: Blu-ray, AVCHD camcorders' `.mts`)."""
IMAGE_TYPES = ("jpg", "png", "gif", "webp", "svg")
"""`svg` is drawn by librsvg at the size it is shown at (media/sources.py), so a small drawing stays sharp."""
AUDIO_TYPES = ("mp3", "wav", "m4a", "aac")
TYPE_ALIASES = {"jpeg": "jpg", "mts": "m2ts", "m2t": "ts"}
"""Other file extensions of a media type."""
MEDIA_EXTENSIONS = tuple(e for t in MEDIA_TYPES for e in (t, *(a for a, of in TYPE_ALIASES.items() if of == t)))
"""The file names a `media` line accepts."""


def kind_of_type(name: str) -> str | None:
    """"image", "audio" or "video" for a media type or file extension (`JPEG`, `.mp3`), None if unsupported."""
    ext = name.lower().lstrip(".")
    ext = TYPE_ALIASES.get(ext, ext)
    if ext not in MEDIA_TYPES:
        return None
    return "image" if ext in IMAGE_TYPES else "audio" if ext in AUDIO_TYPES else "video"

FORMAT_CODECS = {"mp4": ("h264", "hevc"), "mov": ("h264", "hevc"), "mkv": ("h264", "hevc", "vp9"), "webm": ("vp9",),
                 "gif": ("gif",), "webp": ("webp",)}

PARAM_TYPES = ("duration", "percent", "resolution", "aspect", "color", "string", "number", "int", "bool",
               "filesize", "bitrate", "frequency", "fps", "pixels", "factor", "list", "path", "loudness", "truepeak")
