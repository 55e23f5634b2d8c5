"""``cowcheck catalog``, ``verify`` and ``matrix``: many checks, the bundled catalog's."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cowcheck.api import CheckReport
from cowcheck.checks.catalog import CatalogRow, run_catalog
from cowcheck.checks.matrix import FORMATS, run_matrix
from cowcheck.checks.saved_trace import save
from cowcheck.checks.verify import verify
from cowcheck.cli.console import cut, err, interrupted, out, output_dir, write
from cowcheck.cli.helptext import CELL_WORKERS_HELP, REUSE_HELP, STRICT_HELP
from cowcheck.cli.options import DEFAULT_CELL_WORKERS, search_options
from cowcheck.engine import Verdict
from cowcheck.engine.signals import Interrupted, stop_requested
from cowcheck.errors import InputError
from cowcheck.input.rule_files import builtin_rules, load_rule
from cowcheck.mm.rule import Rule
from cowcheck.report.diagram import render_columns


def catalog_cmd(
    rule: Annotated[list[str] | None, typer.Option("--rule", "-r", help="Only these rules (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    workers: Annotated[int, typer.Option("--workers", "-j", help=CELL_WORKERS_HELP)] = DEFAULT_CELL_WORKERS,
) -> None:
    """Run every bundled scenario under every rule and compare with the expected verdicts.

    Exit 0 if every verdict matches its scenario file, 1 otherwise."""
    options = search_options(workers=workers)
    table = Table("scenario", "rule", "expected", "got", "steps", "states", "seconds")
    rows: list[CatalogRow] = []

    def row_out(r: CatalogRow) -> None:
        rows.append(r)
        if as_json:
            return
        name = r.scenario + (" (--strict)" if r.strict else "")
        steps = str(len(r.report.trace)) if r.report.trace else "-"
        got = "interrupted" if cut(r.report) else r.got if r.ok else f"{r.got}  MISMATCH"
        table.add_row(
            name,
            r.rule,
            r.expected or "-",
            got,
            steps,
            f"{r.report.stats.states:,}",
            f"{r.report.stats.seconds:.2f}",
        )

    with contextlib.suppress(Interrupted):  # a signal: report the rows finished
        run_catalog(rule or None, options=options, on_row=row_out)
    bad = [r for r in rows if not r.ok]
    if as_json:
        print(
            json.dumps(
                [
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
                ],
                indent=2,
            )
        )
    elif stop_requested() is None:
        out.print(table)
        out.print(f"{len(rows) - len(bad)} of {len(rows)} verdicts as expected", markup=False)
    else:
        out.print(table)
    if stop_requested() is not None:
        interrupted(sum(not cut(r.report) for r in rows), "cells", to_stderr=as_json)
        raise typer.Exit(3)
    raise typer.Exit(1 if bad else 0)


def verify_cmd(
    rule: Annotated[str, typer.Argument(help="A built-in rule, a rule file, or the base rule of --reuse.")],
    reuse: Annotated[str | None, typer.Option("--reuse", help=REUSE_HELP)] = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", "-s", help="Only these scenarios (repeatable).")
    ] = None,
    strict: Annotated[bool, typer.Option(help=STRICT_HELP)] = False,
    max_states: Annotated[int | None, typer.Option(help="Per run: stop after this many states.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Per run: stop after this many seconds.")] = None,
    save_dir: Annotated[Path | None, typer.Option("--save-dir", help="Write every counterexample here.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check one rule against the whole catalog: a table of properties x scenarios.

    Exit 0 if every property holds everywhere, 1 on any violation, 3 if a bound cut a
    run short and nothing was violated."""
    r = load_rule(rule, reuse)
    options = search_options(max_states=max_states, timeout=timeout)
    if save_dir is not None:
        output_dir("--save-dir", save_dir, create=True)
    runs: list[CheckReport] = []
    try:
        v = verify(r, scenario or None, strict=strict, options=options, on_run=runs.append)
    except Interrupted:
        for rep in runs:
            out.print(rep.summary(), markup=False)
        interrupted(sum(not cut(rep) for rep in runs), "runs", to_stderr=as_json)
        raise typer.Exit(3) from None
    stopped = stop_requested() is not None
    if save_dir is not None and not stopped:
        write("--save-dir", save_dir, lambda: save_dir.mkdir(parents=True, exist_ok=True))
        for rep in v.violations:
            prop = rep.trace.property_id if rep.trace is not None else "violation"
            f = save_dir / f"{rep.scenario.name}--{prop}.json"
            write("--save-dir", f, lambda: save(rep, f))  # noqa: B023 (called at once)
    if as_json:
        print(json.dumps(v.to_json(), indent=2, ensure_ascii=False))
        if stopped:
            interrupted(sum(not cut(rep) for rep in v.runs), "runs", to_stderr=True)
            raise typer.Exit(3)
        raise typer.Exit(v.verdict.exit_code)
    out.print(f"cowcheck verify: {r.describe()}", markup=False)
    out.print(v.text(), markup=False)
    states = sum(rep.stats.states for rep in v.runs)
    out.print(f"{len(v.runs)} runs, {states:,} states, {v.seconds:.1f}s", markup=False)
    first = v.shortest()
    if first is not None and first.trace is not None:
        out.print()
        out.print(render_columns(first.trace, f"shortest counterexample: {first.scenario.name}"), markup=False)
        out.print(first.summary(), markup=False)
    if stopped:
        interrupted(sum(not cut(rep) for rep in v.runs), "runs")
        raise typer.Exit(3)
    verdict = {Verdict.HOLDS: "holds", Verdict.VIOLATED: "violated", Verdict.INCOMPLETE: "incomplete"}[v.verdict]
    bad = len({s for (s, _p), c in v.cells.items() if c.verdict is Verdict.VIOLATED})
    out.print(f"{verdict}: {r.name}: {bad} of {len(v.scenarios)} scenarios violate a property", markup=False)
    raise typer.Exit(v.verdict.exit_code)


def matrix_cmd(
    rule: Annotated[list[str] | None, typer.Option("--rule", "-r", help="Only these rules (repeatable).")] = None,
    reuse: Annotated[str | None, typer.Option("--reuse", help="Add a column: --base with this reuse rule.")] = None,
    base: Annotated[str, typer.Option("--base", help="The base rule of --reuse.")] = "anon-exclusive",
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, md or json.")] = "text",
    check_expected: Annotated[
        bool, typer.Option("--check", help="Exit 1 if a cell differs from the scenario files.")
    ] = False,
    save_dir: Annotated[Path | None, typer.Option("--save-dir", help="Save every counterexample here.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", help=CELL_WORKERS_HELP)] = DEFAULT_CELL_WORKERS,
) -> None:
    """Print the history: rules x scenarios, ✓ holds, ✗ property (counterexample length), ? incomplete."""
    if fmt not in FORMATS:
        raise InputError("--format", None, f"unknown format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    rules: list[Rule | str] = list(rule) if rule else list(builtin_rules())
    if reuse is not None:
        rules.append(load_rule(base, reuse))

    if save_dir is not None:
        output_dir("--save-dir", save_dir, create=True)
    options = search_options(workers=workers)
    rows: list[CatalogRow] = []
    try:
        m = run_matrix(rules, options=options, on_row=rows.append)
    except Interrupted:
        interrupted(sum(not cut(r.report) for r in rows), "cells", to_stderr=True)
        raise typer.Exit(3) from None
    stopped = stop_requested() is not None
    if save_dir is not None and not stopped:
        # Written once every cell is done: a run that fails writes nothing.
        write("--save-dir", save_dir, lambda: save_dir.mkdir(parents=True, exist_ok=True))
        for row in rows:
            if row.report.trace is not None:
                f = save_dir / f"{row.scenario}--{row.rule}{'--strict' if row.strict else ''}.json"
                write("--save-dir", f, lambda: save(row.report, f))  # noqa: B023 (called at once)
    print(m.render(fmt))
    if fmt != "json":
        states = sum(c.states for c in m.cells.values())
        err.print(f"{len(m.cells)} cells, {states:,} states, {m.seconds:.1f}s wall", markup=False)
    if stopped:
        interrupted(sum(not cut(r.report) for r in rows), "cells", to_stderr=True)
        raise typer.Exit(3)
    bad = m.mismatches
    for c in bad:
        err.print(f"differs from the scenario file: {c.scenario} under {c.rule}: expected {c.expected}, got {c.got}")
    raise typer.Exit(1 if check_expected and bad else 0)
