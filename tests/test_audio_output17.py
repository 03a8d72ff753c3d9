"""Issue 17, item 6 (minus `stretch`) and the "sounds vanish silently" defect.

Mix weights and the master volume are measured from the rendered sound per channel (two tones of different
frequencies, each measured in its own band with an FFT), GIF/WebP outputs are probed and their first frame's pixels
read back, an SVG still is rendered and its edge measured for sharpness, and the two ways a sound used to vanish
are errors carrying the numbers.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import ffmpeg, make_audio
from renderkit import run_recipe
from test_audio_tracks import channels  # the file's sound per channel, measured the same way
from typer.testing import CliRunner

from nemoflow.cli import app
from nemoflow.media.ffmpeg import ffmpeg_exe

SMALL = "size 320x180"


def _recipe(media: str, edit: str, export: str = 'save "out.mp4"') -> str:
    return f"nemo 1\n{media}\nedit cut {{\n{edit}\n}}\nexport final = cut {{\n  {export}\n}}\n"


def _draft(tmp: Path, text: str):
    """`nemoflow draft` on the recipe: builds every Draft (and so meets every build error) without rendering."""
    path = tmp / "r.nemo"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["draft", str(path)], catch_exceptions=False)


# -- sounds that used to vanish --------------------------------------------------------------------------


def test_music_in_point_past_its_end_is_an_error(tmp_path):
    """A file's length is known only once it is probed, so the build says it, at the clause (a generated sound's
    length the checker knows already)."""
    make_audio(tmp_path / "song.wav", duration=4.0)
    media = 'media clip = pattern testsrc duration 2s size 320x180\nmedia song = "song.wav"'
    result = _draft(tmp_path, _recipe(media, "  video clip\n  music song from 5s"))
    assert result.exit_code == 2, result.output
    assert "r.nemo:6:3" in result.output
    assert "in-point 5s is past the end of `song` (4s long)" in result.output


def test_audio_in_point_past_its_end_is_an_error(tmp_path):
    make_audio(tmp_path / "fx.wav", duration=4.0)
    media = 'media clip = pattern testsrc duration 2s size 320x180\nmedia fx = "fx.wav"'
    result = _draft(tmp_path, _recipe(media, "  video clip\n  audio fx from 5s"))
    assert result.exit_code == 2, result.output
    assert "r.nemo:6:3" in result.output and "in-point 5s is past the end of `fx` (4s long)" in result.output


def test_generated_music_in_point_past_its_end_is_a_check_error(tmp_path):
    media = "media clip = pattern testsrc duration 2s size 320x180\nmedia song = tone 440hz duration 40s"
    result = _draft(tmp_path, _recipe(media, "  video clip\n  music song from 50s"))
    assert result.exit_code == 2, result.output
    assert "r.nemo:6:14" in result.output and "`from 50s` is past the end of `song` (40s)" in result.output


def test_audio_placed_after_the_end_is_an_error_with_the_numbers(tmp_path):
    media = "media clip = pattern testsrc duration 4s size 320x180\nmedia fx = tone 440hz duration 1s"
    result = _draft(tmp_path, _recipe(media, "  video clip\n  audio fx at 20s"))
    assert result.exit_code == 2, result.output
    assert "r.nemo:6:3" in result.output
    assert "20s" in result.output and "4s" in result.output and "at 20s" in result.output


def test_audio_placed_before_later_clips_extend_the_timeline_is_fine(tmp_path):
    """`audio` is judged against the final length: placed at 3s while the timeline is 2s long, then a clip follows."""
    media = "media clip = pattern testsrc duration 2s size 320x180\nmedia fx = tone 440hz duration 1s"
    result = _draft(tmp_path, _recipe(media, "  video clip\n  audio fx at 3s\n  video clip"))
    assert result.exit_code == 0, result.output


def test_audio_trimmed_away_by_a_later_trim_is_not_an_error(tmp_path):
    """A `trim` that cuts a sound away says so itself: the sound did not vanish by mistake."""
    media = "media clip = pattern testsrc duration 4s size 320x180\nmedia fx = tone 440hz duration 1s"
    result = _draft(tmp_path, _recipe(media, "  video clip\n  audio fx at 3s\n  trim to 2s"))
    assert result.exit_code == 0, result.output


# -- mix weights and the master volume, measured per channel -------------------------------------------------

CLIP_HZ, MUSIC_HZ = 440, 660
_MIX_MEDIA = (f"media clip = pattern testsrc duration 2s size 320x180 tone {CLIP_HZ}hz\n"
              f"media song = tone {MUSIC_HZ}hz duration 10s")


def band_db(samples: np.ndarray, hz: float, rate: int = 48000) -> float:
    """The level of one tone in one channel (dB, relative): FFT power within 10 Hz of `hz`, Hann window."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    return 10 * np.log10(float(spectrum[(freqs > hz - 10) & (freqs < hz + 10)].sum()) + 1e-30)


def _levels(tmp: Path, edit: str, export: str = "") -> list[tuple[float, float]]:
    """(clip tone dB, music tone dB) in each channel of the rendered mix."""
    tmp.mkdir(parents=True, exist_ok=True)
    result = run_recipe(tmp, _recipe(_MIX_MEDIA, edit, f'{SMALL}\n  save "out.mp4"{export}'))
    assert result.exit_code == 0, result.output
    return [(band_db(ch, CLIP_HZ), band_db(ch, MUSIC_HZ)) for ch in channels(tmp / "out.mp4", 0.5)]


@pytest.mark.slow
def test_mix_weights_two_to_one_are_six_db_apart(tmp_path):
    plain = _levels(tmp_path / "plain", "  video clip\n  music song")
    weighted = _levels(tmp_path / "weighted", "  video clip\n  music song weight 2")
    ones = _levels(tmp_path / "ones", "  video clip weight 1\n  music song weight 1")
    for (clip0, music0), (clip2, music2), (clip1, music1) in zip(plain, weighted, ones, strict=True):
        # the heaviest (music, weight 2) keeps its level; the clips' sound (weight 1) is 6.02 dB under it
        assert abs(music2 - music0) < 0.3
        assert abs((clip0 - clip2) - 6.02) < 0.3
        # weight 1 everywhere is the same as no weights
        assert abs(clip1 - clip0) < 0.05 and abs(music1 - music0) < 0.05


@pytest.mark.slow
def test_clip_weight_and_volume_combine(tmp_path):
    """`volume 100% weight 4` on the clips and `weight 2` on the music: music at half its level (-6 dB), clips kept;
    then `volume 50%` on the music as well: -12 dB (gain = volume x weight / heaviest)."""
    plain = _levels(tmp_path / "plain", "  video clip\n  music song")
    both = _levels(tmp_path / "both", "  video clip\n  volume 100% weight 4\n  music song weight 2")
    halved = _levels(tmp_path / "halved", "  video clip\n  volume 100% weight 4\n  music song weight 2 volume 50%")
    for (clip0, music0), (clip1, music1), (_, music2) in zip(plain, both, halved, strict=True):
        assert abs(clip1 - clip0) < 0.3
        assert abs((music0 - music1) - 6.02) < 0.3
        assert abs((music0 - music2) - 12.04) < 0.3


@pytest.mark.slow
def test_master_volume_halves_the_amplitude(tmp_path):
    plain = _levels(tmp_path / "plain", "  video clip\n  music song")
    master = _levels(tmp_path / "master", "  video clip\n  music song", "\n  volume -6dB")
    for (clip0, music0), (clip1, music1) in zip(plain, master, strict=True):
        assert abs((clip0 - clip1) - 6.0) < 0.3 and abs((music0 - music1) - 6.0) < 0.3  # amplitude x 0.501


def test_master_volume_with_loudness_is_refused(tmp_path):
    text = ("nemo 1\nmedia clip = pattern testsrc duration 2s size 320x180 tone 440hz\nedit cut {\n  video clip\n"
            "  loudness -16 LUFS\n}\nedit more = cut {\n  fade out 1s\n}\nexport final = more {\n  volume -3dB\n}\n")
    result = _draft(tmp_path, text)
    assert result.exit_code == 2, result.output
    assert "E371" in result.output or "r.nemo:11:3" in result.output
    assert "loudness" in result.output


# -- GIF and WebP outputs --------------------------------------------------------------------------------------

_RED_THEN_MOVING = ("media red = color #ff0000 duration 1s size 320x180\n"
                    "media moving = pattern testsrc duration 1s size 320x180 fps 50")


def _decoded(path: Path, width: int, height: int) -> np.ndarray:
    """Every stored frame as RGB, decoded by the `ffmpeg` binary (PyAV's FFmpeg has no animated-WebP decoder)."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-fps_mode", "passthrough", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3).astype(np.float64)


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "fps", "frames"), [("gif", 20, 40), ("webp", 25, 26)])
def test_animated_picture_export(tmp_path, fmt, fps, frames):
    """A GIF/WebP export of a red second and a moving second: the codec, the default rate (20 / 25 fps), 2 s, no
    sound stream, loops forever, its first frame red. libwebp stores the red second's 25 identical frames as one
    frame of 1 s, so the WebP holds 1 + 25 frames; the GIF keeps every frame."""
    checks = (f"  codec == {fmt}\n  frames == {frames}\n  duration ~= 2s\n  fps == {fps}\n  has no audio\n"
              "  tracks == 1 video\n  size == 320x180")
    text = (f"nemo 1\n{_RED_THEN_MOVING}\nedit cut {{\n  video red\n  video moving\n}}\n"
            f'export final = cut {{\n  save "out.{fmt}"\n}}\nexpect final {{\n{checks}\n}}\n')
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "7/7 checks passed" in result.output
    out = tmp_path / f"out.{fmt}"
    decoded = _decoded(out, 320, 180)
    assert len(decoded) == frames
    first = decoded[0].reshape(-1, 3).mean(axis=0)
    assert first[0] > 230 and first[1] < 25 and first[2] < 25, first
    assert decoded[-1].std() > 40  # the moving pattern, not red
    data = out.read_bytes()
    if fmt == "gif":
        assert data[:6] == b"GIF89a" and b"NETSCAPE2.0\x03\x01\x00\x00" in data  # loop count 0: forever
        with av.open(str(out)) as c:
            assert not c.streams.audio
    else:
        anim = data.index(b"ANIM")
        assert data[anim + 12: anim + 14] == b"\x00\x00"  # ANIM loop count 0: forever


@pytest.mark.parametrize("setting", ["audio aac", "volume -3dB", "crf 20"])
def test_sound_and_rate_settings_on_a_gif_are_refused(tmp_path, setting):
    text = _recipe("media clip = pattern testsrc duration 2s size 320x180", "  video clip",
                   f'save "out.gif"\n  {setting}')
    path = tmp_path / "r.nemo"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    assert "r.nemo:8:3" in result.output
    assert ("hold no sound" in result.output) if setting != "crf 20" else ("does not apply to gif" in result.output)


def test_sound_checks_on_a_webp_are_refused(tmp_path):
    text = _recipe("media clip = pattern testsrc duration 2s size 320x180", "  video clip", 'save "out.webp"')
    path = tmp_path / "r.nemo"
    path.write_text(text + "expect final {\n  has no audio\n  loudness ~= -14 LUFS\n}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    assert "r.nemo:11:3" in result.output and "checks sound, but webp files hold none" in result.output
    assert "r.nemo:10:" not in result.output  # `has no audio` is true of them


# -- SVG stills ------------------------------------------------------------------------------------------------

_DRAWING = ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- a 64x36 drawing: blue, with a white band in its middle half -->\n'
            '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="36" viewBox="0 0 64 36">\n'
            '  <rect width="64" height="36" fill="#0000ff"/>\n  <rect x="16" y="0" width="32" height="36" fill="#ffffff"/>\n'
            "</svg>\n")


def _edge_width(path: Path) -> int:
    """How many pixels the blue-to-white edge (at x = 480 in 1920) takes to rise from 10% to 90%, mid-height, in luma."""
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (1920, 1080)
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[540, :1920].astype(np.float64)
    row = y[400:560]
    lo, hi = row[:20].mean(), row[-20:].mean()
    assert hi - lo > 100, (lo, hi)
    rising = (row - lo) / (hi - lo)
    return int(np.argmax(rising > 0.9) - np.argmax(rising > 0.1))


@pytest.mark.slow
def test_svg_still_is_drawn_sharp_at_1080p(tmp_path):
    """A 64x36 SVG shown full frame at 1080p is drawn at 1920x1080, so its edge stays a pixel or two wide; the same
    drawing as a 64x36 PNG, scaled up, has an edge ~30 pixels wide (the test can tell them apart)."""
    (tmp_path / "logo.svg").write_text(_DRAWING, encoding="utf-8")
    ffmpeg("-f", "image2", "-pattern_type", "none", "-c:v", "librsvg", "-i", str(tmp_path / "logo.svg"), "-frames:v", "1",
           "-update", "1", str(tmp_path / "logo.png"))
    text = ('nemo 1\nmedia logo = "logo.svg"\nmedia flat = "logo.png"\nedit cut {\n  image logo for 1s\n}\n'
            'edit raster {\n  image flat for 1s\n}\nexport sharp = cut {\n  size 1920x1080\n  save "svg.mp4"\n}\n'
            'export soft = raster {\n  size 1920x1080\n  save "png.mp4"\n}\nexpect sharp {\n  frames == 30\n}\n')
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    sharp = _edge_width(tmp_path / "svg.mp4")
    soft = _edge_width(tmp_path / "png.mp4")
    assert sharp <= 3, sharp
    assert soft >= 10, soft


def test_svg_is_probed_by_content(tmp_path):
    from nemoflow.core.sniff import media_type
    from nemoflow.errors import MediaError
    from nemoflow.media.probe import probe

    named_png = tmp_path / "drawing.png"  # the content decides, not the name
    named_png.write_text(_DRAWING, encoding="utf-8")
    assert media_type(named_png.read_bytes()[:4096]) == "svg"
    info = probe(named_png)
    assert (info.kind, info.video.codec, info.video.width, info.video.height) == ("image", "svg", 64, 36)
    assert media_type(b"<html><body><svg></svg></body></html>") is None  # only an SVG root element counts
    broken = tmp_path / "broken.svg"
    broken.write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect', encoding="utf-8")
    with pytest.raises(MediaError, match="librsvg cannot draw"):
        probe(broken)


# -- a sound fitted to its clip --------------------------------------------------------------------------------

_FIT_MEDIA = ("media a = pattern testsrc duration 2s size 320x180\nmedia b = pattern testsrc duration 3s size 320x180\n"
              "media fx = tone 660hz duration 3s")


def _sounds(tmp: Path, edit: str) -> list[dict]:
    result = _draft(tmp, _recipe(_FIT_MEDIA, edit))
    assert result.exit_code == 0, result.output
    draft = json.loads(result.output)["export.final"]["draft"]
    return [seg for track in draft["t"] if track["tt"] == 1 for seg in track["sg"]]


def test_fit_cut_starts_with_the_last_clip_and_ends_with_it(tmp_path):
    (sound,) = _sounds(tmp_path, "  video a\n  video b for 1s\n  audio fx fit cut\n  video a")
    assert (sound["st"], sound["d"]) == (2000, 1000) and "tempo" not in sound["m"]
    (shorter,) = _sounds(tmp_path, "  video a\n  video b\n  audio fx from 2.5s fit cut")  # half a second left: it just ends
    assert (shorter["st"], shorter["d"], shorter["m"]["in"]) == (2000, 500, 2500)


def test_fit_stretch_changes_the_tempo_to_span_the_clip(tmp_path):
    (sound,) = _sounds(tmp_path, "  video a\n  video b for 1.5s\n  audio fx fit stretch")
    assert (sound["st"], sound["d"], sound["m"]["tempo"]) == (2000, 1500, 2.0)
    result = _draft(tmp_path, _recipe(_FIT_MEDIA, "  video b\n  audio fx from 2.9s fit stretch"))
    assert result.exit_code == 2, result.output
    assert "r.nemo:7:3" in result.output and "0.1s of `fx` over the 3s clip would play it at 0.0333x" in result.output


def test_a_trim_inside_a_stretched_sound_moves_its_in_point_at_its_tempo(tmp_path):
    (sound,) = _sounds(tmp_path, "  video a\n  video b for 1s\n  audio fx fit stretch\n  trim from 2.5s")
    assert (sound["st"], sound["d"], sound["m"]["in"], sound["m"]["tempo"]) == (0, 500, 1500, 3.0)


@pytest.mark.slow
def test_fit_stretch_plays_the_whole_sound_within_the_clip_at_its_pitch(tmp_path):
    """3 s of a 660 Hz tone stretched over a 1 s clip (tempo 3x): heard from 2 s to 3 s, still 660 Hz, silent before."""
    text = _recipe(_FIT_MEDIA, "  video a\n  video b for 1s\n  audio fx fit stretch", f'{SMALL}\n  save "out.mp4"')
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output
    before = channels(tmp_path / "out.mp4", 0.5, 1.0)[0]
    during = channels(tmp_path / "out.mp4", 2.2, 0.6)[0]
    assert band_db(during, 660) - band_db(before, 660) > 40
    assert band_db(during, 660) - band_db(during, 1980) > 20  # the tone's own pitch, not three times it
