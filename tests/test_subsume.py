"""Subsumption by budget (engine/store/cover.py) against the search without it.

Three layers: the model keeps the promise subsumption relies on (over every reachable
state of two open scenarios); the store and its levels decide the same whatever the
order of arrival; and the search with subsumption gives the verdict, the violated
property and the shortest counterexample length of the search without it, on every
scenario of the catalog under every built-in rule, serially and partitioned, with
the same state count serially and partitioned.
"""

from __future__ import annotations

import itertools
import random
import sys
from operator import ge
from pathlib import Path

import pytest
from conftest import assert_reduced_matches, reachable, run_cli, searched

from cowcheck.api import build_model
from cowcheck.engine import Bounds, SearchOptions, SearchResult, StoreSpec, Verdict, explore
from cowcheck.engine.store.cover import CoverStore
from cowcheck.input.bundled import scenario_files
from cowcheck.input.properties import select
from cowcheck.input.rule_files import builtin_rules
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.property import MMProperty
from cowcheck.mm.state import MMState

HERE = Path(__file__).parent / "scenarios"
SCENARIOS = [f for f in scenario_files() if f.stem not in ("open-large", "open-file")] + [
    HERE / "open-three.toml",
    HERE / "open-file-three.toml",
    HERE / "fork-odirect-grandchild.toml",
]
RULES = sorted(builtin_rules())

Result = SearchResult[MMState, Action]


def dominates(big: tuple[int, ...], small: tuple[int, ...]) -> bool:
    return all(map(ge, big, small))


# -- the model's promise ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "rule", "least"),
    [("open-standard", "anon-exclusive", 50_000), (str(HERE / "open-three.toml"), "page-count", 5_000)],
)
def test_more_budget_only_enables(scenario: str, rule: str, least: int) -> None:
    """For every reachable state and a budget one higher in every kind: every action
    enabled before is enabled after, reaches the same state but for the budget, with
    at least as much left, and every property gives the same verdict on both. And the
    state with its budget clipped to ``total`` is bisimilar to it: the same actions,
    leading to the same states but for the budget, whose clipped budgets are equal."""
    m = build_model(scenario, rule)
    assert m.capabilities().split_resources is not None
    invariants = m.invariants()
    checks = m.transition_checks()
    states, _ = reachable(m)
    assert len(states) > least
    clips = 0
    for s in states:
        core, clip = m.split_budget(s)
        if clip != s.budget:
            clips += 1
            lean = s._replace(budget=clip)
            assert m.actions(lean) == m.actions(s)
            for a in m.actions(s):
                step, twin = m.next_step(s, a), m.next_step(lean, a)
                assert (step is None) == (twin is None), (a, s)
                if step is not None and twin is not None:
                    assert m.split_budget(step.state) == m.split_budget(twin.state), (a, s)
        rich = s._replace(budget=tuple(n + 1 for n in s.budget))
        rich_actions = m.actions(rich)
        for inv in invariants:
            assert (inv.check(s) is None) == (inv.check(rich) is None), (inv.id, s)
        for a in m.actions(s):
            step = m.next_step(s, a)
            if step is None:
                continue
            assert a in rich_actions, (a, s)
            big = m.next_step(rich, a)
            assert big is not None, (a, s)
            core, res = m.split_budget(step.state)
            big_core, big_res = m.split_budget(big.state)
            assert big_core == core, (a, s)
            assert dominates(big_res, res), (a, s)
            for tc in checks:
                assert (tc.check(s, a, step) is None) == (tc.check(rich, a, big) is None), (tc.id, a, s)
    assert clips > least // 10  # the clipping was exercised


def test_a_property_that_may_read_the_budget_turns_subsumption_off() -> None:
    props, failing = select(None)
    undeclared = MMProperty("reads-all", "t", "t", observational=lambda s, ctx: None)
    m = MMModel(
        build_model("open-standard", "anon-exclusive").scenario,
        builtin_rules()["anon-exclusive"],
        [
            *props,
            undeclared,
        ],
        failing_metrics=failing,
    )
    assert m.capabilities().split_resources is None
    r = explore(m, SearchOptions(Bounds(max_depth=4)))
    assert not r.stats.subsume


# -- the store -------------------------------------------------------------------------


def _core_split(state: tuple[str, tuple[int, ...]]) -> tuple[str, tuple[int, ...]]:
    return state


def test_store_keeps_the_maximal_budgets_and_answers_covering() -> None:
    st: CoverStore[tuple[str, tuple[int, ...]]] = CoverStore(_core_split)
    assert st.add(("a", (1, 0)))
    assert st.add(("a", (0, 1)))  # incomparable: both kept
    assert not st.add(("a", (0, 0)))  # covered
    assert ("a", (1, 0)) in st and ("a", (0, 0)) in st
    assert ("a", (1, 1)) not in st and ("b", (0, 0)) not in st
    assert st.add(("a", (1, 1)))  # covers both: they are dropped from the antichain
    assert st._entries["a"][1:] == [(1, 1)]
    assert len(st) == 3


def _level(order: list[tuple[str, tuple[int, ...]]], before: list[tuple[str, tuple[int, ...]]]) -> set[object]:
    st: CoverStore[tuple[str, tuple[int, ...]]] = CoverStore(_core_split)
    for s in before:
        st.add(s)
    for i, s in enumerate(order):
        st.offer(s, 0, i)
    return {s for s, _, _, _ in st.keep()}


def test_a_level_keeps_the_same_states_in_any_order_of_arrival() -> None:
    rng = random.Random(7)
    for _ in range(60):
        cands = [(rng.choice("ab"), (rng.randrange(3), rng.randrange(3), rng.randrange(2))) for _ in range(6)]
        before = [(rng.choice("ab"), (rng.randrange(3), rng.randrange(3), rng.randrange(2))) for _ in range(2)]
        first = _level(cands, before)
        # What is kept: exactly the candidates that nothing earlier covers and that no
        # other candidate strictly covers.
        expect = {
            c
            for c in cands
            if not any(b[0] == c[0] and dominates(b[1], c[1]) for b in before)
            and not any(o[0] == c[0] and o[1] != c[1] and dominates(o[1], c[1]) for o in cands)
        }
        assert first == expect
        for perm in itertools.islice(itertools.permutations(cands), 30):
            assert _level(list(perm), before) == first


def test_store_bytes_kept_as_the_entries_change_match_a_full_count() -> None:
    """nbytes() keeps a running total (a full count cost 15 ms a level on
    open-standard); it must stay the sum over the entry lists as they grow, shrink
    and are created by add() and by a level's offer()/keep()."""
    rng = random.Random(11)
    st: CoverStore[tuple[str, tuple[int, ...]]] = CoverStore(_core_split)

    def full() -> int:
        return sys.getsizeof(st._entries) + sum(sys.getsizeof(e) for e in st._entries.values())

    for round_ in range(40):
        if round_ % 2:
            for i in range(rng.randrange(1, 12)):
                st.offer((rng.choice("abcdefg"), (rng.randrange(6), rng.randrange(6), rng.randrange(6))), 0, i)
            list(st.keep())
        else:
            for _ in range(rng.randrange(1, 12)):
                st.add((rng.choice("abcdefg"), (rng.randrange(6), rng.randrange(6), rng.randrange(6))))
        assert st.nbytes() == full()
    assert max(len(e) for e in st._entries.values()) > 3  # antichains of several tops


def test_offer_after_a_lookup_decides_as_a_plain_offer() -> None:
    """offer() reuses the split and entry of a lookup that missed on the same state
    object (a probe). The same lookups and offers made with equal copies, which no
    probe matches, must give the same slots and keep the same states, level after
    level, whatever came between the lookup and the offer."""
    rng = random.Random(5)

    def state() -> tuple[str, tuple[int, ...]]:
        return (rng.choice("abcd"), (rng.randrange(4), rng.randrange(4), rng.randrange(3)))

    probed: CoverStore[tuple[str, tuple[int, ...]]] = CoverStore(_core_split)
    plain: CoverStore[tuple[str, tuple[int, ...]]] = CoverStore(_core_split)
    reused = 0
    for _ in range(80):
        batch = [state() for _ in range(rng.randrange(1, 60))]
        # Look all up first, then offer (as the searches do with one state's
        # successors), with some offered twice and some never looked up.
        misses = [s for s in batch if s not in probed]
        assert misses == [s for s in batch if (s[0], tuple(s[1])) not in plain]
        offers = misses + rng.sample(batch, len(batch) // 3)
        for i, s in enumerate(offers):
            reused += id(s) in probed._probes
            copy = (s[0], tuple(list(s[1])))
            assert probed.offer(s, 0, i) == plain.offer(copy, 0, i)
        assert [(s, ai) for s, _, ai, _ in probed.keep()] == [(s, ai) for s, _, ai, _ in plain.keep()]
        assert probed.nbytes() == plain.nbytes() and len(probed) == len(plain)
    assert reused > 50  # the probes were used


def test_a_level_drops_a_candidate_covered_by_an_earlier_one_at_once() -> None:
    st: CoverStore[tuple[str, tuple[int, ...]]] = CoverStore(_core_split)
    assert st.offer(("a", (2, 2)), 0, 0) is not None
    assert ("a", (1, 2)) in st  # covered by a candidate of this level
    assert st.offer(("a", (1, 2)), 0, 1) is None
    assert st.offer(("a", (3, 0)), 0, 2) is not None
    assert st.pending() == 2
    assert [s for s, _, _, _ in st.keep()] == [("a", (2, 2)), ("a", (3, 0))]
    assert st.pending() == 0 and st._entries["a"][0] is None


# -- the search, against the search without subsumption ---------------------------------

MODES = {"plain": SearchOptions(subsume=False), "subsume": SearchOptions(), "workers": SearchOptions(workers=2)}


def run(path: Path, rule: str, mode: str) -> Result:
    return searched(path, rule, MODES[mode])  # shared with test_reductions and test_balance


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("f", SCENARIOS, ids=[f.stem for f in SCENARIOS])
def test_subsumption_matches_the_plain_search(f: Path, rule: str) -> None:
    sub, plain = run(f, rule, "subsume"), run(f, rule, "plain")
    assert sub.stats.subsume and not plain.stats.subsume
    assert_reduced_matches(sub, plain)


@pytest.mark.parametrize("rule", ["page-count", "mapcount-cor", "anon-exclusive"])
@pytest.mark.parametrize("f", SCENARIOS, ids=[f.stem for f in SCENARIOS])
def test_subsumption_partitioned_matches_serial(f: Path, rule: str) -> None:
    """Decided a level at a time on the states of one core together, so the count is
    the serial one whatever the order the partitions' batches arrive in."""
    par, ser = run(f, rule, "workers"), run(f, rule, "subsume")
    assert par.stats.subsume
    assert par.verdict is ser.verdict
    if ser.violation is not None:
        assert par.violation is not None
        assert par.violation.property_id == ser.violation.property_id
        assert len(par.violation.path) == len(ser.violation.path)
    else:
        assert par.stats.states == ser.stats.states


def test_subsumption_saves_states_on_the_open_scenarios() -> None:
    f = next(f for f in scenario_files() if f.stem == "open-standard")
    sub, plain = run(f, "anon-exclusive", "subsume"), run(f, "anon-exclusive", "plain")
    assert sub.verdict is plain.verdict is Verdict.HOLDS
    assert sub.stats.states < 0.75 * plain.stats.states


def test_subsumption_is_deterministic_and_respects_bounds() -> None:
    m = build_model("open-standard", "mapcount-cor")
    a, b = explore(m, SearchOptions(workers=2)), explore(m)
    c = explore(m)
    assert a.violation is not None and b.violation is not None and c.violation is not None
    assert b.violation.path.actions == c.violation.path.actions
    assert b.stats.states == c.stats.states
    m = build_model("open-standard", "anon-exclusive")
    for bounds in (Bounds(max_depth=4), Bounds(max_states=2000)):
        s = explore(m, SearchOptions(bounds))
        p = explore(m, SearchOptions(bounds, workers=2))
        assert s.verdict is p.verdict is Verdict.INCOMPLETE
        if bounds.max_depth is not None:
            assert s.stats.states == p.stats.states


def test_fingerprints_and_por_search_without_subsumption() -> None:
    m = build_model("odirect-swap", "anon-exclusive")
    assert not explore(m, SearchOptions(store=StoreSpec("fingerprint"))).stats.subsume
    assert not explore(m, SearchOptions(por=True)).stats.subsume
    assert explore(m).stats.subsume


def test_cli_no_subsume() -> None:
    rc, out, _ = run_cli("check", "odirect-swap", "-r", "anon-exclusive", "--json")
    rc2, out2, _ = run_cli("check", "odirect-swap", "-r", "anon-exclusive", "--json", "--no-subsume")
    import json

    assert rc == rc2 == 0
    assert json.loads(out)["stats"]["subsume"] is True
    assert json.loads(out2)["stats"]["subsume"] is False
