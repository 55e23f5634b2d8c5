"""Swapout: shrink_page_list() on one anonymous page, in three phases (mm/vmscan.c).

Reclaim holds the page lock and an isolation reference from the first phase to the
last; it takes no mmap lock, so faults, GUP and fork run between the phases.
(1) add_to_swap(); (2) try_to_unmap(), one step per PTE as the rmap walk takes each
PTE's lock in turn (faults in other mms fit between); (3) pageout() and
__remove_mapping(), which frees the page only if nothing but the swapcache holds it.

Within one try_to_unmap_one() (PT lock held) the read of PG_anon_exclusive,
ptep_clear_flush(), the pinned check of folio_try_share_anon_rmap_pte() and the
swap PTE write are one step. The only racer that fits inside is gup-fast, and in a
sequentially consistent model every way its grab and re-check fall around that
sequence ends as if it ran wholly before or after: a pin taken before the pinned
check makes the unmap back off and restore the same PTE (gup-fast's re-check
passes); a pin taken after it sees a changed PTE and backs off. What is left is the
weak-memory race that 088b8aa537c2 fixed in 6.1 (see models/anon_exclusive_6_1.py).
"""

from __future__ import annotations

from cowcheck.mm import records
from cowcheck.mm.context import Ctx, page_view
from cowcheck.mm.fork import pte_locked
from cowcheck.mm.state import (
    NO_FRAME,
    NO_SLOT,
    PTE_PRESENT,
    PTE_SWAP,
    SWAPOUT_UNMAP,
    SWAPOUT_WRITE,
    SwapoutOp,
)
from cowcheck.mm.work import Blocked, Work


def _unlock_and_put(w: Work, f: int) -> None:
    w.set_locked(f, False)
    w.put_page(f)


def swapout_start(w: Work, ctx: Ctx, actor: int, f: int) -> None:
    p = w.page(f)
    if p.locked:
        raise Blocked  # trylock_page() fails: reclaim skips the page
    w.get_page(f)  # isolate_lru_page()
    w.set_locked(f, True)
    if p.swapcache == NO_SLOT:
        ok, note = ctx.rule.swapout_add_to_swapcache(page_view(w, f, own_lock=True))
        if not ok:
            w.note(note)
            _unlock_and_put(w, f)
            return
        s = w.new_slot(NO_FRAME)
        w.add_to_swapcache(f, s)
        w.note(f"add_to_swap: page #{f} -> swapcache, slot {s}")
    else:
        w.note(f"shrink_page_list: page #{f} already in the swapcache")
    w.inflight.append(records.swapout_op((actor, f, SWAPOUT_UNMAP)))


def swapout_step(w: Work, ctx: Ctx, idx: int, op: SwapoutOp) -> None:
    f = op.frame
    if op.stage == SWAPOUT_UNMAP:
        mapped = [
            (pid, v)
            for pid, pr in enumerate(w.procs)
            for v, pte in enumerate(pr.ptes)
            if pte.kind == PTE_PRESENT and pte.target == f
        ]
        if not mapped:
            w.inflight[idx] = records.swapout_op((op.actor, f, SWAPOUT_WRITE))
            w.note(f"try_to_unmap: page #{f} mapped nowhere")
            return
        pid, v = mapped[0]
        if pte_locked(w, pid, v):
            raise Blocked  # try_to_unmap_one() waits for the PT lock fork holds
        s = w.page(f).swapcache
        d = ctx.rule.swapout_unmap(page_view(w, f, own_lock=True))
        w.note(d.note)
        if not d.proceed:
            # try_to_unmap() fails: the page is activated and stays resident.
            del w.inflight[idx]
            _unlock_and_put(w, f)
            return
        exclusive = w.page(f).anon_exclusive
        w.unmap_page(pid, v)
        w.swap_duplicate(s)
        w.set_pte(pid, v, records.pte((PTE_SWAP, s, False, exclusive, False)))
        w.set_exclusive(f, False)
        w.put_page(f)
        w.note(f"try_to_unmap_one: P{pid} PTE -> swap entry (slot {s}{', exclusive' if exclusive else ''})")
        if len(mapped) == 1:
            w.inflight[idx] = records.swapout_op((op.actor, f, SWAPOUT_WRITE))
        return
    assert op.stage == SWAPOUT_WRITE
    del w.inflight[idx]
    p = w.page(f)
    if p.mapcount:
        w.note(f"shrink_page_list: page #{f} mapped again -> activate")
        _unlock_and_put(w, f)
        return
    s = p.swapcache
    sl = w.slot(s)
    w.slots[s] = records.slot((sl.swapcount, sl.cache, p.content))
    w.note(f"pageout: page #{f} written to slot {s}")
    if p.refcount == 2:  # the swapcache and our isolation reference
        w.note("__remove_mapping: refcount 2 -> free the page")
        w.delete_from_swapcache(f)
        _unlock_and_put(w, f)
    else:
        w.note(f"__remove_mapping: refcount {p.refcount} != 2 -> stays in the swapcache")
        _unlock_and_put(w, f)
