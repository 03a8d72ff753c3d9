"""The recipe graph as text, Graphviz dot, Mermaid or JSON (`nemoflow graph`)."""

from __future__ import annotations

import json

from ..core.graph import topological_order
from ..core.model import Recipe

FORMATS = ("text", "dot", "mermaid", "json")


def render_graph(recipe: Recipe, fmt: str) -> str:
    order = topological_order(recipe)
    return {"text": _text, "dot": _dot, "mermaid": _mermaid, "json": _json}[fmt](recipe, order)


def _text(recipe: Recipe, order: list[str]) -> str:
    width = max((len(s) for s in order), default=0)
    lines = []
    for sid in order:
        step = recipe.steps[sid]
        deps = ", ".join(step.inputs)
        line = f"{sid:<{width}}  {step.span.file}:{step.span.line}"
        lines.append(line + (f"  <- {deps}" if deps else ""))
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_SHAPES = {"media": "cylinder", "edit": "box", "ask": "ellipse", "export": "folder", "expect": "diamond"}


def _dot(recipe: Recipe, order: list[str]) -> str:
    lines = ["digraph nemoflow {", "  rankdir=LR;", "  node [fontname=\"Helvetica\"];"]
    for sid in order:
        lines.append(f"  {_quote(sid)} [shape={_SHAPES[recipe.steps[sid].kind]}];")
    for sid in order:
        for dep in recipe.steps[sid].inputs:
            lines.append(f"  {_quote(dep)} -> {_quote(sid)};")
    lines.append("}")
    return "\n".join(lines)


def _mermaid(recipe: Recipe, order: list[str]) -> str:
    ids = {sid: f"n{i}" for i, sid in enumerate(order)}
    shapes = {"media": ("[(", ")]"), "edit": ("[", "]"), "ask": ("([", "])"), "export": ("[/", "/]"), "expect": ("{{", "}}")}
    lines = ["flowchart LR"]
    for sid in order:
        left, right = shapes[recipe.steps[sid].kind]
        label = sid.replace('"', "#quot;")
        lines.append(f'  {ids[sid]}{left}"{label}"{right}')
    for sid in order:
        for dep in recipe.steps[sid].inputs:
            lines.append(f"  {ids[dep]} --> {ids[sid]}")
    return "\n".join(lines)


def _json(recipe: Recipe, order: list[str]) -> str:
    data = {
        "recipe": str(recipe.path),
        "nodes": [recipe.steps[sid].to_json() for sid in order],
        "edges": [{"from": dep, "to": sid} for sid in order for dep in recipe.steps[sid].inputs],
    }
    return json.dumps(data, indent=2)
