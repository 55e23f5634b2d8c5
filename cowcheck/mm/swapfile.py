"""reuse_swap_page() (mm/swapfile.c, until its removal in 5.18), shared by the eras
that used it: every fault path of the mapcount rule, and do_swap_page() of the
page_count rule up to 5.17."""

from __future__ import annotations

from cowcheck.mm.rule import PageView, SwapinDecision


def reuse_swap_page(page: PageView) -> tuple[bool, bool, str]:
    """Returns (reuse, delete_from_swap_cache, note).

    Under the page lock: reuse iff mapcount + swapcount <= 1; with a count of exactly
    one and the page in the swapcache, the swapcache copy is dropped ("The remaining
    swap count will be freed soon"). Writeback is not modelled, so that always happens.
    """
    count = page.mapcount + page.swapcount
    reuse = count <= 1
    drop = reuse and page.swapcache and count == 1
    what = "reuse" if reuse else "copy"
    note = f"reuse_swap_page: mapcount {page.mapcount} + swapcount {page.swapcount} = {count} -> {what}"
    return reuse, drop, note


def do_swap_page_reuse(page: PageView, write: bool) -> SwapinDecision:
    """do_swap_page() before 5.18 (c145e0b47c77): on a write fault, reuse_swap_page()
    decides whether the page is mapped writable and exclusive; a read fault maps R/O."""
    if not write:
        return SwapinDecision(False, False, "do_swap_page: read fault -> map R/O")
    reuse, drop, note = reuse_swap_page(page)
    return SwapinDecision(reuse, reuse, f"do_swap_page: {note}", drop)
