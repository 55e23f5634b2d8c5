"""UFFDIO_CONTINUE (fs/userfaultfd.c, mm/userfaultfd.c): resolve a minor fault of a
shmem mapping registered with UFFDIO_REGISTER_MODE_MINOR by mapping the page that is
already in the page cache.

mfill_atomic_install_pte() maps it R/O in a private mapping (``page_in_cache &&
!(dst_vma->vm_flags & VM_SHARED)``) and, from 9ae0f87d009c (v5.16), always dirty:
the dirty R/O PTE that FOLL_COW's can_follow_write_pte() trusts (CVE-2022-2590).
Minor mode for shmem came with v5.14; before that UFFDIO_REGISTER fails.
"""

from __future__ import annotations

from cowcheck.mm.context import Ctx
from cowcheck.mm.fault import backing, file_frame, userfault
from cowcheck.mm.rule import UFFD_DIRTY
from cowcheck.mm.state import PTE_NONE, SHMEM
from cowcheck.mm.work import Work


def uffdio_continue(w: Work, ctx: Ctx, pid: int, v: int) -> bool:
    """False where the ioctl fails (-EINVAL: not registered in minor mode; -EEXIST:
    the PTE is not none) and changes nothing."""
    pr = w.procs[pid]
    if not pr.alive or not pr.vmas[v].mapped:
        return False
    mode = ctx.rule.uffd_minor_shmem
    if backing(ctx, v) != SHMEM or not userfault(ctx, pid, v):
        w.note("UFFDIO_CONTINUE: -EINVAL (no VM_UFFD_MINOR on this vma)")
        return False
    if w.pte(pid, v).kind != PTE_NONE:
        w.note("mfill_atomic_install_pte: PTE not none -> -EEXIST")
        return False
    f = file_frame(w, v)
    w.get_page(f)
    dirty = mode == UFFD_DIRTY
    w.map_page(pid, v, f, False, dirty and ctx.dirty)
    w.note(f"mfill_atomic_install_pte: map page-cache page #{f} R/O{', dirty' if dirty else ''}")
    return True
