"""mmap() of the device file, whose ->mmap calls remap_pfn_range() (mm/memory.c):
track_pfn_remap() (up to 6.15) or pfnmap_track_ctx_alloc() (6.16+) for a remap of
the whole VMA, only the cache mode for a part (lookup_memtype(),
pfnmap_setup_cachemode()), then remap_pfn_range_notrack(), whose error path zaps
what it mapped from 79a61cc3fc04 (6.11) and untracks. A failed ->mmap ends the
mmap() (mmap_region()'s unmap_region() finds VM_PAT clear by then): no VMA."""

from __future__ import annotations

from cowcheck.pfnmap.kernel import Kernel
from cowcheck.pfnmap.memtype import lookup_memtype
from cowcheck.pfnmap.rule import TRACK_CTX, ZAP_SINGLE
from cowcheck.pfnmap.state import NO_TRK, PTE_NONE, PTE_PFN, TYPE_NAMES, Vma, mem_range
from cowcheck.pfnmap.track import ctx_put, reserve_pfn_range, untrack_pfn
from cowcheck.pfnmap.unmap import unmap_single_vma


def mmap_remap(k: Kernel, pid: int, start: int, n: int, pfn: int, want: int, full: bool, cow: bool, fail: bool) -> None:
    if any(v.pid == pid and v.start < start + n and start < v.end for v in k.vmas):
        # MAP_FIXED_NOREPLACE: the model does not replace a mapping.
        k.note(f"mmap: vaddr+{start * 4096:#x} is taken: -EEXIST")
        return
    vma = Vma(pid, start, pfn, (PTE_NONE,) * n, want, cow, False, NO_TRK, full)
    k.vmas.append(vma)
    k.vmas.sort()
    vi = k.vmas.index(vma)
    size = n if full else 1  # a partial remap maps the VMA's first page
    if cow and not full:
        # remap_pfn_range_internal(): a COW mapping must be remapped whole (vm_pgoff = pfn).
        k.note("remap_pfn_range: part of a COW mapping: -EINVAL; mmap fails, no VMA")
        k.vmas.pop(vi)
        return
    ctx = NO_TRK
    if full:
        trk = k.new_trk()
        ok, got = reserve_pfn_range(k, pfn, size, want, False, trk)
        if not ok:
            k.note("remap_pfn_range: the reservation failed: -EINVAL")
            k.vmas.pop(vi)
            return
        if k.rule.tracking == TRACK_CTX:
            k.ctxs.append((trk, pfn, size))
            ctx = trk
            k.note(f"pfnmap_track_ctx_alloc({mem_range(pfn, pfn + size)})")
        else:
            k.vmas[vi] = k.vmas[vi]._replace(pat=True, trk=trk, ptype=got)
            k.note("track_pfn_remap: whole VMA: VM_PAT")
        want = got
    else:
        want = lookup_memtype(k.memtype, pfn)
        k.note(f"track_pfn_remap: part of the VMA: no reservation, lookup_memtype() gives {TYPE_NAMES[want]}")
    k.vmas[vi] = k.vmas[vi]._replace(ptype=want)
    if fail:
        k.note("remap_pfn_range_notrack: the page-table allocation fails: -ENOMEM")
        if k.rule.remap_error_zaps:
            unmap_single_vma(k, vi, 0, size, ZAP_SINGLE)
        if ctx != NO_TRK:
            k.note("remap_pfn_range: kref_put(ctx)")
            ctx_put(k, ctx)
        else:
            untrack_pfn(k, vi, "remap_pfn_range error", pfn, size)
        k.note("mmap: ->mmap failed: -ENOMEM, no VMA")
        k.vmas.pop(vi)
        return
    ptes = (PTE_PFN,) * size + (PTE_NONE,) * (n - size)
    k.vmas[vi] = k.vmas[vi]._replace(ptes=ptes, pat=k.vmas[vi].pat or ctx != NO_TRK, trk=max(k.vmas[vi].trk, ctx))
    k.note(f"remap_pfn_range: {size} pfn PTE(s) {TYPE_NAMES[want]}")
