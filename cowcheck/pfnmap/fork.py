"""fork(): dup_mmap() (kernel/fork.c) and copy_page_range() (mm/memory.c), one VMA
at a time, in two steps each: vm_area_dup() and the link into the file's i_mmap
tree, then copy_page_range() (track_pfn_copy() up to 6.15, then the PTEs). Between
the two, the child's VMA is in the i_mmap tree with no PTEs, and truncate
(unmap_mapping_range()) can reach it: the parent holds its mmap lock for writing,
which truncate does not take.

An injected failure hits the first VMA's copy: the page-table allocation in
copy_page_range() (FAIL_COPY; the only failure the copy of pfn PTEs has), or the
memtype_reserve() of track_pfn_copy() (FAIL_TRACK: -ENOMEM, as under fault
injection; dc84bc2aba85's case). dup_mmap() then stops: since
__mt_dup() (v6.8) the VMAs after it were never the child's (XA_ZERO_ENTRY marks
where teardown stops); the child's mm is torn down as exit_mmap() does, and fork()
returns -ENOMEM.
"""

from __future__ import annotations

from cowcheck.pfnmap.kernel import Kernel
from cowcheck.pfnmap.rule import DUP_FORK, FORK_CLEAR, FORK_UNDO, TRACK_CTX
from cowcheck.pfnmap.state import ALIVE, COPY, FAIL_COPY, FAIL_TRACK, GONE, LINK, NO_TRK, PTE_NONE, TRACK, Fork
from cowcheck.pfnmap.track import track_pfn_copy, untrack_pfn, vm_area_free
from cowcheck.pfnmap.unmap import dup, exit_mmap


def fork_start(k: Kernel, actor: int, parent: int, child: int, fail: int) -> None:
    k.fork = Fork(actor, parent, child, fail, 0, LINK)
    k.note(f"fork: dup_mmap() for P{child}")
    _maybe_done(k)


def _parent_vmas(k: Kernel, pid: int) -> list[int]:
    return [i for i, v in enumerate(k.vmas) if v.pid == pid]


def fork_step(k: Kernel) -> None:
    """The next step of the fork in flight: for each of the parent's VMAs,
    vm_area_dup() and the link into i_mmap (LINK), track_pfn_copy() (TRACK; up to
    6.15), then the PTEs (COPY). dup_mmap() drops i_mmap_rwsem after the link, and
    copy_page_range() takes none: truncate can reach the child's VMA after either of
    the first two."""
    f = k.fork
    assert f is not None
    src_i = _parent_vmas(k, f.parent)[f.vma]
    src = k.vmas[src_i]
    first = f.vma == 0  # an injected failure hits the first VMA copied
    if f.phase == LINK:
        # vm_area_dup(): VM_PAT copied with vm_flags up to 6.14; cleared for fork by
        # dc84bc2aba85 (track_pfn_copy() sets it once the reservation succeeded); a
        # context shared (6.16+).
        child = dup(k, src._replace(pid=f.child, ptes=(PTE_NONE,) * len(src.ptes)), DUP_FORK)
        if k.rule.tracking != TRACK_CTX:
            child = child._replace(trk=NO_TRK)  # ghost: no reservation of its own yet
        k.vmas.append(child)
        k.vmas.sort()
        k.fork = f._replace(phase=TRACK if k.rule.tracking != TRACK_CTX else COPY)
        return
    ci = next(i for i, v in enumerate(k.vmas) if v.pid == f.child and v.start == src.start)
    if f.phase == TRACK:
        ok, trk, pfn, _n = track_pfn_copy(k, src_i, f.fail == FAIL_TRACK and first)
        if not ok:
            # No untrack_pfn_clear() on this path before dc84bc2aba85: the child's VMA
            # keeps the VM_PAT vm_area_dup() copied, with no reservation.
            k.note("copy_page_range: track_pfn_copy() failed")
            _failed(k)
            return
        if trk != NO_TRK or pfn >= 0:
            k.vmas[ci] = k.vmas[ci]._replace(pat=True, trk=trk)
        k.fork = f._replace(phase=COPY)
        return
    if f.fail == FAIL_COPY and first:
        k.note("copy_page_range: the page-table allocation fails: -ENOMEM")
        if k.rule.tracking != TRACK_CTX and k.vmas[ci].pat:
            how = k.rule.fork_copy_failed()
            if how == FORK_CLEAR:
                k.note("copy_page_range: untrack_pfn_clear(dst_vma): VM_PAT cleared")
                k.vmas[ci] = k.vmas[ci]._replace(pat=False)
            elif how == FORK_UNDO:
                c = k.vmas[ci]
                untrack_pfn(k, ci, "copy_page_range: untrack_pfn_copy", c.pgoff, len(c.ptes))
        _failed(k)
        return
    k.vmas[ci] = k.vmas[ci]._replace(ptes=src.ptes)
    k.note("the pfn PTEs copied" if any(src.ptes) else "no PTE to copy")
    k.fork = f._replace(vma=f.vma + 1, phase=LINK)
    _maybe_done(k)


def _maybe_done(k: Kernel) -> None:
    f = k.fork
    assert f is not None
    if f.vma >= len(_parent_vmas(k, f.parent)):
        k.procs[f.child] = ALIVE
        k.fork = None
        k.note(f"fork: P{f.child} created")


def _failed(k: Kernel) -> None:
    """dup_mmap() fails: the child's VMAs so far are torn down (exit_mmap()); fork()
    returns the error and the child never runs."""
    f = k.fork
    assert f is not None
    k.note(f"fork: dup_mmap() failed: exit_mmap(P{f.child})")
    exit_mmap(k, f.child)
    k.procs[f.child] = GONE
    k.fork = None


__all__ = ["fork_start", "fork_step", "vm_area_free"]
