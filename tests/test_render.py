"""Real renders on the local engine, checked by probing the files and reading their frames and sound.

Sources are small (320x180) clips generated with FFmpeg; one test renders real 4K.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from mediagen import make_audio, make_image, make_video
from renderkit import count_frames, frame_at, rms, run_recipe, sound

from nemoflow.media.probe import probe

FPS = 30
FRAME = 1 / FPS


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    return {
        "a": make_video(d / "a.mp4", duration=4, tone=440),
        "b": make_video(d / "b.mp4", duration=3, tone=660, pattern="smptebars"),
        "gray": make_video(d / "gray.mp4", duration=3, color="0x606060", audio=False),
        "silent": make_video(d / "silent.mp4", duration=2, audio=False),
        "phone": make_video(d / "phone.mp4", duration=2, rotate=90),
        "vfr": make_video(d / "vfr.mp4", duration=2, vfr=True),
        "deep": make_video(d / "deep.mp4", duration=2, pix_fmt="yuv420p10le"),
        "odd": make_video(d / "odd.mp4", duration=2, size=(321, 181), pix_fmt="yuv444p"),
        "ntsc": make_video(d / "ntsc.mp4", duration=2, fps=25),
        "still": make_image(d / "still.png", size=(200, 200), color="0x2080c0"),
        "song": make_audio(d / "song.m4a", duration=10, tone=220),
    }


def recipe(media, body: str, export: str = "size 320x180") -> str:
    used = {k: v for k, v in media.items() if re.search(rf"\b{k}\b", body)}
    lines = ["nemo 1"] + [f'media {k} = "{v}"' for k, v in used.items()]
    return "\n".join(lines) + f"\nedit cut {{\n{body}\n}}\nexport out = cut {{\n  {export}\n  save \"out.mp4\"\n}}\n"


def render(tmp_path, media, body, export="size 320x180"):
    result = run_recipe(tmp_path, recipe(media, body, export))
    assert result.exit_code == 0, result.stderr
    return tmp_path / "out.mp4"


def assert_video(path, *, duration, size=(320, 180), audio=True, fps=FPS):
    info = probe(path)
    assert abs(info.duration - duration) <= FRAME + 0.03, info.duration
    assert (info.video.width, info.video.height) == size
    assert info.video.codec == "h264" and info.video.pix_fmt == "yuv420p"
    assert abs(info.video.fps - fps) < 0.01
    assert (info.audio is not None) == audio
    if audio:
        assert info.audio.codec == "aac" and info.audio.sample_rate == 48000
    assert count_frames(path) == round(duration * fps)
    return info


def test_trim_renders_exact_length(tmp_path, media):
    out = render(tmp_path, media, "  video a from 1s to 3.5s\n  volume 80%")
    assert_video(out, duration=2.5)
    assert not list(tmp_path.glob(".out.*"))  # no temporary left behind


def test_concat_with_crossfade_and_fade_through_black(tmp_path, media):
    out = render(tmp_path, media, "  video a for 2s\n  transition crossfade 500ms\n  video b for 2s\n"
                                  "  transition fade 500ms\n  video gray for 2s")
    assert_video(out, duration=5.0)
    # b starts at 1.5 s (overlapping a by 0.5 s); the grey clip at 3.0 s, through black: darkest at 3.25 s
    assert frame_at(out, 3.25).mean() < 0.3 * frame_at(out, 4.0).mean()
    assert np.abs(frame_at(out, 1.75) - frame_at(out, 1.0)).mean() > 10  # mid-crossfade differs from clip a alone


def test_speed_halves_the_duration(tmp_path, media):
    out = render(tmp_path, media, "  video a speed 2x")
    assert_video(out, duration=2.0)


def test_clip_without_audio_gets_a_silent_track(tmp_path, media):
    out = render(tmp_path, media, "  video silent\n  video a for 1s")
    assert_video(out, duration=3.0)
    samples, rate = sound(out)
    assert rms(samples[: rate * 2 - 2400]) < 1e-4 < rms(samples[rate * 2 + 2400 :])


def test_still_image_and_generated_source(tmp_path, media):
    text = ('nemo 1\nmedia pic = "' + str(media["still"]) + '"\nmedia red = color #ff0000 duration 2s size 320x180 fps 30\n'
            'edit cut {\n  image pic for 1.5s fit pad\n  video red\n}\nexport out = cut {\n  size 320x180\n  save "out.mp4"\n}\n')
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out.mp4"
    assert_video(out, duration=3.5)
    first = frame_at(out, 0.5)
    assert first[:, :40].mean() < 10  # pillarboxed: a square still in a 16:9 frame
    assert abs(first[90, 160] - [32, 128, 192]).max() < 12
    assert abs(frame_at(out, 2.5)[90, 160] - [255, 0, 0]).max() < 12


@pytest.mark.parametrize("clip, size", [("phone", (180, 320)), ("vfr", (320, 180)), ("deep", (320, 180)),
                                        ("odd", (320, 180)), ("ntsc", (320, 180))])
def test_awkward_sources(tmp_path, media, clip, size):
    w, h = size
    out = render(tmp_path, media, f"  video {clip}", export=f"size {w}x{h}")
    fps = {"ntsc": 25}.get(clip, FPS)  # a VFR clip (30 fps, every third frame dropped) at its fastest rate, 30
    info = assert_video(out, duration=probe(media[clip]).duration, size=size, fps=fps)
    assert not info.video.vfr
    frame = frame_at(out, 1.0)
    # the picture fills the frame: no black bars on any edge (rotation applied, odd size scaled, not padded)
    for edge in (frame[:3], frame[-3:], frame[:, :3], frame[:, -3:]):
        assert edge.mean() > 20


def test_title_is_drawn_only_while_it_is_on(tmp_path, media):
    out = render(tmp_path, media, '  video gray\n  title "HELLO" from 0.5s to 1.5s size 48px')
    on, off = frame_at(out, 1.0), frame_at(out, 2.0)
    centre = (slice(70, 110), slice(100, 220))
    assert on[centre].max() > 240 and on[centre].mean() > off[centre].mean() + 15
    assert off[centre].std() < 3  # the plain grey frame again
    assert frame_at(out, 0.2)[centre].std() < 3


def test_title_text_cannot_inject_filter_syntax(tmp_path, media):
    """Quotes, colons, backslashes, %{…}, ; and [ render as themselves, identical to drawing the text from a file."""
    import subprocess

    from nemoflow.engines.local.text import bundled_font
    from nemoflow.media.ffmpeg import ffmpeg_exe

    nasty = "It's: C:\\\\x %{pts} ; [a] ,b' \\\\' =c"  # as written in the recipe (\\ is one backslash)
    literal = "It's: C:\\x %{pts} ; [a] ,b' \\' =c"
    body = f'  video gray\n  text "{nasty.replace(chr(34), chr(92) + chr(34))}" at top-left size 14px'
    out = render(tmp_path, media, body)
    got = frame_at(out, 1.0)[:40]
    textfile = tmp_path / "t.txt"
    textfile.write_text(literal, encoding="utf-8")

    def reference(text_opt: str):
        ref = tmp_path / "ref.png"
        graph = (f"color=c=0x606060:s=320x180,format=yuv420p,drawtext=fontfile={bundled_font(False)}:{text_opt}:expansion=none"
                 ":fontsize=14:fontcolor=0xffffff:x=w*0.06:y=h*0.06")
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-frames:v", "1", str(ref)], check=True)
        return frame_at(ref, 0)[:40]

    same = np.abs(got - reference(f"textfile={textfile}")).mean()
    textfile.write_text(literal.replace("%{pts}", "%{PTS}"), encoding="utf-8")
    different = np.abs(got - reference(f"textfile={textfile}")).mean()
    assert same < 1.5 < different, (same, different)


def test_grade_changes_the_mean_color(tmp_path, media):
    plain = frame_at(render(tmp_path, media, "  video b for 1s"), 0.5)
    (tmp_path / "out.mp4").unlink()
    warm = frame_at(render(tmp_path, media, "  video b for 1s\n  grade warm"), 0.5)
    (tmp_path / "out.mp4").unlink()
    bw = frame_at(render(tmp_path, media, "  video b for 1s\n  grade bw"), 0.5)
    r, b = (warm[..., 0].mean() - plain[..., 0].mean()), (warm[..., 2].mean() - plain[..., 2].mean())
    assert r > 3 and b < -3, (r, b)
    assert np.abs(bw - bw.mean(axis=2, keepdims=True)).mean() < 3  # no colour left
    assert np.abs(plain - plain.mean(axis=2, keepdims=True)).mean() > 30


def test_cube_lut_and_its_amount(tmp_path, media):
    size = 2
    rows = [f"{b} {g} {r}" for b in range(size) for g in range(size) for r in range(size)]  # swap red and blue
    (tmp_path / "swap.cube").write_text("TITLE \"swap\"\nLUT_3D_SIZE 2\n" + "\n".join(rows) + "\n")
    plain = frame_at(render(tmp_path, media, "  video b for 1s"), 0.5)
    (tmp_path / "out.mp4").unlink()
    swapped = frame_at(render(tmp_path, media, '  video b for 1s\n  grade "swap.cube"'), 0.5)
    (tmp_path / "out.mp4").unlink()
    half = frame_at(render(tmp_path, media, '  video b for 1s\n  grade "swap.cube" 50%'), 0.5)
    assert abs(swapped[..., 0].mean() - plain[..., 2].mean()) < 4
    assert abs(swapped[..., 2].mean() - plain[..., 0].mean()) < 4
    mid = (plain[..., 0].mean() + plain[..., 2].mean()) / 2
    assert abs(half[..., 0].mean() - mid) < 6


@pytest.mark.parametrize("mode", ["crop", "pad", "blur"])
def test_reframe_to_vertical(tmp_path, media, mode):
    out = render(tmp_path, media, f"  video b for 1s\n  reframe 9:16 {mode}", export="size 180x320")
    assert_video(out, duration=1.0, size=(180, 320))
    frame = frame_at(out, 0.5)
    top, middle = frame[:40].mean(), frame[140:180].mean()
    if mode == "pad":
        assert top < 5 < middle  # letterboxed
    else:
        assert top > 20  # crop fills the frame; blur fills the bars with a blurred copy
    if mode == "blur":
        assert frame[:40].std(axis=(0, 1)).mean() < frame[140:180].std(axis=(0, 1)).mean()  # the fill is softer


def _render_in(tmp_path, name, media, body, export="size 320x180"):
    folder = tmp_path / name
    folder.mkdir()
    return render(folder, media, body, export)


def test_music_level_and_fade(tmp_path, media):
    samples, rate = sound(_render_in(tmp_path, "half", media, "  video a for 3s\n  mute\n  music song volume 50% fade out 1s"))
    ref, _ = sound(_render_in(tmp_path, "full", media, "  video a for 3s\n  mute\n  music song"))
    mid = slice(rate // 2, rate)
    assert abs(rms(samples[mid]) / rms(ref[mid]) - 0.5) < 0.03
    assert rms(samples[-rate // 10 :]) < 0.2 * rms(samples[mid])  # faded out at the end


def _level_at(samples: np.ndarray, rate: int, hz: float) -> float:
    """Amplitude of one sine component (the clip is 440 Hz, the music 220 Hz)."""
    t = np.arange(len(samples)) / rate
    return float(abs(np.dot(samples, np.exp(-2j * np.pi * hz * t))) * 2 / len(samples))


def test_music_ducks_under_the_clip_sound(tmp_path, media):
    plain, rate = sound(_render_in(tmp_path, "plain", media, "  video a for 3s\n  music song"))
    ducked, _ = sound(_render_in(tmp_path, "ducked", media, "  video a for 3s\n  music song duck 20%"))
    window = slice(rate, 2 * rate)
    assert _level_at(ducked[window], rate, 220) < 0.6 * _level_at(plain[window], rate, 220)
    assert abs(_level_at(ducked[window], rate, 440) / _level_at(plain[window], rate, 440) - 1) < 0.05  # the clip is untouched


def test_failed_expect_says_expected_and_actual(tmp_path, media):
    text = recipe({"a": media["a"]}, "  video a for 1s") + "expect out {\n  duration ~= 2s\n  has audio\n}\n"
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 1
    assert "FAIL expect.out: duration ~= 2s  (actual: 1.000s)" in result.stdout + result.stderr
    assert "1/2 checks passed" in result.stderr


def test_stabilize_runs_two_passes_and_caches_the_analysis(tmp_path, media, monkeypatch):
    monkeypatch.setenv("NEMOFLOW_CACHE_DIR", str(tmp_path / "cache"))
    out = render(tmp_path, media, "  video a for 2s\n  stabilize strength 60%")
    assert_video(out, duration=2.0)
    assert len(list((tmp_path / "cache" / "vidstab").glob("*.trf"))) == 1


def test_export_presets(tmp_path, media):
    text = recipe({"a": media["a"]}, "  video a for 1s", export="size square\n  codec hevc\n  quality draft")
    assert run_recipe(tmp_path, text).exit_code == 0
    info = probe(tmp_path / "out.mp4")
    assert (info.video.width, info.video.height, info.video.codec) == (1080, 1080, "hevc")


def test_trim_only_export_uses_smart_cut(tmp_path):
    src = make_video(tmp_path / "src.mp4", duration=4, gop=30)
    text = (f'nemo 1\nmedia src = "{src}"\nedit cut {{\n  video src from 1.5s to 3.2s\n}}\n'
            'export out = cut {\n  size 320x180\n  save "out.mp4"\n}\n')
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    assert "smart cut" in result.stdout + result.stderr
    assert_video(tmp_path / "out.mp4", duration=1.7)


def test_real_4k_render_of_the_quick_start_example(tmp_path):
    import shutil

    from conftest import EXAMPLES

    shutil.copy(EXAMPLES / "urban_dreams.nemo", tmp_path / "urban_dreams.nemo")
    result = run_recipe(tmp_path, (tmp_path / "urban_dreams.nemo").read_text(), name="urban_dreams.nemo")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out" / "urban_dreams.mp4"
    info = assert_video(out, duration=10.0, size=(3840, 2160))
    assert info.video.profile == "High"
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))  # +faststart
    assert "4/4 checks passed" in result.stderr
