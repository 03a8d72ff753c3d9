"""A/V invariants kit: sources whose every frame and click can be read back, random edits, and the checks.

Sources (`make_source`) carry, per frame, a binary code of grey bands across the
top 60% of the picture (two reference bands, white and black, then 4 bits of
source id, 9 bits of frame index, an even-parity bit), and the frame number
drawn in the bottom 40% for a person looking at a frame. The sound is 440 Hz on
the left and 660 Hz on the right, with a 4 ms 4 kHz click on both channels at
the instant of every 10th frame (0, 10, 20, ...). A band code survives scaling,
crop/pad/blur reframing, fades and re-encoding (it is read against its own
reference bands); the clicks are found in the 3-5 kHz band, where the tones and a
220 Hz music bed are not. SOURCE_KINDS lists them: 30, 29.97, 25 and 24 fps clips,
a two-track MKV (stereo default + a mono 880 Hz commentary), a clip without sound,
a still PNG, a 30/15 fps VFR clip and a clip with 44.1 kHz sound; `make_sources`
also writes a stereo 44.1 kHz song (550 Hz left, 770 Hz right) for `music`.

`random_case` draws an edit (clips on and off the frame grid, speed, transitions,
fades, music, reframe, timeline speed and trim, a window of another edit, output
rate) and `Model` computes, independently of nemoflow's code, the timeline the
docs promise: each clip's place in milliseconds (the Draft's rounding), its first
source frame, and the output frame count. `evaluate` renders nothing: it measures a rendered file
against the model and returns one `Verdict` per invariant. Everything is
measured with PyAV and numpy, never with nemoflow's probe, so a nemoflow bug
cannot hide itself.
"""

from __future__ import annotations

import math
import random
import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import attrs
import av
import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
FONT = Path(__file__).resolve().parent.parent / "nemoflow" / "fonts" / "DejaVuSans.ttf"
SR = 48000
W, H = 320, 180  # every source's size
SECONDS = 6.0  # every source's length
ID_BITS, INDEX_BITS = 4, 9
BANDS = 2 + ID_BITS + INDEX_BITS + 1  # white ref, black ref, id, index, parity
CODE_HEIGHT = 0.6  # fraction of the picture height the bands take, from the top
CLICK_EVERY = 10  # a click at every frame whose index is a multiple of this
CLICK_HZ, CLICK_MS, CLICK_AMP = 4000, 4, 0.6
TONE_L, TONE_R, TONE_COMMENTARY, TONE_AMP = 440, 660, 880, 0.2
MUSIC_HZ = 220  # the generated (mono) music bed
SONG_L, SONG_R = 550, 770  # the stereo music file: a 44.1 kHz AAC song, a tone per channel


def _ff(*args: str, stdin: bytes | None = None) -> None:
    quiet = ["-hide_banner", "-loglevel", "error", "-y", *(["-nostdin"] if stdin is None else [])]
    subprocess.run([FFMPEG, *quiet, *args], input=stdin, check=True)


# ---------------------------------------------------------------- sources


@attrs.frozen
class Source:
    """A generated source: `sid` is the id its frames carry; `audio` is stereo, twotrack (stereo + mono commentary) or
    none. A still (`.png`) is one frame, index 0, with no sound, used as `image NAME for D`. A VFR source (`vfr`
    in its name) runs at `rate` for its first VFR_SPLIT frames, then at half that rate (a phone's 30/15 fps file)."""

    name: str
    sid: int
    rate: Fraction
    audio: str
    path: Path

    @property
    def still(self) -> bool:
        return self.path.suffix == ".png"

    @property
    def vfr(self) -> bool:
        return "vfr" in self.name

    @property
    def frames(self) -> int:
        if self.vfr:
            return VFR_SPLIT + math.floor((SECONDS - VFR_SPLIT / self.rate) * self.rate / 2)
        return 1 if self.still else math.floor(SECONDS * self.rate)

    def time(self, n: int) -> Fraction:
        """When frame n starts, in seconds."""
        if self.vfr and n > VFR_SPLIT:
            return (VFR_SPLIT + 2 * (n - VFR_SPLIT)) / self.rate
        return n / self.rate

    def index_at(self, t: Fraction) -> Fraction:
        """The (fractional) frame index at source time t: frame n at exactly time(n), linear in between."""
        if self.vfr and t * self.rate > VFR_SPLIT:
            return VFR_SPLIT + (t * self.rate - VFR_SPLIT) / 2
        return t * self.rate

    def nearest(self, in_ms: int) -> int:
        """A clip's first frame (docs/engine.md "Frame timing"): the frame nearest the in-point, a tie to the earlier;
        for a VFR source, which has no grid, the last frame starting no later than the in-point plus half a frame
        at its fastest rate (the nearest in its fast parts; in slow parts maybe the one before)."""
        if not self.vfr:
            return nearest_frame(in_ms, self.rate)
        return self.last_at(Fraction(in_ms, 1000) + 1 / (2 * self.rate))

    def last_at(self, t: Fraction) -> int:
        """The last frame starting at or before t."""
        n = math.floor(self.index_at(t))
        return n + 1 if n + 1 < self.frames and self.time(n + 1) <= t else n

    @property
    def has_audio(self) -> bool:
        return self.audio != "none"


SOURCE_KINDS: tuple[tuple[str, Fraction, str, str], ...] = (
    # name, rate, audio, container
    ("s30", Fraction(30), "stereo", "mp4"),
    ("s2997", Fraction(30000, 1001), "stereo", "mp4"),
    ("s25", Fraction(25), "stereo", "mp4"),
    ("s24", Fraction(24), "stereo", "mp4"),
    ("twotrack", Fraction(30), "twotrack", "mkv"),
    ("mute25", Fraction(25), "none", "mp4"),
    ("still", Fraction(30), "none", "png"),
    ("vfr30", Fraction(30), "stereo", "mp4"),
    ("s24a44k", Fraction(24), "stereo", "mov"),
)
VFR_SPLIT = 90  # a VFR source's frames at its full rate, before it halves


def band_levels(code: int) -> list[int]:
    """The grey level (full range) of each band for a code (id << INDEX_BITS | index)."""
    bits = [(code >> i) & 1 for i in range(ID_BITS + INDEX_BITS)]
    return [255, 0, *(255 * b for b in bits), 255 * (sum(bits) % 2)]


def _picture(sid: int, n: int) -> np.ndarray:
    img = np.full((H, W), 96, np.uint8)
    top = round(H * CODE_HEIGHT)
    levels = band_levels(sid << INDEX_BITS | n)
    for b, level in enumerate(levels):
        img[round(b * top / BANDS):round((b + 1) * top / BANDS), :] = level
    return img


def _pcm(times: list[Fraction], channels: tuple[int, ...], clicks: bool, sr: int = SR) -> np.ndarray:
    """Float samples [n, channels] at `sr`: a tone per channel (0 = silent) and the clicks on every channel."""
    n = round(SECONDS * sr)
    t = np.arange(n) / sr
    out = np.zeros((n, len(channels)), np.float32)
    for c, hz in enumerate(channels):
        if hz:
            out[:, c] = TONE_AMP * np.sin(2 * np.pi * hz * t)
    if clicks:
        length = sr * CLICK_MS // 1000
        burst = CLICK_AMP * np.sin(2 * np.pi * CLICK_HZ * np.arange(length) / sr)
        for k in range(0, len(times), CLICK_EVERY):
            at = round(times[k] * sr)
            end = min(n, at + length)
            out[at:end, :] += burst[:end - at, None]
    return out


def _wav(path: Path, pcm: np.ndarray, sr: int = SR) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def make_source(folder: Path, name: str, sid: int, rate: Fraction, audio: str = "stereo", container: str = "mp4") -> Source:
    """Write one source (H.264, 1 s GOP so smart cut has keyframes; AAC) and return what it holds."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{container}"
    source = Source(name=name, sid=sid, rate=rate, audio=audio, path=path)
    frames = source.frames
    times = [source.time(n) for n in range(frames)]
    raw = b"".join(_picture(sid, n).tobytes() for n in range(frames))
    rate_s = f"{rate.numerator}/{rate.denominator}"
    label = f"drawtext=fontfile={FONT}:text='{name} %{{n}}':x=(w-tw)/2:y=h*0.64:fontsize=h*0.26:fontcolor=white"
    args = ["-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{W}x{H}", "-r", rate_s, "-i", "-"]
    maps = ["-map", "0:v"]
    wavs = []
    if audio in ("stereo", "twotrack"):
        sr = 44100 if "44k" in name else SR  # a CD-rate track: the engine resamples it to 48 kHz
        wavs.append(_wav(folder / f"{name}.main.wav", _pcm(times, (TONE_L, TONE_R), True, sr), sr))
    if audio == "twotrack":
        wavs.append(_wav(folder / f"{name}.commentary.wav", _pcm(times, (TONE_COMMENTARY,), False)))
    for i, w in enumerate(wavs):
        args += ["-i", str(w)]
        maps += ["-map", f"{i + 1}:a"]
    gop = str(round(rate))
    vfr = [f"setpts='if(lt(N,{VFR_SPLIT}),N,{VFR_SPLIT}+2*(N-{VFR_SPLIT}))/({rate_s}*TB)'"] if source.vfr else []
    enc = ["-vf", ",".join([*vfr, label, "format=yuv420p"]), *(["-fps_mode", "vfr"] if vfr else []),
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0"]
    if wavs:
        enc += ["-c:a", "aac", "-b:a", "192k"]
    if audio == "twotrack":
        enc += ["-disposition:a:0", "default", "-disposition:a:1", "0", "-metadata:s:a:1", "title=Commentary"]
    if container == "png":
        _ff(*args, "-vf", label, "-frames:v", "1", "-update", "1", str(path), stdin=raw)
    else:
        _ff(*args, *maps, *enc, "-t", f"{SECONDS:.6f}", str(path), stdin=raw)
    for w in wavs:
        w.unlink()
    return source


def source_specs(folder: Path) -> list[Source]:
    """What make_sources(folder) makes, without making it: enough to draw cases and build their model."""
    return [Source(name=name, sid=sid, rate=rate, audio=audio, path=folder / f"{name}.{container}")
            for sid, (name, rate, audio, container) in enumerate(SOURCE_KINDS)]


def make_sources(folder: Path) -> list[Source]:
    """Every kind in SOURCE_KINDS, and the stereo song (`song_path`) that `music` may use."""
    sources = [make_source(folder, name, sid, rate, audio, container)
               for sid, (name, rate, audio, container) in enumerate(SOURCE_KINDS)]
    t = np.arange(20 * 44100) / 44100
    pcm = np.stack([TONE_AMP * np.sin(2 * np.pi * SONG_L * t), TONE_AMP * np.sin(2 * np.pi * SONG_R * t)], axis=1)
    wav = _wav(folder / "song.wav", pcm, 44100)
    _ff("-i", str(wav), "-c:a", "aac", "-b:a", "160k", str(song_path(sources)))
    wav.unlink()
    return sources


def song_path(sources: list[Source]) -> Path:
    return sources[0].path.parent / "song.m4a"


# ---------------------------------------------------------------- reading a render


@attrs.frozen
class Rect:
    """Where the source picture lies in the output frame (may extend outside it when cropped)."""

    x: float
    y: float
    w: float
    h: float


def content_rect(out_w: int, out_h: int, fit: str | None) -> Rect:
    """The source picture's place in the output, for crop (fill) or pad/blur (fit) reframing."""
    if abs(W / H - out_w / out_h) < 0.01:
        return Rect(0, 0, out_w, out_h)
    scale = max(out_w / W, out_h / H) if fit == "crop" else min(out_w / W, out_h / H)
    w, h = W * scale, H * scale
    return Rect((out_w - w) / 2, (out_h - h) / 2, w, h)


def read_code(y: np.ndarray, rect: Rect) -> tuple[int, int] | None:
    """(source id, frame index) from a luma plane, or None when the bands cannot be read with confidence."""
    oh, ow = y.shape
    x0, x1 = max(rect.x, 0), min(rect.x + rect.w, ow)
    mid, half = (x0 + x1) / 2, (x1 - x0) / 4
    xs = slice(int(mid - half), max(int(mid - half) + 1, int(mid + half)))
    band = rect.h * CODE_HEIGHT / BANDS
    vals = []
    for b in range(BANDS):
        c = rect.y + band * (b + 0.5)
        r0, r1 = round(c - band * 0.2), round(c + band * 0.2) + 1
        vals.append(float(np.median(y[max(r0, 0):min(r1, oh), xs])))
    white, black = vals[0], vals[1]
    contrast = white - black
    if contrast < 24:
        return None
    mid_level = (white + black) / 2
    bits = []
    for v in vals[2:]:
        if abs(v - mid_level) < contrast * 0.25:
            return None
        bits.append(1 if v > mid_level else 0)
    data, parity = bits[:-1], bits[-1]
    if sum(data) % 2 != parity:
        return None
    code = sum(b << i for i, b in enumerate(data))
    return code >> INDEX_BITS, code & ((1 << INDEX_BITS) - 1)


@attrs.frozen
class Video:
    times: list[float]
    codes: list[tuple[int, int] | None]
    width: int
    height: int


def read_video(path: Path, fit: str | None) -> Video:
    times: list[float] = []
    codes: list[tuple[int, int] | None] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        w, h = stream.codec_context.width, stream.codec_context.height
        rect = content_rect(w, h, fit)
        for f in c.decode(stream):
            plane = f.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:f.height, :f.width]
            times.append(float(f.time))
            codes.append(read_code(y, rect))
    return Video(times, codes, w, h)


@attrs.frozen
class Audio:
    samples: np.ndarray  # [channels, n] float
    rate: int
    start: float  # time of the first sample


def read_audio(path: Path) -> Audio | None:
    """The first audio stream, every channel, as floats."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        chunks, start = [], None
        for f in c.decode(stream):
            if start is None:
                start = float(f.time) if f.time is not None else 0.0
            arr = f.to_ndarray()
            if not f.format.is_planar:
                arr = arr.reshape(-1, len(f.layout.channels)).T
            if arr.dtype.kind in "iu":  # integer PCM: to the float scale of the codecs' output
                arr = arr.astype(np.float64) / float(np.iinfo(arr.dtype).max + 1)
            chunks.append(arr.astype(np.float64))
        if not chunks:
            return Audio(np.zeros((stream.codec_context.channels or 1, 0)), stream.rate, 0.0)
        return Audio(np.concatenate(chunks, axis=1), stream.rate, start or 0.0)


def streams(path: Path) -> dict[str, int]:
    """How many streams of each type the file holds."""
    with av.open(str(path)) as c:
        counts: dict[str, int] = {}
        for s in c.streams:
            counts[s.type] = counts.get(s.type, 0) + 1
        return counts


def find_clicks(audio: Audio) -> list[float]:
    """Onset times (s) of the 4 kHz clicks: band-pass 3-5 kHz, group loud runs, onset at half the run's peak."""
    mono = audio.samples.mean(axis=0)
    if mono.size == 0:
        return []
    pad = audio.rate // 10  # zero padding: the FFT filter is circular, a click at 0 would ring at the end
    n = mono.size + 2 * pad
    spec = np.fft.rfft(np.concatenate([np.zeros(pad), mono, np.zeros(pad)]))
    freqs = np.fft.rfftfreq(n, 1 / audio.rate)
    spec[(freqs < CLICK_HZ - 1000) | (freqs > CLICK_HZ + 1000)] = 0
    env = np.abs(np.fft.irfft(spec, n))[pad:pad + mono.size]
    win = max(1, audio.rate // 2000)  # 0.5 ms running max: the envelope of a 4 kHz burst
    env = np.lib.stride_tricks.sliding_window_view(np.concatenate([env, np.zeros(win - 1)]), win).max(axis=1)
    loud = np.flatnonzero(env > 0.1)  # a sixth of a click
    onsets: list[float] = []
    if loud.size == 0:
        return onsets
    groups = np.split(loud, np.flatnonzero(np.diff(loud) > audio.rate // 100) + 1)
    for g in groups:
        peak = env[g].max()
        first = g[np.argmax(env[g] >= peak / 2)]
        onsets.append(audio.start + first / audio.rate)
    return onsets


def tone_power(samples: np.ndarray, rate: int, hz: float) -> float:
    """Power of one channel near `hz` (±3 Hz), from a Hann-windowed FFT."""
    if samples.size < rate // 10:
        return 0.0
    spec = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    return float(spec[(freqs > hz - 3) & (freqs < hz + 3)].sum())


# ---------------------------------------------------------------- random edits and their model


def frame_index(ms: Fraction | int, rate: Fraction) -> int:
    """The output frame boundary nearest `ms` (a half frame rounds up): docs/engine.md "Frame timing"."""
    return math.floor(Fraction(ms) * rate / 1000 + Fraction(1, 2))


def nearest_frame(in_ms: int, rate: Fraction) -> int:
    """The source frame nearest the in-point (a tie goes to the earlier frame)."""
    return math.ceil(Fraction(in_ms) * rate / 1000 - Fraction(1, 2))


@attrs.frozen
class Clip:
    source: Source
    in_ms: int
    out_ms: int
    speed: float = 1.0


@attrs.frozen
class Case:
    """One random edit: what the recipe says, in the recipe's own terms."""

    seed: int
    clips: tuple[Clip, ...]
    transitions: tuple[tuple[str, int] | None, ...]  # before clip i (index 0 always None)
    tl_speed: float | None = None
    trim: tuple[int, int] | None = None
    fade_in: int | None = None
    fade_out: int | None = None
    reframe: tuple[str, str] | None = None  # (aspect, mode)
    music: int | None = None  # volume %
    music_file: Path | None = None  # the stereo song, else a generated tone
    music_fade: int | None = None  # `fade out`, ms
    fps: str | None = None  # export rate as written, e.g. "29.97"
    size: tuple[int, int] = (W, H)
    splice: tuple[tuple[Clip, ...], int, int, float] | None = None  # (clips of `edit base`, from, to, speed)

    @property
    def fit(self) -> str | None:
        return self.reframe[1] if self.reframe else None

    def recipe(self) -> str:
        used = {c.source.name: c.source for c in (*(self.splice[0] if self.splice else ()), *self.clips)}
        lines = ["nemo 1"] + [f'media {n} = "{s.path}"' for n, s in used.items()]
        if self.music is not None:
            lines.append(f'media bed = "{self.music_file}"' if self.music_file else f"media bed = tone {MUSIC_HZ}hz duration 60s")
        if self.splice:
            inner = self.splice[0]
            lines.append("edit base {")
            lines += [f"  video {c.source.name} from {_sec(c.in_ms)} to {_sec(c.out_ms)}" for c in inner]
            lines.append("}")
        lines.append("edit e {")
        if self.splice:
            speed_text = f" speed {self.splice[3]:g}x" if self.splice[3] != 1 else ""
            lines.append(f"  video base from {_sec(self.splice[1])} to {_sec(self.splice[2])}{speed_text}")
        for clip, tr in zip(self.clips, self.transitions, strict=True):
            if tr:
                lines.append(f"  transition {tr[0]} {_sec(tr[1])}")
            if clip.source.still:
                lines.append(f"  image {clip.source.name} for {_sec(clip.out_ms - clip.in_ms)}")
                continue
            speed = f" speed {clip.speed:g}x" if clip.speed != 1 else ""
            lines.append(f"  video {clip.source.name} from {_sec(clip.in_ms)} to {_sec(clip.out_ms)}{speed}")
        if self.tl_speed:
            lines.append(f"  speed {self.tl_speed:g}x")
        if self.trim:
            lines.append(f"  trim from {_sec(self.trim[0])} to {_sec(self.trim[1])}")
        if self.fade_in:
            lines.append(f"  fade in {_sec(self.fade_in)}")
        if self.fade_out:
            lines.append(f"  fade out {_sec(self.fade_out)}")
        if self.reframe:
            lines.append(f"  reframe {self.reframe[0]} {self.reframe[1]}")
        if self.music is not None:
            fade = f" fade out {_sec(self.music_fade)}" if self.music_fade else ""
            lines.append(f"  music bed volume {self.music}%{fade}")
        lines.append("}")
        lines.append("export out = e {")
        lines.append(f"  size {self.size[0]}x{self.size[1]}")
        if self.fps:
            lines.append(f"  fps {self.fps}fps")
        lines.append('  save "out.mp4"')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _sec(ms: int) -> str:
    return f"{ms / 1000:g}s"


@attrs.frozen
class Seg:
    """A clip on the timeline, in milliseconds, as the Draft places it (draft/ops.py semantics, docs/engine.md)."""

    source: Source
    st: int
    d: int
    in_ms: int
    speed: float
    tr: bool  # overlaps the previous clip by a transition

    @property
    def end(self) -> int:
        return self.st + self.d


class Model:
    """The timeline a case must produce and the output rate: the oracle the render is measured against."""

    def __init__(self, case: Case) -> None:
        segs: list[Seg] = []
        if case.splice:  # `video base from a to b speed s`: the other draft's window, sped up, its clips moved along
            inner, a, b, speed = case.splice
            part = _trimmed(_placed(inner, (None,) * len(inner)), a, a + round(round((b - a) / speed) * speed))
            segs = _sped(part, speed) if speed != 1 else part
        segs = _placed(case.clips, case.transitions, segs)
        if case.tl_speed:
            segs = _sped(segs, case.tl_speed)
        if case.trim:
            segs = _trimmed(segs, *case.trim)
        self.case = case
        self.segs = segs
        self.total = max(s.end for s in segs) if segs else 0
        first = (case.splice[0][0] if case.splice else case.clips[0]).source.rate
        self.rate = _exact(float(case.fps)) if case.fps else _exact(round(float(first), 3))
        self.fade_in = min(case.fade_in, segs[0].d) if case.fade_in else 0
        self.fade_out = min(case.fade_out, segs[-1].d) if case.fade_out else 0

    @property
    def frames(self) -> int:
        return frame_index(self.total, self.rate)

    def frames_maybe(self) -> set[int]:
        """Frame counts accepted: exact, unless the total lies within 1 ms of a half frame (the Draft rounds to ms)."""
        exact = Fraction(self.total) * self.rate / 1000
        frac = exact - math.floor(exact)
        if abs(frac - Fraction(1, 2)) * 1000 / self.rate <= 1:
            return {math.floor(exact), math.floor(exact) + 1}
        return {self.frames}

    def span(self, i: int) -> tuple[int, int]:
        """Output frames [j0, j1) of segment i."""
        s = self.segs[i]
        j0, j1 = frame_index(s.st, self.rate), frame_index(s.end, self.rate)
        # both ends on one frame boundary: no frame (F10), unless it is the whole edit or a transition touches it
        touched = s.tr or (i + 1 < len(self.segs) and self.segs[i + 1].tr)
        return j0, max(j1, j0 + 1) if touched or len(self.segs) == 1 else j1

    def blurred(self) -> set[int]:
        """Output frames where two clips mix (transition overlaps), with one frame of margin each side."""
        out: set[int] = set()
        for i, s in enumerate(self.segs):
            if i and s.tr:
                j0 = frame_index(s.st, self.rate)
                j1 = frame_index(self.segs[i - 1].end, self.rate)
                out.update(range(j0 - 1, j1 + 1))
        return out

    def faded(self) -> set[int]:
        out: set[int] = set()
        if self.fade_in:
            out.update(range(0, frame_index(self.segs[0].st + self.fade_in, self.rate) + 1))
        if self.fade_out:
            last = self.segs[-1]
            out.update(range(frame_index(last.end - self.fade_out, self.rate) - 1, self.frames + 1))
        return out


def _placed(clips: tuple[Clip, ...], transitions: tuple, segs: list[Seg] | None = None) -> list[Seg]:
    """Clips appended to a timeline, each after the last (overlapping it by a transition)."""
    segs = list(segs or [])
    for clip, tr in zip(clips, transitions, strict=True):
        d = round((clip.out_ms - clip.in_ms) / clip.speed)
        st, has_tr = (segs[-1].end if segs else 0), False
        if tr and segs and min(tr[1], segs[-1].d // 2, d // 2) > 0:
            st -= min(tr[1], segs[-1].d // 2, d // 2)  # at most half the shorter clip (ops.entering, issue 17)
            has_tr = True
        segs.append(Seg(clip.source, st, d, clip.in_ms, clip.speed, has_tr))
    return segs


def _sped(segs: list[Seg], f: float) -> list[Seg]:
    """`speed f` on a whole timeline: places and lengths divided, each clip's speed multiplied."""
    return [attrs.evolve(s, st=round(s.st / f), d=round(s.d / f), speed=round(s.speed * f, 6)) for s in segs]


def _trimmed(segs: list[Seg], a: int, b: int) -> list[Seg]:
    """The window [a, b) of a timeline, moved to 0; in-points move by the part cut away (at each clip's speed)."""
    b = min(b, segs[-1].end)
    kept: list[Seg] = []
    for s in segs:
        start, end = max(s.st, a), min(s.end, b)
        if end <= start:
            continue
        in_ms = s.in_ms if s.source.still else round(s.in_ms + (start - s.st) * s.speed)
        cut = Seg(s.source, start - a, end - start, in_ms, s.speed, s.tr and s.st >= a)
        if kept and not cut.tr and cut.st < kept[-1].end:
            kept[-1] = attrs.evolve(kept[-1], d=cut.st - kept[-1].st)
        if cut.tr and not kept:
            cut = attrs.evolve(cut, tr=False)
        kept.append(cut)
    return [s for s in kept if s.d > 0]


def _exact(fps: float) -> Fraction:
    """29.97 → 30000/1001 (as nemoflow and FFmpeg read it); written out here so the oracle does not import nemoflow."""
    ntsc = round(fps * 1.001)
    if ntsc % 6 == 0 and abs(fps - ntsc * 1000 / 1001) < 0.006 and abs(fps - ntsc) > 0.01:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


FPS_CHOICES = ("30", "29.97", "25", "24")
TRANSITION_KINDS = ("crossfade", "fade", "wipeleft", "slideright")


def random_case(seed: int, sources: list[Source], *, rich: bool = True) -> Case:
    """A random edit, the same for the same seed. `rich=False` draws only clips and hard cuts (the simple cases)."""
    rng = random.Random(seed)
    n = rng.choice((1, 1, 2, 2, 3))
    clips, trs = [], []
    for i in range(n):
        src = rng.choice(sources)
        if src.still:
            clips.append(Clip(src, 0, rng.randint(500, 1500)))
            trs.append((rng.choice(TRANSITION_KINDS), rng.choice((200, 300, 333, 500))) if rich and i and rng.random() < 0.4 else None)
            continue
        speed = 1.0 if not rich or rng.random() < 0.7 else rng.choice((0.5, 1.5, 2.0))
        span = rng.randint(700, 2200)  # source ms
        if rng.random() < 0.4:  # on the source's frame grid
            k = rng.randint(0, src.frames - 60)
            in_ms = round(src.time(k) * 1000)
        else:
            in_ms = rng.randint(0, 3200)
        out_ms = min(in_ms + span, int(SECONDS * 1000) - 80)
        clips.append(Clip(src, in_ms, out_ms, speed))
        tr = None
        if rich and i and rng.random() < 0.4:
            tr = (rng.choice(TRANSITION_KINDS), rng.choice((200, 300, 333, 500)))
        trs.append(tr)
    case = Case(seed=seed, clips=tuple(clips), transitions=tuple(trs))
    if rich and rng.random() < 0.15:  # the edit starts with a window of another edit (a splice)
        movies = [s for s in sources if not s.still]
        inner = []
        for _ in range(rng.choice((1, 2))):
            src = rng.choice(movies)
            a = rng.randint(0, 3000)
            inner.append(Clip(src, a, a + rng.randint(600, 1800)))
        total = sum(c.out_ms - c.in_ms for c in inner)
        a = rng.randint(0, total // 3)
        b = rng.randint(a + 300, total)
        case = attrs.evolve(case, splice=(tuple(inner), a, b, rng.choice((1.0, 1.0, 1.5, 0.8))))
    if not rich:
        return attrs.evolve(case, fps=rng.choice((None, None, *FPS_CHOICES)))
    changes: dict = {}
    if rng.random() < 0.15:
        changes["tl_speed"] = rng.choice((1.5, 0.8))
    if rng.random() < 0.2:
        model = Model(attrs.evolve(case, **changes))
        a = rng.randint(0, max(0, model.total // 3))
        b = rng.randint(a + 400, max(a + 401, model.total))
        changes["trim"] = (a, b)
    if rng.random() < 0.3:
        changes["fade_in"] = rng.choice((200, 300, 500))
    if rng.random() < 0.3:
        changes["fade_out"] = rng.choice((200, 400))
    if rng.random() < 0.25:
        aspect, mode = rng.choice(("9:16", "1:1")), rng.choice(("crop", "pad", "blur"))
        changes["reframe"] = (aspect, mode)
        changes["size"] = (360, 640) if aspect == "9:16" else (360, 360)
    elif rng.random() < 0.15:
        changes["size"] = (256, 144)
    if rng.random() < 0.3:
        changes["music"] = rng.choice((20, 35))
        changes["music_file"] = song_path(sources) if rng.random() < 0.5 else None
        changes["music_fade"] = rng.choice((None, 1000))
    if rng.random() < 0.5:
        changes["fps"] = rng.choice(FPS_CHOICES)
    return attrs.evolve(case, **changes)


def features(case: Case) -> set[str]:
    """What a case exercises, so a fixed seed can be shown to cover every kind of edit."""
    out = set()
    for c in case.clips:
        out.add(f"source {c.source.name}")
        if c.source.still:
            continue
        if c.speed != 1:
            out.add("clip speed")
        on_grid = c.source.time(c.source.nearest(c.in_ms)) * 1000 == c.in_ms
        out.add("in-point on the grid" if on_grid else "in-point off the grid")
    if len(case.clips) > 1:
        out.add("concat")
    if case.splice:
        out.add("splice of another edit")
    out |= {"transition" for t in case.transitions if t}
    for name, value in (("timeline speed", case.tl_speed), ("trim", case.trim), ("fade in", case.fade_in),
                        ("fade out", case.fade_out), ("reframe", case.reframe), ("music", case.music is not None),
                        ("stereo music file", case.music_file),
                        ("export fps", case.fps)):
        if value:
            out.add(name)
    return out


# ---------------------------------------------------------------- the invariants

INVARIANTS = ("renders", "streams", "frame_count", "first_frame", "frames", "channels", "av_sync", "audio_length")


@attrs.frozen
class Verdict:
    invariant: str
    ok: bool | None  # None: does not apply to this case
    detail: str = ""


def evaluate(case: Case, out: Path) -> list[Verdict]:
    """Measure one rendered file against the case's model; one verdict per invariant (see INVARIANTS)."""
    model = Model(case)
    if not out.exists():
        return [Verdict("renders", False, "no output file")] + [Verdict(i, None, "no render") for i in INVARIANTS[1:]]
    video = read_video(out, case.fit)
    if not video.times:
        return [Verdict("renders", False, "output has no video frame")] + [Verdict(i, None, "no render") for i in INVARIANTS[1:]]
    verdicts = [Verdict("renders", True, f"{len(video.times)} frames")]
    counts = streams(out)
    any_audio = any(s.source.has_audio for s in model.segs) or case.music is not None
    want = {"video": 1, "audio": 1} if any_audio else {"video": 1}
    extra = {k: v for k, v in counts.items() if k not in want}
    ok = all(counts.get(k) == v for k, v in want.items()) and (not extra or (not any_audio and extra == {"audio": 1}))
    note = "" if any_audio else " (no source has sound: an added silent track is tolerated)"
    verdicts.append(Verdict("streams", ok, f"expected {want}, got {counts}{note}"))
    frames_ok = len(video.times) in model.frames_maybe()
    verdicts.append(Verdict("frame_count", frames_ok, f"expected {model.frames} frames (round({model.total} ms x "
                                                       f"{model.rate} fps)), got {len(video.times)}"))
    verdicts.append(_first_frames(model, video))
    verdicts.append(_frames(model, video))
    audio = read_audio(out)
    verdicts.append(_channels(model, audio))
    verdicts.append(_sync(model, video, audio))
    verdicts.append(_audio_length(model, video, audio))
    return verdicts


def _first_frames(model: Model, video: Video) -> Verdict:
    """At the start and after every hard cut, the clip's first output frame shows the source frame nearest its in-point."""
    faded = model.faded()
    problems, checked = [], 0
    for i, s in enumerate(model.segs):
        if s.tr:
            continue
        j0, j1 = model.span(i)
        if j0 in faded or j0 >= min(j1, len(video.codes)):
            continue
        want = (s.source.sid, 0 if s.source.still else s.source.nearest(s.in_ms))
        got = video.codes[j0]
        checked += 1
        if got != want:
            problems.append(f"clip {i + 1} ({s.source.name} from {s.in_ms} ms) at output frame {j0}: expected source frame "
                            f"{want[1]}, got {_name(got)}")
    if not checked:
        return Verdict("first_frame", None, "no hard cut outside a fade")
    return Verdict("first_frame", not problems, "; ".join(problems) or f"{checked} clip starts right")


def _name(code: tuple[int, int] | None) -> str:
    if code is None:
        return "an unreadable frame"
    name = SOURCE_KINDS[code[0]][0] if code[0] < len(SOURCE_KINDS) else f"id{code[0]}"
    return f"{name} frame {code[1]}"


NEAR = Fraction(1, 2) + Fraction(1, 50)
"""How far a resampled frame may be from the source time its output instant asks for: the nearest frame (half a
frame, a tie to the later one), plus 1/50 of a frame for the Draft's whole milliseconds and the graph's 6-decimal
timestamps."""


def _half(source: Source, n: int, rate: Fraction, speed: Fraction) -> Fraction:
    """Half a frame around frame n, in source seconds: the longer of half an output frame and half n's own interval."""
    own = source.time(n + 1) - source.time(n)
    return max(Fraction(1, 2) / rate * speed, own / 2) + Fraction(1, 1000)


def _frames(model: Model, video: Video) -> Verdict:
    """Every frame outside transitions and fades shows the source frame its time asks for: exactly (same rate, speed 1),
    else the source frame nearest that time (NEAR); no unreadable frame outside fades."""
    skip = model.blurred() | model.faded()
    problems = []
    for i, s in enumerate(model.segs):
        j0, j1 = model.span(i)
        f0 = 0 if s.source.still else s.source.nearest(s.in_ms)
        exact = s.source.still or (s.speed == 1 and s.source.rate == model.rate and not s.source.vfr)
        for j in range(j0, min(j1, len(video.codes))):
            if j in skip:
                continue
            got = video.codes[j]
            want_t = Fraction(f0) if s.source.still else s.source.index_at(
                s.source.time(f0) + Fraction(j - j0) / model.rate * Fraction(s.speed).limit_denominator(1000))
            if s.source.vfr and got is not None and got[0] == s.source.sid:
                # VFR: "each frame appears at its own time, within half an output frame" (docs/engine.md "Frame
                # timing"; the picture is timed from the in-point itself): the frame shown at this instant started
                # no later than half a frame after it, and the next one not before half a frame before it. Half a
                # frame is the longer of half an output frame (at the clip's speed) and half the source frame's own
                # interval: slowed down, a source frame outlasts an output frame and the nearest one shows early.
                speed = Fraction(s.speed).limit_denominator(1000)
                t_src = Fraction(s.in_ms, 1000) + Fraction(j - j0) / model.rate * speed
                n = got[1]
                if (s.source.time(n) <= t_src + _half(s.source, n, model.rate, speed)
                        and s.source.time(n + 1) > t_src - _half(s.source, n + 1, model.rate, speed)):
                    continue
                problems.append(f"output frame {j} (clip {i + 1}, {s.source.name}, VFR): source time {float(t_src):.3f}s, "
                                f"got frame {got[1]} ({float(s.source.time(got[1])):.3f}s)")
                continue
            if got is None or got[0] != s.source.sid or (got[1] != want_t if exact else not -NEAR < got[1] - want_t <= NEAR):
                problems.append(f"output frame {j} (clip {i + 1}, {s.source.name}): expected frame {float(want_t):.1f}, "
                                f"got {_name(got)}")
    detail = "; ".join(problems[:4]) + (f"; … {len(problems)} frames in all" if len(problems) > 4 else "")
    return Verdict("frames", not problems, detail or "all frames in place")


def _channels(model: Model, audio: Audio | None) -> Verdict:
    """Stereo in, stereo out: 440 Hz dominates the left channel and 660 Hz the right (10 dB), no commentary (880 Hz);
    a stereo music file keeps its sides too (550 Hz left, 770 Hz right)."""
    stereo = [s for s in model.segs if s.source.has_audio]
    song = model.case.music_file is not None
    if not stereo and not song:
        return Verdict("channels", None, "no stereo source")
    if audio is None:
        return Verdict("channels", False, "no audio stream")
    ch = audio.samples.shape[0]
    if ch != 2:
        return Verdict("channels", False, f"expected 2 channels, got {ch}")
    left, right = audio.samples
    ok, parts = True, []
    for lo, hi, what in ([(TONE_L, TONE_R, "")] if stereo else []) + ([(SONG_L, SONG_R, "music ")] if song else []):
        l_lo, l_hi = tone_power(left, audio.rate, lo), tone_power(left, audio.rate, hi)
        r_lo, r_hi = tone_power(right, audio.rate, lo), tone_power(right, audio.rate, hi)
        ok = ok and l_lo > 10 * l_hi and r_hi > 10 * r_lo
        parts.append(f"{what}left {lo}/{hi} Hz {_db(l_lo, l_hi)}, {what}right {hi}/{lo} Hz {_db(r_hi, r_lo)}")
    detail = "; ".join(parts) + " (want >= 10 dB)"
    if any(s.source.audio == "twotrack" for s in stereo):
        c = tone_power(left + right, audio.rate, TONE_COMMENTARY)
        main = tone_power(left + right, audio.rate, TONE_L) + tone_power(left + right, audio.rate, TONE_R)
        ok = ok and c * 100 < main
        detail += f"; commentary 880 Hz {_db(c, main)} under the main track (want <= -20 dB)"
    return Verdict("channels", ok, detail)


def _db(a: float, b: float) -> str:
    return f"{10 * math.log10(max(a, 1e-30) / max(b, 1e-30)):+.1f} dB"


def _sync(model: Model, video: Video, audio: Audio | None) -> Verdict:
    """Each click of a source frame shown outside transitions and fades is heard within half a frame of the first
    output frame showing that source frame (or, when speed skipped it, of where it would show).

    "Half a frame" is half the longer of the output frame and the source frame (at the clip's speed): a source frame
    longer than an output frame is shown from half a source frame before its instant (each output instant shows the
    nearest source frame, docs/engine.md "Frame timing"), so at 25 fps in 30 fps out a frame's first showing may
    lead its sound by 20 ms. A clip played at another speed is time-stretched by FFmpeg's `atempo` (WSOLA), which
    moves a transient by up to ~20 ms inside the clip (measured on these clicks: -20..+8 ms at 0.5x, -8..+5 ms at
    1.5x); there half an output frame more is allowed, and a click it drops (a sped-up clip loses part of its
    sound) is not counted. Every bound has 1 ms added for the click detector (its onset is found to ~0.3 ms)."""
    half = 0.5 / float(model.rate) + 0.001
    skip = model.blurred() | model.faded()
    expected: list[tuple[float, str, float, float, bool]] = []
    for i, s in enumerate(model.segs):
        if not s.source.has_audio:
            continue
        j0, j1 = model.span(i)
        seen: dict[int, int] = {}
        for j in range(j0, min(j1, len(video.codes))):
            code = video.codes[j]
            if j in skip or code is None or code[0] != s.source.sid:
                continue
            seen.setdefault(code[1], j)
        if not seen:
            continue
        lo, hi = min(seen), max(seen)
        step = float(s.source.rate) * s.speed
        for k in range(math.ceil(lo / CLICK_EVERY) * CLICK_EVERY, hi + 1, CLICK_EVERY):
            if k in seen:
                t = video.times[seen[k]]
            else:  # speed skipped it: from the nearest frame shown
                n = min(seen, key=lambda x: abs(x - k))
                t = video.times[seen[n]] + (k - n) / step
            jk = round(t * float(model.rate))
            if any(x in skip for x in range(jk - 1, jk + 2)) or jk <= j0 or jk >= j1 - 1:
                continue
            # a click heard further than 0.4 of the click spacing from its frame is another click, or none
            window = min(5 / float(model.rate), 0.4 * CLICK_EVERY / step)
            slowest = s.source.rate / (2 if s.source.vfr else 1) * Fraction(s.speed).limit_denominator(1000)
            tol = 0.5 * max(1 / float(model.rate), 1 / float(slowest)) + 0.001
            expected.append((t, f"clip {i + 1} {s.source.name} frame {k}", tol if s.speed == 1 else tol + half - 0.001, window,
                             s.speed != 1))
    if not expected:
        return Verdict("av_sync", None, "no click on a frame outside transitions and fades")
    if audio is None:
        return Verdict("av_sync", False, "no audio stream")
    clicks = np.array(find_clicks(audio))
    problems, offsets = [], []
    for t, what, tol, window, stretched in expected:
        if clicks.size == 0 and stretched:
            continue
        if clicks.size == 0:
            problems.append(f"{what}: no click heard")
            continue
        o = float(clicks[np.argmin(np.abs(clicks - t))] - t)
        if abs(o) > window:
            if stretched:  # atempo drops a 4 ms burst it skips over (at 2x, half the sound goes): not a sync error
                continue
            problems.append(f"{what} at {t:.3f}s: no click within {window * 1000:.0f} ms")
            continue
        offsets.append(o)
        if abs(o) > tol:
            problems.append(f"{what} at {t:.3f}s: click {o * 1000:+.1f} ms (tolerance ±{tol * 1000:.1f} ms)")
    span = f"offsets {min(offsets) * 1000:+.1f}..{max(offsets) * 1000:+.1f} ms" if offsets else "no offsets"
    return Verdict("av_sync", not problems, ("; ".join(problems[:4]) + f" ({span})")
                   if problems else f"{len(expected)} clicks, {span}")


def _audio_length(model: Model, video: Video, audio: Audio | None) -> Verdict:
    """The sound lasts as long as the picture: within half a frame plus one AAC frame (1024 samples) of padding."""
    if audio is None:
        return Verdict("audio_length", None, "no audio stream")
    v_end = len(video.times) / float(model.rate) + (video.times[0] if video.times else 0)
    a_end = audio.start + audio.samples.shape[1] / audio.rate
    tol = 0.5 / float(model.rate) + 1024 / audio.rate
    return Verdict("audio_length", abs(a_end - v_end) <= tol,
                   f"video ends {v_end:.4f}s, audio {a_end:.4f}s (diff {(a_end - v_end) * 1000:+.1f} ms, tolerance "
                   f"±{tol * 1000:.1f} ms); audio starts {audio.start * 1000:+.1f} ms, video {video.times[0] * 1000:+.1f} ms")


# ---------------------------------------------------------------- running a case


def render(case: Case, folder: Path) -> tuple[Path, str]:
    """Check then run the case's recipe in `folder` with the local engine, in-process; returns (output, CLI output)."""
    from typer.testing import CliRunner

    from nemoflow.cli import app

    folder.mkdir(parents=True, exist_ok=True)
    recipe = folder / "case.nemo"
    recipe.write_text(case.recipe(), encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(app, ["check", str(recipe)])
    if checked.exit_code != 0:
        raise AssertionError(f"generated recipe does not check (a harness bug):\n{case.recipe()}\n{checked.output}")
    out = folder / "out.mp4"
    result = runner.invoke(app, ["run", str(recipe), "--state-dir", str(folder / ".state"), "--engine", "local"])
    text = result.output + (f"\n{result.exception!r}" if result.exception and not isinstance(result.exception, SystemExit) else "")
    if result.exit_code != 0:
        out.unlink(missing_ok=True)
    return out, f"exit {result.exit_code}\n{text}"
