"""PageAnonExclusive before the FOLL_FORCE fix: Linux 5.19.0 to 5.19.5.

anon-exclusive-6.1 as far as anonymous pages go, with FOLL_FORCE as it was from
19be0eaffa3a (v4.9) until 5535be309971 (v6.0-rc3, backported to 5.19.6): faultin_page()
sets FOLL_COW after a write fault that broke COW without VM_WRITE, and follow_page_pte()
takes a R/O PTE if it is dirty. With UFFDIO_CONTINUE mapping a shmem page-cache page
R/O and dirty (9ae0f87d009c, v5.16) that is CVE-2022-2590, which 5535be309971 closed by
trusting only exclusive anonymous pages. (088b8aa537c2 is 6.1's, not 5.19's; the
sequentially consistent model cannot tell the difference, see anon-exclusive-6.1.)
"""

from cowcheck.mm.rule import FORCE_FOLL_COW, PageView
from cowcheck.rules import rule_class


class AnonExclusive519(rule_class("anon-exclusive-6.1")):  # type: ignore[misc]
    name = "anon-exclusive-5.19"
    title = "PageAnonExclusive as of 5.19.0-5.19.5: FOLL_COW still trusts a dirty R/O PTE"
    kernels = "v5.19 - v5.19.5"
    commits = (
        "6c287605fd56 mm: remember exclusively mapped anonymous pages with PG_anon_exclusive",
        "fb3d824d1a46 mm/rmap: split page_dup_rmap() into page_dup_file_rmap() and page_try_dup_anon_rmap()",
        "a7f226604170 mm/gup: trigger FAULT_FLAG_UNSHARE when R/O-pinning a possibly shared anonymous page",
        "1493a1913e34 mm/swap: remember PG_anon_exclusive via a swp pte bit",
        "9ae0f87d009c mm/shmem: unconditionally set pte dirty in mfill_atomic_install_pte",
    )
    faultin_page_force = FORCE_FOLL_COW

    def can_follow_write_pte(self, page: PageView, dirty: bool, foll_cow: bool) -> bool:
        # pte_write(pte) || ((flags & FOLL_FORCE) && (flags & FOLL_COW) && pte_dirty(pte))
        return foll_cow and dirty


RULE = AnonExclusive519()
