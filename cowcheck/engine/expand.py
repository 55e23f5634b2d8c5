"""One search step, shared by the serial, multi-process and distributed searches:
expand a stored representative into its canonical successors and check properties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from cowcheck.engine.model import Model

S = TypeVar("S")
A = TypeVar("A")


class Expander(Generic[S, A]):
    def __init__(self, model: Model[S, A]) -> None:
        self.model = model
        self.invariants = tuple(model.invariants())
        checks = tuple(model.transition_checks())
        self.tchecks = tuple(c for c in checks if not c.metric)
        self.metrics = tuple(c for c in checks if c.metric)
        self.metric_counts = {m.id: 0 for m in self.metrics}
        self.transitions = 0

    def bad_state(self, state: S) -> str | None:
        """The id of the first invariant ``state`` violates, if any."""
        for inv in self.invariants:
            if inv.check(state) is not None:
                return inv.id
        return None

    def successors(
        self, state: S, seen: Callable[[S], bool], canonicalise: bool = True
    ) -> tuple[list[tuple[S, int]], tuple[int, str] | None]:
        """Canonical successors with the index of the action that leads there, and the
        first failing transition check as (action index, check id).

        ``seen(concrete)`` is asked first: a successor that is itself a stored
        representative is a duplicate without computing its canonical form, which is
        most of them (canonical() is idempotent, so this is exact). Without
        ``canonicalise`` the concrete successors are returned, for their owner to
        canonicalise (parallel.py)."""
        model = self.model
        canon = model.canonical
        out: list[tuple[S, int]] = []
        for i, action in enumerate(model.actions(state)):
            step = model.next_step(state, action)
            if step is None:
                continue
            self.transitions += 1
            for tc in self.tchecks:
                if tc.check(state, action, step) is not None:
                    return out, (i, tc.id)
            for m in self.metrics:
                if m.check(state, action, step) is not None:
                    self.metric_counts[m.id] += 1
            ns = step.state
            if seen(ns):
                continue
            out.append((canon(ns) if canonicalise else ns, i))
        return out, None

    def can_move(self, state: S) -> bool:
        model = self.model
        return any(model.next_step(state, a) is not None for a in model.actions(state))
