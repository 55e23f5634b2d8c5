"""FOLL_FORCE writes: a write to /proc/PID/mem (mem_rw() -> access_remote_vm(), and
ptrace's PTRACE_POKEDATA the same way) with FOLL_FORCE|FOLL_WRITE (mm/memory.c,
mm/gup.c).

access_remote_vm() takes the target's mmap read lock, runs get_user_pages_remote()
for the one page, copies into it (copy_to_user_page()), set_page_dirty_lock() and
put_page(). __get_user_pages() runs check_vma_flags() once, then loops: follow_page_mask();
when that returns nothing it may use, faultin_page() and again. The lock is held
throughout, so munmap, mprotect and fork wait; MADV_DONTNEED, UFFDIO_CONTINUE, other
faults and GUP take it for reading and run between the steps. That window, after
faultin_page() and before the next follow_page_mask(), is Dirty COW's. Each step here
is one follow and, where it fails, the fault: nothing between a failed follow and its
fault changes what the fault does but what it would see anyway by running first.

The follow that succeeds, the copy and the put are one step: between them the page is
held, and whatever zaps its PTE meanwhile is the same as running after the copy. The
per-era mechanism is the rule's: what faultin_page() does to the flags after a write
fault that broke COW in a vma without VM_WRITE (``Rule.faultin_page_force``), and which
R/O PTE a forced write may use (``Rule.can_follow_write_pte``).

Not modelled: get_user_pages_remote() may not be called with ``locked``, so no fault
drops the mmap lock (there is no VM_FAULT_RETRY here, and a userfault fails with
VM_FAULT_SIGBUS); huge pages (huge Dirty COW, a later issue).
"""

from __future__ import annotations

from cowcheck.mm import records
from cowcheck.mm.access import sharers
from cowcheck.mm.context import Ctx, page_view
from cowcheck.mm.fault import READ, WRITE, backing, handle_mm_fault
from cowcheck.mm.rule import FORCE_DROP_WRITE, FORCE_FOLL_COW
from cowcheck.mm.state import NO_FILE, PTE_PRESENT, ZERO_FRAME, ForceOp, bit, frame_name, is_shared
from cowcheck.mm.work import Work

_FLAGS = "FOLL_FORCE|FOLL_WRITE"


def force_write_start(w: Work, ctx: Ctx, actor: int, pid: int, v: int, cell: int) -> bool:
    """mmap_read_lock() and check_vma_flags(); False where it fails with -EFAULT."""
    pr = w.procs[pid]
    if not pr.alive:
        return False
    vma = pr.vmas[v]
    if not vma.mapped:
        w.note("check_vma_flags: no vma -> -EFAULT")
        return False
    if not vma.writable and is_shared(backing(ctx, v)):
        # "mm: get_user_pages(write,force) refuse to COW in shared areas" (v3.16):
        # only COW mappings (private; those always have VM_MAYWRITE) take a forced
        # write without VM_WRITE.
        w.note("check_vma_flags: FOLL_FORCE without VM_WRITE in a shared mapping -> -EFAULT")
        return False
    w.inflight.append(records.force_op((actor, pid, v, cell, True, False)))
    w.note(f"access_remote_vm: mmap_read_lock(P{pid}); __get_user_pages({_FLAGS})")
    return True


def force_write_step(w: Work, ctx: Ctx, idx: int, op: ForceOp) -> None:
    pid, v = op.pid, op.vpage
    pte = w.pte(pid, v)
    vma = w.procs[pid].vmas[v]
    if pte.kind == PTE_PRESENT and _may_follow(w, ctx, op, pte.target, pte.writable, pte.dirty, vma.writable):
        _copy(w, ctx, idx, op, pte.target)
        return
    what = "none" if pte.kind != PTE_PRESENT else "R/O"
    w.note(f"follow_page_pte: PTE {what} -> faultin_page({'FOLL_WRITE' if op.write else 'read'})")
    if not handle_mm_fault(w, ctx, pid, v, WRITE if op.write else READ, cow_break=True, uffd_fails=True):
        del w.inflight[idx]
        w.note("faultin_page: -EFAULT; the write to /proc/PID/mem fails")
        return
    if not (w.fault_write and op.write and not vma.writable):
        return
    era = ctx.rule.faultin_page_force
    if era == FORCE_DROP_WRITE:
        w.inflight[idx] = records.force_op((op.actor, pid, v, op.cell, False, op.cow))
        w.note("faultin_page: VM_FAULT_WRITE without VM_WRITE -> FOLL_WRITE dropped: the retry only reads")
    elif era == FORCE_FOLL_COW and not op.cow:
        w.inflight[idx] = records.force_op((op.actor, pid, v, op.cell, op.write, True))
        w.note("faultin_page: VM_FAULT_WRITE without VM_WRITE -> FOLL_COW")


def _may_follow(w: Work, ctx: Ctx, op: ForceOp, f: int, writable: bool, dirty: bool, vm_write: bool) -> bool:
    """follow_page_pte()'s test of a present PTE."""
    if not op.write or writable:
        return True
    if vm_write:
        return False  # a R/O PTE in a writable vma: a normal write fault first
    return ctx.rule.can_follow_write_pte(page_view(w, f), dirty, op.cow)


def _copy(w: Work, ctx: Ctx, idx: int, op: ForceOp, f: int) -> None:
    """copy_to_user_page(), set_page_dirty_lock(), put_page(); mmap_read_unlock()."""
    del w.inflight[idx]
    pid, v = op.pid, op.vpage
    # Ghost: the data is the target's, at this address; through a shared mapping it is
    # the file's too, and every process mapping the file may see it.
    shared = sharers(w, ctx, pid, v)
    t = w.new_token(pid, False, shared or bit(pid), bool(shared))
    w.write_cell(f, op.cell, t, ctx.cells)
    for q in range(len(w.procs)):
        if (shared or bit(pid)) & bit(q):
            w.set_expect_cell(q, v, op.cell, (t,))
    kind = "page-cache page" if f != ZERO_FRAME and w.page(f).file != NO_FILE else "page"
    where = frame_name(f) if f == ZERO_FRAME else f"{kind} #{f}"
    w.note(f"follow_page_pte: {where}; copy_to_user_page: token t{t} into {where}")
