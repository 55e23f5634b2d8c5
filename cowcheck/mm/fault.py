"""The page-fault paths: handle_mm_fault() and what it dispatches to (mm/memory.c).

A fault runs under the PT lock and is one step. Where the kernel lets a racer in
mid-fault, the model reaches the same outcomes by ordering the racer before or after
the step; each case and why:
- do_wp_page()'s early checks (5.9: ``page_count != 1`` before trylock_page(); 5.18+:
  ``refcount > 3``, ``> 1 + swapcache``) run under the PT lock but before the page
  lock, so only lockless paths fit between them and the locked re-check: gup-fast's
  grab, a DMA release, a speculative reference, reclaim taking the page lock. All of
  them only move the refcount or the lock bit, and the locked re-check reads those
  again; an early "copy" is what the same racer ordered first yields, and an early
  "go on" followed by a racer is decided by the locked check, which is what the atomic
  step computes with the racer ordered first. No rule hook sees the early value alone.
- the mapcount rule's lock_page() sleep (5.7 do_wp_page(): get_page, drop the PT
  lock, lock_page, retake it, pte_same() or retry): modelled as the fault waiting for
  the page lock (``wait_lock``); a racer that changes the PTE meanwhile makes
  pte_same() fail and the fault retry, which is the fault starting after the racer.
- do_swap_page() reads the page without the PT lock and re-checks pte_same() under
  it; fork's swap_duplicate() changes the swap count, which reuse_swap_page() reads
  under the lock, or the PTE (the exclusive bit), which fails pte_same().
These are equivalences under sequential consistency only: see
models/anon_exclusive_6_1.py for what that leaves out.
"""

from __future__ import annotations

from cowcheck.mm.context import Ctx, page_view
from cowcheck.mm.events import WpCopy
from cowcheck.mm.state import PTE_EMPTY, PTE_NONE, PTE_PRESENT, PTE_SWAP, ZERO_FRAME, ZERO_TOKEN, frame_name
from cowcheck.mm.work import Blocked, ModelBug, Work

READ = "read"
WRITE = "write"
UNSHARE = "unshare"  # FAULT_FLAG_UNSHARE (c89357e27f20)


def handle_mm_fault(w: Work, ctx: Ctx, pid: int, v: int, kind: str, cow_break: bool = False) -> bool:
    """Returns False where the fault fails (SIGSEGV / -EFAULT to GUP). ``cow_break``:
    a write fault GUP forces on a vma without VM_WRITE (17839856fd58's FOLL_WRITE on
    every GUP); it breaks COW and leaves the PTE R/O (maybe_mkwrite())."""
    vma = w.procs[pid].vmas[v]
    if not vma.mapped or (kind == WRITE and not vma.writable and not cow_break):
        return False
    pte = w.pte(pid, v)
    if pte.kind == PTE_NONE:
        if kind != UNSHARE:
            do_anonymous_page(w, ctx, pid, v, kind == WRITE)
    elif pte.kind == PTE_SWAP:
        do_swap_page(w, ctx, pid, v, kind == WRITE)
    elif not pte.writable and kind in (WRITE, UNSHARE):
        do_wp_page(w, ctx, pid, v, kind == UNSHARE)
    return True


def do_anonymous_page(w: Work, ctx: Ctx, pid: int, v: int, write: bool) -> None:
    if not write:
        # Read faults map the shared zero page (my_zero_pfn), read-only.
        w.map_page(pid, v, ZERO_FRAME, False)
        w.note("do_anonymous_page: map the shared zero page R/O")
        return
    f = w.alloc_page((ZERO_TOKEN,) * ctx.cells, exclusive=True)
    w.map_page(pid, v, f, w.procs[pid].vmas[v].writable)
    w.note(f"do_anonymous_page: new exclusive page #{f}")


def do_swap_page(w: Work, ctx: Ctx, pid: int, v: int, write: bool) -> None:
    pte = w.pte(pid, v)
    s = pte.target
    sl = w.slot(s)
    if sl.cache >= 0:
        f = sl.cache
        if w.page(f).locked:
            raise Blocked  # lock_page() sleeps while reclaim holds the page lock
        w.get_page(f)  # lookup_swap_cache() reference
        w.note(f"do_swap_page: page #{f} found in the swapcache")
    else:
        if not sl.content:
            raise ModelBug(f"swap slot {s} referenced before it was written")
        # swapin_readahead(): a new page, added to the swapcache, held by us. The
        # SWP_SYNCHRONOUS_IO path that skips the swapcache is not modelled: it only
        # applies to swap devices such as zram and the swapcache path is the general one.
        f = w.alloc_page(sl.content, exclusive=False)
        w.add_to_swapcache(f, s)
        w.note(f"do_swap_page: read swap slot {s} into new swapcache page #{f}")
    d = ctx.rule.do_swap_page(page_view(w, f), write, pte.exclusive)
    w.note(d.note)
    w.set_pte(pid, v, PTE_EMPTY)
    w.swap_free(s)
    if d.free_swapcache:
        if w.slot(s).swapcount != 0:
            raise ModelBug("swapcache freed while swap entries still use the slot")
        w.delete_from_swapcache(f)
    writable = d.writable and w.procs[pid].vmas[v].writable
    w.set_exclusive(f, d.exclusive)
    w.map_page(pid, v, f, writable)  # our lookup reference becomes the mapping's
    if write and not writable:
        do_wp_page(w, ctx, pid, v, False)


def do_wp_page(w: Work, ctx: Ctx, pid: int, v: int, unshare: bool) -> None:
    pte = w.pte(pid, v)
    if pte.kind != PTE_PRESENT:
        raise ModelBug("do_wp_page on a non-present PTE")
    f = pte.target
    if f == ZERO_FRAME:
        w.note("do_wp_page: shared zero page -> wp_page_copy")
        wp_page_copy(w, ctx, pid, v, unshare)
        return
    d = ctx.rule.do_wp_page(page_view(w, f), unshare)
    if d.wait_lock:
        raise Blocked
    w.note(d.note)
    if not d.reuse:
        wp_page_copy(w, ctx, pid, v, unshare)
        return
    if d.free_swapcache and w.page(f).swapcache >= 0:
        if w.slot(w.page(f).swapcache).swapcount != 0:
            raise ModelBug("swapcache freed while swap entries still use the slot")
        w.delete_from_swapcache(f)
    w.set_exclusive(f, True)
    if not unshare and w.procs[pid].vmas[v].writable:
        # wp_page_reuse(): the same page, now writable (maybe_mkwrite(): only with VM_WRITE).
        w.set_pte(pid, v, pte._replace(writable=True))


def wp_page_copy(w: Work, ctx: Ctx, pid: int, v: int, unshare: bool) -> None:
    old = w.pte(pid, v).target
    new = w.alloc_page(w.content(old, ctx.cells), exclusive=True)
    w.unmap_page(pid, v)
    w.put_page(old)
    # On unshare the copy is mapped R/O: it only breaks the sharing, not the protection.
    writable = not unshare and w.procs[pid].vmas[v].writable
    w.map_page(pid, v, new, writable)
    w.events.append(WpCopy(pid, v, old, new, unshare))
    what = "unshare" if unshare else "write"
    w.note(f"wp_page_copy ({what}): P{pid} now maps new page #{new}, {frame_name(old)} left behind")
