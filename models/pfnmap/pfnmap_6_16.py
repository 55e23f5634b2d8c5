"""The rewrite: "mm: convert VM_PFNMAP tracking to pfnmap_track() + pfnmap_untrack()"
(David Hildenbrand, f8e97613fed2, v6.16; VM_PAT removed by cba4dbeb7bfc, the
MEMTYPE_*_MATCH removed by 81baf8450165). remap_pfn_range() of a whole VMA reserves
and allocates a reference-counted ``struct pfnmap_track_ctx {kref, pfn, size}``;
vm_area_dup() (fork, split, mremap) takes a reference, vm_area_free() drops it, and
the last one untracks the original range. Zapping never touches tracking, fork
reserves nothing, and nothing reads the page table back: "we'll keep tracking the
original PFN range even after splitting + partially unmapping it".
"""

from cowcheck.pfnmap.rule import TRACK_CTX
from cowcheck.rules import pfnmap_rule_class


class Pfnmap616(pfnmap_rule_class("pat-6.15")):  # type: ignore[misc]
    name = "pfnmap-6.16"
    title = "a reference-counted pfnmap_track_ctx shared by the VMAs"
    kernels = "v6.16+"
    commits = (
        "f8e97613fed2 mm: convert VM_PFNMAP tracking to pfnmap_track() + pfnmap_untrack()",
        "cba4dbeb7bfc mm: remove VM_PAT",
        "81baf8450165 x86/mm/pat: remove MEMTYPE_*_MATCH",
    )
    tracking = TRACK_CTX

    def unmap_single_vma_untracks(self, caller: str) -> bool:
        return False


RULE = Pfnmap616()
