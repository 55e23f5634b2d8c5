"""The page_count rule as merged for Linux 5.9.

09854ba94c6a "mm: do_wp_page() simplification" (Linus, v5.9): an anonymous page is
reused only if page_count == 1, after a successful trylock_page() and mapcount == 1
[v5.10.13 do_wp_page()]. Any extra reference forces a copy: GUP (FOLL_GET and
FOLL_PIN alike), the swapcache, reclaim's isolation reference, speculative references.

fork: 70e806e4e645 "mm: Do early cow for pinned pages during fork() for ptes"
(Peter Xu, v5.9): with mm->has_pinned and page_maybe_dma_pinned(), the child gets a
copy at once and the parent keeps its writable page [v5.10 copy_present_page()].

This is the 5.9 level: none of the 5.11 fixes (57efa1fe5957 write_protect_seq in
gup-fast, 9348b73c2e1b clear_refs skipping pinned pages, feb889fb40fa swapcache
skipping pinned pages). swap-in still uses reuse_swap_page() [v5.10 do_swap_page()].
Also merged with it: a308c71bf1e6 (gup-breaks-cow's forced COW on GUP removed) and
1a0cf26323c8 (reuse_ksm_page() removed; KSM is not modelled).

FOLL_FORCE: FOLL_COW and the dirty bit, as since 19be0eaffa3a (v4.9); a308c71bf1e6
restored the FOLL_FORCE test that 5.8 dropped. No userfaultfd minor mode yet.
"""

from cowcheck.mm.rule import FORCE_FOLL_COW, UFFD_NO_MINOR, ForkDecision, PageView, Rule, SwapinDecision, WpDecision
from cowcheck.mm.swapfile import do_swap_page_reuse


class PageCount(Rule):
    name = "page-count"
    title = "reuse iff page_count == 1 (do_wp_page() simplification)"
    kernels = "v5.9 - v5.10 (before the 5.11 fixes)"
    commits = (
        "09854ba94c6a mm: do_wp_page() simplification",
        "70e806e4e645 mm: Do early cow for pinned pages during fork() for ptes",
        "a308c71bf1e6 mm/gup: Remove enfornced COW mechanism",
    )

    # The decision below as a formula, for `cowcheck compare` (tests/test_compare.py).
    WP_REUSE = "refcount == 1 and not locked and mapcount == 1"

    def do_wp_page(self, page: PageView, unshare: bool) -> WpDecision:
        rc, mc = page.refcount, page.mapcount
        if rc != 1:
            return WpDecision(False, f"do_wp_page: page_count {rc} != 1 -> wp_page_copy")
        if page.locked:
            return WpDecision(False, "do_wp_page: trylock_page() fails -> wp_page_copy")
        if mc != 1:
            return WpDecision(False, f"do_wp_page: page_mapcount {mc} != 1 -> wp_page_copy")
        return WpDecision(True, "do_wp_page: page_count 1, mapcount 1 -> wp_page_reuse")

    def fork_present(self, page: PageView, parent_has_pinned: bool) -> ForkDecision:
        if parent_has_pinned and page.maybe_dma_pinned:
            return ForkDecision(True, "copy_present_page: has_pinned && page_maybe_dma_pinned -> copy for child")
        return ForkDecision(False, "copy_present_pte: !page_maybe_dma_pinned() -> share")

    faultin_page_force = FORCE_FOLL_COW
    uffd_minor_shmem = UFFD_NO_MINOR

    def can_follow_write_pte(self, page: PageView, dirty: bool, foll_cow: bool) -> bool:
        # pte_write(pte) || ((flags & FOLL_FORCE) && (flags & FOLL_COW) && pte_dirty(pte))
        return foll_cow and dirty

    def do_swap_page(self, page: PageView, write: bool, pte_exclusive: bool) -> SwapinDecision:
        return do_swap_page_reuse(page, write)


RULE = PageCount()
