"""How the search loop reaches its partitions: in its own process (``local.py``), in
forked worker processes (``processes.py``) or as Dask actors (``dask.py``).

The loop (``core.py``) sees one ``Transport`` whatever carries it. The two that run
several partitions share the level protocol of ``Partitioned``: expand, the owners of
the new keys (``engine/balance.py``), exchange.
"""

from __future__ import annotations

from typing import Any, Protocol

from cowcheck.engine.balance import assign
from cowcheck.engine.limits import Limits
from cowcheck.engine.partition import Answer


class Transport(Protocol):
    """The partitions of one search, as the loop drives them."""

    n: int  # partitions
    label: str  # where they run, for the summary ("" for this machine's processes)
    local: bool  # in the loop's own process: safe to ask after an interruption

    def start(self) -> list[Answer]:
        """Every partition takes the initial states it owns."""
        ...

    def level(self, limits: Limits) -> list[Answer]:
        """Every partition expands its frontier and keeps its new states."""
        ...

    def can_move(self) -> bool:
        """Some frontier state has an enabled action (a depth bound cut something)."""
        ...

    def link(self, gid: int) -> tuple[int, int]:
        """State ``gid``'s parent id and action index."""
        ...

    def note(self, generated: int) -> str:
        """What the visited store may have missed, for the report."""
        ...

    def snapshot(self) -> list[Answer] | None:
        """The partitions' figures now, mid-level, where they can be asked (in this
        process); None where they cannot."""
        ...

    def close(self) -> None: ...


class Cluster(Protocol):
    """Anything that runs N partitions remotely: ``call`` sends one command to every
    partition and returns their answers in partition order, ``ask`` one partition.

    A protocol, not a base class: the compiled build compiles this package, and an
    interpreted class (dask.py's) cannot subclass a compiled one."""

    n: int
    label: str

    def call(self, cmd: str, arg: Any = None) -> list[Any]: ...

    def ask(self, w: int, cmd: str, arg: Any = None) -> Any: ...

    def close(self) -> None: ...


class Partitioned:
    """A transport over a cluster of N partitions: a level is phase 1 (``expand``),
    the coordinator naming the owners of new keys, and phase 2 (``exchange``)."""

    local = False

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.n = cluster.n
        self.label = cluster.label

    def start(self) -> list[Answer]:
        return self.cluster.call("start")

    def level(self, limits: Limits) -> list[Answer]:
        # Bounds are checked between levels: the workers run a level on their own.
        return self.cluster.call("exchange", assign(self.cluster.call("expand")))

    def can_move(self) -> bool:
        return any(self.cluster.call("can_move"))

    def link(self, gid: int) -> tuple[int, int]:
        link: tuple[int, int] = self.cluster.ask(gid % self.n, "link", gid)
        return link

    def note(self, generated: int) -> str:
        return str(self.cluster.ask(0, "note", generated))

    def snapshot(self) -> list[Answer] | None:
        return None

    def close(self) -> None:
        self.cluster.close()
