"""pat-leak: a memtype reservation exists exactly while a VMA's tracking (VM_PAT, or
a pfnmap_track_ctx) stands for it. Kernel failure: a reservation nothing will free,
so the pfns can never be mapped with another type again: untrack_pfn() finding no
PTE at vm_start (David Wang <1182a459.1e35.190b0e61754.Coremail.00107082@163.com> under Peter
Xu's patch; a failed fork's child, dc84bc2aba85), d155df53f310's cleared VM_PAT
with the child's reservation kept, get_pat_info() reading a COW copy's RAM address
(04c35ab3bdae), and a split VMA unmapped from the front.

The same check in both forms: a leaked entry is what /sys/kernel/debug/x86/pat_memtype_list
shows.
"""

from __future__ import annotations

from cowcheck.pfnmap.property import PfnProperty
from cowcheck.pfnmap.state import TYPE_NAMES, PfnState, mem_range


def check(s: PfnState) -> str | None:
    held = {v.trk for v in s.vmas if v.pat}
    for e in s.memtype:
        if e.trk >= 0 and e.trk not in held:
            return (
                f"memtype {mem_range(e.start, e.end)} {TYPE_NAMES[e.type]} is reserved, but no VMA's tracking "
                f"stands for it any more: leaked, nothing will free it"
            )
    return None


PROPERTY = PfnProperty(
    id="pat-leak",
    title="a memtype reservation lives exactly as long as the tracking that made it",
    models="the leaks of untrack_pfn() without a page table (2.6.29 to 6.15) and of a failed fork",
    cite="dc84bc2aba85 x86/mm/pat: Fix VM_PAT handling when fork() fails in copy_page_range()",
    observational=check,
    structural=check,
)
