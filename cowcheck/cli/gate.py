"""``cowcheck init``, ``gate`` and ``report``: the CI gate, its files and its page."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cowcheck.checks.catalog import run_catalog
from cowcheck.checks.gate import GateResult, find_config, load_config, run_gate, write_starter
from cowcheck.cli.console import interrupted, out, output_file, write
from cowcheck.cli.helptext import GATE_WORKERS_HELP
from cowcheck.cli.options import DEFAULT_CELL_WORKERS, search_options
from cowcheck.engine.signals import Interrupted, stop_requested
from cowcheck.errors import InputError
from cowcheck.report.ci import write_junit, write_sarif
from cowcheck.report.document import ReportRow, report_html


def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Where to write cowcheck.toml.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing cowcheck.toml.")] = False,
) -> None:
    """Write a starter cowcheck.toml for `cowcheck gate`."""
    p = write_starter(directory, force)
    out.print(f"wrote {p}: edit the rule and the checks, then run: cowcheck gate", markup=False)


def gate_cmd(
    config: Annotated[Path | None, typer.Option(help="cowcheck.toml or pyproject.toml (default: found here).")] = None,
    junit: Annotated[Path, typer.Option(help="Write JUnit XML here.")] = Path("cowcheck-junit.xml"),
    sarif: Annotated[Path | None, typer.Option(help="Also write SARIF 2.1.0 here.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", help=GATE_WORKERS_HELP)] = 1,
) -> None:
    """Run every check and replay every saved counterexample of the config; exit 1 on
    any change of verdict, in either direction."""
    options = search_options(workers=workers)
    cfg = load_config(config if config is not None else find_config(Path.cwd()))
    output_file("--junit", junit)
    if sarif is not None:
        output_file("--sarif", sarif)
    table = Table(title=Text(f"cowcheck gate: {cfg.path}"), title_justify="left")
    for col in ("", "check", "expected", "got", "seconds"):
        table.add_column(col)
    done: list[GateResult] = []

    def row(r: GateResult) -> None:
        done.append(r)
        # Text, not markup: a check's name is the user's, "[/b]" included.
        table.add_row("✓" if r.passed else "✗", Text(r.name), Text(r.expected), Text(r.got), f"{r.seconds:.2f}")

    with contextlib.suppress(Interrupted):  # a signal: report the checks finished
        run = run_gate(cfg, row, options)
    if stop_requested() is not None:
        out.print(table)
        stopped = sum(r.got == "incomplete" and "interrupted" in r.message for r in done)
        interrupted(len(done) - stopped, "checks")
        raise typer.Exit(3)
    out.print(table)
    for r in run.failed:
        out.print(f"\nFAILED {r.name}: {r.message}", markup=False)
        if r.trace_text:
            out.print(r.trace_text, markup=False)
    write("--junit", junit, lambda: write_junit(run, junit))
    if sarif is not None:
        try:
            write("--sarif", sarif, lambda: write_sarif(run, sarif))
        except InputError:
            # Exit 2 leaves no file: a JUnit file alone would pass for a finished gate's.
            with contextlib.suppress(OSError):
                junit.unlink()
            raise
    n, bad = len(run.results), len(run.failed)
    out.print(f"\n{n - bad} of {n} passed; JUnit XML: {junit}" + (f"; SARIF: {sarif}" if sarif else ""), markup=False)
    raise typer.Exit(run.exit_code)


def report_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path(
        "cowcheck-report.html"
    ),
    config: Annotated[Path | None, typer.Option(help="Gate config (default: found here).")] = None,
    matrix: Annotated[bool, typer.Option("--matrix", help="Report the full history matrix instead.")] = False,
) -> None:
    """Write a self-contained HTML report of a gate run (or of the matrix), every
    counterexample drawn as a sequence diagram: keep it as a CI artifact."""
    output_file("--output", output)
    rows: list[ReportRow] = []
    with contextlib.suppress(Interrupted):  # a signal: say what was finished, write nothing
        rows, title = _report_rows(config, matrix)
    if stop_requested() is not None:
        interrupted(sum(not (r.got == "incomplete" and "interrupted" in r.message) for r in rows), "rows")
        raise typer.Exit(3)
    write("--output", output, lambda: output.write_text(report_html(title, rows), encoding="utf-8"))
    bad = sum(not r.passed for r in rows)
    out.print(f"wrote {output}: {len(rows) - bad} of {len(rows)} passed", markup=False)


def _report_rows(config: Path | None, matrix: bool) -> tuple[list[ReportRow], str]:
    if matrix:
        rows = [
            ReportRow(
                f"{r.scenario} under {r.rule}{' --strict' if r.strict else ''}",
                r.expected or "-",
                r.got,
                r.ok,
                r.report.summary(),
                r.report.shown(),
            )
            for r in run_catalog(options=search_options(workers=DEFAULT_CELL_WORKERS))
        ]
        title = "cowcheck: the history matrix"
    else:
        cfg = load_config(config if config is not None else find_config(Path.cwd()))
        run = run_gate(cfg)
        rows = [ReportRow(r.name, r.expected, r.got, r.passed, r.detail, r.shown) for r in run.results]
        title = f"cowcheck gate: {cfg.path.name}"
    return rows, title
