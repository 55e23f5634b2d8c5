"""Andrea Arcangeli's unmerged alternative: mapcount reuse restored, with
copy-on-read (COR) unsharing for R/O long-term pins.

"[PATCH 1/1] mm: restore full accuracy in COW page reuse"
<20210110004435.26382-2-aarcange@redhat.com> (9 Jan 2021) reverts 09854ba94c6a,
be068f29034f and 1a0cf26323c8: do_wp_page() reuses iff reuse_swap_page()
(mapcount + swapcount <= 1), so GUP references never force a copy and clear_refs,
mprotect and swap cannot lose a DMA (odirect-clear-refs, odirect-swap).

The aa.git tree adds (titles checked on kernel.googlesource.com):
- 63e087ffb825 "mm: gup: COR: copy-on-read fault": FAULT_FLAG_UNSHARE, a fault that
  unshares a write-protected COW-shared page and keeps it R/O;
- d5b1aa9a145f "mm: gup: introduce FOLL_MM_SYNC and FAULT_FLAG_MM_SYNC": "MM
  coherency to readonly long term pins ... obsoletes the need for
  FOLL_FORCE|FOLL_WRITE". Modelled as: a R/O FOLL_LONGTERM GUP (FOLL_GET or
  FOLL_PIN) is a FOLL_MM_SYNC one. Since it replaces FOLL_FORCE|FOLL_WRITE, which
  broke COW on the zero page too, the zero page is unshared as well [M: the exact
  zero-page handling of the tree is not re-checked];
- 143fc197abb1 "handle FOLL_MM_SYNC in can_read_pin_swap_page()": the page needs COR
  unless mapcount + swapcount <= 1, the same count reuse_swap_page() uses.
The tree is based on 5.11-rc, so it keeps 70e806e4e645 (copy pinned pages at fork)
and 57efa1fe5957 (write_protect_seq); the patch does not revert them. It does not
need 9348b73c2e1b or feb889fb40fa: with mapcount reuse a write-protected pinned page
is reused on the next write fault.

Short-term R/O GUP (vmsplice's FOLL_GET) gets no COR: Andrea's 0/2 mail
<20210107200402.31095-1-aarcange@redhat.com> argues vmsplice, an unprivileged
long-term pin, is the real culprit of CVE-2020-29374 and should be fixed there. As
modelled, vmsplice is a FOLL_GET short-term GUP, so CVE-2020-29374 stays under this
rule (vmsplice-child).
"""

from cowcheck.mm.rule import GupFlags, PageView
from cowcheck.rules import rule_class


class MapcountCor(rule_class("mapcount")):  # type: ignore[misc]
    name = "mapcount-cor"
    title = "mapcount reuse; R/O long-term GUP unshares COW-shared pages first (COR)"
    kernels = "proposal (aa.git, Jan 2021, on 5.11-rc); never merged"
    commits = (
        "63e087ffb825 mm: gup: COR: copy-on-read fault",
        "d5b1aa9a145f mm: gup: introduce FOLL_MM_SYNC and FAULT_FLAG_MM_SYNC",
        "143fc197abb1 mm: gup: FOLL_MM_SYNC: handle FOLL_MM_SYNC in can_read_pin_swap_page()",
        "70e806e4e645 mm: Do early cow for pinned pages during fork() for ptes",
        "57efa1fe5957 mm/gup: prevent gup_fast from racing with COW during fork",
    )
    has_write_protect_seq = True

    def gup_must_unshare(self, flags: GupFlags, page: PageView, have_vma: bool) -> bool:
        if flags.write or not flags.longterm:
            return False  # only FOLL_MM_SYNC (R/O long-term) callers ask for coherency
        # Not anonymous (the zero page, a page-cache page): FOLL_FORCE|FOLL_WRITE, which
        # FOLL_MM_SYNC replaces, broke COW on those too [M: not re-checked in the tree].
        return not page.anon or page.mapcount + page.swapcount > 1

    def gup_fast_checks_seq(self, flags: GupFlags) -> bool:
        return flags.pin

    # 70e806e4e645, kept by the tree: the same decision as page-count's.
    fork_present = rule_class("page-count").fork_present


RULE = MapcountCor()
