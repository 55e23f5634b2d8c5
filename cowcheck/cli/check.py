"""``cowcheck check``: one scenario under one rule."""

from __future__ import annotations

import argparse
from pathlib import Path

from cowcheck.api import CheckReport, check
from cowcheck.cli.args import SCENARIO_HELP, Command, add_bounds, add_output, add_rule_args, add_search, search_flags
from cowcheck.cli.console import out, output_file, progress, write
from cowcheck.cli.options import search_options
from cowcheck.families import load_any_rule


def print_report(rep: CheckReport) -> None:
    if rep.trace is not None:
        from cowcheck.report.diagram import render_columns

        title = f"cowcheck: {rep.scenario.name} under {rep.rule.name}" + (" (--strict)" if rep.strict else "")
        out.print(render_columns(rep.trace, title))
        out.print()
    out.print(rep.summary())
    n = rep.stats.transitions
    metrics = ", ".join(f"{k} in {v} of {n} explored transitions" for k, v in rep.metrics.items())
    if metrics:
        out.print(f"metrics: {metrics}")


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help=SCENARIO_HELP)
    add_rule_args(p)
    add_bounds(p)
    add_search(p)
    g = add_output(p)
    g.add_argument(
        "--save",
        dest="save_to",
        type=Path,
        metavar="FILE",
        help="Write the counterexample to FILE (JSON), for replay, show and the gate.",
    )


def run(a: argparse.Namespace) -> int:
    if a.save_to is not None:
        output_file("--save", a.save_to, make_parents=True)
    options = search_options(**search_flags(a))
    chatty = not (a.quiet or a.as_json)
    r = load_any_rule(a.rule, a.reuse)
    with progress(chatty) as line:
        rep = check(a.scenario, r, a.prop, form=a.form, strict=a.strict, options=options, progress=line)
    if a.save_to is not None and rep.trace is not None:
        from cowcheck.checks.saved_trace import save

        write("--save", a.save_to, lambda: save(rep, a.save_to))
    if a.as_json:
        import json

        print(json.dumps(rep.to_json(), indent=2))
    else:
        print_report(rep)
        if a.save_to is not None and rep.trace is not None:
            out.print(f"counterexample saved to {a.save_to}")
    return rep.exit_code


CHECK = Command(
    arguments,
    run,
    "'holds' comes with the bounds and the state count; a violation with the shortest "
    "counterexample, drawn one column per actor, and the command that reproduces it.",
)
