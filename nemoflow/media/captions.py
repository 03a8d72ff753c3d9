"""Captions as the output shows them: cues on the frame grid, WebVTT, and the subtitle stream muxed by stream copy.

Captions are TEXT-track segments whose `m["caption"]` is set (so every Draft operation, trim, speed, splice, concat,
ripple cuts, moves them as it moves titles). Here they become `Cue`s: a cue shows on exactly the output frames its
segment covers on the frame grid (`frame_index`, the rule clips use), so a soft cue starts and ends at its frames'
instants and a burned one (engines/local/captions.py) is drawn on exactly those frames. This module is below the
engines so both engines (the cloud one muxes soft captions after its download) and `expect` can use it.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from ..core.frames import exact_rate, frame_index
from ..draft.captions import BURN, SOFT, CaptionStyle, caption_of
from ..draft.model import TEXT, Draft, Segment
from ..draft.output import Output
from ..errors import DraftError
from .ffmpeg import ffmpeg_path

# the subtitle codec each container gets; `copy`: the WebVTT packets as written (re-encoding them to SubRip or WebVTT
# loses text that looks like a tag, `<b>`, which the cue means literally)
SOFT_CODECS = {"mp4": "mov_text", "mov": "mov_text", "mkv": "copy", "webm": "copy"}
SIDECAR_NOTE = "NOTE written by nemoflow"


@attrs.frozen
class Cue:
    """One caption as the output shows it: its frames' instants (ms), its text, and how it is drawn."""

    start: int
    end: int
    text: str
    mode: str  # BURN | SOFT
    style: CaptionStyle = attrs.field(factory=CaptionStyle, eq=False)

    def to_json(self) -> list[Any]:
        return [self.start, self.end, self.text]


def is_caption(seg: Segment) -> bool:
    """A caption segment (drawn by the caption code), not a title (drawn as text)."""
    return caption_of(seg) is not None


def cues(draft: Draft, fps: float, mode: str | None = None) -> tuple[Cue, ...]:
    """The draft's captions on the output's frame grid, in time order; a cue shorter than half a frame has no frame
    and is left out. `mode`: only burned or only soft ones."""
    rate = exact_rate(fps)
    found = []
    for seg in draft.segments(TEXT):
        cap = caption_of(seg)
        if cap is None or (mode is not None and cap.mode != mode):
            continue
        f0, f1 = frame_index(seg.st, rate), frame_index(min(seg.end, draft.d), rate)
        if f1 <= f0 or not seg.m.get("text"):
            continue
        found.append(Cue(_ms(f0, rate), _ms(f1, rate), seg.m["text"], cap.mode, cap.style))
    return tuple(sorted(found, key=lambda c: (c.start, c.end)))


def _ms(frame: int, rate: Fraction) -> int:
    return round(Fraction(frame * 1000) / rate)


def without_captions(draft: Draft, mode: str | None = None) -> Draft:
    """The draft with its caption segments (of `mode`, or all) taken off the text track."""
    keep = [s for s in draft.segments(TEXT) if (cap := caption_of(s)) is None or (mode is not None and cap.mode != mode)]
    if len(keep) == len(draft.segments(TEXT)):
        return draft
    return draft.with_segments(TEXT, keep)


def burned_for_preview(draft: Draft) -> Draft:
    """The draft with its soft captions burned in: a preview plays in a browser, which shows no subtitle stream."""
    segs = draft.segments(TEXT)
    if not any((cap := caption_of(s)) is not None and cap.mode == SOFT for s in segs):
        return draft
    return draft.with_segments(TEXT, [s.with_m(caption={**s.m["caption"], "mode": BURN}) if is_caption(s) else s
                                      for s in segs])


def webvtt(soft: tuple[Cue, ...]) -> str:
    """The cues as a WebVTT file, the text as written (`&`, `<`, `>` escaped; a blank line inside a cue would end it)."""
    blocks = ["WEBVTT", "", SIDECAR_NOTE, ""]
    for cue in soft:
        text = cue.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines = [ln if ln.strip() else "\u00a0" for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        blocks += [f"{_vtt_time(cue.start)} --> {_vtt_time(cue.end)}", *[ln.replace("-->", "--\u2060>") for ln in lines], ""]
    return "\n".join(blocks)


def flattened(soft: tuple[Cue, ...]) -> tuple[Cue, ...]:
    """Overlapping cues as consecutive ones, for a format whose samples cannot overlap (MP4's `mov_text`: a cue
    would be cut short where the next begins). Where cues overlap, one cue shows all their lines, in start order."""
    bounds = sorted({t for c in soft for t in (c.start, c.end)})
    out: list[Cue] = []
    for a, b in itertools.pairwise(bounds):
        active = [c for c in soft if c.start <= a and b <= c.end]
        if not active:
            continue
        text = "\n".join(c.text for c in active)
        if out and out[-1].end == a and out[-1].text == text:
            out[-1] = attrs.evolve(out[-1], end=b)
        else:
            out.append(Cue(a, b, text, SOFT))
    return tuple(out)


def _vtt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def check_soft(out: Output, what: str) -> None:
    """Refuse soft captions in a file that cannot carry a subtitle stream (GIF, WebP)."""
    if out.container not in SOFT_CODECS:
        raise DraftError(f"{what}: `soft` captions need a container with subtitle streams (mp4, mov, mkv, webm); a "
                         f"{out.container} has none: burn the captions in (leave out `soft`), or export to mp4")


def check_sidecar(path: Path) -> None:
    """Refuse to replace a `.vtt` beside a WebM that nemoflow did not write (it lacks SIDECAR_NOTE)."""
    if not path.exists() and not path.is_symlink():
        return
    try:
        ours = path.is_file() and SIDECAR_NOTE in path.read_text(encoding="utf-8", errors="replace")[:200]
    except OSError:
        ours = False
    if not ours:
        raise DraftError(f"{path} exists and nemoflow did not write it; the WebM's soft captions are written there as "
                         "WebVTT: move that file away, or export to another name")


def mux_args(picture: Path, vtt: Path, dest: Path, container: str) -> list[str]:
    """FFmpeg arguments adding `vtt` as the file's subtitle stream: everything else copied, nothing re-encoded."""
    args = ["-i", ffmpeg_path(picture), "-f", "webvtt", "-i", ffmpeg_path(vtt), "-map", "0", "-map", "1:s:0",
            "-c", "copy", "-c:s", SOFT_CODECS[container]]
    if container in ("mp4", "mov"):
        args += ["-movflags", "+faststart"]
    return [*args, "-f", {"mkv": "matroska"}.get(container, container), "-y", ffmpeg_path(dest)]


def deliver_soft(picture: Path, soft: tuple[Cue, ...], dest: Path, container: str, work: Path, what: str) -> None:
    """`picture` (a finished render) with the cues added as its subtitle stream, at `dest` atomically; a WebM also
    gets them as a WebVTT file beside it (players of WebM files often read only that)."""
    from .ffmpeg import atomic_output, run_ffmpeg

    vtt = work / "captions.vtt"
    vtt.write_text(webvtt(flattened(soft) if SOFT_CODECS[container] == "mov_text" else soft), encoding="utf-8")
    with atomic_output(dest) as tmp:
        run_ffmpeg(mux_args(picture, vtt, tmp, container), what=f"{what} (captions: adding the subtitle stream)")
    if container == "webm":
        with atomic_output(dest.with_suffix(".vtt")) as tmp:
            tmp.write_bytes(vtt.read_bytes())
