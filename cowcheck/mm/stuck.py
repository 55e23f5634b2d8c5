"""Why a litmus program cannot go on: the words of a STUCK verdict (engine/model.py).

A litmus run should end with every program finished. One that ends earlier checked
less than its scenario says (the step that never ran, and everything after it), so
the search fails it, as SPIN fails an invalid end state. This module names the step
each unfinished actor is held at and why: a reference no GUP holds, a read-only or
unmapped VMA, a page not present, a process that has exited or was never forked, an
``after`` that waits for a step that is itself held. Which of those may hold up a
step is its operation's entry (``Operation.held_by``); how each is worded is here.
"""

from __future__ import annotations

from collections.abc import Callable

from cowcheck.mm.ops import OPERATION
from cowcheck.mm.state import PTE_PRESENT, ZERO_FRAME, ForceOp, ForkOp, GupFastOp, InFlight, MMState
from cowcheck.mm.world import LitmusStep, World


def step_name(sc: World, actor: int, step: int) -> str:
    """``device:1 (dma_write ref=odirct)``: the actor's name, the step counted from 1
    as ``after`` counts it, and what the step does."""
    st = sc.actors[actor].steps[step]
    return f"{sc.actors[actor].name}:{step + 1} ({describe_step(st)})"


def describe_step(st: LitmusStep) -> str:
    parts = [st.op]
    if st.ref:
        parts.append(f"ref={st.ref}")
    if "vpage" in OPERATION[st.op].fields:
        parts.append(f"vpage={st.vpage}")
    return " ".join(parts)


def may_end(sc: World, s: MMState, actor: int) -> bool:
    """The run may end with this actor where it is: finished, or idle before steps
    that are all ``optional``."""
    steps = sc.actors[actor].steps
    pc = s.pcs[actor]
    if pc >= len(steps):
        return True
    if any(op.actor == actor for op in s.inflight):
        return False
    return all(st.optional for st in steps[pc:])


def explain(sc: World, s: MMState) -> str | None:
    """What holds up the unfinished programs of end state ``s``, or None if every
    actor may end where it is and nothing is in flight."""
    held = [i for i in range(len(sc.actors)) if not may_end(sc, s, i)]
    why = [f"{step_name(sc, i, min(s.pcs[i], len(sc.actors[i].steps) - 1))} cannot run: {_why(sc, s, i)}" for i in held]
    acting = {op.actor for op in s.inflight}
    why += [f"{_inflight(op)} cannot go on" for op in s.inflight if op.actor not in held]
    if not why and not acting:
        return None
    return "; ".join(why)


def _why(sc: World, s: MMState, actor: int, depth: int = 0) -> str:
    a = sc.actors[actor]
    pc = s.pcs[actor]
    busy = [op for op in s.inflight if op.actor == actor]
    if busy:
        return f"its {_inflight(busy[0])} is in flight and cannot go on"
    st = a.steps[pc]
    waits = [(aj, sj) for aj, sj in st.after if not _done(s, aj, sj)]
    if waits:
        aj, sj = waits[0]
        if depth > len(sc.actors):  # the loader rejects cycles; be safe anyway
            return f"waits for {step_name(sc, aj, sj)}, in a cycle of `after`"
        if s.pcs[aj] == sj:
            return f"waits for {step_name(sc, aj, sj)}, which cannot run: {_why(sc, s, aj, depth + 1)}"
        return f"waits for {step_name(sc, aj, sj)}, which has not run"
    if a.kind == "thread":
        p = a.process
        if p >= len(s.procs):
            return f"its process P{p} was never forked"
        if not s.procs[p].alive:
            return f"its process P{p} has exited"
        if any(isinstance(op, ForkOp) and op.child == p for op in s.inflight):
            return f"its process P{p} is still being forked"
    pid = a.process if a.kind == "thread" else st.process
    return _why_op(sc, s, st, pid)


def _why_not_held(sc: World, s: MMState, ref: str) -> str:
    """The gup steps that take ``ref`` (the loader checked there is one) and what
    became of them on this run."""
    gups = [(i, j) for i, a in enumerate(sc.actors) for j, st in enumerate(a.steps) if st.op == "gup" and st.ref == ref]
    ran = [(i, j) for i, j in gups if _done(s, i, j)]
    if len(ran) < len(gups):
        i, j = next(g for g in gups if g not in ran)
        return f"{step_name(sc, i, j)} has not run"
    released = [
        (i, j)
        for i, a in enumerate(sc.actors)
        for j, st in enumerate(a.steps)
        if st.op == "release" and st.ref == ref and _done(s, i, j)
    ]
    if len(released) >= len(ran):
        i, j = released[-1]
        return f"{step_name(sc, i, j)} released it"
    i, j = ran[-1]
    return f"{step_name(sc, i, j)} failed (-EFAULT: the VMA was read-only or unmapped when it ran)"


def _inflight(op: InFlight) -> str:
    """An operation in flight, by the kernel path it is in the middle of."""
    if isinstance(op, ForkOp):
        return f"fork of P{op.parent} (copy_page_range)"
    if isinstance(op, GupFastOp):
        return f"gup-fast of P{op.pid} (lockless_pages_from_mm)"
    if isinstance(op, ForceOp):
        return f"write to /proc/P{op.pid}/mem (__get_user_pages)"
    return f"reclaim of a page (shrink_page_list, stage {op.stage})"


def _done(s: MMState, actor: int, step: int) -> bool:
    pc = s.pcs[actor]
    return pc > step + 1 or (pc == step + 1 and not any(op.actor == actor for op in s.inflight))


def _why_op(sc: World, s: MMState, st: LitmusStep, pid: int) -> str:
    for reason in OPERATION[st.op].held_by:
        why = _REASONS[reason](sc, s, st, pid)
        if why is not None:
            return why
    return "not enabled in this state"


def _ref(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    if any(r.name == st.ref for r in s.refs):
        return None
    return f"the reference {st.ref!r} is not held: {_why_not_held(sc, s, st.ref)}"


def _ref_write(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    ref = next(r for r in s.refs if r.name == st.ref)
    if ref.write:
        return None
    return f"the reference {st.ref!r} was taken without FOLL_WRITE: the device cannot write through it"


def _process(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    if pid < len(s.procs) and s.procs[pid].alive:
        return None
    return f"process P{pid} does not exist or has exited"


def _vma(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    return None if s.procs[pid].vmas[st.vpage].mapped else f"vpage {st.vpage} of P{pid} is unmapped"


def _vma_access(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    why = _vma(sc, s, st, pid)
    return None if why is None else f"{why} (the access would SIGSEGV)"


def _vm_write(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    if s.procs[pid].vmas[st.vpage].writable:
        return None
    return f"the VMA of vpage {st.vpage} of P{pid} is read-only (the store would SIGSEGV)"


def _anon_page(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    pte = s.procs[pid].ptes[st.vpage]
    if pte.kind != PTE_PRESENT or pte.target == ZERO_FRAME:
        return f"vpage {st.vpage} of P{pid} maps no anonymous page (not present)"
    return "the page is already being reclaimed"


def _spec_ref(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    return None if s.spec else "no speculative reference is held"


def _max_processes(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    if len(s.procs) < sc.max_processes:
        return None
    return f"world.max_processes ({sc.max_processes}) processes exist already"


def _mmap_lock(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    if any(isinstance(o, ForkOp) and o.parent == pid for o in s.inflight):
        return f"P{pid}'s mmap lock is held by a fork in progress"
    if OPERATION[st.op].write_locks and any(isinstance(o, ForceOp) and o.pid == pid for o in s.inflight):
        return f"P{pid}'s mmap lock is read-held by a write to /proc/P{pid}/mem"
    return None


def _gup_fast(sc: World, s: MMState, st: LitmusStep, pid: int) -> str | None:
    if any(isinstance(o, GupFastOp) and o.pid == pid for o in s.inflight):
        return f"a gup-fast of P{pid} is in flight"
    return None


# What may hold up a step (``Operation.held_by`` names them, in the order checked).
_REASONS: dict[str, Callable[[World, MMState, LitmusStep, int], str | None]] = {
    "ref": _ref,  # the reference it names is held
    "ref_write": _ref_write,  # and was taken with FOLL_WRITE
    "process": _process,  # its process exists and is alive
    "vma": _vma,  # its vpage is mapped
    "vma_access": _vma_access,  # its vpage is mapped, or the CPU access would SIGSEGV
    "vm_write": _vm_write,  # VM_WRITE, or the store would SIGSEGV
    "anon_page": _anon_page,  # its vpage maps an anonymous page not being reclaimed
    "spec_ref": _spec_ref,  # a speculative reference is held
    "max_processes": _max_processes,  # another process fits
    "mmap_lock": _mmap_lock,  # no fork holds the process's mmap lock
    "gup_fast": _gup_fast,  # no gup-fast of the process is in flight
}
REASONS = frozenset(_REASONS)
