"""Subsumption by resources: skip a state when one with the same rest and at least
as much of every resource was already explored.

A model may split its states into ``(core, resources)``, where ``resources`` is a
tuple of ints (budgets left) with a promise, checked by the model's tests:

- no property reads the resources;
- every action enabled in ``(c, r)`` is enabled in ``(c, r2)`` for any ``r2 >= r``
  (componentwise) and leads to the same core, with resources ``>=`` those it leads
  to from ``(c, r)``;
- where the split normalises the resources (MMModel clips each budget kind to the
  total left), the state with its normalised resources behaves as the state does.

Then everything reachable from ``(c, r)`` is reachable, with the same cores and no
later, from ``(c, r2)``, so exploring ``(c, r)`` as well finds nothing new: a verdict
is the same, and BFS keeps a counterexample shortest (the dominating state was
reached no later). This is the covering of well-structured transition systems
applied to a bounded search.

To make the state count independent of the order in which a level's states arrive
(and so the same for the serial search and for any number of partitions), a level is
decided as a whole: a new state is dropped when an earlier level has a state that
covers it, or when the same level has one with the same core and strictly more
resources. The visited store keeps, per core, only the maximal resource vectors (an
antichain).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

S = TypeVar("S")

Split = Callable[[S], tuple[Hashable, tuple[int, ...]]]


def _covers(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """``a >= b`` componentwise. A loop rather than ``all(map(ge, a, b))``: the
    compiled build runs it without looking up and calling two builtins."""
    for i in range(len(a)):  # noqa: SIM110 - all() over a generator costs more, interpreted too
        if a[i] < b[i]:
            return False
    return True


class CoverStore(Generic[S]):
    """The visited store of a subsuming search, with the level being built.

    Per core one list: ``[pending, top, top, ...]``, where the tops are the maximal
    resource vectors explored (an antichain) and ``pending`` maps the resource vectors
    of this level's candidates to their slots (None between levels). One dict lookup
    answers both questions, which is most of what this costs."""

    kind = "exact"

    def __init__(self, split: Split[S]) -> None:
        # Typed loosely: the store protocol takes any hashable key (store.py).
        self._split: Callable[[Any], tuple[Hashable, tuple[int, ...]]] = split
        self._entries: dict[Hashable, list[Any]] = {}
        self._n = 0
        self._list_bytes = 0  # getsizeof of every entry list, kept as they change
        # This level, in order of arrival: (state, its core's entry, resources, parent,
        # action index).
        self._cands: list[tuple[S, list[Any], tuple[int, ...], int, int]] = []
        self._touched: list[list[Any]] = []  # entries with a pending dict
        self._ids: dict[int, int] = {}  # slot -> id given early
        # Misses of __contains__ not yet offered: id(state) -> (state, core, resources,
        # entry or None).
        self._probes: dict[int, tuple[Any, Hashable, tuple[int, ...], list[Any] | None]] = {}

    @staticmethod
    def _covered(e: list[Any], res: tuple[int, ...]) -> bool:
        for i in range(1, len(e)):
            if _covers(e[i], res):
                return True
        pend: dict[tuple[int, ...], int] | None = e[0]
        if pend is not None:
            for other in pend:
                if _covers(other, res):
                    return True
        return False

    def __contains__(self, state: Hashable) -> bool:
        """Covered by an explored state, or by a candidate of the level being built. A
        state another candidate covers is never kept (the one covering it, or one
        covering that, is), so it can be dropped as soon as it arrives."""
        core, res = self._split(state)
        e = self._entries.get(core)
        if e is not None and self._covered(e, res):
            return True
        # The searches ask this of a successor before they canonicalise it, and most
        # successors are canonical already, so a miss is usually offered next: keep
        # its split and entry for offer() (a core is a tuple of tuples, hashed anew
        # on every lookup). By identity, holding the state so that its id stays its
        # own; one state's successors at a time, in effect.
        probes = self._probes
        if len(probes) >= 64:
            probes.clear()
        probes[id(state)] = (state, core, res, e)
        return False

    def add(self, state: Hashable) -> bool:
        """Record an explored state at once (outside a level); True if nothing
        explored covered it."""
        core, res = self._split(state)
        e = self._entries.get(core)
        if e is None:
            e = self._entries[core] = [None, res]
            self._list_bytes += sys.getsizeof(e)
        elif self._covered(e, res):
            return False
        else:
            self._push(e, res)
        self._n += 1
        return True

    def _push(self, e: list[Any], res: tuple[int, ...]) -> None:
        # States it covers were explored already; only the maximal ones are needed to
        # answer later lookups.
        size = sys.getsizeof(e)
        e[1:] = [top for top in e[1:] if not _covers(res, top)]
        e.append(res)
        self._list_bytes += sys.getsizeof(e) - size

    # -- the level being built ------------------------------------------------------

    def pending(self) -> int:
        return len(self._cands)

    def offer(self, state: S, parent: int, ai: int) -> int | None:
        """Take a new candidate; None if an explored state or one of this level's
        candidates covers it. Returns its slot, for ``mark``."""
        probe = self._probes.pop(id(state), None)
        if probe is not None and probe[0] is state:
            _, core, res, e = probe
        else:
            core, res = self._split(state)
            e = None
        if e is None:
            # One lookup that also inserts: new cores are most of what is offered.
            fresh: list[Any] = [None]
            e = self._entries.setdefault(core, fresh)
            if e is fresh:
                self._list_bytes += sys.getsizeof(e)
            elif self._covered(e, res):
                return None
        elif self._covered(e, res):  # this level's candidates since the probe
            return None
        if e[0] is None:
            e[0] = {}
            self._touched.append(e)
        slot = e[0][res] = len(self._cands)
        # The entry itself, not its core: keep() needs no second lookup (a core is a
        # tuple of tuples, hashed anew each time).
        self._cands.append((state, e, res, parent, ai))
        return slot

    def mark(self, slot: int, ident: int) -> None:
        """The candidate in ``slot`` was given an id already (a violation found early)."""
        self._ids[slot] = ident

    def keep(self) -> Iterator[tuple[S, int, int, int]]:
        """End the level: the candidates no other candidate strictly covers, in order
        of arrival, as (state, parent, action index, id given early or -1), now
        recorded as explored."""
        ids = self._ids
        for slot, (state, e, res, parent, ai) in enumerate(self._cands):
            pend = e[0]
            if len(pend) > 1 and any(other != res and _covers(other, res) for other in pend):
                continue
            self._push(e, res)
            self._n += 1
            yield state, parent, ai, ids.get(slot, -1)
        for e in self._touched:
            e[0] = None
        self._cands, self._touched, self._ids = [], [], {}

    # -- figures --------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    def nbytes(self) -> int:
        return sys.getsizeof(self._entries) + self._list_bytes

    def exact(self) -> bool:
        return True

    def note(self, generated: int) -> str:
        return "exact visited set, subsumption by budget"
