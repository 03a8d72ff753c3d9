"""Helpers for render tests: run a recipe, read frames and sound back with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from typer.testing import CliRunner

from nemoflow.cli import app


def run_recipe(tmp: Path, text: str, *args: str, name: str = "r.nemo"):
    """Write the recipe into `tmp` and run `nemoflow run` on it in-process; returns the click Result."""
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["run", str(path), *args], catch_exceptions=False)


def frames(path: Path) -> list[np.ndarray]:
    """Every decoded frame as RGB (small test files only)."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def frame_at(path: Path, t: float) -> np.ndarray:
    """The first frame shown at or after `t` seconds, as RGB."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for f in c.decode(stream):
            if f.time is not None and f.time + 1e-6 >= t:
                return f.to_ndarray(format="rgb24").astype(np.float64)
    raise AssertionError(f"{path} has no frame at {t}s")


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def sound(path: Path) -> tuple[np.ndarray, int]:
    """All audio as a float mono array and its sample rate."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        chunks = []
        for f in c.decode(stream):
            arr = f.to_ndarray()
            if arr.ndim == 2 and not f.format.is_planar:
                arr = arr.reshape(-1, len(f.layout.channels)).T
            chunks.append(arr.astype(np.float64).mean(axis=0))
        return np.concatenate(chunks), stream.rate


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def coded_frames(path: Path) -> tuple[list[float], list[int]]:
    """Each frame's time and the source frame number its flat luma encodes (sources made with `geq=lum='2*N'`)."""
    times, numbers = [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            plane = f.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:f.height, :f.width]
            times.append(float(f.time))
            numbers.append(round(float(np.median(y)) / 2))
    return times, numbers


def click_times(path: Path) -> list[float]:
    """Rising edges of the clicks in the first channel, in seconds on the file's timeline."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        start, chunks = None, []
        for f in c.decode(stream):
            start = float(f.time) if start is None else start
            chunks.append(f.to_ndarray().reshape(-1, f.samples)[0] if f.format.is_planar else f.to_ndarray()[0][::len(f.layout.channels)])
        rate = stream.rate
    s = np.abs(np.concatenate(chunks))
    loud = s > 0.3 * s.max()
    edges = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    kept: list[int] = []
    for e in edges:
        if not kept or e - kept[-1] > rate // 20:
            kept.append(int(e))
    return [start + e / rate for e in kept]
