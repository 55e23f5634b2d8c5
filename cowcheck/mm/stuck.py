"""Why a litmus program cannot go on: the words of a STUCK verdict (engine/model.py).

A litmus run should end with every program finished. One that ends earlier checked
less than its scenario says (the step that never ran, and everything after it), so
the search fails it, as SPIN fails an invalid end state. This module names the step
each unfinished actor is held at and why: a reference no GUP holds, a read-only or
unmapped VMA, a page not present, a process that has exited or was never forked, an
``after`` that waits for a step that is itself held.
"""

from __future__ import annotations

from cowcheck.input.scenario import LitmusStep, Scenario
from cowcheck.input.schema import OP_BY_NAME
from cowcheck.mm.state import PTE_PRESENT, ZERO_FRAME, ForkOp, GupFastOp, InFlight, MMState


def step_name(sc: Scenario, actor: int, step: int) -> str:
    """``device:1 (dma_write ref=odirct)``: the actor's name, the step counted from 1
    as ``after`` counts it, and what the step does."""
    st = sc.actors[actor].steps[step]
    return f"{sc.actors[actor].name}:{step + 1} ({describe_step(st)})"


def describe_step(st: LitmusStep) -> str:
    parts = [st.op]
    if st.ref:
        parts.append(f"ref={st.ref}")
    if "vpage" in OP_BY_NAME[st.op].fields:
        parts.append(f"vpage={st.vpage}")
    return " ".join(parts)


def may_end(sc: Scenario, s: MMState, actor: int) -> bool:
    """The run may end with this actor where it is: finished, or idle before steps
    that are all ``optional``."""
    steps = sc.actors[actor].steps
    pc = s.pcs[actor]
    if pc >= len(steps):
        return True
    if any(op.actor == actor for op in s.inflight):
        return False
    return all(st.optional for st in steps[pc:])


def explain(sc: Scenario, s: MMState) -> str | None:
    """What holds up the unfinished programs of end state ``s``, or None if every
    actor may end where it is and nothing is in flight."""
    held = [i for i in range(len(sc.actors)) if not may_end(sc, s, i)]
    why = [f"{step_name(sc, i, min(s.pcs[i], len(sc.actors[i].steps) - 1))} cannot run: {_why(sc, s, i)}" for i in held]
    acting = {op.actor for op in s.inflight}
    why += [f"{_inflight(op)} cannot go on" for op in s.inflight if op.actor not in held]
    if not why and not acting:
        return None
    return "; ".join(why)


def _why(sc: Scenario, s: MMState, actor: int, depth: int = 0) -> str:
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


def _why_not_held(sc: Scenario, s: MMState, ref: str) -> str:
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
    return f"reclaim of a page (shrink_page_list, stage {op.stage})"


def _done(s: MMState, actor: int, step: int) -> bool:
    pc = s.pcs[actor]
    return pc > step + 1 or (pc == step + 1 and not any(op.actor == actor for op in s.inflight))


def _why_op(sc: Scenario, s: MMState, st: LitmusStep, pid: int) -> str:
    op = st.op
    if op in ("release", "dma_write", "dma_read"):
        ref = next((r for r in s.refs if r.name == st.ref), None)
        if ref is None:
            return f"the reference {st.ref!r} is not held: {_why_not_held(sc, s, st.ref)}"
        if op == "dma_write" and not ref.write:
            return f"the reference {st.ref!r} was taken without FOLL_WRITE: the device cannot write through it"
        return "not enabled in this state"
    if pid >= len(s.procs) or not s.procs[pid].alive:
        return f"process P{pid} does not exist or has exited"
    pr = s.procs[pid]
    if op in ("write", "read", "munmap", "dontneed", "dontfork", "mprotect", "gup"):
        vma = pr.vmas[st.vpage]
        if not vma.mapped:
            return f"vpage {st.vpage} of P{pid} is unmapped" + (
                " (the access would SIGSEGV)" if op in ("write", "read") else ""
            )
        if op == "write" and not vma.writable:
            return f"the VMA of vpage {st.vpage} of P{pid} is read-only (the store would SIGSEGV)"
    if op in ("swapout", "spec_get"):
        pte = pr.ptes[st.vpage]
        if pte.kind != PTE_PRESENT or pte.target == ZERO_FRAME:
            return f"vpage {st.vpage} of P{pid} maps no anonymous page (not present)"
        return "the page is already being reclaimed"
    if op == "spec_put" and not s.spec:
        return "no speculative reference is held"
    if op == "fork" and len(s.procs) >= sc.max_processes:
        return f"world.max_processes ({sc.max_processes}) processes exist already"
    if any(isinstance(o, ForkOp) and o.parent == pid for o in s.inflight):
        return f"P{pid}'s mmap lock is held by a fork in progress"
    if op == "exit" and any(isinstance(o, GupFastOp) and o.pid == pid for o in s.inflight):
        return f"a gup-fast of P{pid} is in flight"
    return "not enabled in this state"
