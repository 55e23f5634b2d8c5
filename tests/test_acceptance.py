"""The acceptance scenarios of the core checker, trace by trace."""

from __future__ import annotations

from cowcheck.api import check
from cowcheck.checks.catalog import outcome
from cowcheck.engine import Verdict


def test_odirect_clear_refs_is_the_seed_race_and_nothing_more() -> None:
    rep = check("odirect-clear-refs", "page-count")
    assert rep.verdict is Verdict.VIOLATED and rep.exit_code == 1
    t = rep.trace
    assert t is not None and t.property_id == "wrong-cow"
    assert t.message is not None and t.message.startswith("read lost")
    # The diagram's four events, in its order, and nothing else.
    assert [(s.actor, s.action.op) for s in t.steps] == [
        ("thread0", "gup"),
        ("other process", "clear_refs"),
        ("thread1", "write"),
        ("device", "dma_write"),
    ]
    assert t.steps[0].action.write and not t.steps[0].action.pin
    assert any("page_count 2 != 1 -> wp_page_copy" in n for n in t.steps[2].notes)
    for rule in ("mapcount", "anon-exclusive"):
        assert check("odirect-clear-refs", rule).exit_code == 0


def test_same_race_through_swap() -> None:
    rep = check("odirect-swap", "page-count")
    assert rep.exit_code == 1 and outcome(rep) == "wrong-cow"
    assert rep.trace is not None
    ops = [s.action.op for s in rep.trace.steps]
    assert "swapout" in ops and ops[-1] == "dma_write"
    assert check("odirect-swap", "anon-exclusive").exit_code == 0


def test_vmsplice_child_leaks_from_parent_into_child() -> None:
    rep = check("vmsplice-child", "mapcount")
    assert rep.exit_code == 1 and outcome(rep) == "missed-cow"
    assert rep.trace is not None and rep.trace.message is not None
    assert "leak from P0 into P1" in rep.trace.message
    for rule in ("page-count", "anon-exclusive"):
        assert check("vmsplice-child", rule).exit_code == 0


def test_fork_with_io_uring_fixed_buffer() -> None:
    rep = check("fork-io-uring", "mapcount")
    assert rep.exit_code == 1 and outcome(rep) == "wrong-cow"
    for rule in ("page-count", "anon-exclusive"):
        assert check("fork-io-uring", rule).exit_code == 0


def test_fork_during_odirect_is_outside_the_contract_unless_strict() -> None:
    for rule in ("mapcount", "page-count", "anon-exclusive"):
        assert check("fork-odirect", rule).exit_code == 0
        assert check("fork-odirect", rule, strict=True).exit_code == 1
    assert check("fork-odirect-pin", "mapcount").exit_code == 1
    for rule in ("page-count", "anon-exclusive"):
        assert check("fork-odirect-pin", rule).exit_code == 0


def test_standard_open_scenario() -> None:
    rep = check("open-standard", "anon-exclusive")
    assert rep.verdict is Verdict.HOLDS and rep.result.incomplete_reason is None
    assert rep.stats.states > 10_000
    assert f"{rep.stats.states} states" in rep.summary()
    for rule in ("mapcount", "page-count"):
        bad = check("open-standard", rule)
        assert bad.exit_code == 1 and bad.trace is not None


def test_unnecessary_cow_is_counted_and_can_be_asked_to_fail() -> None:
    rep = check("open-standard", "page-count", ["wrong-cow"])
    assert rep.metrics["unnecessary-cow"] >= 0
    rep = check("open-standard", "page-count", ["unnecessary-cow"])
    assert outcome(rep) == "unnecessary-cow"
    assert rep.trace is not None
    ops = [s.action.op for s in rep.trace.steps]
    assert "spec_get" in ops or "swapout" in ops  # only transient references held it


def test_same_inputs_same_counts_and_trace() -> None:
    a, b = check("open-standard", "page-count"), check("open-standard", "page-count")
    assert a.stats.states == b.stats.states and a.stats.transitions == b.stats.transitions
    assert a.trace is not None and b.trace is not None
    assert a.trace.actions == b.trace.actions
