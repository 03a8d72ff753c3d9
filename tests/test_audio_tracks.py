"""One audio track per source, chosen like an editor would, and stereo kept stereo (issue 16, items 1 and 2).

Sources are tiny generated clips whose tracks and channels carry different
tones (440 Hz left, 660 Hz right, 880 Hz for a commentary track), so which
track and which channel reached the output is measured from the sound itself
with an FFT, per channel, never taken from nemoflow's own probe.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import ffmpeg, make_video
from renderkit import run_recipe

from nemoflow.draft.media import AudioTrack, MediaEntry, MediaKind
from nemoflow.draft.schema import problems
from nemoflow.errors import DraftError
from nemoflow.media.entries import file_entry
from nemoflow.media.probe import probe

SIZE = "320x180"
TONES = (220, 440, 660, 880)


def _video(seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=s={SIZE}:r=30:d={seconds}"]


def _sine(freq: int, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=f={freq}:d={seconds}:sample_rate=48000"]


def make_two_tracks(path: Path, *, default_second: bool = False, seconds: float = 2.0) -> Path:
    """A main stereo track (440 Hz left, 660 Hz right) and a mono commentary (880 Hz, French, titled).

    With `default_second` the commentary comes first in the file and the main track is the default one.
    """
    main = "[1:a][2:a]join=inputs=2:channel_layout=stereo[main]"
    streams = ["-map", "[main]", "-map", "3:a"]
    if default_second:
        streams = ["-map", "3:a", "-map", "[main]"]
    commentary, stereo = ("0", "1") if default_second else ("1", "0")
    ffmpeg(*_video(seconds), *_sine(440, seconds), *_sine(660, seconds), *_sine(880, seconds), "-filter_complex", main,
           "-map", "0:v", *streams, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
           f"-disposition:a:{stereo}", "default", f"-disposition:a:{commentary}", "0",
           f"-metadata:s:a:{commentary}", "title=Commentary", f"-metadata:s:a:{commentary}", "language=fra", str(path))
    return path


def make_stereo(path: Path, seconds: float = 3.0) -> Path:
    """A clip whose sound is 440 Hz on the left and 660 Hz on the right."""
    ffmpeg(*_video(seconds), *_sine(440, seconds), *_sine(660, seconds),
           "-filter_complex", "[1:a][2:a]join=inputs=2:channel_layout=stereo[a]", "-map", "0:v", "-map", "[a]",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tracks")
    return {"two": make_two_tracks(d / "two_tracks.mkv"), "second": make_two_tracks(d / "default_second.mkv", default_second=True),
            "stereo": make_stereo(d / "stereo.mp4")}


# -- measuring ---------------------------------------------------------------------------------------


def audio_streams(path: Path) -> int:
    with av.open(str(path)) as c:
        return len(c.streams.audio)


def channels(path: Path, start: float = 0.2, length: float = 1.0) -> list[np.ndarray]:
    """The output's first audio stream, one array per channel, from `start` for `length` seconds."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.rate
        chunks = []
        for frame in c.decode(stream):
            arr = frame.to_ndarray()
            if not frame.format.is_planar:
                arr = arr.reshape(-1, frame.layout.nb_channels).T
            chunks.append(arr.astype(np.float64))
    samples = np.concatenate(chunks, axis=1)
    return list(samples[:, round(start * rate): round((start + length) * rate)])


def energy(samples: np.ndarray, freq: int, rate: int = 48000) -> float:
    """Spectral magnitude at `freq` (Hann window, 1 Hz bins for a one-second window)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    bins = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[np.argmin(np.abs(bins - freq))])


def dominant(samples: np.ndarray, among: tuple[int, ...] = TONES) -> int:
    return max(among, key=lambda f: energy(samples, f))


def recipe(tmp: Path, sources: dict[str, Path], edit: str, *, size: str = SIZE, extra_media: str = "") -> str:
    lines = ["nemo 1", *(f'media {k} = "{v}"' for k, v in sources.items())]
    if extra_media:
        lines.append(extra_media)
    return "\n".join(lines) + f"\nedit cut {{\n{edit}\n}}\nexport out = cut {{\n  size {size}\n  save \"out.mp4\"\n}}\n"


def render(tmp: Path, sources: dict[str, Path], edit: str, **kw):
    result = run_recipe(tmp, recipe(tmp, sources, edit, **kw))
    assert result.exit_code == 0, result.output + result.stderr
    return tmp / "out.mp4", result.output + result.stderr


# -- item 1: one track per source --------------------------------------------------------------------

# Three ways the same clip reaches the output: smart cut (plain cut, same size and codec), the filter graph
# with an audio filter, and the filter graph with the sound untouched (the case that mapped every track).
PATHS = {"smart cut": ("  video m for 1.5s", SIZE), "volume": ("  video m for 1.5s\n  volume 90%", SIZE),
         "scaled": ("  video m for 1.5s", "640x360")}


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_two_track_source_renders_its_default_track_only(tmp_path, media, path):
    edit, size = PATHS[path]
    out, said = render(tmp_path, {"m": media["two"]}, edit, size=size)
    assert ("smart cut" in said) == (path == "smart cut")
    assert audio_streams(out) == 1
    left, right = channels(out)
    assert (dominant(left), dominant(right)) == (440, 660)  # the stereo main track, channels in place
    assert "2 audio tracks" in said and "track 1" in said  # the run says which track it took


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_default_disposition_wins_over_file_order(tmp_path, media, path):
    """The commentary is stored first, but the main track is the file's default: that is the one heard."""
    edit, size = PATHS[path]
    out, said = render(tmp_path, {"m": media["second"]}, edit, size=size)
    assert audio_streams(out) == 1
    left, right = channels(out)
    assert (dominant(left), dominant(right)) == (440, 660)
    assert "track 2" in said


@pytest.mark.slow
def test_track_2_chooses_the_commentary(tmp_path, media):
    out, said = render(tmp_path, {"m": media["two"]}, "  video m for 1.5s track 2")
    assert audio_streams(out) == 1
    left, right = channels(out)
    assert dominant(left) == dominant(right) == 880
    assert abs(energy(left, 880) / energy(right, 880) - 1) < 0.02  # mono lands in both channels, centred
    assert "audio tracks" not in said  # chosen explicitly: nothing to point out


@pytest.mark.slow
def test_music_from_a_two_track_file_takes_its_chosen_track(tmp_path, media):
    out, _ = render(tmp_path, {"m": media["two"]}, "  video clip for 1.5s mute\n  music m track 2",
                    extra_media=f"media clip = pattern duration 2s size {SIZE}")
    assert audio_streams(out) == 1
    left, right = channels(out)
    assert dominant(left) == dominant(right) == 880


def test_a_track_that_does_not_exist_is_a_clear_error(tmp_path, media):
    result = run_recipe(tmp_path, recipe(tmp_path, {"m": media["two"]}, "  video m for 1s track 3"))
    said = result.output + result.stderr
    assert result.exit_code == 2, said
    assert "r.nemo:4:" in said  # file:line:column of the clause
    assert "two_tracks.mkv" in said and "2 audio tracks" in said and "track 3" in said
    assert "Traceback" not in said


def test_track_on_a_source_without_sound_is_refused(tmp_path):
    result = run_recipe(tmp_path, recipe(tmp_path, {}, "  video clip for 1s track 1",
                                         extra_media=f"media clip = pattern duration 2s size {SIZE}"))
    said = result.output + result.stderr
    assert result.exit_code == 2, said
    assert "no audio track" in said and "r.nemo:" in said


def test_track_zero_is_refused_by_check(tmp_path, media, cli):
    path = tmp_path / "r.nemo"
    path.write_text(recipe(tmp_path, {"m": media["two"]}, "  video m track 0"))
    result = cli("check", str(path))
    said = result.output + result.stderr
    assert result.exit_code == 2
    assert "`track`" in said and "out of range" in said and "from 1 to 64" in said


def test_the_nemo_engine_refuses_track(tmp_path, media, cli):
    """The service's timeline cannot name a track: refused at check time rather than silently played otherwise."""
    path = tmp_path / "r.nemo"
    path.write_text(recipe(tmp_path, {"m": media["two"]}, "  video m track 2").replace("nemo 1\n", "nemo 1\nengine nemo\n", 1))
    result = cli("check", str(path))
    said = result.output + result.stderr
    assert result.exit_code == 2, said
    assert "E406" in said or "`track 2` cannot be applied there" in said
    assert "r.nemo:5:" in said


# -- the facts: probe, media entry, Draft schema ------------------------------------------------------


def test_probe_records_every_audio_track(media):
    info = probe(media["second"])
    assert [(t.index, t.channels, t.layout, t.language, t.title, t.default) for t in info.tracks] == [
        (1, 1, "mono", "fra", "Commentary", False), (2, 2, "stereo", None, None, True)]
    assert info.audio is not None and info.audio.channels == 2  # `audio` is the track a clip plays by default
    entry = file_entry(info)
    assert entry.tracks == info.tracks
    assert entry.audio_track(None) == info.tracks[1] and entry.audio_track(1) == info.tracks[0]
    again = MediaEntry.from_json(entry.to_json())
    assert again == entry
    draft = {"v": 1, "m": {"media": {"m": entry.to_json()}}, "t": []}
    assert problems(draft) == []


def test_old_entries_without_tracks_still_read():
    entry = MediaEntry.from_json({"kind": "video", "audio": True, "d": 2000, "path": "/x.mp4"})
    assert entry.tracks is None and entry.audio_track(None) is None
    with pytest.raises(DraftError, match="tracks"):
        MediaEntry.from_json({"kind": "video", "path": "/x.mp4", "tracks": [{"index": "one"}]})
    assert MediaEntry(MediaKind.AUDIO, audio=True, tracks=(AudioTrack(index=0, codec="aac", sample_rate=48000, channels=2,
                                                                        layout="stereo", default=True),)).to_json()["tracks"]


# -- item 2: stereo stays stereo ----------------------------------------------------------------------


def _assert_stereo_440_660(out: Path, start: float = 0.2) -> None:
    assert audio_streams(out) == 1
    chans = channels(out, start)
    assert len(chans) == 2
    left, right = chans
    assert dominant(left, (440, 660)) == 440 and dominant(right, (440, 660)) == 660
    # distinct, not a mix: each channel's own tone at least 10x the other's
    assert energy(left, 440) > 10 * energy(left, 660) and energy(right, 660) > 10 * energy(right, 440)


@pytest.mark.slow
def test_stereo_clip_under_tone_music_stays_stereo(tmp_path, media):
    out, _ = render(tmp_path, {"clip": media["stereo"]}, "  video clip\n  music bed volume 30%",
                    extra_media="media bed = tone 220hz duration 5s")
    _assert_stereo_440_660(out)
    left, right = channels(out)
    assert energy(left, 220) > 0.1 * energy(left, 440) and energy(right, 220) > 0.1 * energy(right, 660)  # the bed, both sides


@pytest.mark.slow
def test_stereo_kept_through_cuts_ducking_placed_sounds_and_silent_clips(tmp_path, media):
    """Clips joined (the graph's concat and crossfade), a silent clip, ducked music and a placed sound; the last clip
    is from a two-track file whose default track is its second."""
    edit = ("  video clip for 1.5s\n  video quiet for 1s\n  transition crossfade 300ms\n  video m from 0.2s for 1.5s\n"
            "  music bed volume 30% duck 40%\n  audio beep at 1.7s volume 50%")
    out, _ = render(tmp_path, {"clip": media["stereo"], "m": media["second"]}, edit,
                    extra_media=f"media bed = tone 220hz duration 10s\nmedia beep = tone 880hz duration 0.5s\n"
                                f"media quiet = pattern duration 2s size {SIZE}")
    _assert_stereo_440_660(out, start=0.2)  # the first clip, under ducked music
    _assert_stereo_440_660(out, start=2.6)  # the third clip, after a crossfade
    left, right = channels(out, 1.7, 0.5)
    assert dominant(left, (440, 660, 880)) == dominant(right, (440, 660, 880)) == 880  # the placed sound, centred


@pytest.mark.slow
@pytest.mark.parametrize("source", ["generated", "mono file"])
def test_mono_and_generated_sound_go_to_both_channels(tmp_path, source):
    """A generated tone goes through the filter graph; a mono H.264 file cut plainly goes through smart cut."""
    if source == "generated":
        out, _ = render(tmp_path, {}, "  video clip", extra_media=f"media clip = pattern duration 1.5s size {SIZE} tone 440hz")
    else:
        mono = make_video(tmp_path / "mono.mp4", duration=2, tone=440)
        out, said = render(tmp_path, {"clip": mono}, "  video clip from 0.2s for 1.5s")
        assert "smart cut" in said
    assert audio_streams(out) == 1
    left, right = channels(out, 0.2, 1.0)
    assert dominant(left) == dominant(right) == 440
    assert abs(energy(left, 440) / energy(right, 440) - 1) < 0.02


@pytest.mark.slow
def test_stereo_kept_in_every_fan_out_output(tmp_path, media):
    src = tmp_path / "footage"
    src.mkdir()
    for name in ("a", "b"):
        (src / f"{name}.mp4").symlink_to(media["stereo"])
    text = ('nemo 1\nmedia bed = tone 220hz duration 5s\n'
            'for clip in glob("footage/*.mp4") {\n  edit short {\n    video clip for 2s\n    reframe 9:16 blur\n'
            '    music bed volume 25%\n  }\n  export final = short {\n    size 180x320\n    save "out/${clip}.mp4"\n  }\n}\n')
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.output + result.stderr
    for name in ("a", "b"):
        _assert_stereo_440_660(tmp_path / "out" / f"{name}.mp4")
