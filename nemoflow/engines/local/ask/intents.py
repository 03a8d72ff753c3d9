"""What an instruction asks for: a list of intents, each a kind plus arguments, with where it was said.

The phrase table (vocabulary.py) turns words into intents; the carrying out
(apply.py) turns intents into Draft operations, analysing footage where an
intent needs it. This module is the contract between the two, and knows
neither words nor FFmpeg.
"""

from __future__ import annotations

from typing import Any

import attrs

# kind → what its `args` hold (every value JSON-able, so intents can be shown and compared)
KINDS: dict[str, str] = {
    "cut": 'what: "shaky" | "black" | "frozen" | "silence" (spans found by analysing the footage, cut out)',
    "grade": 'look: "auto" (measured, corrected toward neutral) or a preset name; amount: percent (optional, default 100)',
    "stabilize": "strength: percent (optional)",
    "reframe": 'num, den: the aspect ratio (9, 16); mode: "crop" | "pad" | "blur"',
    "title": 'text: str; seconds: float (default 3); at: "start" | "end"',
    "music": "volume: percent | fade_out: seconds | remove: true (exactly one)",
    "mute": "(none): silence the clips' own sound",
    "speed": "factor: float (2 = twice as fast)",
    "length": "seconds: float (keep the first N seconds)",
    "fade": 'dir: "in" | "out"; seconds: float (default 1)',
    "export": 'long_edge: pixels (3840 for 4K, 1920 for 1080p) or None; quality: "high" | "medium" | "draft" or None',
}

# What the interpreter understands, for people (the error for an unknown instruction lists these).
KNOWN = (
    "trim the shaky clips (剪掉抖动)",
    "cut black or frozen spans (去掉黑屏/卡顿)",
    "remove silence (去掉静音)",
    "color grade (调色), or a look: teal-orange, black and white, vintage, cinematic, warm or cool tones (黑白, 复古, 暖色调)",
    "stabilize (防抖)",
    "make it vertical / square / 16:9 / 4:5 (竖屏, 方形, 横屏)",
    "title 'Urban Dreams' for 3 seconds (标题「…」3秒)",
    "music at 35%, fade out the music, remove the music (背景音乐35%)",
    "mute the original sound (静音)",
    "speed up 2x, slow down 0.5x (2倍速)",
    "make it 30 seconds (剪成30秒)",
    "fade in / fade out 1s (淡入, 淡出)",
    "export in 4K / 1080p / 720p, high or draft quality (导出4K, 高画质)",
)


@attrs.frozen
class Intent:
    """One thing asked for: `kind` (a key of KINDS), its `args`, and the words that said it (`text`, at [start, end))."""

    kind: str
    args: dict[str, Any] = attrs.field(factory=dict)
    text: str = ""
    start: int = 0
    end: int = 0

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown intent kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "args": dict(self.args), "text": self.text}


class NotUnderstood(Exception):
    """Parts of an instruction that map to no intent: (start, end, text) each, in order."""

    def __init__(self, instruction: str, parts: list[tuple[int, int, str]]) -> None:
        self.instruction = instruction
        self.parts = parts
        quoted = ", ".join(f"“{t}”" for _, _, t in parts)
        super().__init__(f"not understood: {quoted}")
