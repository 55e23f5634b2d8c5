"""Tracking and untracking a VMA's reservation: get_pat_info(), untrack_pfn(),
track_pfn_copy() (arch/x86/mm/pat/memtype.c, up to 6.15) and the pfnmap_track_ctx
of 6.16+ (mm/memory.c pfnmap_track_ctx_alloc(), mm/vma_init.c
vma_pfnmap_track_ctx_dup()/release(); f8e97613fed2 "mm: convert VM_PFNMAP tracking
to pfnmap_track() + pfnmap_untrack()")."""

from __future__ import annotations

from typing import NamedTuple

from cowcheck.pfnmap.kernel import InvalidFree, Kernel
from cowcheck.pfnmap.memtype import memtype_free, memtype_reserve
from cowcheck.pfnmap.rule import TRACK_CTX
from cowcheck.pfnmap.state import NO_TRK, PTE_ANON, PTE_PFN, TYPE_NAMES, mem_range, paddr

RAM = -1  # get_pat_info() found an anonymous page's address: RAM, never in the tree
WB = -1  # the cache type of RAM


class PatInfo(NamedTuple):
    ok: bool
    pfn: int  # RAM: an anonymous page's
    type: int


def get_pat_info(k: Kernel, vi: int, want_prot: bool, caller: str) -> PatInfo:
    """The pfn (and cache type) a VM_PAT VMA reserved, read back from the page table
    at vm_start (follow_phys()). 04c35ab3bdae (6.9) factored this out of
    untrack_pfn() and track_pfn_copy(), refused anonymous pages and, for a COW
    mapping, fell back to vm_pgoff when only the pfn is wanted."""
    rule = k.rule
    v = k.vmas[vi]
    where = f"P{v.pid} vaddr+{v.start * 4096:#x}"
    first = v.ptes[0]
    if first == PTE_PFN:
        return PatInfo(True, v.pgoff, v.ptype)
    if first == PTE_ANON and not rule.cow_pgoff_fallback:
        # follow_phys() takes any present PTE: the COWed page's address and WB.
        k.note(f"{caller}: follow_phys({where}) finds the anonymous COW copy: its RAM address, not the pfn")
        return PatInfo(True, RAM, WB)
    if rule.cow_pgoff_fallback and v.cow:
        if want_prot:
            k.note("get_pat_info: COW mapping without the pfn PTE at vm_start: no cachemode: -EINVAL")
            return PatInfo(False, RAM, WB)
        k.note(f"get_pat_info: COW mapping: the pfn from vm_pgoff, {paddr(v.pgoff)}")
        return PatInfo(True, v.pgoff, v.ptype)
    site = "get_pat_info" if rule.warn_in == "get_pat_info" else caller
    k.warn(site, f"follow_phys({where}) finds no PTE at vm_start: the page table is gone")
    return PatInfo(False, RAM, WB)


def free_pfn_range(k: Kernel, start: int, n: int, trk: int) -> None:
    """free_pfn_range(): memtype_free() of a non-RAM range (an END match only while
    memtype_erase() had one, before 6.16)."""
    if start == RAM:
        k.note("free_pfn_range: RAM: nothing to free (the device's reservation stays)")
        return
    got = memtype_free(k.memtype, start, start + n, trk, end_match=k.rule.tracking != TRACK_CTX)
    k.note(got.note)
    if got.ok:
        k.memtype = got.memtype
    else:
        k.events.append(InvalidFree(got.note))


def untrack_pfn(k: Kernel, vi: int, caller: str, pfn: int = -1, n: int = 0) -> None:
    """untrack_pfn(vma, pfn, size): nothing without VM_PAT; the whole VMA
    (``pfn`` -1: get_pat_info(), size vm_end - vm_start) or the given range; then
    clear VM_PAT. When get_pat_info() fails it returns with VM_PAT still set and
    nothing freed."""
    v = k.vmas[vi]
    if not v.pat:
        return
    args = "0, 0" if pfn < 0 else f"pfn {pfn}, {n} page{'s' if n != 1 else ''}"
    k.note(f"{caller}: untrack_pfn(P{v.pid} vaddr+{v.start * 4096:#x}, {args})")
    if pfn < 0:
        info = get_pat_info(k, vi, False, "untrack_pfn")
        if not info.ok:
            return
        pfn, n = info.pfn, len(v.ptes)
    free_pfn_range(k, pfn, n, v.trk)
    k.vmas[vi] = k.vmas[vi]._replace(pat=False, trk=NO_TRK)


def reserve_pfn_range(k: Kernel, pfn: int, n: int, want: int, strict: bool, trk: int) -> tuple[bool, int]:
    """reserve_pfn_range(): RAM needs no entry; otherwise memtype_reserve() taking the
    existing type (is_new_memtype_allowed() lets UC- and WC stand for each other),
    which ``strict`` (fork) refuses: the entry is freed and it fails."""
    if pfn == RAM:
        k.note("reserve_pfn_range: RAM: no memtype entry")
        return True, want
    got = memtype_reserve(k.memtype, pfn, pfn + n, want, trk, adopt=True)
    k.note(got.note)
    if not got.ok:
        return False, want
    if strict and got.type != want:
        k.note(f"reserve_pfn_range: strict, {TYPE_NAMES[want]} wanted: memtype_free, -EINVAL")
        return False, want
    k.memtype = got.memtype
    return True, got.type


def track_pfn_copy(k: Kernel, src: int, enomem: bool = False) -> tuple[bool, int, int, int]:
    """track_pfn_copy(): for a VM_PAT source, reserve the same range again for the
    child (strict); -EINVAL when get_pat_info() cannot say what it was, -ENOMEM
    when the reservation's allocation fails (``enomem``, injected). Returns (ok, trk
    of the child's reservation, pfn, pages)."""
    v = k.vmas[src]
    if not v.pat:
        return True, NO_TRK, -1, 0
    k.note(f"copy_page_range: track_pfn_copy(P{v.pid} vaddr+{v.start * 4096:#x})")
    info = get_pat_info(k, src, True, "track_pfn_copy")
    if not info.ok:
        return False, NO_TRK, -1, 0
    if enomem and info.pfn != RAM:
        k.note("reserve_pfn_range: memtype_reserve() cannot allocate the entry: -ENOMEM")
        return False, NO_TRK, -1, 0
    trk = NO_TRK if info.pfn == RAM else k.new_trk()
    ok, _ = reserve_pfn_range(k, info.pfn, len(v.ptes), info.type, True, trk)
    if not ok:
        return False, NO_TRK, -1, 0
    return True, trk, info.pfn, len(v.ptes)


def ctx_put(k: Kernel, trk: int) -> None:
    """kref_put() of a pfnmap_track_ctx: the last one calls pfnmap_untrack()."""
    if any(v.pat and v.trk == trk for v in k.vmas):
        return
    ctx = next(c for c in k.ctxs if c[0] == trk)
    k.ctxs.remove(ctx)
    k.note(f"pfnmap_track_ctx_release: pfnmap_untrack({mem_range(ctx[1], ctx[1] + ctx[2])})")
    free_pfn_range(k, ctx[1], ctx[2], trk)


def vm_area_free(k: Kernel, vi: int) -> None:
    """Remove VMA ``vi``; with a context, vma_pfnmap_track_ctx_release()."""
    v = k.vmas.pop(vi)
    if k.rule.tracking == TRACK_CTX and v.pat:
        ctx_put(k, v.trk)
