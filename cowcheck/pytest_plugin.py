"""The pytest plugin (entry point ``pytest11: cowcheck``): verdicts as assertions.

    from cowcheck.pytest_plugin import assert_holds, assert_violates

    def test_my_rule_keeps_odirect_reads():
        assert_holds("rules/my_rule.py", "odirect-swap")

    def test_page_count_loses_the_read():
        assert_violates("page-count", "odirect-clear-refs", "wrong-cow")

A failed assertion's message is the rendered counterexample, as ``cowcheck check``
prints it. The plugin also offers both as the ``cowcheck`` fixture.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from cowcheck.api import CheckReport, check
from cowcheck.engine import Bounds, SearchOptions, Verdict
from cowcheck.input.scenario import Scenario
from cowcheck.mm.rule import Rule
from cowcheck.report.diagram import render_columns


def _run(
    rule: Rule | str,
    scenario: Scenario | str | Path,
    properties: Sequence[str] | None,
    strict: bool,
    max_states: int | None,
    timeout: float | None,
) -> CheckReport:
    options = SearchOptions(Bounds(max_states=max_states, timeout=timeout))
    return check(scenario, rule, properties, strict=strict, options=options)


def _trace(rep: CheckReport) -> str:
    assert rep.trace is not None
    return render_columns(rep.trace, rep.title)


def assert_holds(
    rule: Rule | str,
    scenario: Scenario | str | Path,
    properties: Sequence[str] | None = None,
    *,
    strict: bool = False,
    max_states: int | None = None,
    timeout: float | None = None,
) -> CheckReport:
    """Every state within the bounds was explored and no property failed."""
    __tracebackhide__ = True
    rep = _run(rule, scenario, properties, strict, max_states, timeout)
    if rep.verdict is Verdict.VIOLATED:
        pytest.fail(f"{rep.summary()}\n\n{_trace(rep)}", pytrace=False)
    if rep.verdict is Verdict.INCOMPLETE:
        pytest.fail(f"not verified: {rep.summary()}", pytrace=False)
    return rep


def assert_violates(
    rule: Rule | str,
    scenario: Scenario | str | Path,
    property_id: str | None = None,
    *,
    properties: Sequence[str] | None = None,
    strict: bool = False,
    max_states: int | None = None,
    timeout: float | None = None,
) -> CheckReport:
    """The search finds a counterexample (of ``property_id``, where given)."""
    __tracebackhide__ = True
    rep = _run(rule, scenario, properties, strict, max_states, timeout)
    if rep.verdict is not Verdict.VIOLATED:
        pytest.fail(
            f"expected a violation{f' of {property_id}' if property_id else ''}: {rep.summary()}", pytrace=False
        )
    assert rep.trace is not None
    if property_id is not None and rep.trace.property_id != property_id:
        pytest.fail(f"expected {property_id}, found {rep.trace.property_id}:\n\n{_trace(rep)}", pytrace=False)
    return rep


@pytest.fixture
def cowcheck() -> SimpleNamespace:
    """``cowcheck.assert_holds(...)`` and ``cowcheck.assert_violates(...)``."""
    return SimpleNamespace(assert_holds=assert_holds, assert_violates=assert_violates)
