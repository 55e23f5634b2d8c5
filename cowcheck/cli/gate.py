"""``cowcheck init``, ``gate`` and ``report``: the CI gate, its files and its page."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path

from cowcheck.checks.gate import GateResult, find_config, load_config, run_gate, write_starter
from cowcheck.cli.args import Command, add_search, search_flags
from cowcheck.cli.console import interrupted, out, output_file, write
from cowcheck.cli.helptext import GATE_WORKERS_HELP
from cowcheck.cli.options import DEFAULT_CELL_WORKERS, search_options
from cowcheck.engine.signals import Interrupted, stop_requested
from cowcheck.errors import InputError
from cowcheck.report.document import ReportRow, report_html

CONFIG_HELP = "cowcheck.toml, or pyproject.toml with [tool.cowcheck]. Default: the one found here or above."


def init_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "directory",
        type=Path,
        nargs="?",
        default=Path("."),
        metavar="DIR",
        help="Where to write cowcheck.toml. Default: here.",
    )
    p.add_argument(
        "--force", action=argparse.BooleanOptionalAction, default=False, help="Overwrite an existing cowcheck.toml."
    )


def init(a: argparse.Namespace) -> int:
    p = write_starter(a.directory, a.force)
    out.print(f"wrote {p}: edit the rule and the checks, then run: cowcheck gate")
    return 0


def gate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="FILE", help=CONFIG_HELP)
    add_search(p, GATE_WORKERS_HELP)
    g = p.add_argument_group("output")
    g.add_argument(
        "--junit",
        type=Path,
        default=Path("cowcheck-junit.xml"),
        metavar="FILE",
        help="Write JUnit XML to FILE. Default: cowcheck-junit.xml.",
    )
    g.add_argument("--sarif", type=Path, metavar="FILE", help="Also write SARIF 2.1.0 to FILE, for code scanning.")


def gate(a: argparse.Namespace) -> int:
    from cowcheck.report.ci import write_junit, write_sarif

    options = search_options(**search_flags(a))
    cfg = load_config(a.config if a.config is not None else find_config(Path.cwd()))
    junit: Path = a.junit
    sarif: Path | None = a.sarif
    output_file("--junit", junit)
    if sarif is not None:
        output_file("--sarif", sarif)
    done: list[GateResult] = []
    rows: list[tuple[str, str, str, str, str]] = []

    def row(r: GateResult) -> None:
        done.append(r)
        rows.append(("✓" if r.passed else "✗", r.name, r.expected, r.got, f"{r.seconds:.2f}"))

    headers = ("", "check", "expected", "got", "seconds")
    title = f"cowcheck gate: {cfg.path}"
    with contextlib.suppress(Interrupted):  # a signal: report the checks finished
        run = run_gate(cfg, row, options)
    out.table(headers, rows, title=title)
    if stop_requested() is not None:
        stopped = sum(r.got == "incomplete" and "interrupted" in r.message for r in done)
        interrupted(len(done) - stopped, "checks")
        return 3
    for r in run.failed:
        out.print(f"\nFAILED {r.name}: {r.message}")
        if r.trace_text:
            out.print(r.trace_text)
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
    out.print(f"\n{n - bad} of {n} passed; JUnit XML: {junit}" + (f"; SARIF: {sarif}" if sarif else ""))
    return run.exit_code


def report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("cowcheck-report.html"),
        metavar="FILE",
        help="The HTML file to write. Default: cowcheck-report.html.",
    )
    p.add_argument("--config", type=Path, metavar="FILE", help=CONFIG_HELP)
    p.add_argument(
        "--matrix",
        action="store_true",
        help="Report the history matrix instead: the rules x scenarios grid, each ✗ linked to its counterexample.",
    )


def report(a: argparse.Namespace) -> int:
    output: Path = a.output
    output_file("--output", output)
    page, passed, total = "", 0, 0
    finished: list[GateResult] = []  # a gate's checks, as each ends (a matrix's cells end together)
    with contextlib.suppress(Interrupted):  # a signal: say what was finished, write nothing
        page, passed, total = _matrix_page() if a.matrix else _gate_page(a.config, finished.append)
    if stop_requested() is not None:
        interrupted(sum(not (r.got == "incomplete" and "interrupted" in r.message) for r in finished), "rows")
        return 3
    write("--output", output, lambda: output.write_text(page, encoding="utf-8"))
    out.print(f"wrote {output}: {passed} of {total} passed")
    return 0


def _matrix_page() -> tuple[str, int, int]:
    """The rules x scenarios grid, as the README shows it, each cell linked to its
    counterexample or figures."""
    from cowcheck.checks.catalog import run_catalog
    from cowcheck.report.document import matrix_html

    rows = run_catalog(options=search_options(workers=DEFAULT_CELL_WORKERS))
    return matrix_html(rows), sum(r.ok for r in rows), len(rows)


def _gate_page(config: Path | None, on_result: Callable[[GateResult], None]) -> tuple[str, int, int]:
    cfg = load_config(config if config is not None else find_config(Path.cwd()))
    run = run_gate(cfg, on_result)
    rows = [ReportRow(r.name, r.expected, r.got, r.passed, r.detail, r.shown) for r in run.results]
    return report_html(f"cowcheck gate: {cfg.path.name}", rows), sum(r.passed for r in rows), len(rows)


INIT = Command(init_arguments, init)
GATE = Command(
    gate_arguments,
    gate,
    "Exit 1 on any change of verdict, in either direction: a check expected to hold that "
    "fails, one expected to fail that holds, a saved counterexample that no longer fails.",
)
REPORT = Command(report_arguments, report, "Keep it as a CI artifact.")
