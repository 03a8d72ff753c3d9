"""Edges of what nemoflow reads and writes (issue 16 item 7), each on generated media.

The profile the encoder really produced, limited range out of full-range sources, file names FFmpeg would
read as protocols or options, content that disagrees with its extension, broken files `check` can catch
without decoding, and MPEG transport streams from cameras.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import ffmpeg, make_image, make_video
from renderkit import count_frames, frame_at, run_recipe

from nemoflow.core import codes
from nemoflow.media.probe import probe

SIZE = "320x180"


def recipe(media: dict[str, str], body: str, export: str = "size 320x180", save: str = "out.mp4") -> str:
    lines = ["nemo 1"] + [f'media {k} = "{v}"' for k, v in media.items()]
    return "\n".join(lines) + f"\nedit cut {{\n{body}\n}}\nexport out = cut {{\n  {export}\n  save \"{save}\"\n}}\n"


def video_stream(path: Path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        cc = s.codec_context
        frame = next(c.decode(s))
        luma = frame.to_ndarray()[: frame.height] if frame.format.name.startswith("yuv") else None
        return {"profile": s.profile, "pix_fmt": cc.pix_fmt, "range": cc.color_range, "primaries": cc.color_primaries,
                "trc": cc.color_trc, "matrix": cc.colorspace, "luma": luma}


# ---- a. the profile promised is the profile produced ----------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize(("codec", "profile"), [("h264", "High"), ("hevc", "Main"), ("vp9", "Profile 0")])
@pytest.mark.parametrize("quality", ["draft", "medium", "high"])
def test_every_quality_gives_the_profile_it_promises(tmp_path, codec, quality, profile):
    src = make_video(tmp_path / "a.mp4", duration=1, audio=False)
    save = "out.webm" if codec == "vp9" else "out.mp4"
    result = run_recipe(tmp_path, recipe({"a": str(src)}, "  video a", f"size 320x180\n  codec {codec}\n  quality {quality}",
                                         save=save))
    assert result.exit_code == 0, result.stderr
    assert video_stream(tmp_path / save)["profile"] == profile


# ---- b. limited-range yuv420p out of full-range MJPEG ------------------------------------------------------------

def make_mjpeg(path: Path) -> Path:
    """MJPEG + PCM, full range (yuvj420p): white top half (Y 255), black bottom half (Y 0)."""
    ffmpeg("-f", "lavfi", "-i", f"color=black:s={SIZE}:r=30:d=1,format=rgb24,drawbox=x=0:y=0:w=320:h=90:c=white:t=fill",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p",
           "-q:v", "2", "-c:a", "pcm_s16le", str(path))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["avi", "mov"])
def test_full_range_mjpeg_comes_out_limited_range_yuv420p(tmp_path, suffix):
    src = make_mjpeg(tmp_path / f"cam.{suffix}")
    source = video_stream(src)
    assert source["pix_fmt"] == "yuvj420p" and source["luma"][:90].mean() > 250  # the source really is full range
    result = run_recipe(tmp_path, recipe({"cam": str(src)}, "  video cam"))
    assert result.exit_code == 0, result.stderr
    out = video_stream(tmp_path / "out.mp4")
    assert out["pix_fmt"] == "yuv420p" and out["range"] == 1  # AVCOL_RANGE_MPEG: tv
    white, black = out["luma"][10:80].mean(), out["luma"][100:170].mean()
    assert abs(white - 235) <= 2 and abs(black - 16) <= 2, (white, black)


@pytest.mark.slow
def test_full_range_hevc_without_colour_tags_is_converted(tmp_path):
    """HEVC decodes full range as yuv420p + a range flag (no yuvj format): levels are converted all the same. With no
    colour description in the source, x264 writes no range flag either, which H.264 defines as limited range."""
    src = tmp_path / "full.mp4"
    ffmpeg("-f", "lavfi", "-i", f"color=black:s={SIZE}:r=30:d=1,format=rgb24,drawbox=x=0:y=0:w=320:h=90:c=white:t=fill",
           "-c:v", "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuvj420p", str(src))
    assert video_stream(src)["luma"][:90].mean() > 250
    result = run_recipe(tmp_path, recipe({"full": str(src)}, "  video full"))
    assert result.exit_code == 0, result.stderr
    out = video_stream(tmp_path / "out.mp4")
    assert out["pix_fmt"] == "yuv420p" and out["range"] in (0, 1)  # 0: not signalled, which H.264 reads as limited
    white, black = out["luma"][10:80].mean(), out["luma"][100:170].mean()
    assert abs(white - 235) <= 2 and abs(black - 16) <= 2, (white, black)


@pytest.mark.slow
def test_bt709_tags_are_kept(tmp_path):
    src = tmp_path / "hd.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={SIZE}:r=30:d=1,format=yuv420p,"
           "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709",
           "-c:v", "libx264", "-preset", "ultrafast", str(src))
    assert video_stream(src)["primaries"] == 1
    result = run_recipe(tmp_path, recipe({"hd": str(src)}, "  video hd\n  fade in 0.5s"))
    assert result.exit_code == 0, result.stderr
    out = video_stream(tmp_path / "out.mp4")
    assert (out["range"], out["primaries"], out["trc"], out["matrix"]) == (1, 1, 1, 1)  # tv, bt709 x3


# ---- c. file names FFmpeg would misread --------------------------------------------------------------------------

ODD_NAMES = ["take:2.mp4", "-dash.mp4", "50%.mp4", "with space é.mp4", "file:x.mp4"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_file_names_probe_check_and_render(tmp_path, cli, name):
    make_video(tmp_path / "plain.mp4", duration=1)
    os.rename(tmp_path / "plain.mp4", tmp_path / name)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = cli("probe", "--json", "--", name)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)[0]["kind"] == "video"
        info = probe(Path(name))  # relative, as a user types it
        assert info.kind == "video" and info.duration == pytest.approx(1, abs=0.05)
        (tmp_path / "r.nemo").write_text(recipe({"clip": name}, "  video clip from 0.2s"), encoding="utf-8")
        assert cli("check", "r.nemo").exit_code == 0
        result = run_recipe(tmp_path, recipe({"clip": name}, "  video clip from 0.2s"))
        assert result.exit_code == 0, result.stderr
    finally:
        os.chdir(cwd)
    assert count_frames(tmp_path / "out.mp4") == 24


@pytest.mark.slow
def test_odd_still_names_render(tmp_path):
    make_image(tmp_path / "logo%d.png", color="0x2080c0")
    os.rename(tmp_path / "logo%d.png", tmp_path / "a:50%.png")
    result = run_recipe(tmp_path, recipe({"logo": "a:50%.png"}, "  image logo for 1s"))
    assert result.exit_code == 0, result.stderr
    assert np.abs(frame_at(tmp_path / "out.mp4", 0.5)[90, 160] - [0x20, 0x80, 0xC0]).max() < 12


# ---- d. content that disagrees with its extension ----------------------------------------------------------------

def check_json(cli, tmp_path: Path, text: str) -> tuple[int, list[dict]]:
    (tmp_path / "r.nemo").write_text(text, encoding="utf-8")
    result = cli("check", "--json", str(tmp_path / "r.nemo"))
    return result.exit_code, json.loads(result.stdout)["files"][0]["diagnostics"]


def test_a_png_named_mp4_used_as_image_warns(tmp_path, cli):
    make_image(tmp_path / "pic.png", color="0x2080c0")
    os.rename(tmp_path / "pic.png", tmp_path / "pic.mp4")
    code, diags = check_json(cli, tmp_path, recipe({"pic": "pic.mp4"}, "  image pic for 1s"))
    assert code == 0
    assert [(d["code"], d["severity"]) for d in diags] == [(codes.MEDIA_CONTENT_MISMATCH.id, "warning")]
    message = diags[0]["message"] + " " + (diags[0].get("help") or "")
    assert "pic.mp4" in message and "PNG" in message and "rename" in message.lower()
    assert diags[0]["range"]["start"]["line"] == 2


@pytest.mark.slow
def test_a_png_named_mp4_still_renders_as_an_image(tmp_path):
    make_image(tmp_path / "pic.png", color="0x2080c0")
    os.rename(tmp_path / "pic.png", tmp_path / "pic.mp4")
    result = run_recipe(tmp_path, recipe({"pic": "pic.mp4"}, "  image pic for 1s"))
    assert result.exit_code == 0, result.stderr
    assert "r.nemo:2:" in result.stderr and "warning: pic.mp4 is a PNG image" in result.stderr and "rename" in result.stderr


def test_a_still_used_as_video_is_an_error_at_check(tmp_path, cli):
    make_image(tmp_path / "pic.png", color="0x2080c0")
    os.rename(tmp_path / "pic.png", tmp_path / "pic.mp4")
    code, diags = check_json(cli, tmp_path, recipe({"pic": "pic.mp4"}, "  video pic"))
    assert code == 2
    found = {(d["code"], d["severity"]) for d in diags}
    assert (codes.MEDIA_WRONG_KIND.id, "error") in found
    err = next(d for d in diags if d["code"] == codes.MEDIA_WRONG_KIND.id)
    assert err["range"]["start"]["line"] == 4 and "image pic for" in (err.get("help") or "")


def test_matching_content_gives_no_warning(tmp_path, cli):
    make_video(tmp_path / "a.mov", duration=1)  # an MP4 inside a .mov: the same family, no warning
    make_image(tmp_path / "p.jpeg")
    code, diags = check_json(cli, tmp_path, recipe({"a": "a.mov", "p": "p.jpeg"}, "  video a\n  image p for 1s"))
    assert code == 0 and diags == []


# ---- e. broken files caught by check ----------------------------------------------------------------------------

def truncated_mp4(tmp_path: Path) -> Path:
    full = make_video(tmp_path / "full.mp4", duration=1)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    moov = data.find(b"moov")
    assert moov > data.find(b"mdat")  # x264 via FFmpeg without +faststart: the index is written last
    cut.write_bytes(data[: len(data) // 2])
    return cut


@pytest.mark.parametrize(("kind", "words"), [
    ("empty", "empty"), ("text", "plain text"), ("html", "HTML"), ("junk", "not a known media format"), ("cut", "moov"),
    ("fifo", "not a regular file"),
])
def test_check_refuses_what_run_would_refuse(tmp_path, cli, kind, words):
    path = tmp_path / "clip.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video, just some notes\n" * 20)
    elif kind == "html":
        path.write_text("<!DOCTYPE html><html><body>Access denied</body></html>")
    elif kind == "junk":
        path.write_bytes(bytes(range(7, 256)) * 20)
    elif kind == "fifo":
        os.mkfifo(path)  # opening it would wait for a writer forever
    else:
        path = truncated_mp4(tmp_path)
        path.rename(tmp_path / "clip.mp4")
        path = tmp_path / "clip.mp4"
    (tmp_path / "r.nemo").write_text(recipe({"clip": "clip.mp4"}, "  video clip"), encoding="utf-8")
    result = cli("check", str(tmp_path / "r.nemo"))
    assert result.exit_code == 2
    assert "r.nemo:2:" in result.stderr and "clip.mp4" in result.stderr and words in result.stderr
    code, diags = check_json(cli, tmp_path, recipe({"clip": "clip.mp4"}, "  video clip"))
    assert code == 2 and [d["code"] for d in diags] == [codes.BROKEN_MEDIA.id]


def test_check_reads_only_the_ends_of_a_file(tmp_path, cli, monkeypatch):
    """Check stays fast: a big, valid file is judged by its first and last bytes, never read whole."""
    src = make_video(tmp_path / "a.mp4", duration=1)
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:  # a valid MP4 with a 200 MB `free` box before its media
        data = src.read_bytes()
        ftyp = int.from_bytes(data[:4], "big")
        fh.write(data[:ftyp])
        fh.write((200_000_008).to_bytes(4, "big") + b"free")
        fh.truncate(ftyp + 200_000_008)
        fh.seek(0, 2)
        fh.write(data[ftyp:])
    import builtins
    import io

    read = []
    real_open = builtins.open

    class Counting:
        def __init__(self, fh):
            self.fh = fh

        def read(self, n=-1):
            out = self.fh.read(n)
            read.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def counting_open(file, mode="r", *a, **kw):
        fh = real_open(file, mode, *a, **kw)
        return Counting(fh) if str(file).endswith("big.mp4") and "b" in mode else fh

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)  # Path.open
    code, diags = check_json(cli, tmp_path, recipe({"big": "big.mp4"}, "  video big"))
    assert code == 0, diags
    assert len(read) >= 3 and 0 < sum(read) < 100_000  # the head, then box headers (ftyp, free, mdat, moov)


# ---- f. MPEG transport streams -----------------------------------------------------------------------------------

def make_ts(path: Path, *, m2ts: bool = False) -> Path:
    """H.264 + AAC in MPEG-TS, a frame counter drawn in; timestamps start at 1.4 s as FFmpeg's muxer writes them."""
    args = ["-f", "lavfi", "-i", f"testsrc2=s={SIZE}:r=30:d=2", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30", "-c:a", "aac", "-b:a", "96k",
            "-f", "mpegts"]
    if m2ts:
        args += ["-mpegts_m2ts_mode", "1"]
    ffmpeg(*args, str(path))
    return path


@pytest.mark.parametrize("name", ["cam.ts", "cam.mts", "cam.m2ts"])
def test_transport_streams_probe_as_video(tmp_path, name):
    src = make_ts(tmp_path / name, m2ts=name.endswith("m2ts"))
    from nemoflow.media.validate import sniff, validate_media

    assert sniff(src) == ("m2ts" if name.endswith("m2ts") else "ts")
    info = validate_media(src, expect="video")
    assert info.kind == "video" and info.duration == pytest.approx(2, abs=0.1) and info.audio is not None


@pytest.mark.slow
@pytest.mark.parametrize(("name", "start", "end"), [("cam.ts", 0.5, 1.5), ("cam.m2ts", 0.5, 1.5), ("cam.ts", 1.2, 1.8)])
def test_transport_streams_check_and_render(tmp_path, cli, name, start, end):
    """Keyframes every second: FFmpeg's seek in a transport stream lands between them, and the first picture used
    to be the next keyframe's (1.0 s for an in-point at 0.5 s; none at all after the last one)."""
    src = make_ts(tmp_path / name, m2ts=name.endswith("m2ts"))
    ref = make_video(tmp_path / "ref.mp4", duration=2)  # the same picture, timestamps from 0
    text = recipe({"cam": src.name}, f"  video cam from {start}s to {end}s")
    (tmp_path / "r.nemo").write_text(text, encoding="utf-8")
    assert cli("check", str(tmp_path / "r.nemo")).exit_code == 0
    result = run_recipe(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out.mp4"
    frames = round((end - start) * 30)
    assert count_frames(out) == frames
    assert probe(out).duration == pytest.approx(end - start, abs=0.05)
    # the first frame is the source's frame at the in-point (not a later keyframe's, nor shifted by the 1.4 s start)
    first, last = frame_at(out, 0), frame_at(out, (frames - 1) / 30)
    assert np.abs(first - frame_at(ref, start)).mean() < 6
    assert np.abs(first - frame_at(ref, start + 0.1)).mean() > np.abs(first - frame_at(ref, start)).mean()
    assert np.abs(last - frame_at(ref, end - 1 / 30)).mean() < 6
