"""The explored state graph as a networkx DiGraph, built by a visitor of the search,
and the questions it answers.

Nodes are canonical states numbered in BFS order (0 is the first initial state);
each edge keeps the index of the action in ``model.actions(state)``, so any path
replays exactly. ``label`` callbacks give the nodes and edges their text; the engine
itself knows nothing of what a state means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import networkx as nx

from cowcheck.engine.core import explore
from cowcheck.engine.model import Model
from cowcheck.engine.options import Bounds, SearchOptions
from cowcheck.engine.result import Verdict

S = TypeVar("S")
A = TypeVar("A")


@dataclass(slots=True)
class StateGraph(Generic[S, A]):
    graph: Any  # nx.DiGraph: networkx is untyped
    states: list[S]
    complete: bool  # False when max_states stopped the exploration
    covered: set[int]  # the model's coverage goals its expanded states' moves achieve


class GraphVisitor(Generic[S, A]):
    """Builds the state graph as the search walks it (``visitor.py``)."""

    def __init__(
        self,
        model: Model[S, A],
        node_label: Callable[[S], str] | None = None,
        edge_label: Callable[[S, A], str] | None = None,
    ) -> None:
        caps = model.capabilities()
        self.g = nx.DiGraph()
        self.states: list[S] = []
        self.covered: set[int] = set()
        self._stuck = caps.stuck
        self._goal_of = caps.goal_of
        self._node_label = node_label
        self._edge_label = edge_label

    def state(self, gid: int, state: S, depth: int, violates: str) -> None:
        self.states.append(state)
        label = self._node_label(state) if self._node_label else str(gid)
        self.g.add_node(gid, depth=depth, violates=violates, stuck="", label=label)

    def edge(self, src: int, ai: int, action: A, dst: int) -> None:
        if not self.g.has_edge(src, dst):
            s = self.states[src]
            label = self._edge_label(s, action) if self._edge_label else str(action)
            self.g.add_edge(src, dst, action=ai, label=label)

    def expanded(self, gid: int, state: S, moves: list[A]) -> None:
        if self._stuck is not None:
            self.g.nodes[gid]["stuck"] = self._stuck(state, moves) or ""
        if self._goal_of is not None:
            # From the moves, not the edges: the graph keeps one edge where two steps
            # lead to the same state.
            self.covered.update(self._goal_of(a) for a in moves)


def state_graph(
    model: Model[S, A],
    max_states: int | None = None,
    node_label: Callable[[S], str] | None = None,
    edge_label: Callable[[S, A], str] | None = None,
) -> StateGraph[S, A]:
    """Every reachable canonical state (up to ``max_states``) and every transition,
    walked by the search (``core.explore`` with a ``GraphVisitor``). A node that
    violates an invariant is marked (``violates``) and not expanded, as in the search;
    one the model calls stuck (``Capabilities.stuck``) is marked ``stuck`` with what
    blocks it."""
    v = GraphVisitor(model, node_label, edge_label)
    opts = SearchOptions(bounds=Bounds(max_states=max_states), subsume=False)
    result = explore(model, opts, visitor=v)
    return StateGraph(v.g, v.states, result.verdict is not Verdict.INCOMPLETE, v.covered)


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
