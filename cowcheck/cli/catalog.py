"""``cowcheck catalog``, ``verify`` and ``matrix``: many checks, the bundled catalog's
or a project's own."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport
from cowcheck.checks.catalog import CatalogRow, run_catalog
from cowcheck.checks.matrix import FORMATS, run_matrix
from cowcheck.checks.verify import verify
from cowcheck.cli.args import RULE_HELP, Command, add_bounds, add_output, add_paths, add_search, search_flags
from cowcheck.cli.console import cut, err, interrupted, out, output_dir, tally, write
from cowcheck.cli.helptext import CELL_WORKERS_HELP, REUSE_HELP, STRICT_HELP
from cowcheck.cli.options import DEFAULT_CELL_WORKERS, search_options
from cowcheck.engine import SearchOptions, Verdict
from cowcheck.engine.signals import Interrupted, stop_requested
from cowcheck.families import FAMILY_NAMES, family, load_any_rule

PER = "Per cell: "


def _many(p: argparse.ArgumentParser) -> None:
    """What every verb of many checks takes: per-cell bounds, the search, the output."""
    add_bounds(p, PER)
    add_search(p, CELL_WORKERS_HELP, DEFAULT_CELL_WORKERS)


def _options(a: argparse.Namespace) -> SearchOptions:
    return search_options(**search_flags(a))


def _save_dir(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--save-dir",
        type=Path,
        metavar="DIR",
        help="Write every counterexample to DIR (JSON), once every cell is done.",
    )


PATHS_HELP = (
    "Scenario files (.toml, each with the verdicts it expects), rule files (.py; their "
    "verdicts in a module-level EXPECT = {scenario: verdict}) and directories of both (one "
    "level). Default: the bundled catalog under the built-in rules."
)


def _family(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--family",
        choices=FAMILY_NAMES,
        help="Only this model family's scenarios and rules (default: every family, each "
        "scenario under its own family's rules).",
    )


def catalog_arguments(p: argparse.ArgumentParser) -> None:
    add_paths(p, PATHS_HELP)
    p.add_argument("-r", "--rule", action="append", metavar="RULE", help="Only this rule (repeatable).")
    _family(p)
    _many(p)
    add_output(p)


def catalog(a: argparse.Namespace) -> int:
    options = _options(a)
    rows: list[CatalogRow] = []
    with tally(not (a.quiet or a.as_json), "cells") as line, contextlib.suppress(Interrupted):
        # A signal: report the rows finished.
        done = line.tally if line is not None else None
        run_catalog(
            a.rule, options=options, on_row=rows.append, paths=a.paths or None, on_done=done, family_name=a.family
        )
    bad = [r for r in rows if not r.ok]
    if a.as_json:
        doc = [
            {
                "scenario": r.scenario,
                "rule": r.rule,
                "strict": r.strict,
                "expected": r.expected,
                "got": r.got,
                "ok": r.ok,
                **r.report.to_json()["stats"],
            }
            for r in rows
        ]
        print(json.dumps(doc, indent=2))
    else:
        out.table(
            ("scenario", "rule", "expected", "got", "steps", "states", "seconds"), [_catalog_row(r) for r in rows]
        )
        if stop_requested() is None:
            out.print(f"{len(rows) - len(bad)} of {len(rows)} verdicts as expected")
    if stop_requested() is not None:
        interrupted(sum(not cut(r.report) for r in rows), "cells", to_stderr=a.as_json)
        return 3
    return 1 if bad else 0


def _catalog_row(r: CatalogRow) -> tuple[str, ...]:
    name = r.scenario + (" (--strict)" if r.strict else "")
    steps = str(len(r.report.trace)) if r.report.trace else "-"
    got = "interrupted" if cut(r.report) else r.got if r.ok else f"{r.got}  MISMATCH"
    states, secs = f"{r.report.stats.states:,}", f"{r.report.stats.seconds:.2f}"
    return (name, r.rule, r.expected or "-", got, steps, states, secs)


def verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rule", metavar="RULE", help=f"{RULE_HELP} With --reuse: the base rule.")
    add_paths(p)
    p.add_argument("--reuse", metavar="EXPR", help=REUSE_HELP)
    p.add_argument("-s", "--scenario", action="append", metavar="SCENARIO", help="Only this scenario (repeatable).")
    p.add_argument("--strict", action=argparse.BooleanOptionalAction, default=False, help=STRICT_HELP)
    _many(p)
    g = add_output(p)
    _save_dir(g)


def verify_cmd(a: argparse.Namespace) -> int:
    from cowcheck.checks.saved_trace import save
    from cowcheck.report.diagram import render_columns

    r = load_any_rule(a.rule, a.reuse)
    options = _options(a)
    save_dir: Path | None = a.save_dir
    if save_dir is not None:
        output_dir("--save-dir", save_dir, create=True)
    runs: list[CheckReport] = []
    try:
        picked = [*a.paths, *(a.scenario or [])] or None
        with tally(not (a.quiet or a.as_json), "runs") as line:

            def ran(rep: CheckReport) -> None:
                runs.append(rep)
                if line is not None:
                    line.tally(len(runs))

            v = verify(r, picked, strict=a.strict, options=options, on_run=ran)
    except Interrupted:
        for rep in runs:
            out.print(rep.summary())
        interrupted(sum(not cut(rep) for rep in runs), "runs", to_stderr=a.as_json)
        return 3
    stopped = stop_requested() is not None
    if save_dir is not None and not stopped:
        write("--save-dir", save_dir, lambda: save_dir.mkdir(parents=True, exist_ok=True))
        for rep in v.violations:
            prop = rep.trace.property_id if rep.trace is not None else "violation"
            f = save_dir / f"{rep.scenario.name}--{prop}.json"
            write("--save-dir", f, lambda: save(rep, f))  # noqa: B023 (called at once)
    if a.as_json:
        print(json.dumps(v.to_json(), indent=2, ensure_ascii=False))
        if stopped:
            interrupted(sum(not cut(rep) for rep in v.runs), "runs", to_stderr=True)
            return 3
        return v.verdict.exit_code
    out.print(v.text())
    every = [*v.runs, *v.base_runs]  # v.seconds counts the base rule's runs too
    states = sum(rep.stats.states for rep in every)
    out.print(f"{len(every)} runs, {states:,} states, {v.seconds:.1f}s")
    first = v.shortest()
    if first is not None and first.trace is not None:
        out.print()
        out.print(render_columns(first.trace, f"shortest counterexample: {first.scenario.name}"))
        out.print(first.summary())
    if stopped:
        interrupted(sum(not cut(rep) for rep in v.runs), "runs")
        return 3
    verdict = {Verdict.HOLDS: "holds", Verdict.VIOLATED: "violated", Verdict.INCOMPLETE: "incomplete"}[v.verdict]
    bad = len({s for (s, _p), c in v.cells.items() if c.verdict is Verdict.VIOLATED})
    out.print(f"{verdict}: {r.name}: {bad} of {len(v.scenarios)} scenarios violate a property")
    return v.verdict.exit_code


def matrix_arguments(p: argparse.ArgumentParser) -> None:
    add_paths(p, PATHS_HELP)
    p.add_argument("-r", "--rule", action="append", metavar="RULE", help="Only this rule (repeatable).")
    _family(p)
    p.add_argument("--reuse", metavar="EXPR", help="Add a column: --base with this reuse decision. " + REUSE_HELP)
    p.add_argument(
        "--base", default="anon-exclusive", metavar="RULE", help="The base rule of --reuse. Default: anon-exclusive."
    )
    p.add_argument(
        "--check",
        dest="check_expected",
        action="store_true",
        help="Exit 1 if a cell differs from what its scenario file expects.",
    )
    _many(p)
    g = add_output(p)
    g.add_argument(
        "-f",
        "--format",
        dest="fmt",
        default="text",
        choices=FORMATS,
        help="text, md (markdown) or json (as --json). Default: text.",
    )
    _save_dir(g)


def matrix(a: argparse.Namespace) -> int:
    from cowcheck.checks.saved_trace import save

    fmt = "json" if a.as_json else a.fmt
    rules: list[Any] | None = list(a.rule) if a.rule else None
    if a.reuse is not None:
        # A --reuse column is the anon family's (it replaces do_wp_page()).
        rules = [
            *(rules or (family(f).builtin_rules()[n] for f in FAMILY_NAMES for n in family(f).builtin_names())),
            load_any_rule(a.base, a.reuse),
        ]
    save_dir: Path | None = a.save_dir
    if save_dir is not None:
        output_dir("--save-dir", save_dir, create=True)
    options = _options(a)
    rows: list[CatalogRow] = []
    try:
        with tally(not (a.quiet or fmt == "json"), "cells") as line:
            done = line.tally if line is not None else None
            m = run_matrix(
                rules, options=options, on_row=rows.append, paths=a.paths or None, on_done=done, family_name=a.family
            )
    except Interrupted:
        interrupted(sum(not cut(r.report) for r in rows), "cells", to_stderr=True)
        return 3
    stopped = stop_requested() is not None
    if save_dir is not None and not stopped:
        # Written once every cell is done: a run that fails writes nothing.
        write("--save-dir", save_dir, lambda: save_dir.mkdir(parents=True, exist_ok=True))
        for row in rows:
            if row.report.trace is not None:
                f = save_dir / f"{row.scenario}--{row.rule}{'--strict' if row.strict else ''}.json"
                write("--save-dir", f, lambda: save(row.report, f))  # noqa: B023 (called at once)
    print(m.render(fmt))
    if fmt != "json" and not a.quiet:
        states = sum(c.states for c in m.cells.values())
        err.print(f"{len(m.cells)} cells, {states:,} states, {m.seconds:.1f}s wall")
    if stopped:
        interrupted(sum(not cut(r.report) for r in rows), "cells", to_stderr=True)
        return 3
    bad = m.mismatches
    for c in bad:
        err.print(f"differs from the scenario file: {c.scenario} under {c.rule}: expected {c.expected}, got {c.got}")
    return 1 if a.check_expected and bad else 0


CATALOG = Command(
    catalog_arguments,
    catalog,
    "Exit 0 if every verdict matches its scenario file, 1 otherwise.",
)
VERIFY = Command(
    verify_arguments,
    verify_cmd,
    "Exit 0 if every property holds everywhere, 1 on any violation, 3 if a bound cut a "
    "run short and nothing was violated.",
)
MATRIX = Command(
    matrix_arguments,
    matrix,
    "✓ holds, ✗ property (counterexample length), ? incomplete.",
)
