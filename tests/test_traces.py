"""Minimisation, rendering and the trace file format."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from cowcheck.api import build_model, check
from cowcheck.checks.minimise import minimise
from cowcheck.checks.saved_trace import replay_file, save
from cowcheck.errors import InputError
from cowcheck.mm.actions import SPECULATIVE, Action
from cowcheck.report.counterexample import build_trace
from cowcheck.report.diagram import render_columns

TRACES = Path(__file__).resolve().parent.parent / "counterexamples"


def test_minimise_drops_steps_the_violation_does_not_need() -> None:
    rep = check("open-standard", "page-count")
    assert rep.trace is not None
    shortest = rep.trace.actions
    m = build_model("open-standard", "page-count")
    # A longer failing path: a speculative reference taken and dropped first.
    padded = [Action("spec_get", SPECULATIVE, idx=0), Action("spec_put", SPECULATIVE, idx=0), *shortest]
    assert build_trace(m, padded, "wrong-cow").property_id == "wrong-cow"
    assert minimise(m, padded, "wrong-cow") == shortest


def test_minimise_groups_actors() -> None:
    m = build_model("vmsplice-child", "mapcount")
    rep = check("vmsplice-child", "mapcount", minimise=False)
    assert rep.trace is not None
    mini = minimise(m, rep.trace.actions, "missed-cow")
    switches = sum(1 for a, b in itertools.pairwise(mini) if a.actor != b.actor)
    assert switches <= 2
    assert build_trace(m, mini, "missed-cow").property_id == "missed-cow"


def test_render_has_one_column_per_actor_and_the_violation() -> None:
    rep = check("odirect-clear-refs", "page-count")
    assert rep.trace is not None
    text = render_columns(rep.trace, "t")
    lines = text.splitlines()
    rule = next(i for i, ln in enumerate(lines) if ln.strip().startswith("="))
    header = lines[rule - 1]  # under the title and the token legend
    for actor in ("thread0", "other process", "thread1", "device"):
        assert actor in header
    assert lines[rule].count("=" * 30) == 4  # the wide form: a 30-column column each
    assert lines[2] == "tokens (the data a write left in a 512-byte sector):"
    assert "VIOLATION wrong-cow: read lost" in text
    assert "page #0: refcount 1, mapcount 0" in text


def test_saved_trace_round_trips(tmp_path: Path) -> None:
    rep = check("vmsplice-child", "mapcount")
    p = save(rep, tmp_path / "t.json")
    doc = json.loads(p.read_text())
    assert doc["format"] == "cowcheck-trace" and doc["version"] == 1
    assert doc["violation"]["property"] == "missed-cow"
    rp = replay_file(p)
    assert rp.still_fails and rp.trace.actions == rep.trace.actions  # type: ignore[union-attr]
    assert not replay_file(p, "page-count").still_fails


def test_tampered_trace_is_invalid(tmp_path: Path) -> None:
    """A program step dropped from a saved trace: the parent's later steps are out of
    program order, which no rule could run, so the file is invalid, not "diverged"."""
    rep = check("vmsplice-child", "mapcount")
    p = save(rep, tmp_path / "t.json")
    doc = json.loads(p.read_text())
    doc["steps"] = doc["steps"][1:]  # drop fork()
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"steps\[\d+\]\.action\.step: expected 0 \(parent's next program step\)"):
        replay_file(p)


def test_a_trace_another_rule_cannot_follow_diverges() -> None:
    """gup-fast-fork's page-count trace under anon-exclusive: gup-fast's re-check sees
    fork's write_protect_seq and falls back, so fork's next sub-step is not enabled."""
    rp = replay_file(TRACES / "gup-fast-fork--page-count.json", "anon-exclusive")
    assert not rp.still_fails and rp.trace.diverged_at == 5 and rp.outcome == "inconclusive"
    # The step as the file names it: fork's second half of the PTE copy, saved before
    # the two halves had labels of their own.
    assert rp.trace.blocked == f"thread1: {rp.document['steps'][5]['label']}"
    assert rp.document["steps"][5]["action"]["op"] == "step"


def test_bad_trace_files(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="malformed JSON"):
        replay_file(p)
    p.write_text(json.dumps({"format": "cowcheck-trace", "version": 99}))
    with pytest.raises(InputError, match="version"):
        replay_file(p)
