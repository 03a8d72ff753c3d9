"""Drafts with captions built by hand, rendered by the local engine's export (no recipe needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nemoflow.core.diagnostics import Span
from nemoflow.core.model import ExportSettings, ExportSpec, Step, StepRef
from nemoflow.draft import ops
from nemoflow.draft.model import TEXT, Draft, Segment
from nemoflow.draft.output import Output
from nemoflow.engines.local.export import ExportResult, export

GREY = "#404040"


class Quiet:
    """A Reporter that keeps the messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[object, str]] = []

    def progress(self, *args, **kwargs) -> None:
        pass

    def message(self, kind, text: str) -> None:
        self.messages.append((kind, text))


def grey_draft(d_ms: int = 4000, *, w: int = 320, h: int = 180, fps: float = 30.0, color: str = GREY, name: str = "a") -> Draft:
    entry = {"kind": "video", "gen": {"name": "color", "color": color, "w": w, "h": h, "fps": fps},
             "d": d_ms, "w": w, "h": h, "fps": fps, "pix_fmt": "yuv420p"}
    return ops.add_clip(Draft(m={"name": "t", "canvas": {"w": w, "h": h, "fps": fps}}), f"media.{name}", entry, d_ms=d_ms)


def caption(st: int, d: int, text: str, *, mode: str = "burn", **style) -> Segment:
    return Segment(st=st, d=d, m={"text": text, "caption": {"mode": mode, "style": style}})


def with_captions(draft: Draft, *cues: Segment) -> Draft:
    return draft.with_segments(TEXT, [*draft.segments(TEXT), *cues])


def render(tmp: Path, draft: Draft, out: Output | None = None, *, name: str = "out.mp4", split=None,
           report: Quiet | None = None) -> ExportResult:
    out = out or Output(320, 180, 30.0)
    dest = tmp / name
    spec = ExportSpec(StepRef("edit.e"), dest, ExportSettings(format=dest.suffix.lstrip(".")))
    step = Step("export.out", "out", (), Span("t.nemo", 1, 1, 1, 1), ("edit.e",), spec)
    cache = tmp / "cache"
    cache.mkdir(exist_ok=True)
    return export(step, draft, out, report or Quiet(), cache, split)


def bright_rows(frame: np.ndarray, level: float = 200) -> np.ndarray:
    """Row indices holding caption-white pixels (the grey source has none)."""
    return np.nonzero((frame.min(axis=2) > level).any(axis=1))[0]
