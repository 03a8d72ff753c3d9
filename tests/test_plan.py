"""Keys and plans as data: components with a kind, reasons with a kind, nothing parsed back from text.

The keys below are what nemoflow 0.1.0 computed for the same recipe and
identity: a refactoring that changes a key would silently re-render every
user's cache, so it must show up here.
"""

from __future__ import annotations

from pathlib import Path

from nemoflow.core.graph import topological_order
from nemoflow.lang.check import check_source
from nemoflow.plan.digests import DigestMemo
from nemoflow.plan.keys import Component, Part, components_from, compute_keys
from nemoflow.plan.planner import LastRun, OutputCheck, Planner, Status, Why

RECIPE = '''nemo 1

param size: resolution = 720p

media bars = pattern bars duration 4s size 1080p fps 30 tone 440hz
media bed = tone 220hz duration 10s volume 50%

edit cut {
  video bars from 0.5s to 3s speed 150%
  grade warm 60%
  title "Hello" from 0s to 1s color #ffcc00 fade 300ms
  music bed volume 35% fade out 1s
  transition crossfade 500ms
  video bars for 1s
}

ask polish = cut "color grade, title 'Hi' for 2 seconds"

export final = polish {
  size $size
  quality draft
  bitrate 4Mbps
  save "out/final.mp4"
}

expect final {
  duration ~= 3s
  file size < 50MB
  has audio
}
'''

KEYS_0_1_0 = {
    "media.bars": "04e676064ee3fd940a69ea20ef2e09dac3d2addd4152584183335b9e91b7dace",
    "media.bed": "bd4d4f9ccba1644febb03e3367652af78eb83971cc7a56caa76c0601cdc5faeb",
    "edit.cut": "b9b01cc70c24e588c8fb43dcd1d39b48d28cd09683418f6c17b154dbf12f623b",
    "ask.polish": "adb71bbd52e55bcff73cb49c32209e1598ad341e35ccc8ca7265454abfbe6dcb",
    "export.final": "795c1088ae80d539329ea9115432caa7bff681b97611ab47bfd78dfd1799fce0",
    "expect.final": "dfd795247e32c780274d22c0192d5cc5c6fc613c4ba3b13809fbb49b25ef82c6",
}


def _keys(text: str = RECIPE):
    recipe = check_source(text, "golden.nemo", Path("/tmp/goldenproj"))
    keys = compute_keys(recipe, topological_order(recipe), DigestMemo(None), {"engine": "test r1", "ffmpeg": "n0"},
                        lambda s: {"interpreter": "ask r1"} if s.kind == "ask" else {})
    return recipe, keys


def test_keys_are_what_nemoflow_0_1_0_computed():
    _, keys = _keys()
    assert {sid: k.key for sid, k in keys.items()} == KEYS_0_1_0


def test_components_say_what_they_are():
    _, keys = _keys()
    parts = {(c.part, c.label, c.index) for c in keys["edit.cut"].components}
    assert (Part.CLAUSE, "grade", 2) in parts and (Part.INPUT, "media.bars", None) in parts
    assert (Part.IDENTITY, "ffmpeg", None) in parts and (Part.KIND, "kind", None) in parts
    assert {(c.part, c.label) for c in keys["export.final"].components} >= {(Part.PARAM, "size"), (Part.PARAM, "bitrate")}


def test_components_read_back_from_a_store_record_or_a_0_1_0_one():
    _, keys = _keys()
    comps = keys["edit.cut"].components
    assert components_from(keys["edit.cut"].to_json()) == comps
    legacy = {c.name: c.value for c in comps}  # how 0.1.0 kept them
    assert components_from(legacy) == comps
    for broken in ({"clause 1 video": 3}, [{"part": "nonsense", "label": "x", "value": "y"}], [{"part": "clause", "label": "x"}],
                   [{"part": "clause", "label": "x", "value": "y", "index": True}], "text", 12):
        assert components_from(broken) is None


class _History:
    """A state directory in memory: one earlier run with the title saying "Hello"."""

    def __init__(self, old):
        self.old = old

    def record(self, key):
        return None

    def check_outputs(self, record):
        return OutputCheck(True)

    def components(self, key):
        return self.old.get(key)

    def last(self, sid):
        return LastRun(KEYS_0_1_0[sid], "ok") if sid in KEYS_0_1_0 else None


def test_a_plan_gives_reasons_as_facts():
    _, before = _keys()
    recipe, after = _keys(RECIPE.replace('"Hello"', '"Bye"'))
    history = _History({k.key: k.components for k in before.values()})
    planner = Planner(recipe, topological_order(recipe), after, history, {})
    plan = planner.plan(set(recipe.steps), planner.forced(["export.final"]))
    cut = plan.steps["edit.cut"]
    assert cut.status == Status.RUN and not cut.forced
    (reason,) = cut.reasons
    assert reason.why == Why.CHANGED and reason.change.component.part == Part.CLAUSE and reason.change.component.index == 3
    assert reason.text == "clause 3 (`title`) changed: text Hello → Bye"
    polish = plan.steps["ask.polish"].reasons[0]
    assert polish.why == Why.CHANGED and polish.change.input == "edit.cut"
    final = plan.steps["export.final"]
    assert final.forced and final.reasons[0].why == Why.FORCED
    assert planner.changes("ask.polish", KEYS_0_1_0["ask.polish"])[0]["because"][0]["reason"] == reason.text


def test_a_component_value_is_shown_as_the_language_writes_it():
    old = Component(Part.PARAM, "bitrate", '{"type":"Bitrate","bps":8000000}')
    from nemoflow.plan.planner import diff_components

    (change,) = diff_components((old,), (Component(Part.PARAM, "bitrate", '{"type":"Bitrate","bps":4000000}'),), None)
    assert change.reason == "param bitrate changed: 8Mbps → 4Mbps"
