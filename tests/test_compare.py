"""cowcheck compare: the harvested states are every state that reaches the hook, the
recorder changes nothing, and the differences are real (each with a trace that
reaches it)."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from cowcheck.api import build_model, resolve_rule, resolve_scenario
from cowcheck.engine import SearchOptions, explore
from cowcheck.engine.replay import replay
from cowcheck.mm.rule import PageView
from cowcheck.synth.compare import compare, reuses
from cowcheck.synth.harvest import harvest
from cowcheck.synth.record import Seen, recording

FEW = ["odirect-clear-refs", "odirect-swap", "vmsplice-child", "ro-pin-after-fork", "pin-vs-swapout"]


@pytest.mark.parametrize("scenario", ["odirect-clear-refs", "open-standard"])
def test_the_recorder_changes_nothing_and_the_walk_sees_every_state(scenario: str) -> None:
    sc, rule = resolve_scenario(scenario), resolve_rule("anon-exclusive")
    plain = explore(build_model(sc, rule), SearchOptions(subsume=False))
    log: list[Seen] = []
    recorded = explore(build_model(sc, recording(rule, log)), SearchOptions(subsume=False))
    assert (recorded.verdict, recorded.stats.states, recorded.stats.transitions) == (
        plain.verdict,
        plain.stats.states,
        plain.stats.transitions,
    )
    h = harvest(sc, rule)
    assert h.complete and h.states == plain.stats.states
    # Every call the plain search makes is harvested, and nothing else.
    assert set(log) == set(h.witnesses)


def test_each_witness_ends_with_the_call_it_witnesses() -> None:
    sc, rule = resolve_scenario("odirect-swap"), resolve_rule("page-count-5.18")
    h = harvest(sc, rule)
    assert len(h.witnesses) >= 2
    for seen, actions in h.witnesses.items():
        log: list[Seen] = []
        model = build_model(sc, recording(rule, log))
        out = replay(model, actions[:-1])
        assert len(out.steps) == len(actions) - 1  # the path is followed to its end
        log.clear()
        replay(model, actions)
        assert seen in log, seen


def test_page_count_518_reuses_only_where_mapcount_does() -> None:
    """The issue's acceptance, exactly: page-count-5.18 => mapcount; the converse fails
    on a GUP reference held with mapcount 1 (refcount 2)."""
    c = compare("page-count-5.18", "mapcount", FEW)
    assert c.complete and not c.only_where("a")
    against = c.only_where("b")
    gup_held = Seen(PageView(2, 1, 0, False, False, 0, False, False), False)
    assert gup_held in {d.seen for d in against}
    for d in c.differences:  # each difference is a real one, witnessed
        assert reuses(c.a, d.seen) != reuses(c.b, d.seen)
        assert d.seen in d.witness.witnesses
    doc = c.to_json()
    assert doc["a_reuses_only_where_b_does"] is True and doc["b_reuses_only_where_a_does"] is False


def test_a_rule_compared_with_itself_has_no_difference() -> None:
    c = compare("anon-exclusive", "anon-exclusive", FEW[:2])
    assert c.seen and not c.differences and c.complete


def test_the_cli_exits_as_the_claim_says() -> None:
    rc, out, err = run_cli("compare", "page-count-5.18", "mapcount", *FEW[:2], "-q")
    assert rc == 0 and "page-count-5.18 reuses only where mapcount does" in out, (out, err)
    rc, out, _ = run_cli("compare", "mapcount", "page-count-5.18", *FEW[:2], "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["a_reuses_only_where_b_does"] is False and doc["differences"]
    assert all(d["reuses"] == "mapcount" for d in doc["differences"])
    rc, out, _ = run_cli("compare", "page-count-5.18", "mapcount", FEW[0], "--max-states", "3", "-q")
    assert rc == 3 and "a bound cut a walk short" in out and "incomplete: odirect-clear-refs" in out, out
    rc, _, err = run_cli("compare", "mapcount", "no-such-rule")
    assert rc == 2 and "unknown rule" in err and err.count("\n") == 1


# -- beyond the harvested states: formulas, invariants, z3 -----------------------------

BOX = [
    PageView(rc, mc, pc, ex, sc, sw, lk, False)
    for rc in range(6)
    for mc in range(4)
    for pc in range(4)
    for ex in (False, True)
    for sc in (False, True)
    for sw in range(3)
    for lk in (False, True)
]


def _env(page: PageView, unshare: bool) -> dict[str, object]:
    from cowcheck.input.reuse_expr import reuse_env

    return reuse_env(page, unshare)


def test_each_builtin_formula_is_its_hooks_decision() -> None:
    """WP_REUSE is what z3 reasons about: it must be the Python hook's decision on
    every small state (6 x 4 x 4 x 2 x 2 x 3 x 2 pages, write and unshare)."""
    from cowcheck.input.rule_files import builtin_rules
    from cowcheck.synth.formula import holds, rule_formula

    for name, rule in builtin_rules().items():
        f = rule_formula(rule)
        assert f is not None, name
        for page in BOX:
            for unshare in (False, True):
                assert holds(f, _env(page, unshare)) == rule.do_wp_page(page, unshare).reuse, (name, page, unshare)


def test_no_state_the_catalog_reaches_breaks_an_invariant() -> None:
    """The invariants z3 assumes are claims about the model: every state that reaches
    do_wp_page in the litmus catalog and open-standard, under three eras, meets them."""
    from cowcheck.input.bundled import scenario_files
    from cowcheck.input.scenario import load_scenario
    from cowcheck.synth.formula import INVARIANTS, holds

    reached: set[Seen] = set()
    for f in scenario_files():
        sc = load_scenario(f)
        if sc.name == "open-large":
            continue
        for rule in ("mapcount", "page-count-5.18", "anon-exclusive"):
            reached |= set(harvest(sc, resolve_rule(rule)).witnesses)
    assert len(reached) >= 20
    for s in reached:
        for inv in INVARIANTS:
            assert holds(inv, _env(s.page, s.unshare)), (inv, s)


def test_z3_proves_one_direction_and_refutes_the_other_with_a_real_state() -> None:
    from cowcheck.synth.formula import INVARIANTS, holds, only_where, rule_formula

    a, b = resolve_rule("page-count-5.18"), resolve_rule("mapcount")
    fa, fb = rule_formula(a), rule_formula(b)
    assert fa is not None and fb is not None
    assert only_where(fa, fb) is None  # 5.18 reuses only where mapcount does, for every state
    state = only_where(fb, fa)
    assert state is not None
    page = PageView(
        state["refcount"], state["mapcount"], state["pincount"], state["exclusive"],
        state["swapcache"], state["swapcount"], state["locked"], False,
    )  # fmt: skip
    # The state z3 found: the invariants hold, and the Python hooks disagree there.
    assert all(holds(i, _env(page, state["unshare"])) for i in INVARIANTS)
    assert b.do_wp_page(page, state["unshare"]).reuse and not a.do_wp_page(page, state["unshare"]).reuse
    c = compare(a, b, FEW[:1])
    assert c.beyond == {"a": None, "b": state}


def test_z3_reads_an_expression_as_python_evaluates_it() -> None:
    import z3

    from cowcheck.synth.formula import NoProof, holds, to_z3, variables

    v = variables()
    for text in (
        "exclusive < swapcache",
        "refcount - 1",
        "(refcount == 1) == (mapcount == 1)",
        "-refcount + 3 > pincount",
    ):
        f = to_z3(text, v)
        for page in BOX[::37]:
            env = _env(page, False)
            sub = [(v[n], z3.IntVal(int(env[n]))) for n in ("refcount", "mapcount", "pincount", "swapcount")]
            sub += [(v[n], z3.BoolVal(bool(env[n]))) for n in ("exclusive", "swapcache", "locked", "unshare")]
            assert z3.is_true(z3.simplify(z3.substitute(f, *sub))) == holds(text, env), (text, page)
    with pytest.raises(NoProof):
        to_z3("refcount and exclusive", v)
