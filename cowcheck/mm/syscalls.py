"""System calls that change a process's mappings or protections, and exit."""

from __future__ import annotations

from cowcheck.mm.context import Ctx, page_view
from cowcheck.mm.fault import file_frame
from cowcheck.mm.state import ANON, PTE_PRESENT, UNMAPPED, ZERO_FRAME, ZERO_TOKEN, Vma
from cowcheck.mm.work import Work


def clear_refs(w: Work, ctx: Ctx, pid: int) -> bool:
    """echo 4 > /proc/pid/clear_refs: clear_soft_dirty() write-protects every present
    writable PTE, unless the rule skips pinned pages (9348b73c2e1b)."""
    changed = False
    pr = w.procs[pid]
    for v, pte in enumerate(pr.ptes):
        if pte.kind != PTE_PRESENT or not pte.writable:
            continue
        if pte.target != ZERO_FRAME and ctx.rule.clear_refs_skips(page_view(w, pte.target), pr.has_pinned):
            w.note(f"clear_soft_dirty: vpage {v} pte_is_pinned() -> left writable")
            continue
        w.set_pte(pid, v, pte._replace(writable=False))
        w.note(f"clear_soft_dirty: pte_wrprotect(vpage {v}, page #{pte.target})")
        changed = True
    return changed


def mprotect(w: Work, pid: int, v: int, writable: bool) -> bool:
    """mprotect(PROT_READ) write-protects the PTE; mprotect(PROT_READ|PROT_WRITE) only
    sets VM_WRITE: a private anonymous PTE stays R/O until the next write fault decides
    (change_pte_range() makes it writable only for dirty-accountable shared mappings;
    later kernels' can_change_pte_writable() shortcut for exclusive anon pages only
    saves that fault)."""
    vma = w.procs[pid].vmas[v]
    if not vma.mapped or vma.writable == writable:
        return False
    vmas = list(w.procs[pid].vmas)
    vmas[v] = vma._replace(writable=writable)
    w.set_proc(pid, vmas=tuple(vmas))
    pte = w.pte(pid, v)
    if not writable and pte.kind == PTE_PRESENT and pte.writable:
        w.set_pte(pid, v, pte._replace(writable=False))
        w.note("change_pte_range: pte_wrprotect")
    return True


def madvise_dontfork(w: Work, pid: int, v: int) -> bool:
    vma = w.procs[pid].vmas[v]
    if not vma.mapped or vma.dontfork:
        return False
    vmas = list(w.procs[pid].vmas)
    vmas[v] = vma._replace(dontfork=True)
    w.set_proc(pid, vmas=tuple(vmas))
    return True


def zap(w: Work, ctx: Ctx, pid: int, v: int, unmap_vma: bool) -> bool:
    """munmap() (unmap_vma) or MADV_DONTNEED: zap the PTE; GUP references keep the page."""
    vma = w.procs[pid].vmas[v]
    if not vma.mapped:
        return False
    w.zap_pte(pid, v)
    w.detach_refs(pid, v)
    if unmap_vma:
        vmas = list(w.procs[pid].vmas)
        vmas[v] = Vma(mapped=False)
        w.set_proc(pid, vmas=tuple(vmas))
        w.set_expect(pid, v, UNMAPPED)
    elif ctx.backing and ctx.backing[v] != ANON:
        # The next touch faults in the file's page again.
        f = file_frame(w, v)
        w.set_expect(pid, v, tuple((t,) for t in w.content(f, ctx.cells)))
    else:
        # The next touch faults in fresh zeroed memory.
        w.set_expect(pid, v, ((ZERO_TOKEN,),) * ctx.cells)
    return True


def exit_mm(w: Work, ctx: Ctx, pid: int) -> bool:
    """exit_mmap(): zap everything; GUP references outlive the mm."""
    pr = w.procs[pid]
    for v, vma in enumerate(pr.vmas):
        if vma.mapped:
            zap(w, ctx, pid, v, True)
    w.detach_refs(pid, None)
    w.set_proc(pid, alive=False)
    return True
