"""Golden files: every saved counterexample is replayed, not compared as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cowcheck.checks.saved_trace import replay_file
from cowcheck.families import load_scenario
from cowcheck.input.bundled import counterexamples_dir, find_scenario

# The anon family's, and the pfnmap family's in their own folder.
FILES = sorted(counterexamples_dir().glob("*.json")) + sorted(counterexamples_dir().glob("pfnmap/*.json"))


def test_there_are_saved_counterexamples() -> None:
    assert len(FILES) >= 40
    assert sum(p.parent.name == "pfnmap" for p in FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_still_fails_under_its_rule(path: Path) -> None:
    rp = replay_file(path)
    assert rp.still_fails, rp.describe()
    assert rp.same_violation, rp.describe()
    assert len(rp.trace) == len(rp.document["steps"])  # fails at the same, final step


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_gone_in_every_era_that_fixed_it(path: Path) -> None:
    """Replayed under each rule whose scenario verdict is "holds", the same steps no
    longer fail: the bug is gone from the era that fixed it, trace by trace."""
    doc = json.loads(path.read_text())
    sc = load_scenario(find_scenario(doc["scenario"]["name"]))
    table = sc.expect_strict if doc.get("strict") else sc.expect
    fixed = [r for r, v in table.items() if v == "holds"]
    for rule in fixed:
        rp = replay_file(path, rule)
        assert not rp.still_fails, rp.describe()
