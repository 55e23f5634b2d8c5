"""pat-reservation: no mapping outlives its memtype reservation, and no two mappings
of one pfn have different cache types. Kernel failure: zap_page_range_single() of
part of a VM_PAT VMA runs untrack_pfn(vma, 0, 0) in unmap_single_vma(), which frees
the whole VMA's reservation while its other PTEs still map the pfns (Peter Xu,
<20240712144244.3090089-1-peterx@redhat.com>: "It could simply be
wrong"); the pfns are then free to be reserved, and mapped, with another type.

Observational: a CPU access through a PTE while another live mapping of the pfn (a
user PTE, or the kernel's ioremap()) has another cache type: the aliasing x86
forbids (machine checks, lost writes).
Structural: every pfn PTE of a VMA mapped by a full remap_pfn_range() is covered by
a memtype entry of its own type, and every live mapping of a pfn has one type.
"""

from __future__ import annotations

from cowcheck.engine import Step
from cowcheck.pfnmap.kernel import Accessed
from cowcheck.pfnmap.property import PfnProperty
from cowcheck.pfnmap.state import PTE_PFN, TYPE_NAMES, PfnState, covering, mappings_of, paddr


def observational_step(s: PfnState, step: Step[PfnState]) -> str | None:
    for e in step.events:
        if isinstance(e, Accessed) and e.others:
            who, t = e.others[0]
            return (
                f"{e.who} accesses pfn {e.pfn} ({paddr(e.pfn)}) as {TYPE_NAMES[e.type]} while {who} maps it "
                f"{TYPE_NAMES[t]}: two cache types alias one pfn"
            )
    return None


def structural(s: PfnState) -> str | None:
    for v in s.vmas:
        if not v.tracked:
            continue
        for i, p in enumerate(v.ptes):
            if p != PTE_PFN:
                continue
            pfn = v.pfn(i)
            if not any(e.type == v.ptype for e in covering(s, pfn)):
                return (
                    f"P{v.pid} vaddr+{(v.start + i) * 4096:#x} still maps pfn {pfn} ({paddr(pfn)}) "
                    f"{TYPE_NAMES[v.ptype]}, but no memtype reservation covers it: it was freed while mapped"
                )
    for pfn in range(len(s.kmap)):
        m = mappings_of(s, pfn)
        if len({t for _, t in m}) > 1:
            (a, ta), (b, tb) = m[0], next(x for x in m if x[1] != m[0][1])
            return (
                f"{a} maps pfn {pfn} {TYPE_NAMES[ta]} and {b} maps it {TYPE_NAMES[tb]}: two cache types alias one pfn"
            )
    return None


PROPERTY = PfnProperty(
    id="pat-reservation",
    title="no pfn mapping outlives its memtype reservation; one cache type per pfn",
    models="the premature untrack (untrack_pfn() in unmap_single_vma(), 2.6.29 to 6.15)",
    cite="Peter Xu, <20240712144244.3090089-1-peterx@redhat.com>; f8e97613fed2 (6.16)",
    observational_step=observational_step,
    structural=structural,
    structural_step=observational_step,
)
