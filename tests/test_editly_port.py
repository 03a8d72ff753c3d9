"""The editly port (docs/editly-port.md, examples/editly/): every port passes `nemoflow check`, the port table's
counts are what its rows say, and six ports render small with one measurement each of what they are for (a layer's
colour where it should be, a gradient's colours, a Ken Burns still that moves, a master volume, a GIF, alpha video).

The ports run from a copy of examples/editly in the test's tmp dir, with the two binary assets made there by the
folder's own make_assets.py, so nothing is written into the repo.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import EXAMPLES, ROOT
from renderkit import frame_at, rms, sound
from typer.testing import CliRunner

from nemoflow.cli import app

PORTS = EXAMPLES / "editly"
RECIPES = sorted(p.name for p in PORTS.glob("*.nemo"))
SMALL = ["--set", "size=320x180"]


@pytest.fixture(scope="module")
def ports(tmp_path_factory) -> Path:
    """A copy of examples/editly with its generated assets (dancer.webm, emoji.png) made in place."""
    folder = tmp_path_factory.mktemp("editly") / "editly"
    shutil.copytree(PORTS, folder, ignore=shutil.ignore_patterns("out", ".nemoflow", "__pycache__"))
    spec = importlib.util.spec_from_file_location("make_assets", folder / "make_assets.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make(folder)
    return folder


def _cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _run(folder: Path, name: str, *args: str) -> None:
    result = _cli("run", str(folder / name), *args)
    assert result.exit_code == 0, result.stderr


def test_there_are_at_least_twenty_ports():
    assert len(RECIPES) >= 20, RECIPES


@pytest.mark.parametrize("name", RECIPES)
def test_every_port_passes_check(ports, name):
    result = _cli("check", str(ports / name))
    assert result.exit_code == 0, result.stderr


def _table() -> list[list[str]]:
    text = (ROOT / "docs" / "editly-port.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| example")]
    return [[c.strip() for c in row.strip().strip("|").split(" | ")] for row in rows]


def test_the_port_table_lists_34_examples_links_every_port_and_its_counts_add_up():
    rows = _table()
    assert len(rows) == 34
    linked = {m for row in rows for m in re.findall(r"examples/editly/([\w-]+\.nemo)", row[5])}
    assert linked == set(RECIPES)
    before = Counter(row[3].split(":")[0] for row in rows)
    after = Counter(row[4].split(":")[0] for row in rows)
    assert set(before) <= {"full", "partial", "none"} and set(after) <= {"full", "partial", "none"}
    text = (ROOT / "docs" / "editly-port.md").read_text(encoding="utf-8")
    written = re.search(r"Before issue 17: \*\*(\d+) full, (\d+) partial, (\d+) none\*\*\. After: \*\*(\d+) full, "
                        r"(\d+) partial, (\d+) none\*\*", text)
    assert written, "the Counts line is missing"
    assert [int(x) for x in written.groups()] == [before["full"], before["partial"], before["none"],
                                                  after["full"], after["partial"], after["none"]]


def _near(pixel: np.ndarray, rgb: tuple[int, int, int], tol: float = 40) -> bool:
    return bool(np.abs(pixel - np.array(rgb)).max() <= tol)


@pytest.mark.slow
def test_image_overlay_shows_the_png_in_the_middle_only_for_its_half_second_and_the_logo_at_the_top_right(ports):
    _run(ports, "imageOverlay.nemo", *SMALL)
    out = ports / "out" / "imageOverlay.mp4"
    early, late = frame_at(out, 0.25), frame_at(out, 1.0)
    assert _near(early[90, 160], (255, 40, 40)), early[90, 160]  # emoji.png's red disc, its alpha kept around it
    assert not _near(late[90, 160], (255, 40, 40)), late[90, 160]  # gone after `to 0.5s`
    assert _near(late[21, 256], (255, 122, 0)), late[21, 256]  # the SVG logo's orange disc, x 75% y 3%


@pytest.mark.slow
def test_gradients_show_their_chosen_colours(ports):
    _run(ports, "gradients.nemo", *SMALL)
    out = ports / "out" / "gradients.mp4"
    assert _near(frame_at(out, 0.4)[90, 160], (1, 188, 174), 25)  # linear #02aab0 → #00cdac: the middle
    assert _near(frame_at(out, 1.5)[90, 160], (176, 2, 170), 25)  # radial, #b002aa at the centre


@pytest.mark.slow
def test_ken_burns_moves_a_still(ports):
    _run(ports, "kenBurns.nemo", *SMALL)
    out = ports / "out" / "kenBurns.mp4"
    start, end = frame_at(out, 0.1), frame_at(out, 2.3)  # the first still, zooming out from 110% to 100%
    assert float(np.abs(start - end).mean()) > 3.0  # a still without kenburns gives the same picture twice


@pytest.mark.slow
def test_the_master_volume_lowers_the_whole_output_by_10_db(ports):
    _run(ports, "audio-volume.nemo", *SMALL)
    quiet, rate = sound(ports / "out" / "audio-volume.mp4")
    text = (ports / "audio-volume.nemo").read_text(encoding="utf-8")
    loud_recipe = ports / "audio-volume-loud.nemo"
    loud_recipe.write_text(text.replace("  volume -10dB\n", "").replace("out/audio-volume.mp4", "out/loud.mp4"))
    _run(ports, loud_recipe.name, *SMALL)
    loud, _ = sound(ports / "out" / "loud.mp4")
    middle = slice(rate // 2, rate * 3 // 2)  # away from the encoder's priming at either end
    ratio_db = 20 * np.log10(rms(quiet[middle]) / rms(loud[middle]))
    assert abs(ratio_db + 10) < 1.0, ratio_db


@pytest.mark.slow
def test_ph_is_a_gif_ending_on_the_red_news_bar(ports):
    _run(ports, "ph.nemo", "--set", "size=240x240")
    out = ports / "out" / "ph.gif"
    assert out.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    with av.open(str(out)) as c:
        decoded = list(c.decode(video=0))
        picture = decoded[-1].to_ndarray(format="rgb24").astype(np.float64)
    assert picture.shape[:2] == (240, 240)
    reds = [(y, x) for y in range(120, 230, 2) for x in range(20, 220, 10) if _near(picture[y, x], (208, 42, 66), 45)]
    assert len(reds) > 20, "no #d02a42 news bar in the lower part of the last frame"


@pytest.mark.slow
def test_alpha_video_overlay_keeps_its_transparency(ports):
    _run(ports, "alpha.nemo", *SMALL)
    frame = frame_at(ports / "out" / "alpha.mp4", 0.3)
    # dancer.webm is 160x240, shown 180 px high in the middle: its body (always under x = 160) is drawn ...
    assert _near(frame[150, 160], (255, 168, 136), 35), frame[150, 160]
    # ... and a corner of its box, transparent in the source, shows the footage under it (testsrc's green bar)
    assert _near(frame[5, 103], (0, 253, 0), 35), frame[5, 103]
