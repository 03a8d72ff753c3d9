"""The static DAG of a checked recipe: its order, and its cycles (networkx when there are some).

Pure functions of the steps' inputs, so the checker (cycles) and the planner
(order) share them without depending on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # networkx is imported lazily: `nemoflow --help` must stay fast
    import networkx as nx

    from .model import Recipe, Step


def build_graph(steps: Mapping[str, Step]) -> nx.DiGraph:
    """Nodes are step ids (with the Step as `step` data); an edge runs from input to user."""
    import networkx as nx

    graph = nx.DiGraph()
    for sid, step in steps.items():
        graph.add_node(sid, step=step)
    for sid, step in steps.items():
        for dep in step.inputs:
            if dep in steps:
                graph.add_edge(dep, sid)
    return graph


def find_cycles(steps: Mapping[str, Step]) -> list[list[str]]:
    """One cycle per strongly connected tangle, each as a list of step ids in dependency order.

    The common case, no cycle, is proved with the standard library's graphlib:
    importing networkx costs ~80 ms, a quarter of `nemoflow check`'s budget.
    networkx is loaded only to describe the cycles when there are some.
    """
    from graphlib import CycleError, TopologicalSorter

    try:
        TopologicalSorter({sid: [d for d in s.inputs if d in steps] for sid, s in steps.items()}).prepare()
        return []
    except CycleError:
        pass
    import networkx as nx

    graph = build_graph(steps)
    cycles = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1:
            (node,) = component
            if not graph.has_edge(node, node):
                continue
        sub = graph.subgraph(component)
        start = min(component)
        edges = nx.find_cycle(sub, source=start)
        cycles.append([u for u, _ in edges])
    cycles.sort()
    return cycles


def topological_order(recipe: Recipe) -> list[str]:
    """Steps in an order that runs inputs first; ties broken by source order, so it is stable.

    Kahn's algorithm over a heap of source positions: the same order networkx's
    lexicographical sort gives, without importing networkx (~60 ms) on every run.
    """
    import heapq

    steps = recipe.steps
    position = {sid: i for i, sid in enumerate(steps)}
    waiting = {sid: len({i for i in step.inputs if i in steps}) for sid, step in steps.items()}
    users: dict[str, list[str]] = {sid: [] for sid in steps}
    for sid, step in steps.items():
        for dep in {i for i in step.inputs if i in steps}:
            users[dep].append(sid)
    ready = [position[sid] for sid, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    names = list(steps)
    order: list[str] = []
    while ready:
        sid = names[heapq.heappop(ready)]
        order.append(sid)
        for user in users[sid]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, position[user])
    return order
