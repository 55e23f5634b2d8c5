"""PageAnonExclusive: "mm: COW fixes part 2: reliable GUP pins of anonymous pages"
(David Hildenbrand, <20220329160440.193848-1-david@redhat.com>, merged for v5.19), at the
level of mainline for the hooks modelled here.

- do_wp_page(): an exclusive page is reused at once; otherwise the 5.18 checks that
  later kernels factored into wp_can_reuse_anon_folio() (cowcheck/mm/wp_reuse.py)
  [5.19 do_wp_page()].
- GUP may only pin exclusive anonymous pages: a R/O pin of a R/O-mapped page that is
  not exclusive triggers FAULT_FLAG_UNSHARE (c89357e27f20, a7f226604170). For the
  shared zero page and page-cache pages (not anon), a R/O FOLL_LONGTERM pin in a COW
  mapping unshares too (84209e87c696, v6.2): without it the pin and the mapping
  diverge on the next write. Shared mappings are not COW mappings: nothing unshares.
- FOLL_FORCE (5535be309971, v6.0 and 5.19.6): no FOLL_COW; can_follow_write_pte()
  takes a R/O PTE in a private mapping without VM_WRITE only if it maps an exclusive
  anonymous page (the rule's default). The soft-dirty and uffd-wp tests are not
  modelled (neither is), they only make the write fault once more.
- UFFDIO_CONTINUE maps R/O and dirty (9ae0f87d009c, 5.16): harmless now.
- check_vma_flags() refuses writable FOLL_LONGTERM GUP of a shared mapping of a file
  that needs dirty tracking (8ac268436e6d, v6.5; gup-fast falls back, a6e79df92e4a).
  6.2-6.4 are this rule without it: on the longterm-shared-file rows they answer as
  anon-exclusive-6.1 does, everywhere else as this rule.
- fork: folio_try_dup_anon_rmap() fails for an exclusive, maybe-pinned page with
  MMF_HAS_PINNED, which is then copied for the child; otherwise the exclusive bit is
  cleared and the page shared (fb3d824d1a46). An exclusive swap entry is marked shared.
- gup-fast: write_protect_seq for pins (57efa1fe5957); after the PTE re-check, put
  and fall back if gup_must_unshare() (a7f226604170).
- swapout: shrink_folio_list() does not add maybe-pinned pages to the swapcache
  (feb889fb40fa; mainline still has "if (folio_maybe_dma_pinned(folio)) goto
  keep_locked;"); try_to_unmap_one() backs off when folio_try_share_anon_rmap_pte()
  fails and otherwise remembers the exclusive bit in the swap PTE (1493a1913e34).
- swap-in: exclusive iff the swap PTE was exclusive or refcount == 1 after
  should_try_to_free_swap() (c145e0b47c77 and 5.19); mapped writable if VM_WRITE.
- clear_refs: pte_is_pinned() still skips pinned pages (9348b73c2e1b).

This is the mainline level (v6.5+). ``anon-exclusive-6.1`` is the same rule without
84209e87c696 and 8ac268436e6d; ``anon-exclusive-5.19`` still has FOLL_COW. The model
is sequentially consistent: see that file for what the memory-ordering fix
088b8aa537c2 (v6.1) means here.
"""

from cowcheck.mm.rule import (
    ForkDecision,
    GupFlags,
    PageView,
    Rule,
    SwapinDecision,
    UnmapDecision,
    WpDecision,
)
from cowcheck.mm.wp_reuse import do_swap_page_streamlined, wp_can_reuse_anon


class AnonExclusive(Rule):
    name = "anon-exclusive"
    title = "PageAnonExclusive: exclusive pages are reused, shared ones copied; GUP pins only exclusive pages"
    kernels = "v6.5+ (mainline; PAE since v5.19; 6.2-6.4 lack only 8ac268436e6d)"
    commits = (
        "6c287605fd56 mm: remember exclusively mapped anonymous pages with PG_anon_exclusive",
        "fb3d824d1a46 mm/rmap: split page_dup_rmap() into page_dup_file_rmap() and page_try_dup_anon_rmap()",
        "c89357e27f20 mm: support GUP-triggered unsharing of anonymous pages",
        "a7f226604170 mm/gup: trigger FAULT_FLAG_UNSHARE when R/O-pinning a possibly shared anonymous page",
        "1493a1913e34 mm/swap: remember PG_anon_exclusive via a swp pte bit",
        "84209e87c696 mm/gup: reliable R/O long-term pinning in COW mappings",
        "5535be309971 mm/gup: fix FOLL_FORCE COW security issue and remove FOLL_COW",
        "8ac268436e6d mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings",
    )
    uses_anon_exclusive = True
    refuses_dirty_tracked_longterm = True
    has_write_protect_seq = True

    # The decision below as a formula, for `cowcheck compare` (tests/test_compare.py).
    WP_REUSE = (
        "exclusive or (not locked and ((not swapcache and refcount == 1)"
        " or (swapcache and swapcount == 0 and refcount == 2)"
        " or (swapcache and swapcount > 0 and refcount == 1)))"
    )

    def do_wp_page(self, page: PageView, unshare: bool) -> WpDecision:
        if page.exclusive:
            what = "nothing to unshare" if unshare else "wp_page_reuse"
            return WpDecision(True, f"do_wp_page: PageAnonExclusive -> {what}")
        return wp_can_reuse_anon(page, "wp_can_reuse_anon_folio")

    def gup_must_unshare(self, flags: GupFlags, page: PageView, have_vma: bool) -> bool:
        if not flags.pin or flags.write:
            return False
        if not page.anon:
            # The zero page or a page-cache page: only R/O long-term pins, in COW
            # mappings (the caller asks only there; without a vma, gup-fast assumes so).
            return flags.longterm
        return not page.exclusive

    def gup_fast_checks_seq(self, flags: GupFlags) -> bool:
        return flags.pin

    def fork_present(self, page: PageView, parent_has_pinned: bool) -> ForkDecision:
        if page.exclusive and parent_has_pinned and page.maybe_dma_pinned:
            return ForkDecision(
                True, "folio_try_dup_anon_rmap_pte: -EBUSY (maybe pinned) -> copy_present_page for child"
            )
        return ForkDecision(False, "folio_try_dup_anon_rmap_pte: ClearPageAnonExclusive, share, wrprotect")

    def swapout_add_to_swapcache(self, page: PageView) -> tuple[bool, str]:
        if page.maybe_dma_pinned:
            return False, "shrink_folio_list: folio_maybe_dma_pinned() -> keep"
        return True, "add_to_swap"

    def swapout_unmap(self, page: PageView) -> UnmapDecision:
        if page.exclusive and page.maybe_dma_pinned:
            return UnmapDecision(
                False,
                "try_to_unmap_one: folio_try_share_anon_rmap_pte() fails (maybe pinned) -> restore PTE, abort",
            )
        return UnmapDecision(True, "try_to_unmap_one: swap entry")

    def do_swap_page(self, page: PageView, write: bool, pte_exclusive: bool) -> SwapinDecision:
        return do_swap_page_streamlined(page, write, pte_exclusive, anon_exclusive=True)

    def clear_refs_skips(self, page: PageView, has_pinned: bool) -> bool:
        return has_pinned and page.maybe_dma_pinned


RULE = AnonExclusive()
