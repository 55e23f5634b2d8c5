"""``verify``: one rule against the whole catalog, property by property.

A run with several properties stops at the first violation, which says nothing
about the others. So each scenario is run with every default property; when one is
violated it is recorded and the scenario runs again without it, until the rest hold
or are violated too. Every ✓ in the table is an exhaustive run in which that
property was checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cowcheck.api import CheckReport, check, resolve_rule
from cowcheck.checks.matrix import FAILS, HOLDS, UNKNOWN, plain_table
from cowcheck.engine import STUCK, UNREACHED, SearchOptions, Verdict
from cowcheck.input.bundled import find_scenario, scenario_files
from cowcheck.input.properties import all_properties
from cowcheck.input.scenario import load_scenario
from cowcheck.mm.rule import Rule


@dataclass(frozen=True, slots=True)
class VerifyCell:
    verdict: Verdict
    length: int | None = None

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

    @property
    def verdict(self) -> Verdict:
        vs = {c.verdict for c in self.cells.values()}
        if Verdict.VIOLATED in vs:
            return Verdict.VIOLATED
        return Verdict.INCOMPLETE if Verdict.INCOMPLETE in vs else Verdict.HOLDS

    def shortest(self) -> CheckReport | None:
        with_trace = [r for r in self.violations if r.trace is not None]
        return min(with_trace, key=lambda r: len(r.trace or ()), default=None)

    def text(self) -> str:
        rows = [[s, *(self.cells[s, p].symbol() for p in self.properties)] for s in self.scenarios]
        return plain_table(["scenario", *self.properties], rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "verdict": self.verdict.value,
            "properties": list(self.properties),
            "seconds": round(self.seconds, 2),
            "cells": [
                {"scenario": s, "property": p, "verdict": c.verdict.value, "length": c.length}
                for (s, p), c in self.cells.items()
            ],
            "violations": [r.to_json() for r in self.violations],
        }


def default_property_ids() -> tuple[str, ...]:
    return tuple(p.id for p in all_properties().values() if not p.metric)


# The column of the built-in check that every run of a litmus program finishes it and
# every step runs somewhere (engine STUCK and UNREACHED): it cannot be left out of a
# run, so its failure leaves the scenario's other properties unchecked (?).
RUNS_END = STUCK


def verify(
    rule: Rule | str,
    scenarios: Sequence[str | Path] | None = None,
    *,
    strict: bool = False,
    options: SearchOptions | None = None,
    on_run: Callable[[CheckReport], None] | None = None,
) -> Verification:
    """``rule`` against every scenario (or these), each run searched as ``options`` say."""
    t0 = time.perf_counter()
    r = resolve_rule(rule)
    props = default_property_ids()
    out = Verification(r, (*props, RUNS_END))
    for f in [find_scenario(str(s)) for s in scenarios] if scenarios else scenario_files():
        sc = load_scenario(f)
        out.scenarios.append(sc.name)
        left = list(props)
        while left:
            rep = check(sc, r, left, strict=strict, options=options)
            out.runs.append(rep)
            if on_run is not None:
                on_run(rep)
            pid = rep.trace.property_id if rep.trace is not None else None
            if rep.verdict is Verdict.VIOLATED and rep.trace is not None and pid in (STUCK, UNREACHED):
                out.cells[sc.name, RUNS_END] = VerifyCell(Verdict.VIOLATED, len(rep.trace))
                out.violations.append(rep)
                for p in left:
                    out.cells[sc.name, p] = VerifyCell(Verdict.INCOMPLETE)
                break
            if rep.verdict is not Verdict.VIOLATED or rep.trace is None or pid not in left:
                for p in [*left, RUNS_END]:
                    out.cells[sc.name, p] = VerifyCell(rep.verdict)
                break
            assert pid is not None
            out.cells[sc.name, pid] = VerifyCell(Verdict.VIOLATED, len(rep.trace))
            out.violations.append(rep)
            left.remove(pid)
        # Every property violated: no run went to the end, so none showed that runs end.
        out.cells.setdefault((sc.name, RUNS_END), VerifyCell(Verdict.INCOMPLETE))
    out.seconds = time.perf_counter() - t0
    return out
