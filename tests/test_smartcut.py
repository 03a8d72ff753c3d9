"""Smart cut: exact frames, lossless copies where possible, and parameter sets that every decoder can find.

The sources are numbered: the top half of frame n shows n in binary as eight black/white columns, so
a decoded frame says which source frame it is, and any dropped, repeated or shifted frame shows up.
The audio has a 5 ms burst every half second of source time, so the bursts' places in the output show
whether the audio stayed in sync across cuts and joins.
"""

from __future__ import annotations

import functools
import itertools
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from mediagen import ffmpeg, make_video

from nemoflow.engines.local import smartcut
from nemoflow.engines.local.smartcut import Piece, incompatibility, smart_cut
from nemoflow.errors import RenderError
from nemoflow.media.ffmpeg import ffmpeg_exe

FPS = 30
LUMA = ("if(lt(Y,H/2),255*mod(floor((N+{offset})/pow(2,floor(X*8/W))),2),"
        "128+100*sin(X/7+(N+{offset})/3)*cos(Y/5-(N+{offset})/4))")


def numbered(path: Path, *, offset: int = 0, x264: tuple[str, ...] = ("-preset", "ultrafast"), duration: float = 4.0,
             gop: int = 30, audio: bool = True) -> Path:
    """A 320x180 30 fps clip whose frame n shows n + offset in binary; keyframes every `gop` frames."""
    args = ["-f", "lavfi", "-i", f"nullsrc=s=320x180:r={FPS}:d={duration},format=yuv420p,"
                                 f"geq=lum='{LUMA.format(offset=offset)}':cb=128:cr=128"]
    if audio:
        args += ["-f", "lavfi", "-i", f"aevalsrc='if(lt(mod(t,0.5),0.005),0.8*sin(2*PI*1000*t),0)':s=48000:d={duration}",
                 "-c:a", "aac", "-b:a", "96k"]
    ffmpeg(*args, "-c:v", "libx264", *x264, "-pix_fmt", "yuv420p", "-g", str(gop), "-keyint_min", str(gop),
           "-sc_threshold", "0", str(path))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("smartcut-src")
    return {
        "a": numbered(d / "a.mp4"),
        "b": numbered(d / "b.mp4", offset=100),  # same encoder settings as a.mp4, other pictures
        "c": numbered(d / "c.mp4", offset=100, x264=("-preset", "ultrafast", "-crf", "30")),  # other PPS, same id
        "bf": numbered(d / "bf.mp4", x264=("-preset", "veryfast")),  # High profile, B-frames
        "bf_mkv": numbered(d / "bf.mkv", x264=("-preset", "veryfast")),
    }


# --------------------------------------------------------------------------------------------------
# Helpers that look at the output independently of smartcut's own code.


def frame_numbers(frames: list[np.ndarray]) -> list[int]:
    return [sum(1 << b for b in range(8) if y[y.shape[0] // 4, int((b + 0.5) * y.shape[1] / 8)] > 128) for y in frames]


def decode(path: Path) -> list[np.ndarray]:
    """Every frame, through PyAV; any decoder error raises."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]


def nal_units(data: bytes, size: int = 4):
    pos = 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + size], "big")
        yield data[pos + size:pos + size + n]
        pos += size + n


def read_ue(data: bytes, bit: int) -> tuple[int, int]:
    data = data.replace(b"\x00\x00\x03", b"\x00\x00")
    zeros = 0
    while not (data[bit >> 3] >> (7 - (bit & 7))) & 1:
        zeros += 1
        bit += 1
    bit += 1
    value = 0
    for _ in range(zeros):
        value = (value << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1)
        bit += 1
    return (1 << zeros) - 1 + value, bit


def avcc_sets(extradata: bytes) -> tuple[list[bytes], list[bytes]]:
    pos, sps, pps = 6, [], []
    for _ in range(extradata[5] & 0x1F):
        n = int.from_bytes(extradata[pos:pos + 2], "big")
        sps.append(extradata[pos + 2:pos + 2 + n])
        pos += 2 + n
    count, pos = extradata[pos], pos + 1
    for _ in range(count):
        n = int.from_bytes(extradata[pos:pos + 2], "big")
        pps.append(extradata[pos + 2:pos + 2 + n])
        pos += 2 + n
    return sps, pps


def sample_entry_decode(path: Path) -> tuple[list[np.ndarray], int]:
    """Decode as a decoder that configures itself from the avcC only: in-band SPS/PPS are dropped first.

    Returns (frames, errors); err_detect=explode makes any slice that names a missing or wrong
    parameter set an error instead of a silently concealed picture.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = bytes(stream.codec_context.extradata)
        size = (extradata[4] & 3) + 1
        ctx = av.CodecContext.create("h264", "r")
        ctx.extradata = extradata
        ctx.options = {"err_detect": "explode"}
        frames, errors = [], 0
        for packet in [*container.demux(stream), None]:
            if packet is not None and not packet.size:
                continue
            if packet is not None:
                kept = b"".join(len(n).to_bytes(size, "big") + n for n in nal_units(bytes(packet), size) if n[0] & 0x1F not in (7, 8))
                stripped = av.Packet(kept)
                stripped.pts, stripped.dts, stripped.time_base = packet.pts, packet.dts, packet.time_base
                packet = stripped
            try:
                frames += [f.to_ndarray(format="gray").astype(np.int16) for f in ctx.decode(packet)]
            except av.FFmpegError:
                errors += 1
    return frames, errors


def ffmpeg_errors(path: Path) -> str:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True,
                          text=True, check=False).stderr


def audio_bursts(path: Path) -> tuple[list[float], float]:
    """Onset times of the bursts in the output's audio, and the audio stream's duration."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        duration = float(stream.duration * stream.time_base)
        rate = stream.sample_rate
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(stream)])
    loud = np.flatnonzero(np.abs(samples) > 0.2)
    onsets = [int(loud[0])] + [int(b) for a, b in itertools.pairwise(loud) if b - a > rate // 10] if len(loud) else []
    return [s / rate for s in onsets], duration


@functools.cache
def source_frames(path: Path) -> list[np.ndarray]:
    return decode(path)


def assert_clean(out: Path, expected: list[tuple[Path, int]], *, copied: int) -> list[np.ndarray]:
    """The output shows exactly the expected source frames, decodes cleanly with FFmpeg and from the
    sample entry alone, and has exactly `copied` frames that are bit-identical to the source's."""
    frames = decode(out)
    assert frame_numbers(frames) == [frame_numbers([source_frames(p)[i]])[0] for p, i in expected]
    diffs = [float(np.abs(f - source_frames(p)[i]).mean()) for f, (p, i) in zip(frames, expected, strict=True)]
    assert max(diffs) < 4  # re-encoded frames look like their source frames (a wrong PPS gives ~18)
    assert sum(d == 0 for d in diffs) == copied  # copied frames decode to exactly the source's pictures
    assert ffmpeg_errors(out) == ""
    strict, errors = sample_entry_decode(out)
    assert errors == 0
    assert len(strict) == len(frames)
    assert all(np.array_equal(a, b) for a, b in zip(strict, frames, strict=True))
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert abs(float(video.duration * video.time_base) - len(expected) / FPS) < 1 / FPS
    data = out.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart
    return frames


def span(path: Path, first: int, end: int) -> list[tuple[Path, int]]:
    return [(path, i) for i in range(first, end)]


# --------------------------------------------------------------------------------------------------


def test_trim_off_keyframes_is_frame_exact_and_in_sync(media, tmp_path):
    out = tmp_path / "out.mp4"
    seen = []
    report = smart_cut([Piece(media["a"], 0.5, 2.6)], out, on_progress=seen.append)

    frames = assert_clean(out, span(media["a"], 15, 78), copied=48)
    src = source_frames(media["a"])
    for got, at in ((frames[0], 15), (frames[-1], 77)):
        right = np.abs(got - src[at]).mean()
        assert right < 2
        assert right * 5 < min(np.abs(got - src[at - 1]).mean(), np.abs(got - src[at + 1]).mean())
    # Only the partial GOP before the keyframe at 1.0 s is re-encoded; the source has no B-frames, so the
    # tail from the keyframe at 2.0 s up to the cut is copied too.
    assert report.reencoded_seconds == pytest.approx(0.5)
    assert report.copied_seconds == pytest.approx(1.6)
    assert report.segments == 2
    bursts, audio_duration = audio_bursts(out)
    assert abs(audio_duration - 2.1) < 0.025
    assert bursts == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0], abs=0.003)
    assert seen[-1].done and seen[-1].frame == 63
    assert [p.frame for p in seen] == sorted(p.frame for p in seen)


def test_trim_on_keyframes_copies_everything(media, tmp_path):
    out = tmp_path / "out.mp4"
    report = smart_cut([Piece(media["a"], 1.0, 3.0)], out)
    assert report.reencoded_seconds == 0
    assert report.copied_seconds == pytest.approx(2.0)
    assert report.segments == 1
    assert_clean(out, span(media["a"], 30, 90), copied=60)


def test_piece_inside_one_gop_is_reencoded_whole(media, tmp_path):
    out = tmp_path / "out.mp4"
    report = smart_cut([Piece(media["a"], 1.2, 1.7)], out)
    assert (report.copied_seconds, report.segments) == (0, 1)
    assert report.reencoded_seconds == pytest.approx(0.5)
    assert_clean(out, span(media["a"], 36, 51), copied=0)


def test_concat_of_two_sources_off_keyframes(media, tmp_path):
    out = tmp_path / "out.mp4"
    report = smart_cut([Piece(media["a"], 0.5, 2.6), Piece(media["b"], 1.3, 3.1)], out)
    # a: head 0.5-1.0 re-encoded, 1.0-2.6 copied; b: head 1.3-2.0 re-encoded, 2.0-3.1 copied.
    assert report.reencoded_seconds == pytest.approx(0.5 + 0.7)
    assert report.copied_seconds == pytest.approx(1.6 + 1.1)
    assert report.segments == 4
    frames = assert_clean(out, span(media["a"], 15, 78) + span(media["b"], 39, 93), copied=48 + 33)
    src_b = source_frames(media["b"])
    seam = frames[63]
    assert np.abs(seam - src_b[39]).mean() * 5 < min(np.abs(seam - src_b[38]).mean(), np.abs(seam - src_b[40]).mean())
    bursts, audio_duration = audio_bursts(out)
    assert abs(audio_duration - 3.9) < 0.025
    assert bursts == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.3, 2.8, 3.3, 3.8], abs=0.003)


def test_sources_with_clashing_parameter_sets_are_reencoded(media, tmp_path):
    # c.mp4 was encoded at another CRF: its PPS differs from a.mp4's under the same id 0, so both cannot
    # sit in one avcC; c's piece is re-encoded whole and the output is still exact.
    out = tmp_path / "out.mp4"
    report = smart_cut([Piece(media["a"], 0.5, 2.6), Piece(media["c"], 1.3, 3.1)], out)
    assert report.copied_seconds == pytest.approx(1.6)
    assert report.reencoded_seconds == pytest.approx(0.5 + 1.8)
    assert_clean(out, span(media["a"], 15, 78) + span(media["c"], 39, 93), copied=48)


@pytest.mark.parametrize("source", ["bf", "bf_mkv"])
def test_bframe_sources(media, tmp_path, source):
    out = tmp_path / "out.mp4"
    report = smart_cut([Piece(media[source], 0.5, 2.6), Piece(media[source], 3.1, 3.5)], out)
    assert report.copied_seconds >= 1.0
    assert_clean(out, span(media[source], 15, 78) + span(media[source], 93, 105), copied=round(report.copied_seconds * FPS))


def test_parameter_sets_travel_in_the_sample_entry_under_distinct_ids(media, tmp_path):
    """Why the output is safe for decoders that only read the avcC, and proof that the check can tell."""
    out = tmp_path / "out.mp4"
    smart_cut([Piece(media["a"], 0.5, 2.6)], out)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        sps, pps = avcc_sets(bytes(stream.codec_context.extradata))
        pps_of_packets = []
        for packet in container.demux(stream):
            if not packet.size:
                continue
            nals = list(nal_units(bytes(packet)))
            assert not [n for n in nals if n[0] & 0x1F in (7, 8)]  # no in-band parameter sets at all
            slices = [n for n in nals if n[0] & 0x1F in (1, 5)]
            ids = set()
            for nal in slices:
                bit = read_ue(nal, 8)[1]  # first_mb_in_slice
                bit = read_ue(nal, bit)[1]  # slice_type
                ids.add(read_ue(nal, bit)[0])
            pps_of_packets += sorted(ids)
    sps_ids = sorted(read_ue(s, 32)[0] for s in sps)
    pps_ids = sorted(read_ue(p, 8)[0] for p in pps)
    assert len(sps_ids) == 2 and sps_ids[0] == 0 and len(pps_ids) == 2 and pps_ids[0] == 0
    x264_id = sps_ids[1]
    # The 15 re-encoded frames name the re-encode's PPS; the 48 copied ones the source's, unchanged.
    assert pps_of_packets == [x264_id] * 15 + [0] * 48

    # The two PPS really differ, not just in their id (here in the base QP every slice's QP is coded
    # against): a decoder that used one for the other would decode every picture wrong.
    def init_qp(nal: bytes) -> int:
        bit = 8
        for _ in range(2):  # pic_parameter_set_id, seq_parameter_set_id
            bit = read_ue(nal, bit)[1]
        bit += 2  # entropy_coding_mode_flag, bottom_field_pic_order_in_frame_present_flag
        for _ in range(3):  # num_slice_groups_minus1 (0 here), num_ref_idx_l0/l1_default_active_minus1
            bit = read_ue(nal, bit)[1]
        code = read_ue(nal, bit + 3)[0]  # after weighted_pred_flag, weighted_bipred_idc: pic_init_qp_minus26 se(v)
        return 26 + ((code + 1) // 2 if code % 2 else -(code // 2))

    qps = {read_ue(p, 8)[0]: init_qp(p) for p in pps}
    assert qps[0] == 23  # the source: x264 at its default CRF 23
    assert qps[x264_id] != qps[0]

    # Control: FFmpeg's concat demuxer joins the same kind of parts by re-sending the new SPS/PPS in-band
    # under the same id 0. FFmpeg's decoder copes, but decoding from the sample entry alone breaks,
    # which is what sample_entry_decode (used by every test above) would catch.
    head, middle, listing, naive = (tmp_path / n for n in ("head.mp4", "mid.mp4", "list.txt", "naive.mp4"))
    ffmpeg("-ss", "0.5", "-i", str(media["a"]), "-t", "0.5", "-an", "-c:v", "libx264", "-preset", "veryfast", str(head))
    ffmpeg("-ss", "1.0", "-i", str(media["a"]), "-t", "1.0", "-an", "-c:v", "copy", str(middle))
    listing.write_text(f"file '{head}'\nfile '{middle}'\n")
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(naive))
    assert frame_numbers(decode(naive)) == list(range(15, 60))
    strict, errors = sample_entry_decode(naive)
    assert errors > 0 or frame_numbers(strict) != list(range(15, 60))


def test_incompatibility(media, tmp_path):
    a = media["a"]
    assert incompatibility([Piece(a, 0, 1), Piece(media["b"], 0, 1)], audio=True) is None
    big = make_video(tmp_path / "big.mp4", size=(640, 360), duration=1)
    assert incompatibility([Piece(a, 0, 1), Piece(big, 0, 1)], audio=True) == "big.mp4 is 640x360, a.mp4 is 320x180 (size differs)"
    webm = make_video(tmp_path / "v.webm", codec="libvpx-vp9", audio_codec="libopus", duration=1)
    assert incompatibility([Piece(webm, 0, 1)], audio=False) == "v.webm is vp9 video, not H.264"
    silent = make_video(tmp_path / "silent.mp4", audio=False, duration=1)
    assert incompatibility([Piece(a, 0, 1), Piece(silent, 0, 1)], audio=True) == "silent.mp4 has no audio stream"
    assert incompatibility([Piece(silent, 0, 1)], audio=False) is None
    vfr = make_video(tmp_path / "vfr.mp4", vfr=True, duration=1)
    assert incompatibility([Piece(vfr, 0, 1)], audio=False) == "vfr.mp4 has a variable frame rate"
    assert "profile differs" in incompatibility([Piece(a, 0, 1), Piece(media["bf"], 0, 1)], audio=True)
    with pytest.raises(ValueError, match="vp9 video"):
        smart_cut([Piece(webm, 0, 1)], tmp_path / "x.mp4", audio=False)


def test_no_temporary_files_left_behind(media, tmp_path, monkeypatch):
    out_dir = tmp_path / "out"
    smart_cut([Piece(media["a"], 0.5, 2.6)], out_dir / "ok.mp4")
    assert [p.name for p in out_dir.iterdir()] == ["ok.mp4"]

    # A piece past the end of its source is a RenderError naming the file and its length.
    with pytest.raises(RenderError, match=r"a\.mp4: piece 3.5–4.5 s ends after the video's last frame \(the video is 4.000 s long\)"):
        smart_cut([Piece(media["a"], 0.5, 1.2), Piece(media["a"], 3.5, 4.5)], out_dir / "bad.mp4")
    assert [p.name for p in out_dir.iterdir()] == ["ok.mp4"]

    with pytest.raises(ValueError, match="need 0 <= start < end"):
        smart_cut([Piece(media["a"], 2.0, 1.0)], out_dir / "bad.mp4")

    # Ctrl-C during the final mux, after the intermediates exist: all of them go, and so does the output.
    real = smartcut.run_ffmpeg

    def interrupted(args, *, what, on_progress=None, on_start=None):
        if what == "smart cut final mux":
            Path(args[-1]).write_bytes(b"partial")
            raise KeyboardInterrupt
        real(args, what=what, on_progress=on_progress, on_start=on_start)

    monkeypatch.setattr(smartcut, "run_ffmpeg", interrupted)
    with pytest.raises(KeyboardInterrupt):
        smart_cut([Piece(media["a"], 0.5, 2.6)], out_dir / "cancelled.mp4")
    assert [p.name for p in out_dir.iterdir()] == ["ok.mp4"]
