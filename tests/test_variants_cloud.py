"""Variants on the nemo engine (against the fake service): one render per row, each row's session reused, and one
edited cell → one more render in the session that row already has (docs/variants.md, "On the cloud engine")."""

from __future__ import annotations

from pathlib import Path

from mediagen import make_video
from nemokit import fake, ledger  # noqa: F401  (fixture)
from runnerkit import finished, nf

RECIPE = """nemo 1

media clip = "clip.mp4"

for row in table("shots.csv") key row.sku {
  edit ad {
    video clip from 0s to $row.length
    title "${row.title}" from 0s to 1s
  }
  export square = ad {
    size 320x180
    quality draft
    save "out/${row}.mp4"
  }
}
"""

CSV = "sku,title,length\nmug-12,Mug,1s\nhat-07,Hat,1.5s\n"


def test_one_render_per_row_and_sessions_reused(tmp_path, fake):  # noqa: F811
    root = tmp_path / "p"
    root.mkdir()
    make_video(root / "clip.mp4", size=(320, 180), duration=2.0)
    (root / "shots.csv").write_text(CSV, encoding="utf-8")
    recipe = root / "r.nemo"
    recipe.write_text(RECIPE, encoding="utf-8")

    first = nf("run", recipe, "--engine", "nemo", "--json")
    assert first.exit_code == 0, first.output
    assert fake.jobs_created() == 2
    assert sorted(Path(p).name for p in (root / "out").iterdir()) == ["hat-07.mp4", "mug-12.mp4"]
    sessions = dict(ledger(recipe)["sessions"])
    assert len(set(sessions.values())) == 2  # a session per row's timeline

    (root / "shots.csv").write_text(CSV.replace("Hat", "Red hat"), encoding="utf-8")
    second = nf("run", recipe, "--engine", "nemo", "--json")
    assert second.exit_code == 0, second.output
    assert finished(second)["export.square[mug-12]"] == "cached" and finished(second)["export.square[hat-07]"] == "ok"
    assert fake.jobs_created() == 3
    assert dict(ledger(recipe)["sessions"]) == sessions
