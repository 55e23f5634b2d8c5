"""The classic mapcount rule (Linux <= 5.7 for base pages).

do_wp_page() takes the page lock (sleeping for it) and reuses the page iff
reuse_swap_page(): mapcount + swapcount <= 1 [v5.7 do_wp_page()]. GUP references
are invisible to the decision, so:
- a R/O GUP keeps a reference on whatever is mapped, with no COW break: the root of
  CVE-2020-29374 (missed COW);
- fork write-protects and shares a pinned page like any other: the DMA target becomes
  COW-shared (O_DIRECT, RDMA, io_uring fixed buffers); MADV_DONTFORK (f822566165dd,
  v2.6.16) was the workaround;
- clear_refs, mprotect and swap are harmless: an exclusive page is always reused.
gup-fast has no write_protect_seq (it came in 5.11). swap-in reuses through
reuse_swap_page() too [v5.7 do_swap_page()].

FOLL_FORCE (a write to /proc/PID/mem): 19be0eaffa3a (v4.9, the Dirty COW fix) keeps
FOLL_WRITE; faultin_page() sets FOLL_COW after a write fault that broke COW in a vma
without VM_WRITE, and follow_page_pte() then takes the R/O PTE only if it is dirty
(can_follow_write_pte()). Up to 4.8 see mapcount-4.8. No userfaultfd minor mode.

Modelled: base pages only; the THP (page_trans_huge_mapcount) and KSM branches are
later issues.
"""

from cowcheck.mm.rule import FORCE_FOLL_COW, UFFD_NO_MINOR, PageView, Rule, SwapinDecision, WpDecision
from cowcheck.mm.swapfile import do_swap_page_reuse, reuse_swap_page


class Mapcount(Rule):
    name = "mapcount"
    title = "reuse iff mapcount + swapcount <= 1 (reuse_swap_page)"
    kernels = "v4.9 - v5.7 (base pages); THP and swap-in until v5.17"
    commits = (
        "c475a8ab625d can_share_swap_page: use page_mapcount",
        "f822566165dd [PATCH] madvise MADV_DONTFORK/MADV_DOFORK",
        "19be0eaffa3a mm: remove gup_flags FOLL_WRITE games from __get_user_pages()",
    )
    faultin_page_force = FORCE_FOLL_COW
    uffd_minor_shmem = UFFD_NO_MINOR

    # The decision below as a formula, for `cowcheck compare` (tests/test_compare.py).
    WP_REUSE = "not locked and mapcount + swapcount <= 1"

    def do_wp_page(self, page: PageView, unshare: bool) -> WpDecision:
        if page.locked:
            return WpDecision(False, "do_wp_page: lock_page() sleeps", wait_lock=True)
        reuse, drop, note = reuse_swap_page(page)
        return WpDecision(reuse, f"do_wp_page: {note}", free_swapcache=drop)

    def do_swap_page(self, page: PageView, write: bool, pte_exclusive: bool) -> SwapinDecision:
        return do_swap_page_reuse(page, write)

    def can_follow_write_pte(self, page: PageView, dirty: bool, foll_cow: bool) -> bool:
        # 19be0eaffa3a: pte_write(pte) || ((flags & FOLL_FORCE) && (flags & FOLL_COW) && pte_dirty(pte))
        return foll_cow and dirty


RULE = Mapcount()
