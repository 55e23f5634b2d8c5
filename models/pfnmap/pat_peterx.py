"""Peter Xu's proposal, not merged: "[PATCH] mm/x86/pat: Only untrack the pfn range
if unmap region" <20240712144244.3090089-1-peterx@redhat.com>, on the
tree it was written against (v6.10: pat-6.9). It removes untrack_pfn() from
unmap_single_vma() and untracks in unmap_vmas() only, so zap_page_range_single()
(truncate, a driver's revoke) leaves the reservation alone. David Wang's report
<1182a459.1e35.190b0e61754.Coremail.00107082@163.com> and David Hildenbrand's reply
<8da2b3bf-b9bf-44e3-88ff-750dc91c2388@redhat.com> show the other side: a driver
that zapped every PTE leaves nothing for get_pat_info() to read at munmap().
"""

from cowcheck.pfnmap.rule import UNMAP_VMAS
from cowcheck.rules import pfnmap_rule_class


class PatPeterx(pfnmap_rule_class("pat-6.9")):  # type: ignore[misc]
    name = "pat-peterx"
    title = "untrack_pfn() in unmap_vmas() only (proposed, not merged)"
    kernels = "proposed for v6.11, not merged"
    commits = ("(unmerged) mm/x86/pat: Only untrack the pfn range if unmap region",)

    def unmap_single_vma_untracks(self, caller: str) -> bool:
        return caller == UNMAP_VMAS


RULE = PatPeterx()
