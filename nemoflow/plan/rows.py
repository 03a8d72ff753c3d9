"""`plan`'s per-row line for table loops: "rows (shots.csv, `row`): 1 changed (hat-07: headline), 999 cached".

A row has changed when any of its steps would run. What changed is named by the columns its steps read where
their key changed (an edit's clause, an export's settings); when no column explains it (a media file changed, an
engine update), by the first step's first reason. Rows never run before are "new". A table loop inside another
loop is one line, its rows named `outer/key`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import attrs

from ..core.model import Recipe, Step, TableRows
from .keys import Part
from .planner import PlannedStep, Status, Why

SHOWN = 5  # rows named on the line; the rest are counted


@attrs.frozen
class RowSummary:
    """One table loop's rows in a plan (merged over the loops around it)."""

    table: str
    var: str
    changed: dict[str, tuple[tuple[str, ...], str]]  # row key (`outer/key` nested) -> (columns behind it, first reason)
    new: tuple[str, ...]
    cached: int

    def line(self) -> str:
        parts = []
        if self.changed:
            named = [f"{k}: {', '.join(cols) or why}" for k, (cols, why) in list(self.changed.items())[:SHOWN]]
            more = f"; … {len(self.changed) - SHOWN} more" if len(self.changed) > SHOWN else ""
            parts.append(f"{len(self.changed)} changed ({'; '.join(named)}{more})")
        if self.new:
            more = f", … {len(self.new) - SHOWN} more" if len(self.new) > SHOWN else ""
            parts.append(f"{len(self.new)} new ({', '.join(self.new[:SHOWN])}{more})")
        parts.append(f"{self.cached} cached")
        return f"rows ({self.table}, `{self.var}`): " + ", ".join(parts)

    def to_json(self) -> dict:
        changed = {k: {"columns": list(cols), "reason": why} for k, (cols, why) in self.changed.items()}
        return {"table": self.table, "var": self.var, "changed": changed, "new": list(self.new), "cached": self.cached}


def row_lines(recipe: Recipe, planned: Iterable[PlannedStep]) -> list[str]:
    """One line per table loop, from the plan's steps; no table loops, no lines."""
    return [r.line() for r in row_summaries(recipe, planned)]


def row_summaries(recipe: Recipe, planned: Iterable[PlannedStep]) -> list[RowSummary]:
    """Per table loop: which rows would re-render (and why), which are new, how many are cached."""
    if not recipe.tables:
        return []
    running = [p for p in planned if p.status != Status.CACHED]
    by_row: dict[int, dict[tuple[str, ...], list[PlannedStep]]] = {}  # loop depth -> index so far -> running steps
    for at in {len(t.prefix) for t in recipe.tables}:
        rows = by_row[at] = {}
        for p in running:
            step = recipe.steps.get(p.id)
            if step is not None and len(step.index) > at:
                rows.setdefault(step.index[: at + 1], []).append(p)
    merged: dict[tuple[str, str], tuple[dict[str, tuple[tuple[str, ...], str]], list[str], int]] = {}
    for table in recipe.tables:
        changed, new, total = merged.setdefault((table.table, table.var), ({}, [], 0))
        for key in table.keys:
            row = (*table.prefix, key)
            steps = by_row[len(table.prefix)].get(row)
            if not steps:
                continue
            if any(r.why == Why.NEW for p in steps for r in p.reasons):
                new.append("/".join(row))
            else:
                changed["/".join(row)] = _what_changed(recipe, table, key, steps)
        merged[(table.table, table.var)] = (changed, new, total + len(table.keys))
    return [RowSummary(file, var, changed, tuple(new), total - len(changed) - len(new))
            for (file, var), (changed, new, total) in merged.items()]


def _what_changed(recipe: Recipe, table: TableRows, key: str, steps: list[PlannedStep]) -> tuple[tuple[str, ...], str]:
    """The columns behind a row's changed keys (none when no column explains it), and its first reason. Where a changed clause reads several
    columns, the ones whose text is in its new value and not in its old one (`"Hat, red"`); if that tells
    nothing (a value written differently once read, `2s` → 2.0), all of them."""
    columns: list[str] = []
    for p in steps:
        step: Step = recipe.steps[p.id]
        for reason in p.reasons:
            change = reason.change
            if change is None or change.component.part in (Part.INPUT, Part.FILE, Part.IDENTITY, Part.FORMAT):
                continue
            found = None
            ops = getattr(step.spec, "ops", None)
            index = change.component.index
            if change.component.part == Part.CLAUSE and ops is not None and index is not None and 0 < index <= len(ops):
                span = ops[index - 1].span
                found = table.uses.get((step.name, f"{span.line}:{span.column}"))
            if found is None:
                found = table.uses.get((step.name, "*"), ())
            if len(found) > 1 and change.before is not None and change.after is not None:
                cells = table.cells.get(key, {})
                told = [c for c in found if c in cells and cells[c] and json.dumps(cells[c], ensure_ascii=False) in change.after
                        and json.dumps(cells[c], ensure_ascii=False) not in change.before]
                found = told or found
            columns += [c for c in found if c not in columns]
    first = steps[0]
    return tuple(columns), first.texts[0] if first.texts else str(first.status)
