"""Running a catalog (the bundled one, or the user's scenario and rule files) against
the verdicts its files expect."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport, build_model, check, violation_trace
from cowcheck.engine import SearchOptions, SearchResult, Stats, Verdict
from cowcheck.engine.errors import WorkerDied, how_it_ended, portable
from cowcheck.engine.signals import Interrupted, become_worker, forking, interrupted_reason
from cowcheck.errors import InputError
from cowcheck.families import FAMILY_NAMES, all_scenario_files, family, family_of_rule, load_any_rule, load_scenario
from cowcheck.input.scenario import Scenario
from cowcheck.input.sources import Sources, collect, load_rules, own_rule_file, rule_expectations
from cowcheck.mm.rule import Rule


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


# A cell: scenario, rule, --strict, how it searches in one process, and the properties
# (empty: the defaults).
Job = tuple[Scenario, Rule, bool, SearchOptions, tuple[str, ...]]
_JOBS: list[Job] = []  # inherited by the pool's forked workers


def _run_job(i: int, workers: int = 1) -> tuple[int, Any]:
    sc, rule, strict, options, props = _JOBS[i]
    rep = check(sc, rule, list(props) or None, strict=strict, options=replace(options, workers=workers))
    r = rep.result
    actions = [s.action for s in rep.trace.steps] if rep.trace is not None else None
    prop = rep.trace.property_id if rep.trace is not None else None
    msg = rep.trace.message if rep.trace is not None else None
    return i, (r.verdict, r.stats, r.incomplete_reason, r.metrics, actions, prop, msg, rep.raw_length)


def _cost(job: Job) -> tuple[int, int, int]:
    """Longest first, so the big open scenarios do not start last."""
    sc = job[0]
    return (sc.kind != "open", -len(getattr(sc, "vpages", ())), -sum(n for _, n in sc.budget))


def _heavy(job: Job, expected: str | None) -> bool:
    """An open scenario its file expects to hold is explored in full: the cells that
    dominate the wall time."""
    return job[0].kind == "open" and expected == "holds"


def _serve_cells(conn: Connection, parent: int) -> None:
    """A cell worker: runs each cell it is sent, (index, partitions), and sends back
    (index, result), until it is sent None; on an exception, sends (-1, it) and ends."""
    become_worker(parent)
    i = -1
    try:
        while (msg := conn.recv()) is not None:
            i, partitions = msg
            conn.send(_run_job(i, partitions))
    except BaseException as e:
        who = f"the cell {_cell_name(i)}" if i >= 0 else "a cell worker"
        with contextlib.suppress(BaseException):  # the coordinator may be gone
            conn.send((-1, portable(e, who)))


def _cell_name(i: int) -> str:
    sc, rule, strict, _, _ = _JOBS[i]
    return f"{sc.name} under {rule.name}" + (" --strict" if strict else "")


# A cell finished: (cells done, cells in all), for a progress line.
Tally = Callable[[int, int], None]


def _run_cells(
    light: list[int], heavy: list[int], workers: int, on_done: Tally | None = None
) -> tuple[dict[int, Any], str | None]:
    """The cells in forked workers: ``workers`` of them share the light cells, and one
    more takes the heavy ones in turn, each with the partitioned search over
    ``workers`` processes. Returns the results by cell, and why the run stopped early
    (a signal) if it did. A worker's exception is raised here; a worker that dies ends
    the run with WorkerDied. Every worker is gone when this returns."""
    ctx = mp.get_context("fork")
    # Per worker: the cells it takes from (shared by the light ones), and its partitions.
    lanes: list[tuple[deque[int], int]] = []
    if heavy:
        lanes.append((deque(heavy), workers))
    light_q = deque(light)
    lanes += [(light_q, 1)] * min(workers, len(light))
    procs: list[Any] = []
    conns: list[Connection] = []
    running: dict[int, int] = {}  # worker -> the cell it runs
    done: dict[int, Any] = {}

    def feed(w: int) -> None:
        q, partitions = lanes[w]
        if q:
            running[w] = q.popleft()
            conns[w].send((running[w], partitions))
        else:
            running.pop(w, None)
            conns[w].send(None)

    def died(w: int) -> WorkerDied:
        p = procs[w]
        p.join(1)
        return WorkerDied(f"the worker checking {_cell_name(running[w])} (pid {p.pid}) {how_it_ended(p.exitcode)}")

    try:
        for _ in lanes:
            mine, theirs = ctx.Pipe()
            # Not daemonic: the heavy cells' worker starts workers of its own.
            p = ctx.Process(target=_serve_cells, args=(theirs, os.getpid()))
            with forking():  # a signal lands once the worker is on the list
                p.start()
                procs.append(p)
                conns.append(mine)
            theirs.close()  # its death then reads as EOF here
        for w in range(len(lanes)):
            feed(w)
        while running:
            ready = wait([conns[w] for w in running] + [procs[w].sentinel for w in running])
            for w in list(running):
                if conns[w].poll():
                    try:
                        i, res = conns[w].recv()
                    except (EOFError, OSError):
                        raise died(w) from None
                    if i < 0:
                        raise res
                    done[i] = res
                    if on_done is not None:
                        on_done(len(done), len(light) + len(heavy))
                    feed(w)
                elif procs[w].sentinel in ready:
                    raise died(w)
    except (KeyboardInterrupt, Interrupted) as e:
        return done, interrupted_reason(e)
    finally:
        # SIGKILL: the workers ignore SIGTERM, and the heavy one's own workers die
        # with it (become_worker).
        for p in procs:
            if p.exitcode is None:
                p.kill()
        for p in procs:
            p.join()
        for c in conns:
            c.close()
    return done, None


def run_pool(
    jobs: list[Job],
    workers: int,
    expected: Sequence[str | None],
    heavy: Sequence[bool] | None = None,
    on_done: Tally | None = None,
) -> list[CheckReport]:
    """Each cell in a forked worker; the report is rebuilt here from the verdict,
    the figures and the minimised action list (models and rules loaded from files
    do not pickle, and need not: the fork gave the worker its own).

    The heavy cells (``_heavy``) run one by one in a process of their own with the
    partitioned search on every core, while the pool takes the rest: otherwise the
    largest cell alone, on one core, sets the wall time. The partitioned search gives
    the serial verdict and state count (tests/test_reductions.py).

    A signal (SIGINT, SIGTERM) ends every worker: the cells finished are reported, the
    others as incomplete, interrupted.

    ``heavy``, if given, says which cells are heavy instead (``verify``, whose runs
    expect nothing). The jobs reach the workers by the fork, not by pickling: a
    scenario or rule loaded from the user's files runs there as it is."""
    global _JOBS
    _JOBS = jobs
    order = sorted(range(len(jobs)), key=lambda i: _cost(jobs[i]))
    is_heavy = list(heavy) if heavy is not None else [_heavy(j, e) for j, e in zip(jobs, expected, strict=True)]
    big = [i for i in order if is_heavy[i]]
    light = [i for i in order if not is_heavy[i]]
    done, stopped = _run_cells(light, big, workers, on_done)
    for i in range(len(jobs)):
        if i not in done:  # not run, or cut short: the signal's
            done[i] = (Verdict.INCOMPLETE, Stats(), stopped, {}, None, None, None, None)
    reports = []
    for i, (sc, rule, strict, options, props) in enumerate(jobs):
        verdict, stats, reason, metrics, actions, prop, msg, raw = done[i]
        model = build_model(sc, rule, list(props) or None, "observational", strict)
        result: SearchResult[Any, Any] = SearchResult(verdict, stats, None, reason, metrics)
        # ``options`` as the job holds it: CheckReport.searched gives the real workers.
        rep = CheckReport(sc, rule, list(props), "observational", strict, options, result, model, metrics=metrics)
        rep.raw_length = raw
        if actions is not None:
            rep.trace = violation_trace(model, actions, prop or "", msg or "")
        reports.append(rep)
    return reports


def catalog_plan(
    rules: Sequence[Rule | str] | None = None,
    scenarios: Sequence[str | Path] | None = None,
    paths: Sequence[str | Path] | None = None,
    family_name: str | None = None,
) -> tuple[list[Scenario], list[Rule]]:
    """The scenarios and rules of a catalog run, loaded and checked before any search.

    Scenarios: ``scenarios`` (files) and the scenario files ``paths`` name
    (``input/sources.py``: files, directories, bundled names); neither: the bundled
    catalog. Rules: ``rules`` (names, files, Rules), or every family's built-in rules,
    then the rule files ``paths`` name. ``family_name``: only that family's scenarios
    and rules. Two scenarios, or two rules, of one name are an ``InputError``: the rows
    and the matrix name them. Each scenario runs under the rules of its own family
    (``families/``) only."""
    src = collect(paths) if paths else Sources()
    files = [Path(s) for s in scenarios or ()] + list(src.scenarios)
    loaded: list[Scenario] = []
    by_name: dict[str, Scenario] = {}
    for f in files or all_scenario_files():
        sc: Scenario = load_scenario(f)
        if family_name is not None and sc.family != family_name:
            continue
        first = by_name.setdefault(sc.name, sc)
        if first is not sc:
            if Path(first.path).resolve() == Path(sc.path).resolve():
                continue  # the same file twice
            raise InputError(
                sc.path, "name", f"{sc.name!r} is also the name of {first.path} (expected a name of its own)"
            )
        loaded.append(sc)
    if rules:
        resolved = [r if not isinstance(r, str) else load_any_rule(r) for r in rules]
    else:
        names = FAMILY_NAMES if family_name is None else (family_name,)
        resolved = [r for n in names for r in family(n).builtin_rules().values()]
    resolved += load_rules(src.rules)
    if family_name is not None:
        resolved = [r for r in resolved if family(family_name).owns_rule(r)]
    chosen: list[Rule] = []
    by_rule: dict[str, Rule] = {}
    for r in resolved:
        first_rule = by_rule.setdefault(r.name, r)
        if first_rule is r:
            if all(r is not c for c in chosen):
                chosen.append(r)
            continue
        raise InputError(
            str(own_rule_file(r) or r.name),
            "name",
            f"{r.name!r} is also the name of {_rule_where(first_rule)} (expected a rule name of its own)",
        )
    return loaded, chosen


def _rule_where(r: Rule) -> str:
    f = own_rule_file(r)
    return f"the rule file {f}" if f is not None else f"the built-in rule {r.name}"


def expectation(rule: Rule) -> Callable[[Scenario, bool], str | None]:
    """Where a cell's expected verdict comes from: a user's rule file states its own
    (``EXPECT``, by scenario name, ``input/sources.py``); any other rule is looked up
    by name in the scenario file's ``[expect]`` (or ``[expect.strict]``) table, which
    names built-in rules only. None: no expectation (shown as '-', never a mismatch)."""
    if own_rule_file(rule) is not None:
        mine = rule_expectations(rule)
        return lambda sc, strict: mine.get(sc.name, strict)
    return lambda sc, strict: (sc.expect_strict if strict else sc.expect).get(rule.name)


def run_catalog(
    rules: Sequence[Rule | str] | None = None,
    scenarios: Sequence[str | Path] | None = None,
    options: SearchOptions | None = None,
    on_row: Callable[[CatalogRow], None] | None = None,
    *,
    paths: Sequence[str | Path] | None = None,
    on_done: Tally | None = None,
    family_name: str | None = None,
) -> list[CatalogRow]:
    """Every scenario under every rule (``catalog_plan``: the bundled catalog, or the
    scenario and rule files ``paths`` name), each cell searched as ``options`` say;
    with ``options.workers`` > 1 the cells run in that many processes, the heavy ones
    with the partitioned search over as many (``run_pool``; rows still come back in
    catalog order).

    A scenario runs under ``--strict`` too where its file states verdicts for it
    (``[expect.strict]``) or a rule file of the run does (``EXPECT_STRICT``)."""
    opts = options or SearchOptions()
    workers, one = opts.workers, replace(opts, workers=1)
    scens, resolved = catalog_plan(rules, scenarios, paths, family_name)
    expects = [expectation(r) for r in resolved]
    owner = [family_of_rule(r).name for r in resolved]
    jobs: list[Job] = []
    expected: list[str | None] = []
    for sc in scens:
        for strict in (False, True):
            wants = [e(sc, strict) for e in expects]
            if strict and not sc.expect_strict and all(w is None for w in wants):
                continue
            for rule, want, fam in zip(resolved, wants, owner, strict=True):
                if fam != sc.family:
                    continue  # a rule decides its own family's kernel paths only
                jobs.append((sc, rule, strict, one, ()))
                expected.append(want)
    rows: list[CatalogRow] = []
    if workers > 1:
        reports = run_pool(jobs, workers, expected, on_done=on_done)
    for i, (sc, rule, strict, _one, _props) in enumerate(jobs):
        if workers > 1:
            rep = reports[i]
        else:
            rep = check(sc, rule, strict=strict, options=opts)
            if on_done is not None:
                on_done(i + 1, len(jobs))
        row = CatalogRow(sc.name, rule.name, strict, expected[i], rep)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows
