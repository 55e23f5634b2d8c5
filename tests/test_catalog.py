"""The catalog against the verdicts written in its scenario files, in both forms.

The full history matrix (every built-in rule x every scenario) is computed once per
session (conftest.py's ``history``); the expected-verdict tests and the README check
read it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cowcheck.api import check
from cowcheck.checks.matrix import Matrix
from cowcheck.families import FAMILY_NAMES, family, load_scenario

# Every family's scenarios, each under its own family's rules.
RULES = [n for f in FAMILY_NAMES for n in family(f).builtin_names()]
FILES = [p for f in FAMILY_NAMES for p in family(f).scenario_files()]
CASES = [
    (f, rule, strict)
    for f in FILES
    for strict in (False, True)
    for rule in family(load_scenario(f).family).builtin_names()
    if (load_scenario(f).expect_strict if strict else load_scenario(f).expect).get(rule)
]
# The structural-form comparison re-runs each case twice; the large open scenario
# (~770k states where it holds) is left to the observational matrix.
EXPENSIVE = {"open-large"}


def _id(case: tuple[Path, str, bool]) -> str:
    f, rule, strict = case
    return f"{f.stem}-{rule}{'-strict' if strict else ''}"


def test_every_scenario_states_a_verdict_for_every_rule() -> None:
    for f in FILES:
        sc = load_scenario(f)
        assert set(sc.expect) == set(family(sc.family).builtin_names()), f"{f.name} must state a verdict per rule"
        assert sc.source and sc.description, f"{f.name} must say what it models and where from"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_expected_verdict(case: tuple[Path, str, bool], history: Matrix) -> None:
    f, rule, strict = case
    sc = load_scenario(f)
    cell = history.cells[sc.name + (" --strict" if strict else ""), rule]
    expected = (sc.expect_strict if strict else sc.expect)[rule]
    assert cell.got == expected, f"{cell.scenario} under {rule}: expected {expected}, got {cell.got}"
    assert (cell.length is not None) == (expected not in ("holds", "incomplete"))


def test_matrix_covers_every_case(history: Matrix) -> None:
    assert history.rules == tuple(RULES)
    assert not history.mismatches
    assert len(history.cells) == len(CASES)


@pytest.mark.parametrize(("fam", "marker"), [("anon", "matrix"), ("pfnmap", "pfnmap-matrix")])
def test_readme_shows_the_current_matrix(history: Matrix, root: Path, fam: str, marker: str) -> None:
    readme = (root / "README.md").read_text()
    m = re.search(rf"<!-- {marker}:begin -->\n(.*?)\n<!-- {marker}:end -->", readme, re.S)
    assert m, f"README.md must hold the {fam} family's generated matrix between the {marker} markers"
    assert m.group(1).strip() == history.only(fam).markdown().strip(), (
        f"README.md's {fam} matrix is stale: regenerate it with `cowcheck matrix --family {fam} --format md`"
    )


@pytest.mark.parametrize("case", [c for c in CASES if c[0].stem not in EXPENSIVE], ids=_id)
def test_structural_form_agrees(case: tuple[Path, str, bool]) -> None:
    """Structural checks catch the same bugs, never on a scenario that holds."""
    f, rule, strict = case
    obs = check(f, rule, strict=strict, minimise=False)
    st = check(f, rule, strict=strict, form="structural", minimise=False)
    assert obs.verdict is st.verdict, (obs.summary(), st.summary())
    if st.result.violation is not None and obs.result.violation is not None:
        # Structural violations show at least as early as the observed ones.
        assert len(st.result.violation.path) <= len(obs.result.violation.path)
