"""Intents → words: the short phrase apply.py shows for each intent it carried out ("speed ×2", "export: 4K").

The other way from the phrase table: it reads the args the builders (builders.py) make, and names export sizes
as the table does ("4K", "1080p").
"""

from __future__ import annotations

from .builders import SIZE_NAMES
from .intents import Intent
from .numerals import fmt


def describe(intent: Intent) -> str:
    """A short phrase for people: "cut shaky spans", "title “Urban Dreams” 0–3s", "speed ×2"."""
    a = intent.args
    kind = intent.kind
    if kind == "cut":
        return "cut silent spans" if a["what"] == "silence" else f"cut {a['what']} spans"
    if kind == "grade":
        look = a.get("look", "auto")
        base = "color grade (auto)" if look == "auto" else f"grade {look}"
        return base + _at(a.get("amount"))
    if kind == "stabilize":
        return "stabilize" + _at(a.get("strength"))
    if kind == "reframe":
        return f"reframe to {a['num']}:{a['den']} ({a.get('mode', 'crop')})"
    if kind == "title":
        seconds = fmt(a.get("seconds", 3.0))
        where = f"for the last {seconds}s" if a.get("at") == "end" else f"0–{seconds}s"
        return f"title “{a['text']}” {where}"
    if kind == "music":
        if a.get("remove"):
            return "remove the music"
        if a.get("fade_out") is not None:
            return f"fade out the music over {fmt(a['fade_out'])}s"
        return f"music at {fmt(a['volume'])}%"
    if kind == "mute":
        return "mute the clips' own sound"
    if kind == "speed":
        return f"speed ×{fmt(a['factor'])}"
    if kind == "length":
        return f"keep the first {fmt(a['seconds'])}s"
    if kind == "fade":
        return f"fade {a['dir']} {fmt(a.get('seconds', 1.0))}s"
    parts = []
    if a.get("long_edge") is not None:
        parts.append(SIZE_NAMES.get(a["long_edge"], f"{a['long_edge']}px long edge"))
    if a.get("quality") is not None:
        parts.append(f"{a['quality']} quality")
    return "export: " + ", ".join(parts) if parts else "export"


def _at(percent: float | None) -> str:
    """" at 70%" for a percent given, nothing for none."""
    return "" if percent is None else f" at {fmt(percent)}%"
