"""The recipe's step graph as an SVG picture, each step coloured by how it ended in the run.

Steps stand in columns by depth (the longest chain of inputs before them), inputs on the left, so a reader follows the
work left to right as `nemoflow graph` lists it. No Graphviz: the layout is simple enough to do here, and the picture
must be drawn on machines without it.
"""

from __future__ import annotations

from html import escape

from ..core.graph import topological_order
from ..core.model import Recipe
from .facts import RunFacts, StepFacts

NODE_H = 44
ROW_GAP = 14
COL_GAP = 56
MARGIN = 12
LEGEND_H = 28
CHAR_W = 7.0  # average width of a 12px sans-serif character, for sizing boxes
MAX_LABEL = 38

# status → (stroke, fill, words in the box)
STYLES = {
    "ok": ("#2e7d32", "#e8f5e9", "ran"),
    "restored": ("#1565c0", "#e3f2fd", "restored"),
    "cached": ("#616161", "#f5f5f5", "cached"),
    "failed": ("#c62828", "#ffebee", "failed"),
    "blocked": ("#ef6c00", "#fff3e0", "blocked"),
    "cancelled": ("#ef6c00", "#fff3e0", "cancelled"),
    "unfinished": ("#c62828", "#fff3e0", "did not finish"),  # started, never ended: the run was killed
    "": ("#9e9e9e", "#ffffff", "not in this run"),
}


def plan_svg(recipe: Recipe, facts: RunFacts) -> str:
    """An <svg> element (text) of the recipe's steps and their inputs; a step's tooltip says why it ran and how long."""
    order = topological_order(recipe)
    depth: dict[str, int] = {}
    for sid in order:
        depth[sid] = 1 + max((depth[i] for i in recipe.steps[sid].inputs if i in depth), default=-1)
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for sid in order:
        columns[depth[sid]].append(sid)
    widths = [max(110, min(int(max(len(_short(s)) for s in col) * CHAR_W) + 28, 300)) for col in columns]
    place: dict[str, tuple[float, float, float]] = {}  # step → x, y, width
    x = MARGIN
    for col, width in zip(columns, widths, strict=True):
        for row, sid in enumerate(col):
            place[sid] = (x, LEGEND_H + MARGIN + row * (NODE_H + ROW_GAP), width)
        x += width + COL_GAP
    total_w = max(x - COL_GAP + MARGIN, _legend_width() + 2 * MARGIN)
    rows = max((len(c) for c in columns), default=0)
    total_h = LEGEND_H + 2 * MARGIN + rows * (NODE_H + ROW_GAP) - (ROW_GAP if rows else 0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plan" width="{total_w:.0f}" height="{total_h:.0f}" '
             f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" role="img" aria-label="the recipe\'s steps and how each ended">',
             '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto">'
             '<path d="M0,0 L8,4 L0,8 z" fill="#78909c"/></marker></defs>', _legend()]
    for sid in order:
        x2, y2, _ = place[sid]
        for dep in recipe.steps[sid].inputs:
            if dep not in place:
                continue
            x1, y1, w1 = place[dep]
            ax, ay, bx, by = x1 + w1, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
            bend = COL_GAP * 0.6
            parts.append(f'<path class="edge" d="M{ax:.1f},{ay:.1f} C{ax + bend:.1f},{ay:.1f} {bx - bend:.1f},{by:.1f} '
                         f'{bx - 1:.1f},{by:.1f}" fill="none" stroke="#90a4ae" stroke-width="1.4" marker-end="url(#arrow)"/>')
    for sid in order:
        parts.append(_node(sid, str(recipe.steps[sid].kind), facts.steps.get(sid), place[sid]))
    parts.append("</svg>")
    return "\n".join(parts)


def _node(sid: str, kind: str, step: StepFacts | None, at: tuple[float, float, float]) -> str:
    x, y, width = at
    status = (step.status or "unfinished") if step is not None else ""
    stroke, fill, words = STYLES.get(status, STYLES[""])
    if step is not None and status in ("ok", "restored"):
        words += f" {step.seconds:.1f}s"
    dash = ' stroke-dasharray="4 3"' if step is None else ""
    tip = [sid, f"{kind}: {words}"]
    if step is not None:
        tip += list(step.reasons) + ([step.summary] if step.summary else []) + ([step.error] if step.error else [])
    return (f'<g class="step status-{status or "absent"}" data-step="{escape(sid)}">'
            f'<title>{escape(chr(10).join(tip))}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.0f}" height="{NODE_H}" rx="6" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="1.6"{dash}/>'
            f'<text x="{x + 10:.1f}" y="{y + 18:.1f}" font-size="12" font-weight="bold" fill="#263238">{escape(_short(sid))}</text>'
            f'<text x="{x + 10:.1f}" y="{y + 35:.1f}" font-size="11" fill="{stroke}">{escape(kind)} · {escape(words)}</text></g>')


def _short(sid: str) -> str:
    return sid if len(sid) <= MAX_LABEL else sid[:MAX_LABEL - 1] + "…"


_LEGEND = ("ok", "restored", "cached", "failed", "blocked", "")


def _legend_width() -> float:
    return sum(24 + len(STYLES[s][2]) * CHAR_W + 14 for s in _LEGEND)


def _legend() -> str:
    out, x = ['<g class="legend" font-size="11">'], float(MARGIN)
    for status in _LEGEND:
        stroke, fill, words = STYLES[status]
        out.append(f'<rect x="{x:.0f}" y="{MARGIN}" width="16" height="12" rx="3" fill="{fill}" stroke="{stroke}"/>'
                   f'<text x="{x + 22:.0f}" y="{MARGIN + 10}" fill="#37474f">{escape(words)}</text>')
        x += 24 + len(words) * CHAR_W + 14
    out.append("</g>")
    return "".join(out)
