"""``cowcheck check``: one scenario under one rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cowcheck.api import CheckReport, check
from cowcheck.checks.saved_trace import save
from cowcheck.cli.console import err, out, output_file, progress, write
from cowcheck.cli.helptext import (
    DASK_HELP,
    MAX_MEMORY_HELP,
    POR_HELP,
    REUSE_HELP,
    STORE_HELP,
    STRICT_HELP,
    SUBSUME_HELP,
    WORKERS_HELP,
)
from cowcheck.cli.options import search_options
from cowcheck.input.rule_files import load_rule
from cowcheck.report.diagram import render_columns


def print_report(rep: CheckReport) -> None:
    if rep.trace is not None:
        title = f"cowcheck: {rep.scenario.name} under {rep.rule.name}" + (" (--strict)" if rep.strict else "")
        out.print(render_columns(rep.trace, title), markup=False)
        out.print()
    out.print(rep.summary(), markup=False)
    n = rep.stats.transitions
    metrics = ", ".join(f"{k} in {v} of {n} explored transitions" for k, v in rep.metrics.items())
    if metrics:
        out.print(f"metrics: {metrics}", markup=False)


def check_cmd(
    scenario: Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled one.")],
    rule: Annotated[str, typer.Option("--rule", "-r", help="A built-in rule or a path to a rule file.")],
    reuse: Annotated[str | None, typer.Option("--reuse", help=REUSE_HELP)] = None,
    prop: Annotated[list[str] | None, typer.Option("--property", "-p", help="Check only these (repeatable).")] = None,
    form: Annotated[str, typer.Option(help="observational (ground truth) or structural.")] = "observational",
    strict: Annotated[bool, typer.Option(help=STRICT_HELP)] = False,
    max_states: Annotated[int | None, typer.Option(help="Stop after this many states: incomplete.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Do not explore deeper: incomplete.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds: incomplete.")] = None,
    max_memory: Annotated[int | None, typer.Option(help=MAX_MEMORY_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report on stdout.")] = False,
    save_to: Annotated[Path | None, typer.Option("--save", help="Write the counterexample here (JSON).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    workers: Annotated[int, typer.Option("--workers", "-j", help=WORKERS_HELP)] = 1,
    store: Annotated[str, typer.Option("--store", help=STORE_HELP)] = "exact",
    symmetry: Annotated[bool, typer.Option(help="Process symmetry in open scenarios (off by default).")] = False,
    dask: Annotated[str | None, typer.Option("--dask", help=DASK_HELP)] = None,
    por: Annotated[bool, typer.Option("--por", help=POR_HELP)] = False,
    subsume: Annotated[bool, typer.Option(help=SUBSUME_HELP)] = True,
) -> None:
    """Check a scenario under a rule: 'holds' with the figures, or a minimal counterexample."""
    if save_to is not None:
        output_file("--save", save_to, make_parents=True)
    options = search_options(
        max_states=max_states,
        max_depth=max_depth,
        timeout=timeout,
        max_memory=max_memory,
        store=store,
        symmetry=symmetry,
        por=por,
        subsume=subsume,
        workers=workers,
        dask=dask,
    )
    chatty = not (quiet or as_json)
    r = load_rule(rule, reuse)
    rep = check(scenario, r, prop or None, form=form, strict=strict, options=options, progress=progress(chatty))
    if err.is_terminal and chatty:
        err.print("\r" + " " * 70 + "\r", end="")
    if save_to is not None and rep.trace is not None:
        write("--save", save_to, lambda: save(rep, save_to))
    if as_json:
        print(json.dumps(rep.to_json(), indent=2))
    else:
        print_report(rep)
        if save_to is not None and rep.trace is not None:
            out.print(f"counterexample saved to {save_to}", markup=False)
    raise typer.Exit(rep.exit_code)
