"""The A/V invariants' timing findings F4 and F5 (/work/.helpers/av-findings.md, issue 16), on avkit's sources.

F4: the output-level `-frames:v N` closed the file as soon as the Nth picture was muxed, dropping the sound still
queued behind it (a still + timeline speed + crossfade lost 53 ms). F5: xfade offsets written in microseconds were
compared with pts accumulated (and rounded) over earlier transitions, so at 29.97 fps a third clip started a frame
late. Each recipe here is the finding's own; every frame's band code and every click is read back with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import avkit
import pytest
from renderkit import run_recipe

NTSC = Fraction(30000, 1001)
FILM = Fraction(24000, 1001)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, avkit.Source]:
    """The few avkit sources the findings use, with the ids `make_sources` gives them."""
    folder = tmp_path_factory.mktemp("timing-findings")
    kinds = {name: (sid, rate, audio, container)
             for sid, (name, rate, audio, container) in enumerate(avkit.SOURCE_KINDS)}
    made = {name: avkit.make_source(folder, name, *kinds[name]) for name in ("s30", "s2997", "still")}
    made["s2397"] = avkit.make_source(folder, "s2397", 9, FILM)  # a 23.976 fps source (id 9: not in SOURCE_KINDS)
    return made


def _render(tmp: Path, sources: dict[str, avkit.Source], body: str, fps: str | None = None) -> Path:
    media = "\n".join(f'media {name} = "{s.path}"' for name, s in sources.items())
    rate = f"\n  fps {fps}fps" if fps else ""
    text = f'nemo 1\n{media}\nedit e {{\n{body}\n}}\nexport out = e {{\n  size 320x180{rate}\n  save "out.mp4"\n}}\n'
    result = run_recipe(tmp, text)
    assert result.exit_code == 0, result.output
    return tmp / "out.mp4"


@pytest.mark.slow
def test_f4_sound_is_not_cut_short_by_the_frame_cap(tmp_path, sources):
    """Seed 1687: 70 frames of picture and the graph's 112112 samples of sound (clip 60861 + still 72072 - crossfade
    20821), within one AAC frame; before, the file closed with the 70th frame and the sound ended 2544 samples early."""
    out = _render(tmp_path, sources, "  video s2997 from 0.801s to 1.808s\n  transition crossfade 0.333s\n"
                                     "  image still for 1.187s\n  speed 0.8x")
    video = avkit.read_video(out, None)
    audio = avkit.read_audio(out)
    assert len(video.times) == 70
    assert audio is not None
    expected = round(Fraction(70) / NTSC * avkit.SR)  # 112112: exactly as long as the picture
    assert abs(audio.samples.shape[1] - expected) < 1024, (audio.samples.shape[1], expected)


def _check_clip_frames(video: avkit.Video, sid: int, first_out: int, first_src: int, count: int) -> None:
    """Output frames first_out .. first_out+count-1 show source `sid`'s frames first_src, first_src+1, ..."""
    shown = video.codes[first_out:first_out + count]
    assert shown == [(sid, first_src + k) for k in range(count)], shown


def _clicks_near_frames(video: avkit.Video, audio: avkit.Audio, sid: int, frames: list[int], since: int) -> list[float]:
    """For each clicked source frame: the nearest click's time minus the first output time (from frame `since` on)
    showing that frame."""
    clicks = avkit.find_clicks(audio)
    offsets = []
    for n in frames:
        t = next(video.times[i] for i, c in enumerate(video.codes) if i >= since and c == (sid, n))
        offsets.append(min((c - t for c in clicks), key=abs))
    return offsets


@pytest.mark.slow
def test_f5_third_clip_starts_on_its_frame_at_2997(tmp_path, sources):
    """Seed 1705: clip 3 (s2997 from 0.546 s, source frame 16) starts at output frame 76; after its 0.2 s wipe (frames
    76-81), output frame 83 is source frame 23 and every later frame follows; clicks of frames 30 and 40 within half a
    frame. Before: frame 83 showed 22 and the clicks came 33.8 ms before their frames."""
    out = _render(tmp_path, sources, "  video s2997 from 0.333s to 2.097s speed 1.5x\n  transition slideright 0.3s\n"
                                     "  video s30 from 2.338s to 4.185s\n  transition wipeleft 0.2s\n"
                                     "  video s2997 from 0.546s to 1.513s")
    video = avkit.read_video(out, None)
    audio = avkit.read_audio(out)
    assert audio is not None
    assert len(video.times) == avkit.frame_index(3504, NTSC) == 105
    assert video.codes[83] == (1, 23)
    _check_clip_frames(video, 1, 82, 22, 105 - 82)
    offsets = _clicks_near_frames(video, audio, 1, [30, 40], 82)
    assert all(abs(o) <= 0.5 / float(NTSC) + 1e-3 for o in offsets), offsets


# (in ms, out ms) of each clip and the transition before it: the two all-transition edits are ones where, before
# the fix, a later transition started a frame late (at 29.97 the 4th clip, at 23.976 the 3rd); the third mixes a hard
# cut (concat) in between transitions.
EDITS = {
    "ntsc-5-transitions": ("s2997", NTSC, [(407, 1385), (1523, 2364), (617, 1595), (2203, 3086), (911, 1849), (3001, 3947)],
                           [None, ("crossfade", 295), ("wipeleft", 176), ("slideright", 317), ("crossfade", 204),
                            ("wiperight", 312)]),
    "film-5-transitions": ("s2397", FILM, [(407, 1325), (1523, 2411), (617, 1579), (2203, 3109), (911, 1785), (3001, 3908)],
                           [None, ("crossfade", 295), ("wipeleft", 254), ("slideright", 159), ("crossfade", 255),
                            ("wiperight", 189)]),
    "ntsc-cut-between": ("s2997", NTSC, [(407, 1311), (1523, 2431), (617, 1529), (2203, 3311), (911, 1733), (3001, 3907)],
                         [None, ("crossfade", 301), ("wipeleft", 233), None, ("slideright", 317), ("crossfade", 199)]),
}


@pytest.mark.slow
@pytest.mark.parametrize("edit", list(EDITS))
def test_f5_every_clip_starts_on_its_frame_over_many_transitions(tmp_path, sources, edit):
    """Six off-grid clips joined by transitions at an NTSC rate: every frame of each clip outside the overlaps is the
    source frame its time asks for, after the 5th transition as after the 1st (the offsets never drift)."""
    name, rate, ins, tr = EDITS[edit]
    sid = sources[name].sid
    body = []
    for (a, b), t in zip(ins, tr, strict=True):
        if t:
            body.append(f"  transition {t[0]} {t[1] / 1000}s")
        body.append(f"  video {name} from {a / 1000}s to {b / 1000}s")
    out = _render(tmp_path, {name: sources[name]}, "\n".join(body))
    video = avkit.read_video(out, None)
    audio = avkit.read_audio(out)
    assert audio is not None
    st, starts, ends = 0, [], []
    for (a, b), t in zip(ins, tr, strict=True):
        st -= t[1] if t else 0
        starts.append(st)
        st += b - a
        ends.append(st)
    assert len(video.times) == avkit.frame_index(ends[-1], rate)
    for i, (a, _) in enumerate(ins):
        alone = avkit.frame_index(ends[i - 1], rate) if i else 0  # the first frame after the transition into clip i
        until = avkit.frame_index(starts[i + 1], rate) if i + 1 < len(ins) else len(video.times)
        first = avkit.nearest_frame(a, rate) + alone - avkit.frame_index(starts[i], rate)
        _check_clip_frames(video, sid, alone, first, until - alone)
    last = avkit.frame_index(ends[-2], rate)  # the last clip alone, after four transitions
    clicked = [n for n in range(0, 200, avkit.CLICK_EVERY) if (sid, n) in video.codes[last:]]
    offsets = _clicks_near_frames(video, audio, sid, clicked, last)
    assert offsets and all(abs(o) <= 0.5 / float(rate) + 1e-3 for o in offsets), offsets
