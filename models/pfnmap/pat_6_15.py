"""dc84bc2aba85 "x86/mm/pat: Fix VM_PAT handling when fork() fails in
copy_page_range()" (David Hildenbrand, v6.15-rc1): the child's VMA gets VM_PAT only
once track_pfn_copy() reserved for it, and a failed copy undoes that reservation
(untrack_pfn_copy()). It cleared VM_PAT in every vm_area_dup(), split and mremap()
included ("So we end up with... neither tracked"), until e9f180d7cfde "kernel/fork:
only call untrack_pfn_clear() on VMAs duplicated for fork()" (v6.15-rc7); this
rule is v6.15 as released, with both.
"""

from cowcheck.pfnmap.rule import DUP_FORK, FORK_UNDO
from cowcheck.rules import pfnmap_rule_class


class Pat615(pfnmap_rule_class("pat-6.11")):  # type: ignore[misc]
    name = "pat-6.15"
    title = "fork: VM_PAT only after the child's reservation; a failed copy undoes it"
    kernels = "v6.15"
    commits = (
        "dc84bc2aba85 x86/mm/pat: Fix VM_PAT handling when fork() fails in copy_page_range()",
        "e9f180d7cfde kernel/fork: only call untrack_pfn_clear() on VMAs duplicated for fork()",
    )

    def vm_area_dup_keeps_pat(self, why: str) -> bool:
        return why != DUP_FORK

    def fork_copy_failed(self) -> str:
        return FORK_UNDO


RULE = Pat615()
