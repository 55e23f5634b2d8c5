"""The world a model explores, as plain data: its bounds, its initial pages, and what
its actors may do (fixed litmus programs, or an open scenario's budget).

The scenario loader (``cowcheck/input/scenario.py``) builds these from a TOML file;
the model reads nothing else about the scenario. Field meanings are the scenario
format's (docs/scenario-format.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from cowcheck.mm.rule import GupFlags

NO_FLAGS = GupFlags(False, False, False)


@dataclass(frozen=True, slots=True)
class VpageInit:
    """A virtual page at the start: ``none``, ``present``, ``zero`` or ``swapped``."""

    state: str = "none"
    writable: bool = True  # VM_WRITE
    dontfork: bool = False  # VM_DONTCOPY (MADV_DONTFORK)
    backing: str = "anon"  # BACKINGS: what the VMA maps
    uffd_minor: bool = False  # registered with userfaultfd in minor mode (shmem only)


# A vpage's ``backing`` as the scenario format names it, and as state.py numbers it.
BACKINGS: dict[str, int] = {"anon": 0, "file": 1, "shmem": 2, "shared-shmem": 3, "shared-file": 4}


@dataclass(frozen=True, slots=True)
class LitmusStep:
    """One step of a litmus program: an operation (``mm/ops``) and its fields."""

    op: str
    vpage: int = 0
    cell: int = 0
    flags: GupFlags = NO_FLAGS
    fast: bool = False
    ref: str = ""
    prot: str = ""
    process: int = 0
    after: tuple[tuple[int, int], ...] = ()  # (actor index, step index), 0-based
    label: str = ""
    optional: bool = False  # a run may end before it runs (mm/stuck.py)


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    kind: str  # "thread", "device", "kernel" or "outsider"
    process: int  # threads: the process it belongs to
    steps: tuple[LitmusStep, ...]


@dataclass(frozen=True, slots=True)
class GupKind:
    """A GUP flag combination an open scenario tries."""

    flags: GupFlags
    fast: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    name: str  # the scenario's id, for messages
    kind: str  # "litmus" | "open"
    threads: int = 1  # of process 0; a forked child has one
    vpages: tuple[VpageInit, ...] = (VpageInit(),)
    cells: int = 2
    max_processes: int = 2
    actors: tuple[Actor, ...] = ()  # litmus: the programs
    budget: tuple[tuple[str, int], ...] = ()  # (kind, count), in the file's order
    gup_kinds: tuple[GupKind, ...] = ()  # open: the GUP flags tried

    @property
    def litmus(self) -> bool:
        return self.kind == "litmus"
