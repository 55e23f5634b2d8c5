"""A pfnmap rule: where a kernel era tracks and untracks a VM_PFNMAP mapping's
memtype reservation.

The mechanism (the memtype tree, get_pat_info(), the VMA and PTE bookkeeping) is
shared, in the other modules of this package; a rule states the decisions that
moved between eras, at named hook points, each with the commit that moved it. The
defaults are the classic placement of 2ab640379a0a (v2.6.29): untrack in
unmap_single_vma(), VM_PAT copied by every vm_area_dup(), nothing undone when fork
fails. A rule file subclasses a built-in era (``pfnmap_rule_class(NAME)``) and
overrides what it changes.
"""

from __future__ import annotations

from typing import ClassVar

# How a VM_PFNMAP VMA's tracking is kept.
VM_PAT = "VM_PAT"  # <= 6.15: a flag; the range is read back from the page table
TRACK_CTX = "pfnmap_track_ctx"  # 6.16+: a reference-counted context shared by the VMAs

# What copy_page_range() does when copying a tracked VMA fails (fork fails).
FORK_KEEP = "keep"  # the child's VMA keeps VM_PAT; exit_mmap() untracks it
FORK_CLEAR = "untrack_pfn_clear"  # d155df53f310: clear VM_PAT; the reservation stays
FORK_UNDO = "untrack_pfn_copy"  # dc84bc2aba85: free the child's reservation, clear VM_PAT

# Who calls unmap_single_vma() (the ``caller`` of ``unmap_single_vma_untracks``).
UNMAP_VMAS = "unmap_vmas"  # munmap() and exit_mmap(): the VMA goes away
ZAP_SINGLE = "zap_page_range_single"  # unmap_mapping_range(), zap_vma_ptes(), remap errors

# Why vm_area_dup() copies a VMA (``vm_area_dup_keeps_pat``).
DUP_FORK, DUP_SPLIT, DUP_MREMAP = "fork", "split", "mremap"


class PatRule:
    """Base class of every pfnmap rule."""

    name: ClassVar[str] = "pat-base"
    title: ClassVar[str] = ""
    kernels: ClassVar[str] = ""
    commits: ClassVar[tuple[str, ...]] = ()
    tracking: ClassVar[str] = VM_PAT
    # get_pat_info() falls back to vm_pgoff when a COW mapping's first PTE does not
    # map the pfn (04c35ab3bdae, v6.9).
    cow_pgoff_fallback: ClassVar[bool] = False
    # remap_pfn_range_notrack() zaps what it mapped on an error (79a61cc3fc04, v6.11),
    # through zap_page_range_single().
    remap_error_zaps: ClassVar[bool] = False
    # Where the "page table gone" WARN_ON_ONCE sits: untrack_pfn() itself, and
    # get_pat_info() once it was factored out of it.
    warn_in: ClassVar[str] = "get_pat_info"

    # The hooks are asked only under VM_PAT tracking: with a pfnmap_track_ctx nothing
    # untracks at unmap, and vm_area_dup() always shares the context.
    def unmap_single_vma_untracks(self, caller: str) -> bool:
        """unmap_single_vma(): ``if (vma->vm_flags & VM_PFNMAP) untrack_pfn(vma, 0, 0)``,
        whoever called it (f5cc4eef9987 moved it there from unmap_vmas())."""
        return self.tracking == VM_PAT

    def vm_area_dup_keeps_pat(self, why: str) -> bool:
        """vm_area_dup(): whether the copy keeps VM_PAT (a memcpy of vm_flags) or the
        context (vma_pfnmap_track_ctx_dup(): kref_get())."""
        return True

    def fork_copy_failed(self) -> str:
        """copy_page_range() failed after track_pfn_copy() reserved for the child."""
        return FORK_KEEP

    def describe(self) -> str:
        return f"{self.name}: {self.title} ({self.kernels})"


HOOKS = ("unmap_single_vma_untracks", "vm_area_dup_keeps_pat", "fork_copy_failed")
