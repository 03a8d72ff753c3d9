"""Probing and validating real media files generated with the FFmpeg nemoflow ships with."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mediagen import ffmpeg, make_audio, make_image, make_video

from nemoflow.errors import ConfigError, MediaError
from nemoflow.media.ffmpeg import ffmpeg_exe
from nemoflow.media.probe import describe, probe
from nemoflow.media.validate import DEFAULT_MAX_BYTES, max_media_bytes, sniff, validate_media

FRAME = 1 / 30


def _faststart(src: Path, dest: Path) -> Path:
    ffmpeg("-i", str(src), "-c", "copy", "-movflags", "+faststart", str(dest))
    return dest


def _mp3_without_length(dest: Path) -> Path:
    """VBR MP3 with no Xing header: FFmpeg only estimates its length, which must not be mistaken for a cut file."""
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=2", "-c:a", "libmp3lame", "-q:a", "6", "-write_xing", "0", str(dest))
    return dest


# name -> how to make it; generated once per session, two at a time (FFmpeg runs in subprocesses).
RECIPES: dict[str, Callable[[Path], Path]] = {
    "normal.mp4": lambda p: make_video(p),
    "noaudio.mp4": lambda p: make_video(p, audio=False),
    "rot_ccw90.mp4": lambda p: make_video(p, rotate=90, audio=False),
    "rot_cw90.mp4": lambda p: make_video(p, rotate=-90, audio=False),
    "vfr.mp4": lambda p: make_video(p, vfr=True),
    "vfr.mkv": lambda p: make_video(p, vfr=True, audio=False),
    "ten.mp4": lambda p: make_video(p, pix_fmt="yuv420p10le", audio=False),
    "odd.mp4": lambda p: make_video(p, size=(321, 181), pix_fmt="yuv444p", pattern="testsrc", audio=False),
    "vp9.webm": lambda p: make_video(p, codec="libvpx-vp9", audio_codec="libopus", duration=1.0),
    "h264.mkv": lambda p: make_video(p),
    "mpeg4.avi": lambda p: make_video(p, codec="mpeg4", audio_codec="mp3"),
    "qt.mov": lambda p: make_video(p),
    "anim.gif": lambda p: make_video(p, codec="gif", pix_fmt="pal8", audio=False, duration=1.0),
    "still.png": lambda p: make_image(p),
    "still.jpg": lambda p: make_image(p),
    "still.webp": lambda p: make_image(p),
    "still.gif": lambda p: make_image(p),
    "tone.mp3": lambda p: make_audio(p),
    "tone.wav": lambda p: make_audio(p),
    "tone.m4a": lambda p: make_audio(p),
    "tone.aac": lambda p: make_audio(p),
    "noxing.mp3": _mp3_without_length,
}


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    with ThreadPoolExecutor(max_workers=2) as pool:
        made = dict(zip(RECIPES, pool.map(lambda item: item[1](root / item[0]), RECIPES.items()), strict=True))
    made["fast.mp4"] = _faststart(made["normal.mp4"], root / "fast.mp4")
    return made


@pytest.fixture(scope="session")
def bad(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Broken files, each made from a good one or from scratch."""
    root = tmp_path_factory.mktemp("bad")
    out: dict[str, Path] = {}

    def write(name: str, data: bytes) -> None:
        out[name] = root / name
        out[name].write_bytes(data)

    def half(name: str, src: str) -> None:
        data = media[src].read_bytes()
        write(name, data[: len(data) // 2])

    write("empty.mp4", b"")
    write("notes.mp4", b"These are my edit notes, not a video.\nScene 1: beach\n" * 20)
    write("garbage.mov", bytes([0]) + random.Random(1234).randbytes(8191))  # leading 0: no accidental magic
    write("page.mp4", b"<!DOCTYPE html><html><body>Access denied</body></html>")
    write("doc.mp4", b"%PDF-1.7\n" + b"x" * 500)
    half("cut_moov_at_end.mp4", "normal.mp4")
    half("cut_faststart.mp4", "fast.mp4")
    half("cut.mkv", "h264.mkv")
    live = root / "live.mkv"
    with live.open("wb") as fh:  # written to a pipe: no element sizes; the duration comes from the source's tags
        subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(media["h264.mkv"]), "-c", "copy", "-f", "matroska", "pipe:1"],
                       stdout=fh, check=True)
    out["live.mkv"] = live
    write("cut_live.mkv", live.read_bytes()[: live.stat().st_size // 2])
    half("cut.wav", "tone.wav")
    half("cut.mp3", "tone.mp3")
    data = bytearray(media["fast.mp4"].read_bytes())
    mdat = data.find(b"mdat") + 4
    data[mdat:] = bytes(len(data) - mdat)  # index intact, every sample zeroed
    write("zeroed.mp4", bytes(data))
    return out


# --- good media -------------------------------------------------------------------------------------------------


def test_normal_clip(media: dict[str, Path]) -> None:
    path = media["normal.mp4"]
    info = probe(path)
    assert info.path == path
    assert info.kind == "video"
    assert "mp4" in info.container
    assert info.size_bytes == path.stat().st_size
    assert info.duration == pytest.approx(2.0, abs=FRAME)
    assert info.bit_rate and info.bit_rate > 0
    v = info.video
    assert v is not None
    assert (v.codec, v.width, v.height, v.coded_width, v.coded_height, v.rotation) == ("h264", 320, 180, 320, 180, 0)
    assert v.fps == pytest.approx(30)
    assert v.vfr is False
    assert (v.pix_fmt, v.bit_depth) == ("yuv420p", 8)
    assert v.profile and "Baseline" in v.profile  # -preset ultrafast turns off CABAC and B-frames
    assert v.frames == 60
    assert info.audio is not None
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 48000, 1)


def test_no_audio(media: dict[str, Path]) -> None:
    info = probe(media["noaudio.mp4"])
    assert info.kind == "video"
    assert info.audio is None
    assert info.video is not None and info.video.width == 320


@pytest.mark.parametrize(("name", "clockwise"), [("rot_ccw90.mp4", 270), ("rot_cw90.mp4", 90)])
def test_rotation_matches_ffmpeg_autorotate(media: dict[str, Path], name: str, clockwise: int) -> None:
    """`rotation` is the clockwise turn FFmpeg's autorotate applies; `-display_rotation N` is counter-clockwise."""
    import av
    import numpy as np

    path = media[name]
    v = probe(path).video
    assert v is not None
    assert (v.width, v.height, v.coded_width, v.coded_height) == (180, 320, 320, 180)
    assert v.rotation == clockwise
    with av.open(str(path)) as container:  # PyAV does not autorotate: the stored picture
        stored = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    shown = np.frombuffer(raw, np.uint8).reshape(v.height, v.width, 3).astype(int)
    ours = np.rot90(stored, k=-v.rotation // 90)  # np.rot90 turns counter-clockwise for positive k
    other = np.rot90(stored, k=v.rotation // 90)
    assert np.abs(ours - shown).mean() < 3
    assert np.abs(other - shown).mean() > 20  # the test can tell the two directions apart


def test_vfr(media: dict[str, Path]) -> None:
    for name in ("vfr.mp4", "vfr.mkv"):  # MP4 knows its average rate; Matroska only shows it in timestamps
        v = probe(media[name]).video
        assert v is not None and v.vfr is True, name
        assert v.fps == pytest.approx(30, abs=0.01), name  # two frames in three kept on a 30 fps grid: 30 keeps them all
        assert 15 < v.fps_avg < 25, name  # about 20 fps on average
    for name in ("normal.mp4", "h264.mkv", "vp9.webm", "mpeg4.avi", "qt.mov"):
        v = probe(media[name]).video
        assert v is not None and v.vfr is False, name


def test_ten_bit(media: dict[str, Path]) -> None:
    v = probe(media["ten.mp4"]).video
    assert v is not None
    assert (v.pix_fmt, v.bit_depth) == ("yuv420p10le", 10)
    assert v.profile == "High 10"


def test_odd_size(media: dict[str, Path]) -> None:
    v = probe(media["odd.mp4"]).video
    assert v is not None
    assert (v.width, v.height, v.coded_width, v.coded_height) == (321, 181, 321, 181)
    assert v.pix_fmt == "yuv444p"


@pytest.mark.parametrize(("name", "codec"), [("still.png", "png"), ("still.jpg", "mjpeg"), ("still.webp", "webp"), ("still.gif", "gif")])
def test_images(media: dict[str, Path], name: str, codec: str) -> None:
    info = validate_media(media[name], expect="image")
    assert info.kind == "image"
    assert info.duration is None
    assert info.audio is None
    v = info.video
    assert v is not None
    assert (v.codec, v.width, v.height, v.rotation, v.fps, v.vfr) == (codec, 320, 180, 0, 0.0, False)


def test_animated_gif_is_video(media: dict[str, Path]) -> None:
    info = validate_media(media["anim.gif"], expect="video")
    assert info.kind == "video"
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert info.video is not None and info.video.frames == 30
    assert info.video.fps == pytest.approx(30, abs=1)  # centisecond delays 3/3/4 average out
    assert info.video.vfr is False
    assert validate_media(media["anim.gif"], expect="image").kind == "video"  # shown as a still: its first frame


@pytest.mark.parametrize(("name", "codec", "slack"), [("tone.mp3", "mp3", FRAME), ("tone.wav", "pcm_s16le", FRAME),
                                                      ("tone.m4a", "aac", FRAME), ("tone.aac", "aac", 0.1)])
def test_audio(media: dict[str, Path], name: str, codec: str, slack: float) -> None:
    info = validate_media(media[name], expect="audio")
    assert info.kind == "audio"
    assert info.video is None
    assert info.audio is not None
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == (codec, 48000, 1)
    assert info.duration == pytest.approx(3.0, abs=slack)  # raw ADTS has no index: FFmpeg estimates from the bitrate


@pytest.mark.parametrize(("name", "container", "vcodec", "acodec", "duration"), [
    ("vp9.webm", "webm", "vp9", "opus", 1.0),
    ("h264.mkv", "matroska", "h264", "aac", 2.0),
    ("mpeg4.avi", "avi", "mpeg4", "mp3", 2.0),
    ("qt.mov", "mov", "h264", "aac", 2.0),
])
def test_containers(media: dict[str, Path], name: str, container: str, vcodec: str, acodec: str, duration: float) -> None:
    info = validate_media(media[name], expect="video")
    assert container in info.container
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.width, info.video.height) == (vcodec, 320, 180)
    assert info.video.fps == pytest.approx(30)
    assert info.audio.codec == acodec
    assert info.duration == pytest.approx(duration, abs=2 * FRAME)  # audio may run a packet past the video


@pytest.mark.parametrize(("name", "kind"), [
    ("normal.mp4", "mp4"), ("fast.mp4", "mp4"), ("qt.mov", "mov"), ("mpeg4.avi", "avi"), ("vp9.webm", "webm"), ("h264.mkv", "mkv"),
    ("still.jpg", "jpg"), ("still.png", "png"), ("still.gif", "gif"), ("anim.gif", "gif"), ("still.webp", "webp"),
    ("tone.mp3", "mp3"), ("tone.wav", "wav"), ("tone.m4a", "m4a"), ("tone.aac", "aac"),
])
def test_sniff(media: dict[str, Path], name: str, kind: str) -> None:
    assert sniff(media[name]) == kind


def test_content_decides_not_the_name(media: dict[str, Path], tmp_path: Path) -> None:
    renamed = tmp_path / "really_an_mp4.mov"
    renamed.write_bytes(media["normal.mp4"].read_bytes())
    assert sniff(renamed) == "mp4"
    assert validate_media(renamed, expect="video").video is not None


def test_sources_are_not_modified(media: dict[str, Path]) -> None:
    def state(p: Path) -> tuple[str, int]:
        return hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns

    before = {name: state(p) for name, p in media.items()}
    for path in media.values():
        validate_media(path)
    assert {name: state(p) for name, p in media.items()} == before


def test_json_and_describe(media: dict[str, Path]) -> None:
    info = probe(media["rot_ccw90.mp4"])
    data = json.loads(json.dumps(info.to_json()))
    assert data["path"] == str(media["rot_ccw90.mp4"])
    assert data["kind"] == "video"
    assert data["video"]["width"] == 180 and data["video"]["rotation"] == 270
    assert data["audio"] is None
    text = describe(info)
    assert str(media["rot_ccw90.mp4"]) in text
    assert "180x320" in text and "rotated 270° clockwise" in text
    text = describe(probe(media["tone.wav"]))
    assert "audio" in text and "48000 Hz" in text


def test_probe_module_does_not_import_av() -> None:
    code = "import sys, nemoflow.media.probe, nemoflow.media.validate; sys.exit('av' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- bad media --------------------------------------------------------------------------------------------------


def _error(path: Path, **kwargs: object) -> str:
    with pytest.raises(MediaError) as exc:
        validate_media(path, **kwargs)  # type: ignore[arg-type]
    message = str(exc.value)
    assert str(path) in message
    assert "Traceback" not in message and "\n" not in message
    return message


def test_missing(tmp_path: Path) -> None:
    assert "not found" in _error(tmp_path / "nope.mp4")
    with pytest.raises(MediaError, match="not found"):
        probe(tmp_path / "nope.mp4")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "clips.mp4"
    folder.mkdir()
    assert "is a folder" in _error(folder)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable(media: dict[str, Path], tmp_path: Path) -> None:
    locked = tmp_path / "locked.mp4"
    locked.write_bytes(media["normal.mp4"].read_bytes())
    locked.chmod(0)
    try:
        assert "permission denied" in _error(locked)
    finally:
        locked.chmod(0o644)


def test_unreadable_even_as_root(media: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same check without relying on file modes (CI containers often run as root)."""
    locked = media["normal.mp4"]
    real_open = Path.open

    def deny(self: Path, *args: object, **kwargs: object):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", deny)
    assert "permission denied" in _error(locked)


def test_empty(bad: dict[str, Path]) -> None:
    assert "is empty (0 bytes)" in _error(bad["empty.mp4"])


@pytest.mark.parametrize(("name", "phrase"), [("notes.mp4", "plain text"), ("page.mp4", "HTML"), ("doc.mp4", "PDF"),
                                              ("garbage.mov", "not a known media format")])
def test_not_media(bad: dict[str, Path], name: str, phrase: str) -> None:
    message = _error(bad[name])
    assert "not a supported media file" in message
    assert phrase in message
    assert "mp4, mov, avi, webm, mkv, ts, m2ts, jpg, png, gif, webp, svg, mp3, wav, m4a, aac" in message


@pytest.mark.parametrize(("name", "phrase"), [
    ("cut_moov_at_end.mp4", "the index (`moov` box) is missing"),  # cut before the index the muxer writes last
    ("cut_faststart.mp4", "the media data (`mdat`) is cut off"),  # index up front, samples missing
    ("cut.mkv", "its Matroska header says"),
    ("cut_live.mkv", "its media data stops at"),  # streamed Matroska has no sizes: found by seeking near the end
    ("cut.wav", "its RIFF header says"),
    ("cut.mp3", "it declares 3.00 s but its media data stops at"),
])
def test_truncated(bad: dict[str, Path], name: str, phrase: str) -> None:
    message = _error(bad[name])
    assert "is incomplete" in message and "copy or export it again" in message
    assert phrase in message


def test_complete_files_without_exact_sizes_pass(media: dict[str, Path], bad: dict[str, Path]) -> None:
    assert validate_media(bad["live.mkv"], expect="video").duration == pytest.approx(2.0, abs=2 * FRAME)
    assert validate_media(media["noxing.mp3"], expect="audio").duration == pytest.approx(2.0, abs=0.2)


def test_truncated_without_moov_cannot_even_be_probed(bad: dict[str, Path]) -> None:
    with pytest.raises(MediaError, match="FFmpeg cannot read"):
        probe(bad["cut_moov_at_end.mp4"])


def test_no_decodable_frame(bad: dict[str, Path]) -> None:
    message = _error(bad["zeroed.mp4"])
    assert "no frame of it could be decoded" in message


def test_over_the_size_limit(media: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEMOFLOW_MAX_MEDIA_SIZE", "100KiB")
    message = _error(media["normal.mp4"])
    assert "over the 102.4 kB (102,400 bytes) limit" in message
    assert "NEMOFLOW_MAX_MEDIA_SIZE" in message
    assert validate_media(media["normal.mp4"], max_bytes=10**9).kind == "video"  # an explicit limit wins
    assert "over the" in _error(media["still.png"], max_bytes=100)


@pytest.mark.parametrize(("name", "expect", "phrase"), [
    ("tone.m4a", "video", "holds only audio"), ("still.png", "video", "is a still image"), ("normal.mp4", "image", "is a video"),
    ("noaudio.mp4", "audio", "has no audio track"), ("still.jpg", "audio", "no sound"), ("tone.mp3", "image", "holds only audio"),
])
def test_wrong_kind_for_its_use(media: dict[str, Path], name: str, expect: str, phrase: str) -> None:
    message = _error(media[name], expect=expect)
    assert phrase in message
    assert "but the recipe uses it as" in message


def test_video_soundtrack_may_be_used_as_audio(media: dict[str, Path]) -> None:
    assert validate_media(media["normal.mp4"], expect="audio").audio is not None
    with pytest.raises(ValueError):
        validate_media(media["normal.mp4"], expect="clip")


# --- the size limit setting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("500MB", 500 * 10**6), ("2GiB", 2 * 2**30), ("12345", 12345), ("1.5 kB", 1500),
                                            ("500 mib", 500 * 2**20)])
def test_max_media_bytes_from_env(monkeypatch: pytest.MonkeyPatch, raw: str, value: int) -> None:
    monkeypatch.setenv("NEMOFLOW_MAX_MEDIA_SIZE", raw)
    assert max_media_bytes() == value


@pytest.mark.parametrize("raw", ["lots", "5 parsecs", "0", "-3MB", "MB"])
def test_max_media_bytes_bad_value(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("NEMOFLOW_MAX_MEDIA_SIZE", raw)
    with pytest.raises(ConfigError, match="NEMOFLOW_MAX_MEDIA_SIZE"):
        max_media_bytes()


def test_max_media_bytes_from_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEMOFLOW_MAX_MEDIA_SIZE", raising=False)
    monkeypatch.setenv("NEMOFLOW_CONFIG", str(tmp_path / "absent.toml"))
    assert max_media_bytes() == DEFAULT_MAX_BYTES
    for i, (line, value) in enumerate([('max_media_size = "1GiB"', 2**30), ("max_media_size = 4096", 4096)]):
        config = tmp_path / f"config{i}.toml"
        config.write_text(f"[local]\n{line}\n")
        monkeypatch.setenv("NEMOFLOW_CONFIG", str(config))
        assert max_media_bytes() == value
    config = tmp_path / "broken.toml"
    config.write_text('[local]\nmax_media_size = "huge"\n')
    monkeypatch.setenv("NEMOFLOW_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"\[local\] max_media_size"):
        max_media_bytes()


# --- CLI --------------------------------------------------------------------------------------------------------


def test_cli_probe_text(cli, media: dict[str, Path]) -> None:
    result = cli("probe", str(media["normal.mp4"]), str(media["tone.mp3"]))
    assert result.exit_code == 0, result.stderr
    assert str(media["normal.mp4"]) in result.stdout and str(media["tone.mp3"]) in result.stdout
    assert "h264" in result.stdout and "320x180" in result.stdout and "48000 Hz" in result.stdout


def test_cli_probe_json(cli, media: dict[str, Path]) -> None:
    result = cli("probe", "--json", str(media["still.png"]), str(media["rot_cw90.mp4"]))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [d["kind"] for d in data] == ["image", "video"]
    assert data[1]["video"]["rotation"] == 90 and data[1]["video"]["width"] == 180


@pytest.mark.parametrize(("name", "phrase"), [("notes.mp4", "not a supported media file"), ("cut_faststart.mp4", "is incomplete"),
                                              ("empty.mp4", "is empty")])
def test_cli_probe_bad_file(cli, bad: dict[str, Path], name: str, phrase: str) -> None:
    result = cli("probe", str(bad[name]))
    assert result.exit_code == 2
    assert result.stderr.startswith("nemoflow: error: ")
    assert str(bad[name]) in result.stderr and phrase in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_probe_missing_and_too_large(cli, media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("probe", str(tmp_path / "gone.mov"))
    assert result.exit_code == 2 and "not found" in result.stderr
    monkeypatch.setenv("NEMOFLOW_MAX_MEDIA_SIZE", "1kB")
    result = cli("probe", str(media["normal.mp4"]))
    assert result.exit_code == 2 and "over the" in result.stderr
    monkeypatch.setenv("NEMOFLOW_MAX_MEDIA_SIZE", "a lot")
    result = cli("probe", str(media["normal.mp4"]))
    assert result.exit_code == 2 and "NEMOFLOW_MAX_MEDIA_SIZE" in result.stderr
