"""``cowcheck graph``: the explored state graph, exported, and what it shows."""

from __future__ import annotations

import argparse
from pathlib import Path

from cowcheck.cli.args import RULE_HELP, SCENARIO_HELP, Command, integer
from cowcheck.cli.console import out, output_file, write
from cowcheck.cli.helptext import STRICT_HELP
from cowcheck.cli.options import search_options
from cowcheck.errors import InputError

FORMATS = ("dot", "graphml", "json")  # report.graph.FORMATS (tests/test_cli.py), listed here without networkx


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help=SCENARIO_HELP)
    p.add_argument("-r", "--rule", required=True, metavar="RULE", help=RULE_HELP)
    p.add_argument("--strict", action=argparse.BooleanOptionalAction, default=False, help=STRICT_HELP)
    p.add_argument(
        "--max-states", type=integer, metavar="N", help="Stop exploring after N states (the graph is then partial)."
    )
    g = p.add_argument_group("output")
    g.add_argument("-f", "--format", dest="fmt", default="dot", choices=FORMATS, help="Default: dot.")
    g.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("cowcheck-graph.dot"),
        metavar="FILE",
        help="Where to write the graph. Default: cowcheck-graph.dot.",
    )
    g.add_argument("--trace", type=Path, metavar="TRACE", help="Export only this saved trace's neighbourhood.")
    g.add_argument("--radius", type=integer, default=1, metavar="N", help="Steps around the trace to keep. Default: 1.")


def run(a: argparse.Namespace) -> int:
    # Here, not at the top: networkx is the heaviest import, and only this verb needs it.
    from cowcheck.report.graph import build as build_graph
    from cowcheck.report.graph import export as export_graph

    if a.radius < 0:
        raise InputError("--radius", None, f"expected a number of steps >= 0, got {a.radius}")
    # The graph is the full state space (no subsumption, no reduction): only its bound
    # is an option here.
    options = search_options(max_states=a.max_states)
    output: Path = a.output
    output_file("--output", output)
    trace = str(a.trace) if a.trace else None
    rep = build_graph(a.scenario, a.rule, None, a.strict, options.bounds.max_states, trace, a.radius)
    write("--output", output, lambda: export_graph(rep.shown, a.fmt, output))
    out.print(rep.summary())
    out.print(f"wrote {output}")
    return 1 if rep.failed else 0


GRAPH = Command(
    arguments,
    run,
    "It reports livelocks (a reachable cycle, as a lasso), stuck end states, steps that "
    "run on no path, and the longest run; exit 1 if there is any of the first three.",
)
