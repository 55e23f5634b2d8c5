"""Visitors: what watches a search walk its state graph (stateright's ``CheckerVisitor``).

A visitor is given every stored state with its id, every transition (to a new state or
an old one) and, once a state is expanded, the actions that moved from it. The search
then runs as a walk of the whole graph: one partition, no reduction, and no property
ends it (``Partition._visit_level``); the graph export (``graph.py``) is one.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

S = TypeVar("S", contravariant=True)
A = TypeVar("A")


class Visitor(Protocol[S, A]):
    def state(self, gid: int, state: S, depth: int, violates: str) -> None:
        """A new canonical state, ``depth`` steps from an initial one; ``violates`` is
        the first invariant it violates ("" for none), and then it is not expanded."""
        ...

    def edge(self, src: int, ai: int, action: A, dst: int) -> None:
        """Action ``ai`` of state ``src`` leads to state ``dst``."""
        ...

    def expanded(self, gid: int, state: S, moves: list[A]) -> None:
        """State ``gid`` was expanded; ``moves`` are its actions that had a successor."""
        ...
