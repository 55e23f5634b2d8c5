"""A rule: the decisions a kernel era makes at named hook points.

Everything else (refcounts, rmap, swap bookkeeping, the ghost) is shared mechanism
in the operation modules. A rule sees a read-only ``PageView`` of what the kernel
code would read at that point and returns a decision with a one-line note in the
kernel's own terms; the note is printed under the step in counterexamples.

The defaults are neutral: a subclass states every decision its era makes.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple


class PageView(NamedTuple):
    """What a hook may read about a page, as the kernel would read it there.

    ``refcount`` includes the reference the calling path itself holds (for example
    the one ``do_swap_page`` took when it looked the page up).
    """

    refcount: int
    mapcount: int
    pincount: int
    exclusive: bool  # PageAnonExclusive
    swapcache: bool  # PageSwapCache
    swapcount: int  # swap PTEs still pointing at the page's slot (0 if none)
    locked: bool  # PG_locked held by someone else (trylock_page would fail)
    zero: bool  # the shared zero page (not PageAnon)
    file: bool = False  # a page-cache page (not PageAnon, never PageAnonExclusive)

    @property
    def anon(self) -> bool:
        """PageAnon()."""
        return not (self.zero or self.file)

    @property
    def maybe_dma_pinned(self) -> bool:
        """page_maybe_dma_pinned()."""
        return self.pincount > 0


class GupFlags(NamedTuple):
    pin: bool  # FOLL_PIN (else FOLL_GET)
    write: bool  # FOLL_WRITE
    longterm: bool  # FOLL_LONGTERM

    def describe(self) -> str:
        parts = ["FOLL_PIN" if self.pin else "FOLL_GET"]
        if self.write:
            parts.append("FOLL_WRITE")
        if self.longterm:
            parts.append("FOLL_LONGTERM")
        return "|".join(parts)


class WpDecision(NamedTuple):
    """do_wp_page(): reuse the page in place, or copy it."""

    reuse: bool
    note: str
    free_swapcache: bool = False  # drop the page from the swapcache before reusing
    wait_lock: bool = False  # lock_page() would sleep: the fault is not enabled now


class SwapinDecision(NamedTuple):
    """do_swap_page(): map exclusive (and writable), and whether to free the swapcache."""

    exclusive: bool
    writable: bool
    note: str
    free_swapcache: bool = False


class ForkDecision(NamedTuple):
    copy: bool  # copy_present_page(): give the child its own copy now
    note: str


class UnmapDecision(NamedTuple):
    """try_to_unmap_one() for one PTE."""

    proceed: bool
    note: str


# What faultin_page() does to the GUP flags after a write fault that broke COW
# (VM_FAULT_WRITE) in a vma without VM_WRITE, that is a FOLL_FORCE write.
FORCE_DROP_WRITE = "drop FOLL_WRITE"  # <= 4.8: the retry is a read (Dirty COW)
FORCE_FOLL_COW = "set FOLL_COW"  # 19be0eaffa3a (4.9) to 5.19: the retry checks pte_dirty()
FORCE_NOTHING = ""  # 5535be309971 (6.0): nothing; can_follow_write_pte() decides alone

# UFFDIO_CONTINUE on a private shmem mapping registered in minor mode.
UFFD_NO_MINOR = ""  # no minor mode for shmem (before 5.14): UFFDIO_REGISTER fails
UFFD_CLEAN = "clean"  # 5.14-5.15: the page-cache page is mapped R/O and clean
UFFD_DIRTY = "dirty"  # 9ae0f87d009c (5.16): mfill_atomic_install_pte() always sets dirty


class Rule:
    """Base class of every rule. Subclasses set the metadata and override hooks."""

    name: ClassVar[str] = "base"
    title: ClassVar[str] = ""
    kernels: ClassVar[str] = ""  # kernel versions the rule models
    commits: ClassVar[tuple[str, ...]] = ()  # "hash title" strings
    # Era features that change the state itself, not just decisions.
    uses_anon_exclusive: ClassVar[bool] = False  # PG_anon_exclusive + swp exclusive bit
    has_write_protect_seq: ClassVar[bool] = False  # fork brackets copy_page_range
    # FOLL_FORCE (FORCE_*) and userfaultfd (UFFD_*): the mechanism of the era.
    faultin_page_force: ClassVar[str] = FORCE_NOTHING
    uffd_minor_shmem: ClassVar[str] = UFFD_DIRTY
    # check_vma_flags(): writable FOLL_LONGTERM of a file mapping that needs dirty
    # tracking fails (8ac268436e6d, 6.5).
    refuses_dirty_tracked_longterm: ClassVar[bool] = False

    # (1) write fault -------------------------------------------------------------
    def do_wp_page(self, page: PageView, unshare: bool) -> WpDecision:
        """The reuse decision on a write (or FAULT_FLAG_UNSHARE) fault on a R/O PTE
        mapping an anonymous page. The zero page never reaches this hook: it is
        always copied (vm_normal_page() returns NULL for it)."""
        raise NotImplementedError

    # (3) GUP slow path -------------------------------------------------------------
    def gup_breaks_cow(self, flags: GupFlags) -> bool:
        """Whether a read GUP is treated as FOLL_WRITE to break COW (17839856fd58)."""
        return False

    def gup_must_unshare(self, flags: GupFlags, page: PageView, have_vma: bool) -> bool:
        """Whether a GUP on a R/O PTE must first trigger FAULT_FLAG_UNSHARE.
        ``have_vma`` is False on the gup-fast path."""
        return False

    # (4) gup-fast -------------------------------------------------------------------
    def gup_fast_checks_seq(self, flags: GupFlags) -> bool:
        """Whether gup-fast brackets its walk with mm->write_protect_seq."""
        return False

    # (2) fork ------------------------------------------------------------------------
    def fork_present(self, page: PageView, parent_has_pinned: bool) -> ForkDecision:
        """copy_present_pte(): share (and write-protect) or copy for the child."""
        return ForkDecision(False, "copy_present_pte: share, wrprotect")

    # (5) swapout ---------------------------------------------------------------------
    def swapout_add_to_swapcache(self, page: PageView) -> tuple[bool, str]:
        """shrink_page_list(): whether add_to_swap() goes ahead."""
        return True, "add_to_swap"

    def swapout_unmap(self, page: PageView) -> UnmapDecision:
        return UnmapDecision(True, "try_to_unmap_one: swap entry")

    # (6) swap-in ----------------------------------------------------------------------
    def do_swap_page(self, page: PageView, write: bool, pte_exclusive: bool) -> SwapinDecision:
        """``page.swapcount`` still counts the faulting swap PTE (as reuse_swap_page()
        sees it before swap_free())."""
        raise NotImplementedError

    # (7) clear_refs ---------------------------------------------------------------------
    def clear_refs_skips(self, page: PageView, has_pinned: bool) -> bool:
        """clear_soft_dirty(): leave a writable PTE alone (pte_is_pinned())."""
        return False

    # (8) FOLL_FORCE writes (/proc/PID/mem, ptrace) -------------------------------------
    def can_follow_write_pte(self, page: PageView, dirty: bool, foll_cow: bool) -> bool:
        """follow_page_pte(): may a FOLL_FORCE|FOLL_WRITE GUP use this R/O PTE of a COW
        mapping without VM_WRITE (the write already broke COW)? ``dirty`` is pte_dirty();
        ``foll_cow``: faultin_page() set FOLL_COW. The default is 5535be309971's (6.0):
        only an exclusive anonymous page, whatever the dirty bit says."""
        return page.anon and page.exclusive

    def describe(self) -> str:
        return f"{self.name}: {self.title} ({self.kernels})"
