"""The A/V invariants' timing findings F9 and F10 (/work/.helpers/av-findings.md, issue 16), on avkit's sources.

F9: a sped-up Matroska clip (1 ms timebase) had its pts shifted by `setpts` in whole milliseconds, so a frame whose
shifted time fell a fraction of a ms past an output instant was rounded onto it and shown a frame early. F10: a clip
whose boundaries both land on one output frame boundary (shorter than half a frame) still took a frame and pushed
every later clip one frame late. Every frame's band code is read back with PyAV.
"""

from __future__ import annotations

from pathlib import Path

import avkit
import pytest
from renderkit import run_recipe

SID = {name: sid for sid, (name, *_rest) in enumerate(avkit.SOURCE_KINDS)}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, avkit.Source]:
    """The avkit sources the findings use, with the ids `make_sources` gives them."""
    folder = tmp_path_factory.mktemp("timing-findings2")
    kinds = {name: (sid, rate, audio, container)
             for sid, (name, rate, audio, container) in enumerate(avkit.SOURCE_KINDS)}
    return {name: avkit.make_source(folder, name, *kinds[name]) for name in ("s30", "s25", "s24", "twotrack")}


def _render(tmp: Path, sources: dict[str, avkit.Source], body: str, fps: str) -> Path:
    media = "\n".join(f'media {name} = "{s.path}"' for name, s in sources.items())
    text = (f'nemo 1\n{media}\nedit e {{\n{body}\n}}\n'
            f'export out = e {{\n  size 320x180\n  fps {fps}fps\n  save "out.mp4"\n}}\n')
    result = run_recipe(tmp, text)
    assert result.exit_code == 0, result.output
    return tmp / "out.mp4"


@pytest.mark.slow
def test_f9_sped_up_matroska_clip_shows_the_nearest_frames(tmp_path, sources):
    """Seed 1651: a 30 fps MKV at 2.25x, out at 24 fps. Output frame j shows the source frame nearest
    80 + j x 2.25 x 30 / 24 (88.44 at j=3: frame 88; before, 89: 125.93 ms stored as 125 ms, on the tick)."""
    out = _render(tmp_path, sources, "  video twotrack from 2.346s to 3.378s speed 1.5x\n  speed 1.5x\n"
                                     "  trim from 0.144s to 0.545s", "24")
    video = avkit.read_video(out, None)
    assert video.codes[:8] == [(SID["twotrack"], n) for n in (80, 83, 86, 88, 91, 94, 97, 100)], video.codes


@pytest.mark.slow
def test_f10_a_clip_under_half_a_frame_drops_out(tmp_path, sources):
    """Seed 1718's shape: a 10 ms clip between 1.000 s and 1.010 s has both boundaries on output frame 24, so it
    gets no frame and no sound; the next clip starts at frame 24 on its own frame 24 (before: frame 25, all late)."""
    out = _render(tmp_path, sources, "  video s25 from 0s to 1s\n  video s30 from 0.5s to 0.51s\n"
                                     "  video s24 from 1s to 2s", "24")
    video = avkit.read_video(out, None)
    audio = avkit.read_audio(out)
    assert len(video.codes) == 48
    assert video.codes[23][0] == SID["s25"]
    assert video.codes[24:] == [(SID["s24"], 24 + k) for k in range(24)], video.codes[24:]
    assert audio is not None
    assert abs(audio.samples.shape[1] - 2 * avkit.SR) < 1024  # 2.010 s of edit → 48 frames, and sound as long


@pytest.mark.slow
def test_f10_a_lone_clip_under_half_a_frame_still_gives_one_frame(tmp_path, sources):
    """The whole edit shorter than half a frame: the file has one frame (the clip's), not zero."""
    out = _render(tmp_path, {"s30": sources["s30"]}, "  video s30 from 0.5s to 0.51s", "24")
    video = avkit.read_video(out, None)
    assert video.codes == [(SID["s30"], 15)], video.codes


@pytest.mark.slow
def test_f10_smart_cut_drops_the_clip_too(tmp_path, sources):
    """The same edit from one 24 fps source at 24 fps (smart cut's case): the 10 ms clip has no frame there either."""
    out = _render(tmp_path, {"s24": sources["s24"]}, "  video s24 from 0s to 1s\n  video s24 from 0.5s to 0.51s\n"
                                                     "  video s24 from 1s to 2s", "24")
    video = avkit.read_video(out, None)
    assert video.codes == [(SID["s24"], k) for k in range(48)], video.codes


@pytest.mark.slow
def test_a_transition_trimmed_to_no_frame_renders(tmp_path, sources):
    """Seed 5256's shape: a timeline trim ends 10 ms into a crossfade, so the overlap has no whole frame: it renders
    as a hard cut (before: `xfade` duration 0 and `acrossfade=ns=0`, FFmpeg "Numerical result out of range")."""
    out = _render(tmp_path, {"s30": sources["s30"]}, "  video s30 from 0s to 1s\n  transition crossfade 0.3s\n"
                                                     "  video s30 from 2s to 3s\n  trim from 0s to 0.71s", "30")
    video = avkit.read_video(out, None)
    assert video.codes[:21] == [(SID["s30"], k) for k in range(21)], video.codes
