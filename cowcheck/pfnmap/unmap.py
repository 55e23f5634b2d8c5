"""Unmapping: unmap_single_vma() (mm/memory.c), which zap_page_range_single() and
unmap_vmas() share, and the callers built on it: munmap() with its VMA split
(do_vmi_align_munmap(), __split_vma()), exit_mmap(), unmap_mapping_range() and
zap_vma_ptes().

Every path here runs whole, as one step: munmap(), exit and mremap() hold the mmap
lock for writing, and unmap_mapping_range() holds the file's i_mmap lock, which
fork's linking of the child's VMAs takes too (fork.py has the window that matters).
"""

from __future__ import annotations

from cowcheck.pfnmap.kernel import Kernel
from cowcheck.pfnmap.rule import DUP_SPLIT, TRACK_CTX, UNMAP_VMAS, ZAP_SINGLE
from cowcheck.pfnmap.state import PTE_NONE, Vma
from cowcheck.pfnmap.track import untrack_pfn, vm_area_free


def unmap_single_vma(k: Kernel, vi: int, first: int, n: int, caller: str) -> None:
    """Untrack (where the era does: ``unmap_single_vma_untracks``), then zap PTEs
    [first, first + n) of VMA ``vi`` (indices into the VMA)."""
    if k.rule.tracking != TRACK_CTX and k.rule.unmap_single_vma_untracks(caller):
        untrack_pfn(k, vi, f"{caller}: unmap_single_vma")
    v = k.vmas[vi]
    ptes = list(v.ptes)
    ptes[first : first + n] = [PTE_NONE] * n
    k.vmas[vi] = v._replace(ptes=tuple(ptes))


def dup(k: Kernel, v: Vma, why: str) -> Vma:
    """vm_area_dup(): a copy of ``v``; VM_PAT kept or not as the era says, a context
    shared (kref_get())."""
    if k.rule.tracking == TRACK_CTX or not v.pat or k.rule.vm_area_dup_keeps_pat(why):
        return v
    k.note(f"vm_area_dup ({why}): untrack_pfn_clear(new): VM_PAT cleared")
    return v._replace(pat=False)


def split(k: Kernel, vi: int, at: int, new_below: bool) -> int:
    """__split_vma(vma, addr, new_below): the new VMA (vm_area_dup()) takes the part
    below ``at`` (new_below) or from ``at`` on; returns the index of the part that
    starts at ``at``. munmap() splits as since 6.5 (the new VMA is the part that stays);
    __do_munmap() before gave it the part unmapped. Which one is new matters only to
    a rule whose vm_area_dup() clears VM_PAT on a split, as none of the built-in
    eras as released does."""
    v = k.vmas[vi]
    cut = at - v.start
    low = v._replace(ptes=v.ptes[:cut])
    high = v._replace(start=at, pgoff=v.pgoff + cut, ptes=v.ptes[cut:])
    if new_below:
        low = dup(k, low, DUP_SPLIT)
    else:
        high = dup(k, high, DUP_SPLIT)
    k.note(f"__split_vma(P{v.pid} vaddr+{v.start * 4096:#x}, at vaddr+{at * 4096:#x})")
    k.vmas[vi] = low
    k.vmas.insert(vi + 1, high)
    return vi + 1


def isolate(k: Kernel, pid: int, start: int, end: int) -> list[int]:
    """Split ``pid``'s VMAs at ``start`` and ``end``; the indices of those within."""
    for i, v in enumerate(k.vmas):
        if v.pid == pid and v.start < start < v.end:
            split(k, i, start, True)
            break
    for i, v in enumerate(k.vmas):
        if v.pid == pid and v.start < end < v.end:
            split(k, i, end, False)
            break
    return [i for i, v in enumerate(k.vmas) if v.pid == pid and start <= v.start and v.end <= end]


def remove_vmas(k: Kernel, idx: list[int]) -> None:
    """unmap_vmas() over them, then each vm_area_free()."""
    for i in idx:
        unmap_single_vma(k, i, 0, len(k.vmas[i].ptes), UNMAP_VMAS)
    for i in sorted(idx, reverse=True):
        vm_area_free(k, i)


def munmap(k: Kernel, pid: int, start: int, n: int) -> None:
    idx = isolate(k, pid, start, start + n)
    if not idx:
        k.note("munmap: nothing mapped there")
    remove_vmas(k, idx)


def exit_mmap(k: Kernel, pid: int) -> None:
    remove_vmas(k, [i for i, v in enumerate(k.vmas) if v.pid == pid])


def zap_vma_ptes(k: Kernel, pid: int, start: int, n: int) -> None:
    """zap_vma_ptes() -> zap_page_range_single() on the VMA holding the range (it
    returns at once when the range is not within one VMA: range_in_vma())."""
    for i, v in enumerate(k.vmas):
        if v.pid == pid and v.start <= start and start + n <= v.end:
            unmap_single_vma(k, i, start - v.start, n, ZAP_SINGLE)
            return
    k.note("zap_vma_ptes: the range is not within one VMA: nothing done")


def unmap_mapping_range(k: Kernel, pfn: int, n: int) -> None:
    """unmap_mapping_range(mapping, offset, len, even_cows=1) (truncate, a driver's
    revoke): zap_page_range_single() on every VMA of the device file, in every
    process, over the part that maps those offsets."""
    hit = False
    for i, v in enumerate(k.vmas):
        lo, hi = max(pfn, v.pgoff), min(pfn + n, v.pgoff + len(v.ptes))
        if lo < hi:
            hit = True
            unmap_single_vma(k, i, lo - v.pgoff, hi - lo, ZAP_SINGLE)
    if not hit:
        k.note("unmap_mapping_range: no VMA maps that range")
