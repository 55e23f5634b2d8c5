"""The classic placement: x86 PAT tracking of VM_PFNMAP mappings as merged.

2ab640379a0a "x86: PAT: hooks in generic vm code to help archs to track pfnmap
regions - v3" (v2.6.29): remap_pfn_range() of a whole VMA reserves its range
(track_pfn_remap(), VM_PAT) and unmapping untracks it, reading the pfn back from
the page table at vm_start. The untrack sat in unmap_vmas(), which
zap_page_range() called too; f5cc4eef9987 (v3.4) moved it into
unmap_single_vma(), which zap_page_range_single() still shares. So every zap of a
part of the VMA frees the whole reservation (<20240712144244.3090089-1-peterx@redhat.com>). vm_area_dup() copies
VM_PAT with vm_flags, for fork, split and mremap alike; a fork whose
copy_page_range() fails leaves the child's VMA with VM_PAT and no PTE, and its
exit_mmap() WARNs in untrack_pfn() and leaks the child's reservation.
"""

from cowcheck.pfnmap.rule import FORK_KEEP, VM_PAT, PatRule


class Pat2629(PatRule):
    name = "pat-2.6.29"
    title = "untrack_pfn() in unmap_single_vma(): any zap untracks the whole VMA"
    kernels = "v2.6.29 - v6.3"
    commits = (
        "2ab640379a0a x86: PAT: hooks in generic vm code to help archs to track pfnmap regions - v3",
        "f5cc4eef9987 VM: make zap_page_range() callers that act on a single VMA use separate helper",
    )
    tracking = VM_PAT
    warn_in = "untrack_pfn"

    def fork_copy_failed(self) -> str:
        return FORK_KEEP


RULE = Pat2629()
