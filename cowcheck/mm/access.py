"""CPU loads and stores by a thread, with the fault they may take first.

A store whose PTE is not present and writable faults, then retries; the fault and
the retried store are one step. Anything that runs between them either leaves the
PTE usable (the same outcome) or makes the store fault again, which is the same as
the racer running first. A process whose mmap lock is held for writing (fork in
progress) cannot fault: its threads block on mmap_read_lock().
"""

from __future__ import annotations

from cowcheck.mm.context import Ctx
from cowcheck.mm.fault import READ, WRITE, handle_mm_fault
from cowcheck.mm.state import PTE_PRESENT, bit, frame_name, is_shared
from cowcheck.mm.work import Blocked, ModelBug, Work


def cpu_write(w: Work, ctx: Ctx, pid: int, v: int, cell: int, forking: bool) -> bool:
    vma = w.procs[pid].vmas[v]
    if not vma.mapped or not vma.writable:
        return False  # SIGSEGV: not something a litmus program or budget should do
    pte = w.pte(pid, v)
    if pte.kind != PTE_PRESENT or not pte.writable:
        if forking:
            raise Blocked
        handle_mm_fault(w, ctx, pid, v, WRITE)
        pte = w.pte(pid, v)
        if pte.kind != PTE_PRESENT or not pte.writable:
            raise ModelBug("write fault did not make the PTE writable")
    shared = sharers(w, ctx, pid, v)
    t = w.new_token(pid, False, shared or bit(pid), bool(shared))
    w.write_cell(pte.target, cell, t)
    for q in range(len(w.procs)):
        if (shared or bit(pid)) & bit(q):
            w.set_expect_cell(q, v, cell, (t,))
    w.note(f"store token t{t} into {frame_name(pte.target)}")
    return True


def sharers(w: Work, ctx: Ctx, pid: int, v: int) -> int:
    """Ghost: where ``v`` is a MAP_SHARED file mapping, a store there is the file's
    data: the bitmask of the live processes that map the file (``pid`` among them),
    who may all read it. 0 in a private mapping."""
    if not ctx.backing or not is_shared(ctx.backing[v]):
        return 0
    return sum(bit(q) for q, pr in enumerate(w.procs) if pr.alive and pr.vmas[v].mapped) | bit(pid)


def cpu_read(w: Work, ctx: Ctx, pid: int, v: int, cell: int, forking: bool) -> bool:
    vma = w.procs[pid].vmas[v]
    if not vma.mapped:
        return False
    pte = w.pte(pid, v)
    if pte.kind != PTE_PRESENT:
        if forking:
            raise Blocked
        handle_mm_fault(w, ctx, pid, v, READ)
        pte = w.pte(pid, v)
    t = w.content(pte.target, ctx.cells)[cell]
    w.note(f"load token t{t} from {frame_name(pte.target)}")
    return True
