"""Running the bundled catalog against the verdicts its scenario files expect."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cowcheck.api import CheckReport, check, resolve_rule
from cowcheck.catalog import scenario_files
from cowcheck.engine import Bounds, Verdict
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


def run_catalog(
    rules: Sequence[Rule | str] | None = None,
    scenarios: Sequence[str | Path] | None = None,
    bounds: Bounds | None = None,
    on_row: Callable[[CatalogRow], None] | None = None,
) -> list[CatalogRow]:
    resolved = [resolve_rule(r) for r in rules] if rules else list(builtin_rules().values())
    files = [Path(s) for s in scenarios] if scenarios else scenario_files()
    rows: list[CatalogRow] = []
    for f in files:
        sc: Scenario = load_scenario(f)
        for strict in (False, True):
            table = sc.expect_strict if strict else sc.expect
            if strict and not table:
                continue
            for rule in resolved:
                rep = check(sc, rule, strict=strict, bounds=bounds)
                row = CatalogRow(sc.name, rule.name, strict, table.get(rule.name), rep)
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    return rows
