"""The pfnmap family's state: immutable records, cheap to hash.

Addresses are page numbers: a device has ``pages`` pfns (0..pages-1, none of them
RAM, so every reservation of them is a memtype tree entry), and a process's virtual
pages are numbered from 0. Only the order-0 PTE level is modelled: every VMA here
fits in one page table, so an allocation failure while copying or remapping it
fails before any of its PTEs is written (``copy_pte_range()`` and
``remap_pte_range()`` allocate the table first; a pfn PTE needs no page).
"""

from __future__ import annotations

from typing import Final, NamedTuple

# Cache types (enum page_cache_mode) a device mapping can ask for. The memtype
# tree's conflict check only asks "the same or not", so two suffice.
UC_MINUS: Final = 0  # _PAGE_CACHE_MODE_UC_MINUS: what lookup_memtype() gives untracked MMIO
WC: Final = 1  # _PAGE_CACHE_MODE_WC
TYPE_NAMES: Final = ("UC-", "WC")
TYPES: Final = {n: i for i, n in enumerate(TYPE_NAMES)}

# A PTE of a device VMA.
PTE_NONE: Final = 0
PTE_PFN: Final = 1  # maps pfn vm_pgoff + i with the VMA's cache type (a "special" PTE)
PTE_ANON: Final = 2  # a COW mapping's page after a write fault: an anonymous copy (RAM)

# Who a memtype entry's reservation is for (ghost ``Entry.trk``).
OTHER: Final = -2  # another driver's ioremap()/memtype_reserve(): never untracked here
NO_TRK: Final = -1

# Process states.
NOT_CREATED: Final = 0
ALIVE: Final = 1
GONE: Final = 2  # exited, or its fork failed


class Vma(NamedTuple):
    """A VM_PFNMAP VMA of the device file (``struct vm_area_struct``).

    ``pat`` is VM_PAT (up to 6.15), or a non-NULL ``vma->pfnmap_track_ctx`` (6.16+),
    whose context is then ``trk``. Up to 6.15 ``trk`` is a ghost: which reservation
    this VMA's VM_PAT stands for (the kernel knows only the flag, and recovers the
    range from the page table at unmap: ``get_pat_info()``).
    """

    pid: int
    start: int  # vm_start, as a virtual page
    pgoff: int  # vm_pgoff: the pfn mapped at vm_start (remap_pfn_range() sets it)
    ptes: tuple[int, ...]  # PTE_*, one per page
    ptype: int  # the cache type of its pfn PTEs (vm_page_prot after track_pfn_remap)
    cow: bool  # is_cow_mapping(): MAP_PRIVATE of a VM_MAYWRITE file
    pat: bool
    trk: int
    tracked: bool  # ghost: its pfns were mapped by a full remap_pfn_range()

    @property
    def end(self) -> int:
        return self.start + len(self.ptes)

    def pfn(self, i: int) -> int:
        return self.pgoff + i


class Entry(NamedTuple):
    """A memtype tree node: pfns [start, end) reserved with ``type``; ``trk`` is a
    ghost naming the tracking it stands for (a VMA's VM_PAT, a pfnmap_track_ctx,
    or OTHER)."""

    start: int
    end: int
    type: int
    trk: int


# What an injected failure of fork() fails (fork.py).
NO_FAIL: Final = 0
FAIL_COPY: Final = 1  # the page-table allocation in copy_page_range()
FAIL_TRACK: Final = 2  # memtype_reserve() in track_pfn_copy()
FAIL_NAMES: Final = ("", "copy_page_range", "track_pfn_copy")
# A fork's next step for the VMA it copies.
LINK: Final = 0  # vm_area_dup(), the link into i_mmap
TRACK: Final = 1  # track_pfn_copy() (up to 6.15)
COPY: Final = 2  # the PTEs


class Fork(NamedTuple):
    """A fork between dup_mmap() linking the child's VMAs (vm_area_dup(), the file's
    i_mmap tree) and copy_page_range() for them: truncate can reach the child's VMAs
    in that window."""

    actor: int  # who called fork()
    parent: int
    child: int
    fail: int  # NO_FAIL, FAIL_COPY, FAIL_TRACK: what fails in the first VMA's copy
    vma: int  # the parent's VMA being copied (its index among them)
    phase: int  # what is next for it: LINK, TRACK or COPY


class PfnState(NamedTuple):
    vmas: tuple[Vma, ...]  # sorted by (pid, start)
    memtype: tuple[Entry, ...]  # sorted: a multiset
    kmap: tuple[int, ...]  # per pfn: the kernel's own mapping's type (ioremap), -1: none
    ctxs: tuple[tuple[int, int, int], ...]  # 6.16+: (ctx, pfn, pages) of each live context
    procs: tuple[int, ...]  # per pid: NOT_CREATED, ALIVE, GONE
    pcs: tuple[int, ...]  # litmus: each actor's next step
    used: tuple[int, ...]  # open: each budget kind's uses
    forking: tuple[Fork, ...]  # the fork in flight, if any (a tuple: None hashes by address in 3.11)
    next_trk: int

    @property
    def fork(self) -> Fork | None:
        return self.forking[0] if self.forking else None


def covering(s: PfnState, pfn: int) -> list[Entry]:
    return [e for e in s.memtype if e.start <= pfn < e.end]


def mappings_of(s: PfnState, pfn: int) -> list[tuple[str, int]]:
    """Every live mapping of ``pfn``: (who, cache type), user PTEs and the kernel's."""
    out = [
        (f"P{v.pid} vaddr+{(v.start + i) * 4096:#x}", v.ptype)
        for v in s.vmas
        for i, p in enumerate(v.ptes)
        if p == PTE_PFN and v.pfn(i) == pfn
    ]
    if s.kmap[pfn] >= 0:
        out.append(("the kernel's ioremap()", s.kmap[pfn]))
    return out


def paddr(pfn: int) -> str:
    """A device pfn as /proc/iomem and the kernel's messages print it (a BAR at 0xfd000000)."""
    return f"{0xFD000000 + pfn * 4096:#010x}"


def mem_range(start: int, end: int) -> str:
    """``[mem 0x...-0x...]``, as memtype_free() prints a range."""
    return f"[mem {paddr(start)}-{0xFD000000 + end * 4096 - 1:#010x}]"
