"""The catalog against the verdicts written in its scenario files, in both forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from cowcheck.api import check
from cowcheck.catalog import scenario_files
from cowcheck.engine import Verdict
from cowcheck.expectations import outcome
from cowcheck.rules import builtin_rules
from cowcheck.scenario import load_scenario

RULES = list(builtin_rules())
CASES = [
    (f, rule, strict)
    for f in scenario_files()
    for strict in (False, True)
    for rule in RULES
    if (load_scenario(f).expect_strict if strict else load_scenario(f).expect).get(rule)
]


def _id(case: tuple[Path, str, bool]) -> str:
    f, rule, strict = case
    return f"{f.stem}-{rule}{'-strict' if strict else ''}"


def test_every_scenario_states_a_verdict_for_every_rule() -> None:
    for f in scenario_files():
        sc = load_scenario(f)
        assert set(sc.expect) == set(RULES), f"{f.name} must state a verdict per rule"
        assert sc.source and sc.description, f"{f.name} must say what it models and where from"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_expected_verdict(case: tuple[Path, str, bool]) -> None:
    f, rule, strict = case
    sc = load_scenario(f)
    expected = (sc.expect_strict if strict else sc.expect)[rule]
    rep = check(sc, rule, strict=strict)
    assert outcome(rep) == expected, rep.summary()
    if rep.verdict is Verdict.VIOLATED:
        assert rep.trace is not None and rep.trace.property_id == expected


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_structural_form_agrees(case: tuple[Path, str, bool]) -> None:
    """Structural checks catch the same bugs, never on a scenario that holds."""
    f, rule, strict = case
    obs = check(f, rule, strict=strict, minimise=False)
    st = check(f, rule, strict=strict, form="structural", minimise=False)
    assert obs.verdict is st.verdict, (obs.summary(), st.summary())
    if st.result.violation is not None and obs.result.violation is not None:
        # Structural violations show at least as early as the observed ones.
        assert len(st.result.violation.path) <= len(obs.result.violation.path)
