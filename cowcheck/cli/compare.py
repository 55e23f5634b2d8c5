"""``cowcheck compare``: where two rules decide do_wp_page differently."""

from __future__ import annotations

import argparse
import json

from cowcheck.cli.args import RULE_HELP, Command, add_output, add_paths, integer
from cowcheck.cli.console import out, tally
from cowcheck.errors import InputError
from cowcheck.input.rule_files import load_rule
from cowcheck.report.diagram import render_trace

SPEC = " A --reuse rule is written BASE+reuse(EXPR), e.g. 'page-count+reuse(mapcount == 1)'."


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help=RULE_HELP + SPEC)
    p.add_argument("b", metavar="B", help="The rule to compare A with, given as A is.")
    add_paths(p)
    p.add_argument("--max-states", type=integer, metavar="N", help="Per walk: stop after N states (incomplete).")
    add_output(p)


def run(a: argparse.Namespace) -> int:
    from cowcheck.synth.compare import compare

    ra, rb = load_rule(a.a), load_rule(a.b)
    if a.max_states is not None and a.max_states < 1:
        raise InputError("--max-states", None, f"expected a positive integer, got {a.max_states}")
    with tally(not (a.quiet or a.as_json), "walks") as line:
        walks = [0]

        def walked(_h: object) -> None:
            walks[0] += 1
            if line is not None:
                line.tally(walks[0])

        c = compare(ra, rb, a.paths or None, max_states=a.max_states, on_walk=walked)
    code = 3 if not c.complete and not c.only_where("a") else (1 if c.only_where("a") else 0)
    if a.as_json:
        print(json.dumps(c.to_json(), indent=2))
        return code
    out.print(c.text())
    first = c.differences[0] if c.differences else None
    if first is not None:
        h = first.witness
        title = f"{h.scenario.name} under {h.rule.name}: the last step reaches do_wp_page with {first.seen.describe()}"
        out.print()
        out.print(render_trace(h.trace(first.seen), title, 100))
    out.print(f"{len(c.harvests)} walks, {sum(h.states for h in c.harvests):,} states, {c.seconds:.1f}s")
    return code


COMPARE = Command(
    arguments,
    run,
    "Both rules run on every scenario, every state and transition explored; every "
    "bookkeeping state that reaches do_wp_page is then decided by both. Exit 0 if A "
    "reuses only where B does (A is at least as strict), 1 if A reuses somewhere B "
    "copies (each such state shown with a shortest trace that reaches it), 3 if a "
    "bound cut a walk short and nothing else was found. Where both decisions are "
    "formulas (a --reuse rule, a built-in rule), z3 then answers for every bookkeeping "
    "state that meets the model's invariants, counters of any size.",
)
