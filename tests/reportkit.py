"""A small recipe whose run has every part a report shows (a title, a failing black-frame check), and a reader of the
report page; `python3 tests/reportkit.py docs/report.png` renders it and screenshots the page in headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nemoflow.cli import app

RECIPE = """nemo 1

media bars = pattern testsrc duration 4s size {size} fps 30 tone 440hz
media dark = color #000000 duration 3s size {size}
media hum = tone 220hz duration 6s

edit cut {{
  video bars from 0s to 2s
  video dark for 1.5s
  title "Report" from 0s to 1s
  music hum volume 30%
}}

export final = cut {{
  size {size}
  quality draft
  save "out/final.mp4"
}}

expect final {{
  duration ~= 3.5s
  has audio
  no black frames
}}
"""

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def write_recipe(root: Path, size: str = "320x180") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "r.nemo"
    path.write_text(RECIPE.format(size=size), encoding="utf-8")
    return path


@contextlib.contextmanager
def private_config(root: Path):
    """The conftest's isolation (no user config, a per-test cache) for module-scoped fixtures, which run before it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEMOFLOW_CONFIG", str(root / "config.toml"))
        mp.setenv("NEMOFLOW_CACHE_DIR", str(root / "cache"))
        mp.setenv("NEMO_API_URL", "http://127.0.0.1:9")
        mp.delenv("NEMOFLOW_ENGINE", raising=False)
        yield


def nf(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


class Page(HTMLParser):
    """What a report page refers to and shows, read with the standard library's own HTML parser."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.svg = ""
        self.rows: list[tuple[str, list[str]]] = []  # (class of the <tr>, its cells' text) in the checks table
        self._row: tuple[str, list[str]] | None = None
        self._cell: list[str] | None = None
        self._table: str | None = None
        self.feed(text)
        start, end = text.find("<svg"), text.find("</svg>")
        self.svg = text[start:end + len("</svg>")] if start >= 0 else ""

    def handle_starttag(self, tag, attrs):
        fields = {k: v or "" for k, v in attrs}
        self.tags.append((tag, fields))
        if tag == "table":
            self._table = fields.get("class")
        elif tag == "tr" and self._table in ("checks", "timings"):
            self._row = (f"{self._table}:{fields.get('class', '')}", [])
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row[1]:  # not the header row (<th> cells)
                self.rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def find(self, tag: str, **want: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in want.items())]

    def links(self) -> list[str]:
        """Every URL the page loads or links to (src, href, poster)."""
        return [a[k] for _, a in self.tags for k in ("src", "href", "poster") if a.get(k)]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists():
            return f"{binary} is missing (apt-get install chromium chromium-driver; .ci/run installs them)"
    return None


@contextlib.contextmanager
def chromium(profile: Path, width: int = 1400, height: int = 1000):
    """Debian's Chromium, headless, driven by its chromedriver; the browser's console is kept for get_log("browser")."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                "--autoplay-policy=no-user-gesture-required", "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--user-data-dir={profile}", "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


READY = """
const done = arguments[arguments.length - 1];
const v = document.querySelector('video');
if (!v) { done(); return; }
v.muted = true;  // played a moment and paused on a frame with the title, as a reader sees it after a click
v.play().then(() => setTimeout(() => { v.pause(); setTimeout(done, 500); }, 600), () => done());
"""


def screenshot(dest: Path) -> None:
    """Render the kit's recipe at 640x360 with a report, and save a screenshot of the page's top (docs/report.png)."""
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        recipe = write_recipe(root / "project", size="640x360")
        with private_config(root), contextlib.chdir(recipe.parent):  # the page names the recipe as run from its folder
            result = nf("run", recipe.name, "--report", str(root / "report"))
        if not (root / "report" / "index.html").is_file():
            sys.exit(f"no report was written:\n{result.output}")
        with chromium(root / "profile", 1280, 2400) as driver:
            driver.get((root / "report" / "index.html").as_uri())
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, min(int(height) + 40, 3200))
            driver.set_script_timeout(15)
            driver.execute_async_script(READY)
            driver.save_screenshot(str(root / "shot.png"))
        picture = Image.open(root / "shot.png").convert("RGB")
        picture.save(root / "out.png", optimize=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / "out.png", dest)
        os.chmod(dest, 0o644)


if __name__ == "__main__":
    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/report.png"))
