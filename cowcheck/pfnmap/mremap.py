"""mremap() moving a range of a device VMA (mm/mremap.c move_vma()): copy_vma()
makes the new VMA with vm_area_dup(), move_page_tables() moves the PTEs, then up to
6.15 ``untrack_pfn_clear(vma)`` ("Tell pfnmap has moved from this vma") clears
VM_PAT on the whole old VMA, and do_vmi_munmap() unmaps the old range (splitting
the old VMA where the range is part of it). A VM_PFNMAP VMA cannot grow
(vma_to_resize(): VM_DONTEXPAND), so only a move of the same size is modelled."""

from __future__ import annotations

from cowcheck.pfnmap.kernel import Kernel
from cowcheck.pfnmap.rule import DUP_MREMAP, TRACK_CTX
from cowcheck.pfnmap.state import PTE_NONE
from cowcheck.pfnmap.unmap import dup, munmap


def mremap_move(k: Kernel, pid: int, start: int, n: int, to: int) -> None:
    vi = k.vma_at(pid, start)
    if vi < 0:
        k.note("mremap: no VMA there: -EFAULT")
        return
    v = k.vmas[vi]
    first = start - v.start
    n = min(n, len(v.ptes) - first)
    if any(x.pid == pid and x.start < to + n and to < x.end for x in k.vmas):
        # MREMAP_FIXED onto a mapping would unmap it first; the model moves to free space only.
        k.note(f"mremap: vaddr+{to * 4096:#x} is taken: -EINVAL")
        return
    new = dup(k, v._replace(start=to, pgoff=v.pgoff + first, ptes=v.ptes[first : first + n]), DUP_MREMAP)
    k.note(f"copy_vma: vaddr+{to * 4096:#x}, move_page_tables()")
    ptes = list(v.ptes)
    ptes[first : first + n] = [PTE_NONE] * n
    old = v._replace(ptes=tuple(ptes))
    if k.rule.tracking != TRACK_CTX and old.pat:
        k.note("move_vma: untrack_pfn_clear(old vma): VM_PAT cleared")
        old = old._replace(pat=False)
    k.vmas[vi] = old
    k.vmas.append(new)
    k.vmas.sort()
    munmap(k, pid, start, n)
