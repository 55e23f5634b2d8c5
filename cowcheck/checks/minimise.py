"""Counterexample minimisation: fewest steps, then fewest switches between actors.

BFS already returns a shortest path, so deleting steps only helps for traces that
did not come from a BFS over the same model (a trace replayed under another rule, or
found by another search). Reordering then groups each actor's steps where the order
does not matter, which is what makes a column diagram readable: the same violation,
in as few context switches as the interleaving allows.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from cowcheck.engine import replay
from cowcheck.mm.actions import Action
from cowcheck.mm.model import MMModel


def _fails(model: MMModel, actions: Sequence[Action], prop: str) -> int | None:
    """Length of the shortest prefix of ``actions`` that violates ``prop``, if any."""
    out = replay(model, actions)
    hits = [i for i, pid, _ in out.violations if pid == prop]
    if not hits:
        return None
    if out.diverged_at is not None and hits[0] > out.diverged_at:
        return None
    return hits[0]


def _switches(actions: Sequence[Action]) -> int:
    return sum(1 for a, b in itertools.pairwise(actions) if a.actor != b.actor)


def minimise(model: MMModel, actions: Sequence[Action], prop: str) -> list[Action]:
    cur = list(actions)
    n = _fails(model, cur, prop)
    if n is None:
        return cur
    cur = cur[:n]
    changed = True
    while changed:  # delete single steps until none can go
        changed = False
        for i in reversed(range(len(cur))):
            cand = cur[:i] + cur[i + 1 :]
            m = _fails(model, cand, prop)
            if m is not None:
                cur = cand[:m]
                changed = True
                break
    for _ in range(len(cur) ** 2):  # adjacent swaps that reduce actor switches
        best = None
        for i in range(len(cur) - 1):
            if cur[i].actor == cur[i + 1].actor:
                continue
            cand = [*cur[:i], cur[i + 1], cur[i], *cur[i + 2 :]]
            if _switches(cand) < _switches(cur) and _fails(model, cand, prop) == len(cand):
                best = cand
                break
        if best is None:
            break
        cur = best
    return cur
