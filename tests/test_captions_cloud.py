"""Captions on the cloud engine: burned ones refused (at check time and at render), soft ones muxed after download.

Why refuse burned captions rather than burn them in after the download: the service draws its own text and cannot
be given nemoflow's captions, and burning them here would decode and re-encode the whole cloud render on this
machine (docs/captions.md "Rendering").
"""

from __future__ import annotations

import json

import pytest
from captionkit import caption, grey_draft, with_captions
from nemokit import fake, requests  # noqa: F401  (fixture)
from runnerkit import events

from nemoflow.core.diagnostics import Span
from nemoflow.core.model import ExportSettings, ExportSpec, Step, StepRef
from nemoflow.draft.model import TEXT
from nemoflow.draft.output import Output
from nemoflow.engines.nemo.renders import _captions
from nemoflow.errors import DraftError


def _step(tmp_path, name: str = "out.mp4") -> Step:
    spec = ExportSpec(StepRef("edit.e"), tmp_path / name, ExportSettings(format=name.rsplit(".", 1)[1]))
    return Step("export.out", "out", (), Span("t.nemo", 1, 1, 1, 1), ("edit.e",), spec)


def test_burned_captions_are_refused_before_anything_is_sent(tmp_path):
    draft = with_captions(grey_draft(2000), caption(500, 1000, "Hello"), caption(1500, 400, "soft one", mode="soft"))
    with pytest.raises(DraftError) as info:
        _captions(_step(tmp_path), draft, Output(320, 180, 30.0))
    said = str(info.value)
    assert "1 burned caption (the first 'Hello' at 0.5s)" in said and "soft" in said and "--engine local" in said


def test_soft_captions_leave_the_service_draft_and_come_back_as_cues(tmp_path):
    title = with_captions(grey_draft(2000), caption(500, 1000, "Hi", mode="soft"))
    sent, cues = _captions(_step(tmp_path), title, Output(320, 180, 30.0))
    assert sent.segments(TEXT) == () and [(c.start, c.end, c.text) for c in cues] == [(500, 1500, "Hi")]
    with pytest.raises(DraftError, match="need a container"):
        _captions(_step(tmp_path, "out.gif"), title, Output(320, 180, 10.0, container="gif", codec="gif"))


# -- whole recipes against the fake service --------------------------------------------------------------------------

CLOUD = """nemo 1
media clip = "clip.mp4"
edit cut {{
  video clip from 0s to 2s
  captions [[0.5s, 1.5s, "Hello cloud"]]{how}
}}
export out = cut {{
  size 320x180
  quality draft
  save "out/{name}"
}}
expect out {{
  caption "Hello cloud" at 1s
  no caption at 1.6s
}}
"""


@pytest.mark.slow
def test_soft_captions_are_added_to_the_cloud_render_after_download(tmp_path, fake):  # noqa: F811
    from test_captions_render import subtitle_cues
    from test_nemo_engine import project, run

    recipe = project(tmp_path, CLOUD.format(how=" soft", name="o.mp4"))
    result = run(recipe)
    assert result.exit_code == 0, result.output
    assert subtitle_cues(tmp_path / "out" / "o.mp4") == ("mov_text", [(500, 1500, "Hello cloud")])
    assert fake.jobs_created() == 1
    sent = json.dumps(fake.render_bodies())
    assert "Hello cloud" not in sent and '"tt": 0' in sent  # the render's draft went, its cues did not


@pytest.mark.slow
def test_burned_captions_are_refused_for_the_cloud_when_checked(tmp_path, fake):  # noqa: F811
    from test_nemo_engine import project, run

    recipe = project(tmp_path, CLOUD.format(how="", name="o.mp4"))
    result = run(recipe)
    assert result.exit_code == 2, result.output
    planned = [e for e in events(result) if e["event"] == "plan" and e["step"] == "edit.cut"]
    assert planned[0]["status"] == "error" and "burned captions on the NemoVideo service" in planned[0]["reasons"][0]
    assert "--engine local" in result.output and fake.jobs_created() == 0  # refused when planned: no render paid for
