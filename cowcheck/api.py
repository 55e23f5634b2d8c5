"""The library API: what the CLI calls, and what tests and notebooks can call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cowcheck.checks.minimise import minimise as minimise_actions
from cowcheck.engine import UNREACHED, Bounds, SearchResult, Stats, StoreSpec, Verdict, search, search_parallel
from cowcheck.engine.parallel import MAX_WORKERS
from cowcheck.engine.signals import stop_requested
from cowcheck.errors import InputError
from cowcheck.input.bundled import find_scenario
from cowcheck.input.properties import select
from cowcheck.input.rule_files import load_rule
from cowcheck.input.scenario import Scenario, load_scenario
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.property import FORMS
from cowcheck.mm.rule import Rule
from cowcheck.mm.state import MMState
from cowcheck.report.counterexample import Trace, build_trace
from cowcheck.report.repro import CheckOptions, SearchOptions, rule_ref, scenario_ref, store_text


@dataclass(slots=True)
class CheckReport:
    scenario: Scenario
    rule: Rule
    properties: list[str]  # as requested; empty means the defaults
    form: str
    strict: bool
    bounds: Bounds
    result: SearchResult[MMState, Action]
    model: MMModel
    trace: Trace | None = None
    raw_length: int | None = None  # BFS path length before minimisation
    metrics: dict[str, int] = field(default_factory=dict)
    search: SearchOptions = field(default_factory=SearchOptions)  # how it ran (repro.py: what the command carries)

    @property
    def verdict(self) -> Verdict:
        return self.result.verdict

    @property
    def stats(self) -> Stats:
        return self.result.stats

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def title(self) -> str:
        """How its counterexample is headed: "<scenario> under <rule>" [--strict]."""
        return f"{self.scenario.name} under {self.rule.name}" + (" --strict" if self.strict else "")

    @property
    def options(self) -> CheckOptions:
        """What decided this verdict, as ``cowcheck check`` takes it."""
        rule, reuse = rule_ref(self.rule)
        # The real worker count: a report built by a pool (expectations.run_pool) ran
        # partitioned without saying so in ``search``.
        search = self.search
        if self.stats.workers != search.workers and not self.stats.cluster:
            search = SearchOptions(search.store, search.symmetry, search.por, search.subsume, self.stats.workers)
        return CheckOptions(
            scenario_ref(self.scenario),
            rule,
            reuse,
            self.strict,
            tuple(self.properties),
            self.form,
            self.bounds,
            search,
        )

    @property
    def command(self) -> str:
        """The command that gives this verdict again (repro.py: one builder for all)."""
        return self.options.command

    def summary(self) -> str:
        st = self.stats
        figures = (
            f"{st.states} states, {st.transitions} transitions, depth {st.max_depth}, "
            f"{st.seconds:.2f}s ({st.states_per_second:,.0f} states/s)"
        )
        if st.cluster:
            figures += f", {st.workers} partitions on {st.cluster}"
        elif st.workers > 1:
            figures += f", {st.workers} workers"
        if st.ample:
            figures += f", {st.ample} states expanded through ample sets"
        if st.subsume:
            figures += ", subsumption by budget"
        head = self.title
        if self.verdict is Verdict.HOLDS:
            store = "" if st.store.startswith("exact") else f"; {st.store}"
            return f"holds: {head}: {figures}; bounds: {self.bounds_text()}{store}; reproduce: {self.command}"
        if self.verdict is Verdict.INCOMPLETE:
            return (
                f"incomplete: {head}: {self.result.incomplete_reason}; explored {figures}; "
                f"nothing found, but not every state within the bounds was explored; reproduce: {self.command}"
            )
        assert self.trace is not None
        return (
            f"violated: {head}: {self.trace.property_id} in {len(self.trace)} steps "
            f"(shortest found by BFS: {self.raw_length}); explored {figures}; reproduce: {self.command}"
        )

    def bounds_text(self) -> str:
        budget = ", ".join(f"{k} {n}" for k, n in self.scenario.budget)
        parts = [
            f"{self.scenario.kind} scenario",
            f"{len(self.scenario.vpages)} vpage(s), {self.scenario.cells} cells",
            f"up to {self.scenario.max_processes} processes",
        ]
        if budget:
            parts.append(f"budget: {budget}")
        parts.append(f"search bounds: {self.bounds.describe()}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        st = self.stats
        d: dict[str, Any] = {
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "rule": self.rule.name,
            "scenario": self.scenario.name,
            "properties": self.properties or [p.id for p in self.model.properties],
            "form": self.form,
            "strict": self.strict,
            "bounds": self.bounds_text(),
            "command": self.command,
            "incomplete_reason": self.result.incomplete_reason,
            "stats": {
                "states": st.states,
                "transitions": st.transitions,
                "depth": st.max_depth,
                "seconds": round(st.seconds, 3),
                "states_per_second": round(st.states_per_second),
                "peak_rss_mb": round(st.peak_rss_mb, 1),
                "store": st.store,
                "store_bytes": st.store_bytes,
                "workers": st.workers,
                "cluster": st.cluster,
                "owned": list(st.owned),
                "shipped": st.shipped,
                "ample": st.ample,
                "subsume": st.subsume,
            },
            "metrics": self.metrics,
        }
        if self.trace is not None:
            d["violation"] = {"property": self.trace.property_id, "message": self.trace.message}
            d["trace"] = [
                {"actor": s.actor, "action": s.action.to_json(), "label": s.label, "notes": list(s.notes)}
                for s in self.trace.steps
            ]
        return d


def resolve_scenario(scenario: Scenario | str | Path) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario(find_scenario(str(scenario)))


def resolve_rule(rule: Rule | str) -> Rule:
    return rule if isinstance(rule, Rule) else load_rule(rule)


def build_model(
    scenario: Scenario | str | Path,
    rule: Rule | str,
    properties: Sequence[str] | None = None,
    form: str = "observational",
    strict: bool = False,
    symmetry: bool = False,
) -> MMModel:
    if form not in FORMS:
        raise InputError("--form", None, f"unknown form {form!r} (expected one of: {', '.join(FORMS)})")
    props, failing = select(list(properties) if properties else None)
    return MMModel(resolve_scenario(scenario), resolve_rule(rule), props, form, strict, failing, symmetry)


def parse_store(store: StoreSpec | str) -> StoreSpec:
    if isinstance(store, StoreSpec):
        return store
    try:
        return StoreSpec.parse(store)
    except ValueError as e:
        raise InputError("--store", None, str(e)) from None


def check_workers(n: int, option: str = "--workers") -> int:
    """A worker count, from 1 to MAX_WORKERS (engine/parallel.py says why that many)."""
    if n < 1:
        raise InputError(option, None, f"expected a positive number of worker processes, got {n}")
    if n > MAX_WORKERS:
        more = "more than the cores would only share them"
        raise InputError(option, None, f"expected at most {MAX_WORKERS} worker processes, got {n} ({more})")
    return n


def run_search(
    model: MMModel,
    bounds: Bounds,
    progress: Callable[[Stats, int], None] | None = None,
    workers: int = 1,
    store: StoreSpec | str = "exact",
    dask: str | None = None,
    por: bool = False,
    subsume: bool = True,
) -> SearchResult[MMState, Action]:
    """The serial search, the partitioned one with ``workers`` > 1, or the partitioned
    one on a Dask cluster (``dask``: ``local[:N]`` or a scheduler address; ``workers``
    > 1 then sets the number of partitions, else one per worker thread). ``subsume``
    skips states covered by one with more budget left (exact store, no ``por``)."""
    check_workers(workers)
    spec = parse_store(store)
    if stop_requested() is not None:
        # A signal ended an earlier search of this command (verify, catalog, gate run
        # many): start no more, so that the command reports what it finished.
        return SearchResult(Verdict.INCOMPLETE, Stats(), None, f"interrupted by {stop_requested()}", {})
    if por and (workers > 1 or dask is not None):
        raise InputError(
            "--por",
            None,
            "partial-order reduction runs in the serial search only (its cycle proviso needs the "
            "whole visited set); drop --workers/--dask or --por",
        )
    if dask is not None:
        return _run_dask(model, bounds, progress, spec, dask, workers if workers > 1 else None, subsume)
    if workers == 1:
        return search(model, bounds, progress, spec, por, subsume)
    return search_parallel(model, bounds, progress, spec, workers, subsume)


def _run_dask(
    model: MMModel,
    bounds: Bounds,
    progress: Callable[[Stats, int], None] | None,
    spec: StoreSpec,
    address: str,
    partitions: int | None,
    subsume: bool,
) -> SearchResult[MMState, Action]:
    try:
        from cowcheck.engine.distributed import ClusterError, search_dask
    except ImportError:
        raise InputError(
            "--dask", None, "the distributed mode needs Dask: pip install 'cowcheck[distributed]'"
        ) from None
    try:
        return search_dask(model, address, bounds, progress, spec, partitions, subsume)
    except ClusterError as e:
        raise InputError("--dask", None, str(e)) from None


def violation_trace(model: MMModel, actions: Sequence[Action], prop: str, message: str) -> Trace:
    """The trace of a violation found by the search. An UNREACHED one is a witness as
    it is (no run achieves the goal, so no shorter path shows it better, and no replay
    of one path can show it): it keeps the search's message."""
    if prop == UNREACHED:
        return replace(build_trace(model, actions), property_id=prop, message=message)
    return build_trace(model, actions, prop)


def check(
    scenario: Scenario | str | Path,
    rule: Rule | str,
    properties: Sequence[str] | None = None,
    *,
    form: str = "observational",
    strict: bool = False,
    bounds: Bounds | None = None,
    minimise: bool = True,
    progress: Callable[[Stats, int], None] | None = None,
    workers: int = 1,
    store: StoreSpec | str = "exact",
    symmetry: bool = False,
    dask: str | None = None,
    por: bool = False,
    subsume: bool = True,
) -> CheckReport:
    """Explore ``scenario`` under ``rule``; on a violation, minimise and keep the trace.

    ``workers`` > 1 runs the partitioned search in that many processes;
    ``store`` is exact, fingerprint or bitstate[:MiB]; ``symmetry`` allows process
    symmetry in open scenarios (frames, slots and tokens are always relabelled);
    ``dask`` runs the partitioned search on a Dask cluster (see ``run_search``);
    ``por`` turns on partial-order reduction (serial search only); ``subsume``
    (default) skips a state when one with the same mm and at least as much budget of
    every kind was explored (``engine/subsume.py``; exact store only, not with ``por``)."""
    bounds = bounds or Bounds()
    model = build_model(scenario, rule, properties, form, strict, symmetry)
    result = run_search(model, bounds, progress, workers, store, dask, por, subsume)
    report = CheckReport(
        model.scenario,
        model.rule,
        list(properties) if properties else [],
        form,
        strict,
        bounds,
        result,
        model,
        metrics=dict(result.metrics),
        search=SearchOptions(store_text(parse_store(store)), symmetry, por, subsume, workers),
    )
    v = result.violation
    if v is not None:
        actions = list(v.path.actions)
        report.raw_length = len(actions)
        if minimise and v.property_id != UNREACHED:
            actions = minimise_actions(model, actions, v.property_id)
        report.trace = violation_trace(model, actions, v.property_id, v.message)
    return report
