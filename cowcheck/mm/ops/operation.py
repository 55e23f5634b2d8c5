"""What the model and the scenario format know about one kind of action, as one record.

An ``Operation`` says what a scenario calls it and which fields a step of it takes,
which budget kind it spends, what it does (``run``: the kernel path it calls, and
when it is not enabled), how an open scenario offers it, how a trace names it, what
may hold up a litmus step of it, and what partial-order reduction may assume about
it. The table of them is
``mm/ops/__init__.py``; each entry sits beside its functions in the module of its
kind (``cpu``, ``references``, ``process``, ``mappings``, ``kernel``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from cowcheck.mm import records
from cowcheck.mm.actions import Action
from cowcheck.mm.context import Ctx
from cowcheck.mm.state import ForceOp, ForkOp, MMState, Ref, Vma
from cowcheck.mm.work import Blocked, Work
from cowcheck.mm.world import LitmusStep, World

# A resource for partial-order reduction (mm/footprint.py says which there are).
Res = tuple[object, ...]


class Footprint(NamedTuple):
    reads: frozenset[Res]
    writes: frozenset[Res]


class ThreadOffer(NamedTuple):
    """An idle thread of an open scenario, and all that the actions offered to it may
    depend on: ``Offers`` keeps each offer by the fields after ``world``."""

    world: World
    avail: frozenset[str]  # the budget kinds left
    actor: int
    pid: int
    vmas: tuple[Vma, ...]
    present: tuple[bool, ...]  # per vpage: the PTE is present
    room: bool  # another process fits (world.max_processes)
    all_idle: bool  # no thread of the process has an operation in flight


def _no_writes(st: LitmusStep) -> set[Res]:
    return set()


@dataclass(frozen=True, slots=True)
class Operation:
    # The scenario format (docs/scenario-format.md).
    name: str  # a step's ``op``, and Action.op
    actors: tuple[str, ...]  # the kinds of litmus actor that may run it
    fields: tuple[str, ...]  # the step fields it takes, besides op, after, label, optional
    required: tuple[str, ...]  # of those, the ones without a default
    kernel: str  # the kernel path it models, with the functions it follows

    # What it does: False where the action is not enabled (nothing to do, or a
    # SIGSEGV that no program should take); raises Blocked where it would sleep.
    run: Callable[[Ctx, Work, Action], bool]
    # How a trace's column shows it.
    describe: Callable[[Action], str]

    # The budget kind an open scenario spends on it ("" = free), and the kind it
    # spends instead with ``fast`` set (gup-fast).
    budget: str = ""
    fast_budget: str = ""

    # How an open scenario offers it (a litmus scenario's [budget] offers its
    # ``environment`` too), while its budget lasts; at most one of these.
    per_vpage: Callable[[ThreadOffer, int], list[Action]] | None = None  # each mapped vpage of an idle thread
    per_process: Callable[[ThreadOffer], list[Action]] | None = None  # an idle thread, after its vpages
    per_reference: Callable[[World, int, Ref], list[Action]] | None = None  # each GUP reference, by its device
    environment: Callable[[World, MMState], list[Action]] | None = None  # reclaim, outsiders, speculative refs

    # What may hold up a litmus step of it, checked in this order: what a STUCK
    # verdict says (mm/stuck.py words each reason).
    held_by: tuple[str, ...] = ()
    # It takes its process's mmap lock for writing (``mmap_write_lock``).
    write_locks: bool = False

    # Partial-order reduction (mm/footprint.py). ``footprint``: what the action reads
    # and writes in a state, None where that is not bounded. ``thread_writes``: what
    # a program step of it not yet run writes when a thread runs it, besides its
    # process's mm and the pages that process reaches. ``device_writes``: what it
    # writes when another kind of actor runs it, given the frame of the step's
    # reference; None where that is not bounded.
    footprint: Callable[[MMState, Action], Footprint | None] | None = None
    thread_writes: Callable[[LitmusStep], set[Res]] = _no_writes
    device_writes: Callable[[MMState, LitmusStep, int], set[Res]] | None = None

    def spends(self, a: Action) -> str:
        """The budget kind ``a`` spends; "" where it is free."""
        return self.fast_budget if a.fast and self.fast_budget else self.budget


def new_action(op: str, actor: int, pid: int = -1, vpage: int = -1, cell: int = -1, idx: int = -1) -> Action:
    """``Action(op, actor, pid, vpage, cell, idx=idx)`` by position (records.py): the
    actions of the environment, the devices and the kernel paths in flight are
    built anew for every state."""
    return records.action((op, actor, pid, vpage, cell, idx, False, False, False, False, "", -1, ""))


def forking(w: Work, pid: int) -> bool:
    """fork() of ``pid`` is copying: it holds the mmap lock for writing."""
    return any(type(op) is ForkOp and op.parent == pid for op in w.inflight)


def mmap_lock(w: Work, pid: int) -> None:
    """mmap_read_lock(): sleeps while a fork of ``pid`` holds the lock for writing."""
    if forking(w, pid):
        raise Blocked


def mmap_write_lock(w: Work, pid: int) -> None:
    """mmap_write_lock(): sleeps while a fork holds it, and while a write to
    /proc/PID/mem (access_remote_vm()) holds it for reading."""
    if forking(w, pid) or any(type(op) is ForceOp and op.pid == pid for op in w.inflight):
        raise Blocked


def vaddr(a: Action) -> str:
    return f"vaddr+{a.vpage * 4096}"


def via(a: Action) -> str:
    """The reference an action goes through, as a trace names it."""
    return a.name or f"reference {a.idx}"
