"""Footprints for partial-order reduction: what an action, and what an actor from now
on, may read and write (``--por``; the engine side is ``engine/expand.py``).

Resources are tuples: ``("pc", actor)``, ``("mm", pid)`` (vmas, mmap lock,
write_protect_seq, MMF_HAS_PINNED), ``("pte", pid)``, ``("expect", pid)``,
``("content", frame)``, ``("count", frame)`` (refcount, mapcount, pincount, flags,
swapcache), ``("ref", name)``, ``("slot", slot)``, and the global ``("tok",)``,
``("procs",)``, ``("inflight",)``, ``("spec",)`` and ``("budget",)``. ``None``
stands for "anything": the conservative answer wherever a future footprint cannot be
bounded from the state.

An action joins an ample set alone (``ample_singletons``) when:
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
The cycle proviso (C3) is the engine's. What the model gives up: the DMA read of a
litmus device is the one action that qualifies; the reduction is measured, per
scenario, in BENCHMARKS.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from cowcheck.input.scenario import LitmusStep, Scenario
from cowcheck.mm.actions import Action
from cowcheck.mm.state import NO_FRAME, PTE_PRESENT, PTE_SWAP, ZERO_FRAME, ForkOp, GupFastOp, MMState

Res = tuple[object, ...]

# Every resource kind; a property that does not declare what it reads reads them all.
ALL_KINDS = frozenset(
    {"pc", "mm", "pte", "expect", "content", "count", "ref", "slot", "tok", "procs", "inflight", "spec", "budget"}
)

# What the mm holds: everything but the litmus programs' counters and the budget.
MM_KINDS = ALL_KINDS - {"pc", "budget"}


class Footprint(NamedTuple):
    reads: frozenset[Res]
    writes: frozenset[Res]


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
    return out


def _ref_frame(s: MMState, name: str) -> int | None:
    return next((r.frame for r in s.refs if r.name == name), None)


def action_footprint(s: MMState, a: Action) -> Footprint | None:
    """What ``a`` reads and writes in ``s``; None where it is not bounded here."""
    if a.op == "dma_read":
        f = _ref_frame(s, a.name)
        if f is None:
            return None
        return Footprint(frozenset({("ref", a.name), ("content", f)}), frozenset({("pc", a.actor)}))
    return None


def _thread_future(s: MMState, pid: int, names: set[str]) -> set[Res] | None:
    if pid >= len(s.procs) or any(isinstance(op, ForkOp) and op.child == pid for op in s.inflight):
        return None
    out: set[Res] = {("mm", pid), ("pte", pid), ("expect", pid), ("tok",), ("procs",), ("inflight",), ("budget",)}
    for f in reach(s, pid):
        out |= {("content", f), ("count", f)}
    out.update(("slot", p.target) for p in s.procs[pid].ptes if p.kind == PTE_SWAP)
    # A reference's frame never changes; only a release removes it (munmap and exit
    # only detach it, which a DMA does not look at).
    out.update(("ref", n) for n in names)
    return out


def _device_future(s: MMState, steps: Sequence[LitmusStep]) -> set[Res] | None:
    out: set[Res] = {("tok",)}
    for st in steps:
        f = _ref_frame(s, st.ref)
        if f is None:
            return None
        if st.op == "release":
            out |= {("ref", st.ref), ("count", f), ("content", f)}  # the last put frees it
        elif st.op == "dma_write":
            # The owner's expectations and those of the children that crossed.
            out |= {("content", f)} | {("expect", q) for q in range(len(s.procs))}
    return out


def future_writes(sc: Scenario, s: MMState, actor: int) -> set[Res] | None:
    """What litmus actor ``actor`` may write from ``s`` on (its remaining program,
    and any step of its own still in flight)."""
    act = sc.actors[actor]
    busy = any(op.actor == actor for op in s.inflight)
    rest = act.steps[s.pcs[actor] :]
    if not rest and not busy:
        return set()
    if act.kind == "thread":
        return _thread_future(s, act.process, {st.ref for st in rest if st.op == "release"})
    return _device_future(s, rest)


def ample_singletons(
    sc: Scenario, s: MMState, actions: Sequence[Action], prop_reads: frozenset[str], environment: bool
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
        if _independent(sc, s, a.actor, fp):
            yield [i]


def _independent(sc: Scenario, s: MMState, me: int, fp: Footprint) -> bool:
    for other in range(len(sc.actors)):
        if other == me:
            continue
        w = future_writes(sc, s, other)
        if w is None or not w.isdisjoint(fp.reads):
            return False
    return True
