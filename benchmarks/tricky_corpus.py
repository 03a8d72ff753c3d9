"""The seven tricky-media cases of issue 16, generated, rendered, and measured from the outside.

Each case builds a small source like the real-world file it stands for (a
two-track MKV, a stereo clip under a tone, an off-grid in-point, a 4K still, a
30/15 fps VFR file, a translation-only shake, and the item-7 odds and ends),
runs the `nemoflow` CLI on a recipe, and measures the result with PyAV and
numpy — never with nemoflow's own probe, so a nemoflow bug cannot hide itself.

    python benchmarks/tricky_corpus.py [--checkout DIR] [--json] [--keep DIR]

`--checkout DIR` runs another checkout's nemoflow (e.g. a worktree of an older
commit: `git worktree add /tmp/pre16 <commit>`), for before/after tables. Only
syntax that the old code also reads is used. Exit 0 when every case ran
(whether it passed or not: this is a measurement), 1 when a case could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
from table import print_table

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
SMALL = "320x180"


@dataclass
class Row:
    case: str
    measure: str
    expected: str
    actual: str
    ok: bool


class Bench:
    """Runs the CLI of one checkout in a scratch folder."""

    def __init__(self, root: Path, checkout: Path | None) -> None:
        self.root = root
        self.env = dict(os.environ)
        if checkout is not None:
            self.env["PYTHONPATH"] = str(checkout)

    def ff(self, *args: str) -> None:
        subprocess.run([FFMPEG, *QUIET, *args], check=True, cwd=self.root, capture_output=True)

    def nemoflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nemoflow", *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=600)

    def run(self, name: str, body: str, size: str = SMALL) -> tuple[subprocess.CompletedProcess[str], Path]:
        """Render `body`'s edit `cut` at `size` (the sources' own, so frames compare pixel for pixel)."""
        recipe = self.root / f"{name}.nemo"
        out = self.root / "out" / f"{name}.mp4"
        recipe.write_text(f'nemo 1\n\n{body}\n\nexport final = cut {{\n  format mp4\n  size {size}\n  save "out/{name}.mp4"\n}}\n')
        done = self.nemoflow("run", str(recipe), "--state-dir", str(self.root / f".state-{name}"), "--force", "export.*")
        return done, out


# -- measuring -----------------------------------------------------------------------------------------

def _streams(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        return len(c.streams.video), len(c.streams.audio)


def _audio(path: Path, seconds: float = 1.0) -> tuple[int, np.ndarray, int]:
    """Channels, the first `seconds` of samples (channels x n, float), sample rate."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        chunks = []
        for frame in c.decode(stream):
            arr = frame.to_ndarray()
            if arr.ndim == 1 or frame.format.is_packed:
                arr = arr.reshape(-1, frame.layout.nb_channels).T if frame.format.is_packed else arr[None, :]
            chunks.append(arr.astype(np.float64))
            if sum(x.shape[1] for x in chunks) >= seconds * stream.rate:
                break
        return stream.channels, np.concatenate(chunks, axis=1), stream.rate


def _dominant(samples: np.ndarray, rate: int, candidates: tuple[int, ...]) -> int:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return max(candidates, key=lambda f: spectrum[np.argmin(np.abs(freqs - f))])


def _frames(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """Every frame's pts (seconds) and luma plane."""
    pts, lumas = [], []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            pts.append(float(frame.pts * frame.time_base))
            lumas.append(frame.to_ndarray(format="yuv420p")[: frame.height])  # Y as coded (16-235), not converted
    return pts, lumas


def _index(luma: np.ndarray) -> int:
    """The frame index coded as two grey levels (left: index // 16, right: index % 16) by `indexed_source`."""
    h, w = luma.shape
    left, right = luma[h // 4: 3 * h // 4, w // 8: 3 * w // 8].mean(), luma[h // 4: 3 * h // 4, 5 * w // 8: 7 * w // 8].mean()
    return round(float(left - 16) / 14) * 16 + round(float(right - 16) / 14)


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Global SSIM of two luma planes (one window: enough to tell a zoomed picture from the same one)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = a.mean(), b.mean()
    cov = ((a - ma) * (b - mb)).mean()
    return float(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (a.var() + b.var() + c2)))


def _shift(a: np.ndarray, b: np.ndarray) -> float:
    """Translation between two luma planes by phase correlation, in pixels."""
    fa, fb = np.fft.fft2(a - a.mean()), np.fft.fft2(b - b.mean())
    r = fa * np.conj(fb)
    corr = np.abs(np.fft.ifft2(r / (np.abs(r) + 1e-9)))
    y, x = np.unravel_index(np.argmax(corr), corr.shape)
    h, w = a.shape
    y, x = (y - h if y > h // 2 else y), (x - w if x > w // 2 else x)
    return float(np.hypot(x, y))


# -- sources -------------------------------------------------------------------------------------------

def indexed_source(b: Bench, name: str, seconds: float, rate: str = "30") -> None:
    """Each frame shows its index as two flat grey levels; stereo 440/660 Hz."""
    b.ff("-f", "lavfi", "-i", f"color=c=gray:s={SMALL}:r={rate}:d={seconds},format=yuv420p,"
         "geq=lum='if(lt(X\\,W/2)\\,16+14*floor(N/16)\\,16+14*mod(N\\,16))':cb=128:cr=128",
         "-f", "lavfi", "-i", f"sine=f=440:d={seconds}:sample_rate=48000",
         "-f", "lavfi", "-i", f"sine=f=660:d={seconds}:sample_rate=48000",
         "-filter_complex", "[1:a][2:a]join=inputs=2:channel_layout=stereo[a]", "-map", "0:v", "-map", "[a]",
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "1", "-c:a", "aac", "-shortest", name)


# -- the cases -----------------------------------------------------------------------------------------

def case_tracks(b: Bench) -> list[Row]:
    b.ff("-f", "lavfi", "-i", f"testsrc2=s={SMALL}:r=30:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000",
         "-f", "lavfi", "-i", "sine=f=660:d=2:sample_rate=48000", "-f", "lavfi", "-i", "sine=f=880:d=2:sample_rate=48000",
         "-filter_complex", "[1:a][2:a]join=inputs=2:channel_layout=stereo[main]", "-map", "0:v", "-map", "[main]",
         "-map", "3:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-disposition:a:0", "default",
         "-disposition:a:1", "0", "two_tracks.mkv")
    done, out = b.run("tracks", 'media m = "two_tracks.mkv"\n\nedit cut {\n  video m\n}')
    if done.returncode:
        return [Row("1 two audio tracks", "run", "exit 0", f"exit {done.returncode}: {done.stderr.strip()[-200:]}", False)]
    _, na = _streams(out)
    _, samples, rate = _audio(out)
    left = _dominant(samples[0], rate, (440, 660, 880))
    return [Row("1 two audio tracks", "audio streams in output", "1", str(na), na == 1),
            Row("1 two audio tracks", "output's left channel", "440 Hz (default track)", f"{left} Hz", left == 440)]


def case_stereo(b: Bench) -> list[Row]:
    indexed_source(b, "stereo.mp4", 3)
    done, out = b.run("stereo", 'media clip = "stereo.mp4"\nmedia bed = tone 220hz duration 5s\n\n'
                      'edit cut {\n  video clip\n  music bed volume 30%\n}')
    if done.returncode:
        return [Row("2 stereo under music", "run", "exit 0", f"exit {done.returncode}: {done.stderr.strip()[-200:]}", False)]
    channels, samples, rate = _audio(out)
    if channels < 2:
        return [Row("2 stereo under music", "channels", "2", str(channels), False)]
    left, right = (_dominant(samples[i], rate, (440, 660)) for i in (0, 1))
    return [Row("2 stereo under music", "channels", "2", str(channels), channels == 2),
            Row("2 stereo under music", "left / right tone", "440 / 660 Hz", f"{left} / {right} Hz", (left, right) == (440, 660))]


def case_offgrid(b: Bench) -> list[Row]:
    indexed_source(b, "counted.mp4", 4)
    done, out = b.run("offgrid", 'media clip = "counted.mp4"\n\nedit cut {\n  video clip from 0.25s to 2.25s\n}')
    if done.returncode:
        return [Row("3 off-grid in-point", "run", "exit 0", f"exit {done.returncode}: {done.stderr.strip()[-200:]}", False)]
    pts, lumas = _frames(out)
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        first_audio = next(float(f.pts * f.time_base) for f in c.decode(a))
    first = _index(lumas[0])
    return [Row("3 off-grid in-point", "frames (2 s at 30 fps)", "60", str(len(pts)), len(pts) == 60),
            Row("3 off-grid in-point", "first frame's source index", "7 (shown at 0.25 s)", str(first), first == 7),
            Row("3 off-grid in-point", "first video pts - first audio pts", "0 ms (|x| <= 16.7)",
                f"{(pts[0] - first_audio) * 1000:.1f} ms", abs(pts[0] - first_audio) <= 1 / 60)]


def case_still(b: Bench) -> list[Row]:
    b.ff("-f", "lavfi", "-i", "testsrc2=s=3840x2160:r=1", "-frames:v", "1", "still.png")
    start = time.perf_counter()
    done, out = b.run("still", 'media pic = "still.png"\n\nedit cut {\n  image pic for 3s\n}', size="3840x2160")
    took = time.perf_counter() - start
    if done.returncode:
        return [Row("4 4K still, 3 s", "run", "exit 0", f"exit {done.returncode}: {done.stderr.strip()[-200:]}", False)]
    pts, _ = _frames(out)
    # the reference: decode the PNG once, loop the frame, same encoder settings as nemoflow's default
    start = time.perf_counter()
    b.ff("-i", "still.png", "-vf", "loop=loop=-1:size=1,fps=30,trim=duration=3,format=yuv420p", "-c:v", "libx264",
         "-preset", "medium", "-crf", "18", "ref_still.mp4")
    ref = time.perf_counter() - start
    return [Row("4 4K still, 3 s", "frames", "90", str(len(pts)), len(pts) == 90),
            Row("4 4K still, 3 s", "run time / decode-once ffmpeg", "<= 1.3x", f"{took / ref:.2f}x ({took:.1f} s / {ref:.1f} s)",
                took / ref <= 1.3)]


def case_vfr(b: Bench) -> list[Row]:
    b.ff("-f", "lavfi", "-i", f"testsrc2=s={SMALL}:r=30:d=2", "-c:v", "libx264", "-preset", "ultrafast", "part30.mp4")
    b.ff("-f", "lavfi", "-i", f"testsrc2=s={SMALL}:r=15:d=2", "-c:v", "libx264", "-preset", "ultrafast", "part15.mp4")
    (b.root / "parts.txt").write_text("file 'part30.mp4'\nfile 'part15.mp4'\n")
    b.ff("-f", "concat", "-safe", "0", "-i", "parts.txt", "-c", "copy", "-video_track_timescale", "90000", "vfr.mp4")
    done, out = b.run("vfr", 'media clip = "vfr.mp4"\n\nedit cut {\n  video clip\n}')
    if done.returncode:
        return [Row("5 VFR 30/15 fps", "run", "exit 0", f"exit {done.returncode}: {done.stderr.strip()[-200:]}", False)]
    with av.open(str(out)) as c:
        rate = float(c.streams.video[0].average_rate or 0)
    pts, _ = _frames(out)
    said = "30" in (done.stdout + done.stderr) and "fps" in (done.stdout + done.stderr).lower()
    return [Row("5 VFR 30/15 fps", "output rate", "30 fps", f"{rate:g} fps", abs(rate - 30) < 0.01),
            Row("5 VFR 30/15 fps", "frames (4 s)", "120", str(len(pts)), len(pts) == 120),
            Row("5 VFR 30/15 fps", "says which rate it chose", "a message", "yes" if said else "no", said)]


def case_stabilize(b: Bench) -> list[Row]:
    # a static picture seen through a window that shakes sideways (translation only) from 1 s to 2 s
    b.ff("-f", "lavfi", "-i", "testsrc2=s=640x360:r=1", "-frames:v", "1", "big.png")
    jitter = "if(between(t,1,2),40+24*sin(2*PI*t*5),40)"
    b.ff("-loop", "1", "-framerate", "30", "-i", "big.png", "-vf", f"crop=480:270:x='{jitter}':y=45,format=yuv420p",
         "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "shaky.mp4")
    done, out = b.run("stabilize", 'media clip = "shaky.mp4"\n\nedit cut {\n  video clip\n  stabilize\n}', size="480x270")
    if done.returncode:
        return [Row("6 stabilize", "run", "exit 0", f"exit {done.returncode}: {done.stderr.strip()[-200:]}", False)]
    _, src = _frames(b.root / "shaky.mp4")
    _, got = _frames(out)
    steady = _ssim(src[12], got[12])  # 0.4 s: the window is still; the output should be the source
    shake_in = float(np.mean([_shift(src[i], src[i + 1]) for i in range(32, 58)]))
    shake_out = float(np.mean([_shift(got[i], got[i + 1]) for i in range(32, 58)]))
    return [Row("6 stabilize", "SSIM output vs source, steady part", ">= 0.95 (no zoom)", f"{steady:.3f}", steady >= 0.95),
            Row("6 stabilize", "frame-to-frame shift in the shake", "< source's", f"{shake_out:.1f} px (source {shake_in:.1f})",
                shake_out < shake_in)]


def case_odds(b: Bench) -> list[Row]:
    rows = []
    b.ff("-f", "lavfi", "-i", f"testsrc2=s={SMALL}:r=30:d=1", "-c:v", "libx264", "-preset", "ultrafast", "plain.mp4")
    recipe = b.root / "draft.nemo"
    recipe.write_text('nemo 1\n\nmedia m = "plain.mp4"\n\nedit cut {\n  video m\n  grade warm\n}\n\n'
                      'export final = cut {\n  quality draft\n  save "out/draft.mp4"\n}\n')
    done = b.nemoflow("run", str(recipe), "--state-dir", str(b.root / ".state-draft"))
    profile = "(failed)"
    if done.returncode == 0:
        with av.open(str(b.root / "out" / "draft.mp4")) as c:
            profile = c.streams.video[0].profile or "?"
    rows.append(Row("7 odds", "`quality draft` H.264 profile", "High", profile, profile == "High"))

    b.ff("-f", "lavfi", "-i", f"color=c=white:s={SMALL}:r=30:d=1", "-f", "lavfi", "-i", "sine=f=440:d=1",
         "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-c:a", "pcm_s16le", "mjpeg.avi")
    done, out = b.run("mjpeg", 'media m = "mjpeg.avi"\n\nedit cut {\n  video m\n}')
    got = "(failed)"
    ok = False
    if done.returncode == 0:
        with av.open(str(out)) as c:
            s = c.streams.video[0]
            fmt = s.codec_context.pix_fmt
            frame = next(c.decode(s))
            luma = float(frame.to_ndarray(format="yuv420p")[: frame.height].mean())
        got = f"{fmt}, white luma {luma:.0f}"
        ok = fmt == "yuv420p" and abs(luma - 235) <= 3
    rows.append(Row("7 odds", "MJPEG source → pix_fmt, white", "yuv420p, 235", got, ok))

    (b.root / "take:2.mp4").write_bytes((b.root / "plain.mp4").read_bytes())
    done = b.nemoflow("probe", "take:2.mp4")
    rows.append(Row("7 odds", "`nemoflow probe take:2.mp4`", "exit 0", f"exit {done.returncode}", done.returncode == 0))

    b.ff("-f", "lavfi", "-i", f"testsrc2=s={SMALL}", "-frames:v", "1", "-f", "image2", "-c:v", "png", "picture.mp4")
    recipe = b.root / "png.nemo"
    recipe.write_text('nemo 1\n\nmedia p = "picture.mp4"\n\nedit cut {\n  image p for 1s\n}\n\n'
                      'export final = cut {\n  save "out/png.mp4"\n}\n')
    done = b.nemoflow("check", str(recipe))
    warned = "warning" in (done.stdout + done.stderr).lower()
    rows.append(Row("7 odds", "PNG named .mp4 used as image", "a warning", "warned" if warned else "silent", warned))

    for name, content in (("empty.mp4", b""), ("text.mp4", b"this is not a video\n" * 50),
                          ("cut.mp4", (b.root / "plain.mp4").read_bytes()[:2000])):
        (b.root / name).write_bytes(content)
        recipe = b.root / f"check_{name}.nemo"
        recipe.write_text(f'nemo 1\n\nmedia m = "{name}"\n\nedit cut {{\n  video m\n}}\n\n'
                          f'export final = cut {{\n  save "out/{name}"\n}}\n')
        done = b.nemoflow("check", str(recipe))
        rows.append(Row("7 odds", f"`check` of {name} ({len(content)} bytes)", "exit 2", f"exit {done.returncode}",
                        done.returncode == 2))

    for ext, extra in (("ts", []), ("m2ts", ["-mpegts_m2ts_mode", "1"])):
        b.ff("-f", "lavfi", "-i", f"testsrc2=s={SMALL}:r=30:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2",
             "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "mpegts", *extra, f"camera.{ext}")
        done, out = b.run(f"cam_{ext}", f'media m = "camera.{ext}"\n\nedit cut {{\n  video m\n}}')
        frames = len(_frames(out)[0]) if done.returncode == 0 else 0
        rows.append(Row("7 odds", f"MPEG-TS .{ext} camera file", "renders, 60 frames",
                        f"exit {done.returncode}, {frames} frames", done.returncode == 0 and frames == 60))
    return rows


CASES: dict[str, Callable[[Bench], list[Row]]] = {
    "tracks": case_tracks, "stereo": case_stereo, "offgrid": case_offgrid, "still": case_still, "vfr": case_vfr,
    "stabilize": case_stabilize, "odds": case_odds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkout", type=Path, help="run this checkout's nemoflow (PYTHONPATH) instead of the installed one")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", type=Path, help="work here and keep the files")
    ap.add_argument("--only", nargs="*", choices=sorted(CASES), help="run only these cases")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tricky-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        bench = Bench(root, args.checkout)
        rows: list[Row] = []
        broken = []
        for name in args.only or CASES:
            try:
                rows += CASES[name](bench)
            except Exception as err:  # a case that could not run is reported, never counted as passed
                broken.append(name)
                rows.append(Row(name, "could not run", "-", f"{type(err).__name__}: {str(err)[-200:]}", False))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        print_table("issue 16: tricky media, generated", ["case", "measure", "expected", "actual", "ok"],
                    [[r.case, r.measure, r.expected, r.actual, "PASS" if r.ok else "FAIL"] for r in rows])
        print(f"{sum(r.ok for r in rows)}/{len(rows)} as expected" + (f"; could not run: {', '.join(broken)}" if broken else ""))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
