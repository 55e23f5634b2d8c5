"""``cowcheck synth BASE``: the weakest safe write-fault decision over chosen
features, by counterexample-guided inductive synthesis (CEGIS): the explicit-state
checker verifies, z3 proposes.

A candidate is ``BASE`` with ``do_wp_page`` decided by a table (``table.py``):
projections of the page's bookkeeping to reuse or copy, unseen ones reused. Each
scenario is checked under it. A violation's trace is replayed with the table's
decisions logged: every table that makes the same decisions along it gives the same
trace, and the same violation, so ``OR_i table[v_i] != d_i`` (a blocking clause)
must hold of any safe table. ``z3.Optimize`` then proposes the table that satisfies
every clause with the most reuses. No table at all (UNSAT) is an impossibility: no
decision over these features is safe on these scenarios, with the conflicting
clauses (an UNSAT core) as the proof, each with its scenario and trace.

What makes it fast: a scenario that held is checked again only if the table changed
on a vector its search asked about (its search is then the same search, so is its
verdict); the scenarios that failed last are checked first, the open ones last; one
clause from each failing scenario per round."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport, build_model, check, resolve_rule
from cowcheck.checks.catalog import run_catalog
from cowcheck.engine import SearchOptions, Verdict
from cowcheck.engine.model import UNREACHED
from cowcheck.engine.replay import replay
from cowcheck.input.bundled import scenario_files
from cowcheck.input.reuse_expr import reuse_rule
from cowcheck.input.scenario import Scenario, load_scenario
from cowcheck.input.sources import scenario_paths
from cowcheck.mm.rule import Rule
from cowcheck.synth.express import smallest
from cowcheck.synth.table import Vector, default, describe, features, hole_of, key_names, table_rule, word
from cowcheck.synth.table import holes as table_holes

Decision = tuple[Vector, bool]


@dataclass(frozen=True, slots=True)
class Clause:
    """What a counterexample forbids: not all of these decisions together."""

    decisions: tuple[Decision, ...]
    scenario: str
    report: CheckReport  # the violation, under the candidate that made these decisions


@dataclass(slots=True)
class Synthesis:
    base: Rule
    names: tuple[str, ...]
    holes: tuple[str, ...] = ("do_wp_page",)
    scenarios: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    default: bool = False  # the scenarios were the catalog's (not named)
    clauses: list[Clause] = field(default_factory=list)
    table: dict[Vector, bool] | None = None  # the constrained entries (others: their default); None: UNSAT
    core: list[Clause] = field(default_factory=list)  # UNSAT: the clauses that conflict
    rounds: int = 0
    checks: int = 0
    seconds: float = 0.0
    unsynthesisable: list[str] = field(default_factory=list)  # failing whatever the table says
    incomplete: str | None = None  # why the loop stopped before an answer (a bound, a signal, z3 unknown)
    expression: str | None = None  # the smallest --reuse expression agreeing with the table (``agrees``)
    agrees: str = ""  # on what: every entry the last searches asked, or only the constrained ones
    verified: dict[str, str] = field(default_factory=dict)  # the expression's rule, scenario -> outcome
    cows: dict[str, int] = field(default_factory=dict)  # rule -> unnecessary copies (the metric), summed

    @property
    def safe(self) -> bool:
        return self.table is not None and not self.unsynthesisable and self.incomplete is None

    def conflicts(self) -> dict[Vector, tuple[list[str], list[str]]]:
        """Each vector that one counterexample alone forbids reusing and another alone
        forbids copying: (the scenarios that force a copy, those that force a reuse)."""
        forced: dict[Vector, tuple[list[str], list[str]]] = {}
        for c in self.clauses:
            if len(c.decisions) == 1:
                v, d = c.decisions[0]
                side = forced.setdefault(v, ([], []))[0 if d else 1]  # a forbidden reuse forces a copy
                if c.scenario not in side:
                    side.append(c.scenario)
        return {v: sides for v, sides in forced.items() if sides[0] and sides[1]}

    def constrained(self) -> set[Vector]:
        return {v for c in self.clauses for v, _d in c.decisions}

    def text(self) -> str:
        head = (
            f"synth over {self.base.name} on {', '.join(self.holes)}, features {', '.join(self.names)}: "
            f"{len(self.scenarios)} scenarios, {self.rounds} rounds, {self.checks} checks, "
            f"{len(self.clauses)} counterexamples, {self.seconds:.1f}s"
        )
        lines = [head]
        for name in self.unsynthesisable:
            lines.append(f"{name}: fails whatever the holes decide (its counterexample makes no decision of theirs)")
        if self.incomplete is not None:
            lines.append(f"incomplete: {self.incomplete}; no table is claimed safe")
            return "\n".join(lines)
        if self.table is None:
            lines.append(
                "UNSAT: no decision over these features is safe on these scenarios; conflicting counterexamples:"
            )
            for c in self.core:
                ds = "; ".join(f"{describe(v, self.names)} -> {word(v, d)}" for v, d in c.decisions)
                prop = c.report.trace.property_id if c.report.trace is not None else "?"
                lines.append(f"  {c.scenario} ({prop} in {len(c.report.trace or ())} steps) forbids: {ds}")
            for v, (copies, reuses) in self.conflicts().items():
                lines.append(f"  {describe(v, self.names)}: must be copied in {', '.join(copies)}")
                lines.append(f"  {' ' * len(describe(v, self.names))}  and reused in {', '.join(reuses)}")
            return "\n".join(lines)
        cons = self.constrained()
        lines.append(
            f"{'safe table' if self.safe else 'table (not safe: see above)'}: {len(cons)} constrained entries "
            f"({sum(self.table[v] != default(v) for v in cons)} not the "
            "cheap answer), every other entry the cheap one (reuse; no unshare; share; exclusive at swap-in)"
        )
        for v in sorted(cons, key=repr):
            lines.append(f"  {word(v, self.table[v]):10}  {describe(v, self.names)}")
        if self.expression is not None:
            lines.append(f"smallest expression agreeing with {self.agrees}: --reuse '{self.expression}'")
        elif any(hole_of(v) == "do_wp_page" for v in cons):
            lines.append("no expression of up to 4 atoms agrees with the do_wp_page entries")
        if self.verified:
            bad = {k: v for k, v in self.verified.items() if v != "holds"}
            said = "holds on all" if not bad else f"fails on {len(bad)} of"
            lines.append(
                f"re-verified as one rule (the expression, the other holes by the table): "
                f"{said} {len(self.verified)} scenarios"
            )
            lines += [f"  {k}: {v}" for k, v in bad.items()]
        if self.cows:
            lines.append("unnecessary copies (the unnecessary-cow metric, summed over the synthesis scenarios):")
            lines += [f"  {k}: {v:,}" for k, v in self.cows.items()]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base.name,
            "features": list(self.names),
            "holes": list(self.holes),
            "scenarios": self.scenarios,
            "verdict": _verdict(self),
            "incomplete": self.incomplete,
            "table": None
            if self.table is None
            else [
                {"key": dict(zip(key_names(v, self.names), v, strict=True)), "decision": word(v, self.table[v])}
                for v in sorted(self.constrained(), key=repr)
            ],
            "core": [
                {
                    "scenario": c.scenario,
                    "property": c.report.trace.property_id if c.report.trace is not None else None,
                    "decisions": [
                        {"key": dict(zip(key_names(v, self.names), v, strict=True)), "forbidden": word(v, d)}
                        for v, d in c.decisions
                    ],
                    "steps": [s.label for s in c.report.trace.steps] if c.report.trace is not None else [],
                }
                for c in self.core
            ],
            "unsynthesisable": self.unsynthesisable,
            "expression": self.expression,
            "verified": self.verified,
            "unnecessary_cow": self.cows,
            "rounds": self.rounds,
            "checks": self.checks,
            "seconds": round(self.seconds, 2),
        }


def _verdict(s: Synthesis) -> str:
    if s.incomplete is not None:
        return "incomplete"
    if s.table is None:
        return "unsat"
    return "safe" if s.safe else "unsynthesisable"


@dataclass(slots=True)
class _Scenario:
    sc: Scenario
    answers: dict[Vector, bool] | None = None  # what its last search asked and was told, when it held
    last_failed: int = -1  # the round it last failed in


def _along(
    base: Rule, table: dict[Vector, bool], names: Sequence[str], at: Sequence[str], sc: Scenario, rep: CheckReport
) -> tuple[Decision, ...]:
    """The table's decisions along ``rep``'s trace, in order, each vector once."""
    assert rep.trace is not None
    log: list[Decision] = []
    model = build_model(sc, table_rule(base, table, names, log, at), rep.properties or None, rep.form, rep.strict)
    done = replay(model, [s.action for s in rep.trace.steps])
    # Replay is the search's next_step, so the trace is followed to its violation. If
    # it were not, the clause would hold a prefix's decisions only and forbid too much.
    if done.diverged_at is not None or all(p != rep.trace.property_id for _i, p, _m in done.violations):
        raise AssertionError(f"{sc.name}: a counterexample does not replay under the table that made it")
    return tuple(dict.fromkeys(log))


def synthesise(
    base: Rule | str,
    names: Sequence[str] | None = None,
    scenarios: Sequence[str | Path] | None = None,
    *,
    holes: Sequence[str] | None = None,
    strict: bool = False,
    on_round: Callable[[int, int], None] | None = None,
) -> Synthesis:
    """The weakest safe ``do_wp_page`` table over ``names`` for ``base`` on the
    scenarios (default: the bundled catalog but open-large, the largest, which a
    result should be re-verified on), or the proof that there is none."""
    import z3  # here: only synth needs the solver

    t0 = time.perf_counter()
    rule = resolve_rule(base)
    out = Synthesis(rule, features(names), table_holes(holes))
    files = scenario_paths(scenarios) if scenarios else [f for f in scenario_files() if f.stem != "open-large"]
    todo = [_Scenario(load_scenario(f)) for f in files]
    out.scenarios, out.files, out.default = [s.sc.name for s in todo], list(files), not scenarios
    var: dict[Vector, Any] = {}
    opt = z3.Optimize()
    table: dict[Vector, bool] = {}
    while True:
        out.rounds += 1
        failed_now = 0
        # The scenarios that failed last first; the open ones last.
        order = sorted(todo, key=lambda s: (s.sc.kind == "open", -s.last_failed))
        for s in order:
            if s.sc.name in out.unsynthesisable:
                continue
            if s.answers is not None and all(table.get(v, default(v)) == d for v, d in s.answers.items()):
                continue  # the same answers: the same search, and it held
            log: list[Decision] = []
            rep = check(s.sc, table_rule(rule, table, out.names, log, out.holes), strict=strict, minimise=False)
            out.checks += 1
            if rep.verdict is Verdict.INCOMPLETE:
                # A bound or a signal: nothing is known of this table, and no table is
                # called safe.
                out.incomplete = f"{s.sc.name}: {rep.result.incomplete_reason}"
                break
            if rep.verdict is not Verdict.VIOLATED or rep.trace is None:
                s.answers = dict(log)
                continue
            s.answers, s.last_failed = None, out.rounds
            if rep.trace.property_id == UNREACHED:
                # A step that runs on no run is a fact of the whole search, not of one
                # trace: the clause forbids all the answers the search was given
                # (weak, but sound: the same answers give the same search).
                decisions = tuple(dict(log).items())
            else:
                decisions = _along(rule, table, out.names, out.holes, s.sc, rep)
            if not decisions:
                out.unsynthesisable.append(s.sc.name)
                continue
            clause = Clause(decisions, s.sc.name, rep)
            out.clauses.append(clause)
            failed_now += 1
            for v, _d in decisions:
                if v not in var:
                    var[v] = z3.Bool(f"reuse[{len(var)}]")
                    opt.add_soft(var[v] if default(v) else z3.Not(var[v]), 1)
            # Tracked, though the core is found by deletion (_core): the encoding steers
            # which of the equally cheap tables z3 proposes, and this one converges on
            # the catalog in 20 rounds (BENCHMARKS.md); the answer is the same either way.
            opt.assert_and_track(
                z3.Or([var[v] != z3.BoolVal(d) for v, d in decisions]), z3.Bool(f"clause[{len(out.clauses) - 1}]")
            )
        if on_round is not None:
            on_round(out.rounds, len(out.clauses))
        if out.incomplete is not None:
            break
        if failed_now == 0:
            out.table = dict(table)
            break
        answer = opt.check()
        if answer == z3.unknown:
            out.incomplete = f"z3 answered unknown: {opt.reason_unknown()}"
            break
        if answer == z3.unsat:
            out.table = None
            out.core = _core(out.clauses, var)
            break
        m = opt.model()
        table = {v: z3.is_true(m.eval(x, model_completion=True)) for v, x in var.items()}
    if out.table is not None and out.incomplete is None:
        out.expression, out.agrees = _expression(out, todo, table)
    out.seconds = time.perf_counter() - t0
    return out


def reverify(out: Synthesis, options: SearchOptions | None = None) -> None:
    """The expression, as ``--reuse`` on the base rule, checked again: it generalises
    beyond the table, so it can fail. On every bundled scenario (open-large included)
    when the synthesis ran on the catalog, else on the scenarios it ran on."""
    if not out.safe:
        return
    rule = _final(out)
    on = None if out.default else out.files
    for row in run_catalog([rule], on, options=options):
        if not row.strict:
            out.verified[row.scenario] = row.got


def unnecessary_cows(out: Synthesis, rules: Sequence[Rule | str], options: SearchOptions | None = None) -> None:
    """The unnecessary-cow metric of the expression's rule and of ``rules``, each
    summed over the synthesis's scenarios (over the transitions each search explored:
    a rule that fails a scenario stops at its counterexample)."""
    mine: list[Rule | str] = [_final(out)] if out.safe else []
    for row in run_catalog([*mine, *rules], out.files, options=options):
        if not row.strict:
            out.cows[row.rule] = out.cows.get(row.rule, 0) + row.report.metrics.get("unnecessary-cow", 0)


def _final(out: Synthesis) -> Rule:
    """The result as a rule: do_wp_page by the expression (if there is one), every
    other hole by the table."""
    assert out.table is not None
    rule = reuse_rule(out.base, out.expression) if out.expression is not None else out.base
    others = [h for h in out.holes if h != "do_wp_page" or out.expression is None]
    if not others:
        return rule
    table = {v: d for v, d in out.table.items() if hole_of(v) in others}
    made = table_rule(rule, table, out.names, [], others)
    # Not "...+reuse(E)+table(...)": split_spec would read the expression as "E)+table(...".
    vars(made)["name"] = (
        f"{out.base.name}+table({','.join(others)})"
        if out.expression is None
        else (f"{out.base.name}+{','.join(others)}-table+reuse({out.expression})")
    )
    return made


def _expression(out: Synthesis, todo: list[_Scenario], table: dict[Vector, bool]) -> tuple[str | None, str]:
    """The smallest do_wp_page expression that gives every answer the scenarios' last
    searches were given (then those searches, and their verdicts, are the same), or
    failing that, one that agrees with the constrained entries only."""
    asked: dict[Vector, bool] = {}
    for s in todo:
        asked.update(s.answers or {})
    wp = {v: table.get(v, default(v)) for v in [*asked, *out.constrained()] if hole_of(v) == "do_wp_page"}
    if not wp:
        return None, ""
    found = smallest(wp, out.names)
    if found is not None:
        return found, "every entry the searches asked"
    cons = {v for v in out.constrained() if hole_of(v) == "do_wp_page"}
    return smallest({v: wp[v] for v in cons}, out.names), "the constrained entries only"


def _core(clauses: list[Clause], var: dict[Vector, Any]) -> list[Clause]:
    """A minimal set of clauses that no table satisfies: each clause dropped in turn
    while the rest stay unsatisfiable (few clauses, each check cheap)."""
    import z3

    def clause_expr(c: Clause) -> Any:
        return z3.Or([var[v] != z3.BoolVal(d) for v, d in c.decisions])

    keep = list(range(len(clauses)))
    for i in list(keep):  # deletion-based minimisation: few clauses, cheap checks
        trial = [j for j in keep if j != i]
        s = z3.Solver()
        s.add([clause_expr(clauses[j]) for j in trial])
        if s.check() == z3.unsat:
            keep = trial
    return [clauses[j] for j in keep]
