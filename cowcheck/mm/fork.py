"""fork(): dup_mmap() / copy_page_range() in steps (kernel/fork.c, mm/memory.c).

The parent holds its mmap write lock for the whole copy, so its other threads
cannot fault and no slow GUP can run in it; gup-fast, devices, reclaim and other
processes can. Each PTE copy runs under the PT locks and is one step; the copy as
a whole is bracketed by write_protect_seq where the rule has it (57efa1fe5957).
"""

from __future__ import annotations

from cowcheck.mm.context import Ctx, page_view
from cowcheck.mm.state import (
    PTE_EMPTY,
    PTE_NONE,
    PTE_PRESENT,
    PTE_SWAP,
    ZERO_FRAME,
    ForkOp,
    Proc,
    Pte,
    Vma,
    bit,
)
from cowcheck.mm.work import Work


def fork_begin(w: Work, ctx: Ctx, actor: int, pid: int) -> int:
    parent = w.procs[pid]
    child = len(w.procs)
    n = len(parent.vmas)
    # VM_DONTCOPY vmas (MADV_DONTFORK, f822566165dd) are not duplicated at all.
    vmas = tuple(vma if vma.mapped and not vma.dontfork else Vma(mapped=False) for vma in parent.vmas)
    w.procs.append(Proc(True, pid, 1, False, 0, vmas, (PTE_EMPTY,) * n, (None,) * n))
    # Ghost: everything the parent could see so far is shared history.
    w.share_tokens_with(pid, child)
    for i, r in enumerate(w.refs):
        if r.owner == pid:
            w.refs[i] = r._replace(crossed=r.crossed | bit(child))
    if ctx.rule.has_write_protect_seq:
        w.set_proc(pid, wp_seq=parent.wp_seq + 1)
        w.note("copy_page_range: raw_write_seqcount_begin(write_protect_seq)")
    w.inflight.append(ForkOp(actor, pid, child, 0))
    w.note(f"fork: mmap_write_lock(P{pid}); child P{child}")
    return child


def fork_copy_pte(w: Work, ctx: Ctx, idx: int, op: ForkOp) -> None:
    v, pid, child = op.next_vpage, op.parent, op.child
    vma = w.procs[child].vmas[v]
    if not vma.mapped:
        if w.procs[pid].vmas[v].mapped:
            w.note(f"vpage {v}: VM_DONTCOPY, not copied")
    else:
        ex = w.expect(pid, v)
        w.set_expect(child, v, ex)
        if ex is not None:
            w.share_tokens_with(pid, child, {t for cell in ex for t in cell})
        _copy_one(w, ctx, pid, child, v)
    w.inflight[idx] = op._replace(next_vpage=v + 1)


def _copy_one(w: Work, ctx: Ctx, pid: int, child: int, v: int) -> None:
    pte = w.pte(pid, v)
    if pte.kind == PTE_NONE:
        return
    if pte.kind == PTE_SWAP:
        # copy_nonpresent_pte(): swap_duplicate(); an exclusive entry becomes shared.
        w.swap_duplicate(pte.target)
        if pte.exclusive:
            w.set_pte(pid, v, pte._replace(exclusive=False))
            w.note("copy_nonpresent_pte: swap entry marked shared")
        w.set_pte(child, v, Pte(PTE_SWAP, pte.target, False, False))
        w.note(f"copy_nonpresent_pte: swap_duplicate(slot {pte.target})")
        return
    assert pte.kind == PTE_PRESENT
    f = pte.target
    if f == ZERO_FRAME:
        w.map_page(child, v, ZERO_FRAME, False)
        return
    d = ctx.rule.fork_present(page_view(w, f), w.procs[pid].has_pinned)
    w.note(d.note)
    if d.copy:
        # copy_present_page(): the child gets its own copy now; the parent keeps
        # its page and its PTE as they are (70e806e4e645).
        new = w.alloc_page(w.content(f, ctx.cells), exclusive=True)
        w.map_page(child, v, new, w.procs[child].vmas[v].writable)
        return
    w.get_page(f)
    w.set_exclusive(f, False)
    w.set_pte(pid, v, pte._replace(writable=False))
    w.map_page(child, v, f, False)


def fork_end(w: Work, ctx: Ctx, idx: int, op: ForkOp) -> None:
    if ctx.rule.has_write_protect_seq:
        w.set_proc(op.parent, wp_seq=w.procs[op.parent].wp_seq + 1)
        w.note("raw_write_seqcount_end(write_protect_seq)")
    del w.inflight[idx]
    w.note(f"fork returns: mmap_write_unlock(P{op.parent}); P{op.child} runs")
