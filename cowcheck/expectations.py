"""Running the bundled catalog against the verdicts its scenario files expect."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport, build_model, check, resolve_rule, violation_trace
from cowcheck.catalog import scenario_files
from cowcheck.engine import Bounds, SearchResult, Verdict
from cowcheck.mm.rule import Rule
from cowcheck.rules import builtin_rules
from cowcheck.scenario import Scenario, load_scenario


def outcome(report: CheckReport) -> str:
    """'holds', 'incomplete', or the id of the violated property."""
    if report.verdict is Verdict.VIOLATED:
        assert report.trace is not None and report.trace.property_id is not None
        return report.trace.property_id
    return str(report.verdict.value)


@dataclass(frozen=True, slots=True)
class CatalogRow:
    scenario: str
    rule: str
    strict: bool
    expected: str | None  # None where the scenario states no expectation
    report: CheckReport

    @property
    def got(self) -> str:
        return outcome(self.report)

    @property
    def ok(self) -> bool:
        return self.expected is None or self.expected == self.got


# A cell: scenario, rule, --strict, bounds, and the properties (empty: the defaults).
Job = tuple[Scenario, Rule, bool, Bounds | None, tuple[str, ...]]
_JOBS: list[Job] = []  # inherited by the pool's forked workers


def _run_job(i: int, workers: int = 1) -> tuple[int, Any]:
    sc, rule, strict, bounds, props = _JOBS[i]
    rep = check(sc, rule, list(props) or None, strict=strict, bounds=bounds, workers=workers)
    r = rep.result
    actions = [s.action for s in rep.trace.steps] if rep.trace is not None else None
    prop = rep.trace.property_id if rep.trace is not None else None
    msg = rep.trace.message if rep.trace is not None else None
    return i, (r.verdict, r.stats, r.incomplete_reason, r.metrics, actions, prop, msg, rep.raw_length)


def _cost(job: Job) -> tuple[int, int, int]:
    """Longest first, so the big open scenarios do not start last."""
    sc = job[0]
    return (sc.kind != "open", -len(sc.vpages), -sum(n for _, n in sc.budget))


def _heavy(job: Job, expected: str | None) -> bool:
    """An open scenario its file expects to hold is explored in full: the cells that
    dominate the wall time."""
    return job[0].kind == "open" and expected == "holds"


def _run_heavy(order: list[int], workers: int, conn: Connection) -> None:
    """In its own (non-daemonic) process: the heavy cells one after the other, each
    with the partitioned search over ``workers`` processes."""
    try:
        for i in order:
            conn.send(_run_job(i, workers))
    except Exception as e:  # re-raised in the parent, as the pool does
        conn.send((-1, e))
    conn.close()


def run_pool(jobs: list[Job], workers: int, expected: Sequence[str | None]) -> list[CheckReport]:
    """Each cell in a forked worker; the report is rebuilt here from the verdict,
    the figures and the minimised action list (models and rules loaded from files
    do not pickle, and need not: the fork gave the worker its own).

    The heavy cells (``_heavy``) run one by one in a process of their own with the
    partitioned search on every core, while the pool takes the rest: otherwise the
    largest cell alone, on one core, sets the wall time. The partitioned search gives
    the serial verdict and state count (tests/test_reductions.py)."""
    global _JOBS
    _JOBS = jobs
    ctx = mp.get_context("fork")
    order = sorted(range(len(jobs)), key=lambda i: _cost(jobs[i]))
    heavy = [i for i in order if _heavy(jobs[i], expected[i])]
    heavy_set = frozenset(heavy)
    light = [i for i in order if i not in heavy_set]
    done: dict[int, Any] = {}
    runner = None
    if heavy:
        # Forked before the pool exists: the pool's threads are not yet there to be
        # copied half-way through holding a lock.
        mine, theirs = ctx.Pipe(duplex=False)
        runner = ctx.Process(target=_run_heavy, args=(heavy, workers, theirs))
        runner.start()
        theirs.close()
    with ctx.Pool(workers) as pool:
        for i, res in pool.imap_unordered(_run_job, light):
            done[i] = res
    if runner is not None:
        for _ in heavy:
            i, res = mine.recv()
            if i < 0:
                runner.join()
                raise res
            done[i] = res
        runner.join()
    reports = []
    for i, (sc, rule, strict, bounds, props) in enumerate(jobs):
        verdict, stats, reason, metrics, actions, prop, msg, raw = done[i]
        model = build_model(sc, rule, list(props) or None, "observational", strict)
        result: SearchResult[Any, Any] = SearchResult(verdict, stats, None, reason, metrics)
        rep = CheckReport(
            sc, rule, list(props), "observational", strict, bounds or Bounds(), result, model, metrics=metrics
        )
        rep.raw_length = raw
        if actions is not None:
            rep.trace = violation_trace(model, actions, prop or "", msg or "")
        reports.append(rep)
    return reports


def run_catalog(
    rules: Sequence[Rule | str] | None = None,
    scenarios: Sequence[str | Path] | None = None,
    bounds: Bounds | None = None,
    on_row: Callable[[CatalogRow], None] | None = None,
    workers: int = 1,
) -> list[CatalogRow]:
    """Every scenario under every rule; with ``workers`` > 1 the cells run in that
    many processes (rows still come back in catalog order)."""
    resolved = [resolve_rule(r) for r in rules] if rules else list(builtin_rules().values())
    files = [Path(s) for s in scenarios] if scenarios else scenario_files()
    jobs: list[Job] = []
    expected: list[str | None] = []
    for f in files:
        sc: Scenario = load_scenario(f)
        for strict in (False, True):
            table = sc.expect_strict if strict else sc.expect
            if strict and not table:
                continue
            for rule in resolved:
                jobs.append((sc, rule, strict, bounds, ()))
                expected.append(table.get(rule.name))
    rows: list[CatalogRow] = []
    if workers > 1:
        reports = run_pool(jobs, workers, expected)
    for i, (sc, rule, strict, bounds_, _props) in enumerate(jobs):
        rep = reports[i] if workers > 1 else check(sc, rule, strict=strict, bounds=bounds_)
        row = CatalogRow(sc.name, rule.name, strict, expected[i], rep)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows
