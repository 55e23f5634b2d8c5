"""Footprints for partial-order reduction: what an action, and what an actor from now
on, may read and write (``--por``; the engine side is ``engine/expand.py``).

Resources are tuples: ``("pc", actor)``, ``("mm", pid)`` (vmas, mmap lock,
write_protect_seq, MMF_HAS_PINNED), ``("pte", pid)``, ``("expect", pid)``,
``("content", frame)``, ``("count", frame)`` (refcount, mapcount, pincount, flags,
swapcache), ``("ref", name)``, ``("slot", slot)``, and the global ``("tok",)``,
``("procs",)``, ``("inflight",)``, ``("spec",)`` and ``("budget",)``. ``None``
stands for "anything": the conservative answer wherever a future footprint cannot be
bounded from the state.

An action joins an ample set alone (``ample_singletons``) when, in the terms of the
ample-set conditions C0-C3 of Clarke, Grumberg and Peled (Model Checking, MIT Press
1999, ch. 10; C0, a non-empty set, holds by construction):
- C2, invisible: its only write is its own program counter, which no property reads
  (``MMProperty.reads``), and no other actor's future action is disabled by it (a
  litmus ``after`` only waits for a program counter to pass a step: monotone);
- C1, persistent: nothing any other actor may still do writes what it reads. Other
  actors' futures are bounded from the state: a thread can touch only the pages its
  process reaches now (PTEs, swapcache pages of its swap entries, gup-fast snapshots)
  or pages allocated later, whose numbers are new while the DMA's reference keeps its
  page from being freed and renumbered; a process that does not exist
  yet, or is being forked, may touch anything; so may reclaim, speculative references
  and clear_refs, and a device whose reference does not exist yet;
- it is a litmus program step: in open scenarios every action but the free ones
  (continuations, releases) spends the shared budget, so it can disable every other
  one, and the free ones all write what the properties read.
What each operation reads and writes is its entry's in the table of operations
(``Operation.footprint``, ``thread_writes``, ``device_writes``). The cycle proviso
(C3) is the engine's. What the model gives up: the DMA read of a
litmus device is the one action that qualifies; the reduction is measured, per
scenario, in BENCHMARKS.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cowcheck.mm.actions import Action
from cowcheck.mm.ops import OPERATION
from cowcheck.mm.ops.operation import Footprint, Res
from cowcheck.mm.state import NO_FRAME, PTE_PRESENT, PTE_SWAP, ZERO_FRAME, ForceOp, ForkOp, GupFastOp, MMState
from cowcheck.mm.world import LitmusStep, World

__all__ = ["ALL_KINDS", "MM_KINDS", "Footprint", "Res", "ample_singletons", "future_writes", "reach"]

# Every resource kind; a property that does not declare what it reads reads them all.
ALL_KINDS = frozenset(
    {"pc", "mm", "pte", "expect", "content", "count", "ref", "slot", "tok", "procs", "inflight", "spec", "budget"}
)

# What the mm holds: everything but the litmus programs' counters and the budget.
MM_KINDS = ALL_KINDS - {"pc", "budget"}


def reach(s: MMState, pid: int) -> set[int]:
    """The pages a process's threads can touch without being given new ones: pages
    they map, swapcache pages their swap entries lead to, gup-fast snapshots."""
    pr = s.procs[pid]
    slots = dict(s.slots)
    out: set[int] = set()
    for pte in pr.ptes:
        if pte.kind == PTE_PRESENT and pte.target != ZERO_FRAME:
            out.add(pte.target)
        elif pte.kind == PTE_SWAP:
            sl = slots.get(pte.target)
            if sl is not None and sl.cache != NO_FRAME:
                out.add(sl.cache)
    # Its GUP references are not in reach: the CPU writes through PTEs, and a later
    # GUP takes whatever the PTEs map by then.
    out.update(op.snap_frame for op in s.inflight if isinstance(op, GupFastOp) and op.pid == pid)
    # The page-cache pages: a fault maps them, a write to /proc/PID/mem or a store
    # through a shared mapping writes them, without being given a new page.
    out.update(f for f, p in s.pages if p.file >= 0)
    return out


def _ref_frame(s: MMState, name: str) -> int | None:
    return next((r.frame for r in s.refs if r.name == name), None)


def action_footprint(s: MMState, a: Action) -> Footprint | None:
    """What ``a`` reads and writes in ``s`` (its operation's ``footprint``); None
    where it is not bounded."""
    fp = OPERATION[a.op].footprint
    return None if fp is None else fp(s, a)


def _thread_future(s: MMState, pid: int, rest: Sequence[LitmusStep]) -> set[Res] | None:
    if pid >= len(s.procs) or any(isinstance(op, ForkOp) and op.child == pid for op in s.inflight):
        return None
    out: set[Res] = {("mm", pid), ("pte", pid), ("expect", pid), ("tok",), ("procs",), ("inflight",), ("budget",)}
    for f in reach(s, pid):
        out |= {("content", f), ("count", f)}
    out.update(("slot", p.target) for p in s.procs[pid].ptes if p.kind == PTE_SWAP)
    if any(type(op) is ForceOp and op.pid == pid for op in s.inflight):
        out.add(("content", ZERO_FRAME))  # Dirty COW on the zero page (mm/force.py)
    for st in rest:
        out |= OPERATION[st.op].thread_writes(st)
    return out


def _device_future(s: MMState, steps: Sequence[LitmusStep]) -> set[Res] | None:
    """What an actor that is not a thread (a device, reclaim, an outsider) may write:
    each of its steps goes through a named reference, which must be held."""
    out: set[Res] = {("tok",)}
    for st in steps:
        writes = OPERATION[st.op].device_writes
        f = _ref_frame(s, st.ref)
        if writes is None or f is None:
            return None
        out |= writes(s, st, f)
    return out


def future_writes(world: World, s: MMState, actor: int) -> set[Res] | None:
    """What litmus actor ``actor`` may write from ``s`` on (its remaining program,
    and any step of its own still in flight)."""
    act = world.actors[actor]
    busy = any(op.actor == actor for op in s.inflight)
    rest = act.steps[s.pcs[actor] :]
    if not rest and not busy:
        return set()
    if act.kind == "thread":
        return _thread_future(s, act.process, rest)
    if any(type(op) is ForceOp and op.actor == actor for op in s.inflight):
        return None  # an outsider's write to /proc/PID/mem: any page, PTE or expectation
    return _device_future(s, rest)


def ample_singletons(
    world: World, s: MMState, actions: Sequence[Action], prop_reads: frozenset[str], environment: bool
) -> Iterator[list[int]]:
    """Indices of actions that are each, alone, an ample set of ``s`` (C0-C2)."""
    if "pc" in prop_reads or environment:
        return
    for i, a in enumerate(actions):
        if a.step < 0:
            continue
        fp = action_footprint(s, a)
        if fp is None or fp.writes != {("pc", a.actor)}:
            continue
        if _independent(world, s, a.actor, fp):
            yield [i]


def _independent(world: World, s: MMState, me: int, fp: Footprint) -> bool:
    for other in range(len(world.actors)):
        if other == me:
            continue
        w = future_writes(world, s, other)
        if w is None or not w.isdisjoint(fp.reads):
            return False
    return True
