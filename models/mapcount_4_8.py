"""The mapcount rule before the Dirty COW fix: Linux <= 4.8.

Anonymous memory behaves as under ``mapcount``. The difference is FOLL_FORCE: after a
write fault that broke COW (VM_FAULT_WRITE) in a vma without VM_WRITE, faultin_page()
drops FOLL_WRITE, "so that the next follow_page_mask() does not loop"; the retry then
only reads, and follow_page_pte() returns whatever the PTE maps by then. If another
thread zaps the COWed page in between (MADV_DONTNEED), the retry's read fault maps the
page-cache page (do_read_fault()) or the zero page (do_anonymous_page()), and the
write to /proc/PID/mem lands there: Dirty COW, CVE-2016-5195. The FOLL_WRITE drop came
back with f33ea7f404e5 ("fix get_user_pages bug", 2.6.13) after 4ceb5db9757a had tried
to fix the race; 19be0eaffa3a (v4.9) replaced it with FOLL_COW.
"""

from cowcheck.mm.rule import FORCE_DROP_WRITE, PageView
from cowcheck.rules import rule_class


class Mapcount48(rule_class("mapcount")):  # type: ignore[misc]
    name = "mapcount-4.8"
    title = "mapcount reuse; FOLL_FORCE drops FOLL_WRITE after breaking COW (Dirty COW)"
    kernels = "<= v4.8"
    commits = (
        "c475a8ab625d can_share_swap_page: use page_mapcount",
        "f822566165dd [PATCH] madvise MADV_DONTFORK/MADV_DOFORK",
        "f33ea7f404e5 fix get_user_pages bug",
    )
    faultin_page_force = FORCE_DROP_WRITE

    def can_follow_write_pte(self, page: PageView, dirty: bool, foll_cow: bool) -> bool:
        # follow_page_pte(): "if ((flags & FOLL_WRITE) && !pte_write(pte))" -> NULL.
        return False


RULE = Mapcount48()
