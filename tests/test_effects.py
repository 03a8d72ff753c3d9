"""Clip effects: a verb of the signature table marked `effect` needs no Draft code, and the local engine draws every one."""

from __future__ import annotations

import numpy as np
from renderkit import frame_at, run_recipe

from nemoflow.core.signatures import EDIT_OPS
from nemoflow.draft.build import build_edit
from nemoflow.draft.media import MediaEntry
from nemoflow.engines.local.effects import DRAWN_ELSEWHERE, FILTERS
from nemoflow.lang.check import check_source

RECIPE = """nemo 1

media bars = pattern testsrc duration 2s size 320x180 fps 25

edit cut {{
  video bars for 1s
  {effect}
}}

export out = cut {{
  size 320x180
  quality draft
  audio none
  save "{save}"
}}
"""


def test_every_clip_effect_of_the_language_is_drawn_by_the_local_engine():
    effects = {sig.verb for sig in EDIT_OPS.values() if sig.effect}
    assert effects and all(verb in FILTERS or verb in DRAWN_ELSEWHERE for verb in effects), effects - set(FILTERS)


def test_a_clip_effect_reaches_the_draft_without_code_of_its_own(tmp_path):
    recipe = check_source(RECIPE.format(effect="blur 30%\n  adjust gamma 1 contrast 110%", save="out/x.mp4"), "r.nemo", tmp_path)
    step = recipe.steps["edit.cut"]
    entry = MediaEntry("video", d=2000, w=320, h=180, fps=25.0, pix_fmt="yuv420p", gen={"name": "pattern"})
    draft = build_edit(step, {"media.bars": entry}, lambda sid: None)
    assert draft.segments(0)[0].m["fx"] == [{"type": "blur", "strength": 30.0},
                                            {"type": "adjust", "contrast": 110.0, "gamma": 1.0}]


def _detail(image: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels: high for a sharp test pattern, low once blurred."""
    gray = image.mean(axis=2)
    return float(np.abs(np.diff(gray, axis=1)).mean() + np.abs(np.diff(gray, axis=0)).mean())


def test_blur_softens_the_picture_in_proportion_to_its_strength(tmp_path):
    details = {}
    for name, effect in (("sharp", ""), ("soft", "blur 30%"), ("softer", "blur 100%")):
        result = run_recipe(tmp_path, RECIPE.format(effect=effect, save=f"out/{name}.mp4"), name=f"{name}.nemo")
        assert result.exit_code == 0, result.output
        details[name] = _detail(frame_at(tmp_path / "out" / f"{name}.mp4", 0.5))
    assert details["softer"] < 0.7 * details["sharp"] and details["softer"] < details["soft"] < 0.9 * details["sharp"], details


def test_every_clip_effect_has_its_shape_in_the_draft_schema():
    import json

    from conftest import ROOT

    schema = json.loads((ROOT / "schemas" / "draft.schema.json").read_text())
    described = {branch["properties"]["type"]["const"] for branch in schema["$defs"]["effect"]["oneOf"]}
    assert {sig.verb for sig in EDIT_OPS.values() if sig.effect} <= described
