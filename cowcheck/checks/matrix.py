"""The history table: rules x scenarios, each cell a verdict with its evidence."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

    @property
    def mismatches(self) -> list[Cell]:
        return [c for c in self.cells.values() if not c.ok]

    def grid(self) -> list[list[str]]:
        return [[s, *(self.cells[s, r].symbol() for r in self.rules)] for s in self.scenarios]

    def text(self) -> str:
        return plain_table(["scenario", *self.rules], self.grid())

    def markdown(self) -> str:
        head = ["scenario", *(f"`{r}`" for r in self.rules)]
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join([f"`{g[0]}`", *g[1:]]) + " |" for g in self.grid()]
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": list(self.rules),
            "scenarios": list(self.scenarios),
            "seconds": round(self.seconds, 2),
            "cells": [
                {
                    "scenario": c.scenario,
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
) -> Matrix:
    """The catalog's rows as a table (``run_catalog``: the bundled catalog, or the
    scenario and rule files ``paths`` name; ``options.workers`` > 1 runs the cells in
    that many processes)."""
    t0 = time.perf_counter()
    cells: dict[tuple[str, str], Cell] = {}

    def add(row: CatalogRow) -> None:
        c = Cell.of(row)
        cells[c.scenario, c.rule] = c
        if on_cell is not None:
            on_cell(c)
        if on_row is not None:
            on_row(row)

    rows = run_catalog(rules, scenarios, options, add, paths=paths, on_done=on_done)
    rule_names = tuple(dict.fromkeys(r.rule for r in rows))
    scen = tuple(dict.fromkeys(s for s, _r in cells))
    return Matrix(rule_names, scen, cells, time.perf_counter() - t0)


def plain_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a rule under the heading: for terminals
    and for pasting into mail."""
    table = [list(head), *map(list, rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
