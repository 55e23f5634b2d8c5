"""``cowcheck graph``: the explored state graph, exported, and what it shows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cowcheck.cli.console import out, output_file, write
from cowcheck.cli.helptext import STRICT_HELP
from cowcheck.cli.options import search_options
from cowcheck.errors import InputError


def graph_cmd(
    scenario: Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled one.")],
    rule: Annotated[str, typer.Option("--rule", "-r", help="A built-in rule or a path to a rule file.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="dot, graphml or json.")] = "dot",
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the graph.")] = Path(
        "cowcheck-graph.dot"
    ),
    trace: Annotated[Path | None, typer.Option(help="Export only this trace's neighbourhood.")] = None,
    radius: Annotated[int, typer.Option(help="Steps around the trace to keep.")] = 1,
    max_states: Annotated[int | None, typer.Option(help="Stop exploring after this many states.")] = None,
    strict: Annotated[bool, typer.Option(help=STRICT_HELP)] = False,
) -> None:
    """Export the explored state graph (or a counterexample's neighbourhood) and report
    livelocks (a reachable cycle, as a lasso), stuck end states, steps that run on no
    path, and the longest run; exit 1 if there is any of the first three."""
    # Here, not at the top: networkx is the heaviest import, and only this verb needs it.
    from cowcheck.report.graph import FORMATS as GRAPH_FORMATS
    from cowcheck.report.graph import build as build_graph
    from cowcheck.report.graph import export as export_graph

    if radius < 0:
        raise InputError("--radius", None, f"expected a number of steps >= 0, got {radius}")
    # The graph is the full state space (no subsumption, no reduction): only its bound
    # is an option here.
    options = search_options(max_states=max_states)
    if fmt not in GRAPH_FORMATS:
        raise InputError("--format", None, f"unknown format {fmt!r} (expected one of: {', '.join(GRAPH_FORMATS)})")
    output_file("--output", output)
    rep = build_graph(scenario, rule, None, strict, options.bounds.max_states, str(trace) if trace else None, radius)
    write("--output", output, lambda: export_graph(rep.shown, fmt, output))
    out.print(rep.summary(), markup=False)
    out.print(f"wrote {output}", markup=False)
    raise typer.Exit(1 if rep.failed else 0)
