"""The refcount-based reuse tests of "COW fixes part 1" (v5.18), shared by the eras
that have them: page-count at the 5.18 level, and PageAnonExclusive for pages that
are not (yet) marked exclusive."""

from __future__ import annotations

from cowcheck.mm.rule import PageView, SwapinDecision, WpDecision


def wp_can_reuse_anon(page: PageView, where: str) -> WpDecision:
    """do_wp_page() after 53a05ad9f21d (v5.18), later factored into
    wp_can_reuse_anon_folio(): refcount > 3 or > 1 + swapcache -> copy; trylock
    fails -> copy; try_to_free_swap() when no swap entry uses the slot; reuse iff
    the refcount is then 1. ``lru_add_drain()`` (d4c470970d45) is implicit: the model
    has no LRU pagevec references."""
    rc = page.refcount
    if rc > 3 or rc > 1 + int(page.swapcache):
        return WpDecision(False, f"{where}: refcount {rc} -> wp_page_copy")
    if page.locked:
        return WpDecision(False, f"{where}: trylock fails -> wp_page_copy")
    free = page.swapcache and page.swapcount == 0
    if free:
        rc -= 1  # try_to_free_swap() / folio_free_swap()
    if rc != 1:
        return WpDecision(False, f"{where}: refcount {rc} != 1 -> wp_page_copy")
    return WpDecision(True, f"{where}: refcount 1 -> reuse", free_swapcache=free)


def do_swap_page_streamlined(page: PageView, write: bool, pte_exclusive: bool, anon_exclusive: bool) -> SwapinDecision:
    """do_swap_page() after c145e0b47c77 (v5.18): swap_free() first; then
    should_try_to_free_swap() (a write fault, and only we and the swapcache hold the
    page; try_to_free_swap() needs no swap entry left); map exclusive iff the swap
    PTE was exclusive (1493a1913e34, 5.19) or the refcount is then 1. Without
    PG_anon_exclusive (5.18) only a write fault maps the page exclusive and writable;
    with it (5.19+) a read fault maps it exclusive too, writable if VM_WRITE."""
    rc = page.refcount
    free = page.swapcache and write and rc == 2 and page.swapcount - 1 == 0
    if free:
        rc -= 1
    exclusive = pte_exclusive or rc == 1
    if not write and not anon_exclusive:
        return SwapinDecision(False, False, "do_swap_page: read fault -> map R/O", free)
    why = "pte_swp_exclusive" if pte_exclusive else f"refcount {rc}"
    what = "RMAP_EXCLUSIVE, writable" if exclusive else "shared, R/O"
    return SwapinDecision(exclusive, exclusive, f"do_swap_page: {why} -> {what}", free)
