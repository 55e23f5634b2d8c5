"""Verdicts, statistics and paths returned by the search."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cowcheck.engine.model import Step

S = TypeVar("S")
A = TypeVar("A")


class Verdict(enum.Enum):
    """Exit codes are part of the CLI contract: 0 holds, 1 violated, 3 incomplete."""

    HOLDS = "holds"
    VIOLATED = "violated"
    INCOMPLETE = "incomplete"

    @property
    def exit_code(self) -> int:
        return {Verdict.HOLDS: 0, Verdict.VIOLATED: 1, Verdict.INCOMPLETE: 3}[self]


@dataclass(frozen=True, slots=True)
class Path(Generic[S, A]):
    """A concrete path: ``states[0]`` is initial, ``steps[i]`` leads to ``states[i+1]``."""

    states: tuple[S, ...]
    actions: tuple[A, ...]
    steps: tuple[Step[S], ...]

    def __len__(self) -> int:
        return len(self.actions)


@dataclass(frozen=True, slots=True)
class Violation(Generic[S, A]):
    property_id: str
    message: str
    path: Path[S, A]


@dataclass(slots=True)
class Stats:
    states: int = 0  # distinct (canonical) states stored
    transitions: int = 0  # successors generated, including duplicates
    max_depth: int = 0  # deepest level reached
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    store: str = "exact visited set"  # what the visited store may have missed
    store_bytes: int = 0  # bytes held by the visited store's table
    workers: int = 1
    cluster: str = ""  # "" for local processes; else where the partitions ran
    owned: tuple[int, ...] = ()  # partitioned searches: states stored per partition
    shipped: int = 0  # partitioned searches: states sent to another partition
    ample: int = 0  # states expanded through an ample set (partial-order reduction)
    subsume: bool = False  # states covered by one with more resources were skipped (store/cover.py)

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else float(self.states)


@dataclass(slots=True)
class SearchResult(Generic[S, A]):
    verdict: Verdict
    stats: Stats
    violation: Violation[S, A] | None = None
    incomplete_reason: str | None = None  # which bound stopped the search
    metrics: dict[str, int] = field(default_factory=dict)  # metric id -> transitions it counted
