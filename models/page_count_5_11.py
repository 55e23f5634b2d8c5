"""The page_count rule with the 5.11 fixes.

On top of ``page-count`` (5.9):
- 57efa1fe5957 "mm/gup: prevent gup_fast from racing with COW during fork" (v5.11-rc1,
  in 5.10.y): copy_page_range() brackets the copy with src_mm->write_protect_seq;
  FOLL_PIN gup-fast reads it first (odd -> slow path) and re-checks it after taking
  the reference [5.10 lockless_pages_from_mm()]. FOLL_GET gup-fast does not.
- 9348b73c2e1b "mm: don't play games with pinned pages in clear_page_refs"
  (v5.11-rc4): clear_soft_dirty() leaves a PTE writable when pte_is_pinned():
  pte_write && is_cow_mapping && mm->has_pinned && page_maybe_dma_pinned().
  FOLL_GET references are not pins: the O_DIRECT race under clear_refs stays for
  O_DIRECT done with FOLL_GET (odirect-clear-refs).
- feb889fb40fa "mm: don't put pinned pages into the swap cache" (v5.11-rc4):
  shrink_page_list() keeps a page that is page_maybe_dma_pinned() and not yet in the
  swapcache. The check is made once, before add_to_swap(): a pin taken after it
  races with try_to_unmap() (pin-vs-swapout; David Hildenbrand
  <3ae33b08-d9ef-f846-56fb-645e3b9b4c66@redhat.com>, section 3).
No pinned-page skip was ever added for mprotect or uffd-wp ("for mprotect and uffd-wp,
definitely the above approach wouldn't work", Andrea Arcangeli <X/prosulFrEoNnoF@redhat.com>):
odirect-mprotect stays broken in every page_count era.

userfaultfd minor mode for shmem came in 5.14; until 5.15 UFFDIO_CONTINUE maps the
page-cache page clean, so FOLL_COW's dirty test refuses it (5.11-5.13 cannot register
at all, which ends the same way). page-count-5.16 is this rule with 9ae0f87d009c.
"""

from cowcheck.mm.rule import UFFD_CLEAN, GupFlags, PageView
from cowcheck.rules import rule_class


class PageCount511(rule_class("page-count")):  # type: ignore[misc]
    name = "page-count-5.11"
    title = "page_count == 1, plus write_protect_seq, clear_refs and swapcache skip pinned pages"
    kernels = "v5.11 - v5.15"
    commits = (
        "09854ba94c6a mm: do_wp_page() simplification",
        "70e806e4e645 mm: Do early cow for pinned pages during fork() for ptes",
        "57efa1fe5957 mm/gup: prevent gup_fast from racing with COW during fork",
        "9348b73c2e1b mm: don't play games with pinned pages in clear_page_refs",
        "feb889fb40fa mm: don't put pinned pages into the swap cache",
    )
    has_write_protect_seq = True
    uffd_minor_shmem = UFFD_CLEAN

    def gup_fast_checks_seq(self, flags: GupFlags) -> bool:
        return flags.pin

    def clear_refs_skips(self, page: PageView, has_pinned: bool) -> bool:
        return has_pinned and page.maybe_dma_pinned

    def swapout_add_to_swapcache(self, page: PageView) -> tuple[bool, str]:
        if page.maybe_dma_pinned:
            return False, "shrink_page_list: page_maybe_dma_pinned() -> keep_locked"
        return True, "add_to_swap"


RULE = PageCount511()
