"""`cowcheck graph`: the explored state graph of a scenario under a rule, or the
neighbourhood of a counterexample, for Graphviz, yEd/Gephi (GraphML) or scripts (JSON),
and what networkx can tell about it: whether any run can go on forever (a livelock,
reported as a lasso: the way in, then the cycle), and the longest interleaving."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from cowcheck.api import build_model
from cowcheck.checks.saved_trace import replay_file
from cowcheck.engine.graph import Lasso, StateGraph, find_lasso, neighbourhood, state_graph, to_dot
from cowcheck.errors import InputError
from cowcheck.families import family
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.state import MMState
from cowcheck.report.counterexample import label_of

FORMATS = ("dot", "graphml", "json")


@dataclass(slots=True)
class GraphReport:
    model: MMModel
    sg: StateGraph[MMState, Action]
    shown: Any  # the graph exported: all of it, or a counterexample's neighbourhood
    lasso: Lasso | None
    longest: int | None  # longest path, where the graph is acyclic
    unreached: list[str]  # litmus steps no edge of a complete graph runs

    def summary(self) -> str:
        g = self.sg.graph
        head = (
            f"{self.model.scenario.name} under {self.model.rule.name}: {g.number_of_nodes()} states, "
            f"{g.number_of_edges()} transitions"
            + ("" if self.sg.complete else " (stopped at --max-states: incomplete)")
        )
        bad = sum(1 for _, d in g.nodes(data=True) if d["violates"])
        lines = [head, f"violating states: {bad}"]
        stuck = self.stuck_nodes()
        if stuck:
            u = stuck[0]
            lines.append(
                f"stuck: {len(stuck)} end states where a program cannot go on; the first, after "
                f"{g.nodes[u]['depth']} steps: {g.nodes[u]['stuck']}"
            )
        if self.unreached:
            lines.append("unreached: runs on no path: " + "; ".join(self.unreached))
        ends = "every run ends" if not stuck else "every run ends, some of them stuck"
        if self.lasso is None:
            lines.append(f"livelock: none; the state graph has no cycle, so {ends} (longest run: {self.longest} steps)")
        else:
            lines.append("livelock: a reachable cycle (lasso):")
            lines += self.render_lasso()
        if self.shown is not g:
            lines.append(f"exported: the neighbourhood of the trace, {self.shown.number_of_nodes()} states")
        return "\n".join(lines)

    def stuck_nodes(self) -> list[int]:
        """End states the model calls stuck (engine/graph.py's visitor), in BFS order."""
        return [u for u, d in self.sg.graph.nodes(data=True) if d["stuck"]]

    @property
    def failed(self) -> bool:
        """A livelock, a stuck end or a step that runs nowhere: `cowcheck graph` exits 1."""
        return self.lasso is not None or bool(self.stuck_nodes()) or bool(self.unreached)

    def render_lasso(self) -> list[str]:
        assert self.lasso is not None
        g = self.sg.graph
        out = []
        for part, path in (("stem", self.lasso.stem), ("cycle", self.lasso.cycle)):
            for u, v in itertools.pairwise(path):
                out.append(f"  {part}: {g.edges[u, v]['label']}")
        return out


def build(
    scenario: str,
    rule: str,
    properties: list[str] | None = None,
    strict: bool = False,
    max_states: int | None = None,
    trace: str | None = None,
    radius: int = 1,
) -> GraphReport:
    model = build_model(scenario, rule, properties, "observational", strict)

    draw = family(model.family).describe_state

    def node_label(s: MMState) -> str:
        return "\n".join(draw(s))

    def edge_label(s: MMState, a: Action) -> str:
        return f"{model.actor_name(a.actor)}: {label_of(model, a, s)}"

    sg = state_graph(model, max_states, node_label, edge_label)
    lasso = find_lasso(sg)
    longest = nx.dag_longest_path_length(sg.graph) if lasso is None else None
    shown = sg.graph
    if trace is not None:
        shown = neighbourhood(sg, _trace_nodes(model, sg, trace), radius)
    return GraphReport(model, sg, shown, lasso, longest, _unreached(model, sg) if sg.complete else [])


def _unreached(model: MMModel, sg: StateGraph[MMState, Action]) -> list[str]:
    """The steps no expanded state runs, as the search finds them (engine/expand.py)."""
    return [g for i, g in enumerate(model.capabilities().coverage_goals) if i not in sg.covered]


def _trace_nodes(model: MMModel, sg: StateGraph[MMState, Action], path: str) -> list[int]:
    rp = replay_file(path, model.rule)
    index = {s: i for i, s in enumerate(sg.states)}
    nodes = []
    for s in rp.trace.states:
        i = index.get(model.canonical(s))
        if i is None:
            raise InputError(path, "steps", "the trace leaves the explored graph (another scenario, or --max-states)")
        nodes.append(i)
    return nodes


def export(g: Any, fmt: str, path: Path) -> None:
    if fmt not in FORMATS:
        raise InputError("--format", None, f"unknown format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    if fmt == "dot":
        path.write_text(to_dot(g), encoding="utf-8")
    elif fmt == "graphml":
        nx.write_graphml(g, path)
    else:
        path.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1) + "\n", encoding="utf-8")
