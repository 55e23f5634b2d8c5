"""The page_count rule with "COW fixes part 1" (David Hildenbrand, v5.18).

On top of ``page-count-5.11``:
- 53a05ad9f21d "mm: optimize do_wp_page() for exclusive pages in the swapcache":
  refcount > 3 or > 1 + PageSwapCache -> copy; trylock_page() fails -> copy;
  try_to_free_swap(); reuse iff page_count == 1. The mapcount test is gone.
  d4c470970d45 (lru_add_drain() for pages not on the LRU) has nothing to drain here:
  the model has no LRU pagevec references.
- c145e0b47c77 "mm: streamline COW logic in do_swap_page()": swap_free() first, then
  should_try_to_free_swap() (write fault, page_count == 2); a write fault maps the
  page writable iff it is not the swapcache page or page_count == 1. This replaces
  reuse_swap_page(), which counted only mapcount + swapcount and let CVE-2020-29374
  through swap-in (vmsplice-child-swap).
The shared code is in cowcheck/mm/wp_reuse.py, where PageAnonExclusive reuses it.
UFFDIO_CONTINUE maps R/O and dirty, as since 5.16 (page-count-5.16): CVE-2022-2590.
"""

from cowcheck.mm.rule import UFFD_DIRTY, PageView, SwapinDecision, WpDecision
from cowcheck.mm.wp_reuse import do_swap_page_streamlined, wp_can_reuse_anon
from cowcheck.rules import rule_class


class PageCount518(rule_class("page-count-5.11")):  # type: ignore[misc]
    name = "page-count-5.18"
    title = "page_count == 1 after freeing the swapcache; do_swap_page() by refcount"
    kernels = "v5.18"
    uffd_minor_shmem = UFFD_DIRTY
    commits = (
        "53a05ad9f21d mm: optimize do_wp_page() for exclusive pages in the swapcache",
        "c145e0b47c77 mm: streamline COW logic in do_swap_page()",
        "57efa1fe5957 mm/gup: prevent gup_fast from racing with COW during fork",
        "9348b73c2e1b mm: don't play games with pinned pages in clear_page_refs",
        "feb889fb40fa mm: don't put pinned pages into the swap cache",
        "9ae0f87d009c mm/shmem: unconditionally set pte dirty in mfill_atomic_install_pte",
    )

    # The decision below as a formula, for `cowcheck compare` (tests/test_compare.py):
    # the refcount once try_to_free_swap() has dropped a swapcache with no entry left.
    WP_REUSE = (
        "not locked and ((not swapcache and refcount == 1)"
        " or (swapcache and swapcount == 0 and refcount == 2)"
        " or (swapcache and swapcount > 0 and refcount == 1))"
    )

    def do_wp_page(self, page: PageView, unshare: bool) -> WpDecision:
        return wp_can_reuse_anon(page, "do_wp_page")

    def do_swap_page(self, page: PageView, write: bool, pte_exclusive: bool) -> SwapinDecision:
        return do_swap_page_streamlined(page, write, False, anon_exclusive=False)


RULE = PageCount518()
