"""fork(): dup_mmap() / copy_page_range() in steps (kernel/fork.c, mm/memory.c).

The parent holds its mmap write lock for the whole copy, so its other threads
cannot fault and no slow GUP can run in it; gup-fast, devices, reclaim and other
processes can. Each PTE copy runs under the PT locks; the copy as a whole is
bracketed by write_protect_seq where the rule has it (57efa1fe5957).

copy_present_pte() on a writable PTE is two steps, because gup-fast takes no PT lock
and fits between them [5.10 copy_present_pte(); 57efa1fe5957's commit message draws
this race]: (1) the rule's pinned check (copy_present_page()'s
page_maybe_dma_pinned(), or folio_try_dup_anon_rmap_pte() with its
ClearPageAnonExclusive) and get_page() for the child; (2) ptep_set_wrprotect() in the
parent and set_pte_at() in the child. Between them the PT lock is held: reclaim's
try_to_unmap_one() on that PTE waits (``pte_locked``). A R/O PTE is copied in one
step: nothing a lockless path does can change what (2) writes.
"""

from __future__ import annotations

from cowcheck.mm import records
from cowcheck.mm.context import Ctx, page_view
from cowcheck.mm.state import (
    ANON,
    NO_FILE,
    PTE_EMPTY,
    PTE_NONE,
    PTE_PRESENT,
    PTE_SWAP,
    UNMAPPED,
    ZERO_FRAME,
    ForkOp,
    Proc,
    Vma,
    bit,
    is_shared,
)
from cowcheck.mm.work import Work


def fork_begin(w: Work, ctx: Ctx, actor: int, pid: int) -> int:
    parent = w.procs[pid]
    child = len(w.procs)
    n = len(parent.vmas)
    # VM_DONTCOPY vmas (MADV_DONTFORK, f822566165dd) are not duplicated at all.
    vmas = tuple(vma if vma.mapped and not vma.dontfork else Vma(mapped=False) for vma in parent.vmas)
    w.procs.append(Proc(True, pid, 1, False, 0, vmas, (PTE_EMPTY,) * n, (UNMAPPED,) * n))
    # Ghost: everything the parent could see so far is shared history.
    w.share_tokens_with(pid, child)
    # A child of a child forked across the reference inherits memory that open(2)
    # already calls undefined ("data corruption ... in parent and child"): the
    # exemption follows the fork tree down, not just one generation.
    for i, r in enumerate(w.refs):
        if r.owner == pid or r.crossed & bit(pid):
            w.refs[i] = r._replace(crossed=r.crossed | bit(child))
    if ctx.rule.has_write_protect_seq:
        w.set_proc(pid, wp_seq=parent.wp_seq + 1)
        w.note("copy_page_range: raw_write_seqcount_begin(write_protect_seq)")
    w.inflight.append(records.fork_op((actor, pid, child, 0, False)))
    w.note(f"fork: mmap_write_lock(P{pid}); child P{child}")
    return child


def pte_locked(w: Work, pid: int, v: int) -> bool:
    """Whether a fork holds the PT lock of (pid, v) between its two steps."""
    return any(
        isinstance(op, ForkOp) and op.held and op.next_vpage == v and pid in (op.parent, op.child) for op in w.inflight
    )


def fork_copy_pte(w: Work, ctx: Ctx, idx: int, op: ForkOp) -> None:
    v, pid, child = op.next_vpage, op.parent, op.child
    if op.held:
        _finish_share(w, pid, child, v)
        _child_sees(w, pid, child, v)
        w.inflight[idx] = op._replace(next_vpage=v + 1, held=False)
        return
    vma = w.procs[child].vmas[v]
    if not vma.mapped:
        if w.procs[pid].vmas[v].mapped:
            w.note(f"vpage {v}: VM_DONTCOPY, not copied")
    elif is_shared(ctx.backing[v] if ctx.backing else ANON):
        # vma_needs_copy(): a shared file mapping has no anon_vma; the child's faults
        # will map the page-cache page.
        w.note(f"vpage {v}: shared file mapping, PTEs not copied (vma_needs_copy)")
        w.set_expect(child, v, w.expect(pid, v))
    elif _copy_one(w, ctx, pid, child, v):
        w.inflight[idx] = op._replace(held=True)
        return
    else:
        _child_sees(w, pid, child, v)
    w.inflight[idx] = op._replace(next_vpage=v + 1)


def _child_sees(w: Work, pid: int, child: int, v: int) -> None:
    """Ghost: once its PTE is written, the child may see what the parent sees there."""
    ex = w.expect(pid, v)
    w.set_expect(child, v, ex)
    if ex:
        w.share_tokens_with(pid, child, {t for cell in ex for t in cell})


def _copy_one(w: Work, ctx: Ctx, pid: int, child: int, v: int) -> bool:
    """Copies (pid, v) for the child; True where it stops half way (see the docstring)."""
    pte = w.pte(pid, v)
    if pte.kind == PTE_NONE:
        return False
    if pte.kind == PTE_SWAP:
        # copy_nonpresent_pte(): swap_duplicate(); an exclusive entry becomes shared.
        w.swap_duplicate(pte.target)
        if pte.exclusive:
            w.set_pte(pid, v, pte._replace(exclusive=False))
            w.note("copy_nonpresent_pte: swap entry marked shared")
        w.set_pte(child, v, records.pte((PTE_SWAP, pte.target, False, False, False)))
        w.note(f"copy_nonpresent_pte: swap_duplicate(slot {pte.target})")
        return False
    assert pte.kind == PTE_PRESENT
    f = pte.target
    if f == ZERO_FRAME:
        w.map_page(child, v, ZERO_FRAME, False)
        return False
    if w.page(f).file != NO_FILE:
        # page_dup_file_rmap(): a page-cache page is shared, no anon checks. Without an
        # anon_vma the kernel skips the PTE (vma_needs_copy()) and the child's fault
        # maps the same page R/O: the same mapping, earlier. (5.9-5.15 also ran
        # copy_present_page() on a pinned one, a bug not modelled here.)
        w.get_page(f)
        w.map_page(child, v, f, False, pte.dirty)
        w.note(f"copy_present_pte: page-cache page #{f} shared with the child")
        return False
    d = ctx.rule.fork_present(page_view(w, f), w.procs[pid].has_pinned)
    w.note(d.note)
    if d.copy:
        # copy_present_page(): the child gets its own copy now; the parent keeps
        # its page and its PTE as they are (70e806e4e645).
        new = w.alloc_page(w.content(f, ctx.cells), exclusive=True)
        w.map_page(child, v, new, w.procs[child].vmas[v].writable)
        return False
    w.get_page(f)  # get_page() + page_dup_rmap() for the child
    w.set_exclusive(f, False)
    if pte.writable:
        w.note("copy_present_pte: page referenced for the child; PTEs not yet written")
        return True
    _finish_share(w, pid, child, v)
    return False


def _finish_share(w: Work, pid: int, child: int, v: int) -> None:
    pte = w.pte(pid, v)
    if pte.writable:
        w.set_pte(pid, v, pte._replace(writable=False))
        w.note(f"copy_present_pte: ptep_set_wrprotect(P{pid} vpage {v}); child PTE R/O")
    w.map_page(child, v, pte.target, False, pte.dirty)


def fork_end(w: Work, ctx: Ctx, idx: int, op: ForkOp) -> None:
    if ctx.rule.has_write_protect_seq:
        w.set_proc(op.parent, wp_seq=w.procs[op.parent].wp_seq + 1)
        w.note("raw_write_seqcount_end(write_protect_seq)")
    del w.inflight[idx]
    w.note(f"fork returns: mmap_write_unlock(P{op.parent}); P{op.child} runs")
