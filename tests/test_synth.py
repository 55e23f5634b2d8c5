"""cowcheck synth: every clause is a real counterexample, a safe table is safe when
checked afresh, UNSAT comes with the conflict, and the expression agrees with the
table."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from cowcheck.api import check, resolve_rule, resolve_scenario
from cowcheck.engine import Verdict
from cowcheck.input.reuse_expr import reuse_rule
from cowcheck.mm.rule import PageView
from cowcheck.synth.cegis import synthesise
from cowcheck.synth.express import smallest
from cowcheck.synth.table import FEATURES, Vector, project, table_rule

NO_PAE = ["refcount", "mapcount", "pincount", "swapcache", "swapcount", "locked", "unshare"]
SMALL = ["odirect-clear-refs", "vmsplice-child", "ro-pin-after-fork", "fork-odirect", "odirect-swap"]


def test_without_page_anon_exclusive_no_write_fault_decision_is_safe() -> None:
    """5.18's other hooks, no PageAnonExclusive: a R/O pin after fork needs the same
    bookkeeping state copied (else the child sees the parent's write) and reused (else
    the pin reads stale data): why 5.19 unshares at GUP time and added the flag."""
    s = synthesise("page-count-5.18", NO_PAE, ["ro-pin-after-fork", "gup-fast-fork"])
    assert s.table is None and s.core
    shared = (3, 2, 1, False, 0, False, False)  # refcount 3, mapcount 2, pincount 1: parent, child, pin
    assert shared in s.conflicts()
    for c in s.core:  # each clause of the proof is a real counterexample
        assert c.report.verdict is Verdict.VIOLATED and c.report.trace is not None
    assert "UNSAT" in s.text() and s.to_json()["verdict"] == "unsat"


def test_each_clause_is_a_counterexample_under_any_table_that_agrees() -> None:
    s = synthesise("page-count-5.18", NO_PAE, ["vmsplice-child", "odirect-mprotect"])
    base = resolve_rule("page-count-5.18")
    for c in s.clauses:
        agree = dict(c.decisions)
        for flipped in (True, False):  # the rest of the table does not matter
            table = {v: agree.get(v, flipped) for v in {*agree, *(v for cl in s.clauses for v, _ in cl.decisions)}}
            table.update(agree)
            rep = check(resolve_scenario(c.scenario), table_rule(base, table, s.names, []))
            assert rep.verdict is Verdict.VIOLATED, (c.scenario, c.decisions)


def test_a_safe_table_holds_when_checked_afresh_and_its_expression_agrees() -> None:
    s = synthesise("anon-exclusive", None, SMALL)
    assert s.safe and s.table is not None and s.clauses
    base = resolve_rule("anon-exclusive")
    for name in SMALL:  # no answers cached: each scenario searched again under the table
        assert check(resolve_scenario(name), table_rule(base, s.table, s.names, [])).verdict is Verdict.HOLDS, name
    assert s.expression is not None
    rule = reuse_rule(base, s.expression)
    for v in s.constrained():
        page = PageView(*(v[s.names.index(f)] for f in ("refcount", "mapcount", "pincount", "exclusive",
                                                         "swapcache", "swapcount", "locked")), False)  # fmt: skip
        assert rule.do_wp_page(page, v[s.names.index("unshare")]).reuse == s.table[v], v


def test_the_smallest_expression() -> None:
    names = FEATURES
    pae = PageView(2, 1, 0, True, False, 0, False, False)
    shared = PageView(2, 2, 0, False, False, 0, False, False)
    lone = PageView(1, 1, 0, False, False, 0, False, False)
    table: dict[Vector, bool] = {project(pae, False, names): True, project(shared, False, names): False}
    assert smallest(table, names) == "exclusive"
    table[project(lone, False, names)] = True  # a lone page too: exclusive alone no longer fits
    got = smallest(table, names)
    assert got is not None and got != "exclusive"
    rule = reuse_rule(resolve_rule("anon-exclusive"), got)
    assert [rule.do_wp_page(p, False).reuse for p in (pae, shared, lone)] == [True, False, True]


def test_the_cli() -> None:
    rc, out, err = run_cli("synth", "page-count-5.18", "--features", ",".join(NO_PAE), "ro-pin-after-fork", "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["verdict"] == "unsat" and doc["core"], err
    rc, _, err = run_cli("synth", "anon-exclusive", "--features", "refcount,colour")
    assert rc == 2 and "--features" in err and "colour" in err and err.count("\n") == 1


def test_opening_gup_must_unshare_makes_the_impossible_possible() -> None:
    """The UNSAT above points at GUP: with gup_must_unshare a hole too, a table exists
    (R/O GUP of a shared page unshares it first, as Andrea Arcangeli's COR proposal
    and 5.19's unsharing do), and it holds when checked afresh."""
    names = ["ro-pin-after-fork", "vmsplice-child", "odirect-clear-refs"]
    s = synthesise("page-count-5.18", NO_PAE, names, holes=["do_wp_page", "gup_must_unshare"])
    assert s.safe and s.table is not None
    assert any(v[0] == "gup_must_unshare" and s.table[v] for v in s.constrained())
    rule = table_rule(resolve_rule("page-count-5.18"), s.table, s.names, [], s.holes)
    for name in names:
        assert check(resolve_scenario(name), rule).verdict is Verdict.HOLDS, name
    assert s.verified == {} and s.expression is not None  # re-verified by the CLI, or reverify()


def test_every_hole_can_be_opened_and_the_table_holds_afresh() -> None:
    names = ["odirect-swap", "vmsplice-child-swap", "fork-odirect-pin"]
    at = ["do_wp_page", "gup_must_unshare", "fork_present", "do_swap_page"]
    s = synthesise("anon-exclusive", None, names, holes=at)
    assert s.safe and s.table is not None and s.holes == tuple(at)
    rule = table_rule(resolve_rule("anon-exclusive"), s.table, s.names, [], s.holes)
    for name in names:
        assert check(resolve_scenario(name), rule).verdict is Verdict.HOLDS, name
    assert {k["hook"] for k in (e["key"] for e in s.to_json()["table"]) if "hook" in k} <= set(at)


def test_a_search_cut_short_never_makes_a_table_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bound or a signal cuts a check: the loop stops, incomplete, and claims nothing."""
    from cowcheck.engine import Bounds, SearchOptions
    from cowcheck.synth import cegis

    real = cegis.check

    def cut(sc: object, rule: object, *args: object, **kw: object) -> object:
        return real(sc, rule, options=SearchOptions(Bounds(max_states=2)), minimise=False)  # type: ignore[arg-type]

    monkeypatch.setattr(cegis, "check", cut)
    s = synthesise("anon-exclusive", None, SMALL[:2])
    assert not s.safe and s.incomplete is not None and "max-states" in s.incomplete
    assert s.to_json()["verdict"] == "incomplete" and "no table is claimed safe" in s.text()
