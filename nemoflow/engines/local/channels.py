"""Which audio track of a source plays, and how its channels reach the output (docs/engine.md "Audio tracks and channels").

Rules: a clip plays exactly one audio track of its source, the one its clause
chose (`track N`) or else the file's default (the container's default
disposition, else the first track); the output has one audio stream, and it is
stereo. A stereo track keeps its left and right; a mono track (and a generated
tone) is heard at its own level in both channels, centred; a track with more
channels is downmixed by FFmpeg's standard matrix. Stereo output whatever the
sources is what delivery platforms expect, and it means a mono tone under a
stereo clip can never pull the mix down to mono.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...draft.media import AudioTrack, MediaEntry
from ...draft.model import AUDIO, VIDEO, Draft
from ...media.escape import lavfi_number

TO_STEREO = "aformat=channel_layouts=stereo"  # FFmpeg's downmix (or upmix) matrix, for layouts other than mono and stereo
MONO_TO_BOTH = "pan=stereo|c0=c0|c1=c0"  # the one channel, at its own level, on both sides
TWO_AS_STEREO = "pan=stereo|c0=c0|c1=c1"  # two channels the file does not name: first left, second right


def audio_source(k: int, entry: MediaEntry, m: Mapping[str, Any]) -> str:
    """The filter-graph input of input `k`'s chosen audio track: `k:INDEX` by the stream's index in the file, so
    exactly one stream is read; a generator (one sound stream) or an entry without track facts: `k:a`."""
    track = entry.audio_track(m.get("track"))
    return f"{k}:{track.index}" if track is not None else f"{k}:a"


def stereo_filters(entry: MediaEntry, m: Mapping[str, Any]) -> list[str]:
    """Filters that make the chosen track stereo: none for stereo, both sides for mono, a downmix for more."""
    track = entry.audio_track(m.get("track"))
    if track is not None:
        channels, layout = track.channels, track.layout
    elif entry.gen is not None:
        gen = entry.gen
        channels, layout = (1, "mono") if gen.get("tone") else (2, "stereo")  # sine is mono; silence is made stereo
    else:
        return [TO_STEREO]  # an old Draft without track facts: whatever it is, FFmpeg brings it to stereo
    if channels == 2 and layout == "stereo":
        return []
    if channels == 1:
        return [MONO_TO_BOTH]
    if channels == 2 and not layout:
        return [TWO_AS_STEREO]  # FFmpeg cannot rematrix an unnamed layout
    return [TO_STEREO]


def track_notes(draft: Draft) -> list[str]:
    """One line per source with several audio tracks whose clips did not choose one: which track they play."""
    notes: list[str] = []
    seen: set[str] = set()
    clauses = [(seg, "video") for seg in draft.segments(VIDEO)]
    clauses += [(seg, "music" if seg.m.get("bed") else "audio") for seg in draft.segments(AUDIO)]
    for seg, verb in clauses:
        src = seg.m.get("src")
        if src is None or src in seen or seg.m.get("still") or seg.m.get("track") is not None:
            continue
        entry = draft.media_entry(src)
        if not entry.tracks or len(entry.tracks) < 2:
            continue
        seen.add(src)
        chosen = entry.audio_track(None)
        assert chosen is not None
        notes.append(_note(src, entry, chosen, verb))
    return notes


def _note(src: str, entry: MediaEntry, chosen: AudioTrack, verb: str) -> str:
    tracks = entry.tracks or ()
    number = tracks.index(chosen) + 1
    name = Path(entry.path).name if entry.path else src
    why = "the file's default" if chosen.default else "the first, as the file marks none as default"
    others = "; ".join(f"track {n} ({t.describe(default=False)})" for n, t in enumerate(tracks, 1) if t is not chosen)
    word = src.split(".", 1)[1] if src.startswith("media.") else src  # the recipe's name: `media.clip[a]` -> `clip`
    word = word.split("[", 1)[0]
    return (f"{name} has {len(tracks)} audio tracks; `{word}` plays track {number} ({chosen.describe(default=False)}), {why}; "
            f"not played: {others}. To hear another, add `track N` to the clause (e.g. `{verb} {word} track "
            f"{1 if number != 1 else 2}`)")


def atempo_chain(speed: float) -> list[str]:
    """atempo filters for a tempo change: atempo takes 0.5..100 per instance, so slower ones are chained."""
    filters = []
    while speed < 0.5:
        filters.append("atempo=0.5")
        speed /= 0.5
    filters.append(f"atempo={lavfi_number(speed)}")
    return filters
