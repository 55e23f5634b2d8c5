"""The generic engine on toy models: verdicts, shortest paths, bounds, determinism."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cowcheck.engine import (
    Bounds,
    Capabilities,
    Invariant,
    SearchOptions,
    Step,
    TransitionCheck,
    Verdict,
    explore,
    replay,
)


@dataclass
class Counter:
    """Two counters incremented independently up to ``top``; bad when both equal ``bad``."""

    top: int
    bad: int | None = None
    key_mod: int | None = None  # canonical key that merges states (to test reduction)

    def capabilities(self) -> Capabilities[tuple[int, int], str]:
        return Capabilities()

    def init_states(self) -> Sequence[tuple[int, int]]:
        return [(0, 0)]

    def actions(self, s: tuple[int, int]) -> list[str]:
        return ["a", "b", "noop"]

    def next_step(self, s: tuple[int, int], a: str) -> Step[tuple[int, int]] | None:
        x, y = s
        if a == "a" and x < self.top:
            return Step((x + 1, y), (f"a->{x + 1}",))
        if a == "b" and y < self.top:
            return Step((x, y + 1))
        return None

    def canonical(self, s: tuple[int, int]) -> object:
        return tuple(sorted(s)) if self.key_mod else s

    def invariants(self) -> Sequence[Invariant[tuple[int, int]]]:
        if self.bad is None:
            return []
        bad = self.bad
        return [Invariant("both", lambda s: "both reached" if s == (bad, bad) else None)]

    def transition_checks(self) -> Sequence[TransitionCheck[tuple[int, int], str]]:
        return [TransitionCheck("a-steps", lambda s, a, st: "a" if a == "a" else None, metric=True)]


def test_holds_counts_every_state() -> None:
    r = explore(Counter(3))
    assert r.verdict is Verdict.HOLDS
    assert r.stats.states == 16
    assert r.stats.max_depth == 6
    assert r.metrics["a-steps"] == 12  # every explored a-transition is counted


def test_violation_is_shortest_and_replays() -> None:
    r = explore(Counter(3, bad=2))
    assert r.verdict is Verdict.VIOLATED
    assert r.violation is not None
    path = r.violation.path
    assert len(path) == 4
    assert path.states[-1] == (2, 2)
    out = replay(Counter(3, bad=2), path.actions)
    assert out.states == path.states
    assert out.violations[-1][1] == "both"


def test_bounds_make_it_incomplete_never_holds() -> None:
    r = explore(Counter(3), SearchOptions(Bounds(max_states=5)))
    assert r.verdict is Verdict.INCOMPLETE
    assert r.incomplete_reason is not None and "max-states" in r.incomplete_reason
    r = explore(Counter(3), SearchOptions(Bounds(max_depth=2)))
    assert r.verdict is Verdict.INCOMPLETE
    # A depth bound that cuts nothing off is not a reason for "incomplete".
    assert explore(Counter(3), SearchOptions(Bounds(max_depth=6))).verdict is Verdict.HOLDS


def test_canonical_key_reduces_but_keeps_verdict() -> None:
    full = explore(Counter(3, bad=2))
    red = explore(Counter(3, bad=2, key_mod=1))
    assert red.verdict is full.verdict
    assert red.violation is not None and full.violation is not None
    assert len(red.violation.path) == len(full.violation.path)
    assert explore(Counter(3, key_mod=1)).stats.states == 10  # unordered pairs


def test_deterministic() -> None:
    a, b = explore(Counter(4, bad=3)), explore(Counter(4, bad=3))
    assert a.violation is not None and b.violation is not None
    assert a.violation.path.actions == b.violation.path.actions
    assert a.stats.states == b.stats.states and a.stats.transitions == b.stats.transitions


def test_replay_reports_divergence() -> None:
    out = replay(Counter(1), ["a", "a"])
    assert out.diverged_at == 1


def test_timeout_and_interrupt_report_what_was_explored() -> None:
    r = explore(Counter(50), SearchOptions(Bounds(timeout=1e-9)))
    assert r.verdict is Verdict.INCOMPLETE and r.incomplete_reason is not None
    assert "timeout" in r.incomplete_reason and r.stats.states > 0

    def interrupt(stats: object, queue: int) -> None:
        raise KeyboardInterrupt

    r = explore(Counter(50), progress=interrupt)
    assert r.verdict is Verdict.INCOMPLETE and r.incomplete_reason == "interrupted"
    assert r.stats.states > 0 and r.stats.transitions > 0


def test_a_finished_search_is_not_cut_by_a_bound_it_never_needed() -> None:
    """The memory and time bounds are checked only while something is left to explore:
    a search that ran out of states holds, whatever its peak memory."""
    r = explore(Counter(0), SearchOptions(Bounds(max_memory_mb=1)))
    assert r.verdict is Verdict.HOLDS and r.stats.states == 1
