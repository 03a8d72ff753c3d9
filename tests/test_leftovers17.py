"""Small defects found while building issue 17, each reproduced on generated media."""

from __future__ import annotations

import av
import pytest
from renderkit import run_recipe

pytestmark = pytest.mark.slow


def test_crf_0_renders_a_lossless_h264_stream(tmp_path):
    """The checker allows `crf 0`, x264's lossless mode, which it accepts only in High 4:4:4 Predictive; nemoflow
    asked for `high`, and FFmpeg failed with "Error setting profile high" (exit 1, "likely a nemoflow bug")."""
    result = run_recipe(tmp_path, "nemo 1\nmedia bars = pattern bars duration 1s size 320x180\nedit cut {\n  video bars\n}\n"
                                  "export out = cut {\n  crf 0\n  audio none\n}\n")
    assert result.exit_code == 0, result.output
    (out,) = tmp_path.rglob("out.mp4")
    with av.open(str(out)) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.profile, ctx.pix_fmt) == ("High 4:4:4 Predictive", "yuv420p")
