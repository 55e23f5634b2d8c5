"""d155df53f310 "x86/mm/pat: clear VM_PAT if copy_p4d_range failed" (Ma Wupeng,
v6.4): syzbot's "WARNING in untrack_pfn" from a fork whose page-table copy failed.
copy_page_range() now calls untrack_pfn_clear(dst_vma) on that failure, so the
child's exit_mmap() no longer reads its missing page table; but the reservation
track_pfn_copy() made for the child is never freed (dc84bc2aba85: "not properly
undoing the reservation ... which is also wrong"). A track_pfn_copy() that fails
still leaves the child's VMA with VM_PAT and no page table.
"""

from cowcheck.pfnmap.rule import FORK_CLEAR
from cowcheck.rules import pfnmap_rule_class


class Pat64(pfnmap_rule_class("pat-2.6.29")):  # type: ignore[misc]
    name = "pat-6.4"
    title = "on a failed fork copy, untrack_pfn_clear(): no WARN, the child's reservation leaks"
    kernels = "v6.4 - v6.8"
    commits = ("d155df53f310 x86/mm/pat: clear VM_PAT if copy_p4d_range failed",)

    def fork_copy_failed(self) -> str:
        return FORK_CLEAR


RULE = Pat64()
