"""From stored (parent, action index) pairs back to a concrete, replayable path.

The search stores and expands canonical representatives, and keeps per state only
its parent's number and the index of the action taken from the parent's
representative. A counterexample is rebuilt in two passes: re-run those actions on
representatives to get the canonical states along the path, then walk the concrete
states from the real initial state, taking at each step the first enabled action
whose successor has the next canonical form. Symmetry guarantees one exists; if none
does, the search's canonical form is not a symmetry and the search says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from cowcheck.engine.model import STUCK, Model, Step
from cowcheck.engine.result import Path, Violation

S = TypeVar("S")
A = TypeVar("A")


class UnsoundReduction(RuntimeError):
    """canonical() merged states that do not behave alike."""


def chain(link: Callable[[int], tuple[int, int]], idx: int) -> tuple[int, list[int]]:
    """(initial state index, action indices) leading to stored state ``idx``;
    ``link(i)`` is state i's (parent, action index), the parent -1 for initial
    states, whose action index is their position among the initial states."""
    out: list[int] = []
    parent, act = link(idx)
    while parent >= 0:
        out.append(act)
        parent, act = link(parent)
    out.reverse()
    return act, out


def concrete_violation(
    model: Model[S, A],
    canon: Callable[[S], S],
    init_index: int,
    act_idxs: Sequence[int],
    property_id: str,
    transition: bool,
) -> Violation[S, A]:
    """The concrete path to stored state ``act_idxs`` leads to, with ``canon`` the
    search's canonical form."""
    init = model.init_states()[init_index]
    key = canon(init)
    targets = []
    for ai in act_idxs:
        step = model.next_step(key, list(model.actions(key))[ai])
        if step is None:
            raise UnsoundReduction(f"stored action {ai} is not enabled on replay")
        key = canon(step.state)
        targets.append(key)

    inv = next((i for i in model.invariants() if i.id == property_id), None)
    tc = next((c for c in model.transition_checks() if c.id == property_id), None)
    state = init
    states: list[S] = [state]
    actions: list[A] = []
    steps: list[Step[S]] = []
    message = ""
    for n, target in enumerate(targets):
        last = n == len(targets) - 1
        for a in model.actions(state):
            step = model.next_step(state, a)
            if step is None or canon(step.state) != target:
                continue
            if last and transition and tc is not None:
                message = tc.check(state, a, step) or ""
                if not message:
                    continue
            break
        else:
            raise UnsoundReduction(f"no concrete step {n + 1} reaches the stored representative")
        state = step.state
        states.append(state)
        actions.append(a)
        steps.append(step)
    if not transition and inv is not None:
        message = inv.check(state) or ""
    elif property_id == STUCK:
        message = stuck_message(model.capabilities().stuck, model, state) or ""
    if not message:
        raise UnsoundReduction(f"{property_id} holds on the concrete state its representative violates")
    return Violation(property_id, message, Path(tuple(states), tuple(actions), tuple(steps)))


def stuck_message(stuck: Callable[[S, list[A]], str | None] | None, model: Model[S, A], state: S) -> str | None:
    """What the model's ``stuck`` says of ``state``, asked as the search asks it: with
    every action that has a successor there."""
    if stuck is None:
        return None
    moves = [a for a in model.actions(state) if model.next_step(state, a) is not None]
    msg: str | None = stuck(state, moves)
    return msg


def maximal_run(model: Model[S, A], canon: Callable[[S], S], property_id: str, message: str) -> Violation[S, A]:
    """A run from the first initial state that goes on while it can: at each state the
    first enabled action whose successor is new to the run. It ends where nothing is
    enabled, or before it would enter a cycle. Deterministic; the witness of a coverage
    goal that no run achieves, since every run is one without it. ``canon`` is the
    search's canonical form."""
    state = model.init_states()[0]
    visited = {canon(state)}
    states: list[S] = [state]
    actions: list[A] = []
    steps: list[Step[S]] = []
    while True:
        for a in model.actions(state):
            step = model.next_step(state, a)
            if step is not None and canon(step.state) not in visited:
                break
        else:
            break
        state = step.state
        visited.add(canon(state))
        states.append(state)
        actions.append(a)
        steps.append(step)
    return Violation(property_id, message, Path(tuple(states), tuple(actions), tuple(steps)))
