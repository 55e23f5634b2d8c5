"""Break COW on every GUP (Linux 5.8).

17839856fd58 "gup: document and work around 'COW can break either way' issue"
(Linus, v5.8-rc1): ``should_force_cow_break()`` is ``is_cow_mapping(vma->vm_flags)
&& (flags & (FOLL_GET | FOLL_PIN))`` in mainline 5.8, so every GUP on a private
mapping, read or write, runs as FOLL_WRITE and breaks COW first; gup-fast walks with
``gup_flags | FOLL_WRITE`` and so takes only PTEs that are already writable
[the 5.8 text of should_force_cow_break(); the FOLL_GET-only form is the 5.4.y
backport's, before FOLL_PIN existed].
The write-fault rule stays ``mapcount``'s (reuse_swap_page()): a R/O GUP now gets its
own page, which closes CVE-2020-29374 for base pages, but fork still shares pinned
pages (O_DIRECT, io_uring fixed buffers), and a GUP reference taken before fork is not
broken by anything (vmsplice-before-fork).

Removed in v5.9 by a308c71bf1e6 "mm/gup: Remove enfornced COW mechanism" together
with the page_count rule. Its side effects (the zero page turned into real COW
copies, uffd-wp, ptrace on pmem) are listed in David Hildenbrand's "Summary of COW
(Copy On Write) Related Issues in Upstream Linux"
<3ae33b08-d9ef-f846-56fb-645e3b9b4c66@redhat.com>.
"""

from cowcheck.mm.rule import GupFlags
from cowcheck.rules import rule_class


class GupBreaksCow(rule_class("mapcount")):  # type: ignore[misc]
    name = "gup-breaks-cow"
    title = "every GUP on a COW mapping breaks COW first; write fault as mapcount"
    kernels = "v5.8 (and 5.7.3, 5.4.y backports)"
    commits = (
        "17839856fd58 gup: document and work around 'COW can break either way' issue",
        "c475a8ab625d can_share_swap_page: use page_mapcount",
    )

    def gup_breaks_cow(self, flags: GupFlags) -> bool:
        return True  # is_cow_mapping(): mm/gup.py asks only for private mappings


RULE = GupBreaksCow()
