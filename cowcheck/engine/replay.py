"""Re-execution of a fixed action list: how saved traces are checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cowcheck.engine.model import STUCK, Model, Step
from cowcheck.engine.rebuild import stuck_message

S = TypeVar("S")
A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class ReplayOutcome(Generic[S, A]):
    """Result of re-executing a fixed list of actions."""

    states: tuple[S, ...]
    steps: tuple[Step[S], ...]
    diverged_at: int | None = None  # index of the first action that was not enabled
    violations: tuple[tuple[int, str, str], ...] = field(default=())  # (state index, id, msg)


def replay(model: Model[S, A], actions: Sequence[A], init_index: int = 0) -> ReplayOutcome[S, A]:
    """Re-execute ``actions`` from an initial state, checking every property.

    Replays use the same ``next_step`` as the search, so a trace that the search
    produced replays to the same concrete states.
    """
    state = model.init_states()[init_index]
    states: list[S] = [state]
    steps: list[Step[S]] = []
    violations: list[tuple[int, str, str]] = []
    invariants = model.invariants()
    checks = [c for c in model.transition_checks() if not c.metric]

    def check_state(i: int, s: S) -> None:
        for inv in invariants:
            msg = inv.check(s)
            if msg is not None:
                violations.append((i, inv.id, msg))

    check_state(0, state)
    for i, action in enumerate(actions):
        # Only what the model offers here: a saved trace must not run a step out of
        # its program order or past a bound.
        step = model.next_step(state, action) if action in list(model.actions(state)) else None
        if step is None:
            return ReplayOutcome(tuple(states), tuple(steps), i, tuple(violations))
        for tc in checks:
            msg = tc.check(state, action, step)
            if msg is not None:
                violations.append((i + 1, tc.id, msg))
        state = step.state
        states.append(state)
        steps.append(step)
        check_state(i + 1, state)
    # A run that ends where its programs cannot go on fails as the search's STUCK does.
    msg = stuck_message(model.capabilities().stuck, model, state)
    if msg is not None:
        violations.append((len(actions), STUCK, msg))
    return ReplayOutcome(tuple(states), tuple(steps), None, tuple(violations))
