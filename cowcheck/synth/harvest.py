"""What reaches a rule's write-fault hook: every ``Seen`` that ``do_wp_page`` is
called with in an exhaustive walk of a scenario's state graph, each with the first
state (in BFS order, so on a shortest path) whose expansion calls it.

The walk is the visitor's (engine/visitor.py): every state and transition, no
reduction; a violating state is not expanded, as in the search. A walk stopped by a
bound says so (``complete``): what it harvested is then not every call."""

from __future__ import annotations

from dataclasses import dataclass, field

from cowcheck.api import build_model
from cowcheck.engine import Bounds, SearchOptions, Verdict, explore
from cowcheck.input.scenario import Scenario
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel
from cowcheck.mm.rule import Rule
from cowcheck.mm.state import MMState
from cowcheck.report.counterexample import Trace, build_trace
from cowcheck.synth.record import Seen, recording


@dataclass(slots=True)
class _Walk:
    """The visitor: parents of new states, and the first expansion of each Seen."""

    log: list[Seen]
    parent: dict[int, tuple[int, Action]] = field(default_factory=dict)
    roots: set[int] = field(default_factory=set)
    first: dict[Seen, tuple[int, Action]] = field(default_factory=dict)  # the state, and its step that asks
    violating: int = 0
    model: MMModel | None = None

    def state(self, gid: int, state: MMState, depth: int, violates: str) -> None:
        if depth == 0:
            self.roots.add(gid)
        if violates:
            self.violating += 1  # not expanded: what lies past it is not harvested

    def edge(self, src: int, ai: int, action: Action, dst: int) -> None:
        if dst not in self.parent and dst not in self.roots and dst != src:
            self.parent[dst] = (src, action)

    def expanded(self, gid: int, state: MMState, moves: list[Action]) -> None:
        new = [s for s in dict.fromkeys(self.log) if s not in self.first]
        self.log.clear()
        assert self.model is not None
        for s in new:
            # Only a step that runs decides: a fault that waits for the page lock asks
            # and is not taken (then a later state that asks and runs is the witness).
            step = _step_calling(self.model, state, s, self.log)
            if step is not None:
                self.first[s] = (gid, step)

    def path(self, gid: int) -> list[Action]:
        out: list[Action] = []
        while gid in self.parent:
            gid, a = self.parent[gid]
            out.append(a)
        return out[::-1]


@dataclass(frozen=True, slots=True)
class Harvest:
    """The calls of ``do_wp_page`` in one scenario under one rule."""

    scenario: Scenario
    rule: Rule
    strict: bool
    model: MMModel  # the rule's model, to draw a witness
    witnesses: dict[Seen, list[Action]]  # a shortest path to a state that calls the hook with it, and that step
    states: int
    complete: bool  # every reachable state was expanded (but the violating ones)
    violating: int  # states that violate a property: not expanded, as in the search

    def trace(self, seen: Seen) -> Trace:
        """The witness of ``seen`` as a trace: its last step calls the hook with it."""
        return build_trace(self.model, self.witnesses[seen])


def harvest(scenario: Scenario, rule: Rule, strict: bool = False, max_states: int | None = None) -> Harvest:
    """Every ``Seen`` of ``do_wp_page`` in ``scenario`` under ``rule``, with a witness."""
    log: list[Seen] = []
    model = build_model(scenario, recording(rule, log), None, "observational", strict)
    walk = _Walk(log, model=model)
    result = explore(model, SearchOptions(Bounds(max_states=max_states), subsume=False), visitor=walk)
    witnesses: dict[Seen, list[Action]] = {}
    for seen, (gid, step) in walk.first.items():
        witnesses[seen] = [*walk.path(gid), step]
    plain = build_model(scenario, rule, None, "observational", strict)
    complete = result.verdict is not Verdict.INCOMPLETE
    return Harvest(scenario, rule, strict, plain, witnesses, result.stats.states, complete, walk.violating)


def _step_calling(model: MMModel, state: MMState, seen: Seen, log: list[Seen]) -> Action | None:
    """The action of ``state`` whose step calls the hook with ``seen`` and runs; None
    if only a step that does not run does (the mapcount era's lock_page() wait)."""
    for a in model.actions(state):
        log.clear()
        ran = model.next_step(state, a) is not None
        if seen in log and ran:
            log.clear()
            return a
    log.clear()
    return None
