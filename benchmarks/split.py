"""Where a state's time goes: the search engine against the mm model.

Explores open-standard under anon-exclusive without subsumption (each state once,
as ``cowcheck check --no-subsume`` does) and keeps its state graph as numbers. Then:

- the engine alone: ``cowcheck.engine.search`` over that same graph, with states as
  ints, successors looked up in a table, no canonical form and no invariant. That is
  what the search itself costs per state on this graph's shape (same states, same
  transitions, same levels);
- the engine over the same graph with the properties: the bundled invariants and
  transition checks run on the real state and step behind each number. That is the
  fastest any search can be whose properties stay Python over the named records, as
  the bundled ones and users' own are: the mm model, ``canonical`` and the store all
  free;
- each per-state call the search makes to the model, timed alone over the graph's
  states: ``actions``; ``next_step`` for every action offered; the transition
  checks and metrics for every transition; a set lookup of every successor (what
  the exact store does with it); ``canonical`` for each successor not stored in its
  concrete form; the invariants for every state;
- the real search, for the total. What the rows do not add up to is left as "the
  rest": storing and queueing the new states, the store's own methods, the loop,
  and a heap that grows (the timed loops keep nothing);
- the search with the mm model's transitions replayed: the real search (the same
  store, real states hashed and stored, the real ``canonical``, invariants and
  transition checks), but ``actions`` and ``next_step`` answer from a table made
  beforehand. That is the most any faster code for the mm's operations could give
  on this state representation: the rate the search would reach if the model's
  own transition code cost nothing. It is measured with subsumption too (the
  default search).

Run it from outside the repository to measure an installed (maybe compiled) build:
``cd /tmp && python /path/to/benchmarks/split.py``.

``--instructions`` counts the same searches in instructions instead, which do not
drift with the machine's load: each runs once in its own process under valgrind's
callgrind, after the same set-up (the graph and the models over it), and is reported
as its process's count less that of a process that only does the set-up, per state.
It takes 40-50 minutes for the compiled build on this machine, two processes at
a time.
"""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from cowcheck.api import build_model, check
from cowcheck.build import build_name
from cowcheck.engine import Capabilities, Invariant, SearchOptions, Stats, Step, TransitionCheck, explore
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.state import MMState

SCENARIO, RULE = "open-standard", "anon-exclusive"
NO_SUBSUME = SearchOptions(subsume=False)  # the full state space, as `check --no-subsume` explores it


class GraphModel:
    """A state graph given as a table: state i's successors are ``succ[i]``."""

    def __init__(self, succ: list[list[int]], inits: list[int]) -> None:
        self.steps = [[Step(j) for j in row] for row in succ]
        self.inits = inits

    def init_states(self) -> Sequence[int]:
        return self.inits

    def actions(self, state: int) -> range:
        return range(len(self.steps[state]))

    def next_step(self, state: int, action: int) -> Step[int] | None:
        return self.steps[state][action]

    def capabilities(self) -> Capabilities[int, int]:
        return Capabilities()

    def canonical(self, state: int) -> int:
        return state

    def invariants(self) -> Sequence[Invariant[int]]:
        return ()

    def transition_checks(self) -> Sequence[TransitionCheck[int, int]]:
        return ()


class PropertyGraphModel(GraphModel):
    """The graph, with the mm model's invariants and transition checks run on the real
    state, action and step behind each number (``acts[i][k]`` and ``steps[i][k]`` are
    those of ``succ[i][k]``). One Python call per check wraps each of them."""

    def __init__(
        self,
        succ: list[list[int]],
        inits: list[int],
        m: MMModel,
        states: list[MMState],
        acts: list[list[Action]],
        steps: list[list[Step[MMState]]],
    ) -> None:
        super().__init__(succ, inits)

        def on_state(inv: Invariant[MMState]) -> Invariant[int]:
            c = inv.check
            return Invariant(inv.id, lambda i: c(states[i]))

        def on_step(tc: TransitionCheck[MMState, Action]) -> TransitionCheck[int, int]:
            c = tc.check
            return TransitionCheck(tc.id, lambda i, k, _st: c(states[i], acts[i][k], steps[i][k]), tc.metric)

        self.invs = [on_state(inv) for inv in m.invariants()]
        self.checks = [on_step(tc) for tc in m.transition_checks()]

    def invariants(self) -> Sequence[Invariant[int]]:
        return self.invs

    def transition_checks(self) -> Sequence[TransitionCheck[int, int]]:
        return self.checks


class ReplayModel:
    """The mm model with its transitions answered from a table: ``actions`` and
    ``next_step`` cost a lookup by identity, and everything else is the real model's.

    The table holds, per canonical state, its enabled actions and their steps, and,
    per concrete successor, the canonical state it stands for. The search only ever
    expands objects that ``init_states`` or ``canonical`` returned, so each is one of
    the table's canonical states, looked up by ``id`` (the table keeps them all
    alive, and the concrete successors inside their steps, so no id is reused).
    ``canonical`` still computes the real canonical form, and throws it away for the
    table's equal object. The search changes nothing in the table, so one table
    serves any number of searches."""

    def __init__(self, m: MMModel, states: list[MMState], inits: list[int]) -> None:
        self.m = m
        self.inits = [states[i] for i in inits]
        self.acts: dict[int, list[Action]] = {}
        self.steps: dict[int, dict[int, Step[MMState]]] = {}
        self.canon: dict[int, MMState] = {id(s): s for s in states}
        index = {s: s for s in states}
        for s in states:
            acts, steps = [], {}
            for a in m.actions(s):
                st = m.next_step(s, a)
                if st is None:
                    continue
                if id(a) in steps:
                    raise SystemExit("one action object offered twice in a state: the table needs them distinct")
                acts.append(a)
                steps[id(a)] = st
                self.canon[id(st.state)] = index[m.canonical(st.state)]
            self.acts[id(s)] = acts
            self.steps[id(s)] = steps
        self.split_resources = m.capabilities().split_resources

    def init_states(self) -> Sequence[MMState]:
        return self.inits

    def actions(self, state: MMState) -> list[Action]:
        return self.acts[id(state)]

    def next_step(self, state: MMState, action: Action) -> Step[MMState] | None:
        return self.steps[id(state)][id(action)]

    def capabilities(self) -> Capabilities[MMState, Action]:
        return Capabilities(split_resources=self.split_resources)

    def canonical(self, state: MMState) -> MMState:
        self.m.canonical(state)
        return self.canon[id(state)]

    def invariants(self) -> Sequence[Invariant[MMState]]:
        return self.m.invariants()

    def transition_checks(self) -> Sequence[TransitionCheck[MMState, Action]]:
        return self.m.transition_checks()


def replayed(rm: ReplayModel, subsume: bool) -> Stats:
    """The best of 3 searches over the replay table, with or without subsumption."""
    return min((explore(rm, SearchOptions(subsume=subsume)).stats for _ in range(3)), key=lambda st: st.seconds)


def walk_graph() -> tuple[list[MMState], list[list[int]], list[int]]:
    """Every canonical state of the scenario, its successors by number (in action
    order, disabled actions left out), and the initial states' numbers."""
    m = build_model(SCENARIO, RULE)
    ids: dict[MMState, int] = {}
    states: list[MMState] = []
    succ: list[list[int]] = []
    inits = []
    for s in m.init_states():
        c = m.canonical(s)
        if c not in ids:
            ids[c] = len(states)
            states.append(c)
            inits.append(ids[c])
    i = 0
    while i < len(states):
        s = states[i]
        row = []
        for a in m.actions(s):
            step = m.next_step(s, a)
            if step is None:
                continue
            c = m.canonical(step.state)
            j = ids.get(c)
            if j is None:
                j = ids[c] = len(states)
                states.append(c)
            row.append(j)
        succ.append(row)
        i += 1
    return states, succ, inits


def per_state(states: list[MMState]) -> dict[str, float]:
    """Microseconds per state of each model call, as the search makes them (with the
    cyclic collector off, as in the search)."""
    gc.disable()
    try:
        return _per_state(states)
    finally:
        gc.enable()


def _per_state(states: list[MMState]) -> dict[str, float]:
    """Each call timed in a loop that keeps nothing, as the search keeps little: a
    loop that kept every successor would pay for fresh memory the search reuses."""
    m = build_model(SCENARIO, RULE)
    invs = m.invariants()
    checks = m.transition_checks()
    acts = [list(m.actions(s)) for s in states]
    steps = [
        [(a, st) for a in row if (st := m.next_step(s, a)) is not None] for s, row in zip(states, acts, strict=True)
    ]
    succ = [st.state for row in steps for _, st in row]
    known = set(states)
    fresh = [ns for ns in succ if ns not in known]  # seen() misses: canonicalised
    out = {}
    t = time.perf_counter()
    for s in states:
        m.actions(s)
    out["mm model: `actions`"] = time.perf_counter() - t
    t = time.perf_counter()
    for s, row in zip(states, acts, strict=True):
        for a in row:
            m.next_step(s, a)
    out["mm model: `next_step`, every action offered"] = time.perf_counter() - t
    t = time.perf_counter()
    for s, srow in zip(states, steps, strict=True):
        for a, st in srow:
            for tc in checks:
                tc.check(s, a, st)
    out["properties: transition checks and metrics, every transition"] = time.perf_counter() - t
    t = time.perf_counter()
    for ns in succ:
        ns in known  # noqa: B015
    out["a set lookup of every successor (hashing it, comparing it on a hit)"] = time.perf_counter() - t
    t = time.perf_counter()
    for ns in fresh:
        m.canonical(ns)
    out["mm model: `canonical`, each successor not stored as it is"] = time.perf_counter() - t
    t = time.perf_counter()
    for inv in invs:
        for s in states:
            inv.check(s)
    out["properties: invariants, every state"] = time.perf_counter() - t
    return {k: v / len(states) * 1e6 for k, v in out.items()}


class Setup(NamedTuple):
    """The graph and the models over it that the searches run on."""

    states: list[MMState]
    succ: list[list[int]]
    gm: GraphModel  # the graph alone
    rm: ReplayModel  # the replay table
    pgm: PropertyGraphModel  # the graph with the properties


def setup() -> Setup:
    """The graph and its models, checked to agree, built before any search is timed
    or counted."""
    states, succ, inits = walk_graph()
    rm = ReplayModel(build_model(SCENARIO, RULE), states, inits)
    acts = [rm.acts[id(s)] for s in states]
    steps = [[rm.steps[id(s)][id(a)] for a in row] for s, row in zip(states, acts, strict=True)]
    if list(map(len, acts)) != list(map(len, succ)):
        raise SystemExit("the replay table's actions differ from the graph's successors")
    pgm = PropertyGraphModel(succ, inits, rm.m, states, acts, steps)
    return Setup(states, succ, GraphModel(succ, inits), rm, pgm)


# What --instructions counts: each a search over the set-up's objects, giving its stats.
COUNTED: dict[str, Callable[[Setup], Stats]] = {
    "the search, no subsumption": lambda _: check(SCENARIO, RULE, options=NO_SUBSUME, minimise=False).stats,
    "the search, subsumption (the default)": lambda _: check(SCENARIO, RULE, minimise=False).stats,
    "the engine alone over the graph": lambda su: explore(su.gm, SearchOptions(subsume=False)).stats,
    "the engine over the graph with the properties": lambda su: explore(su.pgm, SearchOptions(subsume=False)).stats,
    "replayed, no subsumption": lambda su: explore(su.rm, SearchOptions(subsume=False)).stats,
    "replayed, subsumption": lambda su: explore(su.rm).stats,
}
SETUP_ONLY = "set-up only"


def count_one(what: str) -> None:
    """The body of one counted process: the set-up, then the search ``what`` names."""
    if what != SETUP_ONLY and what not in COUNTED:
        names = ", ".join(map(repr, [SETUP_ONLY, *COUNTED]))
        print(f"split.py --one: expected one of {names}, not {what!r}", file=sys.stderr)
        raise SystemExit(2)
    su = setup()
    st = COUNTED[what](su) if what != SETUP_ONLY else None
    print(build_name())
    print(0 if st is None else st.states)


def instructions(what: str) -> tuple[int, int, str]:
    """(instructions, states, build) of one process under callgrind."""
    p = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__, "--one", what],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),  # not the repository: import the installed build
    )
    m = re.search(r"Collected : (\d+)", p.stderr)
    if m is None:
        raise SystemExit(f"no instruction count from valgrind for {what}: {p.stderr[-500:]}")
    build, states = p.stdout.strip().splitlines()[-2:]
    return int(m.group(1)), int(states), build


def count_all() -> None:
    names = [SETUP_ONLY, *COUNTED]
    with ThreadPoolExecutor(2) as pool:
        got = dict(zip(names, pool.map(instructions, names), strict=True))
    base, _, build = got[SETUP_ONLY]
    print(f"cowcheck {build}; {SCENARIO} under {RULE}; callgrind, one process each")
    print()
    print(f"The set-up alone (the graph and the models over it): {base:,} instructions.")
    print()
    print("| search | states | instructions beyond the set-up | instructions per state |")
    print("|---|---|---|---|")
    for what in COUNTED:
        n, states, _ = got[what]
        print(f"| {what} | {states:,} | {n - base:,} | {(n - base) / states:,.0f} |")


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        count_one(" ".join(sys.argv[2:]))
        return
    if sys.argv[1:] == ["--instructions"]:
        count_all()
        return
    print(f"cowcheck {build_name()}; {SCENARIO} under {RULE}, no subsumption")
    print()
    start = time.perf_counter()
    states, succ, gm, rm, pgm = setup()
    secs = time.perf_counter() - start
    edges = sum(map(len, succ))
    real = min(
        (check(SCENARIO, RULE, options=NO_SUBSUME, minimise=False).stats for _ in range(2)), key=lambda st: st.seconds
    )
    if (real.states, real.transitions) != (len(states), edges):
        raise SystemExit(f"graph {len(states)}/{edges} differs from the search's {real.states}/{real.transitions}")
    eng = min((explore(gm, SearchOptions(subsume=False)).stats for _ in range(3)), key=lambda st: st.seconds)
    if (eng.states, eng.transitions) != (len(states), edges):
        raise SystemExit(f"engine over the graph: {eng.states}/{eng.transitions}, expected {len(states)}/{edges}")
    eng_p = min((explore(pgm, SearchOptions(subsume=False)).stats for _ in range(3)), key=lambda st: st.seconds)
    if (eng_p.states, eng_p.transitions) != (len(states), edges):
        raise SystemExit(f"engine with properties: {eng_p.states}/{eng_p.transitions}, expected {len(states)}/{edges}")
    parts = per_state(states)
    us_real = real.seconds / real.states * 1e6
    us_eng = eng.seconds / eng.states * 1e6
    us_eng_p = eng_p.seconds / eng_p.states * 1e6
    print(f"graph: {len(states):,} states, {edges:,} transitions (graph and its models built in {secs:.1f} s)")
    print()
    print("| what | µs per state | states/s | share of the search |")
    print("|---|---|---|---|")
    print(f"| the search (`check --no-subsume`, best of 2) | {us_real:.1f} | {1e6 / us_real:,.0f} | 100 % |")
    print(
        f"| the engine alone over the same graph (best of 3) | {us_eng:.2f} | {1e6 / us_eng:,.0f} "
        f"| {us_eng / us_real:.1%} |"
    )
    print(
        f"| the engine over the same graph with the properties' checks on the real states (best of 3) "
        f"| {us_eng_p:.2f} | {1e6 / us_eng_p:,.0f} | ({us_eng_p / us_real:.1%}: not part of the sum) |"
    )
    for k, v in parts.items():
        print(f"| {k} | {v:.1f} | | {v / us_real:.1%} |")
    rest = us_real - us_eng - sum(parts.values())
    print(
        f"| the rest (storing and queueing new states, the store's own methods, the search's loop) "
        f"| {rest:.1f} | | {rest / us_real:.1%} |"
    )
    print()
    print("With the mm model's `actions` and `next_step` answered from a table (best of 3 each):")
    print()
    print("| search | states | transitions | µs per state | states/s | the real search's states/s |")
    print("|---|---|---|---|---|---|")
    real_sub = min((check(SCENARIO, RULE, minimise=False).stats for _ in range(2)), key=lambda st: st.seconds)
    for label, sub, ref in (("no subsumption", False, real), ("subsumption (the default)", True, real_sub)):
        rep = replayed(rm, sub)
        if (rep.states, rep.transitions) != (ref.states, ref.transitions):
            raise SystemExit(f"replayed ({label}): {rep.states}/{rep.transitions}, real {ref.states}/{ref.transitions}")
        us = rep.seconds / rep.states * 1e6
        print(
            f"| {label} | {rep.states:,} | {rep.transitions:,} | {us:.1f} | {1e6 / us:,.0f} "
            f"| {ref.states / ref.seconds:,.0f} |"
        )


if __name__ == "__main__":
    main()
