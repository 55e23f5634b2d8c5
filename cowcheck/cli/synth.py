"""``cowcheck synth``: the weakest safe write-fault decision, or the proof there is none."""

from __future__ import annotations

import argparse
import json

from cowcheck.cli.args import RULE_HELP, Command, add_output, add_paths, add_search, search_flags
from cowcheck.cli.console import out, tally
from cowcheck.cli.helptext import CELL_WORKERS_HELP
from cowcheck.cli.options import DEFAULT_CELL_WORKERS, search_options
from cowcheck.errors import InputError
from cowcheck.input.rule_files import builtin_rules, load_rule


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", metavar="BASE", help=f"The rule whose other hooks stay. {RULE_HELP}")
    add_paths(
        p,
        "Scenario files and directories of them (one level). Default: the bundled catalog but "
        "open-large (the result is re-verified on it).",
    )
    p.add_argument(
        "--features",
        metavar="NAMES",
        help="Comma-separated bookkeeping the decision may read (default: all that --reuse knows: "
        "refcount, mapcount, pincount, maybe_dma_pinned, exclusive, swapcache, swapcount, locked, unshare).",
    )
    p.add_argument(
        "--hole",
        default="do_wp_page",
        metavar="HOOKS",
        help="Comma-separated hooks to synthesise together: do_wp_page, gup_must_unshare, fork_present, "
        "do_swap_page. "
        "Default: do_wp_page.",
    )
    p.add_argument(
        "--no-eras",
        dest="eras",
        action="store_false",
        help="Skip the unnecessary-COW comparison with every built-in rule.",
    )
    add_search(p, CELL_WORKERS_HELP, DEFAULT_CELL_WORKERS)
    add_output(p)


def run(a: argparse.Namespace) -> int:
    from cowcheck.synth.cegis import reverify, synthesise, unnecessary_cows

    base = load_rule(a.base)
    names = _names("--features", a.features) if a.features is not None else None
    options = search_options(**search_flags(a))
    with tally(not (a.quiet or a.as_json), "rounds") as line:
        at = _names("--hole", a.hole)
        s = synthesise(base, names, a.paths or None, holes=at, on_round=lambda r, _c: line.tally(r) if line else None)
        if s.safe:
            reverify(s, options)
            if a.eras:
                unnecessary_cows(s, list(builtin_rules()), options)
    if s.incomplete is not None:
        code = 3
    elif s.safe and s.verified and all(v == "holds" for v in s.verified.values()):
        code = 0
    else:
        code = 1
    if a.as_json:
        print(json.dumps(s.to_json(), indent=2))
        return code
    out.print(s.text())
    if s.table is None:  # the proof: each conflicting counterexample, drawn
        from cowcheck.report.diagram import render_trace

        for c in s.core:
            if c.report.trace is not None:
                out.print()
                out.print(render_trace(c.report.trace, f"{c.scenario} under the table {s.base.name} + holes", 100))
    return code


def _names(option: str, text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(option, None, f"expected comma-separated names, got {text!r}")
    return names


SYNTH = Command(
    arguments,
    run,
    "Counterexample-guided synthesis: BASE with do_wp_page as a table over the chosen "
    "features, unseen entries reused; every counterexample forbids the table's decisions "
    "along its trace, and z3 proposes the table with the most reuses that no counterexample "
    "forbids, until every scenario holds. Then the smallest --reuse expression that agrees "
    "with the table, re-verified on the whole catalog, and the unnecessary copies of it and "
    "of each built-in rule. Exit 0 with a safe table whose expression holds everywhere, 1 "
    "when no table is safe (UNSAT, with the conflicting counterexamples) or the expression "
    "fails somewhere.",
)
