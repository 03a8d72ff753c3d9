"""The report in a real browser: Debian's headless Chromium, driven by selenium through /usr/bin/chromedriver.

The page loads with nothing on the console, the <video> plays the rendered file, and a screenshot of the page shows the
timeline picture (compared pixel by pixel with the PNG the report holds). Skipped with the reason when Chromium or its
driver is missing; .ci/run installs both.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from reportkit import browser_missing, chromium, nf, private_config, write_recipe

pytestmark = [pytest.mark.slow, pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))]

PLAY = """
const done = arguments[arguments.length - 1];
const v = document.querySelector('video[data-step="export.final"]');
const say = (why) => done({why: why, time: v.currentTime, ready: v.readyState, width: v.videoWidth, height: v.videoHeight,
                           duration: v.duration, error: v.error ? v.error.code : null,
                           h264: document.createElement('video').canPlayType('video/mp4; codecs="avc1.64001e, mp4a.40.2"')});
v.muted = true;
v.addEventListener('error', () => say('error'), {once: true});
setTimeout(() => say('timeout'), 8000);
v.play().then(() => setTimeout(() => say('played'), 700), (e) => say('refused: ' + e));
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    recipe = write_recipe(root / "project")
    with private_config(root):
        result = nf("run", str(recipe), "--report", str(root / "report"))
    assert (root / "report" / "index.html").is_file(), result.output
    return root


def test_the_page_loads_plays_and_shows_the_timeline(report, tmp_path):
    index = report / "report" / "index.html"
    with chromium(tmp_path / "profile", 1800, 1000) as driver:  # wide enough to show the 1600 px timeline at its own size
        driver.set_script_timeout(15)
        driver.get(index.as_uri())
        assert driver.title.startswith("nemoflow report")
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []

        played = driver.execute_async_script(PLAY)
        assert played["h264"] in ("probably", "maybe"), played  # Debian's Chromium decodes H.264 + AAC
        assert played["why"] == "played" and played["error"] is None, played
        assert played["time"] > 0.2 and played["ready"] >= 2, played
        assert (played["width"], played["height"]) == (320, 180) and abs(played["duration"] - 3.5) < 0.1, played

        timeline = driver.find_element("css selector", 'img.timeline[data-step="export.final"]')
        driver.execute_script("arguments[0].scrollIntoView()", timeline)
        assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", timeline) == 1600
        shot = Image.open(io.BytesIO(timeline.screenshot_as_png)).convert("RGB")
        assert not driver.get_log("browser")  # playing said nothing either
        shot.save(tmp_path / "timeline-shot.png")  # kept for a look when the comparison below fails

    inner = shot.crop((1, 1, shot.width - 1, shot.height - 1))  # the element's box less its 1px CSS border
    timeline_png = Image.open(report / "report" / "timelines" / "final.png").convert("RGB")
    assert inner.size == timeline_png.size  # shown at its own size: the browser's pixels must be the picture's pixels
    drawn = np.asarray(inner, dtype=float)
    near = np.abs(drawn - np.asarray(timeline_png, dtype=float))
    assert near.mean() < 0.5 and (near.max(axis=2) > 8).mean() < 0.001, near.mean()
    poster = Image.open(report / "report" / "posters" / "final.png").convert("RGB").resize(inner.size)
    assert np.abs(drawn - np.asarray(poster, dtype=float)).mean() > 30  # and a different picture is far from it
