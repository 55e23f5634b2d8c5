"""The explored state graph as a networkx DiGraph, and the questions it answers.

Nodes are canonical states numbered in BFS order (0 is the first initial state);
each edge keeps the index of the action in ``model.actions(state)``, so any path
replays exactly. ``label`` callbacks give the nodes and edges their text; the engine
itself knows nothing of what a state means.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import networkx as nx

from cowcheck.engine.model import Model

S = TypeVar("S")
A = TypeVar("A")


@dataclass(slots=True)
class StateGraph(Generic[S, A]):
    graph: Any  # nx.DiGraph: networkx is untyped
    states: list[S]
    complete: bool  # False when max_states stopped the exploration
    covered: set[int]  # the model's coverage goals its expanded states' moves achieve


def state_graph(
    model: Model[S, A],
    max_states: int | None = None,
    node_label: Callable[[S], str] | None = None,
    edge_label: Callable[[S, A], str] | None = None,
) -> StateGraph[S, A]:
    """Every reachable canonical state (up to ``max_states``) and every transition.
    A node that violates an invariant is marked (``violates``) and not expanded, as in
    the search; one the model calls stuck (``Model.stuck``) is marked ``stuck`` with
    what blocks it."""
    g = nx.DiGraph()
    canon = model.canonical
    stuck = getattr(model, "stuck", None)
    goal_of = getattr(model, "goal_of", None)
    covered: set[int] = set()
    invariants = tuple(model.invariants())
    ids: dict[S, int] = {}
    states: list[S] = []
    todo: deque[int] = deque()

    def node(s: S, depth: int) -> int:
        key = canon(s)
        i = ids.get(key)
        if i is None:
            i = ids[key] = len(states)
            states.append(key)
            bad = next((inv.id for inv in invariants if inv.check(key) is not None), "")
            label = node_label(key) if node_label else str(i)
            g.add_node(i, depth=depth, violates=bad, stuck="", label=label)
            if not bad:
                todo.append(i)
        return i

    for init in model.init_states():
        node(init, 0)
    complete = True
    while todo:
        u = todo.popleft()
        s = states[u]
        depth = g.nodes[u]["depth"]
        moved = []
        for ai, a in enumerate(model.actions(s)):
            step = model.next_step(s, a)
            if step is None:
                continue
            moved.append(a)
            if max_states is not None and len(states) >= max_states and canon(step.state) not in ids:
                complete = False
                continue
            v = node(step.state, depth + 1)
            if not g.has_edge(u, v):
                g.add_edge(u, v, action=ai, label=edge_label(s, a) if edge_label else str(a))
        if stuck is not None:
            g.nodes[u]["stuck"] = stuck(s, moved) or ""
        if goal_of is not None:
            # From the moves, not the edges: the graph keeps one edge where two steps
            # lead to the same state.
            covered.update(goal_of(a) for a in moved)
    return StateGraph(g, states, complete, covered)


@dataclass(frozen=True, slots=True)
class Lasso:
    """A path from an initial state into a cycle, then the cycle (node ids)."""

    stem: list[int]
    cycle: list[int]


def find_lasso(sg: StateGraph[Any, Any], on_cycle: Callable[[Any, int, int], bool] | None = None) -> Lasso | None:
    """A reachable cycle (a livelock: the same states forever), as the shortest stem
    from state 0 and the cycle itself. ``on_cycle(graph, u, v)`` may demand that some
    edge of the cycle qualifies (a GUP retry, a fault that does not progress)."""
    g = sg.graph
    for comp in sorted(nx.strongly_connected_components(g), key=min):
        sub = g.subgraph(comp)
        if len(comp) == 1 and not any(sub.has_edge(n, n) for n in comp):
            continue
        for cyc in nx.simple_cycles(sub):
            edges = list(zip(cyc, cyc[1:] + cyc[:1], strict=True))
            if on_cycle is None or any(on_cycle(g, u, v) for u, v in edges):
                stem = nx.shortest_path(g, 0, cyc[0])
                return Lasso(stem, [*cyc, cyc[0]])
    return None


def neighbourhood(sg: StateGraph[Any, Any], path: list[int], radius: int = 1) -> Any:
    """The nodes of ``path`` and everything within ``radius`` steps of them."""
    keep: set[int] = set()
    for n in path:
        keep |= set(nx.ego_graph(sg.graph, n, radius=radius))
    return sg.graph.subgraph(keep).copy()


def to_dot(g: Any) -> str:
    """Graphviz DOT (written here: pydot is not a dependency)."""

    def q(x: object) -> str:
        return '"' + str(x).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph cowcheck {", "  node [shape=box, fontname=monospace];"]
    for n, d in g.nodes(data=True):
        color = ", color=red, penwidth=2" if d.get("violates") else ""
        label = d.get("label", n)
        if d.get("stuck"):
            color = ", color=orange, penwidth=2"
            label = f"{label}\nSTUCK: {d['stuck']}"
        lines.append(f"  {n} [label={q(label)}{color}];")
    for u, v, d in g.edges(data=True):
        lines.append(f"  {u} -> {v} [label={q(d.get('label', ''))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
