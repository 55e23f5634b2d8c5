"""`cowcheck graph`: the state graph in networkx, its exports, a trace's neighbourhood,
and livelock detection as a lasso."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import pytest

from cowcheck.api import build_model
from cowcheck.checks.saved_trace import replay_file
from cowcheck.engine import Capabilities, Invariant, SearchOptions, Step, TransitionCheck, explore
from cowcheck.engine.graph import find_lasso, state_graph
from cowcheck.input.bundled import scenario_files
from cowcheck.report.graph import build, export

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "counterexamples" / "odirect-swap--page-count.json"
LITMUS = [f for f in scenario_files() if not f.stem.startswith("open-")]


def test_graph_has_every_state_the_search_explores() -> None:
    rep = build("odirect-swap", "anon-exclusive")
    full = explore(build_model("odirect-swap", "anon-exclusive"), SearchOptions(subsume=False))
    assert rep.sg.complete and rep.sg.graph.number_of_nodes() == full.stats.states
    assert rep.lasso is None and rep.longest == full.stats.max_depth


def test_exports_read_back(tmp_path: Path) -> None:
    rep = build("odirect-swap", "page-count")
    g = rep.sg.graph
    export(g, "graphml", tmp_path / "g.graphml")
    back = nx.read_graphml(tmp_path / "g.graphml")
    assert (back.number_of_nodes(), back.number_of_edges()) == (g.number_of_nodes(), g.number_of_edges())
    export(g, "json", tmp_path / "g.json")
    data = json.loads((tmp_path / "g.json").read_text())
    assert len(data["nodes"]) == g.number_of_nodes() and len(data["edges"]) == g.number_of_edges()
    export(g, "dot", tmp_path / "g.dot")
    dot = (tmp_path / "g.dot").read_text()
    edges = [ln for ln in dot.splitlines() if re.match(r"\s+\d+ -> \d+ \[", ln)]
    assert dot.startswith("digraph") and len(edges) == g.number_of_edges()
    assert "color=red" in dot  # the violating state stands out


def test_trace_neighbourhood_holds_the_whole_trace() -> None:
    rep = build("odirect-swap", "page-count", trace=str(TRACE), radius=0)
    steps = len(replay_file(TRACE).trace)
    assert rep.shown.number_of_nodes() == steps + 1  # radius 0: the trace's states only
    assert nx.is_weakly_connected(rep.shown)
    wider = build("odirect-swap", "page-count", trace=str(TRACE), radius=1)
    assert steps + 1 < wider.shown.number_of_nodes() < wider.sg.graph.number_of_nodes()


@pytest.mark.parametrize("f", LITMUS, ids=[f.stem for f in LITMUS])
def test_no_litmus_scenario_can_run_forever(f: Path) -> None:
    """No GUP retry loop and no fault that never progresses: every run ends."""
    for rule in ("page-count", "anon-exclusive"):
        assert build(str(f), rule).lasso is None


class Retry:
    """A gup-fast that fails its re-check while a racing fork keeps the seqcount odd,
    modelled as going back to its start: a livelock."""

    def capabilities(self) -> Capabilities[str, str]:
        return Capabilities()

    def init_states(self) -> Sequence[str]:
        return ("start",)

    def actions(self, state: str) -> list[str]:
        return {"start": ["grab"], "grabbed": ["recheck-fails", "recheck-ok"], "done": []}[state]

    def next_step(self, state: str, action: str) -> Step[str] | None:
        nxt = {"grab": "grabbed", "recheck-fails": "start", "recheck-ok": "done"}[action]
        return Step(nxt)

    def canonical(self, state: str) -> str:
        return state

    def invariants(self) -> Sequence[Invariant[str]]:
        return ()

    def transition_checks(self) -> Sequence[TransitionCheck[str, str]]:
        return ()


def test_a_retry_loop_is_reported_as_a_lasso() -> None:
    sg = state_graph(Retry(), edge_label=lambda s, a: a)
    lasso = find_lasso(sg)
    assert lasso is not None
    labels = [sg.graph.edges[u, v]["label"] for u, v in zip(lasso.cycle, lasso.cycle[1:], strict=False)]
    assert sorted(labels) == ["grab", "recheck-fails"]
    # Only cycles through a qualifying edge count, when asked.
    assert find_lasso(sg, lambda g, u, v: g.edges[u, v]["label"] == "never") is None


def test_graph_cli_and_bad_format(tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    p = subprocess.run(
        [sys.executable, "-m", "cowcheck", "graph", "odirect-swap", "-r", "page-count", "-f", "json", "-o", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert p.returncode == 0 and "livelock: none" in p.stdout and out.is_file()
    p = subprocess.run(
        [sys.executable, "-m", "cowcheck", "graph", "odirect-swap", "-r", "page-count", "-f", "png"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 2 and "--format" in p.stderr and "Traceback" not in p.stderr


def test_a_capped_graph_keeps_the_transitions_of_the_states_it_has() -> None:
    """--max-states refuses new states but the walk goes on through the stored ones
    (their edges, stuck marks and coverage), and a graph with exactly the cap's
    number of states is complete: gup-fast-fork has 76 states and 108 transitions."""
    m = build_model("gup-fast-fork", "anon-exclusive")
    for cap, complete, nodes, edges in ((20, False, 20, 22), (76, True, 76, 108), (None, True, 76, 108)):
        sg = state_graph(m, cap)
        assert (sg.complete, sg.graph.number_of_nodes(), sg.graph.number_of_edges()) == (complete, nodes, edges)
        assert sg.covered - {-1} == set(range(len(m.capabilities().coverage_goals)))


def test_a_complete_walk_is_not_a_violation() -> None:
    """The walk records what its moves cover: no false "unreached"."""
    from cowcheck.engine.graph import GraphVisitor

    m = build_model("gup-fast-fork", "anon-exclusive")
    r = explore(m, SearchOptions(subsume=False), visitor=GraphVisitor(m))
    assert r.verdict.value == "holds" and r.stats.states == 76
