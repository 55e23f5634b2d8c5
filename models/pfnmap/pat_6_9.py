"""04c35ab3bdae "x86/mm/pat: fix VM_PAT handling in COW mappings" (David
Hildenbrand, v6.9; CVE-2024-35877): in a MAP_PRIVATE pfnmap a write fault replaces
a PTE with an anonymous copy, and follow_phys() at vm_start returned the copy's
address (RAM: nothing freed, the device's reservation leaked) or failed. The
lookup moves into get_pat_info(), which refuses anonymous pages and, for a COW
mapping, takes the pfn from vm_pgoff when only the pfn is wanted (untrack); fork
still fails when it needs the cache type too.
"""

from cowcheck.rules import pfnmap_rule_class


class Pat69(pfnmap_rule_class("pat-6.4")):  # type: ignore[misc]
    name = "pat-6.9"
    title = "get_pat_info(): COW mappings fall back to vm_pgoff"
    kernels = "v6.9 - v6.10"
    commits = ("04c35ab3bdae x86/mm/pat: fix VM_PAT handling in COW mappings",)
    cow_pgoff_fallback = True
    warn_in = "get_pat_info"


RULE = Pat69()
