"""examples/delivery.nemo, the CI-delivery example, as a user runs it: its committed golden picture, every check
passing on a real render, and a changed golden failing with the frames saved beside the JUnit report."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import av
import pytest
from conftest import EXAMPLES
from renderkit import run_recipe

pytestmark = pytest.mark.slow


def _copy(tmp: Path) -> Path:
    shutil.copy(EXAMPLES / "delivery.nemo", tmp / "delivery.nemo")
    shutil.copytree(EXAMPLES / "golden", tmp / "golden")
    return tmp / "delivery.nemo"


def test_the_example_passes_every_check_against_its_committed_golden(tmp_path):
    recipe = _copy(tmp_path)
    result = run_recipe(tmp_path, recipe.read_text(), "--junit", str(tmp_path / "reports" / "junit.xml"), name=recipe.name)
    assert result.exit_code == 0, result.stderr
    assert "10/10 checks passed" in result.stderr
    with av.open(str(tmp_path / "out" / "delivery.mp4")) as c:
        assert [s.type for s in c.streams] == ["video", "audio"] and c.streams.audio[0].channels == 2
    assert not (tmp_path / "reports" / "junit-artifacts").exists()  # nothing failed, nothing saved


def test_a_golden_that_no_longer_matches_fails_and_leaves_both_frames_for_a_reviewer(tmp_path):
    recipe = _copy(tmp_path)
    golden = tmp_path / "golden" / "delivery-3s.png"
    with av.open(str(golden)) as c:  # the same size, another picture: the golden flipped upside down
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")[::-1].copy()
    out = av.open(str(golden), "w", format="image2")
    stream = out.add_stream("png", rate=1)
    stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], "rgb24"
    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    junit = tmp_path / "reports" / "junit.xml"
    result = run_recipe(tmp_path, recipe.read_text(), "--junit", str(junit), name=recipe.name)
    assert result.exit_code == 1, result.stderr
    assert "9/10 checks passed" in result.stderr and "ssim >= 0.97" in result.stderr
    saved = sorted(p.name for p in (tmp_path / "reports" / "junit-artifacts").iterdir())
    assert any("actual" in n for n in saved) and any("golden" in n for n in saved), saved
    failures = [tc for tc in ET.parse(junit).getroot().iter("testcase") if tc.find("failure") is not None]
    assert len(failures) == 1
    assert "[[ATTACHMENT|" in ET.tostring(failures[0], encoding="unicode")
