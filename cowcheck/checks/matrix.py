"""The history table: rules x scenarios, each cell a verdict with its evidence."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cowcheck.checks.catalog import CatalogRow, Tally, run_catalog
from cowcheck.engine import SearchOptions
from cowcheck.mm.rule import Rule

HOLDS, FAILS, UNKNOWN = "✓", "✗", "?"


@dataclass(frozen=True, slots=True)
class Cell:
    scenario: str  # with " --strict" appended for the strict contract
    rule: str
    expected: str | None
    got: str  # "holds", "incomplete" or the violated property
    length: int | None  # steps of the minimised counterexample
    states: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.expected is None or self.expected == self.got

    def symbol(self) -> str:
        if self.got == "holds":
            return HOLDS
        if self.got == "incomplete":
            return UNKNOWN
        return f"{FAILS} {self.got} ({self.length})"

    @classmethod
    def of(cls, row: CatalogRow) -> Cell:
        rep = row.report
        return cls(
            row.scenario + (" --strict" if row.strict else ""),
            row.rule,
            row.expected,
            row.got,
            len(rep.trace) if rep.trace is not None else None,
            rep.stats.states,
            rep.stats.seconds,
        )


@dataclass(frozen=True, slots=True)
class Matrix:
    rules: tuple[str, ...]
    scenarios: tuple[str, ...]
    cells: dict[tuple[str, str], Cell]
    seconds: float  # wall time of the whole run
    # Each scenario's and each rule's family (families/): a table per family, since a
    # rule decides only its own family's kernel paths.
    family: dict[str, str] = field(default_factory=dict)

    @property
    def mismatches(self) -> list[Cell]:
        return [c for c in self.cells.values() if not c.ok]

    def only(self, family_name: str) -> Matrix:
        """This matrix's table of one family."""
        rules = tuple(r for r in self.rules if self.family.get(r) == family_name)
        scen = tuple(s for s in self.scenarios if self.family.get(s) == family_name)
        cells = {k: c for k, c in self.cells.items() if k[0] in scen and k[1] in rules}
        fam = {k: v for k, v in self.family.items() if v == family_name}
        return Matrix(rules, scen, cells, self.seconds, fam)

    def tables(self) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        """(family, rules, scenarios) of each family's table, in the catalog's order."""
        names = list(dict.fromkeys(self.family.get(s, "") for s in self.scenarios))
        return [
            (
                f,
                tuple(
                    r
                    for r in self.rules
                    if self.family.get(r, "") == f and any((s, r) in self.cells for s in self.scenarios)
                ),
                tuple(s for s in self.scenarios if self.family.get(s, "") == f),
            )
            for f in names
        ]

    def grid(self, rules: Sequence[str] | None = None, scenarios: Sequence[str] | None = None) -> list[list[str]]:
        rs, ss = rules if rules is not None else self.rules, scenarios if scenarios is not None else self.scenarios
        return [[s, *(self.cells[s, r].symbol() if (s, r) in self.cells else "" for r in rs)] for s in ss]

    def _heading(self, f: str) -> str:
        from cowcheck.families import family

        return f"{f}: {family(f).title}" if f else ""

    def text(self) -> str:
        parts = self.tables()
        if len(parts) <= 1:
            return plain_table(["scenario", *self.rules], self.grid())
        return "\n\n".join(
            f"{self._heading(f)}\n" + plain_table(["scenario", *rs], self.grid(rs, ss)) for f, rs, ss in parts
        )

    def markdown(self) -> str:
        parts = self.tables()
        if len(parts) <= 1:
            return self._markdown(self.rules, self.scenarios)
        return "\n\n".join(f"**{self._heading(f)}**\n\n" + self._markdown(rs, ss) for f, rs, ss in parts)

    def _markdown(self, rules: Sequence[str], scenarios: Sequence[str]) -> str:
        head = ["scenario", *(f"`{r}`" for r in rules)]
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join([f"`{g[0]}`", *g[1:]]) + " |" for g in self.grid(rules, scenarios)]
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": list(self.rules),
            "scenarios": list(self.scenarios),
            "seconds": round(self.seconds, 2),
            "cells": [
                {
                    "scenario": c.scenario,
                    "family": self.family.get(c.scenario, ""),
                    "rule": c.rule,
                    "verdict": c.got,
                    "length": c.length,
                    "expected": c.expected,
                    "states": c.states,
                    "seconds": round(c.seconds, 3),
                }
                for c in self.cells.values()
            ],
        }

    def render(self, fmt: str) -> str:
        if fmt == "md":
            return self.markdown()
        if fmt == "json":
            return json.dumps(self.to_json(), indent=2, ensure_ascii=False)
        return self.text()


FORMATS = ("text", "md", "json")


def run_matrix(
    rules: Sequence[Rule | str] | None = None,
    scenarios: Sequence[str | Path] | None = None,
    options: SearchOptions | None = None,
    on_cell: Callable[[Cell], None] | None = None,
    on_row: Callable[[CatalogRow], None] | None = None,
    *,
    paths: Sequence[str | Path] | None = None,
    on_done: Tally | None = None,
    family_name: str | None = None,
) -> Matrix:
    """The catalog's rows as a table (``run_catalog``: the bundled catalog, or the
    scenario and rule files ``paths`` name; ``options.workers`` > 1 runs the cells in
    that many processes)."""
    t0 = time.perf_counter()
    cells: dict[tuple[str, str], Cell] = {}
    fam: dict[str, str] = {}

    def add(row: CatalogRow) -> None:
        c = Cell.of(row)
        cells[c.scenario, c.rule] = c
        fam[c.scenario] = fam[c.rule] = row.report.scenario.family
        if on_cell is not None:
            on_cell(c)
        if on_row is not None:
            on_row(row)

    rows = run_catalog(rules, scenarios, options, add, paths=paths, on_done=on_done, family_name=family_name)
    rule_names = tuple(dict.fromkeys(r.rule for r in rows))
    scen = tuple(dict.fromkeys(s for s, _r in cells))
    return Matrix(rule_names, scen, cells, time.perf_counter() - t0, fam)


def plain_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a rule under the heading: for terminals
    and for pasting into mail."""
    table = [list(head), *map(list, rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
