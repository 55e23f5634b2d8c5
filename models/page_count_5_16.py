"""page-count-5.11 with 9ae0f87d009c "mm/shmem: unconditionally set pte dirty in
mfill_atomic_install_pte" (v5.16): UFFDIO_CONTINUE now maps a shmem page-cache page
R/O and dirty in a private mapping.

FOLL_COW's can_follow_write_pte() trusts a dirty R/O PTE to be the anonymous copy the
forced write made. A thread that zaps that copy (MADV_DONTNEED) and maps the
page-cache page back with UFFDIO_CONTINUE between faultin_page() and the retry makes
the write to /proc/PID/mem land in the shmem file: CVE-2022-2590, a Dirty COW limited
to tmpfs and memfd (sealed ones included). Fixed by 5535be309971 (v6.0, 5.19.6).
"""

from cowcheck.mm.rule import UFFD_DIRTY
from cowcheck.rules import rule_class


class PageCount516(rule_class("page-count-5.11")):  # type: ignore[misc]
    name = "page-count-5.16"
    title = "page-count-5.11; UFFDIO_CONTINUE maps R/O and dirty (CVE-2022-2590)"
    kernels = "v5.16 - v5.17"
    commits = (
        *rule_class("page-count-5.11").commits,
        "9ae0f87d009c mm/shmem: unconditionally set pte dirty in mfill_atomic_install_pte",
    )
    uffd_minor_shmem = UFFD_DIRTY


RULE = PageCount516()
