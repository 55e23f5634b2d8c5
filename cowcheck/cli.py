"""The command line: a thin layer over cowcheck.api.

Exit codes (stable): 0 holds, 1 violated, 2 bad input, 3 incomplete.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cowcheck import __version__
from cowcheck.api import CheckReport, check, check_workers
from cowcheck.build import build_name
from cowcheck.checks.catalog import CatalogRow, run_catalog
from cowcheck.checks.gate import GateResult, find_config, load_config, run_gate, write_starter
from cowcheck.checks.matrix import FORMATS, run_matrix
from cowcheck.checks.saved_trace import replay_file, save
from cowcheck.checks.verify import verify
from cowcheck.engine import Bounds, Stats, Verdict
from cowcheck.engine.bfs import peak_rss_mb
from cowcheck.engine.errors import WorkerDied
from cowcheck.engine.parallel import MAX_WORKERS
from cowcheck.engine.signals import Interrupted, install, stop_requested
from cowcheck.errors import InputError
from cowcheck.input.bundled import scenario_files
from cowcheck.input.properties import all_properties
from cowcheck.input.pyload import blame
from cowcheck.input.reuse_expr import NAMES
from cowcheck.input.rule_files import builtin_rules, load_rule
from cowcheck.input.scenario import load_scenario
from cowcheck.mm.rule import Rule
from cowcheck.report.ci import write_junit, write_sarif
from cowcheck.report.diagram import render_columns
from cowcheck.report.document import ReportRow, Shown, report_html, to_html, to_markdown
from cowcheck.report.graph import FORMATS as GRAPH_FORMATS
from cowcheck.report.graph import build as build_graph
from cowcheck.report.graph import export as export_graph

EXIT_BAD_INPUT = 2
REUSE_HELP = (
    "Replace the rule's write-fault reuse decision with this expression over "
    + ", ".join(NAMES)
    + ", e.g. 'exclusive or (refcount == 1 and not swapcache)'."
)

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="Model checker for Linux copy-on-write versus GUP. Exit codes: 0 holds, 1 violated, "
    "2 bad input, 3 incomplete.",
    pretty_exceptions_enable=False,
)
# Piped output keeps whole lines: tables are not squeezed to 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"cowcheck {__version__} ({build_name()}, Python {platform.python_version()})", markup=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and the build, and exit."
    ),
) -> None:
    """Options before the command: only --version (each command has its own)."""


WORKERS_HELP = "Worker processes for the partitioned search (same states, same verdict)."
STORE_HELP = (
    "Visited store: exact; fingerprint (64-bit, reports its collision bound); "
    "bitstate[:MiB] (reports coverage; never 'holds')."
)
POR_HELP = (
    "Partial-order reduction from action footprints (serial search only; off by default: "
    "see BENCHMARKS.md for what it saves)."
)
SUBSUME_HELP = (
    "Skip a state when one with the same mm and at least as much budget of every kind "
    "was explored (on by default; exact store only, and off under --por). Same verdicts, "
    "fewer states."
)
DASK_HELP = (
    "Run the partitioned search on Dask: 'local' or 'local:N' (N worker processes here), "
    "or a scheduler address (tcp://host:8786). --workers sets the partitions."
)

REPLAY_STRICT_HELP = "Replay with (or without) the --strict contract instead of the saved one."
REPLAY_PROP_HELP = "Check these properties instead of the saved ones (repeatable)."
REPLAY_FORM_HELP = "observational or structural instead of the saved form."
CELL_WORKERS_HELP = "Run the cells in this many processes (default: one per core)."
DEFAULT_CELL_WORKERS = min(os.cpu_count() or 1, MAX_WORKERS)
GATE_WORKERS_HELP = (
    "Run the checks in this many processes; open scenarios expected to hold get the "
    "partitioned search. Verdicts do not depend on it, nor do the state counts of checks that hold."
)


# Output paths are checked before any search: a run must not end in a traceback, its
# hour of work lost, because the file it was asked to write cannot be written.


def _output_file(option: str, path: Path, make_parents: bool = False) -> Path:
    """A file that can be written: not a directory, in a writable directory (with
    ``make_parents``, the nearest existing ancestor of its directory, which the write
    creates)."""
    try:
        return _writable(option, path, make_parents)
    except OSError as e:  # a name too long, a loop of links: what stat() says
        raise InputError(option, str(path), f"cannot be written: {e.strerror or e}") from None


def _writable(option: str, path: Path, make_parents: bool) -> Path:
    if path.is_dir():
        raise InputError(option, str(path), "is a directory (expected a file to write)")
    parent = path.parent
    while make_parents and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.exists():
        raise InputError(option, str(path), f"no such directory {str(parent)!r} (expected an existing directory)")
    if not parent.is_dir():
        raise InputError(option, str(path), f"{str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(option, str(path), f"cannot write in {str(parent)!r} (permission denied)")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(option, str(path), "cannot be written (permission denied)")
    return path


def _output_dir(option: str, path: Path, create: bool) -> Path:
    """A directory to write files in: an existing one, or with ``create`` one that can
    be made."""
    if not path.exists():
        if not create:
            raise InputError(option, str(path), "no such directory (expected an existing directory)")
        return _output_file(option, path, make_parents=True)
    if not path.is_dir():
        raise InputError(option, str(path), "is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(option, str(path), "cannot write in it (permission denied)")
    return path


def _write(option: str, path: Path, write: Callable[[], object]) -> None:
    """Write, and on failure (a full disk, a path that changed) leave no partial file."""
    try:
        write()
    except OSError as e:
        with contextlib.suppress(OSError):
            if path.is_file():
                path.unlink()
        raise InputError(option, str(path), f"cannot write: {e.strerror or e}") from None


def _cut(rep: CheckReport) -> bool:
    """Whether a signal stopped this run (or it never started)."""
    return rep.verdict is Verdict.INCOMPLETE and (rep.result.incomplete_reason or "").startswith("interrupted")


def _interrupted(finished: int, what: str, to_stderr: bool = False) -> None:
    """The last line of a command that a signal stopped; it exits with 3 and writes no
    file (a report, a JUnit file or a trace directory would pass for a finished run's)."""
    line = f"incomplete: interrupted by {stop_requested()}: {finished} {what} finished, no file written"
    (err if to_stderr else out).print(line, markup=False)


def _bounds(max_states: int | None, max_depth: int | None, timeout: float | None) -> Bounds:
    for name, v in (("--max-states", max_states), ("--max-depth", max_depth)):
        if v is not None and v < 1:
            raise InputError(name, None, f"expected a positive integer, got {v}")
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise InputError("--timeout", None, f"expected a positive number of seconds, got {timeout:g}")
    return Bounds(max_states=max_states, max_depth=max_depth, timeout=timeout)


def _progress(enabled: bool) -> Any:
    """States, depth, rate, queue and memory on stderr: rewritten in place on a
    terminal (5 times a second at most), a plain line every 10 s otherwise (CI logs);
    COWCHECK_PROGRESS_EVERY sets the interval in seconds."""
    if not enabled:
        return None
    tty = err.is_terminal
    every = float(os.environ.get("COWCHECK_PROGRESS_EVERY", 0.2 if tty else 10.0))
    last = [time.monotonic()]

    def show(stats: Stats, queue: int) -> None:
        now = time.monotonic()
        if now - last[0] < every:
            return
        last[0] = now
        line = (
            f"  {stats.states:,} states, depth {stats.max_depth}, {stats.states_per_second:,.0f} states/s, "
            f"queue {queue:,}, {peak_rss_mb():,.0f} MiB"
        )
        if tty:
            err.print("\r" + line, end="", markup=False)
        else:
            err.print(line, markup=False)

    return show


def _print_report(rep: CheckReport) -> None:
    if rep.trace is not None:
        title = f"cowcheck: {rep.scenario.name} under {rep.rule.name}" + (" (--strict)" if rep.strict else "")
        out.print(render_columns(rep.trace, title), markup=False)
        out.print()
    out.print(rep.summary(), markup=False)
    n = rep.stats.transitions
    metrics = ", ".join(f"{k} in {v} of {n} explored transitions" for k, v in rep.metrics.items())
    if metrics:
        out.print(f"metrics: {metrics}", markup=False)


@app.command("check")
def check_cmd(
    scenario: Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled one.")],
    rule: Annotated[str, typer.Option("--rule", "-r", help="A built-in rule or a path to a rule file.")],
    reuse: Annotated[str | None, typer.Option("--reuse", help=REUSE_HELP)] = None,
    prop: Annotated[list[str] | None, typer.Option("--property", "-p", help="Check only these (repeatable).")] = None,
    form: Annotated[str, typer.Option(help="observational (ground truth) or structural.")] = "observational",
    strict: Annotated[bool, typer.Option(help="Drop the fork exception for FOLL_GET (seed 004).")] = False,
    max_states: Annotated[int | None, typer.Option(help="Stop after this many states: incomplete.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Do not explore deeper: incomplete.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds: incomplete.")] = None,
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
        _output_file("--save", save_to, make_parents=True)
    check_workers(workers)
    rep = check(
        scenario,
        load_rule(rule, reuse),
        prop or None,
        form=form,
        strict=strict,
        bounds=_bounds(max_states, max_depth, timeout),
        progress=_progress(not (quiet or as_json)),
        workers=workers,
        store=store,
        symmetry=symmetry,
        dask=dask,
        por=por,
        subsume=subsume,
    )
    if err.is_terminal and not (quiet or as_json):
        err.print("\r" + " " * 70 + "\r", end="")
    if save_to is not None and rep.trace is not None:
        _write("--save", save_to, lambda: save(rep, save_to))
    if as_json:
        print(json.dumps(rep.to_json(), indent=2))
    else:
        _print_report(rep)
        if save_to is not None and rep.trace is not None:
            out.print(f"counterexample saved to {save_to}", markup=False)
    raise typer.Exit(rep.exit_code)


@app.command("replay")
def replay_cmd(
    trace: Annotated[Path, typer.Argument(help="A saved counterexample (JSON).")],
    rule: Annotated[str | None, typer.Option("--rule", "-r", help="Replay under this rule instead.")] = None,
    reuse: Annotated[str | None, typer.Option("--reuse", help="With --rule BASE: " + REUSE_HELP)] = None,
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict", help=REPLAY_STRICT_HELP)] = None,
    prop: Annotated[list[str] | None, typer.Option("--property", "-p", help=REPLAY_PROP_HELP)] = None,
    form: Annotated[str | None, typer.Option(help=REPLAY_FORM_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-run a saved trace with its saved options: exit 1 if it still fails, 0 if it
    runs to the end and nothing fails (fixed), 3 if a step is not enabled under this
    rule (inconclusive: it prints the check that decides), 2 if the file is invalid."""
    rp = replay_file(trace, rule, reuse=reuse, strict=strict, properties=prop or None, form=form)
    if as_json:
        print(
            json.dumps(
                {
                    "trace": str(trace),
                    "rule": rp.rule.name,
                    "outcome": rp.outcome,
                    "exit_code": rp.exit_code,
                    "still_fails": rp.still_fails,
                    "property": rp.trace.property_id,
                    "message": rp.trace.message,
                    "expected_property": rp.expected_property,
                    "diverged_at": rp.trace.diverged_at,
                    "describe": rp.describe(),
                    "reproduce": rp.replay_command,
                    "check": rp.command,
                },
                indent=2,
            )
        )
    else:
        title = f"replay of {trace} under {rp.rule.name}" + (" --strict" if rp.strict else "")
        out.print(render_columns(rp.trace, title), markup=False)
        out.print()
        out.print(rp.describe(), markup=False)
        if rp.outcome != "inconclusive":  # there, describe() already names the check
            out.print(f"check every path: {rp.command}{rp.scenario_note}", markup=False)
    raise typer.Exit(rp.exit_code)


@app.command("rules")
def rules_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the built-in rules with their kernel versions and commits."""
    rules = builtin_rules()
    if as_json:
        print(
            json.dumps(
                [
                    {"name": r.name, "title": r.title, "kernels": r.kernels, "commits": list(r.commits)}
                    for r in rules.values()
                ],
                indent=2,
            )
        )
        return
    t = Table("rule", "kernels", "decision", "commits", show_lines=True)
    for r in rules.values():
        t.add_row(r.name, r.kernels, r.title, "\n".join(r.commits))
    out.print(t)


@app.command("scenarios")
def scenarios_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the bundled scenarios and the verdicts they expect."""
    scs = [load_scenario(f) for f in scenario_files()]
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "kind": s.kind,
                        "title": s.title,
                        "path": s.path,
                        "source": s.source,
                        "expect": s.expect,
                        "expect_strict": s.expect_strict,
                    }
                    for s in scs
                ],
                indent=2,
            )
        )
        return
    t = Table("scenario", "kind", "title", "expected", show_lines=True)
    for s in scs:
        exp = ", ".join(f"{k}: {v}" for k, v in s.expect.items())
        if s.expect_strict:
            exp += "\n--strict: " + ", ".join(f"{k}: {v}" for k, v in s.expect_strict.items())
        t.add_row(s.name, s.kind, s.title, exp)
    out.print(t)


@app.command("properties")
def properties_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the properties, the kernel failure each models, and its forms."""
    props = all_properties()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "id": p.id,
                        "title": p.title,
                        "models": p.models,
                        "metric": p.metric,
                        "forms": [f for f in ("observational", "structural") if p.check_for(f)],
                    }
                    for p in props.values()
                ],
                indent=2,
            )
        )
        return
    t = Table("id", "checks", "kernel failure", "kind", show_lines=True)
    for p in props.values():
        t.add_row(p.id, p.title, p.models, "metric (fails only with --property)" if p.metric else "property")
    out.print(t)


@app.command("catalog")
def catalog_cmd(
    rule: Annotated[list[str] | None, typer.Option("--rule", "-r", help="Only these rules (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    workers: Annotated[int, typer.Option("--workers", "-j", help=CELL_WORKERS_HELP)] = DEFAULT_CELL_WORKERS,
) -> None:
    """Run every bundled scenario under every rule and compare with the expected verdicts.

    Exit 0 if every verdict matches its scenario file, 1 otherwise."""
    table = Table("scenario", "rule", "expected", "got", "steps", "states", "seconds")
    rows: list[CatalogRow] = []

    def row_out(r: CatalogRow) -> None:
        rows.append(r)
        if as_json:
            return
        name = r.scenario + (" (--strict)" if r.strict else "")
        steps = str(len(r.report.trace)) if r.report.trace else "-"
        got = "interrupted" if _cut(r.report) else r.got if r.ok else f"{r.got}  MISMATCH"
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
        run_catalog(rule or None, on_row=row_out, workers=check_workers(workers))
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
        _interrupted(sum(not _cut(r.report) for r in rows), "cells", to_stderr=as_json)
        raise typer.Exit(3)
    raise typer.Exit(1 if bad else 0)


@app.command("verify")
def verify_cmd(
    rule: Annotated[str, typer.Argument(help="A built-in rule, a rule file, or the base rule of --reuse.")],
    reuse: Annotated[str | None, typer.Option("--reuse", help=REUSE_HELP)] = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", "-s", help="Only these scenarios (repeatable).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Drop the fork exception for FOLL_GET (seed 004).")] = False,
    max_states: Annotated[int | None, typer.Option(help="Per run: stop after this many states.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Per run: stop after this many seconds.")] = None,
    save_dir: Annotated[Path | None, typer.Option("--save-dir", help="Write every counterexample here.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check one rule against the whole catalog: a table of properties x scenarios.

    Exit 0 if every property holds everywhere, 1 on any violation, 3 if a bound cut a
    run short and nothing was violated."""
    r = load_rule(rule, reuse)
    bounds = _bounds(max_states, None, timeout)
    if save_dir is not None:
        _output_dir("--save-dir", save_dir, create=True)
    runs: list[CheckReport] = []
    try:
        v = verify(r, scenario or None, strict=strict, bounds=bounds, on_run=runs.append)
    except Interrupted:
        for rep in runs:
            out.print(rep.summary(), markup=False)
        _interrupted(sum(not _cut(rep) for rep in runs), "runs", to_stderr=as_json)
        raise typer.Exit(3) from None
    stopped = stop_requested() is not None
    if save_dir is not None and not stopped:
        _write("--save-dir", save_dir, lambda: save_dir.mkdir(parents=True, exist_ok=True))
        for rep in v.violations:
            prop = rep.trace.property_id if rep.trace is not None else "violation"
            f = save_dir / f"{rep.scenario.name}--{prop}.json"
            _write("--save-dir", f, lambda: save(rep, f))  # noqa: B023 (called at once)
    if as_json:
        print(json.dumps(v.to_json(), indent=2, ensure_ascii=False))
        if stopped:
            _interrupted(sum(not _cut(rep) for rep in v.runs), "runs", to_stderr=True)
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
        _interrupted(sum(not _cut(rep) for rep in v.runs), "runs")
        raise typer.Exit(3)
    verdict = {Verdict.HOLDS: "holds", Verdict.VIOLATED: "violated", Verdict.INCOMPLETE: "incomplete"}[v.verdict]
    bad = len({s for (s, _p), c in v.cells.items() if c.verdict is Verdict.VIOLATED})
    out.print(f"{verdict}: {r.name}: {bad} of {len(v.scenarios)} scenarios violate a property", markup=False)
    raise typer.Exit(v.verdict.exit_code)


@app.command("matrix")
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
        _output_dir("--save-dir", save_dir, create=True)
    rows: list[CatalogRow] = []
    try:
        m = run_matrix(rules, on_row=rows.append, workers=check_workers(workers))
    except Interrupted:
        _interrupted(sum(not _cut(r.report) for r in rows), "cells", to_stderr=True)
        raise typer.Exit(3) from None
    stopped = stop_requested() is not None
    if save_dir is not None and not stopped:
        # Written once every cell is done: a run that fails writes nothing.
        _write("--save-dir", save_dir, lambda: save_dir.mkdir(parents=True, exist_ok=True))
        for row in rows:
            if row.report.trace is not None:
                f = save_dir / f"{row.scenario}--{row.rule}{'--strict' if row.strict else ''}.json"
                _write("--save-dir", f, lambda: save(row.report, f))  # noqa: B023 (called at once)
    print(m.render(fmt))
    if fmt != "json":
        states = sum(c.states for c in m.cells.values())
        err.print(f"{len(m.cells)} cells, {states:,} states, {m.seconds:.1f}s wall", markup=False)
    if stopped:
        _interrupted(sum(not _cut(r.report) for r in rows), "cells", to_stderr=True)
        raise typer.Exit(3)
    bad = m.mismatches
    for c in bad:
        err.print(f"differs from the scenario file: {c.scenario} under {c.rule}: expected {c.expected}, got {c.got}")
    raise typer.Exit(1 if check_expected and bad else 0)


@app.command("init")
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Where to write cowcheck.toml.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing cowcheck.toml.")] = False,
) -> None:
    """Write a starter cowcheck.toml for `cowcheck gate`."""
    p = write_starter(directory, force)
    out.print(f"wrote {p}: edit the rule and the checks, then run: cowcheck gate", markup=False)


@app.command("gate")
def gate_cmd(
    config: Annotated[Path | None, typer.Option(help="cowcheck.toml or pyproject.toml (default: found here).")] = None,
    junit: Annotated[Path, typer.Option(help="Write JUnit XML here.")] = Path("cowcheck-junit.xml"),
    sarif: Annotated[Path | None, typer.Option(help="Also write SARIF 2.1.0 here.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", help=GATE_WORKERS_HELP)] = 1,
) -> None:
    """Run every check and replay every saved counterexample of the config; exit 1 on
    any change of verdict, in either direction."""
    n_workers = check_workers(workers)
    cfg = load_config(config if config is not None else find_config(Path.cwd()))
    _output_file("--junit", junit)
    if sarif is not None:
        _output_file("--sarif", sarif)
    table = Table(title=Text(f"cowcheck gate: {cfg.path}"), title_justify="left")
    for col in ("", "check", "expected", "got", "seconds"):
        table.add_column(col)
    done: list[GateResult] = []

    def row(r: GateResult) -> None:
        done.append(r)
        # Text, not markup: a check's name is the user's, "[/b]" included.
        table.add_row("✓" if r.passed else "✗", Text(r.name), Text(r.expected), Text(r.got), f"{r.seconds:.2f}")

    with contextlib.suppress(Interrupted):  # a signal: report the checks finished
        run = run_gate(cfg, row, n_workers)
    if stop_requested() is not None:
        out.print(table)
        cut = sum(r.got == "incomplete" and "interrupted" in r.message for r in done)
        _interrupted(len(done) - cut, "checks")
        raise typer.Exit(3)
    out.print(table)
    for r in run.failed:
        out.print(f"\nFAILED {r.name}: {r.message}", markup=False)
        if r.trace_text:
            out.print(r.trace_text, markup=False)
    _write("--junit", junit, lambda: write_junit(run, junit))
    if sarif is not None:
        try:
            _write("--sarif", sarif, lambda: write_sarif(run, sarif))
        except InputError:
            # Exit 2 leaves no file: a JUnit file alone would pass for a finished gate's.
            with contextlib.suppress(OSError):
                junit.unlink()
            raise
    n, bad = len(run.results), len(run.failed)
    out.print(f"\n{n - bad} of {n} passed; JUnit XML: {junit}" + (f"; SARIF: {sarif}" if sarif else ""), markup=False)
    raise typer.Exit(run.exit_code)


@app.command("show")
def show_cmd(
    trace: Annotated[Path, typer.Argument(help="A saved counterexample (JSON).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="columns, markdown or html.")] = "columns",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", "-r", help="Replay under this rule instead.")] = None,
    reuse: Annotated[str | None, typer.Option("--reuse", help="With --rule BASE: " + REUSE_HELP)] = None,
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict", help=REPLAY_STRICT_HELP)] = None,
    prop: Annotated[list[str] | None, typer.Option("--property", "-p", help=REPLAY_PROP_HELP)] = None,
    form: Annotated[str | None, typer.Option(help=REPLAY_FORM_HELP)] = None,
) -> None:
    """Render a saved trace: columns for the terminal, markdown for a commit message, or a
    self-contained HTML page with a sequence diagram and the page state after each step.
    Exit 0 when drawn, 3 when drawn but the trace cannot be followed under this rule
    (inconclusive), 2 when the file is invalid."""
    if fmt not in ("columns", "markdown", "html"):
        raise InputError("--format", None, f"unknown format {fmt!r} (expected columns, markdown or html)")
    if output is not None:
        _output_file("--output", output)
    rp = replay_file(trace, rule, reuse=reuse, strict=strict, properties=prop or None, form=form)
    shown = rp.shown()
    if fmt == "columns":
        cmds = [f"reproduce: {shown.source}"]
        if rp.outcome != "inconclusive":  # there, describe() already names the check
            cmds.append(f"check every path: {shown.check}{rp.scenario_note}")
        text = "\n".join([render_columns(rp.trace, shown.title), "", rp.describe(), *cmds])
    else:
        text = to_markdown(shown) if fmt == "markdown" else to_html(shown)
    if output is not None:
        _write(
            "--output",
            output,
            lambda: output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8"),
        )
        out.print(f"wrote {output}", markup=False)
    else:
        out.print(text, markup=False, end="" if text.endswith("\n") else "\n")
    raise typer.Exit(3 if rp.outcome == "inconclusive" else 0)


@app.command("report")
def report_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path(
        "cowcheck-report.html"
    ),
    config: Annotated[Path | None, typer.Option(help="Gate config (default: found here).")] = None,
    matrix: Annotated[bool, typer.Option("--matrix", help="Report the full history matrix instead.")] = False,
) -> None:
    """Write a self-contained HTML report of a gate run (or of the matrix), every
    counterexample drawn as a sequence diagram: keep it as a CI artifact."""
    _output_file("--output", output)
    rows: list[ReportRow] = []
    with contextlib.suppress(Interrupted):  # a signal: say what was finished, write nothing
        rows, title = _report_rows(config, matrix)
    if stop_requested() is not None:
        _interrupted(sum(not (r.got == "incomplete" and "interrupted" in r.message) for r in rows), "rows")
        raise typer.Exit(3)
    _write("--output", output, lambda: output.write_text(report_html(title, rows), encoding="utf-8"))
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
                Shown(r.report.title, r.report.trace, r.report.command) if r.report.trace is not None else None,
            )
            for r in run_catalog(workers=DEFAULT_CELL_WORKERS)
        ]
        title = "cowcheck: the history matrix"
    else:
        cfg = load_config(config if config is not None else find_config(Path.cwd()))
        run = run_gate(cfg)
        rows = [ReportRow(r.name, r.expected, r.got, r.passed, r.message, r.shown) for r in run.results]
        title = f"cowcheck gate: {cfg.path.name}"
    return rows, title


@app.command("graph")
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
    strict: Annotated[bool, typer.Option(help="Drop the fork exception for FOLL_GET (seed 004).")] = False,
) -> None:
    """Export the explored state graph (or a counterexample's neighbourhood) and report
    livelocks (a reachable cycle, as a lasso), stuck end states, steps that run on no
    path, and the longest run; exit 1 if there is any of the first three."""
    if radius < 0:
        raise InputError("--radius", None, f"expected a number of steps >= 0, got {radius}")
    _bounds(max_states, None, None)
    if fmt not in GRAPH_FORMATS:
        raise InputError("--format", None, f"unknown format {fmt!r} (expected one of: {', '.join(GRAPH_FORMATS)})")
    _output_file("--output", output)
    rep = build_graph(scenario, rule, None, strict, max_states, str(trace) if trace else None, radius)
    _write("--output", output, lambda: export_graph(rep.shown, fmt, output))
    out.print(rep.summary(), markup=False)
    out.print(f"wrote {output}", markup=False)
    raise typer.Exit(1 if rep.failed else 0)


def main() -> None:
    """The console script. It exits 0 holds, 1 violated, 2 bad input, 3 incomplete, and
    with nothing else: any failure is exit 2 with one line on stderr (the traceback
    too with COWCHECK_DEBUG=1), never exit 1, which CI reads as "violated"."""
    sys.exit(run(sys.argv[1:]))


def run(argv: Sequence[str]) -> int:
    """``main`` without the exit: the exit code."""
    restore = install()  # SIGINT and SIGTERM: see engine/signals.py
    try:
        try:
            code = _dispatch(list(argv))
            # Here, not at exit, so that a reader gone away is this function's to report.
            sys.stdout.flush()
            return code
        except BrokenPipeError:
            _quiet_stdout()
            return _fail("stdout: the reader went away before the output was written (broken pipe)")
        except Interrupted as e:  # before a command had a result to print
            _say(f"cowcheck: incomplete: interrupted by {e.signame}")
            return 3
    finally:
        restore()


def _dispatch(argv: list[str]) -> int:
    try:
        rv = app(args=argv, prog_name="cowcheck", standalone_mode=False)
    except InputError as e:
        return _fail(str(e))
    except Interrupted:
        raise
    except KeyboardInterrupt as e:  # raised by code: a real Ctrl-C arrives as Interrupted
        found = blame(e)
        if found is not None:
            return _fail(str(found))
        _say("cowcheck: incomplete: interrupted")
        return 3
    except SystemExit as e:
        found = blame(e)
        if found is not None:  # a rule or property file's sys.exit()
            return _fail(str(found))
        cause = e.__context__
        if isinstance(cause, OSError) and cause.errno == errno.EPIPE:
            _quiet_stdout()
            return _fail("stdout: the reader went away before the output was written (broken pipe)")
        if _from_cli_framework(e):
            raise  # shell completion answered and exits as it means to
        return _internal(e)
    except BaseException as e:
        return _failure(e)
    if rv == 130:  # typer's code for a KeyboardInterrupt that a command raised
        _say("cowcheck: incomplete: interrupted")
        return 3
    return rv if isinstance(rv, int) else 0


def _failure(e: BaseException) -> int:
    """Exit 2 and one line, for whatever ``e`` is."""
    usage = _usage_error(e)
    if usage is not None:
        return usage
    found = blame(e)
    if found is not None:  # raised in a rule or property file, here or in a worker
        return _fail(str(found))
    if isinstance(e, InputError):  # from a worker, where no user file was on the stack
        return _fail(str(e))
    if isinstance(e, WorkerDied):
        return _fail(str(e))
    return _internal(e)


def _usage_error(e: BaseException) -> int | None:
    """A command-line error found by typer/click (unknown option, bad value): one line,
    naming the option. Recognised by name: typer vendors click in some versions."""
    names = {c.__name__ for c in type(e).__mro__}
    if "ClickException" not in names:
        return None
    msg = str(e.format_message())  # type: ignore[attr-defined]
    if "NoArgsIsHelpError" in names:  # `cowcheck` alone: the help (which typer may have shown)
        if msg.strip():
            sys.stderr.write(msg if msg.endswith("\n") else msg + "\n")
        return EXIT_BAD_INPUT
    ctx = getattr(e, "ctx", None)
    where = getattr(ctx, "command_path", None) or "cowcheck"
    hint = f" (see: {where} --help)" if "UsageError" in names else ""
    return _fail(f"{where}: {msg}{hint}")


def _from_cli_framework(e: BaseException) -> bool:
    frames = traceback.extract_tb(e.__traceback__)
    last = frames[-1].filename if frames else ""
    return any(f"{os.sep}{pkg}{os.sep}" in last for pkg in ("typer", "click"))


def _internal(e: BaseException) -> int:
    if os.environ.get("COWCHECK_DEBUG"):
        traceback.print_exception(e)
    what = f"SystemExit({e.code!r})" if isinstance(e, SystemExit) else type(e).__name__
    return _fail(f"internal error: {what}: {e} (set COWCHECK_DEBUG=1 for the traceback)", prefix="cowcheck: ")


def _fail(message: str, prefix: str = "cowcheck: error: ") -> int:
    _say(prefix + message)
    return EXIT_BAD_INPUT


def _say(line: str) -> None:
    """One line on stderr, whatever the message holds (newlines, markup, emoji codes)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(" ".join(line.splitlines()) + "\n")
        sys.stderr.flush()


def _quiet_stdout() -> None:
    # The interpreter's last flush would fail again: point stdout at /dev/null.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
