"""Breadth-first search with parent pointers.

The visited set is keyed by the model's canonical form, while the stored nodes
keep the concrete states, so a violating path is rebuilt from parent pointers
and replays exactly. BFS order makes the first violation found a shortest one.
"""

from __future__ import annotations

import gc
import resource
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cowcheck.engine.model import Model, Step
from cowcheck.engine.result import Path, SearchResult, Stats, Verdict, Violation

S = TypeVar("S")
A = TypeVar("A")

_NO_PARENT = -1


@dataclass(frozen=True, slots=True)
class Bounds:
    """Search bounds. Hitting any of them makes the verdict INCOMPLETE, never HOLDS."""

    max_states: int | None = None
    max_depth: int | None = None
    timeout: float | None = None  # seconds
    max_memory_mb: int | None = None

    def describe(self) -> str:
        parts = []
        if self.max_states is not None:
            parts.append(f"max-states {self.max_states}")
        if self.max_depth is not None:
            parts.append(f"max-depth {self.max_depth}")
        if self.timeout is not None:
            parts.append(f"timeout {self.timeout:g}s")
        if self.max_memory_mb is not None:
            parts.append(f"max-memory {self.max_memory_mb} MiB")
        return ", ".join(parts) if parts else "none (exhaustive)"


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass(slots=True)
class _Node(Generic[S, A]):
    state: S
    parent: int
    action: A | None
    step: Step[S] | None
    depth: int


def _path(nodes: list[_Node[S, A]], idx: int) -> Path[S, A]:
    chain: list[_Node[S, A]] = []
    while idx != _NO_PARENT:
        chain.append(nodes[idx])
        idx = nodes[idx].parent
    chain.reverse()
    states = tuple(n.state for n in chain)
    actions = tuple(n.action for n in chain[1:] if n.action is not None)
    steps = tuple(n.step for n in chain[1:] if n.step is not None)
    return Path(states, actions, steps)


def search(
    model: Model[S, A],
    bounds: Bounds | None = None,
    progress: Callable[[Stats, int], None] | None = None,
) -> SearchResult[S, A]:
    """Explore every state reachable within ``bounds``.

    Returns HOLDS only if the frontier was exhausted with no bound hit. A
    KeyboardInterrupt ends the search with INCOMPLETE and the figures so far.
    """
    bounds = bounds or Bounds()
    stats = Stats()
    start = time.perf_counter()
    invariants = tuple(model.invariants())
    tchecks = tuple(c for c in model.transition_checks() if not c.metric)
    metrics = tuple(c for c in model.transition_checks() if c.metric)
    metric_counts = {m.id: 0 for m in metrics}

    nodes: list[_Node[S, A]] = []
    visited: dict[Hashable, int] = {}
    frontier: deque[int] = deque()
    reason: str | None = None

    def finish(verdict: Verdict, violation: Violation[S, A] | None = None) -> SearchResult[S, A]:
        stats.seconds = time.perf_counter() - start
        stats.states = len(nodes)
        stats.peak_rss_mb = _peak_rss_mb()
        return SearchResult(verdict, stats, violation, reason, dict(metric_counts))

    def check_state(idx: int) -> Violation[S, A] | None:
        state = nodes[idx].state
        for inv in invariants:
            msg = inv.check(state)
            if msg is not None:
                return Violation(inv.id, msg, _path(nodes, idx))
        return None

    # The visited set and node list only grow; the cyclic collector would rescan
    # them again and again for nothing, since states hold no cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for init in model.init_states():
            key = model.canonical(init)
            if key in visited:
                continue
            visited[key] = len(nodes)
            nodes.append(_Node(init, _NO_PARENT, None, None, 0))
            v = check_state(len(nodes) - 1)
            if v is not None:
                return finish(Verdict.VIOLATED, v)
            frontier.append(len(nodes) - 1)

        while frontier:
            idx = frontier.popleft()
            node = nodes[idx]
            if node.depth > stats.max_depth:
                stats.max_depth = node.depth
            if bounds.max_depth is not None and node.depth >= bounds.max_depth:
                # Only incomplete if something lies beyond the bound.
                if any(model.next_step(node.state, a) is not None for a in model.actions(node.state)):
                    reason = f"max-depth {bounds.max_depth} reached"
                continue
            for action in model.actions(node.state):
                step = model.next_step(node.state, action)
                if step is None:
                    continue
                stats.transitions += 1
                for tc in tchecks:
                    msg = tc.check(node.state, action, step)
                    if msg is not None:
                        nodes.append(_Node(step.state, idx, action, step, node.depth + 1))
                        return finish(Verdict.VIOLATED, Violation(tc.id, msg, _path(nodes, len(nodes) - 1)))
                for m in metrics:
                    if m.check(node.state, action, step) is not None:
                        metric_counts[m.id] += 1
                key = model.canonical(step.state)
                if key in visited:
                    continue
                visited[key] = len(nodes)
                nodes.append(_Node(step.state, idx, action, step, node.depth + 1))
                v = check_state(len(nodes) - 1)
                if v is not None:
                    return finish(Verdict.VIOLATED, v)
                frontier.append(len(nodes) - 1)
            n = len(nodes)
            if progress is not None and idx % 1024 == 0:
                stats.states = n
                stats.seconds = time.perf_counter() - start
                progress(stats, len(frontier))
            if bounds.max_states is not None and n >= bounds.max_states and frontier:
                reason = f"max-states {bounds.max_states} reached"
                return finish(Verdict.INCOMPLETE)
            if frontier and bounds.timeout is not None and time.perf_counter() - start > bounds.timeout:
                reason = f"timeout {bounds.timeout:g}s reached"
                return finish(Verdict.INCOMPLETE)
            mem = bounds.max_memory_mb
            if mem is not None and frontier and idx % 1024 == 0 and _peak_rss_mb() > mem:
                reason = f"max-memory {mem} MiB reached"
                return finish(Verdict.INCOMPLETE)
    except KeyboardInterrupt:
        reason = "interrupted"
        return finish(Verdict.INCOMPLETE)
    finally:
        if gc_was_enabled:
            gc.enable()
    return finish(Verdict.INCOMPLETE if reason else Verdict.HOLDS)
