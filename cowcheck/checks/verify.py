"""``verify``: one rule against the whole catalog, property by property.

A run with several properties stops at the first violation, which says nothing
about the others. So each scenario is run with every default property; when one is
violated it is recorded and the scenario runs again without it, until the rest hold
or are violated too. Every ✓ in the table is an exhaustive run in which that
property was checked.

A user's rule (a rule file, a --reuse rule) is shown as its file describes it, and
each of its failures is compared with its base rule in the same cell: new where the
base holds, inherited where the base fails too. The base runs only where the rule
fails, on the properties it fails: on the bundled catalog, for a rule that fails ten
cells of nine scenarios, that cost a fifth of the rule's own verify (67 s after
380 s, one process), where the base's whole verify costs about two thirds of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport, check
from cowcheck.checks.catalog import Job, run_pool
from cowcheck.checks.matrix import FAILS, HOLDS, UNKNOWN, plain_table
from cowcheck.engine import STUCK, UNREACHED, SearchOptions, Verdict
from cowcheck.engine.signals import stop_requested
from cowcheck.errors import InputError
from cowcheck.families import DEFAULT as DEFAULT_FAMILY
from cowcheck.families import family, family_of_rule, load_any_rule, load_scenario
from cowcheck.input.scenario import Scenario
from cowcheck.input.sources import base_rule, own_description, own_rule_file, scenario_paths
from cowcheck.mm.rule import Rule

# How a failure of a user's rule compares with its base rule (``Verification.base``)
# in the same cell: the base holds there, fails there too, or did not finish there.
NEW, INHERITED, UNKNOWN_ORIGIN = "new", "inherited", "unknown"


@dataclass(frozen=True, slots=True)
class VerifyCell:
    verdict: Verdict
    length: int | None = None
    # A violation of a rule with a base: NEW, INHERITED or UNKNOWN_ORIGIN; else None.
    origin: str | None = None

    def symbol(self) -> str:
        if self.verdict is Verdict.HOLDS:
            return HOLDS
        if self.verdict is Verdict.INCOMPLETE:
            return UNKNOWN
        return f"{FAILS} ({self.length})"


@dataclass(slots=True)
class Verification:
    rule: Rule
    properties: tuple[str, ...]
    scenarios: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], VerifyCell] = field(default_factory=dict)
    violations: list[CheckReport] = field(default_factory=list)
    runs: list[CheckReport] = field(default_factory=list)
    seconds: float = 0.0
    # A user's rule (a rule file, --reuse): the rule it starts from, and that rule's
    # cells where this one fails (``base_cells``), from ``base_runs``.
    base: Rule | None = None
    base_cells: dict[tuple[str, str], VerifyCell] = field(default_factory=dict)
    base_runs: list[CheckReport] = field(default_factory=list)
    base_seconds: float = 0.0

    @property
    def verdict(self) -> Verdict:
        vs = {c.verdict for c in self.cells.values()}
        if Verdict.VIOLATED in vs:
            return Verdict.VIOLATED
        return Verdict.INCOMPLETE if Verdict.INCOMPLETE in vs else Verdict.HOLDS

    @property
    def heading(self) -> str:
        """The rule as the user wrote it: a built-in rule's ``describe()`` (name, title,
        kernel versions); a user's rule's own name and description, its own kernel
        versions if it states any, its file and its base rule (never the base's
        kernel versions, which it inherits as class attributes)."""
        if self.base is None and own_rule_file(self.rule) is None:
            return self.rule.describe()
        return own_description(self.rule, self.base)

    def failures(self) -> list[tuple[str, str, VerifyCell]]:
        """Every violated cell, (scenario, property, cell), in table order."""
        return [
            (s, p, c)
            for s in self.scenarios
            for p in self.properties
            if (c := self.cells.get((s, p))) is not None and c.verdict is Verdict.VIOLATED
        ]

    def origin_text(self, cell: VerifyCell) -> str:
        """``new``, ``inherited from BASE`` or ``unknown: BASE incomplete``."""
        base = self.base.name if self.base is not None else "the base rule"
        if cell.origin == INHERITED:
            return f"inherited from {base}"
        if cell.origin == NEW:
            return f"new ({base} holds)"
        return f"unknown ({base} did not finish)"

    def shortest(self) -> CheckReport | None:
        with_trace = [r for r in self.violations if r.trace is not None]
        return min(with_trace, key=lambda r: len(r.trace or ()), default=None)

    def table(self) -> str:
        rows = [[s, *(self.cells[s, p].symbol() for p in self.properties)] for s in self.scenarios]
        return plain_table(["scenario", *self.properties], rows)

    def failures_table(self) -> str:
        """Each failure of a user's rule marked new or inherited from its base rule;
        empty for a built-in rule, or with no failure."""
        marked = [(s, p, c) for s, p, c in self.failures() if c.origin is not None]
        if self.base is None or not marked:
            return ""
        rows = [[s, p, str(c.length) if c.length is not None else "-", self.origin_text(c)] for s, p, c in marked]
        counts = {o: sum(c.origin == o for _s, _p, c in marked) for o in (NEW, INHERITED, UNKNOWN_ORIGIN)}
        said = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        head = f"failures against the base rule {self.base.name}: {said}"
        return head + "\n" + plain_table(["scenario", "property", "steps", "origin"], rows)

    def text(self) -> str:
        """The heading, the table, and (a user's rule) its failures marked new or
        inherited: what ``cowcheck verify`` prints before the shortest counterexample."""
        parts = [self.heading, self.table()]
        marked = self.failures_table()
        if marked:
            parts.append(marked)
        return "\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        f = own_rule_file(self.rule)
        return {
            "rule": self.rule.name,
            "description": self.heading,
            "rule_file": str(f) if f is not None else None,
            "base": self.base.name if self.base is not None else None,
            "verdict": self.verdict.value,
            "properties": list(self.properties),
            "seconds": round(self.seconds, 2),
            "base_seconds": round(self.base_seconds, 2),
            "cells": [
                {"scenario": s, "property": p, "verdict": c.verdict.value, "length": c.length, "origin": c.origin}
                for (s, p), c in self.cells.items()
            ],
            "violations": [r.to_json() for r in self.violations],
        }


def default_property_ids(family_name: str = DEFAULT_FAMILY) -> tuple[str, ...]:
    """Every property a family checks by default (the anon family's metrics aside)."""
    return tuple(family(family_name).property_ids())


# The column of the built-in check that every run of a litmus program finishes it and
# every step runs somewhere (engine STUCK and UNREACHED): it cannot be left out of a
# run, so its failure leaves the scenario's other properties unchecked (?).
RUNS_END = STUCK


@dataclass(slots=True)
class _Runs:
    """One scenario's runs under one rule: the properties not yet decided."""

    sc: Scenario
    left: list[str]
    cells: dict[tuple[str, str], VerifyCell]
    violations: list[CheckReport]

    def take(self, rep: CheckReport) -> bool:
        """One run's verdict into the cells; True when the scenario is decided."""
        name, left = self.sc.name, self.left
        pid = rep.trace.property_id if rep.trace is not None else None
        if rep.verdict is Verdict.VIOLATED and rep.trace is not None and pid in (STUCK, UNREACHED):
            self.cells[name, RUNS_END] = VerifyCell(Verdict.VIOLATED, len(rep.trace))
            self.violations.append(rep)
            for p in left:
                self.cells[name, p] = VerifyCell(Verdict.INCOMPLETE)
            left.clear()
        elif rep.verdict is not Verdict.VIOLATED or rep.trace is None or pid not in left:
            for p in [*left, RUNS_END]:
                self.cells[name, p] = VerifyCell(rep.verdict)
            left.clear()
        else:
            self.cells[name, pid] = VerifyCell(Verdict.VIOLATED, len(rep.trace))
            self.violations.append(rep)
            left.remove(pid)
        if left:
            return False
        # Every property violated: no run went to the end, so none showed that runs end.
        self.cells.setdefault((name, RUNS_END), VerifyCell(Verdict.INCOMPLETE))
        return True


def _run_all(
    todo: list[_Runs],
    rule: Rule,
    strict: bool,
    options: SearchOptions,
    on_run: Callable[[CheckReport], None] | None,
    runs: list[CheckReport],
) -> None:
    """Each scenario's runs until it is decided: one scenario after another in this
    process, or with ``options.workers`` > 1 in waves over a pool of that many
    processes (``catalog.run_pool``), every undecided scenario's next run in each
    wave, the open scenarios with the partitioned search."""

    def took(r: _Runs, rep: CheckReport) -> bool:
        runs.append(rep)
        if on_run is not None:
            on_run(rep)
        return r.take(rep)

    workers, one = options.workers, replace(options, workers=1)
    pending = [r for r in todo if r.left]
    while pending:
        if workers > 1 and stop_requested() is None:
            jobs: list[Job] = [(r.sc, rule, strict, one, tuple(r.left)) for r in pending]
            heavy = [r.sc.kind == "open" for r in pending]
            reports = run_pool(jobs, workers, [None] * len(jobs), heavy=heavy)
            pending = [r for r, rep in zip(pending, reports, strict=True) if not took(r, rep)]
        else:
            # One process (or a signal came: each check then ends at once, incomplete).
            for r in pending:
                while not took(r, check(r.sc, rule, r.left, strict=strict, options=options)):
                    pass
            pending = []


def verify(
    rule: Rule | str,
    scenarios: Sequence[str | Path] | None = None,
    *,
    strict: bool = False,
    options: SearchOptions | None = None,
    on_run: Callable[[CheckReport], None] | None = None,
    against_base: bool = True,
) -> Verification:
    """``rule`` against every scenario (or these: bundled names, scenario files,
    directories of them, ``input/sources.py``), each run searched as ``options`` say;
    with ``options.workers`` > 1 the scenarios run in that many processes.

    A user's rule (a rule file, a --reuse rule) with a base rule (``sources.base_rule``):
    unless ``against_base`` is False, the base rule then runs on the scenarios where
    this one fails, on the properties it fails (all of them where its runs do not
    end), and each failure is marked NEW (the base holds there), INHERITED (the base
    fails there too) or UNKNOWN_ORIGIN (the base's run did not finish). ``on_run``
    sees the base rule's runs too (their reports name their rule)."""
    t0 = time.perf_counter()
    opts = options or SearchOptions()
    r = load_any_rule(rule) if isinstance(rule, str) else rule
    fam = family_of_rule(r)
    props = default_property_ids(fam.name)
    out = Verification(r, (*props, RUNS_END), base=base_rule(r))
    files = scenario_paths(scenarios) if scenarios else fam.scenario_files()
    todo: list[_Runs] = []
    for f in files:
        sc = load_scenario(f)
        if sc.family != fam.name:
            raise InputError(
                sc.path,
                "family",
                f"a scenario of the {sc.family} family, and {r.name} a rule of the {fam.name} family "
                f"(expected a {fam.name} scenario)",
            )
        if sc.name in out.scenarios:
            raise InputError(sc.path, "name", f"{sc.name!r} is also the name of another scenario of this run")
        out.scenarios.append(sc.name)
        todo.append(_Runs(sc, list(props), out.cells, out.violations))
    _run_all(todo, r, strict, opts, on_run, out.runs)
    # In scenario order, whatever order the processes finished in: the same lists,
    # JSON and shortest counterexample with -j 1 and -j N (sort is stable: a
    # scenario's runs keep their order).
    order = {name: i for i, name in enumerate(out.scenarios)}
    out.runs.sort(key=lambda rep: order[rep.scenario.name])
    out.violations.sort(key=lambda rep: order[rep.scenario.name])
    out.seconds = time.perf_counter() - t0
    if out.base is not None and against_base and stop_requested() is None:
        _against_base(out, todo, strict, opts, on_run)
    return out


def _against_base(
    out: Verification,
    todo: list[_Runs],
    strict: bool,
    options: SearchOptions,
    on_run: Callable[[CheckReport], None] | None,
) -> None:
    """The base rule where ``out.rule`` fails, and each failure's origin."""
    assert out.base is not None
    t0 = time.perf_counter()
    base_todo: list[_Runs] = []
    for r in todo:
        failed = [p for p in out.properties if out.cells[r.sc.name, p].verdict is Verdict.VIOLATED]
        if not failed:
            continue
        # Only the failed properties: a run that holds is as long, but the base's
        # other failures cost no runs. A run that does not end is checked by every
        # run, but only one that is not stopped first by a property: all of them.
        left = list(default_property_ids(family_of_rule(out.rule).name)) if RUNS_END in failed else failed
        base_todo.append(_Runs(r.sc, left, out.base_cells, []))
    _run_all(base_todo, out.base, strict, options, on_run, out.base_runs)
    order = {name: i for i, name in enumerate(out.scenarios)}
    out.base_runs.sort(key=lambda rep: order[rep.scenario.name])
    for key, c in list(out.cells.items()):
        if c.verdict is not Verdict.VIOLATED:
            continue
        b = out.base_cells.get(key)
        origin = (
            INHERITED
            if b is not None and b.verdict is Verdict.VIOLATED
            else NEW
            if b is not None and b.verdict is Verdict.HOLDS
            else UNKNOWN_ORIGIN
        )
        out.cells[key] = replace(c, origin=origin)
    out.base_seconds = time.perf_counter() - t0
    out.seconds += out.base_seconds
