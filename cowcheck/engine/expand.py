"""One search step, shared by every partition of the search: expand a stored
representative into its canonical successors and check properties."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from cowcheck.engine.model import STUCK, Capabilities, Model, Step
from cowcheck.engine.rebuild import stuck_message

S = TypeVar("S")
A = TypeVar("A")


class Expander(Generic[S, A]):
    def __init__(
        self,
        model: Model[S, A],
        caps: Capabilities[S, A],
        canon: Callable[[S], S],
        por: bool = False,
        checks: bool = True,
    ) -> None:
        self.model = model
        self.caps = caps
        self.canon = canon
        # Partial-order reduction: the model proposes ample sets (C0-C2, see
        # mm/footprint.py); the cycle proviso C3 is checked here. It needs the whole
        # visited set, so only a search of one partition asks for it.
        self.ample = caps.ample_candidates if por else None
        self.reduced = 0  # states expanded through an ample set
        # Without ``checks`` (a visitor walking the whole graph) no property ends the
        # search; the visitor is told what each state violates.
        self.invariants = tuple(model.invariants())
        tchecks = tuple(model.transition_checks()) if checks else ()
        self.tchecks = tuple(c for c in tchecks if not c.metric)
        self.metrics = tuple(c for c in tchecks if c.metric)
        self.metric_counts = {m.id: 0 for m in self.metrics}
        self.transitions = 0
        # Vacuity (engine/model.py): end states the programs should not reach, and
        # goals no explored transition achieved.
        self.stuck = caps.stuck
        self.goals = caps.coverage_goals
        self.goal_of = caps.goal_of if self.goals else None
        self.covered: set[int] = set()

    def bad_state(self, state: S) -> str | None:
        """The id of the first invariant ``state`` violates, if any, or ``STUCK``.

        Stuck is asked here, where a state is stored, and not when it is expanded:
        then every search meets it at the state's own depth, with the invariants, and
        the shortest violation is found whatever the frontier's order."""
        for inv in self.invariants:
            if inv.check(state) is not None:
                return inv.id
        return STUCK if self.stuck_end(state) else None

    def successors(
        self, state: S, seen: Callable[[S], bool], canonicalise: bool = True
    ) -> tuple[list[tuple[S, int]], tuple[int, str] | None]:
        """Canonical successors with the index of the action that leads there, and the
        first failing transition check as (action index, check id).

        ``seen(concrete)`` is asked first: a successor that is itself a stored
        representative is a duplicate without computing its canonical form, which is
        most of them (canonical() is idempotent, so this is exact). Without
        ``canonicalise`` the concrete successors are returned, for their owner to
        canonicalise (partition.py)."""
        model = self.model
        canon = self.canon
        out: list[tuple[S, int]] = []
        acts = list(model.actions(state))
        steps: Iterable[tuple[int, Step[S] | None]] = ((i, None) for i in range(len(acts)))
        if self.ample is not None:
            amp = self._ample_steps(state, acts, seen)
            if amp is not None:
                steps = amp
                self.reduced += 1
        goal_of = self.goal_of
        for i, step in steps:
            action = acts[i]
            if step is None:
                step = model.next_step(state, action)
            if step is None:
                continue
            self.transitions += 1
            if goal_of is not None and (g := goal_of(action)) >= 0:
                self.covered.add(g)
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

    def _ample_steps(
        self, state: S, acts: list[A], seen: Callable[[S], bool]
    ) -> list[tuple[int, Step[S] | None]] | None:
        """The first proposed ample set that is a proper, enabled subset whose every
        successor is new. C3 (Bošnački et al.): a state whose ample set reaches an
        already visited state is fully expanded, so every cycle of the reduced graph
        has a fully expanded state and no action is postponed forever."""
        assert self.ample is not None
        model, canon = self.model, self.canon
        for cand in self.ample(state, acts):
            if not cand or len(cand) >= len(acts):
                continue
            trial: list[tuple[int, Step[S] | None]] = []
            for i in cand:
                step = model.next_step(state, acts[i])
                if step is None or seen(step.state) or seen(canon(step.state)):
                    break
                trial.append((i, step))
            else:
                return trial
        return None

    def stuck_end(self, state: S) -> bool:
        """``state`` is an end its model calls stuck."""
        return self.stuck is not None and stuck_message(self.stuck, self.model, state) is not None

    def can_move(self, state: S) -> bool:
        model = self.model
        return any(model.next_step(state, a) is not None for a in model.actions(state))
