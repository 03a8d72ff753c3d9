"""The cloud engine under every reading of the contract's open points (nemoflow.testing.fake_nemo.VARIANTS), with and without chaos.

Where ../shared/nemo-api.md is silent or says *assumed* (how a state draft
names media, whether an upload lands on the timeline, how an unknown render
id is answered, which extra fields appear, how often streams close silently),
the fake can answer each plausible way. The example recipes and an
edit → ask → export chain must pass under all of them: an engine that passes
against one reading only is not done.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import av
import pytest
from conftest import EXAMPLES
from mediagen import make_image, make_video
from nemokit import CHAIN, fast_cloud, quiet
from runnerkit import finished, nf

from nemoflow.engines.nemo.drafts import ServiceDraft
from nemoflow.testing.fake_nemo import VARIANTS, FakeNemo, variant_quirks

CASES = [(name, chaos) for name in VARIANTS for chaos in (False, True)]
TOKEN = "variant-token-do-not-print"



@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """Generated sources encoded for upload once for the whole module (they are named by their content)."""
    return tmp_path_factory.mktemp("variant-cache")


@pytest.fixture(params=CASES, ids=[f"{n}{'+chaos' if c else ''}" for n, c in CASES])
def service(request, tmp_path, monkeypatch, shared_cache):
    name, chaos = request.param
    monkeypatch.setenv("NEMOFLOW_CACHE_DIR", str(shared_cache))
    with FakeNemo(tmp_path / "fake", variant_quirks(name, chaos=chaos, seed=7)) as fake:
        fake.add_user_token(TOKEN)
        fast_cloud(monkeypatch, fake)
        monkeypatch.setenv("NEMO_TOKEN", TOKEN)
        yield fake
    assert not fake.errors, fake.errors[0]


def facts(path: Path) -> dict:
    with av.open(str(path)) as box:
        video = box.streams.video[0]
        return {"duration": float(box.duration / av.time_base), "size": (video.width, video.height),
                "audio": len(box.streams.audio)}


def renders_per_step(fake: FakeNemo) -> dict[str, int]:
    """How many render jobs the service created for each distinct draft body: more than one is a duplicate paid for."""
    counts: dict[str, int] = {}
    for body in fake.render_bodies():
        key = json.dumps({k: v for k, v in body.items()}, sort_keys=True)
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_edit_ask_export_chain(service, tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    make_video(root / "clip.mp4", size=(320, 180), duration=3.0)
    make_image(root / "still.png", size=(64, 48))
    recipe = root / "r.nemo"
    recipe.write_text(CHAIN, encoding="utf-8")

    first = nf("run", recipe, "--engine", "nemo", "--json")
    assert first.exit_code == 0, first.output
    assert set(finished(first).values()) == {"ok"}
    for out in ("plain", "final", "later"):
        got = facts(root / "out" / f"{out}.mp4")
        assert got["size"] == (320, 180) and abs(got["duration"] - 2.5) < 0.1 and got["audio"] == 1, (out, got)
    assert service.jobs_created() == 3, "one render per export, none paid twice"
    assert all(n == 1 for n in renders_per_step(service).values())
    # an ask's result is the service's draft: exported untouched (its own fields kept), only the frame added
    bodies = service.render_bodies()
    service_drafts = [b for b in bodies if "x_internal" in b]
    assert len(service_drafts) == 2, [list(b) for b in bodies]
    if service.quirks.extra_fields == "everywhere":
        assert all(seg.get("uid") for b in service_drafts for t in b["t"] for seg in t["sg"])
        assert all("x_editor" in b["m"] for b in service_drafts)
    # the edit's Draft was sent as nemoflow's, with the service's references to its media
    ours = next(b for b in bodies if "x_internal" not in b)
    assert all(entry.get("url", "").startswith(service.url) for entry in ours["m"]["media"].values())
    # the later ask added its title to the timeline the service made
    later = ServiceDraft(service_drafts[-1] if "Bye" in json.dumps(service_drafts[-1]) else service_drafts[0])
    assert "Bye" in json.dumps(later.to_json())

    # `nemoflow state` reads the session whatever shape its draft has: tracks, media by their upload names, texts, levels
    session = next(iter(json.loads(next(root.glob(".nemoflow/recipes/*/nemo.json")).read_text())["sessions"].values()))
    shown = nf("state", session)
    assert shown.exit_code == 0, shown.output
    assert "Video clip.mp4 0–2s, still.png 1.5–2.5s" in shown.output and '"Bye" 0–1s' in shown.output, shown.output
    assert "tone.m4a 0–2.5s at 35%" in shown.output and "other fields: " in shown.output and "x_internal" in shown.output

    again = nf("run", recipe, "--engine", "nemo", "--json")
    assert again.exit_code == 0 and set(finished(again).values()) == {"cached"}
    assert service.jobs_created() == 3

    # a new closing line: `more` runs again on `polish`'s cached draft; the session holds `more`'s old timeline, so
    # nemoflow brings it back (the edit by instructions, then `polish` asked again) before asking `more`
    changed = nf("run", recipe, "--engine", "nemo", "--json", "--set", "closing=Ciao")
    assert changed.exit_code == 0, changed.output
    states = finished(changed)
    assert states["ask.more"] == "ok" and states["export.later"] == "ok" and states["ask.polish"] == "cached"
    assert service.jobs_created() == 4
    last = json.dumps(service.render_bodies()[-1])
    assert "asking ask.polish again" in changed.output
    # what was rendered is the edit, polish asked once more, and the new title: not the old one, not two grades per clip
    assert "Ciao" in last and "Bye" not in last, last
    assert last.count('"film"') == 2, last
    if service.quirks.fail_rate:  # chaos did happen: 500s were answered, and every one was survived
        assert sum(r.status == 500 for r in quiet(service)) >= 3
    assert TOKEN not in first.output + again.output + changed.output
    assert all(TOKEN not in r.path + r.query for r in quiet(service))


# -- the example recipes -------------------------------------------------------------------------------------------
EXAMPLE_RUNS = [
    ("urban_dreams.nemo", ("--set", "size=320x180"), {"out/urban_dreams.mp4": ((320, 180), 10.0)}),
    ("ask_polish.nemo", ("--set", "size=320x180"), {"out/ask_polish.mp4": ((320, 180), 8.0),
                                                     "out/ask_polish_vertical.mp4": ((720, 1280), 8.0)}),
    ("travel_reel.nemo", ("export.web",), {"out/travel_reel.mp4": ((1920, 1080), None)}),
    ("batch_social.nemo", ("--set", 'looks=["bars"]', "--set", "length=3s"),
     {"out/batch/bars-wide.mp4": ((1280, 720), 8.0), "out/batch/bars-vertical.webm": ((720, 1280), 3.0),
      "out/batch/compilation.mp4": ((720, 1280), 3.0)}),
]


def small_examples(dest: Path) -> Path:
    """The examples, with generated footage at 320x180 instead of 1080p/4K (the recipes' steps are unchanged)."""
    shutil.copytree(EXAMPLES, dest)
    for path in [*dest.glob("*.nemo"), *dest.glob("include/*.nemo")]:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^(\s*media\b.*?\bsize )(4k|1080p|720p)\b", r"\g<1>320x180", text, flags=re.M)
        path.write_text(text, encoding="utf-8")
    return dest


@pytest.mark.slow
@pytest.mark.parametrize(("name", "args", "outputs"), EXAMPLE_RUNS, ids=[e[0] for e in EXAMPLE_RUNS])
def test_examples_under_every_reading(service, tmp_path, name, args, outputs):
    where = small_examples(tmp_path / "examples")
    result = nf("run", where / name, "--engine", "nemo", *args)
    assert result.exit_code == 0, result.output
    for out, (size, duration) in outputs.items():
        got = facts(where / out)
        assert got["size"] == size, (out, got)
        if duration is not None:
            assert abs(got["duration"] - duration) <= 0.15, (out, got)
    assert all(n == 1 for n in renders_per_step(service).values()), "a render paid for twice"
