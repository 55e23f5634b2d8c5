"""The library API: what the CLI calls, and what tests and notebooks can call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cowcheck.checks.minimise import minimise as minimise_actions
from cowcheck.engine import UNREACHED, Bounds, SearchOptions, SearchResult, Stats, Verdict, explore
from cowcheck.engine.signals import stop_requested
from cowcheck.errors import InputError
from cowcheck.families import DEFAULT as DEFAULT_FAMILY
from cowcheck.families import family, load_any_rule, load_scenario, misfit
from cowcheck.input.bundled import find_scenario
from cowcheck.input.scenario import Scenario
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.property import FORMS
from cowcheck.mm.rule import Rule
from cowcheck.mm.state import MMState
from cowcheck.report.counterexample import Trace, build_trace
from cowcheck.report.repro import CheckOptions, non_default, rule_ref, scenario_ref, search_text

if TYPE_CHECKING:
    from cowcheck.report.document import Shown


@dataclass(slots=True)
class CheckReport:
    """One check's verdict, with what decided it: the question (scenario, rule,
    properties, form, contract) and the options its search ran with."""

    scenario: Scenario
    rule: Rule
    properties: list[str]  # as requested; empty means the defaults
    form: str
    strict: bool
    search: SearchOptions  # how it ran: the bounds, the store, the reductions, the transport
    result: SearchResult[MMState, Action]
    model: MMModel
    trace: Trace | None = None
    raw_length: int | None = None  # BFS path length before minimisation
    metrics: dict[str, int] = field(default_factory=dict)

    @property
    def bounds(self) -> Bounds:
        return self.search.bounds

    @property
    def searched(self) -> SearchOptions:
        """The options as the search ran, with the real worker count: a report built by
        a pool (checks/catalog.run_pool) ran partitioned without saying so in ``search``."""
        s = self.search
        if self.stats.workers != s.workers and not self.stats.cluster:
            return replace(s, workers=self.stats.workers)
        return s

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
        return CheckOptions(
            scenario_ref(self.scenario), rule, reuse, self.strict, tuple(self.properties), self.form, self.searched
        )

    @property
    def command(self) -> str:
        """The command that gives this verdict again (report/repro.py: one builder for all)."""
        return self.options.command

    def shown(self) -> Shown | None:
        """The counterexample with its command and options, for ``show`` and reports."""
        if self.trace is None:
            return None
        from cowcheck.report.document import Shown  # here: a check that holds draws nothing

        return Shown(self.title, self.trace, self.command, search=non_default(self.searched))

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
        # The options: beside "holds" always (bounds_text), elsewhere where not the defaults.
        search = non_default(self.searched)
        search = f"; {search}" if search else ""
        if self.verdict is Verdict.HOLDS:
            store = "" if st.store.startswith("exact") else f"; {st.store}"
            return f"holds: {head}: {figures}; bounds: {self.bounds_text()}{store}; reproduce: {self.command}"
        if self.verdict is Verdict.INCOMPLETE:
            return (
                f"incomplete: {head}: {self.result.incomplete_reason}; explored {figures}{search}; "
                f"nothing found, but not every state within the bounds was explored; reproduce: {self.command}"
            )
        assert self.trace is not None
        return (
            f"violated: {head}: {self.trace.property_id} in {len(self.trace)} steps "
            f"(shortest found by BFS: {self.raw_length}); explored {figures}{search}; reproduce: {self.command}"
        )

    def bounds_text(self) -> str:
        parts = self.scenario.bounds_parts()
        parts.append(search_text(self.searched))  # "search bounds: ...", then the other options
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        st, s = self.stats, self.searched
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
            "options": {**s.to_json(), "max_memory_mb": s.bounds.max_memory_mb, "dask": s.dask},
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
    if not isinstance(scenario, (str, Path)):
        return scenario  # a loaded scenario, of any family
    sc: Scenario = load_scenario(find_scenario(str(scenario)))  # by its family's loader (families/)
    return sc


def resolve_rule(rule: Rule | str, family_name: str = DEFAULT_FAMILY) -> Rule:
    if not isinstance(rule, str):
        return rule
    # Any family's: a rule of another family than the scenario's is said so by name.
    got: Rule = load_any_rule(rule)
    return got


def build_model(
    scenario: Scenario | str | Path,
    rule: Rule | str,
    properties: Sequence[str] | None = None,
    form: str = "observational",
    strict: bool = False,
) -> MMModel:
    """The model of ``scenario`` under ``rule``, built by the scenario's family
    (``families/``): its rules, its properties, its model."""
    if form not in FORMS:
        raise InputError("--form", None, f"unknown form {form!r} (expected one of: {', '.join(FORMS)})")
    sc = resolve_scenario(scenario)
    fam = family(sc.family)
    r = resolve_rule(rule, fam.name)
    wrong = misfit(r, sc)
    if wrong is not None:
        raise InputError("--rule", None, wrong)
    props, failing = fam.select_properties(properties)
    # Typed as the anon family's model, whose attributes the reports read; a second
    # family's model offers the same ones they use (actor_name, step_label, scenario,
    # rule, properties, litmus).
    model: MMModel = fam.build_model(sc, r, props, form, strict, failing)  # type: ignore[assignment]
    return model


def run_search(
    model: MMModel, options: SearchOptions | None = None, progress: Callable[[Stats, int], None] | None = None
) -> SearchResult[MMState, Action]:
    """``model`` explored as ``options`` say (``engine.explore``: it checks them first,
    an ``OptionError`` naming the option at fault)."""
    if stop_requested() is not None:
        # A signal ended an earlier search of this command (verify, catalog, gate run
        # many): start no more, so that the command reports what it finished.
        return SearchResult(Verdict.INCOMPLETE, Stats(), None, f"interrupted by {stop_requested()}", {})
    return explore(model, options, progress)


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
    options: SearchOptions | None = None,
    minimise: bool = True,
    progress: Callable[[Stats, int], None] | None = None,
) -> CheckReport:
    """Explore ``scenario`` under ``rule`` as ``options`` say (``engine.SearchOptions``:
    the bounds, the store, the reductions, the workers or Dask cluster; the defaults:
    an exhaustive serial search with subsumption); on a violation, minimise and keep
    the trace."""
    opts = options or SearchOptions()
    sc = resolve_scenario(scenario)  # the model keeps only its world (mm/world.py)
    model = build_model(sc, rule, properties, form, strict)
    result = run_search(model, opts, progress)
    report = CheckReport(
        sc,
        model.rule,
        list(properties) if properties else [],
        form,
        strict,
        opts,
        result,
        model,
        metrics=dict(result.metrics),
    )
    v = result.violation
    if v is not None:
        actions = list(v.path.actions)
        report.raw_length = len(actions)
        if minimise and v.property_id != UNREACHED:
            actions = minimise_actions(model, actions, v.property_id)
        report.trace = violation_trace(model, actions, v.property_id, v.message)
    return report
