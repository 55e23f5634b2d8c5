"""What is not a VMA operation: another driver reserving the same pfns for its own
kernel mapping (ioremap(), io_reserve_memtype(): memtype_reserve() taking the
existing type if there is one, then the kernel's mapping with it), and a CPU
access through a user PTE, where a write to a COW mapping's pfn copies it
(do_wp_page() -> wp_page_copy(): vm_normal_page() is NULL for a pfn PTE)."""

from __future__ import annotations

from cowcheck.pfnmap.kernel import Accessed, Kernel
from cowcheck.pfnmap.memtype import memtype_reserve
from cowcheck.pfnmap.state import OTHER, PTE_ANON, PTE_PFN, TYPE_NAMES, PfnState, mappings_of


def ioremap(k: Kernel, pfn: int, n: int, want: int) -> None:
    got = memtype_reserve(k.memtype, pfn, pfn + n, want, OTHER, adopt=True)
    k.note(got.note)
    if got.ok:
        k.memtype = got.memtype
        for p in range(pfn, pfn + n):
            k.kmap[p] = got.type
        k.note(f"ioremap: the kernel maps the pfns {TYPE_NAMES[got.type]}")


def access(k: Kernel, s: PfnState, pid: int, page: int, write: bool) -> None:
    vi = k.vma_at(pid, page)
    if vi < 0:
        k.note("SIGSEGV: no VMA there")
        return
    v = k.vmas[vi]
    i = page - v.start
    if v.ptes[i] == PTE_ANON:
        k.note("the anonymous COW copy: RAM, write-back")
        return
    if v.ptes[i] != PTE_PFN:
        k.note("SIGBUS: no PTE, and remap_pfn_range() mappings have no ->fault")
        return
    pfn = v.pfn(i)
    me = f"P{pid} vaddr+{page * 4096:#x}"
    others = tuple((who, t) for who, t in mappings_of(s, pfn) if who != me and t != v.ptype)
    k.events.append(Accessed(me, pfn, v.ptype, others))
    k.note(f"{'writes' if write else 'reads'} pfn {pfn} through a {TYPE_NAMES[v.ptype]} PTE")
    if write and v.cow:
        ptes = list(v.ptes)
        ptes[i] = PTE_ANON
        k.vmas[vi] = v._replace(ptes=tuple(ptes))
        k.note("do_wp_page: COW mapping: wp_page_copy() maps an anonymous copy")
