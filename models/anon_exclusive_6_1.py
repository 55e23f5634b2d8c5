"""PageAnonExclusive at the v6.1 level: ``anon-exclusive`` without 84209e87c696.

Everything of the 5.19 series (see models/anon_exclusive.py) plus 088b8aa537c2
"mm: fix PageAnonExclusive clearing racing with concurrent RCU GUP-fast" (v6.1): the
barrier protocol, documented in page_try_share_anon_rmap() in include/linux/rmap.h
(now __folio_try_share_anon_rmap()), between a path that clears PG_anon_exclusive
(clear/invalidate the PTE, smp_mb, back off if maybe pinned, ClearPageAnonExclusive,
smp_mb__after_atomic, restore a R/O PTE) and gup-fast (read the PTE, pin, re-read the
PTE, back off unless exclusive).

The model is sequentially consistent. Every step is atomic and every load sees the
latest store, so the barriers are implicit and this rule behaves exactly like 5.19:
- it can show the protocol's logic: a pin that lands before try_to_unmap_one()'s
  check makes it back off, a pin after it fails gup-fast's PTE re-check, and a
  gup-fast that grabs a page fork has just shared fails the write_protect_seq or
  PageAnonExclusive re-check (gup-fast-fork, pin-vs-swapout);
- it cannot show the 5.19-6.0 race that 088b8aa537c2 fixed: gup-fast's pin and reclaim's
  clear of PG_anon_exclusive both passing because each reads a stale value of the
  other's store (a store-buffering outcome), nor KSM's identical-PTE corner case
  (KSM is not modelled). Those need a weak-memory model (herd7 litmus tests over
  the kernel's tools/memory-model).

What 6.1 lacks is 84209e87c696 (v6.2): a R/O FOLL_LONGTERM pin of the shared zero
page or of a page-cache page in a private mapping (not anonymous, so
gup_must_unshare() says no) is taken as is, and the next write fault replaces it under
the pin: pin and mapping diverge. It lacks 8ac268436e6d (v6.5) as well: writable
long-term pins of shared ext4 mappings are taken. FOLL_FORCE is 5535be309971's: the
rule covers 5.19.6 (the fix's backport) to 6.1; 5.19.0-5.19.5 are anon-exclusive-5.19.
Before 6.2 the documented way to get a reliable R/O long-term pin was
FOLL_FORCE|FOLL_WRITE; the catalog's ro-longterm-zeropage shows the gap.
"""

from cowcheck.mm.rule import GupFlags, PageView
from cowcheck.rules import rule_class


class AnonExclusive61(rule_class("anon-exclusive")):  # type: ignore[misc]
    name = "anon-exclusive-6.1"
    title = "PageAnonExclusive as of 5.19-6.1: GUP pins only exclusive anonymous pages"
    kernels = "v5.19.6 - v6.1 (identical under sequential consistency)"
    commits = (
        "6c287605fd56 mm: remember exclusively mapped anonymous pages with PG_anon_exclusive",
        "fb3d824d1a46 mm/rmap: split page_dup_rmap() into page_dup_file_rmap() and page_try_dup_anon_rmap()",
        "a7f226604170 mm/gup: trigger FAULT_FLAG_UNSHARE when R/O-pinning a possibly shared anonymous page",
        "1493a1913e34 mm/swap: remember PG_anon_exclusive via a swp pte bit",
        "088b8aa537c2 mm: fix PageAnonExclusive clearing racing with concurrent RCU GUP-fast",
        "5535be309971 mm/gup: fix FOLL_FORCE COW security issue and remove FOLL_COW",
    )
    refuses_dirty_tracked_longterm = False  # 8ac268436e6d is 6.5

    def gup_must_unshare(self, flags: GupFlags, page: PageView, have_vma: bool) -> bool:
        if not page.anon:
            return False  # 5.19-6.1 gup_must_unshare(): "if (!PageAnon(page)) return false;"
        return bool(super().gup_must_unshare(flags, page, have_vma))


RULE = AnonExclusive61()
